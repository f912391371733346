"""``nn.utils.convert_conv2d_weight_memory_format`` / ``convert_conv3d_weight_memory_format``.

deepforge stores every tensor in the row-major (``contiguous_format``) layout; a requested
``channels_last`` / ``channels_last_3d`` is accepted and gives a row-major copy with the same
values. The converted module therefore computes exactly what it computed before, as in PyTorch
(where only the speed changes); ``weight.is_contiguous(memory_format=channels_last)`` reports
the layout deepforge really has.
"""

from __future__ import annotations

from typing import TypeVar

import deepforge

from ..modules.conv import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d
from ..modules.module import Module

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]

_M = TypeVar("_M", bound=Module)


def _convert(module: _M, memory_format, kinds: tuple) -> _M:
    if isinstance(module, kinds):
        if memory_format is not None and not isinstance(memory_format, deepforge.memory_format):
            raise TypeError(
                "clone(): argument 'memory_format' must be torch.memory_format, not "
                f"{type(memory_format).__name__}"
            )
        # the same Parameter object keeps its identity (optimizers hold it)
        module.weight.data = module.weight.detach().clone(memory_format=memory_format)
    for child in module.children():
        _convert(child, memory_format, kinds)
    return module


def convert_conv2d_weight_memory_format(module: _M, memory_format: deepforge.memory_format) -> _M:
    """Re-lay the weights of every ``Conv2d``/``ConvTranspose2d`` in ``module`` in
    ``memory_format`` (in deepforge: a row-major copy, values unchanged); returns ``module``."""
    return _convert(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module: _M, memory_format: deepforge.memory_format) -> _M:
    """Re-lay the weights of every ``Conv3d``/``ConvTranspose3d`` in ``module`` in
    ``memory_format`` (in deepforge: a row-major copy, values unchanged); returns ``module``."""
    return _convert(module, memory_format, (Conv3d, ConvTranspose3d))
