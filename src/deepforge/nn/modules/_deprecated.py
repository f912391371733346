"""``Container``: PyTorch's deprecated predecessor of ``Module`` (``nn.modules.container``)."""

from __future__ import annotations

import warnings

from .module import Module

__all__ = ["Container"]

_CONTAINER_DEPRECATED = (
    "`nn.Container` is deprecated. All of its functionality is now implemented in "
    "`nn.Module`. Subclass that instead."
)


class Container(Module):
    """Deprecated: a Module whose keyword arguments become its submodules. Like PyTorch, it
    warns when instantiated directly and when subclassed."""

    def __init_subclass__(cls, **kwargs):
        warnings.warn(_CONTAINER_DEPRECATED, FutureWarning, stacklevel=2)
        super().__init_subclass__(**kwargs)

    def __init__(self, **kwargs):
        if type(self) is Container:
            warnings.warn(_CONTAINER_DEPRECATED, FutureWarning, stacklevel=2)
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)
