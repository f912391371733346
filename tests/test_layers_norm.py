"""Normalisation layers: batch / layer / group / instance / RMS / local-response norm, their
training and eval behaviour (running statistics vs PyTorch over several steps), state_dict
layout, gradcheck on every device, fused (CPU) vs reference paths, and error messages."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import to_np
from layer_refs import (
    TOL,
    assert_same,
    batch_norm,
    double_backward_check,
    group_norm,
    layer_norm,
    local_response_norm,
    run_both,
    torch_or_none,
)

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.ops._fused import reference_only


def _tensors(device, dtype, *arrays):
    return [df.tensor(a.astype(dtype), device=device) for a in arrays]


def _torch_f(name):
    torch = torch_or_none()
    return None if torch is None else getattr(torch.nn.functional, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (3, 2, 4, 5), (2, 2, 3, 2, 3)])
def test_batch_norm_train(device, dtype, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 2 + 1
    w, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    t = _tensors(device, dtype, x, w, b)
    y = F.batch_norm(t[0], None, None, t[1], t[2], training=True)
    np.testing.assert_allclose(to_np(y), batch_norm(x, w, b), **TOL[dtype])
    if torch_or_none() is not None:
        assert_same(*run_both(lambda t, u, v: F.batch_norm(t, None, None, u, v, True),
                              lambda t, u, v: _torch_f("batch_norm")(t, None, None, u, v, True),
                              [x, w, b], dtype, device), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_eval(device, dtype):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    ref = batch_norm(x, w, b, 1e-3, rm, rv)
    y = F.batch_norm(*_tensors(device, dtype, x, rm, rv, w, b), False, 0.1, 1e-3)
    np.testing.assert_allclose(to_np(y), ref, **TOL[dtype])


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm2d", (4, 3, 5, 4)),
                                       ("BatchNorm3d", (2, 3, 2, 3, 4))])
def test_batch_norm_module_running_stats_vs_torch(device, momentum, cls, shape):
    torch = torch_or_none()
    if torch is None:
        pytest.skip("torch is not installed")
    m = getattr(nn, cls)(3, momentum=momentum, device=device, dtype=df.float64)
    tm = getattr(torch.nn, cls)(3, momentum=momentum, dtype=torch.float64)
    rng = np.random.default_rng(2)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(rng.standard_normal(3)))
        tm.bias.copy_(torch.tensor(rng.standard_normal(3)))
    m.load_state_dict({k: df.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    for step in range(4):
        x = rng.standard_normal(shape) * (step + 1) + step
        X, T = df.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = m(X), tm(T)
        np.testing.assert_allclose(to_np(y), ty.detach().numpy(), rtol=1e-10, atol=1e-10)
        (y * y).sum().backward()
        (ty * ty).sum().backward()
        np.testing.assert_allclose(to_np(X.grad), T.grad.numpy(), rtol=1e-9, atol=1e-9)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(to_np(m.state_dict()[k]), v.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_np(m.weight.grad), tm.weight.grad.numpy(), rtol=1e-9)
    m.eval()
    tm.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(to_np(m(df.tensor(x, device=device))),
                               tm(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_module_options(device):
    torch = torch_or_none()
    x = df.randn(4, 3, 5, device=device)
    m = nn.BatchNorm1d(3, affine=False, track_running_stats=False, device=device)
    assert list(m.state_dict()) == [] and m.weight is None and m.running_mean is None
    m.eval()  # no running stats: batch statistics even in eval
    np.testing.assert_allclose(to_np(m(x)), batch_norm(to_np(x).astype(np.float64)), rtol=1e-4,
                               atol=1e-5)
    m2 = nn.BatchNorm2d(3, bias=False)
    assert [k for k in m2.state_dict()] == ["weight", "running_mean", "running_var",
                                            "num_batches_tracked"]
    assert m2.num_batches_tracked.dtype == df.int64
    m2(df.randn(2, 3, 2, 2))
    assert int(m2.num_batches_tracked.item()) == 1
    if torch is not None:
        for ours, theirs in ((nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)),
                             (m2, torch.nn.BatchNorm2d(3, bias=False)),
                             (nn.BatchNorm1d(3, affine=False, track_running_stats=False),
                              torch.nn.BatchNorm1d(3, affine=False, track_running_stats=False))):
            assert repr(ours) == repr(theirs)
            assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
                {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    sd = nn.BatchNorm2d(3).state_dict()  # old checkpoints without num_batches_tracked load
    del sd["num_batches_tracked"]
    sd._metadata = {"": {"version": 1}}
    nn.BatchNorm2d(3).load_state_dict(sd)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, False)])
def test_layer_norm(device, dtype, affine, bias):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 5, 6)) * 3 + 2
    w, b = rng.standard_normal((5, 6)), rng.standard_normal((5, 6))
    ref = layer_norm(x, (5, 6), w if affine else None, b if bias else None)
    arrays = [x] + ([w] if affine else []) + ([b] if bias else [])

    def fn(t, *p):
        return F.layer_norm(t, (5, 6), p[0] if affine else None, p[1] if bias else None)

    y = fn(*(df.tensor(a.astype(dtype), device=device) for a in arrays))
    np.testing.assert_allclose(to_np(y), ref, **TOL[dtype])
    torch = torch_or_none()
    if torch is not None:
        def tfn(t, *p):
            return torch.nn.functional.layer_norm(t, (5, 6), p[0] if affine else None,
                                                  p[1] if bias else None)
        assert_same(*run_both(fn, tfn, arrays, dtype, device), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_group_instance_norm(device, dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 6, 4, 5)) + 1
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    t = _tensors(device, dtype, x, w, b)
    y = F.group_norm(t[0], 3, t[1], t[2])
    np.testing.assert_allclose(to_np(y), group_norm(x, 3, w, b), **TOL[dtype])
    yi = F.instance_norm(df.tensor(x.astype(dtype), device=device))
    np.testing.assert_allclose(to_np(yi), group_norm(x, 6), **TOL[dtype])
    torch = torch_or_none()
    if torch is not None:
        assert_same(*run_both(lambda t, u, v: F.group_norm(t, 2, u, v),
                              lambda t, u, v: torch.nn.functional.group_norm(t, 2, u, v),
                              [x, w, b], dtype, device), dtype)
        assert_same(*run_both(lambda t, u, v: F.instance_norm(t, weight=u, bias=v),
                              lambda t, u, v: _torch_f("instance_norm")(t, weight=u, bias=v),
                              [x, w, b], dtype, device), dtype)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 5)),
                                       ("InstanceNorm2d", (2, 4, 3, 5)),
                                       ("InstanceNorm1d", (4, 5))])
def test_instance_norm_module_vs_torch(device, cls, shape):
    torch = torch_or_none()
    if torch is None:
        pytest.skip("torch is not installed")
    m = getattr(nn, cls)(4, affine=True, track_running_stats=True, device=device, dtype=df.float64)
    tm = getattr(torch.nn, cls)(4, affine=True, track_running_stats=True, dtype=torch.float64)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    rng = np.random.default_rng(5)
    for _ in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        np.testing.assert_allclose(to_np(m(df.tensor(x, device=device))),
                                   tm(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    for k in ("running_mean", "running_var"):
        np.testing.assert_allclose(to_np(getattr(m, k)), getattr(tm, k).numpy(), rtol=1e-10)
    m.eval()
    tm.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(to_np(m(df.tensor(x, device=device))),
                               tm(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lrn_rms_norm(device, dtype):
    rng = np.random.default_rng(6)
    x3, x4 = rng.standard_normal((2, 5, 7)), rng.standard_normal((2, 6, 3, 4))
    for x, size in ((x3, 3), (x4, 2), (x4, 4)):
        y = F.local_response_norm(df.tensor(x.astype(dtype), device=device), size, 0.1, 0.75, 2.0)
        np.testing.assert_allclose(to_np(y), local_response_norm(x, size, 0.1, 0.75, 2.0),
                                   **TOL[dtype])
    w = rng.standard_normal(4)
    t = _tensors(device, dtype, x4, w)
    y = F.rms_norm(t[0], (4,), t[1])
    eps = np.finfo(dtype).eps
    ref = x4 / np.sqrt((x4 * x4).mean(-1, keepdims=True) + eps) * w
    np.testing.assert_allclose(to_np(y), ref, **TOL[dtype])
    torch = torch_or_none()
    if torch is not None:
        assert_same(*run_both(lambda t: F.local_response_norm(t, 3),
                              lambda t: torch.nn.functional.local_response_norm(t, 3), [x4], dtype,
                              device), dtype)
        assert_same(*run_both(lambda t, u: F.rms_norm(t, (3, 4), u),
                              lambda t, u: torch.nn.functional.rms_norm(t, (3, 4), u),
                              [x4, rng.standard_normal((3, 4))], dtype, device), dtype)


def test_norm_modules_state_dict_repr():
    torch = torch_or_none()
    ours = [nn.LayerNorm((3, 4)), nn.LayerNorm(4, bias=False),
            nn.LayerNorm(4, elementwise_affine=False),
            nn.GroupNorm(2, 4), nn.GroupNorm(2, 4, affine=False), nn.LocalResponseNorm(3),
            nn.RMSNorm([2, 3], eps=1e-5), nn.InstanceNorm2d(3)]
    assert to_np(ours[0].weight).tolist() == [[1.0] * 4] * 3 and not to_np(ours[0].bias).any()
    if torch is None:
        return
    theirs = [torch.nn.LayerNorm((3, 4)), torch.nn.LayerNorm(4, bias=False),
              torch.nn.LayerNorm(4, elementwise_affine=False), torch.nn.GroupNorm(2, 4),
              torch.nn.GroupNorm(2, 4, affine=False), torch.nn.LocalResponseNorm(3),
              torch.nn.RMSNorm([2, 3], eps=1e-5), torch.nn.InstanceNorm2d(3)]
    for a, b in zip(ours, theirs):
        assert repr(a) == repr(b)
        assert {k: tuple(v.shape) for k, v in a.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in b.state_dict().items()}


NORM_GRADCHECK = [
    ("bn-train", lambda x, w, b: F.batch_norm(x, None, None, w, b, True)),
    ("bn-eval", lambda x, w, b: F.batch_norm(x, w * 0 + 0.3, w * 0 + 1.5, w, b, False)),
    ("ln", lambda x, w, b: F.layer_norm(x, (5,), w.repeat(2)[:5], b.repeat(2)[:5])),
    ("gn", lambda x, w, b: F.group_norm(x, 1, w, b)),
    ("in", lambda x, w, b: F.instance_norm(x, weight=w, bias=b)),
    ("lrn", lambda x, w, b: F.local_response_norm(x, 2, 0.5)),
    ("rms", lambda x, w, b: F.rms_norm(x, (4, 5), None)),
]


@pytest.mark.parametrize("name,fn", NORM_GRADCHECK, ids=[c[0] for c in NORM_GRADCHECK])
def test_norm_gradcheck(device, name, fn):
    rng = np.random.default_rng(7)
    x = df.tensor(rng.standard_normal((2, 3, 4, 5)), device=device, requires_grad=True)
    w = df.tensor(rng.standard_normal(3), device=device, requires_grad=True)
    b = df.tensor(rng.standard_normal(3), device=device, requires_grad=True)
    assert df.autograd.gradcheck(fn, (x, w, b), fast_mode=device != "cpu")


def test_norm_reference_double_backward(device):
    rng = np.random.default_rng(8)
    x = df.tensor(rng.standard_normal((3, 2, 4)), device=device, requires_grad=True)
    w = df.tensor(rng.standard_normal(2), device=device, requires_grad=True)
    with reference_only():
        assert double_backward_check(lambda a, c: F.batch_norm(a, None, None, c, None, True),
                                     (x, w))
        assert double_backward_check(lambda a, c: F.group_norm(a, 2, c), (x, w))


def test_fused_norm_backward_is_once_differentiable():
    x = df.randn(4, 3, 5, dtype=df.float64, requires_grad=True)
    y = F.batch_norm(x, None, None, training=True)
    (g,) = df.autograd.grad((y * y).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        df.autograd.grad(g.sum(), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", [
    lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
    lambda x, w, b: F.batch_norm(x, None, None, None, None, True),
    lambda x, w, b: F.layer_norm(x.reshape(6, 3, 7), (3, 7)) * 2,
    lambda x, w, b: F.layer_norm(x.transpose(1, 2), (3,), w, b),
    lambda x, w, b: F.group_norm(x, 3, w, b),
], ids=["bn", "bn-noaffine", "ln-noaffine", "ln-affine-noncontig", "gn"])
def test_norm_fused_matches_reference(device, dtype, fn):
    rng = np.random.default_rng(9)
    arrays = [rng.standard_normal((6, 3, 7)) * 3 + 1, rng.standard_normal(3),
              rng.standard_normal(3)]
    g = None
    res = []
    for ref in (False, True):
        ts = [df.tensor(a.astype(dtype), device=device, requires_grad=True) for a in arrays]
        if ref:
            with reference_only():
                y = fn(*ts)
        else:
            y = fn(*ts)
        g = rng.standard_normal(tuple(y.shape)).astype(dtype) if g is None else g
        y.backward(df.tensor(g, device=device))
        res.append([to_np(y)] + [to_np(t.grad) if t.grad is not None else None for t in ts])
    for a, r in zip(*res):
        if r is not None:
            np.testing.assert_allclose(a, r, **TOL[dtype])


def test_norm_errors():
    with pytest.raises(ValueError, match=r"^Expected more than 1 value per channel when training, "
                                         r"got input size torch\.Size\(\[1, 3\]\)$"):
        nn.BatchNorm1d(3)(df.randn(1, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(df.randn(1, 3, 1), None, None, training=True)
    with pytest.raises(RuntimeError, match="^running_mean should contain 3 elements not 4$"):
        F.batch_norm(df.randn(2, 3), df.zeros(4), df.ones(4), training=True)
    with pytest.raises(ValueError, match=r"^expected 4D input \(got 3D input\)$"):
        nn.BatchNorm2d(3)(df.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match=r"^Given normalized_shape=\[4\], expected input with "
                                           r"shape "
                                           r"\[\*, 4\], but got input of size\[2, 3\]$"):
        F.layer_norm(df.randn(2, 3), (4,))
    with pytest.raises(RuntimeError, match=r"^Expected number of channels in input to be "
                                           r"divisible by "
                                           r"num_groups, but got input of shape \[2, 6, 3\] and "
                                           r"num_groups=4$"):
        F.group_norm(df.randn(2, 6, 3), 4)
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups "
                                         r"\(4\)"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(df.randn(1, 3, 1))
    with pytest.raises(ValueError, match="expected input's size at dim=1 to match num_features"):
        nn.InstanceNorm1d(3, affine=True)(df.randn(2, 4, 5))
