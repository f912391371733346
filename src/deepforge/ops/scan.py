"""Scans along a dimension: cumsum, cumprod, cummax, cummin, logcumsumexp."""

from __future__ import annotations

from .. import _dtype as dt
from ..autograd.function import Function
from ..autograd.grad_mode import STATE
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, with_out, wrap_dim
from .reduction import _acc_dtype, _exclusive_cumprod, amax

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

        def rev_cumsum(t):  # sum over j >= k
            return flip(cumsum(flip(t, (a,)), a), (a,))

        if STATE.enabled:  # create_graph: a formula whose own derivative is right (waits)
            return _cumprod_backward_twice_differentiable(g, x, y, a, rev_cumsum), None, None
        # A CPU tensor is asked whether it has a zero (free there); a device is not, since the
        # answer would make the host wait: it always takes the general formula.
        if x._device.type == "cpu" and not bool((x == 0).any()):
            return rev_cumsum(g * y) / x, None, None
        # O(n) and exact with zeros, but its derivative is not cumprod's second derivative (a
        # zero's own effect on the later gradients is cut off), hence the path above.
        # dy_j/dx_k = prod_{i<=j, i!=k} x_i. Before the first zero z of a slice: y_j / x_k
        # (y_j = 0 for j >= z). At z: the product of the x_i before z (y_{z-1}) times
        # sum_{j>=z} g_j prod_{z<i<=j} x_i, a cumprod with the x_i up to z set to 1. After z
        # every product holds x_z = 0.
        zero = x == 0
        zeros_upto = cumsum(zero, a)
        before = zeros_upto == 0
        upto = (zeros_upto - zero.to(zeros_upto._dtype)) == 0
        r = where(before, rev_cumsum(g * y) / where(before, x, 1.0), 0.0)
        s = rev_cumsum(g * cumprod(where(upto, 1.0, x), a))
        r = r + where(zero & upto, _exclusive_cumprod(x, a, reverse=False) * s, 0.0)
        return r, None, None


def _cumprod_backward_twice_differentiable(g, x, y, a, rev_cumsum):
    """cumprod's gradient as a composition of differentiable ops: reversed cumsum over x when
    x has no zero, else O(n^2) exclusive products (PyTorch makes the same choice)."""
    from .binary import where
    from .creation import arange
    from .shape import cat

    if not bool((x == 0).any()):
        return rev_cumsum(g * y) / x
    n = x._data.shape[a]
    shape = [1] * x.ndim
    shape[a] = n
    pos = arange(n, device=x._device).reshape(shape)
    parts = []
    for k in range(n):  # dy_j/dx_k = prod_{i<=j, i!=k} x_i for j >= k
        cp = cumprod(where(pos == k, 1.0, x), a)
        parts.append((g * cp).narrow(a, k, n - k).sum(a, keepdim=True))
    return cat(parts, a)


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
