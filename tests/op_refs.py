"""numpy reference implementations used by the op-spec table (tests/op_specs.py)."""

from __future__ import annotations

import math

import numpy as np

# -- numpy references --------------------------------------------------------------------------
_erf_v = np.vectorize(math.erf, otypes=[np.float64])


def erf(x):
    return _erf_v(np.asarray(x, np.float64))


def erfinv(y):
    y = np.asarray(y, np.float64)
    lo, hi = np.full(y.shape, -6.0), np.full(y.shape, 6.0)
    for _ in range(80):
        mid = (lo + hi) / 2
        below = erf(mid) < y
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return (lo + hi) / 2


def gelu(x):
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def frac(x):
    return x - np.trunc(x)


def torch_round(x):
    return np.round(x)


def scatter(x, dim, idx, src, reduce=None):
    out = np.array(x, copy=True)
    key = _scatter_key(idx, dim)
    s = (
        np.broadcast_to(src, idx.shape)
        if np.ndim(src) == 0
        else src[tuple(slice(0, n) for n in idx.shape)]
    )
    if reduce is None:
        out[key] = s
    else:
        {"add": np.add, "sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[
            reduce
        ].at(out, key, s)
    return out


def _scatter_key(idx, dim):
    grids = np.indices(idx.shape, sparse=True)
    return tuple(idx if d == dim else g for d, g in enumerate(grids))


def scatter_reduce(x, dim, idx, src, reduce, include_self=True):
    out = np.array(x, dtype=np.float64, copy=True)
    key = _scatter_key(idx, dim)
    touched = np.zeros(x.shape, bool)
    touched[key] = True
    if not include_self:
        init = {"sum": 0.0, "mean": 0.0, "prod": 1.0, "amax": -np.inf, "amin": np.inf}[reduce]
        out[touched] = init
    s = src[tuple(slice(0, n) for n in idx.shape)]
    if reduce == "mean":
        cnt = np.full(x.shape, 1.0 if include_self else 0.0)
        np.add.at(out, key, s)
        np.add.at(cnt, key, 1.0)
        out = out / np.maximum(cnt, 1)
    else:
        {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce].at(
            out, key, s
        )
    return out


def index_add(x, dim, idx, src, alpha=1):
    out = np.array(x, copy=True)
    np.add.at(np.moveaxis(out, dim, 0), idx, np.moveaxis(src, dim, 0) * alpha)
    return out


def index_copy(x, dim, idx, src):
    out = np.array(x, copy=True)
    np.moveaxis(out, dim, 0)[idx] = np.moveaxis(src, dim, 0)
    return out


def index_fill(x, dim, idx, value):
    out = np.array(x, copy=True)
    np.moveaxis(out, dim, 0)[idx] = value
    return out


def masked_scatter(x, m, src):
    x, m = np.broadcast_arrays(x, m)
    out = np.array(x, copy=True)
    out[m] = src.reshape(-1)[: int(m.sum())]
    return out


def kth(x, k, axis):
    s = np.sort(x, axis)
    i = np.argsort(x, axis, kind="stable")
    return np.take(s, k, axis), np.take(i, k, axis)


def median_dim(x, axis):
    return kth(x, (x.shape[axis] - 1) // 2, axis)


def topk(x, k, axis, largest=True):
    i = np.argsort(-x if largest else x, axis, kind="stable")
    i = np.take(i, np.arange(k), axis)
    return np.take_along_axis(x, i, axis), i


def cummax(x, axis):
    v = np.maximum.accumulate(x, axis)
    idx = np.argmax(
        np.moveaxis(x, axis, -1)[..., None, :] == np.moveaxis(v, axis, -1)[..., :, None], axis=-1
    )
    return v, np.moveaxis(idx, -1, axis)


def mode(x, axis):
    xm = np.moveaxis(x, axis, -1)
    flat = xm.reshape(-1, xm.shape[-1])
    vals = np.empty(flat.shape[0], x.dtype)
    for r, row in enumerate(flat):
        u, c = np.unique(row, return_counts=True)
        vals[r] = u[np.argmax(c)]
    return vals.reshape(xm.shape[:-1])


def norm(x, p, axis=None, keepdims=False):
    a = np.abs(x)
    if p == np.inf:
        return np.max(a, axis=axis, keepdims=keepdims)
    if p == -np.inf:
        return np.min(a, axis=axis, keepdims=keepdims)
    if p == 0:
        return np.sum(a != 0, axis=axis, keepdims=keepdims).astype(x.dtype)
    return np.sum(a**p, axis=axis, keepdims=keepdims) ** (1.0 / p)


def gather(x, idx, axis):
    x = x[tuple(slice(None) if d == axis else slice(0, n) for d, n in enumerate(idx.shape))]
    return np.take_along_axis(x, idx, axis)


def log_softmax(x, axis):
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    s = x - m
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


def softmax(x, axis):
    return np.exp(log_softmax(x, axis))


def logsumexp(x, axis, keepdims=False):
    m = np.max(x, axis=axis, keepdims=True)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis)


def isclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
