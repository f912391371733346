"""Adam (and, with ``decoupled_weight_decay=True``, AdamW), as ``torch.optim.Adam``."""

from __future__ import annotations

import deepforge
from deepforge import Tensor
from deepforge.ops import fused_optim

from .optimizer import (
    Optimizer,
    _check_adam_args,
    _check_fused,
    _increment,
    _scalar,
    _states,
    _step_counter,
    _use_grad,
)

__all__ = ["Adam", "adam"]


class Adam(Optimizer):
    """Implements Adam.

    Per parameter, with ``g`` the gradient (negated when ``maximize``) and ``t`` the step::

        p = p * (1 - lr * weight_decay)  if decoupled_weight_decay  else  g = g + weight_decay * p
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v) if amsgrad (then used in place of v)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    ``fused=None`` runs the backend's fused ``adam_step`` kernel when it pays,
    ``fused=True`` whenever the backend has it, ``fused=False`` never (see ``Optimizer``);
    ``differentiable=True`` always uses Tensor ops.
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        _check_adam_args(lr, eps, betas, weight_decay)
        if not (isinstance(betas[0], float) and isinstance(betas[1], float)
                or isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor)):
            raise ValueError("betas must be either both floats or both Tensors")
        betas = tuple(b.squeeze() if isinstance(b, Tensor) and b.dim() else b for b in betas)
        defaults = {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
            "capturable": capturable, "differentiable": differentiable, "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)

    def _init_state(self, p, state, group) -> None:
        f32 = group["fused"] or group["capturable"]
        state["step"] = _step_counter(deepforge.float32 if f32 else None)
        state["exp_avg"] = deepforge.zeros_like(p)
        state["exp_avg_sq"] = deepforge.zeros_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = deepforge.zeros_like(p)

    @_use_grad
    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params, grads, states = self._group_states(group)
            max_sqs = _states(states, "max_exp_avg_sq") if group["amsgrad"] else []
            beta1, beta2 = group["betas"]
            adam(params, grads, _states(states, "exp_avg"), _states(states, "exp_avg_sq"),
                 max_sqs, _states(states, "step"),
                 amsgrad=group["amsgrad"], beta1=beta1, beta2=beta2, lr=group["lr"],
                 weight_decay=group["weight_decay"], eps=group["eps"],
                 maximize=group["maximize"], fused=group["fused"],
                 differentiable=group["differentiable"],
                 decoupled_weight_decay=group["decoupled_weight_decay"])
        return loss


def adam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
         exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor], state_steps: list[Tensor],
         foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
         fused: bool | None = None, grad_scale=None, found_inf=None, has_complex: bool = False,
         decoupled_weight_decay: bool = False, *, amsgrad: bool, beta1: float, beta2: float,
         lr: float, weight_decay: float, eps: float, maximize: bool) -> None:
    """Functional Adam/AdamW (``torch.optim.adam.adam``, single-tensor rule)."""
    use_kernel = fused is not False and not differentiable
    if not differentiable:
        lr, beta1, beta2 = _scalar(lr), _scalar(beta1), _scalar(beta2)
    steps = [_increment(t) for t in state_steps]
    done = [False] * len(params)
    if use_kernel:  # every tensor at once: the backend may update several in one launch
        items = [(p, grads[i], exp_avgs[i], exp_avg_sqs[i],
                  max_exp_avg_sqs[i] if amsgrad else None, int(steps[i]))
                 for i, p in enumerate(params)]  # fmt: skip
        done = fused_optim.adam_steps(items, lr, beta1, beta2, eps, weight_decay,
                                      decoupled_weight_decay, amsgrad, maximize,
                                      auto=fused is None)  # fmt: skip
    for i, param in enumerate(params):
        if done[i]:
            continue
        grad = grads[i]
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        step = steps[i]
        max_sq = max_exp_avg_sqs[i] if amsgrad else None
        if maximize:
            grad = -grad
        if weight_decay != 0:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if amsgrad:
            deepforge.maximum(max_sq, exp_avg_sq, out=max_sq)
            denom = max_sq.sqrt().div_(bias_correction2_sqrt).add_(eps)
        else:
            denom = exp_avg_sq.sqrt().div_(bias_correction2_sqrt).add_(eps)
        if isinstance(step_size, Tensor):
            param.sub_(exp_avg / denom * step_size)
        else:
            param.addcdiv_(exp_avg, denom, value=-step_size)
