"""``nn.utils.skip_init``: build a module whose parameters and buffers are left uninitialized."""

from __future__ import annotations

import inspect

from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls: type[Module], *args, **kwargs) -> Module:
    """Instantiate ``module_cls(*args, **kwargs)`` with uninitialized parameters and buffers
    (``torch.empty`` contents) on ``device`` (default ``"cpu"``).

    PyTorch builds the module on the ``meta`` device so that no initializer runs; deepforge has
    no ``meta`` device, so the module is built on the target device and its tensors are then
    replaced by uninitialized ones (``to_empty``). The result has the same contract (shapes,
    dtypes, device, uninitialized contents); only the initialization time is not saved.
    """
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    kwargs["device"] = final_device
    return module_cls(*args, **kwargs).to_empty(device=final_device)
