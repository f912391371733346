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

import numpy as np

import deepforge
from deepforge import Tensor
from deepforge.autograd import Function, once_differentiable

from .. import _reduction as _R

__all__ = ["ctc_loss"]

_CHECKING = " (while checking arguments for ctc_loss_allocate_outputs)"


def _lengths(value, name: str) -> np.ndarray:
    if isinstance(value, Tensor):
        if value.is_floating_point():
            raise TypeError(f"ctc_loss(): {name} must be an integer tensor, got {value.dtype}")
        return value.detach().cpu().numpy().astype(np.int64).reshape(-1)
    if isinstance(value, int):
        raise TypeError(f"ctc_loss(): {name} must be a tuple of ints or a Tensor, not int")
    return np.asarray(list(value), dtype=np.int64).reshape(-1)


def _check_lengths(lengths: np.ndarray, name: str, batch: int, upper: int | None) -> None:
    if lengths.shape[0] != batch:
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


def _padded_targets(targets: np.ndarray, target_lengths: np.ndarray, batch: int) -> np.ndarray:
    """Targets as (N, S_max), from either PyTorch layout."""
    s_max = int(target_lengths.max()) if batch else 0
    if targets.ndim == 2:
        if targets.shape[1] < s_max:
            raise RuntimeError(
                f"Expected tensor to have size at least {s_max} at dimension 1, but got size "
                f"{targets.shape[1]} for argument #2 'targets'{_CHECKING}"
            )
        return targets[:, :s_max]
    total = int(target_lengths.sum())
    if targets.shape[0] != total:
        raise RuntimeError(
            f"Expected tensor to have size {total} at dimension 0, but got size "
            f"{targets.shape[0]} for argument #2 'targets'{_CHECKING}"
        )
    out = np.zeros((batch, s_max), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(target_lengths)[:-1]]).astype(np.int64)
    for n in range(batch):
        out[n, : target_lengths[n]] = targets[starts[n] : starts[n] + target_lengths[n]]
    return out


def _logsumexp3(a: Tensor, b: Tensor, c: Tensor) -> Tensor:
    return deepforge.logsumexp(deepforge.stack([a, b, c]), dim=0)


class _CTCLoss(Function):
    """Per-sample negative log likelihood; inputs are (T, N, C) log_probs and host label data."""

    @staticmethod
    def forward(ctx, log_probs, ext, skip, input_lengths, target_lengths, zero_infinity):
        t_max, batch, _ = log_probs.shape
        width = ext.shape[1]
        dev, dtype = log_probs.device, log_probs.dtype
        ninf = float("-inf")

        def host(a, kind=None):
            return deepforge.tensor(a, dtype=kind, device=dev)

        index = host(ext).unsqueeze(0).expand(t_max, batch, width)
        lp_ext = deepforge.gather(log_probs, 2, index)  # (T, N, L)
        skip_t = host(skip)  # l'[s] may follow l'[s - 2] directly
        skip_back = np.zeros_like(skip)
        skip_back[:, :-2] = skip[:, 2:]
        skip_back = host(skip_back)  # l'[s + 2] may follow l'[s]
        pos = np.arange(width)[None, :]
        ends = 2 * target_lengths[:, None]
        start_mask = host((pos < 2) & (pos <= ends))
        end_mask = host((pos == ends) | (pos == ends - 1))
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
        last = np.maximum(input_lengths - 1, 0)
        final = alpha[host(last), host(np.arange(batch))]  # (N, L)
        nll = -deepforge.logsumexp(deepforge.where(end_mask, final, ninf), dim=1)
        # an empty input explains only an empty target
        empty = np.where(target_lengths == 0, 0.0, np.inf)
        nll = deepforge.where(host(input_lengths == 0), host(empty, dtype), nll)

        if not (ctx.needs_input_grad and ctx.needs_input_grad[0]):
            # no gradient wanted: the beta recursion would be wasted work
            return deepforge.where(nll == float("inf"), 0.0, nll) if zero_infinity else nll
        last_frame = host((np.arange(t_max)[:, None] == (input_lengths - 1)[None, :])[..., None])
        inside = host((np.arange(t_max)[:, None] < (input_lengths - 1)[None, :])[..., None])
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
        ctx.valid = host((np.arange(t_max)[:, None] < input_lengths[None, :])[..., None])
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
    _check_lengths(in_len, "input_lengths", batch, t_max)
    _check_lengths(tg_len, "target_lengths", batch, None)
    padded = _padded_targets(tg.detach().cpu().numpy().astype(np.int64), tg_len, batch)
    if padded.size and (padded.min() < 0 or padded.max() >= classes):
        raise IndexError(
            f"ctc_loss(): target labels must be in [0, {classes}), got values in "
            f"[{padded.min()}, {padded.max()}]"
        )

    # extended labels l' (blank, l1, blank, l2, ..., blank); positions past 2 * S_n are blanks
    s_max = padded.shape[1]
    ext = np.full((batch, 2 * s_max + 1), blank, dtype=np.int64)
    ext[:, 1::2] = np.where(np.arange(s_max)[None, :] < tg_len[:, None], padded, blank)
    skip = np.zeros(ext.shape, dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])

    nll = _CTCLoss.apply(lp, ext, skip, in_len, tg_len, bool(zero_infinity))
    if enum == 1:
        denom = deepforge.tensor(np.maximum(tg_len, 1), dtype=nll.dtype, device=nll.device)
        return (nll / denom).mean()
    if enum == 2:
        return nll.sum()
    return nll if batched else nll.squeeze(0)
