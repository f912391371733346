"""OpenCL max pooling (the CPU-device row-wise kernel for windows inside the plane, and the
generic kernel for padding/ceil_mode edges), its backward, and index_select/index_add_ with
duplicate indices, in the device's own layout and in the GPU layout, against the CPU backend."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
import deepforge.nn.functional as F
from deepforge.backends import opencl_device_count

if opencl_device_count() == 0:  # conftest fails the run instead under DEEPFORGE_REQUIRE_OPENCL=1
    pytest.skip("no usable OpenCL device", allow_module_level=True)


@pytest.fixture
def be(opencl_layouts):
    return opencl_layouts


RNG = np.random.default_rng(11)

# (shape, kernel, stride, padding, dilation, ceil_mode)
POOL_CASES = [
    ((2, 3, 56, 56), 2, 2, 0, 1, False),  # the common 2x2 case, full 8-wide blocks
    ((2, 3, 9, 11), 2, 2, 0, 1, False),  # odd sizes: a dropped last row/column
    ((1, 2, 19, 37), 3, 2, 0, 2, False),  # dilation, a vector block and a scalar tail
    ((1, 2, 20, 21), (2, 3), (1, 2), 0, 1, False),  # non-square, stride 1 rows
    ((2, 2, 9, 11), 3, 2, 0, 1, True),  # ceil_mode with overhanging windows
    ((2, 2, 18, 18), 2, 2, 0, 1, True),  # ceil_mode that stays inside the plane
    ((1, 3, 12, 13), 3, 2, 1, 1, False),  # padding: the generic kernel
    ((1, 3, 12, 25), 3, 1, 1, 2, True),  # padding, dilation and ceil_mode together
]


def _data(shape, dtype, nan):
    # small integers make ties common; NaN placed at scattered positions
    a = RNG.integers(0, 3, size=shape).astype(dtype)
    if nan:
        a.reshape(-1)[:: 7] = np.nan
    return a


def _pool(a, dev, k, s, p, d, cm):
    x = df.tensor(a, device=dev)
    f = F.max_pool1d if a.ndim == 3 else F.max_pool2d
    y, i = f(x, k, s, padding=p, dilation=d, ceil_mode=cm, return_indices=True)
    return y.cpu().numpy(), i.cpu().numpy()


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("nan", [False, True])
def test_max_pool2d_matches_cpu(be, case, nan):
    shape, k, s, p, d, cm = case
    a = _data(shape, np.float32, nan)
    y, i = _pool(a, "opencl", k, s, p, d, cm)
    ry, ri = _pool(a, "cpu", k, s, p, d, cm)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(i, ri)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_max_pool2d_dtypes(be, dtype):
    if dtype == np.float64 and not be.rt.has_fp64:
        pytest.skip("no fp64 on this device")
    a = _data((2, 3, 17, 40), dtype, True)
    y, i = _pool(a, "opencl", 2, 2, 0, 1, False)
    ry, ri = _pool(a.astype(np.float32), "cpu", 2, 2, 0, 1, False)
    np.testing.assert_array_equal(y.astype(np.float32), ry)
    np.testing.assert_array_equal(i, ri)


@pytest.mark.parametrize("k,s", [(3, 2), (4, 1)])
def test_max_pool1d_matches_cpu(be, k, s):
    a = _data((3, 4, 41), np.float32, True)
    y, i = _pool(a, "opencl", k, s, 0, 1, False)
    ry, ri = _pool(a, "cpu", k, s, 0, 1, False)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(i, ri)


@pytest.mark.parametrize("case", [POOL_CASES[0], POOL_CASES[2], POOL_CASES[4], POOL_CASES[6]])
def test_max_pool2d_backward(be, case):
    shape, k, s, p, d, cm = case
    a = RNG.standard_normal(shape).astype(np.float32)
    grads = []
    for dev in ("opencl", "cpu"):
        x = df.tensor(a, device=dev, requires_grad=True)
        y = F.max_pool2d(x, k, s, padding=p, dilation=d, ceil_mode=cm)
        g = df.tensor(np.arange(y.numel(), dtype=np.float32).reshape(y.shape), device=dev)
        (y * g).sum().backward()
        grads.append(x.grad.cpu().numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=1e-6)


def test_index_select_duplicates(be):
    a = RNG.standard_normal((50, 13)).astype(np.float32)
    idx = np.array([3, 3, 0, 49, -1, 7, 3], np.int64)
    for axis in (0, 1):
        got = df.tensor(a, device="opencl").index_select(
            axis, df.tensor(idx % a.shape[axis], device="opencl")).cpu().numpy()
        np.testing.assert_array_equal(got, np.take(a, idx % a.shape[axis], axis=axis))


@pytest.mark.parametrize("rows", [7, 5000])
def test_index_add_duplicates(be, rows):
    # many duplicate indices: every destination row receives several contributions
    src = RNG.integers(-4, 5, size=(rows, 6)).astype(np.float32)
    idx = RNG.integers(0, 5, size=rows).astype(np.int64)
    out = df.zeros(5, 6, device="opencl")
    out.index_add_(0, df.tensor(idx, device="opencl"), df.tensor(src, device="opencl"))
    ref = np.zeros((5, 6), np.float32)
    np.add.at(ref, idx, src)
    np.testing.assert_array_equal(out.cpu().numpy(), ref)
