"""PyTorch's top-level ``torch.<nn op>`` functions (``torch.conv2d``, ``torch.layer_norm``, ...).

They are the ATen signatures, which differ from ``torch.nn.functional``'s in places: losses take
``reduction`` as an int (0 none, 1 mean, 2 sum), ``batch_norm`` takes the weight before the
running statistics, ``embedding`` takes the weight first, dropout takes ``(input, p, train)``
with no defaults. Each one forwards to ``deepforge.nn.functional``, imported when first called
(``deepforge.nn`` imports ``deepforge``, so it cannot be imported while ``deepforge`` loads).
"""

from __future__ import annotations

from .tensor import Tensor

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "convolution",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "max_pool1d_with_indices",
    "avg_pool1d",
    "adaptive_avg_pool1d",
    "adaptive_max_pool1d",
    "dropout",
    "dropout_",
    "alpha_dropout",
    "alpha_dropout_",
    "feature_alpha_dropout",
    "feature_alpha_dropout_",
    "feature_dropout",
    "feature_dropout_",
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "rms_norm",
    "embedding",
    "bilinear",
    "celu",
    "celu_",
    "selu",
    "selu_",
    "rrelu",
    "rrelu_",
    "threshold",
    "threshold_",
    "hardshrink",
    "prelu",
    "pixel_shuffle",
    "pixel_unshuffle",
    "channel_shuffle",
    "native_channel_shuffle",
    "pairwise_distance",
    "cosine_similarity",
    "kl_div",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "hinge_embedding_loss",
    "margin_ranking_loss",
    "triplet_margin_loss",
    "poisson_nll_loss",
    "constant_pad_nd",
]


def _F():
    from .nn import functional

    return functional


_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(op: str, reduction, position: int) -> str:
    """ATen's int reduction code as the functional API's string."""
    if isinstance(reduction, bool) or not isinstance(reduction, int):
        raise TypeError(
            f"{op}(): argument 'reduction' (position {position}) must be int, not "
            f"{type(reduction).__name__}"
        )
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}(): {reduction} is not a valid value for reduction")
    return _REDUCTIONS[reduction]


def _stride(stride):
    # ATen's default ``stride=[]`` means "the kernel size", the functional API's None
    return None if stride is None or (isinstance(stride, (list, tuple)) and not stride) else stride


# -- convolution -------------------------------------------------------------------------------
def conv1d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _F().conv1d(input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _F().conv2d(input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return _F().conv3d(input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
) -> Tensor:
    return _F().conv_transpose1d(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
) -> Tensor:
    return _F().conv_transpose2d(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(
    input: Tensor,
    weight: Tensor,
    bias=None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
) -> Tensor:
    return _F().conv_transpose3d(
        input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def convolution(
    input: Tensor,
    weight: Tensor,
    bias,
    stride,
    padding,
    dilation,
    transposed: bool,
    output_padding,
    groups: int,
) -> Tensor:
    """The generic ``aten::convolution``: the spatial rank comes from the weight's."""
    nd = weight.ndim - 2
    if nd not in (1, 2, 3):
        raise RuntimeError(
            f"convolution: expected a 3-D, 4-D or 5-D weight, but got weight of shape "
            f"{list(weight.shape)}"
        )
    F = _F()
    if transposed:
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
        return fn(input, weight, bias, stride, padding, output_padding, groups, dilation)
    fn = (F.conv1d, F.conv2d, F.conv3d)[nd - 1]
    return fn(input, weight, bias, stride, padding, dilation, groups)


# -- pooling -----------------------------------------------------------------------------------
def max_pool1d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _F().max_pool1d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool2d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _F().max_pool2d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool3d(input: Tensor, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    return _F().max_pool3d(input, kernel_size, _stride(stride), padding, dilation, ceil_mode)


def max_pool1d_with_indices(
    input: Tensor, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False
) -> tuple[Tensor, Tensor]:
    return _F().max_pool1d(
        input, kernel_size, _stride(stride), padding, dilation, ceil_mode, return_indices=True
    )


def avg_pool1d(
    input: Tensor, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True
) -> Tensor:
    return _F().avg_pool1d(
        input, kernel_size, _stride(stride), padding, ceil_mode, count_include_pad
    )


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    return _F().adaptive_avg_pool1d(input, output_size)


def adaptive_max_pool1d(input: Tensor, output_size) -> tuple[Tensor, Tensor]:
    """``torch.adaptive_max_pool1d`` always returns ``(values, indices)``."""
    return _F().adaptive_max_pool1d(input, output_size, return_indices=True)


# -- dropout (ATen: ``(input, p, train)``, no defaults) ----------------------------------------
def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return _F().dropout(input, p, train)


def dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return _F().dropout(input, p, train, inplace=True)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return _F().alpha_dropout(input, p, train)


def alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return _F().alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    return _F().feature_alpha_dropout(input, p, train)


def feature_alpha_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    return _F().feature_alpha_dropout(input, p, train, inplace=True)


def _feature_mask(input: Tensor, p: float, op: str) -> Tensor:
    """One keep-or-drop draw per (sample, channel), scaled by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim < 2:
        raise RuntimeError(
            f"{op}: Feature dropout requires at least 2 dimensions in the input, got input of "
            f"shape {list(input.shape)}"
        )
    from .ops.creation import empty

    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    keep = empty(shape, dtype=input.dtype, device=input.device).bernoulli_(1.0 - p)
    return keep if p == 1.0 else keep.div_(1.0 - p)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Channel dropout for any input with a (N, C, ...) layout (``torch.feature_dropout``)."""
    if not train or p == 0.0:
        return input
    return input * _feature_mask(input, p, "feature_dropout")


def feature_dropout_(input: Tensor, p: float, train: bool) -> Tensor:
    if not train or p == 0.0:
        return input
    return input.mul_(_feature_mask(input, p, "feature_dropout_"))


# -- normalization -----------------------------------------------------------------------------
def batch_norm(
    input: Tensor,
    weight,
    bias,
    running_mean,
    running_var,
    training: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(
    input: Tensor,
    weight,
    bias,
    running_mean,
    running_var,
    use_input_stats: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    return _F().instance_norm(
        input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight=None,
    bias=None,
    eps: float = 1e-5,
    cudnn_enable: bool = True,
) -> Tensor:
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight=None,
    bias=None,
    eps: float = 1e-5,
    cudnn_enabled: bool = True,
) -> Tensor:
    return _F().group_norm(input, num_groups, weight, bias, eps)


def rms_norm(input: Tensor, normalized_shape, weight=None, eps=None) -> Tensor:
    return _F().rms_norm(input, normalized_shape, weight, eps)


# -- embedding, linear -------------------------------------------------------------------------
def embedding(
    weight: Tensor,
    indices: Tensor,
    padding_idx: int = -1,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """``aten::embedding``: weight first; ``padding_idx=-1`` means "no padding row"."""
    pad = None if padding_idx is None or padding_idx < 0 else padding_idx
    return _F().embedding(indices, weight, pad, None, 2.0, scale_grad_by_freq, sparse)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias=None) -> Tensor:
    return _F().bilinear(input1, input2, weight, bias)


# -- activations -------------------------------------------------------------------------------
def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    return _F().celu(input, alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return _F().celu_(input, alpha)


def selu(input: Tensor) -> Tensor:
    return _F().selu(input)


def selu_(input: Tensor) -> Tensor:
    return _F().selu_(input)


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    generator=None,
) -> Tensor:
    _no_generator("rrelu", generator)
    return _F().rrelu(input, lower, upper, training)


def rrelu_(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    generator=None,
) -> Tensor:
    _no_generator("rrelu_", generator)
    return _F().rrelu_(input, lower, upper, training)


def _no_generator(op: str, generator) -> None:
    if generator is not None:
        raise NotImplementedError(f"{op}: a generator argument is not supported by deepforge")


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    return _F().threshold(input, threshold, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _F().threshold_(input, threshold, value)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return _F().hardshrink(input, lambd)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    return _F().prelu(input, weight)


# -- rearrangement -----------------------------------------------------------------------------
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    return _F().pixel_shuffle(input, upscale_factor)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    return _F().pixel_unshuffle(input, downscale_factor)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    return _F().channel_shuffle(input, groups)


native_channel_shuffle = channel_shuffle


def constant_pad_nd(input: Tensor, pad, value=0) -> Tensor:
    return _F().pad(input, list(pad), "constant", value)


# -- distances and losses ----------------------------------------------------------------------
def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    return _F().pairwise_distance(x1, x2, p, eps, keepdim)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    return _F().cosine_similarity(x1, x2, dim, eps)


def kl_div(input: Tensor, target: Tensor, reduction: int = 1, *, log_target: bool = False):
    r = _reduction("kl_div", reduction, 3)
    return _F().kl_div(input, target, reduction=r, log_target=log_target)


def binary_cross_entropy_with_logits(
    input: Tensor, target: Tensor, weight=None, pos_weight=None, reduction: int = 1
) -> Tensor:
    r = _reduction("binary_cross_entropy_with_logits", reduction, 5)
    return _F().binary_cross_entropy_with_logits(
        input, target, weight, reduction=r, pos_weight=pos_weight
    )


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: int = 1
) -> Tensor:
    r = _reduction("cosine_embedding_loss", reduction, 5)
    return _F().cosine_embedding_loss(input1, input2, target, margin, reduction=r)


def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0, reduction: int = 1
) -> Tensor:
    r = _reduction("hinge_embedding_loss", reduction, 4)
    return _F().hinge_embedding_loss(input, target, margin, reduction=r)


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: int = 1
) -> Tensor:
    """ATen's version broadcasts the three inputs (the functional one requires equal ranks)."""
    r = _reduction("margin_ranking_loss", reduction, 5)
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return loss if r == "none" else loss.mean() if r == "mean" else loss.sum()


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: int = 1,
) -> Tensor:
    r = _reduction("triplet_margin_loss", reduction, 8)
    return _F().triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, reduction=r)


def poisson_nll_loss(
    input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float, reduction: int
) -> Tensor:
    r = _reduction("poisson_nll_loss", reduction, 6)
    return _F().poisson_nll_loss(input, target, log_input, full, eps=eps, reduction=r)
