"""``deepforge.cpu``: the CPU device module, as ``torch.cpu``."""

from __future__ import annotations

from .amp._device_amp import cpu_amp as _cpu_amp

__all__ = ["amp", "current_device", "device_count", "is_available", "synchronize"]

amp = _cpu_amp()


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def synchronize(device=None) -> None:
    """CPU ops finish before they return: nothing to wait for."""
