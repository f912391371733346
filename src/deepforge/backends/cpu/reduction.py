"""Reductions, scans, sorting, matmul and the softmax family (fused Cython kernels over
(outer, n, inner) when built)."""

from __future__ import annotations

import math

import numpy as np

from ._common import _NUMERIC, _as_3d, _axis3, _core, _keep, _use_core

__all__ = [
    "reduce",
    "var",
    "argreduce",
    "max_min_dim",
    "logsumexp",
    "cumulative",
    "cum_extreme",
    "sort",
    "topk",
    "matmul",
    "matmul_bias",
    "softmax",
    "log_softmax",
    "softmax_backward",
    "log_softmax_backward",
]


_REDUCE = {
    "sum": np.sum,
    "prod": np.prod,
    "max": np.max,
    "min": np.min,
    "all": np.all,
    "any": np.any,
    "mean": np.mean,
    "nansum": np.nansum,
    "nanmean": np.nanmean,
}


# below this many elements a sum/mean goes straight to numpy (the Cython kernel's memoryview
# setup costs a few microseconds; its threads only pay from about 2M elements)
_SMALL_REDUCE = 4096


def _span3(x, axes):
    """(outer, n, inner) view of C-contiguous ``x`` when ``axes`` (None = all) is one run of
    adjacent dims, else None."""
    if axes is None:
        return x.reshape(1, x.size, 1)
    if not axes:
        return None
    lo, hi = min(axes), max(axes)
    if hi - lo + 1 != len(axes):
        return None
    shape = x.shape
    outer = math.prod(shape[:lo])  # math.prod: np.prod costs ~5 us per call on a tuple
    inner = math.prod(shape[hi + 1 :])
    return x.reshape(outer, x.size // max(outer * inner, 1), inner)


def reduce(op, x, axes, keepdim, dtype):
    """Reduce ``x`` over ``axes`` (a tuple, or None for all) in ``dtype``."""
    f = _REDUCE[op]
    if op in ("all", "any"):
        r = f(x, axis=axes, keepdims=keepdim)
    elif op in ("max", "min"):
        r = f(x, axis=axes, keepdims=keepdim)
        if r.dtype != dtype:
            r = r.astype(dtype)
    elif op in ("sum", "mean") and x.size < _SMALL_REDUCE:
        # small inputs: the ndarray method skips np.sum's wrapper and the kernel's setup
        # (a float16 mean without dtype= accumulates in float32, as the kernel path does)
        kw = {} if op == "mean" and x.dtype == dtype else {"dtype": dtype}
        r = (x.sum if op == "sum" else x.mean)(axis=axes, keepdims=keepdim, **kw)
    elif (
        op in ("sum", "mean")
        and x.dtype == dtype
        and x.flags.c_contiguous
        and _use_core(x)
        and (x3 := _span3(x, axes)) is not None
    ):
        # threaded Cython kernel with double accumulators: numpy's sum is single-threaded and its
        # strided (non-last-axis) loop is slow
        r = np.empty((x3.shape[0], x3.shape[2]), dtype)
        (_core.reduce_sum if op == "sum" else _core.reduce_mean)(x3, r)
        kept = tuple(1 if axes is None or d in axes else n for d, n in enumerate(x.shape))
        r = r.reshape(
            kept
            if keepdim
            else tuple(n for d, n in enumerate(x.shape) if axes is not None and d not in axes)
        )
    else:
        r = f(x, axis=axes, keepdims=keepdim, dtype=dtype)
    return r if type(r) is np.ndarray else np.asarray(r)


def var(x, axes, correction, keepdim, dtype):
    if axes is not None and len(axes) == 1 and _use_core(x) and x.dtype == dtype and x.ndim:
        x3, shp = _axis3(x, axes[0])
        out = np.empty((x3.shape[0], x3.shape[2]), x.dtype)
        _core.reduce_var(x3, out, float(correction))
        return _keep(out.reshape(shp), axes[0], keepdim)
    r = np.var(x, axis=axes, ddof=correction, keepdims=keepdim, dtype=dtype)
    return np.asarray(r).astype(dtype, copy=False)


def argreduce(op, x, axis, keepdim):
    if axis is not None and x.ndim and _use_core(x):
        # Cython: first NaN wins for both, like torch; no NaN pre-pass needed
        x3, shp = _axis3(x, axis)
        out = np.empty((x3.shape[0], x3.shape[2]), np.int64)
        (_core.argmax if op == "argmax" else _core.argmin)(x3, out)
        return _keep(out.reshape(shp), axis, keepdim)
    f = np.argmax if op == "argmax" else np.argmin
    if x.dtype.kind == "f" and axis is not None and x.size and np.isnan(x).any():
        # torch: NaN is the extreme value for both argmax and argmin
        r = np.argmax(np.isnan(x), axis=axis)
        has = np.isnan(x).any(axis=axis)
        r = np.where(has, r, f(np.where(np.isnan(x), 0, x), axis=axis))
    else:
        r = f(x, axis=axis)
    r = np.asarray(r, dtype=np.int64)
    if keepdim and axis is not None:
        r = np.expand_dims(r, axis)
    elif keepdim:
        r = r.reshape((1,) * x.ndim)
    return r


def max_min_dim(op, x, axis, keepdim):
    idx = argreduce("argmax" if op == "max" else "argmin", x, axis, True)
    vals = np.take_along_axis(x, idx, axis)
    if not keepdim:
        vals = np.squeeze(vals, axis)
        idx = np.squeeze(idx, axis)
    return vals, idx


def logsumexp(x, axes, keepdim):
    if axes is not None and len(axes) == 1 and x.ndim and _use_core(x):
        x3, shp = _axis3(x, axes[0])
        out = np.empty((x3.shape[0], x3.shape[2]), x.dtype)
        _core.logsumexp(x3, out)
        return _keep(out.reshape(shp), axes[0], keepdim)
    m = np.max(x, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    r = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
    if not keepdim:
        r = np.squeeze(r, axis=axes)
    return np.asarray(r, dtype=x.dtype)


def cumulative(op, x, axis, dtype):
    # float16/float32 scans accumulate in float64, as PyTorch's CPU kernels do (a running sum
    # in float32 drifts by ~sqrt(n) ulps)
    if x.ndim and x.dtype == dtype and _use_core(x, _NUMERIC):
        # Cython scan: float32 accumulates in double like torch, and is much faster on axis 0
        x3 = _as_3d(x, axis)
        out = np.empty_like(x3)
        (_core.cumsum if op == "cumsum" else _core.cumprod)(x3, out)
        return out.reshape(x.shape)
    acc = np.float64 if np.dtype(dtype) in (np.float16, np.float32) else dtype
    f = {"cumsum": np.cumsum, "cumprod": np.cumprod}[op]
    r = f(x, axis=axis, dtype=acc)
    return r if r.dtype == dtype else r.astype(dtype)


def cum_extreme(op, x, axis):
    """cummax/cummin: values and the index of the latest extreme (torch's tie rule)."""
    if x.ndim and _use_core(x, _NUMERIC):
        x3 = _as_3d(x, axis)
        vals = np.empty_like(x3)
        idx = np.empty(x3.shape, np.int64)
        (_core.cummax if op == "cummax" else _core.cummin)(x3, vals, idx)
        return vals.reshape(x.shape), idx.reshape(x.shape)
    xm = np.moveaxis(x, axis, -1)
    n = xm.shape[-1]
    acc = np.maximum if op == "cummax" else np.minimum
    vals = acc.accumulate(xm, axis=-1)
    hit = xm == vals
    if xm.dtype.kind == "f":
        nan = np.isnan(xm)
        seen_nan = np.logical_or.accumulate(nan, axis=-1)
        hit = hit | (nan & seen_nan)
        vals = np.where(seen_nan, np.nan, vals)
        hit = np.where(seen_nan, nan, hit)
    pos = np.where(hit, np.arange(n), -1)
    idx = np.maximum.accumulate(pos, axis=-1)
    return np.moveaxis(vals, -1, axis).astype(x.dtype), np.moveaxis(idx, -1, axis).astype(np.int64)


def sort(x, axis, descending, stable):
    if descending:
        if x.dtype.kind == "b":
            key = ~x
        elif x.dtype.kind == "u":
            key = np.iinfo(x.dtype).max - x
        elif x.dtype.kind == "f":
            key = np.negative(x)
            key = np.where(np.isnan(x), -np.inf, key)  # NaN sorts first when descending
        else:
            key = -x.astype(np.int64) if x.dtype != np.int64 else np.negative(x)
        idx = np.argsort(key, axis=axis, kind="stable")
    else:
        idx = np.argsort(x, axis=axis, kind="stable")
    return np.take_along_axis(x, idx, axis), idx.astype(np.int64, copy=False)


def topk(x, k, axis, largest, sorted_):
    vals, idx = sort(x, axis, largest, True)
    sl = [slice(None)] * x.ndim
    sl[axis] = slice(0, k)
    sl = tuple(sl)
    return np.ascontiguousarray(vals[sl]), np.ascontiguousarray(idx[sl])


def matmul(a, b, dtype):
    if a.dtype.kind in "biu" or a.dtype == np.float16:
        r = np.matmul(
            a.astype(np.float64 if a.dtype.kind != "f" else np.float32),
            b.astype(np.float64 if b.dtype.kind != "f" else np.float32),
        )
        return r.astype(dtype)
    r = np.matmul(a, b)
    return r if type(r) is np.ndarray else np.asarray(r)


def matmul_bias(a, b, bias, dtype):
    """``a @ b + bias`` for 2-D ``a``, ``b`` and a (N,) ``bias``, added in place."""
    r = matmul(a, b, dtype)
    np.add(r, bias, out=r, casting="unsafe")
    return r


def _axis_kernel(kernel, x, axis, *extra):
    x3 = _as_3d(x, axis)
    out = np.empty_like(x3)
    kernel(x3, *[_as_3d(e, axis) for e in extra], out)
    return out.reshape(x.shape)


def softmax(x, axis):
    if x.size == 0:
        return np.empty_like(x)
    if _core is not None and x.dtype.kind == "f" and x.dtype != np.float16 and x.size:
        return _axis_kernel(_core.softmax, x, axis)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(x, axis):
    if x.size == 0:
        return np.empty_like(x)
    if _core is not None and x.dtype.kind == "f" and x.dtype != np.float16 and x.size:
        return _axis_kernel(_core.log_softmax, x, axis)
    s = x - np.max(x, axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def softmax_backward(y, gy, axis):
    if _core is not None and y.dtype.kind == "f" and y.dtype != np.float16 and y.size:
        return _axis_kernel(_core.softmax_backward, y, axis, gy.astype(y.dtype, copy=False))
    return y * (gy - (gy * y).sum(axis=axis, keepdims=True))


def log_softmax_backward(y, gy, axis):
    if _core is not None and y.dtype.kind == "f" and y.dtype != np.float16 and y.size:
        return _axis_kernel(_core.log_softmax_backward, y, axis, gy.astype(y.dtype, copy=False))
    return gy - np.exp(y) * gy.sum(axis=axis, keepdims=True)
