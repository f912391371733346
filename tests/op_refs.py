"""Input generators and numpy reference implementations used by the op-spec table."""

from __future__ import annotations

import math

import numpy as np

# -- input generators ---------------------------------------------------------------------------
# name -> (float sampler, int sampler); each sampler is (rng, shape) -> ndarray


def _u(lo, hi):
    return lambda rng, s: rng.uniform(lo, hi, s)


def _i(lo, hi):
    return lambda rng, s: rng.integers(lo, hi, s)


def _signed(f):
    return lambda rng, s: f(rng, s) * rng.choice([-1, 1], s)


def _distinct(rng, s):
    """Values at least 4/n apart (no ties, so max/sort/kinks are well defined for gradcheck)."""
    n = math.prod(s)
    v = (rng.permutation(n) + rng.uniform(0.1, 0.4, n)) * (4.0 / max(n, 1)) - 2.0
    return v.reshape(s)


def _distinct_int(rng, s):
    n = math.prod(s)
    return (rng.permutation(n) - n // 2).reshape(s)


def _with_zeros(f):
    def g(rng, s):
        v = f(rng, s)
        return np.where(rng.random(s) < 0.3, 0, v)

    return g


def _special(rng, s):
    v = rng.uniform(-2, 2, s)
    pick = rng.random(s)
    v = np.where(pick < 0.15, np.nan, v)
    v = np.where((pick >= 0.15) & (pick < 0.25), np.inf, v)
    return np.where((pick >= 0.25) & (pick < 0.35), -np.inf, v)


def _nanreal(rng, s):
    v = rng.uniform(-2, 2, s)
    return np.where(rng.random(s) < 0.2, np.nan, v)


GENS = {
    "real": (_u(-2, 2), _i(-4, 5)),
    "pos": (_u(0.5, 2), _i(1, 5)),
    "unit": (_u(-0.9, 0.9), _i(0, 1)),
    "gt1": (_u(1.2, 3), _i(2, 5)),
    "nonzero": (_signed(_u(0.5, 2)), _signed(_i(1, 5))),
    "away0": (_signed(_u(0.1, 2)), _i(-4, 5)),
    "distinct": (_distinct, _distinct_int),
    "zeros": (_with_zeros(_u(-2, 2)), _with_zeros(_i(-4, 5))),
    "special": (_special, _i(-4, 5)),
    "nanreal": (_nanreal, _i(-4, 5)),
    "prob": (_u(0.05, 0.95), None),
    "shift": (None, _i(0, 4)),
    "small": (_u(-1, 1), _i(0, 3)),
}


def sample(gen: str, shape, dtype: str, rng) -> np.ndarray:
    return np.asarray(_sample(gen, shape, dtype, rng))


def _sample(gen, shape, dtype, rng):
    fgen, igen = GENS[gen]
    if dtype == "bool":
        return rng.random(shape) < 0.5
    np_dtype = np.dtype(dtype)
    if np_dtype.kind == "f":
        return fgen(rng, shape).astype(np_dtype)
    v = igen(rng, shape)
    if np_dtype.kind == "u":
        v = np.abs(v)
    return v.astype(np_dtype)


# generators for fixed (non-differentiable) inputs: (rng, shape, shapes) -> ndarray
def index_for(src: int, dim: int, unique: bool = False):
    """int64 indices valid for dimension ``dim`` of input ``src`` (unique along ``dim``)."""

    def g(rng, shape, shapes):
        n = shapes[src][dim] if shapes[src] else 1
        if not unique:
            return rng.integers(0, n, shape).astype(np.int64)
        d = min(dim, len(shape) - 1)
        if not shape:
            return np.array(rng.integers(0, n), np.int64)
        moved = np.moveaxis(np.empty(shape, np.int64), d, -1)
        flat = moved.reshape(-1, moved.shape[-1])
        for r in range(flat.shape[0]):
            flat[r] = rng.permutation(n)[: moved.shape[-1]]
        return np.moveaxis(flat.reshape(moved.shape), -1, d)

    return g


def mask(rng, shape, shapes):
    return rng.random(shape) < 0.5


def const(value):
    return lambda rng, shape, shapes: np.asarray(value)


# -- numpy references ---------------------------------------------------------------------------
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
    s = np.broadcast_to(src, idx.shape) if np.ndim(src) == 0 else src[tuple(slice(0, n) for n in idx.shape)]
    if reduce is None:
        out[key] = s
    else:
        {"add": np.add, "sum": np.add, "prod": np.multiply, "amax": np.maximum,
         "amin": np.minimum}[reduce].at(out, key, s)
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
        {"sum": np.add, "prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce].at(out, key, s)
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
    idx = np.argmax(np.moveaxis(x, axis, -1)[..., None, :] ==
                    np.moveaxis(v, axis, -1)[..., :, None], axis=-1)
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
    return np.sum(a ** p, axis=axis, keepdims=keepdims) ** (1.0 / p)


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
