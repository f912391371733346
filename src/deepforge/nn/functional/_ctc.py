"""Connectionist temporal classification loss (Graves et al., 2006).

The forward (alpha) and backward (beta) variables are computed in log space with Tensor ops,
vectorised over the batch and the extended label sequence ``l'`` (the targets with a blank
before, between and after them), one step per time frame. The gradient is PyTorch's: with
``gamma[t, c]`` the posterior probability that frame ``t`` emits class ``c``,

    d nll / d log_probs[t, c] = exp(log_probs[t, c]) - gamma[t, c]     (t < input_length)

which is the gradient with respect to the logits when ``log_probs = log_softmax(logits)``;
PyTorch returns it for ``log_probs`` too, so a program that backpropagates through
``log_softmax`` (the usual case) gets the exact gradient, and one that reads ``log_probs.grad``
directly gets PyTorch's numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import deepforge
from deepforge import Tensor
from deepforge.autograd import Function, once_differentiable

from .. import _reduction as _R

__all__ = ["ctc_loss"]

_CHECKING = " (while checking arguments for ctc_loss_allocate_outputs)"


def _lengths(value, name: str) -> Tensor:
    """The lengths as a 1-D int64 tensor on the CPU."""
    if isinstance(value, Tensor):
        if value.is_floating_point():
            raise TypeError(f"ctc_loss(): {name} must be an integer tensor, got {value.dtype}")
        return value.detach().cpu().to(deepforge.int64).reshape(-1)
    if isinstance(value, int):
        raise TypeError(f"ctc_loss(): {name} must be a tuple of ints or a Tensor, not int")
    return deepforge.tensor(list(value), dtype=deepforge.int64).reshape(-1)


def _check_lengths(lengths: list[int], name: str, batch: int, upper: int | None) -> None:
    if len(lengths) != batch:
        raise RuntimeError(f"{name} must be of size batch_size")
    for v in lengths:
        if v < 0:
            raise RuntimeError(
                f"Expected {name} to have value at least 0, but got value {v}{_CHECKING}"
            )
        if upper is not None and v > upper:
            raise RuntimeError(
                f"Expected {name} to have value at most {upper}, but got value {v}{_CHECKING}"
            )


def _padded_targets(targets: Tensor, target_lengths: Tensor, lengths: list[int]) -> Tensor:
    """Targets as (N, S_max) int64 on the CPU, from either PyTorch layout."""
    batch = len(lengths)
    s_max = max(lengths, default=0)
    if targets.dim() == 2:
        if targets.shape[1] < s_max:
            raise RuntimeError(
                f"Expected tensor to have size at least {s_max} at dimension 1, but got size "
                f"{targets.shape[1]} for argument #2 'targets'{_CHECKING}"
            )
        return targets[:, :s_max]
    total = sum(lengths)
    if targets.shape[0] != total:
        raise RuntimeError(
            f"Expected tensor to have size {total} at dimension 0, but got size "
            f"{targets.shape[0]} for argument #2 'targets'{_CHECKING}"
        )
    if s_max == 0:
        return deepforge.zeros((batch, 0), dtype=deepforge.int64)
    # sample n's labels start where the previous samples' end; slots past its length hold 0
    positions = deepforge.arange(s_max)
    starts = target_lengths.cumsum(0) - target_lengths
    flat = (starts.unsqueeze(1) + positions).clamp(max=total - 1)
    return deepforge.where(positions < target_lengths.unsqueeze(1), targets[flat], 0)


def _extended_labels(padded: Tensor, target_lengths: Tensor, blank: int) -> tuple[Tensor, Tensor]:
    """l' = (blank, l1, blank, l2, ..., blank), positions past 2 * S_n being blanks, and the mask
    of positions s where l'[s] may follow l'[s - 2] directly (a label unlike the one before)."""
    batch, s_max = padded.shape
    labels = deepforge.where(deepforge.arange(s_max) < target_lengths.unsqueeze(1), padded, blank)
    pairs = deepforge.stack([deepforge.full_like(labels, blank), labels], dim=2)
    tail = deepforge.full((batch, 1), blank, dtype=deepforge.int64)
    ext = deepforge.cat([pairs.reshape(batch, 2 * s_max), tail], dim=1)
    after = ext[:, 2:]
    distinct = (after != blank) & (after != ext[:, :-2])
    never = deepforge.zeros((batch, 2), dtype=deepforge.bool)
    skip = deepforge.cat([never, distinct], dim=1)[:, : ext.shape[1]]
    return ext, skip


def _logsumexp3(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    return deepforge.logsumexp(deepforge.stack([a, b, c]), dim=0)


class _CTCLoss(Function):
    """Per-sample negative log likelihood of (T, N, C) log_probs; the label data (l', its skip
    mask, the input and target lengths) are CPU tensors, moved to log_probs' device."""

    @staticmethod
    def forward(ctx, log_probs, ext, skip, input_lengths, target_lengths, zero_infinity):
        t_max, batch, _ = log_probs.shape
        width = ext.shape[1]
        dev, dtype = log_probs.device, log_probs.dtype
        ninf = float("-inf")
        ext, skip_t = ext.to(dev), skip.to(dev)  # l'[s] may follow l'[s - 2] directly
        input_lengths, target_lengths = input_lengths.to(dev), target_lengths.to(dev)

        index = ext.unsqueeze(0).expand(t_max, batch, width)
        lp_ext = deepforge.gather(log_probs, 2, index)  # (T, N, L)
        never = deepforge.zeros((batch, 2), dtype=deepforge.bool, device=dev)
        skip_back = deepforge.cat([skip_t, never], dim=1)[:, 2:]  # l'[s + 2] may follow l'[s]
        pos = deepforge.arange(width, device=dev)
        ends = 2 * target_lengths.unsqueeze(1)
        start_mask = (pos < 2) & (pos <= ends)
        end_mask = (pos == ends) | (pos == ends - 1)
        pad = deepforge.full((batch, 2), ninf, dtype=dtype, device=dev)

        def later(a, k):  # a[:, s - k], -inf where s < k
            return deepforge.cat([pad[:, :k], a], dim=1)[:, :width]

        def earlier(a, k):  # a[:, s + k], -inf where s + k >= width
            return deepforge.cat([a, pad[:, :k]], dim=1)[:, k:]

        alphas = [deepforge.where(start_mask, lp_ext[0], ninf)]
        for t in range(1, t_max):
            a = alphas[-1]
            a2 = deepforge.where(skip_t, later(a, 2), ninf)
            alphas.append(lp_ext[t] + _logsumexp3(a, later(a, 1), a2))
        alpha = deepforge.stack(alphas)

        # nll from alpha at each sample's last frame, at l'[2S] and l'[2S - 1]
        last = (input_lengths - 1).clamp(min=0)
        final = alpha[last, deepforge.arange(batch, device=dev)]  # (N, L)
        nll = -deepforge.logsumexp(deepforge.where(end_mask, final, ninf), dim=1)
        # an empty input explains only an empty target
        empty = deepforge.where(target_lengths == 0, 0.0, float("inf")).to(dtype)
        nll = deepforge.where(input_lengths == 0, empty, nll)

        if not (ctx.needs_input_grad and ctx.needs_input_grad[0]):
            # no gradient wanted: the beta recursion would be wasted work
            return deepforge.where(nll == float("inf"), 0.0, nll) if zero_infinity else nll
        frames = deepforge.arange(t_max, device=dev).unsqueeze(1)  # (T, 1) against (N,)
        last_frame = (frames == input_lengths - 1).unsqueeze(-1)
        inside = (frames < input_lengths - 1).unsqueeze(-1)
        betas = [None] * t_max
        b = deepforge.full((batch, width), ninf, dtype=dtype, device=dev)
        for t in range(t_max - 1, -1, -1):
            b2 = deepforge.where(skip_back, earlier(b, 2), ninf)
            rec = lp_ext[t] + _logsumexp3(b, earlier(b, 1), b2)
            init = deepforge.where(end_mask, lp_ext[t], ninf)
            b = deepforge.where(last_frame[t], init, deepforge.where(inside[t], rec, ninf))
            betas[t] = b
        beta = deepforge.stack(betas)

        ctx.save_for_backward(log_probs, lp_ext, alpha, beta, nll, index)
        ctx.zero_infinity = zero_infinity
        ctx.valid = (frames < input_lengths).unsqueeze(-1)
        if zero_infinity:
            nll = deepforge.where(nll == float("inf"), 0.0, nll)
        return nll

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_nll):
        log_probs, lp_ext, alpha, beta, nll, index = ctx.saved_tensors
        # gamma per extended label, then summed over the labels that share a class
        gamma_ext = deepforge.exp(alpha + beta - lp_ext + nll.unsqueeze(0).unsqueeze(-1))
        gamma = deepforge.scatter_add(deepforge.zeros_like(log_probs), 2, index, gamma_ext)
        # an impossible target (nll = inf) gives NaN over its frames, as in PyTorch
        grad = deepforge.exp(log_probs) - gamma + nll.unsqueeze(0).unsqueeze(-1) * 0
        grad = deepforge.where(ctx.valid, grad, 0.0)
        if ctx.zero_infinity:
            zeroed = nll == float("inf")
            grad = deepforge.where(zeroed.unsqueeze(0).unsqueeze(-1), 0.0, grad)
        return grad * grad_nll.unsqueeze(0).unsqueeze(-1), None, None, None, None, None


def ctc_loss(
    log_probs: Tensor,
    targets: Tensor,
    input_lengths: Tensor | Sequence[int],
    target_lengths: Tensor | Sequence[int],
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> Tensor:
    """The CTC loss of ``log_probs`` (T, N, C) or (T, C) against ``targets``."""
    enum = _R.get_enum(reduction)
    batched = log_probs.dim() == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    if lp.dim() != 3:
        raise RuntimeError(
            f"Expected 3-dimensional tensor, but got {lp.dim()}-dimensional tensor for "
            f"argument #1 'log_probs'{_CHECKING}"
        )
    if not lp.is_floating_point() or lp.dtype == deepforge.float16:
        name = {"float16": "Half"}.get(str(lp.dtype).replace("deepforge.", ""), str(lp.dtype))
        raise NotImplementedError(f"\"ctc_loss\" not implemented for '{name}'")
    tg = targets if batched else targets.unsqueeze(0)
    if tg.dim() not in (1, 2):
        raise RuntimeError(
            f"Expected 1 to 2 dimensions, but got {tg.dim()}-dimensional tensor for argument "
            f"#2 'targets'{_CHECKING}"
        )
    t_max, batch, classes = lp.shape
    if not 0 <= blank < classes:
        raise RuntimeError("blank must be in label range")
    if isinstance(input_lengths, Tensor) != isinstance(target_lengths, Tensor):
        raise TypeError(
            "ctc_loss(): input_lengths and target_lengths must both be Tensors or both be "
            f"tuples of ints, got {type(input_lengths).__name__} and "
            f"{type(target_lengths).__name__}"
        )
    in_len = _lengths(input_lengths, "input_lengths")
    tg_len = _lengths(target_lengths, "target_lengths")
    tg_list = tg_len.tolist()
    _check_lengths(in_len.tolist(), "input_lengths", batch, t_max)
    _check_lengths(tg_list, "target_lengths", batch, None)
    padded = _padded_targets(tg.detach().cpu().to(deepforge.int64), tg_len, tg_list)
    if padded.numel():
        low, high = int(padded.min()), int(padded.max())
        if low < 0 or high >= classes:
            raise IndexError(
                f"ctc_loss(): target labels must be in [0, {classes}), got values in "
                f"[{low}, {high}]"
            )

    ext, skip = _extended_labels(padded, tg_len, blank)
    nll = _CTCLoss.apply(lp, ext, skip, in_len, tg_len, bool(zero_infinity))
    if enum == 1:
        denom = tg_len.clamp(min=1).to(device=nll.device, dtype=nll.dtype)
        return (nll / denom).mean()
    if enum == 2:
        return nll.sum()
    return nll if batched else nll.squeeze(0)
