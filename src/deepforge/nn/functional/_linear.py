"""``linear``, ``bilinear``, ``embedding``, ``embedding_bag`` and ``one_hot``."""

from __future__ import annotations

import warnings

import deepforge
from deepforge import Tensor
from deepforge.autograd import Function
from deepforge.ops.selection import check_index_range

__all__ = ["linear", "bilinear", "embedding", "embedding_bag", "one_hot"]


# -- linear -----------------------------------------------------------------------------------
class _Linear(Function):
    """y = x @ W^T + b as one graph node: one GEMM forward, two GEMMs and a sum backward."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        if x.ndim == 1:
            y = w @ x
            return y if b is None else y + b
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        if b is not None and b.ndim == 1 and b.dtype is x.dtype and x2.shape[0]:
            y = deepforge.addmm(b, x2, w.t())  # the bias added inside the GEMM where it can be
        else:
            y = x2 @ w.t()
            if b is not None:
                y = y + b
        return y if x.ndim == 2 else y.reshape(x.shape[:-1] + (w.shape[0],))

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        gx = gw = gb = None
        if nx:
            gx = g @ w
        if nw or nb:
            g2 = g.reshape(-1, g.shape[-1])
            if nw:
                gw = g2.t() @ x.reshape(-1, x.shape[-1])
            if nb:
                gb = g2.sum(0)
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``; input (*, in_features), weight (out_features, in_features)."""
    if input.ndim == 0 or weight.ndim not in (1, 2):
        y = input @ weight.t()  # let matmul raise its own error
        return y if bias is None else y + bias
    if weight.ndim == 1:
        y = input @ weight
        return y if bias is None else y + bias
    k = input.shape[-1]
    if k != weight.shape[1]:
        rows = input.numel() // k if k else 0
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and "
            f"{weight.shape[1]}x{weight.shape[0]})"
        )
    return _Linear.apply(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y_k = x1^T W_k x2 + b_k`` for inputs (*, in1), (*, in2) and weight (out, in1, in2)."""
    if input1.ndim != input2.ndim:
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}"
        )
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(
            f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} and "
            f"{list(input2.shape[:-1])}"
        )
    if input1.shape[-1] != weight.shape[1]:
        raise RuntimeError(
            f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
            f"expected {weight.shape[1]}"
        )
    if input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(
            f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
            f"expected {weight.shape[2]}"
        )
    out_f, in1, in2 = weight.shape
    lead = input1.shape[:-1]
    a = input1.reshape(-1, in1)
    b = input2.reshape(-1, in2)
    t = a @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)  # (N, out*in2)
    y = (t.reshape(-1, out_f, in2) * b.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out_f,))


# -- embedding --------------------------------------------------------------------------------
class _Embedding(Function):
    """Row lookup; the backward scatters rows back, skipping ``padding_idx``."""

    @staticmethod
    def forward(ctx, weight, idx, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(idx)
        ctx.n = weight.shape[0]
        ctx.padding_idx = padding_idx
        ctx.scale = scale_grad_by_freq
        rows = weight.index_select(0, idx.reshape(-1))
        return rows.reshape(tuple(idx.shape) + (weight.shape[1],))

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        flat = idx.reshape(-1)
        g2 = g.reshape(-1, g.shape[-1])
        if ctx.padding_idx >= 0:
            g2 = g2 * (flat != ctx.padding_idx).unsqueeze(1).to(g2.dtype)
        if ctx.scale:
            counts = deepforge.zeros(ctx.n, dtype=g2.dtype, device=g2.device).index_add(
                0, flat, deepforge.ones(flat.shape, dtype=g2.dtype, device=g2.device)
            )
            g2 = g2 / counts.index_select(0, flat).unsqueeze(1)
        zeros = deepforge.zeros((ctx.n, g2.shape[1]), dtype=g2.dtype, device=g2.device)
        return zeros.index_add(0, flat, g2), None, None, None


def _check_indices(input: Tensor, op: str) -> None:
    if input.dtype not in (deepforge.int64, deepforge.int32):
        raise RuntimeError(
            f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
            f"Long, Int; but got {deepforge.typename(input)} instead (while checking arguments "
            f"for {op})"
        )


def _check_range(input: Tensor, n: int) -> None:
    check_index_range(input, 0, n, IndexError, "index out of range in self")


def _embedding_renorm_(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """Rescale, in place, the rows of ``weight`` used by ``input`` with norm above ``max_norm``."""
    with deepforge.no_grad():
        w = weight.detach()
        rows = deepforge.unique(input.reshape(-1))
        sel = w.index_select(0, rows)
        norms = sel.norm(norm_type, dim=1)
        scale = deepforge.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        w.index_copy_(0, rows, sel * scale.unsqueeze(1).to(sel.dtype))


def _padding_idx(padding_idx, n: int) -> int:
    if padding_idx is None:
        return -1
    if padding_idx > 0 and padding_idx >= n:
        raise AssertionError("Padding_idx must be within num_embeddings")
    if padding_idx < 0:
        if padding_idx < -n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = n + padding_idx
    return padding_idx


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, dim) at the integer ``input`` indices."""
    padding_idx = _padding_idx(padding_idx, weight.shape[0])
    _check_indices(input, "embedding")
    _check_range(input, weight.shape[0])
    if sparse:
        warnings.warn(
            "deepforge has no sparse tensors: embedding(sparse=True) produces dense gradients",
            stacklevel=2,
        )
    if max_norm is not None:
        _embedding_renorm_(weight, input, max_norm, norm_type)
    if input.dtype is not deepforge.int64:
        input = input.long()
    return _Embedding.apply(weight, input, padding_idx, scale_grad_by_freq)


def _bag_ids(input: Tensor, offsets: Tensor, include_last_offset: bool):
    """Bag index of every position of a 1D ``input`` split by ``offsets``, and the bag count."""
    n = input.shape[0]
    nbags = offsets.shape[0] - (1 if include_last_offset else 0)
    starts = offsets[1:nbags].long().clamp(0, n)
    marks = deepforge.zeros(n + 1, dtype=deepforge.int64, device=input.device)
    marks = marks.index_add(
        0, starts, deepforge.ones(starts.shape, dtype=deepforge.int64, device=input.device)
    )
    return marks[:n].cumsum(0), max(nbags, 0)


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Sums, means or maxes of bags of embeddings, without materialising per-bag tensors."""
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(
            f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, "
            "then it "
            f"must have the same shape as the input ({input.shape})"
        )
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {weight.ndim}")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(
                "if input is 2D, then offsets has to be None, as input is treated is a "
                "mini-batch of "
                f"fixed length sequences. However, found offsets of type {type(offsets)}"
            )
        nbags, length = input.shape
        bag = (
            deepforge.arange(nbags, device=input.device)
            .unsqueeze(1)
            .expand(nbags, length)
            .reshape(-1)
        )
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        if offsets.numel() and int(offsets[0]) != 0:
            raise RuntimeError(
                "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to "
                "start from "
                f"position 0. However, got {int(offsets[0])}"
            )
        bag, nbags = _bag_ids(input, offsets, include_last_offset)
    else:
        raise ValueError(
            f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.ndim}"
        )
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only supported "
            f"for mode='sum' (got mode='{mode}'). Please open a feature request on GitHub."
        )
    pad = _padding_idx(padding_idx, weight.shape[0])
    emb = embedding(
        input, weight, pad if pad >= 0 else None, max_norm, norm_type, scale_grad_by_freq
    )
    n, dim = input.shape[0], weight.shape[1]
    dev, dt = weight.device, weight.dtype
    keep = (input != pad) if pad >= 0 else None
    if mode == "max":
        return _bag_max(emb, bag, keep, nbags, n, dim)
    w = keep.to(dt) if keep is not None else None
    if per_sample_weights is not None:
        w = per_sample_weights if w is None else w * per_sample_weights
    vals = emb if w is None else emb * w.unsqueeze(1)
    out = deepforge.zeros((nbags, dim), dtype=dt, device=dev).index_add(0, bag, vals)
    if mode == "mean":
        ones = w if w is not None else deepforge.ones(n, dtype=dt, device=dev)
        counts = deepforge.zeros(nbags, dtype=dt, device=dev).index_add(0, bag, ones.detach())
        out = out / counts.clamp(min=1).unsqueeze(1)
    return out


def _bag_max(emb, bag, keep, nbags, n, dim):
    """Per-bag, per-column max: the arg-max rows are found without grad, then gathered."""
    dev, dt = emb.device, emb.dtype
    if n == 0 or nbags == 0:
        return deepforge.zeros((nbags, dim), dtype=dt, device=dev) + emb.sum() * 0
    with deepforge.no_grad():
        vals = emb.detach()
        if keep is not None:
            vals = deepforge.where(keep.unsqueeze(1), vals, float("-inf"))
        idx2 = bag.unsqueeze(1).expand(n, dim)
        best = deepforge.full((nbags, dim), float("-inf"), dtype=dt, device=dev)
        best = best.scatter_reduce(0, idx2, vals, "amax")
        pos = deepforge.arange(n, device=dev).unsqueeze(1).expand(n, dim)
        pos = deepforge.where(vals == best.gather(0, idx2), pos, n)
        if keep is not None:
            pos = deepforge.where(keep.unsqueeze(1), pos, n)
        first = deepforge.full((nbags, dim), n, dtype=deepforge.int64, device=dev)
        first = first.scatter_reduce(0, idx2, pos, "amin")
        found = first < n
    out = emb.gather(0, first.clamp(max=n - 1))
    return deepforge.where(found, out, 0.0)


# -- one_hot ----------------------------------------------------------------------------------
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding with a trailing class dimension."""
    if tensor.dtype is not deepforge.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if tensor.numel() == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(tensor.max()) + 1
    if tensor.numel():
        if int(tensor.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(tensor.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    classes = deepforge.arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()
