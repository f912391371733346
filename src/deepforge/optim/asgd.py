"""ASGD: averaged stochastic gradient descent, as ``torch.optim.ASGD``."""

from __future__ import annotations

import deepforge
from deepforge import Tensor

from .optimizer import (
    Optimizer,
    _check_lr,
    _check_nonnegative,
    _get_scalar_dtype,
    _increment,
    _scalar,
    _states,
    _step_counter,
    _use_grad,
)

__all__ = ["ASGD", "asgd"]


class ASGD(Optimizer):
    """Implements averaged SGD: ``p = p * (1 - lambd * eta) - eta * g`` with
    ``eta = lr / (1 + lambd * lr * t) ** alpha``; ``state["ax"]`` holds the running average of
    the iterates from step ``t0`` on (``eta``, ``mu`` are scalar tensors as in PyTorch)."""

    def __init__(self, params, lr: float | Tensor = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("weight_decay", weight_decay)
        defaults = {
            "lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay,
            "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _init_state(self, p, state, group) -> None:
        state["step"] = _step_counter()
        state["eta"] = deepforge.tensor(_scalar(group["lr"]), dtype=_get_scalar_dtype())
        state["mu"] = deepforge.ones((), dtype=_get_scalar_dtype())
        state["ax"] = deepforge.zeros_like(p)

    @_use_grad
    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params, grads, states = self._group_states(group)
            asgd(params, grads, _states(states, "ax"), _states(states, "mu"),
                 _states(states, "eta"), _states(states, "step"), lambd=group["lambd"],
                 lr=group["lr"],
                 t0=group["t0"], alpha=group["alpha"], weight_decay=group["weight_decay"],
                 maximize=group["maximize"])
        return loss


def asgd(params, grads, axs, mus, etas, state_steps, foreach=None, maximize: bool = False,
         differentiable: bool = False, capturable: bool = False, has_complex: bool = False, *,
         lambd: float, lr: float, t0: float, alpha: float, weight_decay: float) -> None:
    """Functional ASGD (``torch.optim.asgd.asgd``, single-tensor rule)."""
    lr = _scalar(lr)
    for i, param in enumerate(params):
        grad = -grads[i] if maximize else grads[i]
        mu, ax, eta, step_t = mus[i], axs[i], etas[i], state_steps[i]
        step = _increment(step_t)
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        eta_value = eta.item()
        param.mul_(1 - lambd * eta_value)
        param.add_(grad, alpha=-eta_value)
        if mu.item() != 1:
            ax.add_(param.sub(ax).mul_(mu))
        else:
            ax.copy_(param)
        eta.fill_(lr / ((1 + lambd * lr * step) ** alpha))  # rounded to the scalar dtype
        mu.fill_(1 / max(1, step - t0))
