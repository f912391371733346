"""Legacy ``nn.utils.weight_norm`` / ``remove_weight_norm`` (a forward pre-hook recomputes
``weight`` from ``weight_g`` and ``weight_v`` before every call), and the two norm helpers
PyTorch exposes as ``torch.norm_except_dim`` and ``torch._weight_norm``."""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

from deepforge import Tensor
from deepforge.linalg import vector_norm

from ..modules.module import Module
from ..parameter import Parameter, UninitializedParameter

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm of ``v`` over every dimension but ``dim``, shaped to broadcast against
    ``v``; ``dim=-1`` means the norm of the whole tensor (a 0-d result), as in PyTorch."""
    if dim == -1:
        return vector_norm(v, pow)
    if dim == 0:
        shape = [v.shape[0]] + [1] * (v.ndim - 1)
        return vector_norm(v.reshape(v.shape[0], -1), pow, dim=1).reshape(shape)
    if dim == v.ndim - 1:
        shape = [1] * (v.ndim - 1) + [v.shape[-1]]
        return vector_norm(v.reshape(-1, v.shape[-1]), pow, dim=0).reshape(shape)
    return norm_except_dim(v.transpose(0, dim), pow, 0).transpose(0, dim)


def weight_norm_value(v: Tensor, g: Tensor, dim: int) -> Tensor:
    """``v * (g / ||v||)`` with the norm taken over every dimension but ``dim``."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that ``weight_norm`` registers (PyTorch's ``WeightNorm``)."""

    name: str
    dim: int

    def __init__(self, name: str, dim: int) -> None:
        if dim is None:
            dim = -1
        self.name = name
        self.dim = dim

    def compute_weight(self, module: Module) -> Any:
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return weight_norm_value(v, g, self.dim)

    @staticmethod
    def apply(module: Module, name: str, dim: int) -> WeightNorm:
        warnings.warn(
            "`torch.nn.utils.weight_norm` is deprecated in favor of "
            "`torch.nn.utils.parametrizations.weight_norm`.",
            FutureWarning,
            stacklevel=3,
        )
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(
                    f"Cannot register two weight_norm hooks on the same parameter {name}"
                )
        if dim is None:
            dim = -1
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        if isinstance(weight, UninitializedParameter):
            raise ValueError(
                "The module passed to `WeightNorm` can't have uninitialized parameters. Make "
                "sure to run the dummy forward before applying weight normalization"
            )
        # weight is recomputed from g and v in every forward, so it stops being a parameter
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, dim).data))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module))


T_module = TypeVar("T_module", bound=Module)


def weight_norm(module: T_module, name: str = "weight", dim: int | None = 0) -> T_module:
    """Replace ``module.<name>`` by ``g * v / ||v||`` with parameters ``<name>_g`` (the
    magnitude) and ``<name>_v`` (the direction); ``dim=None`` takes the norm over the whole
    tensor. Deprecated in PyTorch in favour of ``parametrizations.weight_norm``."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module: T_module, name: str = "weight") -> T_module:
    """Undo :func:`weight_norm`: ``module.<name>`` becomes a plain Parameter again."""
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
