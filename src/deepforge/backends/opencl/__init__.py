"""The OpenCL backend: PyOpenCL runtime (``runtime``), strided device arrays (``array``) and
the primitives (``backend`` and the op-family modules it assembles).

Importing this package creates no context and imports no driver; ``device_count()`` probes
the devices once per process and ``get_opencl_backend(i)`` creates device i's context on
first use.
"""

from __future__ import annotations

__all__ = ["device_count", "get_opencl_backend", "is_available"]

_backends: dict = {}


def device_count() -> int:
    from .runtime import devices

    return len(devices())


def is_available() -> bool:
    return device_count() > 0


def get_opencl_backend(index: int):
    """The backend of device ``opencl:index`` (RuntimeError when it does not exist)."""
    b = _backends.get(index)
    if b is None:
        from .backend import OpenCLBackend
        from .runtime import get_runtime

        b = OpenCLBackend(get_runtime(index))
        _backends[index] = b
    return b
