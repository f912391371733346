"""Loss kernels: ``nll_loss`` on (N, C) log-probabilities, forward and backward (the OpenCL
backend's ``opencl/loss.cl`` computes the same)."""

from __future__ import annotations

import numpy as np

__all__ = ["nll_forward", "nll_backward"]


def _rows(target, weight, ignore_index, n, c, dtype):
    """(valid rows, their targets with invalid ones at 0, each row's weight: 0 if ignored)."""
    valid = (target != ignore_index) & (target >= 0) & (target < c)
    safe = np.where(valid, target, 0)
    w = np.ones(n, dtype) if weight is None else weight[safe].astype(dtype, copy=False)
    return valid, safe, np.where(valid, w, 0).astype(dtype, copy=False)


def nll_forward(logp, target, weight, ignore_index, reduction):
    """nll_loss of (N, C) ``logp`` against int64 ``target`` (checked by the caller; a row at
    ignore_index counts with weight 0 and is not read): (loss, total weight or None)."""
    n, c = logp.shape
    valid, safe, w = _rows(target, weight, ignore_index, n, c, logp.dtype)
    picked = logp[np.arange(n), safe]
    rows = np.where(valid, -(w * picked), 0).astype(logp.dtype, copy=False)
    if reduction == "none":
        return rows, None
    acc = np.float64  # as the OpenCL kernel (DF_WIDE) and PyTorch's CPU kernel
    total = np.asarray(w.sum(dtype=acc)).astype(logp.dtype)
    s = rows.sum(dtype=acc)
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            s = s / w.sum(dtype=acc)  # 0 / 0 = NaN when every row is ignored, as PyTorch
    return np.asarray(s).astype(logp.dtype), total


def nll_backward(g, target, weight, ignore_index, reduction, total, n, c, dtype):
    """d nll_loss / d logp (N x C) for the loss gradient ``g`` ((N,) for 'none', 0-dim
    otherwise); ``total``: the forward's total weight (for 'mean')."""
    valid, safe, w = _rows(target, weight, ignore_index, n, c, dtype)
    g = np.asarray(g, dtype)
    if reduction == "mean":
        g = g / np.asarray(total, dtype)
    gx = np.zeros((n, c), dtype)
    gx[np.arange(n), safe] = np.where(valid, -(w * g), 0)
    return gx
