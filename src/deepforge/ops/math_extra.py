"""Numerical utilities: integration, covariance, norms of rows, float decomposition, integer
gcd/lcm, and PyTorch's aliases (arccos, absolute, fix, ...).

All are compositions of existing differentiable ops, so they run on every backend and get
gradients where PyTorch's versions have them; the integer-valued ones (gcd, frexp's exponent)
and heaviside, which PyTorch does not differentiate, are computed without a graph.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections import namedtuple

from .. import _dtype as dt
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from . import _dispatch as D
from . import binary, linalg, reduction, shape, unary
from ._common import check_inplace, commit_inplace, wrap_dim
from .shape_extra import triu_indices

__all__ = [
    "heaviside", "trapezoid", "trapz", "cumulative_trapezoid", "cov", "corrcoef", "renorm",
    "dist", "pdist", "frexp", "ldexp", "ldexp_", "nextafter", "gcd", "gcd_", "lcm", "lcm_",
    "sgn", "absolute", "negative", "negative_", "fix", "fix_", "arccos", "arccos_", "arcsin",
    "arcsin_", "arctan", "arctan_", "arccosh", "arccosh_", "arcsinh", "arcsinh_", "arctanh",
    "arctanh_", "addr",
]  # fmt: skip


def _inplace(name: str, fn):
    """``x.name_(...)``: ``fn(x, ...)`` computed out of place and written back into x."""

    def op_(self: Tensor, *args, **kwargs) -> Tensor:
        check_inplace(self, name)
        return commit_inplace(self, lambda: fn(self, *args, **kwargs))

    op_.__name__ = name
    return op_


def _type_name(t: Tensor) -> str:
    return dt.scalar_type_name(t._dtype)


def heaviside(input: Tensor, values) -> Tensor:
    """0 where input < 0, ``values`` where input == 0, 1 where input > 0 (not differentiable,
    as in PyTorch)."""
    if not isinstance(values, Tensor) or values._dtype is not input._dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    with no_grad():
        step = (input > 0).to(input._dtype)
        return binary.where(input == 0, values, step)


# -- integration ---------------------------------------------------------------------------------


def _check_not_bool(op: str, y: Tensor, x=None) -> None:
    if y._dtype is dt.bool_ or (isinstance(x, Tensor) and x._dtype is dt.bool_):
        raise RuntimeError(f"{op}: received a bool input for `y` or `x`, but bool is not supported")


def _spacing(op: str, y: Tensor, x: Tensor, d: int) -> Tensor:
    """Differences of the sample points ``x``, shaped to broadcast against slices of y."""
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise RuntimeError(f"{op}: There must be one `x` value for each sample point")
        shape = [1] * y.ndim
        shape[d] = x.shape[0]
        x = x.reshape(shape)
    elif x.ndim < y.ndim:
        x = x.reshape([1] * (y.ndim - x.ndim) + list(x.shape))
    n = x.shape[d]
    return x.narrow(d, 1, n - 1) - x.narrow(d, 0, n - 1)


def _without_dim_zeros(y: Tensor, d: int) -> Tensor:
    from .creation import zeros

    shape = [s for k, s in enumerate(y.shape) if k != d]
    return zeros(shape, dtype=y._dtype, device=y._device)


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Trapezoidal rule along ``dim``: sample points ``x`` (a tensor) or a constant spacing."""
    if y.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = wrap_dim(dim, y.ndim)
    if isinstance(x, Tensor) and dx is not None:
        raise TypeError("trapezoid(): pass either the sample points x or the spacing dx, not both")
    if y.shape[d] == 0:
        return _without_dim_zeros(y, d)
    _check_not_bool("trapezoid", y, x)
    n = y.shape[d]
    if isinstance(x, Tensor):
        spacing = _spacing("trapezoid", y, x, d)
        return ((y.narrow(d, 0, n - 1) + y.narrow(d, 1, n - 1)) * spacing).sum(d) / 2.0
    step = dx if dx is not None else (x if x is not None else 1)
    if isinstance(step, (bool, complex)) or not isinstance(step, numbers.Real):
        raise RuntimeError("trapezoid: Currently, we only support dx as a real number.")
    ends = y.select(d, 0) + y.select(d, n - 1)
    return (y.sum(d) - ends * 0.5) * float(step)


def trapz(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Running trapezoidal integral along ``dim`` (one element shorter than y there)."""
    if y.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    _check_not_bool("cumulative_trapezoid", y, x)
    d = wrap_dim(dim, y.ndim)
    n = y.shape[d]
    pairs = y.narrow(d, 0, max(n - 1, 0)) + y.narrow(d, min(1, n), max(n - 1, 0))
    if isinstance(x, Tensor):
        return (pairs * _spacing("cumulative_trapezoid", y, x, d)).cumsum(d) / 2.0
    step = dx if dx is not None else (x if x is not None else 1)
    return (pairs * (float(step) / 2.0)).cumsum(d)


# -- statistics ----------------------------------------------------------------------------------


def _check_weights(name: str, w: Tensor, n: int, integral: bool) -> None:
    if w.ndim > 1:
        raise RuntimeError(
            f"cov(): expected {name} to have one or fewer dimensions but got {name} with "
            f"{w.ndim} dimensions"
        )
    if integral and w._dtype.category != dt.int64.category:
        raise RuntimeError(
            f"cov(): expected {name} to have integral dtype but got {name} with "
            f"{_type_name(w)} dtype"
        )
    if not integral and not w._dtype.is_floating_point:
        raise RuntimeError(
            f"cov(): expected {name} to have floating point dtype but got {name} with "
            f"{_type_name(w)} dtype"
        )
    if w.numel() != n:
        raise RuntimeError(
            f"cov(): expected {name} to have the same numel as there are observations in the "
            f"input but got {w.numel()} != {n}"
        )
    if n and bool((w.detach().min() < 0).item()):
        raise RuntimeError(f"cov(): {name} cannot be negative")


def cov(input: Tensor, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """Covariance of the rows (variables) of ``input`` over its columns (observations)."""
    if input.ndim > 2:
        raise RuntimeError(
            "cov(): expected input to have two or fewer dimensions but got an input with "
            f"{input.ndim} dimensions"
        )
    if input._dtype is dt.bool_:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    obs = input.reshape(1, -1) if input.ndim < 2 else input
    n = obs.shape[1]
    w = None
    if fweights is not None:
        _check_weights("fweights", fweights, n, integral=True)
        w = fweights
    if aweights is not None:
        _check_weights("aweights", aweights, n, integral=False)
        w = aweights if w is None else w * aweights
    if w is None:
        w_sum = float(n)
        avg = obs.sum(1) / w_sum if n else obs.sum(1) * math.nan
        norm = w_sum - correction
    else:
        w_sum = w.sum()
        if not bool((w_sum != 0).item()):
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
        avg = (obs * w).sum(1) / w_sum
        if correction != 0 and aweights is not None:
            norm = w_sum - correction * (w * aweights).sum() / w_sum
        else:
            norm = w_sum - correction
    if float(norm) <= 0:
        warnings.warn(
            "cov(): degrees of freedom is <= 0. Correction should be strictly less than the "
            "number of observations.",
            UserWarning,
            stacklevel=2,
        )
        norm = norm * 0
    centred = obs - avg.unsqueeze(1)
    weighted = centred if w is None else centred * w
    c = linalg.matmul(centred, weighted.t())
    return (c / norm).squeeze()


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the rows of ``input``, clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    c = c / std.reshape(-1, 1)
    c = c / std.reshape(1, -1)
    return c.clip(-1, 1)


def renorm(input: Tensor, p, dim: int, maxnorm) -> Tensor:
    """Rescale each slice along ``dim`` whose p-norm exceeds ``maxnorm`` to norm ``maxnorm``."""
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim <= 1:
        raise RuntimeError(
            f"renorm: input needs at least 2 dimensions, got {input.ndim} dimensions"
        )
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"renorm: expected a floating point input, got {_type_name(input)}")
    d = wrap_dim(dim, input.ndim)
    others = [k for k in range(input.ndim) if k != d]
    norm = _vector_norm(input, p, others, keepdim=True)
    factor = binary.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)
    return input * factor


def _vector_norm(x: Tensor, p, dim=None, keepdim: bool = False) -> Tensor:
    return reduction.norm(x, float(p), None if dim is None else tuple(dim), keepdim)


def dist(input: Tensor, other: Tensor, p=2) -> Tensor:
    """p-norm of ``input - other`` (broadcast)."""
    return _vector_norm(input - other, p)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """p-norm distances between all pairs of rows i < j, in row-major pair order."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"pdist only supports floating-point dtypes, got {_type_name(input)}")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    pairs = triu_indices(n, n, 1, device=input._device)
    rows_i, rows_j = input.index_select(0, pairs[0]), input.index_select(0, pairs[1])
    return _vector_norm(rows_i - rows_j, p, (1,))


# -- floating-point decomposition ---------------------------------------------------------------


def _frexp_parts(x: Tensor):
    """(exponent as a float tensor, finite-nonzero mask) with x = m * 2**e, 0.5 <= |m| < 1."""
    work = x.detach()
    if work._dtype is dt.float16:  # 2**16 overflows float16
        work = work.to(dt.float32)
    mag = work.abs()
    regular = (mag > 0) & mag.isfinite()
    safe = binary.where(regular, mag, 1.0)
    e = safe.log2().floor() + 1
    m = _scale_by_exp2(safe, -e)
    # log2 may round across a power of two: move e by one where the mantissa left [0.5, 1)
    e = e + (m >= 1).to(e._dtype) - (m < 0.5).to(e._dtype)
    return binary.where(regular, e, 0.0), regular


def _scale_by_exp2(x: Tensor, e: Tensor) -> Tensor:
    """x * 2**e in two exact halves, so that 2**e itself never overflows (subnormal x)."""
    half = (e / 2).floor()
    return x * half.exp2() * (e - half).exp2()


def frexp(input: Tensor):
    """(mantissa, exponent) with input = mantissa * 2**exponent and 0.5 <= |mantissa| < 1."""
    if not input._dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    e, regular = _frexp_parts(input)
    # scaled in e's (wider) dtype: 2**-e of a float16 input may not fit in float16
    mant = _scale_by_exp2(input.to(e._dtype), -e).to(input._dtype)
    mant = binary.where(regular, mant, input)
    return _Frexp(mant, e.to(dt.int32))


_Frexp = namedtuple("frexp", ["mantissa", "exponent"])


def ldexp(input: Tensor, other) -> Tensor:
    """input * 2**other (a floating result, like PyTorch's)."""
    result = dt.result_type(input, other)
    wide = result if result.is_floating_point else dt.get_default_dtype()
    if isinstance(other, Tensor):
        scale = other.to(wide).exp2()
    else:
        scale = 2.0**other
    base = input if input._dtype.is_floating_point else input.to(wide)
    return base * scale


def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next representable floating value after ``input`` towards ``other``."""
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"nextafter_cpu\" not implemented for '{_type_name(input)}'")
    if not isinstance(other, Tensor) or other._dtype is not input._dtype:
        raise RuntimeError(
            "nextafter: expected both inputs to have the same floating dtype, got "
            f"{_type_name(input)} and "
            f"{_type_name(other) if isinstance(other, Tensor) else type(other).__name__}"
        )
    with no_grad():
        d = input._dtype
        digits = {dt.float16: 11, dt.float32: 24, dt.float64: 53}[d]
        tiny_exp = {dt.float16: -24, dt.float32: -149, dt.float64: -1074}[d]
        work = dt.float64 if d is dt.float64 else dt.float32
        x, y = input.to(work), other.to(work)
        x, y = shape.broadcast_tensors(x, y)
        e, _ = _frexp_parts(x)
        up = y > x
        away = (x > 0) == up  # moving away from zero: one ulp of x's binade
        mant_half = _scale_by_exp2(x.abs(), -e) == 0.5
        shrink = (~away) & mant_half  # towards zero from a power of two: half an ulp
        step_exp = (e - digits - shrink.to(work)).clamp_min(tiny_exp)
        step = step_exp.exp2()
        stepped = binary.where(up, x + step, x - step)
        zero_step = binary.where(up, 1.0, -1.0) * math.ldexp(1.0, tiny_exp)
        stepped = binary.where(x == 0, zero_step, stepped)
        stepped = binary.where(x.isinf() & (x != y), x.sign() * _max_finite(d), stepped)
        out = binary.where(x == y, y, stepped)
        out = binary.where(x.isnan() | y.isnan(), math.nan, out)
        return out.to(d)


def _max_finite(d) -> float:
    return {dt.float16: 65504.0, dt.float32: 3.4028234663852886e38}.get(d, 1.7976931348623157e308)


# -- integers ------------------------------------------------------------------------------------


def _integer_pair(op: str, input: Tensor, other):
    from .creation import tensor

    if not isinstance(other, Tensor):
        other = tensor(other, device=input._device)
    for t in (input, other):
        if t._dtype.category != dt.int64.category:
            raise NotImplementedError(f"\"{op}_cpu\" not implemented for '{_type_name(t)}'")
    rd = dt.result_type(input, other)
    return input.detach().to(rd), other.detach().to(rd)


def _euclid(a: Tensor, b: Tensor) -> Tensor:
    """gcd of magnitudes, elementwise with broadcasting: one backend kernel (a loop over the
    data would ask the device after every round whether any pair is unfinished)."""
    return D.binary("gcd", a, b, dtype=a._dtype)


def gcd(input: Tensor, other) -> Tensor:
    """Greatest common divisor, elementwise (gcd(0, 0) = 0)."""
    return _euclid(*_integer_pair("gcd", input, other))


def lcm(input: Tensor, other) -> Tensor:
    """Least common multiple, elementwise (0 where either is 0)."""
    a, b = _integer_pair("lcm", input, other)
    rd = a._dtype
    a, b = a.long(), b.long()  # |a / g * b| before narrowing, as PyTorch's C++ promotion does
    g = _euclid(a, b)
    quotient = binary.where(g == 0, 0, a.div(binary.where(g == 0, 1, g), rounding_mode="trunc"))
    return (quotient * b).abs().to(rd)


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2); with beta == 0, input's NaNs are ignored."""
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.ndim}-D")
    outer = vec1.reshape(-1, 1) * vec2.reshape(1, -1)
    if alpha != 1:
        outer = outer * alpha
    base = input.expand(*outer.shape)
    if beta == 0:
        return outer.to(dt.result_type(outer, base))
    return outer + (base if beta == 1 else base * beta)


# -- aliases -------------------------------------------------------------------------------------


def sgn(input: Tensor) -> Tensor:
    """sign for real tensors (x / |x| for complex ones)."""
    if input._dtype.is_complex:
        raise NotImplementedError("sgn: complex tensors are not supported by deepforge")
    return unary.sign(input)


absolute = unary.abs
negative = unary.neg
fix = unary.trunc
arccos, arcsin, arctan = unary.acos, unary.asin, unary.atan
arccosh, arcsinh, arctanh = unary.acosh, unary.asinh, unary.atanh


def _method_alias(name: str, target: str):
    def op_(self: Tensor, *args, **kwargs):
        return getattr(self, target)(*args, **kwargs)

    op_.__name__ = name
    return op_


negative_ = _method_alias("negative_", "neg_")
fix_ = _method_alias("fix_", "trunc_")
arccos_, arcsin_, arctan_ = (_method_alias(f"arc{n}_", f"a{n}_") for n in ("cos", "sin", "tan"))
arccosh_, arcsinh_, arctanh_ = (
    _method_alias(f"arc{n}_", f"a{n}_") for n in ("cosh", "sinh", "tanh")
)
ldexp_ = _inplace("ldexp_", ldexp)
gcd_ = _inplace("gcd_", gcd)
lcm_ = _inplace("lcm_", lcm)


def _float_power_(self: Tensor, exponent) -> Tensor:
    if self._dtype is not dt.float64:
        raise RuntimeError(
            f"the base given to float_power_ has dtype {_type_name(self)} but the operation's "
            "result requires dtype Double"
        )
    return self.pow_(exponent)


_METHODS = {
    "heaviside": heaviside, "heaviside_": _inplace("heaviside_", heaviside), "cov": cov,
    "corrcoef": corrcoef, "renorm": renorm, "renorm_": _inplace("renorm_", renorm), "dist": dist,
    "frexp": frexp, "ldexp": ldexp, "ldexp_": ldexp_, "nextafter": nextafter,
    "nextafter_": _inplace("nextafter_", nextafter), "gcd": gcd, "gcd_": gcd_, "lcm": lcm,
    "lcm_": lcm_, "sgn": sgn, "sgn_": _method_alias("sgn_", "sign_"), "absolute": absolute,
    "absolute_": _method_alias("absolute_", "abs_"), "negative": negative,
    "negative_": negative_, "fix": fix, "fix_": fix_, "arccos": arccos, "arccos_": arccos_,
    "arcsin": arcsin, "arcsin_": arcsin_, "arctan": arctan, "arctan_": arctan_,
    "arccosh": arccosh, "arccosh_": arccosh_, "arcsinh": arcsinh, "arcsinh_": arcsinh_,
    "arctanh": arctanh, "arctanh_": arctanh_, "arctan2_": _method_alias("arctan2_", "atan2_"),
    "addr": addr, "addr_": _inplace("addr_", addr),
    "copysign_": _inplace("copysign_", binary.copysign), "float_power_": _float_power_,
    "greater_": _method_alias("greater_", "gt_"),
    "greater_equal_": _method_alias("greater_equal_", "ge_"),
    "less_": _method_alias("less_", "lt_"), "less_equal_": _method_alias("less_equal_", "le_"),
    "not_equal_": _method_alias("not_equal_", "ne_"),
    "bitwise_left_shift_": _inplace("bitwise_left_shift_", binary.bitwise_left_shift),
    "bitwise_right_shift_": _inplace("bitwise_right_shift_", binary.bitwise_right_shift),
}  # fmt: skip


def _attach() -> None:
    for name, fn in _METHODS.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)


_attach()
