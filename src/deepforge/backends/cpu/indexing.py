"""Indexing: gather/scatter/index_* kernels and advanced indexing."""

from __future__ import annotations

import numpy as np

from ._common import _NUMERIC, _as_3d, _core, _use_core

__all__ = [
    "index_select",
    "gather",
    "scatter_",
    "scatter_add_",
    "index_add_",
    "index_copy_",
    "index_fill_",
    "getitem_advanced",
    "setitem",
    "index_put_",
    "nonzero",
    "masked_fill",
    "embedding_backward",
    "check_index",
    "check_values",
]


def check_index(idx, low, high, exc, message, ignore=None, first=False):
    """Raise ``exc(message.format(index=bad))`` when an element of ``idx`` lies outside
    [low, high) and is not ``ignore``: ``bad`` is the largest such element >= high, else the
    smallest < low, or with ``first`` the first in C order (nll_loss names that one)."""
    if idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    if low <= lo and hi < high:
        return
    v = idx if ignore is None else idx[idx != ignore]
    out = (v < low) | (v >= high)
    if not out.any():
        return
    if first:
        bad = int(v[out].flat[0])
    else:
        bad = v[out]
        bad = int(bad.max()) if bad.max() >= high else int(bad.min())
    raise exc(message.format(index=bad))


def check_values(x, low, high, exc, message, nan_ok=False):
    """Raise ``exc(message)`` when an element of ``x`` lies outside [low, high] or is NaN
    (unless ``nan_ok``)."""
    if x.size == 0:
        return
    ok = (x >= low) & (x <= high)
    if nan_ok and x.dtype.kind in "fc":
        ok |= np.isnan(x)
    if not np.all(ok):
        raise exc(message)


def index_select(x, axis, idx):
    return np.take(x, idx, axis=axis)


def gather(x, axis, idx):
    # the index may be smaller than x in the other dims: gather from that corner of x
    x = x[tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(idx.shape))]
    return np.take_along_axis(x, idx, axis)


def _scatter_index(idx, axis):
    grids = np.indices(idx.shape, sparse=True)
    return tuple(idx if d == axis else g for d, g in enumerate(grids))


def scatter_(x, axis, idx, src, reduce=None):
    """In place: x[..., idx[i], ...] (op)= src[i] along ``axis``."""
    key = _scatter_index(idx, axis)
    if not isinstance(src, np.ndarray):
        src = np.full(idx.shape, src, dtype=x.dtype)
    else:
        src = src[tuple(slice(0, s) for s in idx.shape)]
    if reduce is None:
        x[key] = src
    elif reduce in ("add", "sum"):
        np.add.at(x, key, src)
    elif reduce in ("multiply", "prod"):
        np.multiply.at(x, key, src)
    elif reduce == "amax":
        np.maximum.at(x, key, src)
    elif reduce == "amin":
        np.minimum.at(x, key, src)
    else:
        raise ValueError(f"unknown reduce {reduce!r}")
    return x


def scatter_add_(x, axis, idx, src):
    if (
        x.ndim
        and x.flags.c_contiguous
        and _use_core(x, _NUMERIC)
        and isinstance(src, np.ndarray)
        and src.dtype == x.dtype
        and src.shape == idx.shape
        and all(i == n or d == axis for d, (i, n) in enumerate(zip(idx.shape, x.shape)))
    ):
        x3 = x.reshape(_as_3d(x, axis).shape)
        i3 = _as_3d(idx.astype(np.int64, copy=False), axis)
        if i3.size and i3.min() < 0:
            i3 = np.ascontiguousarray(i3 + x.shape[axis] * (i3 < 0))
        _core.scatter_add(x3, i3, _as_3d(src, axis))
        return x
    return scatter_(x, axis, idx, src, "add")


def _nonneg(idx, n):
    """Index array with negative entries wrapped (the Cython kernels take 0 <= i < n)."""
    idx = np.ascontiguousarray(idx.reshape(-1), dtype=np.int64)
    return idx + n * (idx < 0) if idx.size and idx.min() < 0 else idx


def index_add_(x, axis, idx, src, alpha):
    if (
        x.ndim
        and x.flags.c_contiguous
        and _use_core(x, _NUMERIC)
        and src.dtype == x.dtype
        and src.ndim == x.ndim
    ):
        # Cython: ~10x np.add.at; duplicate indices accumulate serially per row
        x3 = x.reshape(_as_3d(x, axis).shape)
        s3 = _as_3d(src, axis)
        _core.index_add(x3, _nonneg(idx, x.shape[axis]), s3, float(alpha))
        return x
    xm = np.moveaxis(x, axis, 0)
    sm = np.moveaxis(src, axis, 0)
    if alpha != 1:
        sm = sm * alpha
    np.add.at(xm, idx, sm.astype(x.dtype, copy=False))
    return x


def index_copy_(x, axis, idx, src):
    np.moveaxis(x, axis, 0)[idx] = np.moveaxis(src, axis, 0)
    return x


def index_fill_(x, axis, idx, value):
    np.moveaxis(x, axis, 0)[idx] = value
    return x


def getitem_advanced(x, key):
    r = x[key]
    return r if type(r) is np.ndarray else np.asarray(r)


def setitem(x, key, value):
    x[key] = value


def index_put_(x, key, value, accumulate):
    if accumulate:
        np.add.at(x, key, value)
    else:
        x[key] = value
    return x


def nonzero(x):
    return np.ascontiguousarray(np.argwhere(x), dtype=np.int64)


def masked_fill(x, mask, value):
    return np.where(mask, np.asarray(value, dtype=x.dtype), x)


def embedding_backward(idx, gout, num_weights, padding_idx):
    d = gout.shape[-1]
    flat_idx = np.ascontiguousarray(idx.reshape(-1), dtype=np.int64)
    g2 = np.ascontiguousarray(gout.reshape(-1, d))
    gw = np.zeros((num_weights, d), dtype=gout.dtype)
    if _core is not None and g2.dtype in (np.float32, np.float64):
        _core.embedding_backward(flat_idx, g2, gw, -1 if padding_idx is None else padding_idx)
    else:
        np.add.at(gw, flat_idx, g2)
        if padding_idx is not None:
            gw[padding_idx] = 0
    return gw
