"""Loss functions of ``nn.functional``.

``cross_entropy`` is the fused ``log_softmax`` kernel followed by one ``nll_loss`` graph node;
``binary_cross_entropy_with_logits`` uses the stable ``(1-y)x + w_pos·softplus(-x)`` form.
Argument checks and error messages follow PyTorch.
"""

from __future__ import annotations

import math
import warnings

import deepforge
from deepforge import Tensor
from deepforge.autograd import Function
from deepforge.ops.nll import nll_loss_rows
from deepforge.ops.selection import Gather, Scatter, check_index_range, check_value_range

from .. import _reduction as _R

__all__ = [
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "nll_loss",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "poisson_nll_loss",
    "gaussian_nll_loss",
]

_SCALAR_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "float16": "Half",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
}


def _scalar_name(dtype) -> str:
    return _SCALAR_NAMES.get(dtype.name if hasattr(dtype, "name") else str(dtype), str(dtype))


def _size(shape) -> str:
    return f"torch.Size([{', '.join(str(s) for s in shape)}])"


def _check_weight_dtype(input: Tensor, weight) -> None:
    if weight is not None and weight.dtype is not input.dtype:
        raise RuntimeError(
            f"expected scalar type {_scalar_name(input.dtype)} but found "
            f"{_scalar_name(weight.dtype)}"
        )


def _warn_size(input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({_size(target.shape)}) that is different to the input size "
            f"({_size(input.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def _weighted(loss: Tensor, weight, reduction: str) -> Tensor:
    if weight is None:
        return _R.reduce(loss, reduction)
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError("Weights and input must have the same size.")
    wl = loss * weight
    if reduction == "mean":
        return wl.sum() / weight.sum()
    if reduction not in ("sum", "none"):
        raise ValueError(
            f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', 'sum'."
        )
    return _R.reduce(wl, reduction)


# -- regression losses ------------------------------------------------------------------------
def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    _warn_size(input, target)
    reduction = _R.resolve(size_average, reduce, reduction)
    _R.get_enum(reduction)
    return _weighted((input - target).square(), weight, reduction)


def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    _warn_size(input, target)
    reduction = _R.resolve(size_average, reduce, reduction)
    _R.get_enum(reduction)
    return _weighted((input - target).abs(), weight, reduction)


def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    _warn_size(input, target)
    reduction = _R.resolve(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    d = input - target
    z = d.abs()
    if beta == 0.0:
        return _R.reduce(z, reduction)
    return _R.reduce(deepforge.where(z < beta, (0.5 / beta) * d * d, z - 0.5 * beta), reduction)


def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    _warn_size(input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    d = input - target
    z = d.abs()
    loss = deepforge.where(z < delta, 0.5 * d * d, delta * (z - 0.5 * delta))
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError("Weights and input must have the same size.")
        loss = loss * weight
    return _R.reduce(loss, reduction)


# -- classification ---------------------------------------------------------------------------
class _NLL(Function):
    """Weighted negative log-likelihood of the picked class, reduced; one graph node."""

    @staticmethod
    def forward(ctx, logp, index, w, reduction):
        # index: the targets _nll_prepare checked, ignored ones replaced by 0; no second check
        picked = Gather.apply(logp, 1, index).squeeze(1)
        loss = -picked * w
        ctx.save_for_backward(index, w)
        ctx.shape, ctx.reduction = tuple(logp.shape), reduction
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return total
        ctx.denom = w.sum()
        return total / ctx.denom

    @staticmethod
    def backward(ctx, g):
        index, w = ctx.saved_tensors
        if ctx.reduction == "mean":
            g = g / ctx.denom
        coef = (-w * g).unsqueeze(1)
        zeros = deepforge.zeros(ctx.shape, dtype=coef.dtype, device=coef.device)
        return Scatter.apply(zeros, 1, index, coef, None), None, None, None


def _nll_prepare(input: Tensor, target: Tensor, weight, ignore_index: int):
    """Check shapes/dtypes/bounds as PyTorch does; return (logp, index, per-element weight),
    or for a 2-D input (logp, int64 targets, None): nll_loss_rows takes it from there."""
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if input.ndim == 1:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if target.ndim == 1 and target.shape[0] != 1:
            raise ValueError(
                f"Expected input batch_size (1) to match target batch_size ({target.shape[0]})."
            )
        input, target = input.unsqueeze(0), target.reshape(1)
    elif input.ndim == 2 and target.ndim != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target.shape[0] != input.shape[0]:
        raise ValueError(
            f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
            f"({target.shape[0]})."
        )
    if input.ndim > 2:
        want = (input.shape[0],) + tuple(input.shape[2:])
        if tuple(target.shape) != want:
            raise RuntimeError(f"Expected target size {list(want)}, got {list(target.shape)}")
    if target.dtype not in (deepforge.int64, deepforge.uint8):
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {_scalar_name(target.dtype)}"
        )
    n_classes = input.shape[1]
    _check_weight_dtype(input, weight)
    if weight is not None and weight.numel() != n_classes:
        raise RuntimeError(
            f"weight tensor should be defined either for all {n_classes} classes or no classes but "
            f"got weight tensor of shape: {list(weight.shape)}"
        )
    check_index_range(
        target, 0, n_classes, IndexError, "Target {index} is out of bounds.",
        ignore=ignore_index, first=True,
    )
    if input.ndim == 2:  # the backend's nll kernels: nll_loss calls nll_loss_rows
        return input, target.long(), None
    t = target.long()
    valid = t != ignore_index
    safe = deepforge.where(valid, t, 0)
    if weight is None:
        w = valid.to(input.dtype)
    else:
        w = (
            weight.detach().to(input.dtype).index_select(0, safe.reshape(-1)).reshape(safe.shape)
            * valid
        )
    return input, safe.unsqueeze(1), w


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _R.resolve(size_average, reduce, reduction)
    _R.get_enum(reduction)
    squeeze = input.ndim == 1
    logp, index, w = _nll_prepare(input, target, weight, ignore_index)
    if w is None:  # (N, C): one kernel each way
        out = nll_loss_rows(logp, index, weight, ignore_index, reduction)
    else:
        out = _NLL.apply(logp, index, w, reduction)
    return out.squeeze(0) if (squeeze and reduction == "none") else out


def _class_weight(weight: Tensor, ndim: int, class_dim: int) -> Tensor:
    shape = [1] * ndim
    shape[class_dim] = weight.shape[0]
    return weight.reshape(shape)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """log_softmax over the class dimension (dim 1, or 0 for unbatched input) + NLL.

    ``target`` holds class indices (int64, shape without the class dimension) or class
    probabilities (floating, same shape as ``input``).
    """
    reduction = _R.resolve(size_average, reduce, reduction)
    _R.get_enum(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    logp = deepforge.log_softmax(input, class_dim)
    n_classes = input.shape[class_dim] if input.ndim else 1
    if tuple(input.shape) == tuple(target.shape):
        if not target.dtype.is_floating_point:
            raise RuntimeError(
                "Expected floating point type for target with class probabilities, got "
                f"{_scalar_name(target.dtype)}"
            )
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        t = (
            target * (1 - label_smoothing) + label_smoothing / n_classes
            if label_smoothing > 0
            else target
        )
        prod = logp * t
        if weight is not None:
            prod = prod * _class_weight(weight, input.ndim, class_dim)
        if reduction == "none":
            return -prod.sum(class_dim)
        if reduction == "sum":
            return -prod.sum()
        return (
            -prod.sum() / (input.numel() / n_classes) if input.numel() else -prod.sum() * math.nan
        )
    loss = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if label_smoothing <= 0.0:
        return loss
    ignore = target == ignore_index
    lw = logp * _class_weight(weight, input.ndim, class_dim) if weight is not None else logp
    smooth = deepforge.where(ignore, 0.0, -lw.sum(class_dim))
    if reduction == "mean":
        if weight is not None:
            safe = deepforge.where(ignore, 0, target.long())
            denom = (weight.index_select(0, safe.reshape(-1)).reshape(safe.shape) * ~ignore).sum()
        else:
            denom = (~ignore).sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * loss + smooth * (label_smoothing / n_classes)


class _BCE(Function):
    """Binary cross entropy on probabilities; logs clamped at -100, gradient as PyTorch's."""

    @staticmethod
    def forward(ctx, x, y, w):
        ctx.save_for_backward(x, y, w)
        lx = x.log().clamp_min(-100.0)
        l1x = (-x).log1p().clamp_min(-100.0)
        loss = -(y * lx + (1 - y) * l1x)
        return loss * w if w is not None else loss

    @staticmethod
    def backward(ctx, g):
        x, y, w = ctx.saved_tensors
        gw = g * w if w is not None else g
        nx, ny, _ = ctx.needs_input_grad
        gx = gw * (x - y) / (x * (1 - x)).clamp_min(1e-12) if nx else None
        gy = gw * ((-x).log1p() - x.log()) if ny else None
        return gx, gy, None


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _R.resolve(size_average, reduce, reduction)
    _R.get_enum(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({_size(target.shape)}) that is different to the input size "
            f"({_size(input.shape)}) is deprecated. Please ensure they have the same size."
        )
    if target.dtype is not input.dtype:
        raise RuntimeError(
            f"Found dtype {_scalar_name(target.dtype)} but expected {_scalar_name(input.dtype)}"
        )
    check_value_range(input, 0, 1, RuntimeError, "all elements of input should be between 0 and 1")
    if weight is not None:
        weight = weight.expand(deepforge.broadcast_shapes(tuple(target.shape), tuple(weight.shape)))
    return _R.reduce(_BCE.apply(input, target, weight), reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    reduction = _R.resolve(size_average, reduce, reduction)
    _R.get_enum(reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({_size(target.shape)}) must be the same as input size "
            f"({_size(input.shape)})"
        )
    if not target.dtype.is_floating_point:
        raise RuntimeError(
            f"result type {_scalar_name(input.dtype)} can't be cast to the desired output type "
            f"{_scalar_name(target.dtype)}"
        )
    sp = deepforge.softplus(-input)  # log(1 + exp(-x)), stable for any x
    if pos_weight is not None:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * sp
    else:
        loss = (1 - target) * input + sp
    if weight is not None:
        loss = loss * weight
    return _R.reduce(loss, reduction)


def kl_div(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    if size_average is not None or reduce is not None:
        reduction = _R.legacy_get_string(size_average, reduce)
    elif reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
    if not (input.dtype.is_floating_point and target.dtype.is_floating_point):
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = deepforge.xlogy(target, target) - target * input
    if reduction == "batchmean":
        s = loss.sum()
        return s / input.shape[0] if input.ndim else s
    _R.get_enum(reduction)
    return _R.reduce(loss, reduction)


def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    reduction = _R.resolve(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        # target's gradient flows through the Stirling term where it applies (target > 1)
        big = target > 1
        safe = deepforge.where(big, target, 1.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + deepforge.where(big, stirling, 0.0)
    return _R.reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * deepforge.ones_like(input)
    else:  # NaN passes, as in PyTorch's any(var < 0)
        check_value_range(var, 0, float("inf"), ValueError, "var has negative entry/entries",
                          nan_ok=True)
    if not var.dtype.is_floating_point:
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type {_scalar_name(var.dtype)}"
        )
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif (
            input.ndim == var.ndim and sum(y for x, y in zip(input.shape, var.shape) if x != y) == 1
        ):
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with deepforge.no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _R.reduce(loss, reduction)
