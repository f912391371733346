"""OpenCL reductions, arg-reductions and softmax on every kernel path: contiguous lines (16-wide
with parts), outer-axis ("column") runs with parts and shorter runs, strided and multi-dim
layouts, the GPU layout; odd sizes, ints and bools exactly, NaN propagation, keepdim."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
from deepforge.backends import get_backend, opencl_device_count

if opencl_device_count() == 0:  # conftest fails the run instead under DEEPFORGE_REQUIRE_OPENCL=1
    pytest.skip("no usable OpenCL device", allow_module_level=True)


@pytest.fixture
def be(opencl_layouts):
    return opencl_layouts


RNG = np.random.default_rng(11)


def _on(be, a):
    """a (a numpy array or a strided view of a contiguous one) on the device with the same
    strides and offset."""
    root = a
    while isinstance(root.base, np.ndarray):
        root = root.base
    assert root.flags.c_contiguous
    off = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return be.as_strided(be.from_numpy(root), a.shape, [s // a.itemsize for s in a.strides],
                         off // a.itemsize)


def _np(be, x):
    return be.to_numpy(x)


def _data(shape, dtype):
    if dtype == np.bool_:
        return RNG.random(shape) > 0.3
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(0 if dtype == np.uint8 else -50, 50, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


# (shape, axes, view) where view slices the base array into a strided input
LAYOUTS = [
    ((1,), None, None),
    ((7,), None, None),
    ((1025,), None, None),
    ((300_007,), None, None),                 # one long line split into parts
    ((3, 70_001), (1,), None),                # few long lines
    ((1025, 7), (0,), None),                  # outer axis, few columns
    ((5000, 33), (0,), None),                 # outer axis, parts over the rows
    ((700, 2053), (0,), None),                # runs longer than the accumulators hold
    ((64, 100, 48), (1,), None),              # a middle axis (two kept dims)
    ((1025, 66), (0,), np.s_[:, ::2]),        # outputs at stride 2
    ((12, 50, 40), (0, 1), np.s_[::2]),       # two reduced dims that do not merge
    ((40, 1025), (0,), "T"),                  # transposed: the reduced axis is contiguous
    ((33, 40), (1,), "T"),                    # transposed: outer axis
]


def _case(be, shape, axes, view, dtype):
    base = _data(shape, dtype)
    x = base.T if view == "T" else (base[view] if view is not None else base)
    return x, _on(be, x)


@pytest.mark.parametrize("shape,axes,view", LAYOUTS)
def test_float_reductions(be, shape, axes, view):
    x, X = _case(be, shape, axes, view, np.float32)
    x64 = x.astype(np.float64)
    red = (lambda op, dt=np.float32: _np(be, be.reduce(op, X, axes, False, dt)))
    np.testing.assert_allclose(red("sum"), x64.sum(axis=axes), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(red("mean"), x64.mean(axis=axes), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(red("nansum"), x64.sum(axis=axes), rtol=1e-5, atol=1e-3)
    np.testing.assert_array_equal(red("max"), x.max(axis=axes))
    np.testing.assert_array_equal(red("min"), x.min(axis=axes))
    np.testing.assert_array_equal(red("all", np.bool_), x.all(axis=axes))
    np.testing.assert_array_equal(red("any", np.bool_), (x > 3.5).any(axis=axes) | x.any(axis=axes))
    np.testing.assert_allclose(_np(be, be.reduce("prod", _on(be, np.ascontiguousarray(
        1 + x / 1000)), axes, False, np.float32)), (1 + x64 / 1000).prod(axis=axes), rtol=1e-4)
    n = x.size // np.asarray(x.sum(axis=axes)).size
    if n > 1:
        np.testing.assert_allclose(_np(be, be.var(X, axes, 1, False, np.float32)),
                                   x64.var(axis=axes, ddof=1), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(_np(be, be.logsumexp(X, axes, False)),
                               np.log(np.exp(x64).sum(axis=axes)), rtol=1e-5, atol=1e-6)
    if axes is None or len(axes) == 1:
        ax = None if axes is None else axes[0]
        for op in ("argmax", "argmin"):
            np.testing.assert_array_equal(_np(be, be.argreduce(op, X, ax, False)),
                                          getattr(np, op)(x, axis=ax))
        if ax is not None:
            v, i = be.max_min_dim("min", X, ax, False)
            np.testing.assert_array_equal(_np(be, v), x.min(axis=ax))
            np.testing.assert_array_equal(_np(be, i), x.argmin(axis=ax))


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64, np.bool_, np.float64])
@pytest.mark.parametrize("shape,axes,view", [LAYOUTS[i] for i in (2, 3, 5, 6, 8, 9, 10)])
def test_dtypes_exact(be, dtype, shape, axes, view):
    x, X = _case(be, shape, axes, view, dtype)
    acc = np.float64 if dtype == np.float64 else np.int64
    np.testing.assert_allclose(_np(be, be.reduce("sum", X, axes, False, acc)),
                               x.sum(axis=axes, dtype=acc), rtol=1e-12 if acc == np.float64 else 0)
    for op in ("max", "min"):
        np.testing.assert_array_equal(_np(be, be.reduce(op, X, axes, False, dtype)),
                                      getattr(x, op)(axis=axes))
    for op in ("all", "any"):
        np.testing.assert_array_equal(_np(be, be.reduce(op, X, axes, False, np.bool_)),
                                      getattr(x, op)(axis=axes))
    if dtype != np.bool_:
        small = np.ascontiguousarray(np.sign(x) if dtype != np.uint8 else x % 2 + 1).astype(dtype)
        np.testing.assert_array_equal(
            _np(be, be.reduce("prod", _on(be, small), axes, False, acc)),
            small.prod(axis=axes, dtype=acc))
    if axes is None or len(axes) == 1:
        ax = None if axes is None else axes[0]
        for op in ("argmax", "argmin"):  # many ties: the first index wins
            np.testing.assert_array_equal(_np(be, be.argreduce(op, X, ax, False)),
                                          getattr(np, op)(x, axis=ax))


@pytest.mark.parametrize("shape,axes,view", [LAYOUTS[i] for i in (1, 2, 3, 4, 6, 7, 8, 9)])
def test_nan_propagation(be, shape, axes, view):
    x, _ = _case(be, shape, axes, view, np.float32)
    x = np.array(x)  # a copy we can poke
    flat = x.reshape(-1)
    for k in RNG.choice(flat.size, max(1, flat.size // 500), replace=False):
        flat[k] = np.nan
    X = _on(be, x)
    for op in ("max", "min"):
        np.testing.assert_array_equal(_np(be, be.reduce(op, X, axes, False, np.float32)),
                                      getattr(np, op)(x, axis=axes))
    np.testing.assert_allclose(_np(be, be.reduce("nansum", X, axes, False, np.float32)),
                               np.nansum(x.astype(np.float64), axis=axes), rtol=1e-5, atol=1e-3)
    if axes is None or len(axes) == 1:
        ax = None if axes is None else axes[0]
        for op in ("argmax", "argmin"):  # the first NaN wins
            np.testing.assert_array_equal(_np(be, be.argreduce(op, X, ax, False)),
                                          getattr(np, op)(x, axis=ax))


def test_nan_position_in_long_line(be):
    """A single NaN anywhere (vector body, tail, first and last block) propagates."""
    n = 70_001
    for pos in (0, 15, 16, 1023, 1024, 40_000, n - 1):
        x = RNG.standard_normal(n).astype(np.float32)
        x[pos] = np.nan
        X = be.from_numpy(x)
        assert np.isnan(_np(be, be.reduce("max", X, None, False, np.float32)))
        assert np.isnan(_np(be, be.reduce("min", X, None, False, np.float32)))
        assert int(_np(be, be.argreduce("argmax", X, None, False))) == pos
        x2 = np.repeat(x[:, None], 3, 1)
        v, i = be.max_min_dim("max", be.from_numpy(x2), 0, False)
        assert np.isnan(_np(be, v)).all() and (_np(be, i) == pos).all()


def test_arg_outer_axis_with_parts(be):
    """Column arg-reductions split over the rows: 16-lane blocks, ties and NaN across parts."""
    x = RNG.integers(0, 20, (20_000, 80)).astype(np.float32)
    x[[3, 12_000, 19_999], 5] = np.nan
    x[15_000:, 70] = 100
    X = be.from_numpy(x)
    for op, fn in (("max", np.argmax), ("min", np.argmin)):
        v, i = be.max_min_dim(op, X, 0, False)
        np.testing.assert_array_equal(_np(be, i), fn(x, 0))
        np.testing.assert_array_equal(_np(be, v), getattr(np, op)(x, 0))


def test_many_parts_of_uneven_length(be):
    """More parts than fit evenly (GPU layout: 256 parts of 16385 rows): no part is empty,
    so no placeholder partial can win the combine."""
    x = -np.abs(RNG.standard_normal((16_385, 2))).astype(np.float32) - 1
    X = be.from_numpy(x)
    np.testing.assert_array_equal(_np(be, be.argreduce("argmax", X, 0, False)), x.argmax(0))
    v, i = be.max_min_dim("max", X, 0, False)
    np.testing.assert_array_equal(_np(be, v), x.max(0))
    np.testing.assert_array_equal(_np(be, be.reduce("max", X, (0,), False, np.float32)),
                                  x.max(0))


def test_infinities_and_ties(be):
    x = np.full(5000, -np.inf, np.float32)
    X = be.from_numpy(x)
    assert _np(be, be.reduce("max", X, None, False, np.float32)) == -np.inf
    assert int(_np(be, be.argreduce("argmax", X, None, False))) == 0
    x[[77, 3001, 4500]] = np.inf
    X = be.from_numpy(x)
    assert int(_np(be, be.argreduce("argmax", X, None, False))) == 77
    assert _np(be, be.reduce("max", X, None, False, np.float32)) == np.inf


def test_keepdim_and_tensor_api():
    for dev in ("opencl",):
        x = RNG.standard_normal((300, 65)).astype(np.float32)
        t = df.tensor(x, device=dev)
        for dim in (0, 1):
            np.testing.assert_allclose(t.sum(dim, keepdim=True).cpu().numpy(),
                                       x.sum(dim, keepdims=True), rtol=1e-5, atol=1e-4)
            np.testing.assert_array_equal(t.amax(dim, keepdim=True).cpu().numpy(),
                                          x.max(dim, keepdims=True))
            v, i = t.max(dim, keepdim=True)
            np.testing.assert_array_equal(i.cpu().numpy(), x.argmax(dim)[..., None].reshape(
                v.shape))
        assert t.t().sum(0).shape == (300,)
        np.testing.assert_allclose(t.t().sum(0).cpu().numpy(), x.sum(1), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("shape,axis", [((4, 1000), 1), ((700, 70), 0), ((3, 37, 5, 7), 1),
                                        ((2, 16, 33), 1), ((40, 17), 0), ((1,), 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_layouts(be, shape, axis, dtype):
    x = (RNG.standard_normal(shape) * 3).astype(dtype)
    g = RNG.standard_normal(shape).astype(dtype)
    cpu = get_backend(df.device("cpu"))
    X, G = be.from_numpy(x), be.from_numpy(g)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for fn in ("softmax", "log_softmax"):
        y = getattr(cpu, fn)(x, axis)
        np.testing.assert_allclose(_np(be, getattr(be, fn)(X, axis)), y, **tol)
        gx = getattr(be, fn + "_backward")(be.from_numpy(y), G, axis)
        np.testing.assert_allclose(_np(be, gx), getattr(cpu, fn + "_backward")(y, g, axis),
                                   rtol=tol["rtol"] * 10, atol=tol["atol"] * 10)
    if x.ndim == 1:
        return
    # a permuted input: the axis and the lines at other strides
    xt = np.ascontiguousarray(np.swapaxes(x, 0, -1))
    Xt = be.permute(be.from_numpy(xt), tuple(range(x.ndim))[::-1] if x.ndim == 2 else
                    (x.ndim - 1,) + tuple(range(1, x.ndim - 1)) + (0,))
    np.testing.assert_allclose(_np(be, be.softmax(Xt, axis)), cpu.softmax(x, axis), **tol)


def test_softmax_nan_and_inf(be):
    x = (RNG.standard_normal((40, 64))).astype(np.float32)
    x[3, 5] = np.nan
    x[7, :] = -np.inf
    x[9, 2] = np.inf
    cpu = get_backend(df.device("cpu"))
    for axis, a in ((1, x), (0, np.ascontiguousarray(x.T))):
        got = _np(be, be.softmax(be.from_numpy(a), axis))
        np.testing.assert_array_equal(np.isnan(got), np.isnan(cpu.softmax(a, axis)))


@pytest.mark.parametrize("shape,axes,view", [LAYOUTS[i] for i in (2, 3, 6, 9)])
def test_float16(be, shape, axes, view):
    x, X = _case(be, shape, axes, view, np.float16)
    np.testing.assert_allclose(_np(be, be.reduce("sum", X, axes, False, np.float16)).astype(
        np.float64), x.astype(np.float64).sum(axis=axes), rtol=2e-3, atol=1e-2)
    for op in ("max", "min"):
        np.testing.assert_array_equal(_np(be, be.reduce(op, X, axes, False, np.float16)),
                                      getattr(x, op)(axis=axes))
    ax = None if axes is None else axes[0]
    np.testing.assert_array_equal(_np(be, be.argreduce("argmax", X, ax, False)),
                                  np.argmax(x, axis=ax))


def test_small_whole_reductions_match_the_general_path(be, monkeypatch):
    # whole-tensor reductions of small contiguous inputs go through a launch plan
    # (ReduceOps._small_reduce); with it turned off, the general path must give the same bits,
    # for every op, several dtypes, sizes on both sides of the plan's limit, and inputs that
    # start inside their buffer (the plan's descriptor changes with size and offset)
    cases = []
    for dtype in (np.float32, np.float64, np.int32, np.uint8):
        for n in (1, 2, 7, 64, 65, 1000, 8191, 8192):
            base = _data((n + 3,), dtype)
            for lo in (0, 3):
                cases.append((dtype, _on(be, base[lo : lo + n])))

    def run():
        out = []
        for dtype, X in cases:
            acc = np.float64 if dtype in (np.float32, np.float64) else np.int64
            ops = [("sum", acc), ("prod", acc), ("max", dtype), ("min", dtype)]
            if acc == np.float64:
                ops.append(("mean", dtype))
            for op, dt in ops:
                out.append(_np(be, be.reduce(op, X, None, False, dt)))
                out.append(_np(be, be.reduce(op, X, (0,), True, dt)))
        return out

    got = run()
    plans = [k for k in be.rt.tls.kernels if k and k[:2] == ("plan", "reduce_lines")]
    assert plans, "no reduction took the plan path"
    monkeypatch.setattr(type(be), "_small_reduce", lambda self, op, x, dtype: None)
    want = run()
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)
