"""Registration of parameters, buffers and submodules, and lookup by dotted name (methods of
``Module``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepforge import Tensor

from ..parameter import Parameter

if TYPE_CHECKING:
    from .module import Module

__all__ = ["register_buffer", "register_parameter", "add_module", "get_submodule"]


def _typename(obj) -> str:
    import deepforge

    return deepforge.typename(obj) if isinstance(obj, Tensor) else type(obj).__name__


def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
    if "_buffers" not in self.__dict__:
        raise AttributeError("cannot assign buffer before Module.__init__() call")
    if not isinstance(name, str):
        raise TypeError(f"buffer name should be a string. Got {_typename(name)}")
    if "." in name:
        raise KeyError('buffer name can\'t contain "."')
    if name == "":
        raise KeyError('buffer name can\'t be empty string ""')
    if hasattr(self, name) and name not in self._buffers:
        raise KeyError(f"attribute '{name}' already exists")
    if tensor is not None and not isinstance(tensor, Tensor):
        raise TypeError(
            f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
            "(torch Tensor or None required)"
        )
    self._buffers[name] = tensor
    if persistent:
        self._non_persistent_buffers_set.discard(name)
    else:
        self._non_persistent_buffers_set.add(name)


def register_parameter(self, name: str, param) -> None:
    if "_parameters" not in self.__dict__:
        raise AttributeError("cannot assign parameter before Module.__init__() call")
    if not isinstance(name, str):
        raise TypeError(f"parameter name should be a string. Got {_typename(name)}")
    if "." in name:
        raise KeyError('parameter name can\'t contain "."')
    if name == "":
        raise KeyError('parameter name can\'t be empty string ""')
    if hasattr(self, name) and name not in self._parameters:
        raise KeyError(f"attribute '{name}' already exists")
    if param is None:
        self._parameters[name] = None
    elif not isinstance(param, Parameter):
        raise TypeError(
            f"cannot assign '{_typename(param)}' object to parameter '{name}' "
            "(torch.nn.Parameter or None required)"
        )
    elif param.grad_fn is not None:
        raise ValueError(
            f"Cannot assign non-leaf Tensor to parameter '{name}'. Model parameters must be "
            f"created explicitly. To express '{name}' as a function of another Tensor, compute "
            "the value in the forward() method."
        )
    else:
        self._parameters[name] = param


def add_module(self, name: str, module) -> None:
    from .module import Module

    if not isinstance(module, Module) and module is not None:
        raise TypeError(f"{_typename(module)} is not a Module subclass")
    if not isinstance(name, str):
        raise TypeError(f"module name should be a string. Got {_typename(name)}")
    if hasattr(self, name) and name not in self._modules:
        raise KeyError(f"attribute '{name}' already exists")
    if "." in name:
        raise KeyError(f'module name can\'t contain ".", got: {name}')
    if name == "":
        raise KeyError('module name can\'t be empty string ""')
    self._modules[name] = module


def register_module(self, name: str, module) -> None:
    self.add_module(name, module)


def get_submodule(self, target: str) -> Module:
    from .module import Module

    if target == "":
        return self
    mod = self
    for item in target.split("."):
        if not hasattr(mod, item):
            raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
        mod = getattr(mod, item)
        if not isinstance(mod, Module):
            raise AttributeError("`" + item + "` is not an nn.Module")
    return mod


def set_submodule(self, target: str, module: Module, strict: bool = False) -> None:
    from .module import Module

    if target == "":
        raise ValueError("Cannot set the submodule without a target name!")
    atoms = target.split(".")
    if not isinstance(module, Module):
        raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
    parent = self.get_submodule(".".join(atoms[:-1]))
    if strict and not hasattr(parent, atoms[-1]):
        raise AttributeError(parent._get_name() + " has no attribute `" + atoms[-1] + "`")
    if hasattr(parent, atoms[-1]) and not isinstance(getattr(parent, atoms[-1]), Module):
        raise AttributeError("`" + atoms[-1] + "` is not an nn.Module")
    setattr(parent, atoms[-1], module)


def get_parameter(self, target: str) -> Parameter:
    module_path, _, name = target.rpartition(".")
    mod = self.get_submodule(module_path)
    if not hasattr(mod, name):
        raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
    param = getattr(mod, name)
    if not isinstance(param, Parameter):
        raise AttributeError("`" + name + "` is not an nn.Parameter")
    return param


def get_buffer(self, target: str) -> Tensor:
    module_path, _, name = target.rpartition(".")
    mod = self.get_submodule(module_path)
    if not hasattr(mod, name):
        raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
    if name not in mod._buffers:
        raise AttributeError("`" + name + "` is not a buffer")
    return getattr(mod, name)


def get_extra_state(self):
    raise RuntimeError(
        "Reached a code path in Module.get_extra_state() that should never be called."
    )


def set_extra_state(self, state) -> None:
    raise RuntimeError(
        "Reached a code path in Module.set_extra_state() that should never be called."
    )
