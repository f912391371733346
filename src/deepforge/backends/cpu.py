"""CPU backend: storage is a numpy array, compute is numpy/BLAS or the Cython kernels in _core.

Every function here takes and returns numpy arrays (a tensor's ``_data`` is a strided numpy
view of its storage). Checks on shapes, dtypes and devices are done by the dispatch layer;
this module only computes. The OpenCL backend implements the same names.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np

# OpenMP threads that spin between parallel regions fight numpy's OpenBLAS threads (which
# spin too) for the cores: a training step mixing GEMMs and Cython kernels ran 3-5x slower on
# 2 cores. Passive waiting fixes it; it must be set before libgomp loads with _core, and a
# user's own setting wins. (Measured with benchmarks/mlp_step.py.)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    from .. import _core
except ImportError:  # source checkout without a build: numpy fallbacks keep it usable
    _core = None

name = "cpu"
asarray = np.asarray

# numpy reports float exceptions (log(0), 0/0, overflow) as RuntimeWarnings where PyTorch
# silently returns inf/nan. Ignored for calls made from this module only (np.errstate per
# op would cost more than a small op itself).
warnings.filterwarnings("ignore", category=RuntimeWarning, module=re.escape(__name__) + "$")

# ---------------------------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------------------------


def empty(shape, dtype):
    return np.empty(shape, dtype)


def zeros(shape, dtype):
    return np.zeros(shape, dtype)


def full(shape, value, dtype):
    return np.full(shape, value, dtype)


def from_numpy(nd):
    return nd


def to_numpy(x):
    return x


def copy_(dst, src):
    np.copyto(dst, src, casting="unsafe")


def astype(x, dtype):
    return x.astype(dtype)


def clone(x):
    return np.array(x, copy=True, order="K")


def contiguous(x):
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def is_contiguous(x) -> bool:
    return x.flags.c_contiguous


def strides(x) -> tuple:
    item = x.itemsize
    return tuple(s // item for s in x.strides)


def _root(x):
    while isinstance(x.base, np.ndarray):
        x = x.base
    return x


def storage_offset(x) -> int:
    root = _root(x)
    if x.size == 0:
        return 0
    return (x.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // x.itemsize


def storage_nbytes(x) -> int:
    return _root(x).nbytes


def data_ptr(x) -> int:
    return x.__array_interface__["data"][0]


def shares_storage(a, b) -> bool:
    return _root(a) is _root(b)


# ---------------------------------------------------------------------------------------------
# views (all share memory with their input)
# ---------------------------------------------------------------------------------------------


def as_strided(x, shape, strides_, offset):
    root = _root(x)
    flat = root.reshape(-1) if root.flags.c_contiguous else root.ravel(order="K")
    item = x.itemsize
    return np.lib.stride_tricks.as_strided(
        flat[offset:], shape=shape, strides=tuple(s * item for s in strides_)
    )


def reshape_view(x, shape):
    try:
        return np.reshape(x, shape, copy=False)
    except ValueError:
        return None


def reshape(x, shape):
    return np.reshape(x, shape)


def permute(x, dims):
    return x.transpose(dims)


def expand(x, shape):
    return np.broadcast_to(x, shape)


def getitem_basic(x, key):
    # a trailing Ellipsis makes numpy return a 0-d view, never a scalar copy, for int-only keys
    if not any(k is Ellipsis for k in key):
        key = key + (Ellipsis,)
    return x[key]


def diagonal(x, offset, dim1, dim2):
    """A writable strided view of a diagonal (np.diagonal's view is read-only)."""
    xm = np.moveaxis(x, (dim1, dim2), (-2, -1))
    xm = xm[..., :, offset:] if offset >= 0 else xm[..., -offset:, :]
    n = max(0, min(xm.shape[-2], xm.shape[-1]))
    return np.lib.stride_tricks.as_strided(
        xm, xm.shape[:-2] + (n,), xm.strides[:-2] + (xm.strides[-2] + xm.strides[-1],),
        writeable=x.flags.writeable)


# ---------------------------------------------------------------------------------------------
# elementwise
# ---------------------------------------------------------------------------------------------


def _erfinv(x):
    # Giles' single-precision approximation refined by two Newton steps on erf
    from math import sqrt

    x = np.asarray(x, dtype=np.float64)
    w = -np.log((1.0 - x) * (1.0 + x))
    small = w < 5.0
    ws = w - 2.5
    wl = np.sqrt(np.where(small, 5.0, w)) - 3.0
    ps = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):
        ps = c + ps * ws
    pl = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):
        pl = c + pl * wl
    y = np.where(small, ps, pl) * x
    erf = _erf
    two_over_sqrt_pi = 2.0 / sqrt(np.pi)
    for _ in range(2):
        y = y - (erf(y) - x) / (two_over_sqrt_pi * np.exp(-y * y))
    y = np.where(x == 1.0, np.inf, np.where(x == -1.0, -np.inf, y))
    return np.where(np.abs(x) > 1.0, np.nan, y)


def _erf(x):
    try:
        from scipy.special import erf

        return erf(x)
    except ImportError:  # pragma: no cover
        import math

        return np.vectorize(math.erf, otypes=[np.float64])(x)


def _sigmoid(x, dtype):
    out = np.negative(x, dtype=dtype, out=np.empty(x.shape, dtype))  # out=: 0-d stays an array
    np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def _relu(x, dtype):
    return np.maximum(x, 0, dtype=dtype)


def _gelu(x, dtype):
    return (0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))).astype(dtype, copy=False)


def _gelu_tanh(x, dtype):
    inner = np.sqrt(2.0 / np.pi) * (x + 0.044715 * x * x * x)
    return (0.5 * x * (1.0 + np.tanh(inner))).astype(dtype, copy=False)


def _silu(x, dtype):
    s = unary("sigmoid", x, dtype)
    return np.multiply(x, s, out=s, dtype=dtype, casting="unsafe")


def _softplus(x, dtype):
    return np.logaddexp(x, 0, dtype=dtype)


def _rsqrt(x, dtype):
    r = np.sqrt(x, dtype=dtype, out=np.empty(x.shape, dtype))
    return np.reciprocal(r, out=r)


def _frac(x, dtype):
    return np.subtract(x, np.trunc(x), dtype=dtype)


def _round(x, dtype):
    return np.round(x).astype(dtype, copy=False)


_UNARY = {
    "neg": np.negative, "abs": np.abs, "sign": np.sign, "exp": np.exp, "exp2": np.exp2,
    "expm1": np.expm1, "log": np.log, "log2": np.log2, "log10": np.log10, "log1p": np.log1p,
    "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin,
    "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "asinh": np.arcsinh, "acosh": np.arccosh, "atanh": np.arctanh,
    "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "reciprocal": np.reciprocal,
    "square": np.square, "logical_not": np.logical_not, "bitwise_not": np.invert,
    "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite, "signbit": np.signbit,
    "positive": np.positive, "deg2rad": np.deg2rad, "rad2deg": np.rad2deg,
}
_UNARY_PY = {
    "sigmoid": _sigmoid, "relu": _relu, "gelu": _gelu, "gelu_tanh": _gelu_tanh, "silu": _silu,
    "softplus": _softplus, "rsqrt": _rsqrt, "frac": _frac, "round": _round,
    "erf": lambda x, dt: _erf(x).astype(dt, copy=False),
    "erfinv": lambda x, dt: _erfinv(x).astype(dt, copy=False),
}
_NO_DTYPE_ARG = frozenset(("logical_not", "isnan", "isinf", "isfinite", "signbit", "bitwise_not"))


# ops with a threaded, vectorised Cython kernel (float32/float64); numpy's versions are
# single-threaded, and its gelu composition (erf) is far slower
_CORE_UNARY = ("relu", "sigmoid", "tanh", "gelu", "silu", "exp")
_CORE_BACKWARD = ("relu", "gelu", "silu")


def _core_unary(op, x, dtype, out):
    """``op`` through its _core kernel, or None when it does not apply."""
    if dtype == np.float16 and x.size:  # computed in float32 and rounded, as PyTorch does
        return _core_unary(op, x, np.dtype(np.float32), None).astype(np.float16)
    if dtype not in _FLOATS or x.size == 0:
        return None
    xc = np.ascontiguousarray(x, dtype=dtype)
    if out is not None and out.dtype == dtype and out.flags.c_contiguous \
            and not np.shares_memory(out, xc):
        r = out
    else:
        r = np.empty(x.shape, dtype)
    getattr(_core, op)(xc.reshape(-1), r.reshape(-1))
    return r


def unary_grad(op, saved, g):
    """Fused backward of relu (saved: the result) or gelu/silu (saved: the input), or None
    when no kernel applies."""
    if _core is None or op not in _CORE_BACKWARD or saved.dtype not in _FLOATS \
            or g.dtype != saved.dtype or g.shape != saved.shape or g.size == 0:
        return None
    gx = np.empty(saved.shape, saved.dtype)
    getattr(_core, op + "_backward")(
        np.ascontiguousarray(saved).reshape(-1), np.ascontiguousarray(g).reshape(-1), gx.reshape(-1)
    )
    return gx


def unary(op, x, dtype, out=None):
    """Elementwise ``op`` of ``x`` computed and returned in ``dtype``."""
    if _core is not None and op in _CORE_UNARY:
        r = _core_unary(op, x, dtype, out)
        if r is not None:
            if out is not None and r is not out:
                np.copyto(out, r, casting="unsafe")
                return out
            return r
    f = _UNARY.get(op)
    if f is not None:
        if op in _NO_DTYPE_ARG:
            r = f(x)
        elif x.dtype == dtype:
            r = f(x) if out is None else f(x, out=out)
        else:
            r = f(x, dtype=dtype, casting="unsafe")
    else:
        r = _UNARY_PY[op](x, dtype)
    if out is not None:
        if r is not out:
            np.copyto(out, r, casting="unsafe")
        return out
    return r if type(r) is np.ndarray else np.asarray(r)


def _floordiv(a, b, **kw):
    return np.floor_divide(a, b, **kw)


def _pow(a, b, **kw):
    return np.power(a, b, **kw)


_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
    "floordiv": _floordiv, "remainder": np.remainder, "fmod": np.fmod, "pow": _pow,
    "atan2": np.arctan2, "hypot": np.hypot, "maximum": np.maximum, "minimum": np.minimum,
    "fmax": np.fmax, "fmin": np.fmin, "logaddexp": np.logaddexp, "copysign": np.copysign,
    "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor,
    "left_shift": np.left_shift, "right_shift": np.right_shift, "nextafter": np.nextafter,
}
_COMPARE = {
    "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
    "ge": np.greater_equal, "logical_and": np.logical_and, "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
}


def binary(op, a, b, dtype, out=None):
    """``op(a, b)`` with broadcasting; ``a``/``b`` are arrays or Python scalars.

    ``dtype`` is the computation (and result) dtype; comparison/logical ops return bool.
    """
    f = _BINARY.get(op)
    if f is None:
        f = _COMPARE[op]
        if isinstance(a, np.ndarray) and a.dtype != dtype and not isinstance(b, np.ndarray):
            a = a.astype(dtype)
        r = f(a, b) if out is None else f(a, b, out=out)
        return r if type(r) is np.ndarray else np.asarray(r)
    if out is not None:
        if out.dtype == dtype:
            return f(a, b, out=out, dtype=dtype, casting="unsafe")
        r = f(a, b, dtype=dtype, casting="unsafe")
        np.copyto(out, r, casting="unsafe")
        return out
    ad = getattr(a, "dtype", None)
    bd = getattr(b, "dtype", None)
    if (ad is None or ad == dtype) and (bd is None or bd == dtype):
        r = f(a, b)
        if r.dtype != dtype:  # e.g. an int array with a large Python int
            r = r.astype(dtype)
    else:
        r = f(a, b, dtype=dtype, casting="unsafe")
    return r if type(r) is np.ndarray else np.asarray(r)


def where(cond, a, b, dtype, out=None):
    r = np.where(cond, a, b)
    if r.dtype != dtype:
        r = r.astype(dtype)
    if out is not None:
        np.copyto(out, r, casting="unsafe")
        return out
    return r


def clamp(x, lo, hi, dtype, out=None):
    r = np.clip(x, lo, hi, dtype=dtype, casting="unsafe", out=out)
    return r if type(r) is np.ndarray else np.asarray(r)


def lerp(a, b, w, dtype, out=None):
    r = np.add(a, np.multiply(w, np.subtract(b, a, dtype=dtype), dtype=dtype), dtype=dtype)
    if out is not None:
        np.copyto(out, r)
        return out
    return np.asarray(r)


def nan_to_num(x, nan, posinf, neginf):
    return np.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)


# ---------------------------------------------------------------------------------------------
# reductions
# ---------------------------------------------------------------------------------------------


def _as_3d(x, axis):
    """Contiguous (outer, n, inner) view of ``x`` for an axis kernel."""
    x = contiguous(x)
    shape = x.shape
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return x.reshape(outer, shape[axis], inner)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_NUMERIC = _FLOATS + (np.dtype(np.int64),)


def _use_core(x, kinds=_FLOATS) -> bool:
    """Whether a Cython axis kernel applies (built, supported dtype, non-empty)."""
    return _core is not None and x.dtype in kinds and x.size > 0


def _axis3(x, axis):
    """(outer, n, inner) contiguous view and the output shape without ``axis``."""
    x3 = _as_3d(x, axis)
    return x3, x.shape[:axis] + x.shape[axis + 1:]


def _keep(r, axis, keepdim):
    return np.expand_dims(r, axis) if keepdim else r


_REDUCE = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "all": np.all,
           "any": np.any, "mean": np.mean, "nansum": np.nansum, "nanmean": np.nanmean}


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
    outer = int(np.prod(shape[:lo], dtype=np.int64))
    inner = int(np.prod(shape[hi + 1:], dtype=np.int64))
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
    elif op in ("sum", "mean") and x.dtype == dtype and x.flags.c_contiguous \
            and _use_core(x) and (x3 := _span3(x, axes)) is not None:
        # threaded Cython kernel with double accumulators: numpy's sum is single-threaded and its
        # strided (non-last-axis) loop is slow
        r = np.empty((x3.shape[0], x3.shape[2]), dtype)
        (_core.reduce_sum if op == "sum" else _core.reduce_mean)(x3, r)
        kept = tuple(1 if axes is None or d in axes else n for d, n in enumerate(x.shape))
        r = r.reshape(kept if keepdim else tuple(n for d, n in enumerate(x.shape)
                                                 if axes is not None and d not in axes))
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


# ---------------------------------------------------------------------------------------------
# linear algebra
# ---------------------------------------------------------------------------------------------


def matmul(a, b, dtype):
    if a.dtype.kind in "biu" or a.dtype == np.float16:
        r = np.matmul(
            a.astype(np.float64 if a.dtype.kind != "f" else np.float32),
            b.astype(np.float64 if b.dtype.kind != "f" else np.float32),
        )
        return r.astype(dtype)
    r = np.matmul(a, b)
    return r if type(r) is np.ndarray else np.asarray(r)


# ---------------------------------------------------------------------------------------------
# softmax family (fused Cython kernels over (outer, n, inner) when built)
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# indexing
# ---------------------------------------------------------------------------------------------


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
    if (x.ndim and x.flags.c_contiguous and _use_core(x, _NUMERIC) and isinstance(src, np.ndarray)
            and src.dtype == x.dtype and src.shape == idx.shape
            and all(i == n or d == axis for d, (i, n) in enumerate(zip(idx.shape, x.shape)))):
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
    if x.ndim and x.flags.c_contiguous and _use_core(x, _NUMERIC) and src.dtype == x.dtype \
            and src.ndim == x.ndim:
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


# ---------------------------------------------------------------------------------------------
# random numbers: counter-based Philox4x32-10, the same stream as the OpenCL kernels
# ---------------------------------------------------------------------------------------------


def _philox_fallback(seed, offset, n):
    bits = np.random.Generator(np.random.Philox(key=seed, counter=offset)).integers(
        0, 2**32, size=(n, 4), dtype=np.uint64
    )
    return bits.astype(np.uint32)


def random_uniform(shape, dtype, seed, offset):
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(n, dtype if dtype in (np.float32, np.float64) else np.float64)
    if _core is not None:
        _core.philox_uniform(seed, offset, out)
    else:
        r = _philox_fallback(seed, offset, n)
        out[:] = ((r[:, 0] >> 5).astype(np.float64) * 67108864.0 + (r[:, 1] >> 6)) * 2.0**-53
    return out.astype(dtype, copy=False).reshape(shape)


def random_normal(shape, dtype, seed, offset):
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(n, dtype if dtype in (np.float32, np.float64) else np.float64)
    if _core is not None:
        _core.philox_normal(seed, offset, out)
    else:
        r = _philox_fallback(seed, offset, n).astype(np.float64)
        u1 = 1.0 - ((r[:, 0] // 32) * 67108864.0 + r[:, 1] // 64) * 2.0**-53
        u2 = ((r[:, 2] // 32) * 67108864.0 + r[:, 3] // 64) * 2.0**-53
        out[:] = np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)
    return out.astype(dtype, copy=False).reshape(shape)


def random_bits(shape, seed, offset):
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(n, np.uint32)
    if _core is not None:
        _core.philox_bits(seed, offset, out)
    else:
        out[:] = _philox_fallback(seed, offset, n)[:, 0]
    return out.reshape(shape)


def synchronize():
    return None


# ---------------------------------------------------------------------------------------------
# fused optimizer steps (deepforge.ops.fused_optim): False declines, the caller then uses ops
# ---------------------------------------------------------------------------------------------

_OPTIM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _flat_views(*arrays):
    """1-D views of same-dtype C-contiguous float32/float64 arrays (None -> empty), or None."""
    ref = arrays[0]
    if ref.dtype not in _OPTIM_DTYPES:
        return None
    out = []
    for a in arrays:
        if a is None:
            out.append(np.empty(0, ref.dtype))
            continue
        if a.dtype != ref.dtype or not a.flags.c_contiguous:
            return None
        out.append(a.reshape(-1))
    return out


def sgd_momentum_step(
    param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step
):
    fn = getattr(_core, "sgd_momentum_step", None)
    flat = _flat_views(param, grad, buf) if fn is not None else None
    if flat is None or not param.flags.writeable:
        return False
    fn(
        flat[0],
        flat[1],
        flat[2],
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
        first_step,
    )
    return True


def adam_step(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    decoupled,
    amsgrad,
    maximize,
    step,
):
    fn = getattr(_core, "adam_step", None)
    flat = _flat_views(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq) if fn is not None else None
    if flat is None or not param.flags.writeable:
        return False
    fn(*flat, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize, step)
    return True


# ---------------------------------------------------------------------------------------------
# vision layers (deepforge.ops.conv / pooling / normalization): fused kernels, looked up by
# name; the ops fall back to their reference compositions where a backend lacks one.
# Spatial arguments are per-dim tuples of 1-3 entries; _core takes (D, H, W) triples.
# ---------------------------------------------------------------------------------------------

import threading  # noqa: E402


def _t3(t, fill):
    return (fill,) * (3 - len(t)) + tuple(t)


def _planes(x, sp):
    """(N, C, *sp) -> contiguous (N*C, D, H, W)."""
    n = x.shape[0] * x.shape[1]
    return np.ascontiguousarray(x).reshape((n,) + _t3(sp, 1))


def _vol(x, sp):
    """(N, C, *sp) -> contiguous (N, C, D, H, W)."""
    return np.ascontiguousarray(x).reshape(x.shape[:2] + _t3(sp, 1))


def _geom_args(in_sp, k, d, p, s, o):
    return _t3(in_sp, 1), _t3(k, 1), _t3(d, 1), _t3(p, 0), _t3(s, 1), _t3(o, 1)


def im2col(x, in_sp, k, d, p, s, o):
    """(N, C, *in_sp) -> cols (N, C*K, L) (torch.nn.functional.unfold's layout)."""
    N, C = x.shape[:2]
    K, L = int(np.prod(k)), int(np.prod(o))
    cols = np.empty((N, C * K, L), x.dtype)
    _core.im2col(_vol(x, in_sp), cols.reshape(-1), *_geom_args(in_sp, k, d, p, s, o))
    return cols


def col2im(cols, channels, in_sp, k, d, p, s, o):
    """cols (N, C*K, L) -> (N, C, *in_sp), overlapping columns summed."""
    N = cols.shape[0]
    out = np.empty((N, channels) + tuple(in_sp), cols.dtype)
    _core.col2im(
        np.ascontiguousarray(cols).reshape(-1), _vol(out, in_sp), *_geom_args(in_sp, k, d, p, s, o)
    )
    return out


# convolution as one GEMM per chunk of samples: the columns of a chunk are laid out (C*K, n*L)
# in a reused per-thread scratch buffer (no page faults from fresh large allocations), so
# W (O, C*K) @ cols is a single large GEMM even for few output channels.
_SCRATCH = threading.local()
_CHUNK_BYTES = 16 << 20


def _scratch(name, n, dtype):
    bufs = getattr(_SCRATCH, "bufs", None)
    if bufs is None:
        bufs = _SCRATCH.bufs = {}
    key = (name, np.dtype(dtype))
    b = bufs.get(key)
    if b is None or b.size < n:
        b = bufs[key] = np.empty(max(n, 1), dtype)
    return b[:n]


def _chunks(N, per_sample_bytes):
    nb = max(1, min(N, _CHUNK_BYTES // max(per_sample_bytes, 1)))
    return [(n0, min(N, n0 + nb)) for n0 in range(0, N, nb)]


def _identity(k, p, s):
    return all(a == 1 for a in k) and not any(p) and all(a == 1 for a in s)


def _chunk_cols(x, n0, n1, geom, ck, L, name="cols"):
    """Merged columns (C*K, n*L) of samples n0:n1."""
    nb = n1 - n0
    if _identity(geom[1], geom[3], geom[4]) and x.shape[1] == ck:
        return x[n0:n1].reshape(nb, ck, L).transpose(1, 0, 2).reshape(ck, nb * L)
    cols = _scratch(name, ck * nb * L, x.dtype)
    _core.im2col(_vol(x[n0:n1], geom[0]), cols, *_geom_args(*geom), True)
    return cols.reshape(ck, nb * L)


def conv_forward(x, w, bias, groups, in_sp, k, d, p, s, o):
    """y (N, O, *o) = conv(x (N, C, *in_sp), w (O, C/groups, *k)) + bias."""
    x = np.ascontiguousarray(x)
    N, C = x.shape[:2]
    O, G = w.shape[0], groups
    K, L = int(np.prod(k)), int(np.prod(o))
    wg = np.ascontiguousarray(w).reshape(G, O // G, C // G * K)
    y = np.empty((N, O, L), x.dtype)
    geom = (in_sp, k, d, p, s, o)
    for n0, n1 in _chunks(N, C * K * L * x.itemsize):
        nb = n1 - n0
        cols = _chunk_cols(x, n0, n1, geom, C * K, L).reshape(G, C // G * K, nb * L)
        out = _scratch("out", O * nb * L, x.dtype).reshape(G, O // G, nb * L)
        np.matmul(wg, cols, out=out)
        yv = y[n0:n1].transpose(1, 0, 2)
        if bias is not None:
            np.add(out.reshape(O, nb, L), bias.reshape(O, 1, 1), out=yv)
        else:
            np.copyto(yv, out.reshape(O, nb, L))
    return y.reshape((N, O) + tuple(o))


def conv_backward(g, x, w, groups, in_sp, k, d, p, s, o, need_x, need_w):
    """(gx or None, gw or None) of conv_forward for the output gradient g (N, O, *o)."""
    x = np.ascontiguousarray(x)
    N, C = x.shape[:2]
    O, G = w.shape[0], groups
    K, L = int(np.prod(k)), int(np.prod(o))
    CKg, Og = C // G * K, O // G
    wg = np.ascontiguousarray(w).reshape(G, Og, CKg)
    g3 = np.ascontiguousarray(g, dtype=x.dtype).reshape(N, O, L)
    gx = np.empty(x.shape, x.dtype) if need_x else None
    gw = np.zeros((G, Og, CKg), x.dtype) if need_w else None
    geom = (in_sp, k, d, p, s, o)
    ident = _identity(k, p, s)
    wt = wg.transpose(0, 2, 1)
    for n0, n1 in _chunks(N, C * K * L * x.itemsize):
        nb = n1 - n0
        gt = _scratch("gt", O * nb * L, x.dtype).reshape(O, nb, L)
        np.copyto(gt, g3[n0:n1].transpose(1, 0, 2))
        gt = gt.reshape(G, Og, nb * L)
        if need_w:
            cols = _chunk_cols(x, n0, n1, geom, C * K, L).reshape(G, CKg, nb * L)
            gw += np.matmul(gt, cols.transpose(0, 2, 1))
        if need_x:
            gcols = np.matmul(
                wt, gt, out=_scratch("gcols", C * K * nb * L, x.dtype).reshape(G, CKg, nb * L)
            )
            if ident:
                np.copyto(gx[n0:n1].reshape(nb, C, L), gcols.reshape(C, nb, L).transpose(1, 0, 2))
            else:
                _core.col2im(gcols.reshape(-1), _vol(gx[n0:n1], in_sp), *_geom_args(*geom), True)
    return gx, (gw.reshape(w.shape) if need_w else None)


def max_pool(x, in_sp, k, d, p, s, o):
    """Max pooling with indices: (N, C, *in_sp) -> values and flat plane indices (N, C, *o)."""
    N, C = x.shape[:2]
    L = int(np.prod(o))
    y = np.empty((N, C) + tuple(o), x.dtype)
    idx = np.empty((N, C) + tuple(o), np.int64)
    _core.max_pool(
        _planes(x, in_sp),
        y.reshape(N * C, L),
        idx.reshape(N * C, L),
        _t3(in_sp, 1),
        _t3(k, 1),
        _t3(d, 1),
        _t3(p, 0),
        _t3(s, 1),
        _t3(o, 1),
    )
    return y, idx


def max_pool_backward(g, idx, in_sp):
    """gx[n, c, idx[n, c, l]] += g[n, c, l] into zeros (N, C, *in_sp)."""
    N, C = g.shape[:2]
    L, P = int(np.prod(g.shape[2:])), int(np.prod(in_sp))
    out = np.empty((N, C) + tuple(in_sp), g.dtype)
    _core.plane_scatter_add(
        np.ascontiguousarray(g).reshape(N * C, L),
        np.ascontiguousarray(idx, dtype=np.int64).reshape(N * C, L),
        out.reshape(N * C, P),
    )
    return out


def avg_pool(x, in_sp, k, p, s, o, count_include_pad, divisor_override):
    N, C = x.shape[:2]
    y = np.empty((N, C) + tuple(o), x.dtype)
    _core.avg_pool(
        _planes(x, in_sp),
        y.reshape(N * C, -1),
        _t3(in_sp, 1),
        _t3(k, 1),
        _t3(p, 0),
        _t3(s, 1),
        _t3(o, 1),
        bool(count_include_pad),
        int(divisor_override or 0),
    )
    return y


def avg_pool_backward(g, in_sp, k, p, s, o, count_include_pad, divisor_override):
    N, C = g.shape[:2]
    gx = np.empty((N, C) + tuple(in_sp), g.dtype)
    _core.avg_pool_backward(
        np.ascontiguousarray(g).reshape(N * C, -1),
        gx.reshape((N * C,) + _t3(in_sp, 1)),
        _t3(in_sp, 1),
        _t3(k, 1),
        _t3(p, 0),
        _t3(s, 1),
        _t3(o, 1),
        bool(count_include_pad),
        int(divisor_override or 0),
    )
    return gx


def _vec(v, dtype):
    return np.empty(0, dtype) if v is None else np.ascontiguousarray(v, dtype=dtype).reshape(-1)


def batch_norm_train(x, weight, bias, eps):
    """Training batch norm of x (N, C, *): y, batch mean, 1/sqrt(var + eps), biased var (C,)."""
    N, C = x.shape[:2]
    x3 = np.ascontiguousarray(x).reshape(N, C, -1)
    y = np.empty(x.shape, x.dtype)
    mean, invstd, var = (np.empty(C, x.dtype) for _ in range(3))
    w = _vec(weight, x.dtype)
    b = _vec(bias, x.dtype) if weight is not None else w
    if weight is not None and bias is None:
        b = np.zeros(C, x.dtype)
    _core.batch_norm_train(x3, w, b, float(eps), y.reshape(x3.shape), mean, invstd, var)
    return y, mean, invstd, var


def batch_norm_backward(g, x, weight, mean, invstd, train, need_gx):
    """(gx or None, sum(g * xhat), sum(g)) per channel of x (N, C, *)."""
    N, C = x.shape[:2]
    x3 = np.ascontiguousarray(x).reshape(N, C, -1)
    g3 = np.ascontiguousarray(g, dtype=x.dtype).reshape(x3.shape)
    gx = np.empty(x.shape, x.dtype) if need_gx else np.empty((0, 0, 0), x.dtype)
    gw, gb = np.empty(C, x.dtype), np.empty(C, x.dtype)
    _core.batch_norm_backward(
        g3,
        x3,
        _vec(weight, x.dtype),
        _vec(mean, x.dtype),
        _vec(invstd, x.dtype),
        gx.reshape(x3.shape) if need_gx else gx,
        gw,
        gb,
        bool(train),
    )
    return (gx if need_gx else None), gw, gb


def layer_norm(x, weight, bias, eps):
    """Normalise the rows of x (M, D): y, mean (M,), rstd (M,)."""
    M, Dn = x.shape
    x2 = np.ascontiguousarray(x)
    y = np.empty((M, Dn), x.dtype)
    mean, rstd = np.empty(M, x.dtype), np.empty(M, x.dtype)
    _core.layer_norm(x2, _vec(weight, x.dtype), _vec(bias, x.dtype), float(eps), y, mean, rstd)
    return y, mean, rstd


def layer_norm_backward(g, x, weight, mean, rstd, need_gx, need_gwb):
    """(gx or None, column sums of g * xhat, column sums of g) for rows of x (M, D)."""
    M, Dn = x.shape
    gx = np.empty((M, Dn) if need_gx else (0, 0), x.dtype)
    gw = np.empty(Dn if need_gwb else 0, x.dtype)
    gb = np.empty(Dn if need_gwb else 0, x.dtype)
    _core.layer_norm_backward(
        np.ascontiguousarray(g, dtype=x.dtype),
        np.ascontiguousarray(x),
        _vec(weight, x.dtype),
        _vec(mean, x.dtype),
        _vec(rstd, x.dtype),
        gx,
        gw,
        gb,
    )
    return (gx if need_gx else None), (gw if need_gwb else None), (gb if need_gwb else None)


if _core is None or not hasattr(_core, "im2col"):  # unbuilt checkout: the ops' reference paths
    del im2col, col2im, conv_forward, conv_backward, max_pool, max_pool_backward, avg_pool
    del avg_pool_backward
    del batch_norm_train, batch_norm_backward, layer_norm, layer_norm_backward
# ------------------------------------------------------------------ end of vision-layer kernels


# ---------------------------------------------------------------------- recurrent-layer kernels
# One direction of one LSTM / GRU layer over time-major rows: the rows of step t are
# offsets[t]:offsets[t + 1] with batch_sizes[t] rows (non-increasing: packed sequences; equal:
# padded ones).  The input projection x W_ih^T + b is one GEMM over all steps; then each step
# is one small GEMM and one fused pointwise kernel (_core_rnn.pxi).  The recurrent product
# is computed as W_hh h^T (G, bs): for a small batch that GEMM shape runs about twice as fast in
# OpenBLAS as h W_hh^T, and the kernels read it transposed.  States live in (B, .) buffers
# updated in place: a shorter step updates its first rows and leaves the others (their final
# states, or the initial ones going backwards in time).  The backward pass runs the steps in
# reverse and forms the weight gradients with one GEMM over all steps.
#
# A step's GEMM is small (batch x hidden): OpenBLAS's threads cost more to wake than they save
# there, and on a loaded machine they collapse (a 20x256x1024 GEMM measured 55 ms on 2 threads
# against 0.6 ms on one; a 700x256x1024 one 16-28 ms against 3.9 ms).  A layer whose step GEMM
# is below _SERIAL_STEP_MACS therefore runs all its GEMMs, the input projection and the
# weight gradients included, on one BLAS thread when threadpoolctl is installed to switch it.
_SERIAL_STEP_MACS = 1 << 24
_blas_ctl: list = []


def _blas_controllers():
    if not _blas_ctl:
        try:
            from threadpoolctl import ThreadpoolController

            _blas_ctl.append(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:  # threadpoolctl missing or unable to see the BLAS: leave it alone
            _blas_ctl.append([])
    return _blas_ctl[0]


def _serial_blas(step_macs):
    """Switch numpy's BLAS to one thread for a loop of small GEMMs; returns the restore list."""
    if step_macs >= _SERIAL_STEP_MACS:
        return []
    saved = []
    for c in _blas_controllers():
        n = c.get_num_threads()
        if n and n > 1:
            c.set_num_threads(1)
            saved.append((c, n))
    return saved


def _restore_blas(saved):
    for c, n in saved:
        c.set_num_threads(n)


def _rnn_steps(batch_sizes, reverse):
    offs = [0]
    for bs in batch_sizes:
        offs.append(offs[-1] + bs)
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    return [(offs[t], offs[t + 1]) for t in order]


def _project(x, w_ih, b):
    """x W_ih^T (+ b): the input gates of every step, one GEMM."""
    xw = np.matmul(x, w_ih.T)
    if b is not None:
        xw += b
    return xw


def _input_grads(dg, x, w_ih, need_dx):
    """(d x or None, d W_ih, d b) from the gate gradients dg (N, G) of xw = x W_ih^T + b."""
    return (dg @ w_ih if need_dx else None), dg.T @ x, dg.sum(0)


def lstm_layer_forward(x, w_ih, b, w_hh, w_hr, h0, c0, batch_sizes, reverse):
    """x (N, I) rows of every step, w_ih (4H, I), b (4H,) = b_ih + b_hh or None, w_hh (4H, P),
    w_hr (P, H) or None, h0 (B, P), c0 (B, H) -> output (N, P), h_n, c_n and the arrays the
    backward needs."""
    dt = x.dtype
    N, G = x.shape[0], w_ih.shape[0]
    H, P, B = G // 4, h0.shape[1], h0.shape[0]
    h, c = np.array(h0, dt, order="C"), np.array(c0, dt, order="C")
    act, hg = np.empty((N, G), dt), np.empty(B * G, dt)
    cprev, cnew, hprev, out = (np.empty((N, n), dt) for n in (H, H, P, P))
    hraw = np.empty((N, H), dt) if w_hr is not None else None
    no_rows = np.empty((0, H), dt)
    whr_t = w_hr.T if w_hr is not None else None
    step, matmul = _core.lstm_cell_forward, np.matmul
    blas = _serial_blas(B * G * P)
    try:
        xw = _project(x, w_ih, b)
        for r0, r1 in _rnn_steps(batch_sizes, reverse):
            bs = r1 - r0
            hp = h[:bs]
            hprev[r0:r1] = hp
            hgt = hg[: G * bs].reshape(G, bs)
            matmul(w_hh, hp.T, out=hgt)
            if hraw is None:
                step(xw[r0:r1], hgt, c[:bs], act[r0:r1], cprev[r0:r1], cnew[r0:r1], out[r0:r1], hp)
            else:
                hr = hraw[r0:r1]
                step(xw[r0:r1], hgt, c[:bs], act[r0:r1], cprev[r0:r1], cnew[r0:r1], hr, no_rows)
                matmul(hr, whr_t, out=out[r0:r1])
                hp[...] = out[r0:r1]
    finally:
        _restore_blas(blas)
    return out, h, c, (act, cprev, cnew, hprev, hraw)


def lstm_layer_backward(dout, dh_n, dc_n, x, w_ih, w_hh, w_hr, saved, batch_sizes, reverse,
                        need_dx):
    """Gradients of ``lstm_layer_forward`` from those of its output (N, P), h_n and c_n:
    (d x or None, d w_ih, d b, d w_hh, d w_hr or None, d h0, d c0)."""
    act, cprev, cnew, hprev, hraw = saved
    dt = act.dtype
    N, G = act.shape
    H, B = G // 4, dh_n.shape[0]
    dout = np.ascontiguousarray(dout, dt)
    dh, dc = np.array(dh_n, dt, order="C"), np.array(dc_n, dt, order="C")
    dg = np.empty((N, G), dt)
    no_rows = np.empty((0, H), dt)
    dhs = np.empty(dout.shape, dt) if hraw is not None else None
    dhh = np.empty((B, H), dt) if hraw is not None else None
    step, matmul = _core.lstm_cell_backward, np.matmul
    blas = _serial_blas(B * G * dh.shape[1])
    try:
        for r0, r1 in reversed(_rnn_steps(batch_sizes, reverse)):
            bs = r1 - r0
            saved_rows = (act[r0:r1], cnew[r0:r1], cprev[r0:r1], dg[r0:r1])
            if dhs is None:
                step(dh[:bs], dout[r0:r1], dc[:bs], *saved_rows)
            else:
                np.add(dh[:bs], dout[r0:r1], out=dhs[r0:r1])
                matmul(dhs[r0:r1], w_hr, out=dhh[:bs])
                step(dhh[:bs], no_rows, dc[:bs], *saved_rows)
            matmul(dg[r0:r1], w_hh, out=dh[:bs])
        dw_hh = dg.T @ hprev
        dw_hr = dhs.T @ hraw if dhs is not None else None
        dx, dw_ih, db = _input_grads(dg, x, w_ih, need_dx)
    finally:
        _restore_blas(blas)
    return dx, dw_ih, db, dw_hh, dw_hr, dh, dc


def gru_layer_forward(x, w_ih, b_ih, w_hh, b_hh, h0, batch_sizes, reverse):
    """x (N, I) rows of every step, w_ih (3H, I), b_ih (3H,) or None, w_hh (3H, H), b_hh (3H,)
    or None, h0 (B, H) -> output (N, H), h_n and the arrays the backward needs."""
    dt = x.dtype
    N, G = x.shape[0], w_ih.shape[0]
    H, B = G // 3, h0.shape[0]
    h = np.array(h0, dt, order="C")
    act, hg = np.empty((N, 4 * H), dt), np.empty(B * G, dt)
    hprev, out = np.empty((N, H), dt), np.empty((N, H), dt)
    bhh = np.ascontiguousarray(b_hh, dt) if b_hh is not None else np.empty(0, dt)
    step, matmul = _core.gru_cell_forward, np.matmul
    blas = _serial_blas(B * G * H)
    try:
        xw = _project(x, w_ih, b_ih)
        for r0, r1 in _rnn_steps(batch_sizes, reverse):
            bs = r1 - r0
            hgt = hg[: G * bs].reshape(G, bs)
            matmul(w_hh, h[:bs].T, out=hgt)
            step(xw[r0:r1], hgt, bhh, h[:bs], act[r0:r1], hprev[r0:r1], out[r0:r1])
    finally:
        _restore_blas(blas)
    return out, h, (act, hprev)


def gru_layer_backward(dout, dh_n, x, w_ih, w_hh, saved, batch_sizes, reverse, need_dx):
    """Gradients of ``gru_layer_forward`` from those of its output (N, H) and h_n:
    (d x or None, d w_ih, d b_ih, d w_hh, d b_hh, d h0)."""
    act, hprev = saved
    dt = act.dtype
    N, H = hprev.shape
    dout = np.ascontiguousarray(dout, dt)
    dh = np.array(dh_n, dt, order="C")
    dgx, dgh = np.empty((N, 3 * H), dt), np.empty((N, 3 * H), dt)
    direct = np.empty(dh.shape, dt)
    step, matmul = _core.gru_cell_backward, np.matmul
    blas = _serial_blas(dh.shape[0] * 3 * H * H)
    try:
        for r0, r1 in reversed(_rnn_steps(batch_sizes, reverse)):
            bs = r1 - r0
            rows = (act[r0:r1], hprev[r0:r1], dgx[r0:r1], dgh[r0:r1])
            step(dh[:bs], dout[r0:r1], *rows, direct[:bs])
            matmul(dgh[r0:r1], w_hh, out=dh[:bs])
            dh[:bs] += direct[:bs]
        dw_hh, db_hh = dgh.T @ hprev, dgh.sum(0)
        dx, dw_ih, db_ih = _input_grads(dgx, x, w_ih, need_dx)
    finally:
        _restore_blas(blas)
    return dx, dw_ih, db_ih, dw_hh, db_hh, dh


if _core is None or not hasattr(_core, "lstm_cell_forward"):  # unbuilt: per-step reference path
    del lstm_layer_forward, lstm_layer_backward, gru_layer_forward, gru_layer_backward
# ----------------------------------------------------------------- end of recurrent-layer kernels
