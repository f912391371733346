"""NAdam: Adam with Nesterov momentum, as ``torch.optim.NAdam``."""

from __future__ import annotations

import deepforge
from deepforge import Tensor

from .optimizer import (
    Optimizer,
    _check_adam_args,
    _check_nonnegative,
    _get_scalar_dtype,
    _increment,
    _scalar,
    _states,
    _step_counter,
    _use_grad,
)

__all__ = ["NAdam", "nadam"]


class NAdam(Optimizer):
    """Implements NAdam (``decoupled_weight_decay=True`` gives NAdamW).

    With ``mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))`` and ``prod_t`` the
    running product of the ``mu``'s (kept as a scalar tensor in ``state["mu_product"]``)::

        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        d = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr * (1 - mu_t) / (1 - prod_t) * g / d
              - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m / d
    """

    def __init__(self, params, lr: float | Tensor = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_adam_args(lr, eps, betas, weight_decay)
        _check_nonnegative("momentum_decay", momentum_decay)
        defaults = {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize, "foreach": foreach, "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, p, state, group) -> None:
        state["step"] = _step_counter()
        state["mu_product"] = deepforge.ones((), dtype=_get_scalar_dtype())
        state["exp_avg"] = deepforge.zeros_like(p)
        state["exp_avg_sq"] = deepforge.zeros_like(p)

    @_use_grad
    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params, grads, states = self._group_states(group)
            beta1, beta2 = group["betas"]
            nadam(params, grads, _states(states, "exp_avg"), _states(states, "exp_avg_sq"),
                  _states(states, "mu_product"), _states(states, "step"), beta1=beta1,
                  beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
                  momentum_decay=group["momentum_decay"], eps=group["eps"],
                  maximize=group["maximize"],
                  decoupled_weight_decay=group["decoupled_weight_decay"],
                  differentiable=group["differentiable"])
        return loss


def nadam(params, grads, exp_avgs, exp_avg_sqs, mu_products, state_steps,
          decoupled_weight_decay: bool = False, foreach=None, capturable: bool = False,
          differentiable: bool = False, has_complex: bool = False, maximize: bool = False, *,
          beta1: float, beta2: float, lr: float, weight_decay: float, momentum_decay: float,
          eps: float) -> None:
    """Functional NAdam (``torch.optim.nadam.nadam``, single-tensor rule)."""
    lr = _scalar(lr)
    for i, param in enumerate(params):
        grad = -grads[i] if maximize else grads[i]
        exp_avg, exp_avg_sq, mu_product = exp_avgs[i], exp_avg_sqs[i], mu_products[i]
        step_t = state_steps[i]
        step = _increment(step_t)
        bias_correction2 = 1 - beta2**step
        if weight_decay != 0:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product.mul_(mu)  # in the scalar dtype, as PyTorch
        prod = mu_product.item()
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = exp_avg_sq.div(bias_correction2).sqrt().add_(eps)
        mu_product_next = prod * mu_next
        param.addcdiv_(grad, denom, value=-lr * (1.0 - mu) / (1.0 - prod))
        param.addcdiv_(exp_avg, denom, value=(-lr * mu_next) / (1.0 - mu_product_next))
