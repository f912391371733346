"""Multi-label margin loss and the fused-in-PyTorch ``linear_cross_entropy``."""

from __future__ import annotations

import math
import warnings

import deepforge
from deepforge import Tensor
from deepforge.ops.selection import check_index_range

from .. import _reduction as _R
from ._linear import linear
from ._loss import _scalar_name, cross_entropy

__all__ = ["multilabel_margin_loss", "linear_cross_entropy"]


def multilabel_margin_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """``sum_{j in targets} sum_{i not in targets} max(0, 1 - (x[y_j] - x[i])) / C`` per sample.

    Each row of ``target`` lists class indices and ends at its first ``-1``; an index listed
    twice counts twice, as in PyTorch.
    """
    reduction = _R.resolve(size_average, reduce, reduction)
    if input.ndim > 2 or (input.ndim >= 1 and input.shape[-1] == 0):
        raise RuntimeError(
            "Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
            f"{list(input.shape)}"
        )
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}"
        )
    if target.dtype is not deepforge.int64:
        raise RuntimeError(f"expected scalar type Long but found {_scalar_name(target.dtype)}")
    n_classes = input.shape[-1] if input.ndim else 1
    check_index_range(target, -1, n_classes, RuntimeError, "argument #2 'target' is out of range")
    x = input.reshape(-1, n_classes)
    t = target.reshape(-1, n_classes)
    # positions before the first -1 of each row are the row's targets
    valid = (t == -1).long().cumsum(1) == 0
    classes = deepforge.arange(n_classes, device=input.device)
    is_target = ((t.unsqueeze(2) == classes) & valid.unsqueeze(2)).any(1)
    x_target = x.gather(1, t.clamp(min=0))
    margins = (1 - x_target.unsqueeze(2) + x.unsqueeze(1)).relu()  # (N, target j, class i)
    counted = valid.unsqueeze(2) & (~is_target).unsqueeze(1)
    loss = (margins * counted.to(x.dtype)).sum((1, 2)) / n_classes
    if input.ndim < 2:
        loss = loss.reshape(())
    return _R.reduce(loss, reduction)


def linear_cross_entropy(
    input: Tensor,
    linear_weight: Tensor,
    target: Tensor,
    *,
    linear_bias: Tensor | None = None,
    weight: Tensor | None = None,
    reduction: str = "mean",
    ignore_index: int | None = None,
    label_smoothing: float = 0.0,
    options=None,
) -> Tensor:
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)``.

    ``linear_weight`` is (num_classes, *out_features, in_features); with ``out_features`` the
    loss is K-dimensional over them. ``options`` (a ``LinearCrossEntropyOptions``) only selects
    how PyTorch chunks the batch to save memory; deepforge computes the same loss unchunked.
    """
    if input.ndim < 1 or input.ndim > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise RuntimeError(
            f"expected linear_weight with dimensionality at least 2, got {linear_weight.ndim}"
        )
    num_batches = tuple(input.shape[:-1])
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise RuntimeError(
            "expected equal input and linear_weight last dimensions (in_features), "
            f"got {input.shape[-1]} and {linear_weight.shape[-1]}, respectively"
        )
    num_classes = linear_weight.shape[0]
    out_features = tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise RuntimeError(
            f"expected linear_bias shape {(num_classes, *out_features)}, got "
            f"{tuple(linear_bias.shape)}"
        )
    if out_features and not num_batches:
        raise RuntimeError(
            f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight.shape)} "
            f"requires batched input, (N, {in_features}), got unbatched input with shape "
            f"{tuple(input.shape)}"
        )
    logits_shape = (*num_batches, num_classes, *out_features)
    if tuple(target.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = -100 if ignore_index is None else ignore_index
    if options is not None and (
        out_features
        or reduction not in {"mean", "sum", "none"}
        or label_smoothing != 0.0
        or target.dtype is not deepforge.int64
    ):
        warnings.warn(
            "linear_cross_entropy: ``options`` ignored; chunked path needs "
            "reduction in {'mean','sum','none'}, label_smoothing == 0, target.dtype"
            " == int64, out_features == (). Got "
            f"reduction={reduction!r}, label_smoothing={label_smoothing}, "
            f"target.dtype={target.dtype}, out_features={out_features}, tracing=False, "
            "linear_bias.shape="
            f"{tuple(linear_bias.shape) if linear_bias is not None else None}.",
            stacklevel=2,
        )
    if out_features:
        rows = math.prod(out_features, start=num_classes)
        linear_weight = linear_weight.reshape(rows, in_features)
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(rows)
    logits = linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return cross_entropy(
        logits,
        target,
        weight=weight,
        reduction=reduction,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
