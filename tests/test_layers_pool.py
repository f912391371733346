"""Pooling layers: max / avg / adaptive / LP pooling and max-unpooling, functional forms and
modules, vs numpy and PyTorch, gradcheck on every device, fused (CPU) vs reference paths."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import to_np
from layer_refs import (
    TOL,
    adaptive_pool_nd,
    assert_same,
    avg_pool_nd,
    double_backward_check,
    max_pool_nd,
    run_both,
    torch_or_none,
)

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.ops._fused import reference_only

MAX = [
    ("1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    ("1d-ceil-dil", (2, 2, 10), dict(kernel_size=3, stride=2, dilation=2, ceil_mode=True)),
    ("2d", (2, 3, 6, 7), dict(kernel_size=2)),
    ("2d-pad-stride", (2, 2, 7, 6), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))),
    ("2d-ceil-dil", (1, 2, 8, 7), dict(kernel_size=2, stride=2, dilation=(2, 1), ceil_mode=True,
                                       padding=1)),
    ("3d", (1, 2, 4, 5, 4), dict(kernel_size=2, stride=(1, 2, 2), padding=(1, 0, 1))),
]

AVG = [
    ("1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    ("1d-ceil-nopad", (2, 2, 10), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                       count_include_pad=False)),
    ("2d", (2, 3, 6, 7), dict(kernel_size=2)),
    ("2d-ceil", (2, 2, 7, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("2d-nopad", (2, 2, 7, 6), dict(kernel_size=(3, 2), stride=(2, 1), padding=1,
                                    count_include_pad=False)),
    ("2d-divisor", (1, 2, 6, 6), dict(kernel_size=3, stride=2, padding=1, divisor_override=4)),
    ("3d", (1, 2, 4, 5, 4), dict(kernel_size=2, stride=(1, 2, 2), padding=(1, 0, 1))),
]


def _fn(kind, nd):
    return getattr(F, f"{kind}_pool{nd}d")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,shape,kw", MAX, ids=[c[0] for c in MAX])
def test_max_pool(device, dtype, name, shape, kw):
    nd = len(shape) - 2
    x = np.random.default_rng(0).standard_normal(shape)
    vals, idx = max_pool_nd(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0),
                            kw.get("dilation", 1), kw.get("ceil_mode", False))
    y, i = _fn("max", nd)(df.tensor(x.astype(dtype), device=device), return_indices=True, **kw)
    np.testing.assert_allclose(to_np(y), vals, **TOL[dtype])
    np.testing.assert_array_equal(to_np(i), idx)
    torch = torch_or_none()
    if torch is not None:
        tf = getattr(torch.nn.functional, f"max_pool{nd}d")
        assert_same(*run_both(lambda t: _fn("max", nd)(t, **kw), lambda t: tf(t, **kw), [x], dtype,
                              device), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,shape,kw", AVG, ids=[c[0] for c in AVG])
def test_avg_pool(device, dtype, name, shape, kw):
    nd = len(shape) - 2
    x = np.random.default_rng(1).standard_normal(shape)
    ref = avg_pool_nd(x, kw["kernel_size"], kw.get("stride"), kw.get("padding", 0),
                      kw.get("ceil_mode", False), kw.get("count_include_pad", True),
                      kw.get("divisor_override"))
    y = _fn("avg", nd)(df.tensor(x.astype(dtype), device=device), **kw)
    np.testing.assert_allclose(to_np(y), ref, **TOL[dtype])
    torch = torch_or_none()
    if torch is not None:
        tf = getattr(torch.nn.functional, f"avg_pool{nd}d")
        assert_same(*run_both(lambda t: _fn("avg", nd)(t, **kw), lambda t: tf(t, **kw), [x], dtype,
                              device), dtype)


ADAPTIVE = [
    ("avg", 1, (2, 3, 7), 3), ("avg", 2, (2, 3, 7, 9), (3, 4)), ("avg", 2, (2, 2, 8, 6), (4, 3)),
    ("avg", 2, (2, 3, 5, 5), 1), ("avg", 2, (1, 2, 5, 6), (None, 4)),
    ("avg", 3, (1, 2, 5, 4, 3), (2, 3, 2)), ("max", 1, (2, 3, 7), 3),
    ("max", 2, (2, 3, 7, 9), (3, 4)), ("max", 2, (2, 2, 8, 6), (4, 3)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,nd,shape,out", ADAPTIVE)
def test_adaptive_pool(device, dtype, kind, nd, shape, out):
    x = np.random.default_rng(2).standard_normal(shape)
    fn = getattr(F, f"adaptive_{kind}_pool{nd}d")
    full = tuple(shape[2 + i] if o is None else o
                 for i, o in enumerate(out if isinstance(out, tuple) else (out,) * nd))
    ref = adaptive_pool_nd(x, full, np.mean if kind == "avg" else np.max)
    np.testing.assert_allclose(to_np(fn(df.tensor(x.astype(dtype), device=device), out)), ref,
                               **TOL[dtype])
    torch = torch_or_none()
    if torch is not None:
        tf = getattr(torch.nn.functional, f"adaptive_{kind}_pool{nd}d")
        assert_same(*run_both(lambda t: fn(t, out), lambda t: tf(t, out), [x], dtype, device),
                    dtype)
        if kind == "max":
            i = fn(df.tensor(x, device=device), out, return_indices=True)[1]
            ti = tf(torch.tensor(x), out, return_indices=True)[1]
            np.testing.assert_array_equal(to_np(i), ti.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lp_pool(device, dtype):
    torch = torch_or_none()
    if torch is None:
        pytest.skip("torch is not installed")
    x = np.abs(np.random.default_rng(3).standard_normal((2, 3, 7, 6))) + 0.1
    TF = torch.nn.functional
    assert_same(*run_both(lambda t: F.lp_pool2d(t, 2, 3, 2), lambda t: TF.lp_pool2d(t, 2, 3, 2),
                          [x], dtype, device), dtype)
    assert_same(*run_both(lambda t: F.lp_pool1d(t, 3, 2), lambda t: TF.lp_pool1d(t, 3, 2),
                          [x[:, :, 0]], dtype, device), dtype)


def test_max_unpool(device):
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 6))
    y, i = F.max_pool2d(df.tensor(x, device=device), 2, return_indices=True)
    u = F.max_unpool2d(y, i, 2)
    ref = np.zeros((2, 3, 36))
    np.put_along_axis(ref, to_np(i).reshape(2, 3, -1), to_np(y).reshape(2, 3, -1), -1)
    np.testing.assert_allclose(to_np(u), ref.reshape(2, 3, 6, 6))
    assert F.max_unpool2d(y, i, 2, output_size=(7, 7)).shape == (2, 3, 7, 7)
    m = nn.MaxUnpool1d(2)
    y1, i1 = nn.MaxPool1d(2, return_indices=True)(df.tensor(x[:, :, 0], device=device))
    assert m(y1, i1).shape == (2, 3, 6)
    with pytest.raises(ValueError, match=r"invalid output_size \"\(9, 9\)\" \(dim 0 must be "
                                         r"between 4 and 8\)"):
        F.max_unpool2d(y, i, 2, output_size=(9, 9))


POOL_GRADCHECK = [
    ("max", lambda t: F.max_pool2d(t, (3, 2), (2, 1), 1, ceil_mode=True)),
    ("max1d", lambda t: F.max_pool1d(t.reshape(2, 4, 10), 2, dilation=2, padding=1)),
    ("avg", lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    ("avg-div", lambda t: F.avg_pool2d(t, 2, 1, divisor_override=3)),
    ("aavg", lambda t: F.adaptive_avg_pool2d(t, (2, 3))),
    ("amax", lambda t: F.adaptive_max_pool2d(t, (3, 2))),
    ("lp", lambda t: F.lp_pool2d(t, 2, 2)),
    ("unpool", lambda t: F.max_unpool2d(t, df.tensor([[[[0, 3], [9, 19]]] * 2] * 2,
                                                     device=t.device)[:, :, :2, :2], 2,
                                        output_size=(4, 5))),
]


@pytest.mark.parametrize("name,fn", POOL_GRADCHECK, ids=[c[0] for c in POOL_GRADCHECK])
def test_pool_gradcheck(device, name, fn):
    rng = np.random.default_rng(5)
    shape = (2, 2, 2, 2) if name == "unpool" else (2, 2, 4, 5)
    x = rng.permutation(np.arange(np.prod(shape))).reshape(shape) * 0.1 + 0.5  # no ties
    t = df.tensor(x, dtype=df.float64, device=device, requires_grad=True)
    assert df.autograd.gradcheck(fn, (t,), fast_mode=device != "cpu")


def test_pool_double_backward(device):
    x = df.tensor(np.random.default_rng(6).permutation(40).reshape(2, 2, 2, 5) * 0.1,
                  dtype=df.float64, device=device, requires_grad=True)
    assert double_backward_check(lambda t: F.max_pool2d(t, 2, 1, 1) * F.avg_pool2d(t, 2, 1, 1),
                                 (x,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", [
    lambda t: F.max_pool2d(t, 3, 2, 1, return_indices=True),
    lambda t: F.max_pool3d(t.reshape(2, 3, 2, 3, 7), 2, 1, return_indices=True),
    lambda t: F.avg_pool2d(t, (2, 3), 2, 1, ceil_mode=True, count_include_pad=False),
    lambda t: F.avg_pool1d(t.reshape(2, 3, 42), 4, 3, 2),
], ids=["max2d", "max3d", "avg2d", "avg1d"])
def test_pool_fused_matches_reference(device, dtype, fn):
    x = np.random.default_rng(7).standard_normal((2, 3, 6, 7)).astype(dtype)
    g = None
    res = []
    for ref in (False, True):
        t = df.tensor(x, device=device, requires_grad=True)
        if ref:
            with reference_only():
                out = fn(t)
        else:
            out = fn(t)
        y = out[0] if isinstance(out, tuple) else out
        if g is None:
            g = np.random.default_rng(8).standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(df.tensor(g, device=device))
        res.append([to_np(y), to_np(t.grad)] + ([to_np(out[1])] if isinstance(out, tuple) else []))
    for a, r in zip(*res):
        np.testing.assert_allclose(a, r, **TOL[dtype])


def test_pool_modules(device):
    torch = torch_or_none()
    x = np.random.default_rng(9).standard_normal((2, 3, 8, 8)).astype(np.float32)
    mods = [
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), "MaxPool2d(3, 2, 1, ceil_mode=True)"),
        (nn.AvgPool2d(2, count_include_pad=False), "AvgPool2d(2, count_include_pad=False)"),
        (nn.AvgPool1d(3, 2), None), (nn.AdaptiveAvgPool2d((3, None)), None),
        (nn.AdaptiveMaxPool2d(3), None), (nn.LPPool2d(2, 2), None), (nn.MaxPool1d(2), None),
        (nn.AdaptiveAvgPool1d(3), None), (nn.AdaptiveMaxPool1d(3), None),
    ]
    for m, _ in mods:
        inp = x[:, :, 0] if "1d" in type(m).__name__ else x
        y = m(df.tensor(inp, device=device))
        if torch is not None:
            tm = getattr(torch.nn, type(m).__name__)
            args = {k: getattr(m, k) for k in ("kernel_size", "stride", "padding", "ceil_mode",
                                                "count_include_pad", "output_size", "norm_type")
                    if hasattr(m, k)}
            theirs = tm(**args)
            np.testing.assert_allclose(to_np(y), theirs(torch.tensor(inp)).numpy(), rtol=1e-4,
                                       atol=1e-5)
            assert repr(m) == repr(theirs)
    y, i = nn.MaxPool2d(2, return_indices=True)(df.tensor(x, device=device))
    assert i.dtype == df.int64 and y.shape == (2, 3, 4, 4)
    assert nn.MaxPool2d(2)(df.tensor(x[0], device=device)).shape == (3, 4, 4)  # unbatched


def test_pool_errors():
    with pytest.raises(RuntimeError, match=r"^pad should be at most half of effective kernel size, "
                                           r"but got pad=2, kernel_size=3 and dilation=1$"):
        F.max_pool2d(df.randn(1, 3, 5, 5), 3, padding=2)
    with pytest.raises(RuntimeError, match=r"^Given input size: \(3x2x2\)\. Calculated output "
                                           r"size: "
                                           r"\(3x0x0\)\. Output size is too small$"):
        F.max_pool2d(df.randn(1, 3, 2, 2), 3)
    with pytest.raises(RuntimeError, match=r"Output size is too small"):
        F.avg_pool2d(df.randn(1, 3, 2, 2), 3)
    with pytest.raises(RuntimeError, match=r"non-empty 3D or 4D \(batch mode\) tensor expected"):
        F.max_pool2d(df.randn(3, 5), 3)
    with pytest.raises(RuntimeError, match=r"divisor must be not zero"):
        F.avg_pool2d(df.randn(1, 3, 5, 5), 2, divisor_override=0)
    with pytest.raises(RuntimeError, match=r"adaptive_avg_pool2d\(\): Expected 3D or 4D tensor"):
        F.adaptive_avg_pool2d(df.randn(3, 5), 2)
