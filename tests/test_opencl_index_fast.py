"""index_select / index_add_ on OpenCL against numpy: the whole-row CPU-device kernels and the
GPU layout's strided gather and atomic scatter (both layouts via ``opencl_layouts``), over odd
sizes, duplicate indices, strided views, several dtypes and the bounds errors."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
from deepforge.backends import opencl_device_count

if opencl_device_count() == 0:  # conftest fails the run instead under DEEPFORGE_REQUIRE_OPENCL=1
    pytest.skip("no usable OpenCL device", allow_module_level=True)

DEV = "opencl:0"
RNG = np.random.default_rng(11)
DTYPES = [np.float32, np.float64, np.float16, np.int32, np.int64, np.int8, np.bool_]


@pytest.fixture
def be(opencl_layouts):
    return opencl_layouts


def _skip_fp64(be, dt):
    if np.dtype(dt) == np.float64 and not be.rt.has_fp64:
        pytest.skip("no fp64 on this device")


def _data(shape, dt):
    if np.dtype(dt) == np.bool_:
        return RNG.random(shape) > 0.5
    return (RNG.standard_normal(shape) * 8).astype(dt)


def _t(a):
    return df.tensor(a, device=DEV)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 1025])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_index_select(be, dt, n, axis):
    _skip_fp64(be, dt)
    x = _data((3, 5, 9), dt)
    idx = RNG.integers(0, x.shape[axis], n)
    got = _t(x).index_select(axis, _t(idx)).cpu().numpy()
    np.testing.assert_array_equal(got, np.take(x, idx, axis))


@pytest.mark.parametrize("n", [1, 7, 1025])
def test_index_select_strided(be, n):
    base = _data((40, 1025), np.float32)
    idx = RNG.integers(0, 20, 2 * n)
    for view, ref in (
        (_t(base).t(), base.T),  # inner dim strided
        (_t(base)[::2, 1::3], base[::2, 1::3]),  # both dims stepped, nonzero offset
    ):
        for axis in (0, 1):
            ii = idx % ref.shape[axis]
            it = _t(ii)[::2]  # strided index array
            got = view.index_select(axis, it).cpu().numpy()
            np.testing.assert_array_equal(got, np.take(ref, ii[::2], axis))


def test_index_select_large_and_empty(be):
    x = _data((4096, 67), np.float32)
    idx = RNG.integers(0, 4096, 5000)
    got = _t(x).index_select(0, _t(idx)).cpu().numpy()
    np.testing.assert_array_equal(got, x[idx])
    empty = _t(x).index_select(0, _t(np.zeros(0, np.int64)))
    assert tuple(empty.shape) == (0, 67)


def _ref_add(x, axis, idx, src, alpha):
    ref = np.moveaxis(x.astype(np.float64), axis, 0).copy()
    np.add.at(ref, idx, np.moveaxis(src.astype(np.float64), axis, 0) * alpha)
    return np.moveaxis(ref, 0, axis)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16, np.int32, np.int64])
@pytest.mark.parametrize("n", [1, 7, 1025])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_index_add(be, dt, n, axis):
    _skip_fp64(be, dt)
    x = _data((3, 5, 9), dt)
    idx = RNG.integers(0, x.shape[axis], n)  # n > size: duplicates
    shape = list(x.shape)
    shape[axis] = n
    src = _data(tuple(shape), dt)
    alpha = 1 if n == 7 else 3
    got = _t(x).index_add_(axis, _t(idx), _t(src), alpha=alpha).cpu().numpy()
    ref = _ref_add(x, axis, idx, src, alpha)
    if np.issubdtype(dt, np.floating):
        tol = 0.5 if dt == np.float16 else 1e-3
        np.testing.assert_allclose(got.astype(np.float64), ref, rtol=tol, atol=tol * n)
    else:
        np.testing.assert_array_equal(got, ref.astype(dt))


def test_index_add_bool_matches_cpu(be):
    x, src = _data((6, 5), np.bool_), _data((9, 5), np.bool_)
    idx = RNG.integers(0, 6, 9)
    try:
        want = df.tensor(x).index_add_(0, df.tensor(idx), df.tensor(src)).numpy()
    except (RuntimeError, TypeError):
        pytest.skip("bool index_add_ unsupported")
    got = _t(x).index_add_(0, _t(idx), _t(src)).cpu().numpy()
    np.testing.assert_array_equal(got, want)


def test_index_add_strided_views(be):
    base = _data((64, 130), np.float32)
    srcb = _data((130, 300), np.float32)
    idx = RNG.integers(0, 32, 300)
    want = base.copy()
    w = want[::2, 1:].T  # dst: transposed and stepped view into a bigger array
    np.add.at(w, (slice(None), idx), srcb[1:, :] * 2)  # index_add_ along axis 1
    x = _t(base)
    view = x[::2, 1:].t()
    view.index_add_(1, _t(idx), _t(srcb)[1:, :], alpha=2)
    np.testing.assert_allclose(x.cpu().numpy(), want, rtol=1e-5, atol=1e-4)
    # an expanded (stride 0) source
    row = _data((1, 130), np.float32)
    y = np.zeros((16, 130), np.float32)
    ii = RNG.integers(0, 16, 700)
    got = _t(y).index_add_(0, _t(ii), _t(row).expand(700, 130)).cpu().numpy()
    np.add.at(y, ii, np.broadcast_to(row, (700, 130)))
    np.testing.assert_allclose(got, y, rtol=1e-5, atol=1e-4)


def test_index_add_large_deterministic(be):
    x = np.zeros((50, 33), np.float32)
    src = _data((20000, 33), np.float32)
    idx = RNG.integers(0, 50, 20000)
    runs = [_t(x).index_add_(0, _t(idx), _t(src), alpha=2).cpu().numpy() for _ in range(2)]
    ref = x.copy()
    np.add.at(ref, idx, src * np.float32(2))  # float32 sums in index order
    np.testing.assert_allclose(runs[0], ref, rtol=1e-4, atol=1e-3)
    if be.rt.is_cpu:  # the CPU kernel adds in index order: bitwise equal and repeatable
        np.testing.assert_array_equal(runs[0], ref)
        np.testing.assert_array_equal(runs[0], runs[1])


def test_index_add_empty_and_scalar(be):
    x = _data((4, 3), np.float32)
    got = _t(x).index_add_(0, _t(np.zeros(0, np.int64)), _t(np.zeros((0, 3), np.float32)))
    np.testing.assert_array_equal(got.cpu().numpy(), x)
    one = _t(np.array(1.0, np.float32))
    s = one.index_add_(0, _t(np.array([0, 0])), _t(np.ones(2, np.float32)))
    np.testing.assert_array_equal(s.cpu().numpy(), 3.0)


def test_embedding_backward_duplicates(be):
    w = df.tensor(_data((10, 6), np.float32), device=DEV, requires_grad=True)
    ids = RNG.integers(0, 10, (40, 3))
    out = df.nn.functional.embedding(_t(ids), w)
    g = _data((40, 3, 6), np.float32)
    out.backward(_t(g))
    ref = np.zeros((10, 6), np.float64)
    np.add.at(ref, ids.reshape(-1), g.reshape(-1, 6))
    np.testing.assert_allclose(w.grad.cpu().numpy(), ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bad", [-1, 5, 100])
def test_bounds_errors(be, bad):
    x = _t(_data((5, 4), np.float32))
    idx = _t(np.array([0, bad, 2]))
    # reported at the next wait for the device (index_checks.py)
    with pytest.raises(IndexError, match="out of bounds"):
        x.index_select(0, idx).cpu()
    with pytest.raises(RuntimeError, match="out of bounds"):
        x.index_add_(0, idx, _t(np.ones((3, 4), np.float32)))
        df.opencl.synchronize()
    np.testing.assert_array_equal(x.index_select(1, _t(np.array([3, 0]))).shape, (5, 2))
