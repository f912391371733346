"""The deprecated per-device spellings ``torch.cuda.amp`` and ``torch.cpu.amp``.

``deepforge.cuda.amp`` and ``deepforge.cpu.amp`` are real modules (registered in
``sys.modules``) so that ``from deepforge.cuda.amp import autocast, GradScaler`` works. As in
PyTorch, each constructor emits a ``FutureWarning`` pointing at ``deepforge.amp``.
"""

from __future__ import annotations

import sys
import types
import warnings

from .. import _dtype
from .autocast_mode import autocast, custom_bwd, custom_fwd
from .grad_scaler import GradScaler


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"`{old}(args...)` is deprecated. Please use `{new}args...)` instead.",
        FutureWarning,
        stacklevel=3,
    )


class CudaAutocast(autocast):
    """``torch.cuda.amp.autocast``: ``autocast("cuda", ...)``; deepforge has no CUDA, so an
    enabled region warns and is disabled, as on a CUDA-less PyTorch."""

    def __init__(self, enabled: bool = True, dtype=_dtype.float16, cache_enabled: bool = True):
        _deprecated("torch.cuda.amp.autocast", "torch.amp.autocast('cuda', ")
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class CpuAutocast(autocast):
    """``torch.cpu.amp.autocast``: ``autocast("cpu", ...)``."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True):
        _deprecated("torch.cpu.amp.autocast", "torch.amp.autocast('cpu', ")
        super().__init__("cpu", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


def _scaler_class(device: str) -> type:
    class DeviceGradScaler(GradScaler):
        def __init__(
            self,
            init_scale: float = 2.0**16,
            growth_factor: float = 2.0,
            backoff_factor: float = 0.5,
            growth_interval: int = 2000,
            enabled: bool = True,
        ) -> None:
            _deprecated(f"torch.{device}.amp.GradScaler", f"torch.amp.GradScaler('{device}', ")
            super().__init__(
                device, init_scale, growth_factor, backoff_factor, growth_interval, enabled
            )

    DeviceGradScaler.__name__ = DeviceGradScaler.__qualname__ = "GradScaler"
    DeviceGradScaler.__doc__ = f"``torch.{device}.amp.GradScaler``: ``GradScaler('{device}')``."
    return DeviceGradScaler


def _namespace(parent: str, autocast_cls: type, with_custom: bool) -> types.ModuleType:
    name = f"{parent}.amp"
    mod = sys.modules.get(name)
    if mod is None:
        mod = types.ModuleType(name, f"``{name}``: deprecated aliases of ``deepforge.amp``.")
        mod.autocast = autocast_cls
        mod.GradScaler = _scaler_class(parent.rsplit(".", 1)[-1])
        if with_custom:
            mod.custom_fwd, mod.custom_bwd = custom_fwd, custom_bwd
        sys.modules[name] = mod
    return mod


def cuda_amp() -> types.ModuleType:
    return _namespace("deepforge.cuda", CudaAutocast, with_custom=True)


def cpu_amp() -> types.ModuleType:
    return _namespace("deepforge.cpu", CpuAutocast, with_custom=False)
