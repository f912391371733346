"""Activation functions of ``nn.functional``.

Piecewise activations are ``Function``s whose backward uses PyTorch's convention at the
kinks (e.g. ``hardtanh``'s gradient is 0 at ``min_val``); smooth ones reuse deepforge's
unary ops. Every backward is written with Tensor ops, so it runs on every backend and can be
differentiated again.
"""

from __future__ import annotations

import warnings

import deepforge
from deepforge import Tensor
from deepforge.autograd import Function

__all__ = [
    "relu",
    "relu_",
    "relu6",
    "leaky_relu",
    "leaky_relu_",
    "prelu",
    "rrelu",
    "rrelu_",
    "elu",
    "elu_",
    "selu",
    "selu_",
    "celu",
    "celu_",
    "gelu",
    "silu",
    "mish",
    "sigmoid",
    "tanh",
    "hardtanh",
    "hardtanh_",
    "hardsigmoid",
    "hardswish",
    "softplus",
    "softsign",
    "tanhshrink",
    "threshold",
    "threshold_",
    "softmax",
    "log_softmax",
    "softmin",
    "glu",
    "logsigmoid",
    "softshrink",
    "hardshrink",
    "gumbel_softmax",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _write_inplace(input: Tensor, fn, *args) -> Tensor:
    """``fn(input, *args)`` written back into ``input`` (the ``inplace=True`` variants)."""
    src = input.clone() if (input.requires_grad and deepforge.is_grad_enabled()) else input
    return input.copy_(fn(src, *args))


# -- piecewise-linear family ------------------------------------------------------------------
class _Threshold(Function):
    """y = x where x > threshold, else value."""

    @staticmethod
    def forward(ctx, x, th, value):
        mask = x > th
        ctx.save_for_backward(mask)
        return deepforge.where(mask, x, value)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return deepforge.where(mask, g, 0.0), None, None


class _LeakyReLU(Function):
    @staticmethod
    def forward(ctx, x, slope):
        mask = x > 0
        ctx.save_for_backward(mask)
        ctx.slope = slope
        return deepforge.where(mask, x, x * slope)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return deepforge.where(mask, g, g * ctx.slope), None


class _Hardtanh(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward((x > lo) & (x < hi))
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return deepforge.where(mask, g, 0.0), None, None


class _Hardsigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward((x > -3.0) & (x < 3.0))
        return (x / 6.0 + 0.5).clamp(0.0, 1.0)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return deepforge.where(mask, g / 6.0, 0.0)


class _Hardswish(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * (x + 3.0).clamp(0.0, 6.0) / 6.0

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        inner = deepforge.where(x < 3.0, g * (x / 3.0 + 0.5), g)
        return deepforge.where(x <= -3.0, 0.0, inner)


# -- exponential family -----------------------------------------------------------------------
class _ELU(Function):
    """y = scale*x (x > 0) or scale*alpha*(exp(x*input_scale) - 1): ELU, SELU and CELU."""

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        mask = x > 0
        neg = (x * input_scale if input_scale != 1.0 else x).expm1() * (scale * alpha)
        y = deepforge.where(mask, x * scale if scale != 1.0 else x, neg)
        ctx.save_for_backward(mask, y)
        ctx.coef = (alpha, scale, input_scale)
        return y

    @staticmethod
    def backward(ctx, g):
        mask, y = ctx.saved_tensors
        alpha, scale, input_scale = ctx.coef
        neg = g * ((y + scale * alpha) * input_scale)
        return deepforge.where(mask, g * scale, neg), None, None, None


class _Softplus(Function):
    @staticmethod
    def forward(ctx, x, beta, threshold):
        z = x * beta if beta != 1.0 else x
        sp = deepforge.softplus(z)
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        return deepforge.where(z > threshold, x, sp / beta if beta != 1.0 else sp)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        z = x * ctx.beta if ctx.beta != 1.0 else x
        return deepforge.where(z > ctx.threshold, g, g * z.sigmoid()), None, None


class _Mish(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * deepforge.softplus(x).tanh()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        t = deepforge.softplus(x).tanh()
        return g * (t + x * x.sigmoid() * (1.0 - t * t))


# -- public functions -------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return deepforge.relu_(input) if inplace else deepforge.relu(input)


def relu_(input: Tensor) -> Tensor:
    return deepforge.relu_(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    if inplace:
        return _write_inplace(input, _Threshold.apply, threshold, value)
    return _Threshold.apply(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _write_inplace(input, _Threshold.apply, threshold, value)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return _write_inplace(input, _Hardtanh.apply, min_val, max_val)
    return _Hardtanh.apply(input, min_val, max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    if inplace:
        return _write_inplace(input, _LeakyReLU.apply, negative_slope)
    return _LeakyReLU.apply(input, negative_slope)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    channels = input.shape[1] if input.ndim >= 2 else 1
    n = weight.numel()
    if n != 1 and n != channels:
        raise RuntimeError(
            "Mismatch of parameter numbers and input channel size. Found parameter numbers = "
            f"{n} and channel size = {channels}."
        )
    w = weight.reshape(()) if n == 1 else weight.reshape((n,) + (1,) * (input.ndim - 2))
    return deepforge.where(input > 0, input, w * input)


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    noise = deepforge.empty_like(input.detach()).uniform_(lower, upper)
    slope = deepforge.where(input.detach() > 0, 1.0, noise)
    if inplace:
        return _write_inplace(input, lambda x: x * slope)
    return input * slope


def rrelu_(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False
) -> Tensor:
    return rrelu(input, lower, upper, training, inplace=True)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if inplace:
        return _write_inplace(input, _ELU.apply, alpha, 1.0, 1.0)
    return _ELU.apply(input, alpha, 1.0, 1.0)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    if inplace:
        return _write_inplace(input, _ELU.apply, _SELU_ALPHA, _SELU_SCALE, 1.0)
    return _ELU.apply(input, _SELU_ALPHA, _SELU_SCALE, 1.0)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    if inplace:
        return _write_inplace(input, _ELU.apply, alpha, 1.0, 1.0 / alpha)
    return _ELU.apply(input, alpha, 1.0, 1.0 / alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    if approximate == "none":
        return deepforge.gelu(input)
    if approximate == "tanh":
        return deepforge.gelu_tanh(input)
    raise RuntimeError("approximate argument must be either none or tanh.")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return _write_inplace(input, deepforge.silu) if inplace else deepforge.silu(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return _write_inplace(input, _Mish.apply) if inplace else _Mish.apply(input)


def sigmoid(input: Tensor) -> Tensor:
    return deepforge.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    return deepforge.tanh(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    return _write_inplace(input, _Hardsigmoid.apply) if inplace else _Hardsigmoid.apply(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    return _write_inplace(input, _Hardswish.apply) if inplace else _Hardswish.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return _Softplus.apply(input, beta, threshold)


def softsign(input: Tensor) -> Tensor:
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    return input - input.tanh()


def logsigmoid(input: Tensor) -> Tensor:
    return -deepforge.softplus(-input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    inner = deepforge.where(input < -lambd, input + lambd, 0.0)
    return deepforge.where(input > lambd, input - lambd, inner)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return deepforge.where((input >= -lambd) & (input <= lambd), 0.0, input)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[dim]
    if size % 2:
        d = dim % input.ndim
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        stacklevel=stacklevel,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = _get_softmax_dim("softmax", input.ndim, _stacklevel)
    return deepforge.softmax(input, dim, dtype=dtype)


def softmin(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = _get_softmax_dim("softmin", input.ndim, _stacklevel)
    x = input if dtype is None else input.to(dtype)
    return deepforge.softmax(-x, dim)


def log_softmax(input: Tensor, dim=None, _stacklevel: int = 3, dtype=None) -> Tensor:
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.ndim, _stacklevel)
    return deepforge.log_softmax(input, dim, dtype=dtype)


def gumbel_softmax(
    logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10, dim: int = -1
) -> Tensor:
    """Samples from the Gumbel-softmax distribution; ``hard=True`` returns one-hot samples with
    the soft sample's gradient (straight-through)."""
    gumbels = -deepforge.empty_like(logits.detach()).exponential_().log()
    y_soft = deepforge.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = deepforge.zeros_like(logits.detach()).scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
