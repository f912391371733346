"""Convolutions (conv1d/2d/3d, conv_transpose, unfold/fold) and their modules: forward vs numpy
and PyTorch, gradients vs PyTorch, gradcheck on every device, fused (CPU) vs reference paths,
state_dict layout, initialisation and torch's error messages."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import to_np
from layer_refs import (
    TOL,
    assert_same,
    conv_nd,
    conv_transpose_nd,
    double_backward_check,
    run_both,
    torch_or_none,
    unfold2d,
)

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.ops._fused import reference_only

# (name, input shape, weight shape, kwargs)
CONV = [
    ("1d", (2, 3, 9), (4, 3, 3), dict(padding=1)),
    ("1d-stride-dil", (2, 4, 11), (6, 2, 3), dict(stride=2, padding=2, dilation=2, groups=2)),
    ("1d-same-even", (2, 3, 8), (2, 3, 4), dict(padding="same")),
    ("2d", (2, 3, 6, 5), (4, 3, 3, 3), dict(padding=1)),
    ("2d-stride-pad", (2, 3, 7, 6), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
    ("2d-dilation", (2, 2, 7, 7), (3, 2, 3, 3), dict(dilation=2, padding=1)),
    ("2d-groups", (2, 4, 5, 6), (6, 2, 3, 3), dict(groups=2, padding=1, stride=2)),
    ("2d-depthwise", (2, 3, 6, 6), (3, 1, 3, 3), dict(groups=3, padding=1)),
    ("2d-same", (2, 3, 5, 6), (2, 3, 4, 3), dict(padding="same", dilation=(1, 2))),
    ("2d-valid-1x1", (2, 3, 4, 5), (5, 3, 1, 1), dict(padding="valid")),
    ("2d-nobias", (1, 2, 5, 5), (3, 2, 2, 2), dict(stride=2, bias=False)),
    ("3d", (1, 2, 4, 5, 4), (3, 2, 2, 3, 2), dict(stride=(1, 2, 1), padding=(1, 0, 1))),
]

CONVT = [
    ("1d", (2, 3, 5), (3, 2, 3), dict(stride=2, padding=1, output_padding=1)),
    ("2d", (2, 4, 4, 3), (4, 3, 3, 2), dict(stride=2, padding=1)),
    ("2d-groups-dil", (2, 4, 4, 4), (4, 1, 3, 3), dict(stride=2, groups=2, dilation=2,
                                                       output_padding=1)),
    ("2d-1x1", (2, 3, 4, 4), (3, 2, 1, 1), dict()),
    ("3d", (1, 2, 3, 3, 2), (2, 2, 2, 2, 3), dict(stride=(2, 1, 2), padding=(0, 1, 1))),
]


def _fn(nd, transposed=False):
    return getattr(F, f"conv_transpose{nd}d" if transposed else f"conv{nd}d")


def _arrays(xs, ws, kw, rng, out_ch):
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws) * 0.5
    b = None if kw.get("bias", True) is False else rng.standard_normal(out_ch)
    return x, w, b, {k: v for k, v in kw.items() if k != "bias"}


def _dtype_cases(cases, f64=(0, 4, 6, 8, 11)):
    """float32 for every case, float64 for a representative subset."""
    return [pytest.param(*c, np.float32, id=f"{c[0]}-f32") for c in cases] + \
        [pytest.param(*cases[i], np.float64, id=f"{cases[i][0]}-f64") for i in f64]


@pytest.mark.parametrize("name,xs,ws,kw,dtype", _dtype_cases(CONV))
def test_conv_forward_backward(device, dtype, name, xs, ws, kw):
    rng = np.random.default_rng(0)
    x, w, b, kw = _arrays(xs, ws, kw, rng, ws[0])
    nd = len(xs) - 2
    pad = kw.get("padding", 0)
    if pad == "same":
        pad = [((d * (k - 1)) // 2, d * (k - 1) - (d * (k - 1)) // 2)
               for k, d in zip(ws[2:], np.broadcast_to(kw.get("dilation", 1), (nd,)))]
    elif pad == "valid":
        pad = 0
    ref = conv_nd(x, w, b, kw.get("stride", 1), pad, kw.get("dilation", 1), kw.get("groups", 1))
    arrays = [x, w] + ([b] if b is not None else [])
    y = _fn(nd)(*[df.tensor(a.astype(dtype), device=device) for a in arrays], **kw)
    np.testing.assert_allclose(to_np(y), ref, **TOL[dtype])
    if torch_or_none() is not None:
        tf = getattr(torch_or_none().nn.functional, f"conv{nd}d")
        ours, theirs = run_both(lambda *t: _fn(nd)(*t, **kw), lambda *t: tf(*t, **kw),
                                arrays, dtype, device)
        assert_same(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,xs,ws,kw", CONVT, ids=[c[0] for c in CONVT])
def test_conv_transpose(device, dtype, name, xs, ws, kw):
    rng = np.random.default_rng(1)
    x, w, b, kw = _arrays(xs, ws, kw, rng, ws[1] * kw.get("groups", 1))
    nd = len(xs) - 2
    ref = conv_transpose_nd(x, w, b, **kw)
    y = _fn(nd, True)(df.tensor(x.astype(dtype), device=device),
                      df.tensor(w.astype(dtype), device=device),
                      df.tensor(b.astype(dtype), device=device), **kw)
    np.testing.assert_allclose(to_np(y), ref, **TOL[dtype])
    torch = torch_or_none()
    if torch is not None:
        tf = getattr(torch.nn.functional, f"conv_transpose{nd}d")
        ours, theirs = run_both(lambda *t: _fn(nd, True)(*t, **kw), lambda *t: tf(*t, **kw),
                                [x, w, b], dtype, device)
        assert_same(ours, theirs, dtype)


GRADCHECK = [
    (2, (2, 2, 5, 4), (2, 2, 3, 2), dict(stride=(2, 1), padding=1)),
    (2, (1, 4, 4, 5), (4, 2, 2, 3), dict(groups=2, dilation=(2, 1), padding=(0, 2))),
    (1, (2, 2, 7), (3, 2, 3), dict(stride=2, padding="valid")),
    (3, (1, 1, 3, 4, 3), (2, 1, 2, 2, 2), dict(padding=(1, 0, 1))),
]


@pytest.mark.parametrize("nd,xs,ws,kw", GRADCHECK)
def test_conv_gradcheck(device, nd, xs, ws, kw):
    rng = np.random.default_rng(2)
    x, w, b = (df.tensor(rng.standard_normal(s), dtype=df.float64, device=device,
                         requires_grad=True) for s in (xs, ws, (ws[0],)))
    fast = device != "cpu"
    assert df.autograd.gradcheck(lambda a, c, e: _fn(nd)(a, c, e, **kw), (x, w, b), fast_mode=fast)


def test_conv_transpose_gradcheck(device):
    rng = np.random.default_rng(3)
    x, w, b = (df.tensor(rng.standard_normal(s), dtype=df.float64, device=device,
                         requires_grad=True) for s in ((2, 2, 3, 3), (2, 2, 3, 2), (2,)))
    fn = lambda a, c, e: F.conv_transpose2d(a, c, e, stride=2, padding=1, output_padding=1)  # noqa
    assert df.autograd.gradcheck(fn, (x, w, b), fast_mode=device != "cpu")


def test_conv_double_backward(device):
    rng = np.random.default_rng(4)
    x, w = (df.tensor(rng.standard_normal(s), dtype=df.float64, device=device,
                      requires_grad=True) for s in ((2, 2, 4, 4), (2, 1, 3, 3)))
    assert double_backward_check(lambda a, c: F.conv2d(a, c, stride=2, padding=1, groups=2), (x, w))
    assert double_backward_check(lambda a, c: F.conv_transpose2d(a, c, stride=2, groups=2), (x, w))
    assert double_backward_check(lambda a: F.fold(F.unfold(a, 2, padding=1) ** 2, (4, 4), 2,
                                                  padding=1), (x,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unfold_fold(device, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 5, 6)).astype(dtype)
    kw = dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    cols = F.unfold(df.tensor(x, device=device), **kw)
    np.testing.assert_allclose(to_np(cols), unfold2d(x, (2, 3), (1, 2), 1, (2, 1)), **TOL[dtype])
    back = F.fold(cols, (5, 6), **kw)
    ones = F.fold(F.unfold(df.ones(1, 1, 5, 6, dtype=cols.dtype, device=device), **kw), (5, 6),
                  **kw)
    np.testing.assert_allclose(to_np(back), x * to_np(ones), **TOL[dtype])
    torch = torch_or_none()
    if torch is not None:
        TF = torch.nn.functional
        assert_same(*run_both(lambda t: F.unfold(t, **kw), lambda t: TF.unfold(t, **kw),
                              [x], dtype, device), dtype)
        c = to_np(cols)
        assert_same(*run_both(lambda t: F.fold(t, (5, 6), **kw),
                              lambda t: TF.fold(t, (5, 6), **kw), [c], dtype, device),
                    dtype)


def test_unfold_gradcheck(device):
    x = df.tensor(np.random.default_rng(6).standard_normal((1, 2, 4, 3)), device=device,
                  requires_grad=True)
    assert df.autograd.gradcheck(lambda t: F.unfold(t, 2, padding=1, stride=(1, 2)), (x,),
                                 fast_mode=device != "cpu")
    c = df.tensor(np.random.default_rng(7).standard_normal((1, 8, 6)), device=device,
                  requires_grad=True)
    assert df.autograd.gradcheck(lambda t: F.fold(t, (3, 4), 2), (c,), fast_mode=device != "cpu")


# fused kernels vs the reference composition (every device with fused kernels) ----------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV[:9] + [CONV[-1]], ids=[c[0] for c in CONV[:9] + [CONV[-1]]])
def test_conv_fused_matches_reference(device, dtype, case):
    _, xs, ws, kw = case
    rng = np.random.default_rng(8)
    x, w, b, kw = _arrays(xs, ws, kw, rng, ws[0])
    nd = len(xs) - 2
    g = None
    res = []
    for ref in (False, True):
        X = df.tensor(x.astype(dtype), device=device, requires_grad=True)
        W = df.tensor(w.astype(dtype), device=device, requires_grad=True)
        B = df.tensor(b.astype(dtype), device=device, requires_grad=True)
        with reference_only() if ref else _null():
            y = _fn(nd)(X, W, B, **kw)
            g = rng.standard_normal(tuple(y.shape)).astype(dtype) if g is None else g
            y.backward(df.tensor(g, device=device))
        res.append([to_np(t) for t in (y, X.grad, W.grad, B.grad)])
    for a, r in zip(*res):
        np.testing.assert_allclose(a, r, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unfold_fold_fused_matches_reference(device, dtype):
    rng = np.random.default_rng(10)
    x, g = (rng.standard_normal((2, 3, 7, 6)).astype(dtype) for _ in range(2))
    kw = dict(kernel_size=(3, 2), dilation=(2, 1), padding=(2, 1), stride=(1, 2))
    res = []
    for ref in (False, True):
        t = df.tensor(x, device=device, requires_grad=True)
        with reference_only() if ref else _null():
            cols = F.unfold(t, **kw)
            y = F.fold(cols * cols, (7, 6), **kw)
            y.backward(df.tensor(g, device=device))
        res.append([to_np(cols), to_np(y), to_np(t.grad)])
    for a, r in zip(*res):
        np.testing.assert_allclose(a, r, **TOL[dtype])


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_backends_offer_fused_kernels(device):
    from deepforge.ops import _dispatch

    be = _dispatch.backend_of(df.zeros(1, device=device))
    names = ["im2col", "col2im", "max_pool", "max_pool_backward", "avg_pool", "avg_pool_backward",
             "batch_norm_train", "batch_norm_backward", "layer_norm", "layer_norm_backward"]
    if device == "cpu":
        names += ["conv_forward", "conv_backward"]
    assert [n for n in names if not hasattr(be, n)] == []


# modules ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_module_vs_torch(device, mode):
    torch = torch_or_none()
    if torch is None:
        pytest.skip("torch is not installed")
    m = nn.Conv2d(3, 4, 3, stride=(2, 1), padding=(2, 1), padding_mode=mode, device=device)
    tm = torch.nn.Conv2d(3, 4, 3, stride=(2, 1), padding=(2, 1), padding_mode=mode)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(to_np(m.weight)))
        tm.bias.copy_(torch.tensor(to_np(m.bias)))
    x = np.random.default_rng(9).standard_normal((2, 3, 6, 5)).astype(np.float32)
    y = m(df.tensor(x, device=device))
    ty = tm(torch.tensor(x))
    np.testing.assert_allclose(to_np(y), ty.detach().numpy(), **TOL[np.float32])
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(to_np(m.weight.grad), tm.weight.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_conv_module_state_dict_and_init():
    torch = torch_or_none()
    df.manual_seed(0)
    m = nn.Conv2d(6, 8, (3, 2), groups=2)
    assert [(k, tuple(v.shape)) for k, v in m.state_dict().items()] == \
        [("weight", (8, 3, 3, 2)), ("bias", (8,))]
    bound = 1 / np.sqrt(3 * 3 * 2)
    assert np.abs(to_np(m.weight)).max() <= bound and np.abs(to_np(m.bias)).max() <= bound
    assert np.abs(to_np(m.weight)).max() > 0.5 * bound
    t = nn.ConvTranspose2d(4, 6, 3, groups=2, bias=False)
    assert [(k, tuple(v.shape)) for k, v in t.state_dict().items()] == [("weight", (4, 3, 3, 3))]
    if torch is not None:
        for ours, theirs in ((m, torch.nn.Conv2d(6, 8, (3, 2), groups=2)),
                             (t, torch.nn.ConvTranspose2d(4, 6, 3, groups=2, bias=False)),
                             (nn.Conv1d(2, 2, 3, padding="same", padding_mode="reflect"),
                              torch.nn.Conv1d(2, 2, 3, padding="same", padding_mode="reflect"))):
            assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
                {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
            assert repr(ours) == repr(theirs)
            sd = {k: df.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()}
            ours.load_state_dict(sd)


def test_conv_transpose_output_size(device):
    torch = torch_or_none()
    m = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, device=device)
    x = df.randn(1, 2, 4, 4, device=device)
    assert m(x).shape == (1, 3, 7, 7)
    assert m(x, output_size=[8, 8]).shape == (1, 3, 8, 8)
    assert m(x, output_size=(1, 3, 8, 7)).shape == (1, 3, 8, 7)
    with pytest.raises(ValueError, match=r"requested an output size of \[9, 9\], but valid sizes "
                                         r"range from \[7, 7\] to \[8, 8\]"):
        m(x, output_size=(9, 9))
    if torch is not None:
        tm = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(to_np(m.weight)))
            tm.bias.copy_(torch.tensor(to_np(m.bias)))
        np.testing.assert_allclose(to_np(m(x, output_size=[8, 8])),
                                   tm(torch.tensor(to_np(x)), output_size=[8, 8]).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)


def test_conv_unbatched_and_modules_1d_3d(device):
    m1 = nn.Conv1d(2, 3, 3, padding=1, device=device)
    assert m1(df.randn(2, 7, device=device)).shape == (3, 7)
    m3 = nn.Conv3d(1, 2, 2, device=device)
    assert m3(df.randn(2, 1, 3, 3, 3, device=device)).shape == (2, 2, 2, 2, 2)
    t1 = nn.ConvTranspose1d(2, 2, 3, stride=3, device=device)
    assert t1(df.randn(1, 2, 4, device=device)).shape == (1, 2, 12)


# errors ----------------------------------------------------------------------------------------
def test_conv_errors():
    w = df.randn(6, 3, 3, 3)
    with pytest.raises(RuntimeError, match=r"^Given groups=1, weight of size \[6, 3, 3, 3\], "
                                           r"expected "
                                           r"input\[1, 4, 5, 5\] to have 3 channels, but got 4 "
                                           r"channels instead$"):
        F.conv2d(df.randn(1, 4, 5, 5), w)
    with pytest.raises(RuntimeError, match=r"^Calculated padded input size per channel: \(2 x "
                                           r"2\)\. "
                                           r"Kernel size: \(3 x 3\)\. Kernel size can't be greater "
                                           r"than actual input size$"):
        F.conv2d(df.randn(1, 3, 2, 2), w)
    with pytest.raises(ValueError, match="^in_channels must be divisible by groups$"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="^out_channels must be divisible by groups$"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(RuntimeError, match=r"expected weight to be divisible by 2 at dimension 0"):
        F.conv2d(df.randn(1, 4, 5, 5), df.randn(3, 2, 3, 3), groups=2)
    with pytest.raises(RuntimeError, match=r"^Expected 3D \(unbatched\) or 4D \(batched\) input to "
                                           r"conv2d, but got input of size: \[2, 3\]$"):
        F.conv2d(df.randn(2, 3), w)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        F.conv2d(df.randn(1, 3, 5, 5), w, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="^Invalid padding string 'foo'"):
        nn.Conv2d(3, 3, 3, padding="foo")
    with pytest.raises(ValueError, match="^padding_mode must be one of"):
        nn.Conv2d(3, 3, 3, padding_mode="foo")
    with pytest.raises(RuntimeError, match=r"expected bias to be 1-dimensional with 6 elements"):
        F.conv2d(df.randn(1, 3, 5, 5), w, df.randn(4))
    with pytest.raises(RuntimeError, match=r"^Given transposed=1, weight of size \[4, 3, 3, 3\], "
                                           r"expected input\[1, 3, 5, 5\] to have 4 channels"):
        F.conv_transpose2d(df.randn(1, 3, 5, 5), df.randn(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match="^output padding must be smaller than either stride or "
                                           "dilation"):
        F.conv_transpose2d(df.randn(1, 3, 5, 5), df.randn(3, 3, 3, 3), output_padding=2)
    with pytest.raises(RuntimeError, match="calculated shape of the array of sliding blocks as "
                                           r"\(0, 0\), but its components must be at least one"):
        F.unfold(df.randn(1, 3, 2, 2), 3)
    with pytest.raises(RuntimeError, match="expected size of input's dimension 2 to match the "
                                           r"calculated number of sliding blocks 1 \* 1 = 1"):
        F.fold(df.randn(1, 27, 4), (3, 3), 3)


def test_conv_error_messages_match_torch():
    torch = torch_or_none()
    if torch is None:
        pytest.skip("torch is not installed")
    cases = [
        (lambda m: m.nn.functional.conv2d(m.randn(1, 4, 5, 5), m.randn(6, 3, 3, 3))),
        (lambda m: m.nn.functional.conv2d(m.randn(1, 3, 2, 2), m.randn(6, 3, 3, 3))),
        (lambda m: m.nn.functional.conv1d(m.randn(1, 3, 5, 5), m.randn(3, 3, 3))),
        (lambda m: m.nn.functional.conv_transpose2d(m.randn(1, 3, 5, 5), m.randn(3, 3, 3, 3),
                                                    output_padding=2)),
        (lambda m: m.nn.functional.unfold(m.randn(1, 3, 2, 2), 3)),
    ]
    for case in cases:
        with pytest.raises(Exception) as ours:
            case(df)
        with pytest.raises(Exception) as theirs:
            case(torch)
        assert type(ours.value) is type(theirs.value)
        assert str(ours.value) == str(theirs.value)
