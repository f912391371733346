"""nll_loss on (N, C) log-probabilities as one backend kernel each way (``nll_forward`` /
``nll_backward``): the loss of a classifier's training step in one launch forward and one
backward instead of about a dozen small ops. ``nn.functional.nll_loss`` (and through it
``cross_entropy``) calls ``nll_loss_rows`` after its checks of shapes, dtypes and targets."""

from __future__ import annotations

from ..autograd.function import Function
from ..autograd.grad_mode import STATE
from ..tensor import Tensor, make_tensor
from . import _dispatch as D

__all__ = ["nll_loss_rows"]


class NLLLossRows(Function):
    @staticmethod
    def forward(ctx, logp, target, weight, ignore_index, reduction):
        be = D.backend_of(logp)
        w = None if weight is None else weight._data
        out, total = be.nll_forward(logp._data, target._data, w, ignore_index, reduction)
        ctx.n, ctx.c = logp._data.shape
        ctx.ignore_index, ctx.reduction = ignore_index, reduction
        ctx.total = None if total is None else make_tensor(total, logp._dtype, logp._device)
        ctx.save_for_backward(target, weight)
        return make_tensor(out, logp._dtype, logp._device)

    @staticmethod
    def backward(ctx, g):
        target, weight = ctx.saved_tensors
        if STATE.enabled:  # create_graph: a composition of differentiable ops
            return _composed_backward(ctx, g, target, weight), None, None, None, None
        be = D.backend_of(g)
        gx = be.nll_backward(g._data, target._data, None if weight is None else weight._data,
                             ctx.ignore_index, ctx.reduction,
                             None if ctx.total is None else ctx.total._data, ctx.n, ctx.c,
                             g._dtype.np)  # fmt: skip
        return make_tensor(gx, g._dtype, g._device), None, None, None, None


def _composed_backward(ctx, g, target, weight):
    from .creation import ones, zeros
    from .selection import Scatter, index_select
    from .ternary import where

    valid = (target != ctx.ignore_index) & (target >= 0) & (target < ctx.c)
    safe = where(valid, target, 0)
    w = ones(ctx.n, dtype=g._dtype, device=g._device) if weight is None else (
        index_select(weight.to(g._dtype), 0, safe))  # fmt: skip
    w = where(valid, w, 0.0)
    if ctx.reduction == "mean":
        g = g / ctx.total
    base = zeros((ctx.n, ctx.c), dtype=g._dtype, device=g._device)
    return Scatter.apply(base, 1, safe.unsqueeze(1), (-w * g).unsqueeze(1), None)


def nll_loss_rows(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                  reduction: str) -> Tensor:
    """nll_loss of (N, C) ``logp`` against int64 (N,) ``target`` whose values the caller has
    checked (each in [0, C) or ignore_index), class ``weight`` (C,) or None."""
    if weight is not None:
        weight = weight.detach().to(logp._dtype)
    return NLLLossRows.apply(logp, target, weight, ignore_index, reduction)
