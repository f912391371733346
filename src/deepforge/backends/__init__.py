"""The backend registry: maps a device to the module/object that implements its primitives.

Only this package and the dispatch layer (``deepforge.ops._dispatch``) touch backends. The
OpenCL backend is imported lazily so ``import deepforge`` works without pyopencl.
"""

from __future__ import annotations

import os

from . import cpu, cudnn, mps  # noqa: F401 - cudnn/mps: PyTorch-compatible flag modules

__all__ = ["get_backend", "opencl_device_count", "current_opencl_index", "BACKEND_TYPES"]

BACKEND_TYPES = ("cpu", "opencl")


def get_backend(dev):
    """The backend for a canonical ``deepforge.device`` (cached on the device object)."""
    b = dev._backend
    if b is not None:
        return b
    if dev.type == "cpu":
        b = cpu
    elif dev.type == "opencl":
        from .opencl import get_opencl_backend

        b = get_opencl_backend(dev.index if dev.index is not None else current_opencl_index())
    else:  # pragma: no cover - device() already rejects unknown types
        raise RuntimeError(f"no backend registered for device type '{dev.type}'")
    dev._backend = b
    return b


def opencl_device_count() -> int:
    try:
        from .opencl import device_count
    except ImportError:
        return 0
    return device_count()


def current_opencl_index() -> int:
    env = os.environ.get("DEEPFORGE_OPENCL_DEVICE")
    return int(env) if env and env.isdigit() else 0
