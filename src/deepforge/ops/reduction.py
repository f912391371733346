"""Reductions, scans, sorting and the softmax family."""

from __future__ import annotations

import math

from .. import _dtype as dt
from ..autograd.function import Function
from ..autograd.grad_mode import STATE
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, with_out, wrap_dim, wrap_dims

__all__ = [
    "sum", "mean", "nansum", "nanmean", "prod", "max", "min", "amax", "amin", "argmax", "argmin",
    "var", "std", "var_mean", "std_mean", "logsumexp", "norm", "all", "any", "count_nonzero",
    "aminmax",
]

_builtin_sum = sum


def _unsqueeze_dims(g, axes, in_ndim):
    """Re-insert reduced axes (removed by keepdim=False) so ``g`` broadcasts to the input."""
    shape = list(g._data.shape)
    for a in axes:
        shape.insert(a, 1)
    return g.reshape(tuple(shape))


def _acc_dtype(x: Tensor, dtype):
    if dtype is not None:
        return dt.to_dtype(dtype)
    return dt.int64 if x._dtype.category < 2 else x._dtype


def _backend_reduce(op: str, x: Tensor, axes, keepdim, dtype) -> Tensor:
    """The backend's ``op`` ("sum" or "mean") of x over axes, as a tensor of ``dtype``."""
    data = D.backend_of(x).reduce(op, x._data, axes, keepdim, dtype.np)
    return make_tensor(data, dtype, x._device)


def _sum_axes(dim, nd: int) -> tuple:
    """The axes sum and mean reduce: ``dim`` wrapped; an empty list or tuple means all."""
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        return tuple(range(nd))
    return wrap_dims(dim, nd) if nd else ()


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.in_shape = x._data.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        return _backend_reduce("sum", x, axes, keepdim, dtype)

    @staticmethod
    def backward(ctx, g):
        return _broadcast_back(ctx, g), None, None, None


def _broadcast_back(ctx, g):
    """The gradient of a sum over ``ctx.axes``: ``g`` broadcast back to the input's shape."""
    if not ctx.keepdim:
        g = _unsqueeze_dims(g, ctx.axes, len(ctx.in_shape))
    return g.expand(ctx.in_shape)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    axes = _sum_axes(dim, input.ndim)
    acc = _acc_dtype(input, dtype)
    if STATE.enabled and input._rg:
        return _out(out, Sum.apply(input, axes, keepdim, acc))
    # no graph: straight to the backend (a loss or a bias gradient every step)
    return _out(out, _backend_reduce("sum", input, axes, keepdim, acc))


def _out(out, r):
    if out is None:
        return r
    from .shape import resize_out

    return resize_out(out, r)


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    from .binary import where

    return sum(where(input.isnan(), 0.0, input), dim, keepdim, dtype=dtype)


def _count(shape, axes) -> int:
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    d = dt.to_dtype(dtype) if dtype is not None else input._dtype
    if d.category < 2:
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {_pretty(input._dtype)}"
        )
    axes = _sum_axes(dim, input.ndim)
    n = _count(input._data.shape, axes)
    x = input if d is input._dtype else input.to(d)
    if n:  # one backend reduction (its "mean" divides as it finishes), not a sum then a divide
        if STATE.enabled and x._rg:
            return _out(out, Mean.apply(x, axes, keepdim, n))
        return _out(out, _backend_reduce("mean", x, axes, keepdim, x._dtype))
    s = sum(x, dim if not (isinstance(dim, (list, tuple)) and not dim) else None, keepdim)
    return _out(out, s * float("nan"))


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, n):
        ctx.in_shape = x._data.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        ctx.n = n
        return _backend_reduce("mean", x, axes, keepdim, x._dtype)

    @staticmethod
    def backward(ctx, g):
        return _broadcast_back(ctx, g / ctx.n), None, None, None


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    valid = (~input.isnan()).sum(dim, keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / valid


_pretty = dt.scalar_type_name


class Prod(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.axes, ctx.keepdim = axes, keepdim
        y = make_tensor(
            D.backend_of(x).reduce("prod", x._data, axes, keepdim, dtype.np), dtype, x._device
        )
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        if not ctx.keepdim:
            g = _unsqueeze_dims(g, ctx.axes, x.ndim)
            y = _unsqueeze_dims(y, ctx.axes, x.ndim)
        # A CPU tensor is asked whether it has a zero (free there); a device is not, since the
        # answer would make the host wait: it always takes the product of the others, computed
        # without dividing (exact with zeros)
        if x._device.type == "cpu" and not bool((x == 0).any()):
            return g * y / x, None, None, None
        if len(ctx.axes) == 1:
            a = ctx.axes[0]
            left = _exclusive_cumprod(x, a, reverse=False)
            right = _exclusive_cumprod(x, a, reverse=True)
            return g * left * right, None, None, None
        flat = x.reshape(-1) if ctx.axes == tuple(range(x.ndim)) else None
        if flat is not None:
            left = _exclusive_cumprod(flat, 0, False)
            right = _exclusive_cumprod(flat, 0, True)
            return (g.reshape(-1) * left * right).reshape(x._data.shape), None, None, None
        raise NotImplementedError("prod backward over several dims with zeros in the input")


def _exclusive_cumprod(x, a, reverse):
    from .rearrange import flip
    from .shape import cat, narrow

    if reverse:
        x = flip(x, (a,))
    n = x._data.shape[a]
    if n == 0:
        return x * 0
    one = narrow(x, a, 0, 1) * 0 + 1
    r = cat([one, cumprod(narrow(x, a, 0, n - 1), a)], a) if n > 1 else one
    return flip(r, (a,)) if reverse else r


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    if dim is not None and isinstance(dim, (tuple, list)):
        raise TypeError("prod(): argument 'dim' must be int, not tuple")
    axes = wrap_dims(dim, input.ndim) if input.ndim else ()
    return call(Prod, input, axes, keepdim, _acc_dtype(input, dtype))


class AMax(Function):
    """amax/amin: the gradient is shared evenly among tied extremes, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, op):
        if x.numel() == 0:
            raise (RuntimeError if len(axes) == x.ndim else IndexError)(
                f"{op}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                "the reduction dim with the 'dim' argument."
                if len(axes) == x.ndim
                else f"{op}(): Expected reduction dim {axes[0]} to have non-zero size."
            )
        ctx.axes, ctx.keepdim = axes, keepdim
        y = make_tensor(
            D.backend_of(x).reduce(op[1:], x._data, axes, keepdim, x._dtype.np), x._dtype, x._device
        )
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        if not ctx.keepdim:
            g = _unsqueeze_dims(g, ctx.axes, x.ndim)
            y = _unsqueeze_dims(y, ctx.axes, x.ndim)
        mask = (x == y).to(g._dtype)
        return g * mask / mask.sum(ctx.axes, keepdim=True), None, None, None


def amax(input: Tensor, dim=(), keepdim: bool = False, *, out=None) -> Tensor:
    axes = wrap_dims(None if dim == () or dim is None else dim, input.ndim) if input.ndim else ()
    return _out(out, call(AMax, input, axes, keepdim, "amax"))


def amin(input: Tensor, dim=(), keepdim: bool = False, *, out=None) -> Tensor:
    axes = wrap_dims(None if dim == () or dim is None else dim, input.ndim) if input.ndim else ()
    return _out(out, call(AMax, input, axes, keepdim, "amin"))


class MaxDim(Function):
    @staticmethod
    def forward(ctx, x, axis, keepdim, op):
        if x._data.shape and x._data.shape[axis] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {axis} to have non-zero size.")
        vals, idx = D.backend_of(x).max_min_dim(op, x._data, axis, keepdim)
        ctx.axis, ctx.keepdim, ctx.in_shape = axis, keepdim, x._data.shape
        i = make_tensor(idx, dt.int64, x._device)
        ctx.save_for_backward(i)
        ctx.mark_non_differentiable(i)
        return make_tensor(vals, x._dtype, x._device), i

    @staticmethod
    def backward(ctx, g, _gi):
        from .indexing import _scatter_into_zeros

        (idx,) = ctx.saved_tensors
        if not ctx.keepdim and len(ctx.in_shape):
            g = g.unsqueeze(ctx.axis)
            idx = idx.unsqueeze(ctx.axis)
        return _scatter_into_zeros(g, ctx.axis, idx, ctx.in_shape), None, None, None


def _values_indices(name):
    from collections import namedtuple

    return namedtuple(name, ["values", "indices"])


_MinMax = _values_indices("max")


def _check_nonempty(input, op):
    if input.numel() == 0:
        raise RuntimeError(
            f"{op}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
            "reduction dim with the 'dim' argument."
        )


def max(input: Tensor, dim=None, keepdim: bool = False, *, out=None):
    if isinstance(dim, Tensor):
        from .binary import maximum

        return maximum(input, dim)
    if dim is None:
        _check_nonempty(input, "max")
        return amax(input)
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    if input.ndim == 0:
        return _MinMax(
            input, make_tensor(D.backend_of(input).zeros((), dt.int64.np), dt.int64, input._device)
        )
    v, i = call(MaxDim, input, axis, keepdim, "max")
    return _MinMax(v, i)


def min(input: Tensor, dim=None, keepdim: bool = False, *, out=None):
    if isinstance(dim, Tensor):
        from .binary import minimum

        return minimum(input, dim)
    if dim is None:
        _check_nonempty(input, "min")
        return amin(input)
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    if input.ndim == 0:
        return _MinMax(
            input, make_tensor(D.backend_of(input).zeros((), dt.int64.np), dt.int64, input._device)
        )
    v, i = call(MaxDim, input, axis, keepdim, "min")
    return _MinMax(v, i)


def aminmax(input: Tensor, *, dim=None, keepdim: bool = False):
    from collections import namedtuple

    return namedtuple("aminmax", ["min", "max"])(
        amin(input, dim if dim is not None else (), keepdim),
        amax(input, dim if dim is not None else (), keepdim),
    )


def _argreduce(op, input, dim, keepdim):
    if input.numel() == 0:
        raise IndexError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0.")
    axis = None if dim is None else (wrap_dim(dim, input.ndim) if input.ndim else None)
    data = D.backend_of(input).argreduce(op, input._data, axis, keepdim)
    return make_tensor(data, dt.int64, input._device)


def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _argreduce("argmax", input, dim, keepdim)


def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    return _argreduce("argmin", input, dim, keepdim)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    if unbiased is None:
        return 1
    return 1 if unbiased else 0


@with_out
def var(
    input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None
) -> Tensor:
    if isinstance(dim, bool):  # legacy var(input, unbiased)
        unbiased, dim = dim, None
    c = _correction(unbiased, correction)
    if input._dtype.category < 2:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = wrap_dims(dim, input.ndim) if input.ndim else ()
    n = _count(input._data.shape, axes)
    m = mean(input, axes if input.ndim else None, keepdim=True)
    dev = input - m
    s = sum(dev * dev, axes if input.ndim else None, keepdim)
    denom = n - c
    if denom <= 0:
        import warnings

        warnings.warn(
            "var(): degrees of freedom is <= 0. Correction should be strictly less than the "
            "reduction factor (input numel divided by output numel).",
            UserWarning,
            stacklevel=2,
        )
        return s / 0.0 if denom == 0 else s * float("nan")
    return s / denom


class Root(Function):
    """``x ** (1/p)`` for x >= 0 whose gradient is 0 where the result is 0: the subgradient
    PyTorch uses for norms and std (plain ``sqrt`` would give inf * 0 = nan there)."""

    @staticmethod
    def forward(ctx, x, p):
        from .binary import pow

        ctx.p = p
        y = x.sqrt() if p == 2 else pow(x, 1.0 / p)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        from .binary import where

        x, y = ctx.saved_tensors
        zero = y == 0
        safe_x = where(zero, 1.0, x)  # d(result)/dx = y / (p x)
        return where(zero, 0.0, g * y / (safe_x * ctx.p)), None


@with_out
def std(
    input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None
) -> Tensor:
    return call(Root, var(input, dim, unbiased, keepdim, correction=correction), 2)


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.axes, ctx.keepdim = axes, keepdim
        y = make_tensor(D.backend_of(x).logsumexp(x._data, axes, keepdim), x._dtype, x._device)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        if not ctx.keepdim:
            g = _unsqueeze_dims(g, ctx.axes, x.ndim)
            y = _unsqueeze_dims(y, ctx.axes, x.ndim)
        return g * (x - y).exp(), None, None


@with_out
def logsumexp(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    x = input if input._dtype.category >= 2 else input.to(dt.get_default_dtype())
    axes = wrap_dims(dim, x.ndim) if x.ndim else ()
    return call(LogSumExp, x, axes, keepdim)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    x = input if dtype is None else input.to(dt.to_dtype(dtype))
    if p is None or p == "fro" or p == 2:
        return call(Root, sum(x * x, dim, keepdim), 2)
    if p == "nuc":
        from ..linalg import matrix_norm  # deferred: deepforge.linalg imports the ops

        return matrix_norm(x, "nuc", dim if dim is not None else (-2, -1), keepdim)
    if p == float("inf"):
        return amax(x.abs(), dim if dim is not None else (), keepdim)
    if p == float("-inf"):
        return amin(x.abs(), dim if dim is not None else (), keepdim)
    if p == 0:
        return sum((x != 0).to(x._dtype), dim, keepdim)
    if p == 1:
        return sum(x.abs(), dim, keepdim)
    return call(Root, sum(x.abs() ** p, dim, keepdim), p)


@with_out
def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = wrap_dims(dim, input.ndim) if input.ndim else ()
    data = D.backend_of(input).reduce("all", input._data, axes, keepdim, dt.bool_.np)
    return make_tensor(data, dt.bool_ if input._dtype is not dt.uint8 else dt.uint8, input._device)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    axes = wrap_dims(dim, input.ndim) if input.ndim else ()
    data = D.backend_of(input).reduce("any", input._data, axes, keepdim, dt.bool_.np)
    return make_tensor(data, dt.bool_ if input._dtype is not dt.uint8 else dt.uint8, input._device)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    return sum(input != 0, dim)


_ = math


# moved to their own modules; still importable from here
from .scan import cummax, cummin, cumprod, cumsum, logcumsumexp  # noqa: E402,F401
from .softmax_family import log_softmax, softmax  # noqa: E402,F401
from .sorting import (  # noqa: E402,F401
    argsort,
    kthvalue,
    median,
    mode,
    msort,
    nanmedian,
    quantile,
    sort,
    topk,
    unique,
    unique_consecutive,
)
