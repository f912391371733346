"""``scatter_reduce`` (sum, prod, mean, amax, amin; with or without ``input``'s own values)
and its gradients, which follow PyTorch's: ties of amax/amin share the gradient evenly, mean
divides by the number of reduced values, prod handles zeros exactly."""

from __future__ import annotations

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..autograd.grad_mode import STATE
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call
from .selection import _scatter_checked, gather, scatter, scatter_add

__all__ = ["scatter_reduce"]

_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _identity(reduce: str, d: dt.dtype):
    """The value a reduction starts from when ``input``'s own values are left out."""
    if reduce == "prod":
        return True if d is dt.bool_ else 1
    if d is dt.bool_:
        return reduce == "amin"
    if d.is_floating_point:
        return -np.inf if reduce == "amax" else np.inf
    info = np.iinfo(d.np)  # integers have no infinity: the extreme value is the identity
    return int(info.min) if reduce == "amax" else int(info.max)


class ScatterReduce(Function):
    """prod/amax/amin of the values scattered onto each position of ``x`` (and of ``x``
    itself when ``include_self``); ``src`` has the index's shape."""

    @staticmethod
    def forward(ctx, x, axis, idx, src, reduce, include_self):
        be = D.backend_of(x)
        out = be.clone(x._data)
        if not include_self:
            be.scatter_(out, axis, idx._data, _identity(reduce, x._dtype), None)
        be.scatter_(out, axis, idx._data, src._data, reduce)
        y = make_tensor(out, x._dtype, x._device)
        ctx.axis, ctx.reduce, ctx.include_self = axis, reduce, include_self
        ctx.save_for_backward(x, idx, src, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, idx, src, y = ctx.saved_tensors
        axis, include_self = ctx.axis, ctx.include_self
        if ctx.reduce == "prod":
            gx, gsrc = _prod_backward(g, x, axis, idx, src, y, include_self)
        else:
            # the gradient is shared evenly by every value equal to the extreme
            x_hit = (x == y).to(g._dtype)
            if not include_self:  # x's own values took no part where something was scattered
                x_hit = scatter(x_hit, axis, idx, 0.0)
            src_hit = (src == gather(y, axis, idx)).to(g._dtype)
            share = g / scatter_add(x_hit, axis, idx, src_hit)
            gx = x_hit * share
            gsrc = src_hit * gather(share, axis, idx)
        nx, _, _, nsrc, _, _ = ctx.needs_input_grad
        return gx if nx else None, None, None, gsrc if nsrc else None, None, None


def _prod_backward(g, x, axis, idx, src, y, include_self):
    """PyTorch's exact product gradient: each factor's gradient is the product of the other
    factors, computed without dividing by a zero factor."""
    from .creation import zeros_like
    from .ternary import where

    # x: the product of the scattered values alone (x's zeros masked to 1, then divided out)
    x_masked = x.masked_fill(x == 0, 1.0)
    gx = g * scatter_reduce(x_masked, axis, idx, src, "prod", include_self=include_self) / x_masked
    if not include_self:
        gx = scatter(gx, axis, idx, 0.0)
    # src: result / src, except for a zero that is the only zero at its position, whose
    # gradient is the product of the others (with it replaced by 1)
    src_zero = src == 0
    n_zero = gather(scatter_add(zeros_like(x), axis, idx, src_zero.to(x._dtype)), axis, idx)
    lone_zero = src_zero & (n_zero == 1)
    others = scatter_reduce(
        x, axis, idx, src.masked_fill(lone_zero, 1.0), "prod", include_self=include_self
    )
    gsrc = where(
        lone_zero,
        gather(g * others, axis, idx),
        gather(g * y, axis, idx) / src.masked_fill(src_zero, 1.0),
    )
    if STATE.enabled and gsrc._rg and bool((n_zero > 1).any()):
        # with several zeros at one position the formula above has the right value but not
        # the right derivative (PyTorch refuses the same case)
        gsrc = call(_NoDoubleBackward, gsrc)
    return gx, gsrc


class _NoDoubleBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        raise RuntimeError(
            "scatter_reduce(): Double backward is unsupported for src when >1 zeros in src are "
            "scattered to the same position in self"
        )


def scatter_reduce(
    input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """Reduce ``src`` into ``input`` at ``index`` along ``dim`` (``Tensor.scatter_reduce``)."""
    if reduce not in _REDUCTIONS:
        raise RuntimeError(
            f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}"
        )
    if not isinstance(src, Tensor):
        raise TypeError(
            f"scatter_reduce(): argument 'src' must be Tensor, not {type(src).__name__}"
        )
    axis, index = _scatter_checked("scatter_reduce", input, dim, index, src, reduce)
    if input._dtype is not src._dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if reduce == "sum":
        base = input if include_self else scatter(input, axis, index, 0.0)
        return scatter_add(base, axis, index, src)
    if reduce == "mean":
        from .creation import ones_like

        total = scatter_reduce(input, axis, index, src, "sum", include_self=include_self)
        own = ones_like(input) if include_self else scatter(ones_like(input), axis, index, 0.0)
        count = scatter_add(own, axis, index, ones_like(src)).clamp(min=1)
        if input._dtype.is_floating_point:
            return total / count
        return total.div(count, rounding_mode="floor")  # PyTorch floors integer means
    if src.ndim and src._data.shape != index._data.shape:
        # only src's leading corner (the index's shape) takes part; slicing it keeps the
        # gradient of the rest zero
        src = src[tuple(slice(0, n) for n in index._data.shape)]
    return call(ScatterReduce, input, axis, index, src, reduce, include_self)
