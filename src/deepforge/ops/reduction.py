"""Reductions, scans, sorting and the softmax family."""

from __future__ import annotations

import math

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, wrap_dim, wrap_dims

__all__ = [
    "sum", "mean", "nansum", "nanmean", "prod", "max", "min", "amax", "amin", "argmax", "argmin",
    "var", "std", "var_mean", "std_mean", "logsumexp", "norm", "all", "any", "count_nonzero",
    "median", "nanmedian", "mode", "cumsum", "cumprod", "cummax", "cummin", "sort", "argsort",
    "topk", "kthvalue", "unique", "softmax", "log_softmax", "aminmax", "msort", "logcumsumexp",
    "quantile", "unique_consecutive",
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


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.in_shape = x._data.shape
        ctx.axes = axes
        ctx.keepdim = keepdim
        data = D.backend_of(x).reduce("sum", x._data, axes, keepdim, dtype.np)
        return make_tensor(data, dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdim:
            g = _unsqueeze_dims(g, ctx.axes, len(ctx.in_shape))
        return g.expand(ctx.in_shape), None, None, None


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None, out=None) -> Tensor:
    axes = wrap_dims(dim, input.ndim) if input.ndim else ()
    if dim is not None and isinstance(dim, (list, tuple)) and len(dim) == 0:
        axes = tuple(range(input.ndim))
    r = call(Sum, input, axes, keepdim, _acc_dtype(input, dtype))
    return _out(out, r)


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
    axes = wrap_dims(dim, input.ndim) if input.ndim else ()
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        axes = tuple(range(input.ndim))
    n = _count(input._data.shape, axes)
    s = sum(input if d is input._dtype else input.to(d), dim if not (isinstance(dim, (list, tuple)) and not dim) else None, keepdim)
    r = s / n if n else s * float("nan")
    return _out(out, r)


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    valid = (~input.isnan()).sum(dim, keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / valid


def _pretty(d):
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool", "float32": "Float", "float64": "Double", "float16": "Half"}.get(d.name, d.name)


class Prod(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.axes, ctx.keepdim = axes, keepdim
        y = make_tensor(D.backend_of(x).reduce("prod", x._data, axes, keepdim, dtype.np), dtype, x._device)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        if not ctx.keepdim:
            g = _unsqueeze_dims(g, ctx.axes, x.ndim)
            y = _unsqueeze_dims(y, ctx.axes, x.ndim)
        zero = x == 0
        if not bool(zero.any()):
            return g * y / x, None, None, None
        # with zeros: product of the others, computed without dividing
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
    from .shape import cat, flip, narrow

    if reverse:
        x = flip(x, (a,))
    n = x._data.shape[a]
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
                f"{op}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
                if len(axes) == x.ndim else f"{op}(): Expected reduction dim {axes[0]} to have non-zero size."
            )
        ctx.axes, ctx.keepdim = axes, keepdim
        y = make_tensor(D.backend_of(x).reduce(op[1:], x._data, axes, keepdim, x._dtype.np), x._dtype, x._device)
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
_Sort = _values_indices("sort")
_TopK = _values_indices("topk")


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
        return _MinMax(input, make_tensor(D.backend_of(input).zeros((), dt.int64.np), dt.int64, input._device))
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
        return _MinMax(input, make_tensor(D.backend_of(input).zeros((), dt.int64.np), dt.int64, input._device))
    v, i = call(MaxDim, input, axis, keepdim, "min")
    return _MinMax(v, i)


def aminmax(input: Tensor, *, dim=None, keepdim: bool = False):
    from collections import namedtuple

    return namedtuple("aminmax", ["min", "max"])(amin(input, dim if dim is not None else (), keepdim),
                                                 amax(input, dim if dim is not None else (), keepdim))


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


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    if isinstance(dim, bool):  # legacy var(input, unbiased)
        unbiased, dim = dim, None
    c = _correction(unbiased, correction)
    if input._dtype.category < 2:
        raise RuntimeError(f"std and var only support floating point and complex dtypes")
    axes = wrap_dims(dim, input.ndim) if input.ndim else ()
    n = _count(input._data.shape, axes)
    m = mean(input, axes if input.ndim else None, keepdim=True)
    dev = input - m
    s = sum(dev * dev, axes if input.ndim else None, keepdim)
    denom = n - c
    if denom <= 0:
        import warnings

        warnings.warn("var(): degrees of freedom is <= 0. Correction should be strictly less than the "
                      "reduction factor (input numel divided by output numel).", UserWarning, stacklevel=2)
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


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
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


def logsumexp(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    x = input if input._dtype.category >= 2 else input.to(dt.get_default_dtype())
    axes = wrap_dims(dim, x.ndim) if x.ndim else ()
    return call(LogSumExp, x, axes, keepdim)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    x = input if dtype is None else input.to(dt.to_dtype(dtype))
    if p is None or p == "fro" or p == 2:
        return call(Root, sum(x * x, dim, keepdim), 2)
    if p == "nuc":
        raise NotImplementedError("nuclear norm is not supported by deepforge yet")
    if p == float("inf"):
        return amax(x.abs(), dim if dim is not None else (), keepdim)
    if p == float("-inf"):
        return amin(x.abs(), dim if dim is not None else (), keepdim)
    if p == 0:
        return sum((x != 0).to(x._dtype), dim, keepdim)
    if p == 1:
        return sum(x.abs(), dim, keepdim)
    return call(Root, sum(x.abs() ** p, dim, keepdim), p)


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


class CumSum(Function):
    @staticmethod
    def forward(ctx, x, axis, dtype):
        ctx.axis = axis
        return make_tensor(D.backend_of(x).cumulative("cumsum", x._data, axis, dtype.np), dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        from .shape import flip

        a = ctx.axis
        return flip(cumsum(flip(g, (a,)), a), (a,)), None, None


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    if input.ndim == 0:
        return input.clone() if dtype is None else input.to(dt.to_dtype(dtype))
    return call(CumSum, input, axis, _acc_dtype(input, dtype))


class CumProd(Function):
    @staticmethod
    def forward(ctx, x, axis, dtype):
        ctx.axis = axis
        y = make_tensor(D.backend_of(x).cumulative("cumprod", x._data, axis, dtype.np), dtype, x._device)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        from .binary import where
        from .shape import flip

        x, y = ctx.saved_tensors
        a = ctx.axis
        if not bool((x == 0).any()):
            r = flip(cumsum(flip(g * y, (a,)), a), (a,)) / x
            return r, None, None
        # general case (zeros present): O(n^2) but exact, via the exclusive products
        n = x._data.shape[a]
        parts = []
        for k in range(n):
            # d y_j / d x_k = prod_{i<=j, i!=k} x_i for j >= k
            xs = where(_index_mask(x, a, k), 1.0, x)
            cp = cumprod(xs, a)
            contrib = (g * cp).narrow(a, k, n - k).sum(a, keepdim=True)
            parts.append(contrib)
        from .shape import cat

        return cat(parts, a), None, None


def _index_mask(x, a, k):
    from .creation import arange

    shape = [1] * x.ndim
    shape[a] = x._data.shape[a]
    return (arange(x._data.shape[a], device=x._device) == k).reshape(shape)


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    if input.ndim == 0:
        return input.clone()
    return call(CumProd, input, axis, _acc_dtype(input, dtype))


class CumExtreme(Function):
    @staticmethod
    def forward(ctx, x, axis, op):
        vals, idx = D.backend_of(x).cum_extreme(op, x._data, axis)
        i = make_tensor(idx, dt.int64, x._device)
        ctx.axis, ctx.in_shape = axis, x._data.shape
        ctx.save_for_backward(i)
        ctx.mark_non_differentiable(i)
        return make_tensor(vals, x._dtype, x._device), i

    @staticmethod
    def backward(ctx, g, _gi):
        from .indexing import _scatter_add_into_zeros

        (idx,) = ctx.saved_tensors
        return _scatter_add_into_zeros(g, ctx.axis, idx, ctx.in_shape), None, None


def cummax(input: Tensor, dim: int):
    from collections import namedtuple

    v, i = call(CumExtreme, input, wrap_dim(dim, input.ndim) if input.ndim else 0, "cummax")
    return namedtuple("cummax", ["values", "indices"])(v, i)


def cummin(input: Tensor, dim: int):
    from collections import namedtuple

    v, i = call(CumExtreme, input, wrap_dim(dim, input.ndim) if input.ndim else 0, "cummin")
    return namedtuple("cummin", ["values", "indices"])(v, i)


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    m = amax(input.detach(), dim, keepdim=True) if input.numel() else input.detach()
    from .binary import where

    m = where(m.isfinite(), m, 0.0)
    return cumsum((input - m).exp(), dim).log() + m


class SortFn(Function):
    @staticmethod
    def forward(ctx, x, axis, descending, stable):
        vals, idx = D.backend_of(x).sort(x._data, axis, descending, stable)
        i = make_tensor(idx, dt.int64, x._device)
        ctx.axis, ctx.in_shape = axis, x._data.shape
        ctx.save_for_backward(i)
        ctx.mark_non_differentiable(i)
        return make_tensor(vals, x._dtype, x._device), i

    @staticmethod
    def backward(ctx, g, _gi):
        from .indexing import _scatter_into_zeros

        (idx,) = ctx.saved_tensors
        return _scatter_into_zeros(g, ctx.axis, idx, ctx.in_shape), None, None, None


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    if input.ndim == 0:
        return _Sort(input.clone(), make_tensor(D.backend_of(input).zeros((), dt.int64.np), dt.int64, input._device))
    v, i = call(SortFn, input, wrap_dim(dim, input.ndim), descending, stable)
    return _Sort(v, i)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(input, dim, descending, stable).indices


def msort(input: Tensor) -> Tensor:
    return sort(input, 0).values


class TopK(Function):
    @staticmethod
    def forward(ctx, x, k, axis, largest, sorted_):
        vals, idx = D.backend_of(x).topk(x._data, k, axis, largest, sorted_)
        i = make_tensor(idx, dt.int64, x._device)
        ctx.axis, ctx.in_shape = axis, x._data.shape
        ctx.save_for_backward(i)
        ctx.mark_non_differentiable(i)
        return make_tensor(vals, x._dtype, x._device), i

    @staticmethod
    def backward(ctx, g, _gi):
        from .indexing import _scatter_into_zeros

        (idx,) = ctx.saved_tensors
        return _scatter_into_zeros(g, ctx.axis, idx, ctx.in_shape), None, None, None, None


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    n = input._data.shape[axis] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range (k={k}, size of dim {axis} is {n})")
    if input.ndim == 0:
        return _TopK(input.clone(), make_tensor(D.backend_of(input).zeros((), dt.int64.np), dt.int64, input._device))
    v, i = call(TopK, input, k, axis, largest, sorted)
    return _TopK(v, i)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    from collections import namedtuple

    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    n = input._data.shape[axis] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {axis} (k={k}, size {n})")
    v, i = sort(input, axis)
    v = v.narrow(axis, k - 1, 1)
    i = i.narrow(axis, k - 1, 1)
    if not keepdim:
        v, i = v.squeeze(axis), i.squeeze(axis)
    return namedtuple("kthvalue", ["values", "indices"])(v, i)


def median(input: Tensor, dim=None, keepdim: bool = False):
    if dim is None:
        flat = input.reshape(-1)
        n = flat._data.shape[0]
        if n == 0:
            return flat.sum() * float("nan")
        return sort(flat).values[(n - 1) // 2]
    from collections import namedtuple

    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    n = input._data.shape[axis] if input.ndim else 1
    r = kthvalue(input, (n + 1) // 2, axis, keepdim)
    return namedtuple("median", ["values", "indices"])(r.values, r.indices)


def nanmedian(input: Tensor, dim=None, keepdim: bool = False):
    if bool(input.isnan().any()):
        raise NotImplementedError("nanmedian with NaN values is not supported by deepforge yet")
    return median(input, dim, keepdim)


def quantile(input: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
    import numpy as np

    from .creation import tensor

    a = input.detach().cpu().numpy()
    r = np.quantile(a, q.tolist() if isinstance(q, Tensor) else q, axis=dim, keepdims=keepdim,
                    method=interpolation)
    return tensor(r, dtype=input._dtype, device=input._device)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """Most frequent value along ``dim`` (smallest on ties) and its last index, like PyTorch."""
    import numpy as np
    from collections import namedtuple

    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    a = np.moveaxis(input.detach().cpu().numpy(), axis, -1) if input.ndim else input.numpy().reshape(1)
    flat = a.reshape(-1, a.shape[-1])
    vals = np.empty(flat.shape[0], a.dtype)
    idx = np.empty(flat.shape[0], np.int64)
    for r, row in enumerate(flat):
        u, counts = np.unique(row, return_counts=True)
        v = u[np.argmax(counts)]
        vals[r] = v
        idx[r] = np.nonzero(row == v)[0][-1]
    out_shape = a.shape[:-1]
    from .creation import tensor

    v = tensor(vals.reshape(out_shape), dtype=input._dtype, device=input._device)
    i = tensor(idx.reshape(out_shape), dtype=dt.int64, device=input._device)
    if keepdim and input.ndim:
        v, i = v.unsqueeze(axis), i.unsqueeze(axis)
    return namedtuple("mode", ["values", "indices"])(v, i)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim=None):
    import numpy as np

    from .creation import tensor

    a = input.detach().cpu().numpy()
    res = np.unique(a, return_inverse=return_inverse, return_counts=return_counts, axis=dim)
    if not isinstance(res, tuple):
        res = (res,)
    out = [tensor(res[0], dtype=input._dtype, device=input._device)]
    k = 1
    if return_inverse:
        inv = res[k].reshape(a.shape if dim is None else (a.shape[dim],))
        out.append(tensor(inv, dtype=dt.int64, device=input._device))
        k += 1
    if return_counts:
        out.append(tensor(res[k], dtype=dt.int64, device=input._device))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim=None):
    import numpy as np

    from .creation import tensor

    a = input.detach().cpu().numpy().reshape(-1)
    if a.size == 0:
        keep = np.zeros(0, bool)
    else:
        keep = np.concatenate([[True], a[1:] != a[:-1]])
    vals = a[keep]
    out = [tensor(vals, dtype=input._dtype, device=input._device)]
    if return_inverse:
        out.append(tensor((np.cumsum(keep) - 1).reshape(input.shape), dtype=dt.int64, device=input._device))
    if return_counts:
        starts = np.nonzero(keep)[0]
        out.append(tensor(np.diff(np.append(starts, a.size)), dtype=dt.int64, device=input._device))
    return out[0] if len(out) == 1 else tuple(out)


# softmax family -------------------------------------------------------------------------------
class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        y = make_tensor(D.backend_of(x).softmax(x._data, axis), x._dtype, x._device)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return call(SoftmaxBackward, y, g, ctx.axis), None


class SoftmaxBackward(Function):
    """Fused softmax gradient; its own backward keeps double backward working."""

    @staticmethod
    def forward(ctx, y, g, axis):
        ctx.axis = axis
        ctx.save_for_backward(y, g)
        return make_tensor(D.backend_of(y).softmax_backward(y._data, g._data, axis), y._dtype, y._device)

    @staticmethod
    def backward(ctx, gg):
        y, g = ctx.saved_tensors
        a = ctx.axis
        s = (g * y).sum(a, keepdim=True)
        t = (gg * y).sum(a, keepdim=True)
        # gx = y*(g - s):  d/dy = gg*(g - s) - (gg*y summed) * g ; d/dg = y*(gg - t)
        gy = gg * (g - s) - t * g
        gg_out = y * (gg - t)
        return gy, gg_out, None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        y = make_tensor(D.backend_of(x).log_softmax(x._data, axis), x._dtype, x._device)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return call(LogSoftmaxBackward, y, g, ctx.axis), None


class LogSoftmaxBackward(Function):
    @staticmethod
    def forward(ctx, y, g, axis):
        ctx.axis = axis
        ctx.save_for_backward(y, g)
        return make_tensor(D.backend_of(y).log_softmax_backward(y._data, g._data, axis), y._dtype, y._device)

    @staticmethod
    def backward(ctx, gg):
        y, g = ctx.saved_tensors
        a = ctx.axis
        p = y.exp()
        gsum = g.sum(a, keepdim=True)
        # gx = g - p * gsum:  d/dy = -gg * p * gsum ; d/dg = gg - sum(gg * p)
        return -gg * p * gsum, gg - (gg * p).sum(a, keepdim=True), None


def _softmax_input(input, dim, dtype, op):
    if dim is None:
        import warnings

        warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X as an argument.", stacklevel=3)
        dim = 0 if input.ndim in (0, 1, 3) else 1
    x = input if dtype is None else input.to(dt.to_dtype(dtype))
    if x._dtype.category < 2:
        raise NotImplementedError(f"\"{op}\" not implemented for '{_pretty(x._dtype)}'")
    return x, (wrap_dim(dim, x.ndim) if x.ndim else 0)


def softmax(input: Tensor, dim=None, dtype=None, *, _stacklevel=3) -> Tensor:
    x, axis = _softmax_input(input, dim, dtype, "softmax")
    if x.ndim == 0:
        return x * 0 + 1
    return call(Softmax, x, axis)


def log_softmax(input: Tensor, dim=None, dtype=None, *, _stacklevel=3) -> Tensor:
    x, axis = _softmax_input(input, dim, dtype, "log_softmax")
    if x.ndim == 0:
        return x * 0
    return call(LogSoftmax, x, axis)


_ = math
