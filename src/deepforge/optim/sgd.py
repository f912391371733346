"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``."""

from __future__ import annotations

import deepforge
from deepforge import Tensor
from deepforge.ops import fused_optim

from .optimizer import Optimizer, _check_fused, _check_lr, _scalar, _use_grad

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    """Implements stochastic gradient descent (optionally with momentum).

    Per parameter, with ``g`` the gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        b = g                                  (first step)
        b = momentum * b + (1 - dampening) * g (later steps)
        g = g + momentum * b if nesterov else b
        p = p - lr * g

    ``fused=None`` runs the backend's fused ``sgd_momentum_step`` kernel when it pays,
    ``fused=True`` whenever the backend has it, ``fused=False`` never (see ``Optimizer``);
    ``differentiable=True`` always uses Tensor ops.
    """

    def __init__(self, params, lr: float | Tensor = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float | Tensor = 0, nesterov: bool = False,
                 *, maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {
            "lr": lr, "momentum": momentum, "dampening": dampening,
            "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
            "foreach": foreach, "differentiable": differentiable, "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)

    def _init_group(self, group, params, grads, momentum_buffer_list) -> None:
        for p in group["params"]:
            if p.grad is not None:
                params.append(p)
                grads.append(p.grad)
                if group["momentum"] != 0:
                    momentum_buffer_list.append(self.state[p].get("momentum_buffer"))

    @_use_grad
    def step(self, closure=None):
        """Perform a single optimization step; ``closure`` re-evaluates the loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params: list[Tensor] = []
            grads: list[Tensor] = []
            bufs: list[Tensor | None] = []
            self._init_group(group, params, grads, bufs)
            sgd(params, grads, bufs, weight_decay=group["weight_decay"],
                momentum=group["momentum"], lr=group["lr"], dampening=group["dampening"],
                nesterov=group["nesterov"], maximize=group["maximize"],
                fused=group["fused"], differentiable=group["differentiable"])
            if group["momentum"] != 0:
                for p, buf in zip(params, bufs):
                    self.state[p]["momentum_buffer"] = buf
        return loss


def sgd(params: list[Tensor], d_p_list: list[Tensor], momentum_buffer_list: list[Tensor | None],
        has_sparse_grad: bool = False, foreach: bool | None = None, fused: bool | None = None,
        grad_scale=None, found_inf=None, *, weight_decay: float, momentum: float, lr: float,
        dampening: float, nesterov: bool, maximize: bool, differentiable: bool = False) -> None:
    """Functional SGD (``torch.optim.sgd.sgd``); fills ``momentum_buffer_list`` in place."""
    use_kernel = fused is not False and not differentiable
    if not differentiable:
        lr, weight_decay = _scalar(lr), _scalar(weight_decay)
    done = [False] * len(params)
    if use_kernel:  # every tensor at once: the backend may update several in one launch
        items = []
        for i, param in enumerate(params):
            buf = momentum_buffer_list[i] if momentum != 0 else None
            first = momentum != 0 and buf is None
            items.append((param, d_p_list[i], deepforge.zeros_like(param) if first else buf,
                          first))  # fmt: skip
        done = fused_optim.sgd_steps(items, lr, momentum, dampening, weight_decay, nesterov,
                                     maximize, auto=fused is None)  # fmt: skip
        if momentum != 0:
            for i, ok in enumerate(done):
                if ok:
                    momentum_buffer_list[i] = items[i][2]
    for i, param in enumerate(params):
        if done[i]:
            continue
        grad = d_p_list[i]
        if maximize:
            grad = -grad
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        if momentum != 0:
            buf = momentum_buffer_list[i]
            if buf is None:
                buf = grad.detach().clone()
                momentum_buffer_list[i] = buf
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = grad.add(buf, alpha=momentum) if nesterov else buf
        if isinstance(lr, Tensor):
            param.sub_(grad * lr)
        else:
            param.add_(grad, alpha=-lr)
