"""The softmax family: fused forward and backward kernels, differentiable twice."""

from __future__ import annotations

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, wrap_dim
from .reduction import _pretty

__all__ = ["softmax", "log_softmax"]


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
        return make_tensor(
            D.backend_of(y).softmax_backward(y._data, g._data, axis), y._dtype, y._device
        )

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
        return make_tensor(
            D.backend_of(y).log_softmax_backward(y._data, g._data, axis), y._dtype, y._device
        )

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

        warnings.warn(
            f"Implicit dimension choice for {op} has been deprecated. Change the call to include "
            "dim=X as an argument.",
            stacklevel=3,
        )
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
