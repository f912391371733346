"""Elementwise ops: numpy ufuncs, and the threaded _core kernels where benchmarks show they win."""

from __future__ import annotations

import numpy as np

from . import special_math as _special
from ._common import _FLOATS, _core

__all__ = ["unary_grad", "unary", "binary", "where", "clamp", "lerp", "nan_to_num"]


def _erfinv(x):
    # Giles' single-precision approximation refined by two Newton steps on erf
    from math import sqrt

    x = np.asarray(x, dtype=np.float64)
    w = -np.log((1.0 - x) * (1.0 + x))
    small = w < 5.0
    ws = w - 2.5
    wl = np.sqrt(np.where(small, 5.0, w)) - 3.0
    ps = 2.81022636e-08
    for c in (
        3.43273939e-07,
        -3.5233877e-06,
        -4.39150654e-06,
        0.00021858087,
        -0.00125372503,
        -0.00417768164,
        0.246640727,
        1.50140941,
    ):
        ps = c + ps * ws
    pl = -0.000200214257
    for c in (
        0.000100950558,
        0.00134934322,
        -0.00367342844,
        0.00573950773,
        -0.0076224613,
        0.00943887047,
        1.00167406,
        2.83297682,
    ):
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
    "neg": np.negative,
    "abs": np.abs,
    "sign": np.sign,
    "exp": np.exp,
    "exp2": np.exp2,
    "expm1": np.expm1,
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "floor": np.floor,
    "ceil": np.ceil,
    "trunc": np.trunc,
    "reciprocal": np.reciprocal,
    "square": np.square,
    "logical_not": np.logical_not,
    "bitwise_not": np.invert,
    "isnan": np.isnan,
    "isinf": np.isinf,
    "isfinite": np.isfinite,
    "signbit": np.signbit,
    "positive": np.positive,
    "deg2rad": np.deg2rad,
    "rad2deg": np.rad2deg,
}
_UNARY_PY = {
    "sigmoid": _sigmoid,
    "relu": _relu,
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
    "silu": _silu,
    "softplus": _softplus,
    "rsqrt": _rsqrt,
    "frac": _frac,
    "round": _round,
    "erf": lambda x, dt: _erf(x).astype(dt, copy=False),
    "erfinv": lambda x, dt: _erfinv(x).astype(dt, copy=False),
    **{
        name: (lambda f: lambda x, dt: f(x).astype(dt, copy=False))(getattr(_special, name))
        for name in ("lgamma", "digamma", "erfc", "i0", "i0e", "i1", "i1e")
    },
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
    if (
        out is not None
        and out.dtype == dtype
        and out.flags.c_contiguous
        and not np.shares_memory(out, xc)
    ):
        r = out
    else:
        r = np.empty(x.shape, dtype)
    getattr(_core, op)(xc.reshape(-1), r.reshape(-1))
    return r


def unary_grad(op, saved, g):
    """Fused backward of relu (saved: the result) or gelu/silu (saved: the input), or None
    when no kernel applies."""
    if (
        _core is None
        or op not in _CORE_BACKWARD
        or saved.dtype not in _FLOATS
        or g.dtype != saved.dtype
        or g.shape != saved.shape
        or g.size == 0
    ):
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


def _zeta(a, b, out=None, dtype=None, casting=None):
    r = _special.zeta(a, b).astype(dtype or np.result_type(a, b), copy=False)
    if out is not None:
        np.copyto(out, r, casting="unsafe")
        return out
    return r


def _floordiv(a, b, **kw):
    return np.floor_divide(a, b, **kw)


def _pow(a, b, **kw):
    b = np.asarray(b)
    if b.dtype.kind in "iu" and np.asarray(a).dtype.kind in "iu" and (b < 0).any():
        # PyTorch's integer power for a negative exponent: 1 ** b = 1, (-1) ** b = +-1, else 0
        # (numpy refuses it)
        neg = b < 0
        r = np.power(a, np.where(neg, 0, b), **kw)
        odd = np.where((b & 1) == 1, -1, 1)
        special = np.where(a == 1, 1, np.where(a == -1, odd, 0)).astype(r.dtype)
        np.copyto(r, special, where=neg)
        return r
    return np.power(a, b, **kw)


_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "floordiv": _floordiv,
    "remainder": np.remainder,
    "fmod": np.fmod,
    "pow": _pow,
    "gcd": np.gcd,
    "atan2": np.arctan2,
    "hypot": np.hypot,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "fmax": np.fmax,
    "fmin": np.fmin,
    "logaddexp": np.logaddexp,
    "copysign": np.copysign,
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
    "left_shift": np.left_shift,
    "right_shift": np.right_shift,
    "nextafter": np.nextafter,
    "zeta": _zeta,
}
_COMPARE = {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
}


# large contiguous add/sub/mul: threaded _core loops (numpy's are single-threaded).  A serial
# _core loop is no faster than numpy's, and threads pay only from _core's PAR_MIN (2M) elements
_CORE_BINARY = frozenset(("add", "sub", "mul"))
_CORE_BINARY_MIN = 1 << 21


def _core_binary(op, a, b, dtype, out):
    """``a op b`` through _core for a large contiguous array and a same-shape array or a
    Python scalar; None when that does not apply."""
    if not isinstance(a, np.ndarray):
        if op == "sub":
            op = "rsub"
        a, b = b, a
    if (
        not isinstance(a, np.ndarray)
        or a.dtype != dtype
        or a.size < _CORE_BINARY_MIN
        or not a.flags.c_contiguous
        or _core.num_threads() < 2
    ):
        return None
    if isinstance(b, np.ndarray):
        if op == "rsub" or b.shape != a.shape or b.dtype != dtype or not b.flags.c_contiguous:
            return None
    elif type(b) not in (int, float) or (type(b) is int and abs(b) > 1 << 53):
        return None
    if out is None:
        out = np.empty(a.shape, dtype)
    elif out.shape != a.shape or out.dtype != dtype or not out.flags.c_contiguous or (
        not _same_buffer(out, a) and np.may_share_memory(out, a)
    ) or (isinstance(b, np.ndarray) and not _same_buffer(out, b) and np.may_share_memory(out, b)):
        return None
    if isinstance(b, np.ndarray):
        _core.binary(op, a.reshape(-1), b.reshape(-1), out.reshape(-1))
    else:
        _core.binary_scalar(op, a.reshape(-1), b, out.reshape(-1))
    return out


def _same_buffer(x, y):
    return x.__array_interface__["data"][0] == y.__array_interface__["data"][0]


def binary(op, a, b, dtype, out=None):
    """``op(a, b)`` with broadcasting; ``a``/``b`` are arrays or Python scalars.

    ``dtype`` is the computation (and result) dtype; comparison/logical ops return bool.
    """
    if op in _CORE_BINARY and _core is not None and dtype in _FLOATS:
        r = _core_binary(op, a, b, dtype, out)
        if r is not None:
            return r
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
