"""Fused optimizer steps (deepforge.ops.fused_optim): False declines, the caller then uses ops."""

from __future__ import annotations

import numpy as np

from ._common import _core

__all__ = ["sgd_momentum_step", "adam_step"]


_OPTIM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _flat_views(*arrays):
    """1-D views of same-dtype C-contiguous float32/float64 arrays (None -> empty), or None."""
    ref = arrays[0]
    if ref.dtype not in _OPTIM_DTYPES:
        return None
    out = []
    for a in arrays:
        if a is None:
            out.append(np.empty(0, ref.dtype))
            continue
        if a.dtype != ref.dtype or not a.flags.c_contiguous:
            return None
        out.append(a.reshape(-1))
    return out


def sgd_momentum_step(
    param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step
):
    fn = getattr(_core, "sgd_momentum_step", None)
    flat = _flat_views(param, grad, buf) if fn is not None else None
    if flat is None or not param.flags.writeable:
        return False
    fn(
        flat[0],
        flat[1],
        flat[2],
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
        first_step,
    )
    return True


def adam_step(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    decoupled,
    amsgrad,
    maximize,
    step,
):
    fn = getattr(_core, "adam_step", None)
    flat = _flat_views(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq) if fn is not None else None
    if flat is None or not param.flags.writeable:
        return False
    fn(*flat, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize, step)
    return True
