"""RMSprop, as ``torch.optim.RMSprop``."""

from __future__ import annotations

import deepforge
from deepforge import Tensor

from .optimizer import (
    Optimizer,
    _check_lr,
    _check_nonnegative,
    _increment,
    _scalar,
    _states,
    _step_counter,
    _use_grad,
)

__all__ = ["RMSprop", "rmsprop"]


class RMSprop(Optimizer):
    """Implements RMSprop::

        v = alpha * v + (1 - alpha) * g * g
        a = sqrt(v - gm * gm) with gm = lerp(gm, g, 1 - alpha)  if centered  else  sqrt(v)
        b = momentum * b + g / (a + eps); p = p - lr * b      (momentum > 0)
        p = p - lr * g / (a + eps)                            (otherwise)
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_nonnegative("momentum", momentum)
        _check_nonnegative("weight_decay", weight_decay)
        _check_nonnegative("alpha", alpha)
        defaults = {
            "lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
            "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
            "maximize": maximize, "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _init_state(self, p, state, group) -> None:
        state["step"] = _step_counter()
        state["square_avg"] = deepforge.zeros_like(p)
        if group["momentum"] > 0:
            state["momentum_buffer"] = deepforge.zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = deepforge.zeros_like(p)

    @_use_grad
    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params, grads, states = self._group_states(group)
            grad_avgs = _states(states, "grad_avg") if group["centered"] else []
            bufs = _states(states, "momentum_buffer") if group["momentum"] > 0 else []
            rmsprop(params, grads, _states(states, "square_avg"), grad_avgs, bufs,
                    _states(states, "step"), lr=group["lr"],
                    alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
                    momentum=group["momentum"], centered=group["centered"],
                    maximize=group["maximize"], differentiable=group["differentiable"])
        return loss


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffer_list, state_steps,
            foreach=None, maximize: bool = False, differentiable: bool = False,
            capturable: bool = False, has_complex: bool = False, *, lr: float, alpha: float,
            eps: float, weight_decay: float, momentum: float, centered: bool) -> None:
    """Functional RMSprop (``torch.optim.rmsprop.rmsprop``, single-tensor rule)."""
    lr = _scalar(lr)
    for i, param in enumerate(params):
        _increment(state_steps[i])
        grad = -grads[i] if maximize else grads[i]
        square_avg = square_avgs[i]
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if centered:
            grad_avg = grad_avgs[i]
            grad_avg.lerp_(grad, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg = avg.add(eps) if differentiable else avg.add_(eps)
        if momentum > 0:
            buf = momentum_buffer_list[i]
            buf.mul_(momentum).addcdiv_(grad, avg)
            param.add_(buf, alpha=-lr)
        else:
            param.addcdiv_(grad, avg, value=-lr)
