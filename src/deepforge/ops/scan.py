"""Scans along a dimension: cumsum, cumprod, cummax, cummin, logcumsumexp."""

from __future__ import annotations

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, with_out, wrap_dim
from .reduction import _acc_dtype, amax

__all__ = ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


class CumSum(Function):
    @staticmethod
    def forward(ctx, x, axis, dtype):
        ctx.axis = axis
        return make_tensor(
            D.backend_of(x).cumulative("cumsum", x._data, axis, dtype.np), dtype, x._device
        )

    @staticmethod
    def backward(ctx, g):
        from .rearrange import flip

        a = ctx.axis
        return flip(cumsum(flip(g, (a,)), a), (a,)), None, None


@with_out
def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    if input.ndim == 0:
        return input.clone() if dtype is None else input.to(dt.to_dtype(dtype))
    return call(CumSum, input, axis, _acc_dtype(input, dtype))


class CumProd(Function):
    @staticmethod
    def forward(ctx, x, axis, dtype):
        ctx.axis = axis
        y = make_tensor(
            D.backend_of(x).cumulative("cumprod", x._data, axis, dtype.np), dtype, x._device
        )
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        from .binary import where
        from .rearrange import flip

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


@with_out
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


@with_out
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
