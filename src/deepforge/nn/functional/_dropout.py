"""Dropout family. Masks come from deepforge's generator (``bernoulli``): same seed, same mask,
on every backend."""

from __future__ import annotations

import math
import warnings

import deepforge
from deepforge import Tensor
from deepforge.ops.random import keep_scale

__all__ = [
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
]

_SELU_NEG_SAT = 1.7580993408473766  # -SELU(-inf) = scale * alpha


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(input: Tensor, p: float, shape) -> Tensor:
    ref = input.detach()
    if tuple(shape) != tuple(input.shape):
        ref = deepforge.empty(shape, dtype=input.dtype, device=input.device)
    return deepforge.bernoulli(ref, 1.0 - p)


def _apply(input: Tensor, factor: Tensor, shift, inplace: bool) -> Tensor:
    if inplace:
        input.mul_(factor)
        return input.add_(shift) if shift is not None else input
    out = input * factor
    return out + shift if shift is not None else out


def _dropout_impl(
    input: Tensor, p: float, training: bool, inplace: bool, shape, alpha: bool
) -> Tensor:
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    if not alpha:  # the factor (mask / (1 - p)) in one op: one kernel on OpenCL
        factor = keep_scale(shape, 1.0 - p, 1.0 / (1.0 - p), dtype=input.dtype,
                            device=input.device)  # fmt: skip
        return _apply(input, factor, None, inplace)
    keep = _keep_mask(input, p, shape)
    a = 1.0 / math.sqrt((_SELU_NEG_SAT**2 * p + 1.0) * (1.0 - p))
    b = (keep - 1.0) * (_SELU_NEG_SAT * a) + _SELU_NEG_SAT * a * p
    return _apply(input, keep * a, b, inplace)


def _feature_shape_1d(input: Tensor):
    """Mask shape (N, C, 1) for batched input, (C, 1) for unbatched input."""
    nd = input.ndim
    if nd not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {nd}D input. Note that dropout1d "
            "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
            "dimension, and an optional batch dimension (i.e. 2D or 3D inputs)."
        )
    return tuple(input.shape[:2]) + (1,) if nd == 3 else (input.shape[0], 1)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``."""
    return _dropout_impl(input, p, training, inplace, input.shape, alpha=False)


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, _feature_shape_1d(input), False)


def _generic_feature_shape(input: Tensor):
    return (
        tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if input.ndim >= 2 else tuple(input.shape)
    )


def _warn_dims(name: str, ndim: int, ok, spatial: int) -> None:
    if ndim not in ok:
        warnings.warn(
            f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will result "
            "in an "
            "error in a future release. To retain the behavior and silence this warning, "
            "please use "
            f"dropout instead. Note that {name} exists to provide channel-wise dropout on "
            "inputs with "
            f"{spatial} spatial dimensions, a channel dimension, and an optional batch dimension "
            f"(i.e. {ok[0]}D or {ok[1]}D inputs).",
            stacklevel=3,
        )


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    _check_p(p)
    _warn_dims("dropout2d", input.ndim, (3, 4), 2)
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
            "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
            "dim. This behavior will change in a future release to interpret the input as one "
            "without a batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
            "dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _dropout_impl(input, p, training, inplace, _generic_feature_shape(input), False)


def dropout3d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    _check_p(p)
    _warn_dims("dropout3d", input.ndim, (4, 5), 3)
    shape = (input.shape[0], 1, 1, 1) if input.ndim == 4 else _generic_feature_shape(input)
    return _dropout_impl(input, p, training, inplace, shape, False)


def alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """Dropout that keeps SELU's self-normalising mean and variance."""
    return _dropout_impl(input, p, training, inplace, input.shape, alpha=True)


def feature_alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    return _dropout_impl(input, p, training, inplace, _generic_feature_shape(input), alpha=True)
