"""RAdam: rectified Adam, as ``torch.optim.RAdam``."""

from __future__ import annotations

import deepforge
from deepforge import Tensor

from .optimizer import (
    Optimizer,
    _check_adam_args,
    _increment,
    _scalar,
    _states,
    _step_counter,
    _use_grad,
)

__all__ = ["RAdam", "radam"]


class RAdam(Optimizer):
    """Implements RAdam (``decoupled_weight_decay=True`` gives RAdamW).

    With ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``, the bias-corrected first moment is
    applied with the adaptive rate ``sqrt(1 - beta2**t) / (sqrt(v) + eps)`` and the
    rectification ``r_t`` when ``rho_t > 5``, and as plain momentum SGD otherwise.
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_adam_args(lr, eps, betas, weight_decay)
        defaults = {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "maximize": maximize, "foreach": foreach, "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay, "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, p, state, group) -> None:
        state["step"] = _step_counter()
        state["exp_avg"] = deepforge.zeros_like(p)
        state["exp_avg_sq"] = deepforge.zeros_like(p)

    @_use_grad
    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params, grads, states = self._group_states(group)
            beta1, beta2 = group["betas"]
            radam(params, grads, _states(states, "exp_avg"), _states(states, "exp_avg_sq"),
                  _states(states, "step"), beta1=beta1, beta2=beta2,
                  lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
                  maximize=group["maximize"],
                  decoupled_weight_decay=group["decoupled_weight_decay"],
                  differentiable=group["differentiable"])
        return loss


def radam(params, grads, exp_avgs, exp_avg_sqs, state_steps,
          decoupled_weight_decay: bool = False, foreach=None, capturable: bool = False,
          differentiable: bool = False, has_complex: bool = False, maximize: bool = False, *,
          beta1: float, beta2: float, lr: float, weight_decay: float, eps: float) -> None:
    """Functional RAdam (``torch.optim.radam.radam``, single-tensor rule)."""
    lr = _scalar(lr)
    rho_inf = 2 / (1 - beta2) - 1
    for i, param in enumerate(params):
        grad = -grads[i] if maximize else grads[i]
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        step_t = state_steps[i]
        step = _increment(step_t)
        if weight_decay != 0:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        bias_corrected_exp_avg = exp_avg / bias_correction1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive_lr = (bias_correction2**0.5) / exp_avg_sq.sqrt().add_(eps)
            param.add_(bias_corrected_exp_avg * lr * adaptive_lr * rect, alpha=-1.0)
        else:
            param.add_(bias_corrected_exp_avg * lr, alpha=-1.0)
