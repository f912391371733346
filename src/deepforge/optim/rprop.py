"""Rprop: resilient backpropagation, as ``torch.optim.Rprop``."""

from __future__ import annotations

import deepforge
from deepforge import Tensor

from .optimizer import (
    Optimizer,
    _check_lr,
    _increment,
    _scalar,
    _states,
    _step_counter,
    _use_grad,
)

__all__ = ["Rprop", "rprop"]


class Rprop(Optimizer):
    """Implements Rprop: each element keeps its own step size, multiplied by ``etaplus`` while
    the gradient keeps its sign and by ``etaminus`` when it flips (then that element skips the
    update), clamped to ``step_sizes``; the parameter moves by ``-sign(g) * step_size``."""

    def __init__(self, params, lr: float | Tensor = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50),
                 *, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {
            "lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
            "maximize": maximize, "differentiable": differentiable, "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _init_state(self, p, state, group) -> None:
        state["step"] = _step_counter()
        state["prev"] = deepforge.zeros_like(p)
        state["step_size"] = deepforge.full_like(p.grad, _scalar(group["lr"]))

    @_use_grad
    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params, grads, states = self._group_states(group)
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            rprop(params, grads, _states(states, "prev"), _states(states, "step_size"),
                  _states(states, "step"), step_size_min=step_size_min,
                  step_size_max=step_size_max, etaminus=etaminus, etaplus=etaplus,
                  maximize=group["maximize"], differentiable=group["differentiable"])
        return loss


def rprop(params, grads, prevs, step_sizes, state_steps, foreach=None, capturable: bool = False,
          maximize: bool = False, differentiable: bool = False, has_complex: bool = False, *,
          step_size_min: float, step_size_max: float, etaminus: float, etaplus: float) -> None:
    """Functional Rprop (``torch.optim.rprop.rprop``, single-tensor rule)."""
    for i, param in enumerate(params):
        grad = -grads[i] if maximize else grads[i]
        prev, step_size = prevs[i], step_sizes[i]
        _increment(state_steps[i])
        sign = grad.mul(prev.clone() if differentiable else prev).sign()
        sign[sign.gt(0)] = etaplus
        sign[sign.lt(0)] = etaminus
        sign[sign.eq(0)] = 1
        step_size.mul_(sign).clamp_(step_size_min, step_size_max)
        grad = grad.clone()
        grad[sign.eq(etaminus)] = 0  # a flipped sign skips this update
        param.addcmul_(grad.sign(), step_size, value=-1)
        prev.copy_(grad)
