"""Fused optimizer steps, looked up by name on the parameter's backend.

``deepforge.optim`` calls these for SGD and Adam/AdamW. Each returns True when the backend ran
the whole update in place (one pass over memory), or False when it has no such kernel, declines
these arrays (dtype, layout), or (``auto=True``) the kernel is listed in ``SLOWER_THAN_OPS``;
the optimizer then runs the same update with Tensor ops. A backend kernel takes the tensors'
backend arrays and returns False to decline.
"""

from __future__ import annotations

from ..tensor import Tensor
from ._dispatch import backend_of

__all__ = ["sgd_momentum_step", "sgd_steps", "adam_step", "adam_steps", "has_kernel",
           "SLOWER_THAN_OPS"]

# (device type, kernel) pairs that benchmarks/optim_step.py measured slower than the Tensor-op
# path they replace: the optimizers skip them unless the user asks for fused=True. Empty at
# present: on the CPU both kernels beat the Tensor ops (float32 MLP, 1-2 threads: SGD 2.2-4.8x,
# Adam 2.2-3.8x; Adam with amsgrad 0.9-1.6x, about even on one thread).
SLOWER_THAN_OPS: set[tuple[str, str]] = set()


def has_kernel(name: str, param: Tensor) -> bool:
    """Whether ``param``'s backend offers the fused kernel ``name``."""
    return getattr(backend_of(param), name, None) is not None


def _kernel(name: str, param: Tensor, auto: bool):
    if auto and (param._device.type, name) in SLOWER_THAN_OPS:
        return None
    return getattr(backend_of(param), name, None)


def _same(param: Tensor, *others) -> bool:
    for t in others:
        if t is not None and (t._device is not param._device or t._dtype is not param._dtype
                              or t._data.shape != param._data.shape):
            return False
    return True


def sgd_momentum_step(param: Tensor, grad: Tensor, buf: Tensor | None, lr: float,
                      momentum: float, dampening: float, weight_decay: float, nesterov: bool,
                      maximize: bool, first_step: bool, *, auto: bool = False) -> bool:
    """One ``torch.optim.SGD`` step on ``param`` (and ``buf`` when momentum != 0).

    ``first_step``: ``buf`` holds no history yet and is set to the gradient. ``auto``: skip a
    kernel listed in ``SLOWER_THAN_OPS``.
    """
    fn = _kernel("sgd_momentum_step", param, auto)
    if fn is None or not _same(param, grad, buf):
        return False
    done = fn(param._data, grad._data, None if buf is None else buf._data, lr, momentum,
              dampening, weight_decay, nesterov, maximize, first_step)
    if done is False:
        return False
    param._vc[0] += 1
    if buf is not None:
        buf._vc[0] += 1
    return True


def sgd_steps(items: list, lr: float, momentum: float, dampening: float, weight_decay: float,
              nesterov: bool, maximize: bool, *, auto: bool = False) -> list[bool]:
    """``sgd_momentum_step`` for every (param, grad, buf, first_step) of ``items``, several
    tensors of one device, dtype and ``first_step`` to a launch where the backend has
    ``sgd_multi_step``. One bool per item, as ``sgd_momentum_step`` returns."""
    done = [False] * len(items)
    groups: dict = {}
    for i, (param, grad, buf, first) in enumerate(items):
        if _kernel("sgd_momentum_step", param, auto) is not None and _same(param, grad, buf):
            groups.setdefault((param._device, param._dtype, first), []).append(i)
    hyper = (lr, momentum, dampening, weight_decay, nesterov, maximize)
    for (_, _, first), idx in groups.items():
        multi = getattr(backend_of(items[idx[0]][0]), "sgd_multi_step", None)
        if multi is None or len(idx) == 1:
            for i in idx:
                done[i] = sgd_momentum_step(*items[i][:3], *hyper, first, auto=auto)
            continue
        arrays = [tuple(None if t is None else t._data for t in items[i][:3]) for i in idx]
        for i, ok in zip(idx, multi(arrays, *hyper, first)):
            if ok:
                for t in (items[i][0], items[i][2]):
                    if t is not None:
                        t._vc[0] += 1
                done[i] = True
    return done


def adam_step(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor,
              max_exp_avg_sq: Tensor | None, lr: float, beta1: float, beta2: float, eps: float,
              weight_decay: float, decoupled: bool, amsgrad: bool, maximize: bool,
              step: int, *, auto: bool = False) -> bool:
    """One ``torch.optim.Adam`` (``decoupled=False``) / ``AdamW`` (``decoupled=True``) step;
    ``step`` is the already-incremented step count. ``auto``: as for ``sgd_momentum_step``."""
    fn = _kernel("adam_step", param, auto)
    if fn is None or not _same(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq):
        return False
    done = fn(param._data, grad._data, exp_avg._data, exp_avg_sq._data,
              None if max_exp_avg_sq is None else max_exp_avg_sq._data, lr, beta1, beta2, eps,
              weight_decay, decoupled, amsgrad, maximize, step)
    if done is False:
        return False
    for t in (param, exp_avg, exp_avg_sq, max_exp_avg_sq):
        if t is not None:
            t._vc[0] += 1
    return True


def adam_steps(items: list, lr: float, beta1: float, beta2: float, eps: float,
               weight_decay: float, decoupled: bool, amsgrad: bool, maximize: bool, *,
               auto: bool = False) -> list[bool]:
    """``adam_step`` for every (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step) of
    ``items``; tensors of one device, dtype and step share launches where the backend has
    ``adam_multi_step`` (a training step then costs one launch per eight parameters, not one
    each). One bool per item, as ``adam_step`` returns."""
    done = [False] * len(items)
    groups: dict = {}
    for i, (param, grad, m, v, vmax, step) in enumerate(items):
        if _kernel("adam_step", param, auto) is not None and _same(param, grad, m, v, vmax):
            groups.setdefault((param._device, param._dtype, step), []).append(i)
    hyper = (lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize)
    for (_, _, step), idx in groups.items():
        multi = getattr(backend_of(items[idx[0]][0]), "adam_multi_step", None)
        if multi is None or len(idx) == 1:
            for i in idx:
                done[i] = adam_step(*items[i][:5], *hyper, items[i][5], auto=auto)
            continue
        arrays = [tuple(None if t is None else t._data for t in items[i][:5]) for i in idx]
        for i, ok in zip(idx, multi(arrays, *hyper, step)):
            if ok:
                for t in (items[i][0], items[i][2], items[i][3], items[i][4]):
                    if t is not None:
                        t._vc[0] += 1
                done[i] = True
    return done
