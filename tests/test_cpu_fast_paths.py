"""The CPU backend's threaded _core fast paths (taken only for large contiguous float inputs,
so the op-spec table's small shapes never reach them) against numpy and the generic paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepforge as df
import deepforge.nn.functional as F

pytestmark = pytest.mark.skipif(
    not hasattr(__import__("deepforge.backends.cpu", fromlist=["_core"])._core or object(),
                "binary"),
    reason="deepforge._core is not built",
)

N = 70_001  # above the fast paths' threshold, odd (tail handling)
DTYPES = [np.float32, np.float64]


def _arr(seed, dtype, n=N):
    return np.random.default_rng(seed).standard_normal(n).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["add", "sub", "mul"])
def test_large_binary_matches_numpy_bitwise(op, dtype):
    a, b = _arr(0, dtype), _arr(1, dtype)
    ta, tb = df.from_numpy(a), df.from_numpy(b)
    ref = getattr(np, {"add": "add", "sub": "subtract", "mul": "multiply"}[op])
    np.testing.assert_array_equal(getattr(df, op)(ta, tb).numpy(), ref(a, b))
    np.testing.assert_array_equal(getattr(df, op)(ta, 0.3).numpy(), ref(a, dtype(0.3)))
    np.testing.assert_array_equal(getattr(df, op)(2.5, tb).numpy() if op != "sub" else
                                  (2.5 - tb).numpy(), ref(dtype(2.5), b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_binary_in_place_and_out(dtype):
    a, b = _arr(2, dtype), _arr(3, dtype)
    t = df.from_numpy(a.copy())
    t += df.from_numpy(b)
    np.testing.assert_array_equal(t.numpy(), a + b)
    t = df.from_numpy(a.copy())
    t.mul_(1.5)
    np.testing.assert_array_equal(t.numpy(), a * dtype(1.5))
    out = df.empty(N, dtype=df.float32 if dtype == np.float32 else df.float64)
    df.sub(df.from_numpy(a), df.from_numpy(b), out=out)
    np.testing.assert_array_equal(out.numpy(), a - b)
    # an overlapping, shifted output must not be computed in place
    buf = df.from_numpy(np.concatenate([a, a[:1]]))
    df.add(buf[:N], 1.0, out=buf[1:])
    np.testing.assert_array_equal(buf.numpy()[1:], a + dtype(1.0))


def test_large_binary_non_contiguous_and_broadcast_fall_back():
    a = _arr(4, np.float32, 2 * N).reshape(2, N)
    b = _arr(5, np.float32, N)
    ta, tb = df.from_numpy(a), df.from_numpy(b)
    np.testing.assert_array_equal((ta + tb).numpy(), a + b)
    np.testing.assert_array_equal((ta.t() * 2).numpy(), a.T * np.float32(2))


def _gelu_ref(x):
    # erfc keeps the negative tail accurate (1 + erf cancels there)
    return 0.5 * x * np.vectorize(math.erfc)(-x / math.sqrt(2.0))


UNARY_REFS = {
    "relu": lambda x: np.maximum(x, 0),
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "exp": np.exp,
    "gelu": _gelu_ref,
    "silu": lambda x: x / (1.0 + np.exp(-x)),
}


def _apply(op, t):
    return getattr(F, op)(t) if op in ("gelu", "silu") else getattr(df, op)(t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", sorted(UNARY_REFS))
def test_large_unary_matches_reference(op, dtype):
    x = (3 * _arr(6, dtype, 20_011)).reshape(1, -1)
    x[0, :5] = [0.0, -0.0, 80.0, -80.0, 1e-30]
    ref = UNARY_REFS[op](x.astype(np.float64))
    tol = 2e-6 if dtype == np.float32 else 1e-13
    for t in (df.from_numpy(x), df.from_numpy(np.ascontiguousarray(np.tile(x, (2, 1)).T)).t()[:1]):
        got = _apply(op, t).numpy()
        assert got.dtype == dtype
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * 1e-3)


def test_unary_float16_is_computed_in_float32_and_rounded():
    x = _arr(7, np.float32, 4096).astype(np.float16)
    got = F.gelu(df.from_numpy(x)).numpy()
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, _gelu_ref(x.astype(np.float64)).astype(np.float32)
                                  .astype(np.float16))


@pytest.mark.parametrize("dtype", [df.float32, df.float64])
@pytest.mark.parametrize("op", ["relu", "gelu", "silu"])
def test_fused_backward_matches_composition(op, dtype):
    x = (2 * df.randn(3001, dtype=dtype)).requires_grad_()
    g = df.randn(3001, dtype=dtype)
    (fused,) = df.autograd.grad(_apply(op, x), x, g)
    # create_graph=True takes the differentiable composition instead of the fused kernel
    (composed,) = df.autograd.grad(_apply(op, x), x, g, create_graph=True)
    tol = 1e-6 if dtype == df.float32 else 1e-12
    np.testing.assert_allclose(fused.numpy(), composed.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,dims",
    [((300, 301), None), ((300, 301), (1,)), ((300, 301), (0,)), ((7, 40, 11, 23), (1, 2)),
     ((7, 40, 11, 23), (0, 1)), ((7, 40, 11, 23), (2, 3)), ((7, 40, 11, 23), (1, 3))],
)
def test_sum_mean_over_adjacent_dims(shape, dims, dtype):
    x = _arr(8, dtype, int(np.prod(shape))).reshape(shape)
    t = df.from_numpy(x)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for keepdim in (False, True):
        for name in ("sum", "mean"):
            got = getattr(df, name)(t) if dims is None and not keepdim else \
                getattr(t, name)(dim=dims if dims is not None else tuple(range(x.ndim)),
                                 keepdim=keepdim)
            ref = getattr(x.astype(np.float64), name)(axis=dims, keepdims=keepdim)
            assert got.shape == ref.shape and got.dtype == t.dtype
            np.testing.assert_allclose(got.numpy(), ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,s,d", [(2, 2, 1), (3, 1, 1), (3, 2, 2), ((2, 3), (1, 2), (2, 1))])
def test_max_pool2d_inside_windows_ties_and_nan_match_torch(k, s, d, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x = rng.integers(0, 3, (2, 3, 11, 12)).astype(dtype)  # many ties
    x[0, 0, 2, 3] = x[1, 2, 5, 5] = x[1, 2, 5, 6] = np.nan
    ours = F.max_pool2d(df.from_numpy(x), k, s, dilation=d, return_indices=True)
    ref = torch.nn.functional.max_pool2d(torch.from_numpy(x), k, s, dilation=d,
                                         return_indices=True)
    np.testing.assert_array_equal(ours[0].numpy(), ref[0].numpy())
    np.testing.assert_array_equal(ours[1].numpy(), ref[1].numpy())
