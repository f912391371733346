"""Shared test helpers."""

from __future__ import annotations

import numpy as np

import deepforge as df


def to_np(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, check_dtype=False):
    a = to_np(actual) if isinstance(actual, df.Tensor) else np.asarray(actual)
    e = to_np(expected) if isinstance(expected, df.Tensor) else np.asarray(expected)
    assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
    if check_dtype:
        assert a.dtype == e.dtype, f"dtype {a.dtype} != {e.dtype}"
    np.testing.assert_allclose(a.astype(np.float64) if a.dtype != np.bool_ else a,
                               e.astype(np.float64) if e.dtype != np.bool_ else e,
                               rtol=rtol, atol=atol, equal_nan=True)


def noncontig(t):
    """A non-contiguous tensor with the same values (a transposed copy transposed back)."""
    if t.ndim < 2:
        big = df.stack([t, t], -1)
        return big[..., 0]
    return t.mT.contiguous().mT


def torch_or_skip():
    import pytest

    return pytest.importorskip("torch")
