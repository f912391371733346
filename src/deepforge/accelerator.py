"""``deepforge.accelerator``: device-agnostic code picks the first usable OpenCL device.

    acc = torch.accelerator
    device = acc.current_accelerator() if acc.is_available() else torch.device("cpu")
"""

from __future__ import annotations

from ._device import device

__all__ = [
    "is_available",
    "current_accelerator",
    "device_count",
    "current_device_index",
    "set_device_index",
    "synchronize",
    "current_device_idx",
    "set_device_idx",
]


def _count() -> int:
    from .backends import opencl_device_count

    return opencl_device_count()


def is_available() -> bool:
    """True when an OpenCL device that really builds kernels is present."""
    return _count() > 0


def device_count() -> int:
    return _count()


def current_device_index() -> int:
    from .backends import current_opencl_index

    return current_opencl_index() if is_available() else -1


current_device_idx = current_device_index


def current_accelerator(check_available: bool = False):
    """The accelerator device (``device('opencl', i)``), or None when there is none."""
    if not is_available():
        return None
    return device("opencl", current_device_index())


def set_device_index(index) -> None:
    import os

    idx = index.index if isinstance(index, device) else int(index)
    if not 0 <= idx < device_count():
        raise RuntimeError(
            f"invalid accelerator index {idx}: {device_count()} OpenCL device(s) available"
        )
    os.environ["DEEPFORGE_OPENCL_DEVICE"] = str(idx)


set_device_idx = set_device_index


def synchronize(device_=None) -> None:
    if is_available():
        from . import opencl

        opencl.synchronize()
