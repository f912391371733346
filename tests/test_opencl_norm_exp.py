"""OpenCL float unary transcendentals (the CPU devices' vector path and the GPU layout's scalar
one) against numpy in float64: ulp bounds over wide ranges, subnormal results, specials, odd
sizes, strided inputs, float64; and batch_norm / layer_norm forward and backward in both kernel
layouts against a float64 numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
import deepforge.nn.functional as F
from deepforge.backends import opencl_device_count

if opencl_device_count() == 0:  # conftest fails the run instead under DEEPFORGE_REQUIRE_OPENCL=1
    pytest.skip("no usable OpenCL device", allow_module_level=True)

RNG = np.random.default_rng(5)
SPECIALS = [np.inf, -np.inf, np.nan, 0.0, -0.0, 88.72283935546875, 88.7228394, 88.73, 89.0,
            -87.33, -87.34, -103.97, -104.0, -104.5, -150.0, 1e-30, -1e-30, 1e-45, 30.0, -30.0]


@pytest.fixture
def be(opencl_layouts):
    return opencl_layouts


def _ulps(got, ref, dtype):
    """|got - ref| in units of the spacing of ref rounded to dtype; 0 where they agree exactly
    (infinities and NaNs included)."""
    with np.errstate(invalid="ignore", over="ignore"):
        r = ref.astype(dtype)
        same = (got == r) | (np.isnan(got) & np.isnan(r))
        d = np.abs(got.astype(np.float64) - ref) / np.spacing(np.abs(r)).astype(np.float64)
    return np.where(same, 0.0, np.nan_to_num(d, nan=np.inf))


def _erfc(x):
    from math import erfc
    return np.vectorize(erfc, otypes=[np.float64])(x)


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    with np.errstate(over="ignore"):
        return np.logaddexp(x, 0.0)


# op: (float64 reference, input range, ulp bound for float32)
OPS = {
    "exp": (np.exp, (-104.0, 89.0), 2),
    "expm1": (np.expm1, (-20.0, 89.0), 3),
    "log": (np.log, (1e-30, 1e30), 2),
    "log1p": (np.log1p, (-0.99, 1e6), 3),
    "tanh": (np.tanh, (-12.0, 12.0), 3),
    "sigmoid": (_sigmoid, (-100.0, 30.0), 4),
    "silu": (lambda x: x * _sigmoid(x), (-80.0, 30.0), 4),
    "softplus": (_softplus, (-80.0, 90.0), 4),
    "gelu": (lambda x: 0.5 * x * _erfc(-x / np.sqrt(2.0)), (-12.0, 12.0), 8),
    # x (1 + tanh(u)) / 2 as x * sigmoid(2u): no cancellation in the reference either; the
    # float argument 2u carries its rounding (|2u| * 2^-24) into exp, ~|2u| ulps in the tail
    "gelu_tanh": (lambda x: x * _sigmoid(2 * np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)),
                  (-12.0, 12.0), 160),
    "erf": (lambda x: 1.0 - _erfc(x), (-5.0, 5.0), 4),
}


def _inputs(lo, hi, n):
    x = np.linspace(lo, hi, n)
    if lo > 0:  # log-spaced positive range
        x = np.exp(np.linspace(np.log(lo), np.log(hi), n))
    return x.astype(np.float32)


def _run(be, op, x, dtype=None):
    dtype = np.dtype(dtype or x.dtype)
    return be.to_numpy(be.unary(op, be.from_numpy(x), dtype))


@pytest.mark.parametrize("op", sorted(OPS))
def test_unary_ulps_float32(be, op):
    ref_fn, (lo, hi), bound = OPS[op]
    if op == "gelu" and not be.rt.is_cpu:
        lo, bound = -3.0, 16  # the scalar path's float erfc loses relative precision in the tail
    x = _inputs(lo, hi, 200_003)
    got = _run(be, op, x)
    with np.errstate(all="ignore"):
        ref = ref_fn(x.astype(np.float64))
    u = _ulps(got, ref, np.float32)
    # relative bound where a result is tiny next to its terms' rounding (gelu/silu near 0-)
    tol = np.abs(ref) < 1e-30
    assert np.all((u <= bound) | tol), (op, float(u.max()), float(x[np.argmax(u)]))


def test_exp_specials_and_subnormals(be):
    x = np.concatenate([np.array(SPECIALS, np.float32),
                        np.linspace(-104.0, -87.0, 4001, dtype=np.float32)])
    got = _run(be, "exp", x)
    with np.errstate(over="ignore"):
        ref = np.exp(x.astype(np.float64))
    assert _ulps(got, ref, np.float32).max() <= 2
    assert got[0] == np.inf and got[1] == 0.0 and np.isnan(got[2])
    assert got[8] == np.inf and got[14] == 0.0  # exp(89) overflows, exp(-150) underflows
    assert np.any((got > 0) & (got < np.finfo(np.float32).tiny))  # subnormal results kept


@pytest.mark.parametrize("op", ["tanh", "sigmoid", "silu", "softplus", "log", "expm1", "gelu"])
def test_unary_specials(be, op):
    x = np.array(SPECIALS, np.float32)
    got = _run(be, op, x)
    with np.errstate(all="ignore"):
        ref = OPS[op][0](x.astype(np.float64)).astype(np.float32)
    # atol: results that underflow to float32 subnormals may differ in their last bits
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-43, equal_nan=True)


@pytest.mark.parametrize("n", [1, 7, 16, 17, 1025, 300_007])
@pytest.mark.parametrize("op", ["exp", "tanh", "silu"])
def test_unary_sizes(be, op, n):
    x = (RNG.standard_normal(n) * 4).astype(np.float32)
    np.testing.assert_allclose(_run(be, op, x), OPS[op][0](x.astype(np.float64)), rtol=3e-7,
                               atol=1e-37)


@pytest.mark.parametrize("view", [np.s_[::3], np.s_[5:-3], np.s_[::-1]])
def test_unary_strided_1d(be, view):
    base = (RNG.standard_normal(30_011) * 5).astype(np.float32)
    x = base[view]
    xd = be.as_strided(be.from_numpy(base), x.shape, [x.strides[0] // 4],
                       (x.__array_interface__["data"][0] - base.__array_interface__["data"][0])
                       // 4)
    got = be.to_numpy(be.unary("exp", xd, np.dtype(np.float32)))
    np.testing.assert_allclose(got, np.exp(x.astype(np.float64)), rtol=3e-7)


@pytest.mark.parametrize("shape,perm", [((37, 1029), (1, 0)), ((3, 5, 7), (2, 0, 1)),
                                        ((2, 3), (1, 0))])
@pytest.mark.parametrize("op", ["exp", "sigmoid", "log1p"])
def test_unary_transposed(be, op, shape, perm):
    x = (RNG.random(shape) * 3).astype(np.float32)
    xd = be.permute(be.from_numpy(x), perm)
    got = be.to_numpy(be.unary(op, xd, np.dtype(np.float32)))
    np.testing.assert_allclose(got, OPS[op][0](x.transpose(perm).astype(np.float64)), rtol=3e-7)


@pytest.mark.parametrize("op", ["exp", "log", "tanh", "sigmoid", "silu", "gelu", "softplus",
                                "expm1", "log1p"])
def test_unary_float64(be, op):
    if not be.rt.has_fp64:
        pytest.skip("no fp64")
    ref_fn, (lo, hi), _ = OPS[op]
    if op == "gelu":
        lo = -5.0  # double erfc loses relative precision in the far tail
    x = np.concatenate([_inputs(lo, hi, 10_007).astype(np.float64) * (1 + 1e-9),
                        np.array([v for v in SPECIALS if not v < lo])])
    got = _run(be, op, x)
    with np.errstate(all="ignore"):
        ref = ref_fn(x)
    u = _ulps(got, ref, np.float64)
    bound = 64 if op == "gelu" else 8  # PoCL's double erfc: ~50 ulp near -5
    assert np.all((u <= bound) | (np.abs(ref) < 1e-300)), (op, float(u.max()),
                                                        float(x[np.argmax(u)]))


# ---- batch norm / layer norm -----------------------------------------------------------------
def _bn_ref(x, w, b, g, eps, train):
    axes = (0,) + tuple(range(2, x.ndim))
    shp = (1, -1) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes)
    var = x.var(axis=axes)
    invstd = 1.0 / np.sqrt(var + eps)
    xh = (x - mean.reshape(shp)) * invstd.reshape(shp)
    wv = np.ones_like(mean) if w is None else w
    y = xh * wv.reshape(shp) + (0.0 if b is None else b.reshape(shp))
    m = x.size // x.shape[1]
    gb = g.sum(axis=axes)
    gw = (g * xh).sum(axis=axes)
    a = (wv * invstd).reshape(shp)
    gx = a * (g - (gb.reshape(shp) + xh * gw.reshape(shp)) / m) if train else a * g
    return y, mean, invstd, var, gx, gw, gb


def _dev(be, a):
    return be.from_numpy(np.ascontiguousarray(a))


@pytest.mark.parametrize("shape", [(16, 8, 7, 9), (2, 3, 1025), (1, 1, 7), (3, 5), (4, 2, 300_007),
                                   (1, 3, 16), (7, 33, 17)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
def test_batch_norm_train_and_backward(be, shape, dtype, affine):
    if dtype == np.float64 and not be.rt.has_fp64:
        pytest.skip("no fp64")
    C = shape[1]
    x = (RNG.standard_normal(shape) * 3 + 5).astype(dtype)
    g = RNG.standard_normal(shape).astype(dtype)
    w = RNG.standard_normal(C).astype(dtype) if affine[0] else None
    b = RNG.standard_normal(C).astype(dtype) if affine[1] else None
    wd = None if w is None else _dev(be, w)
    bd = None if b is None else _dev(be, b)
    eps = 1e-5
    y, mean, invstd, var = be.batch_norm_train(_dev(be, x), wd, bd, eps)
    f64 = lambda a: None if a is None else a.astype(np.float64)  # noqa: E731
    for train in (True, False):
        ref = _bn_ref(f64(x), f64(w), f64(b), f64(g), eps, train)
        gx, gw, gb = be.batch_norm_backward(_dev(be, g), _dev(be, x), wd, mean, invstd, train, True)
        tol = 2e-4 if dtype == np.float32 else 1e-9
        for got, want in zip([y, mean, invstd, var, gx, gw, gb], ref):
            np.testing.assert_allclose(be.to_numpy(got), want, rtol=tol,
                                       atol=tol * (1 + np.abs(want).max()))


@pytest.mark.parametrize("shape", [(4096, 64), (3, 1025), (1, 7), (7, 1), (33, 300), (2, 70_001),
                                   (1000, 16)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, False)])
def test_layer_norm_and_backward(be, shape, dtype, affine):
    if dtype == np.float64 and not be.rt.has_fp64:
        pytest.skip("no fp64")
    M, D = shape
    x = (RNG.standard_normal(shape) * 2 - 3).astype(dtype)
    g = RNG.standard_normal(shape).astype(dtype)
    w = RNG.standard_normal(D).astype(dtype) if affine[0] else None
    b = RNG.standard_normal(D).astype(dtype) if affine[1] else None
    eps = 1e-5
    wd = None if w is None else _dev(be, w)
    y, mean, rstd = be.layer_norm(_dev(be, x), wd, None if b is None else _dev(be, b), eps)
    xd = x.astype(np.float64)
    mu = xd.mean(axis=1, keepdims=True)
    rs = 1.0 / np.sqrt(xd.var(axis=1, keepdims=True) + eps)
    xh = (xd - mu) * rs
    wv = np.ones(D) if w is None else w.astype(np.float64)
    yr = xh * wv + (0.0 if b is None else b.astype(np.float64))
    wg = g.astype(np.float64) * wv
    gxr = rs * (wg - wg.mean(axis=1, keepdims=True) - xh * (wg * xh).mean(axis=1, keepdims=True))
    gx, gw, gb = be.layer_norm_backward(_dev(be, g), _dev(be, x), wd, mean, rstd, True, True)
    tol = 2e-4 if dtype == np.float32 else 1e-9
    for got, want in [(y, yr), (mean, mu[:, 0]), (rstd, rs[:, 0]), (gx, gxr),
                      (gw, (g * xh).sum(axis=0)), (gb, g.astype(np.float64).sum(axis=0))]:
        np.testing.assert_allclose(be.to_numpy(got), want, rtol=tol,
                                   atol=tol * (1 + np.abs(want).max()))


def test_norm_functional_grads(opencl_layouts):
    """The module-level path (autograd through batch_norm / layer_norm) matches the CPU backend."""
    x = RNG.standard_normal((4, 6, 5, 3)).astype(np.float32)
    outs = {}
    for dev in ("cpu", "opencl:0"):
        xt = df.tensor(x, device=dev, requires_grad=True)
        w = df.ones(6, device=dev, requires_grad=True)
        y = F.batch_norm(xt, None, None, w, None, training=True)
        z = F.layer_norm(y.reshape(4, -1), (90,))
        (z * z.detach().sin()).sum().backward()
        outs[dev] = (z.detach().cpu().numpy(), xt.grad.cpu().numpy(), w.grad.cpu().numpy())
    for a, b in zip(outs["cpu"], outs["opencl:0"]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
