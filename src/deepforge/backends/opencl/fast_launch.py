"""The direct launch path (``deepforge._cl_launch``) bound to the OpenCL library in use.

The entry points come from the OpenCL library pyopencl itself loaded (its wheel bundles an
ICD loader; a source build links the system one), found in the process's memory map, so both
paths dispatch through the same loader. Where that cannot be done (no compiled extension, no
``/proc``, ``DEEPFORGE_OPENCL_DIRECT_LAUNCH=0``) ``launcher()`` is None and the backend
launches through pyopencl as before. Looked up on first use, never at import.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

log = logging.getLogger("deepforge.opencl")

__all__ = ["launcher", "status_name"]


def _loaded_opencl_library() -> str | None:
    """Path of the OpenCL library mapped into this process (after pyopencl is imported)."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rsplit(None, 1)[-1]
                if "libOpenCL" in os.path.basename(path) and os.path.exists(path):
                    return path
    except OSError:
        pass
    return ctypes.util.find_library("OpenCL")


def _bind():
    import pyopencl  # noqa: F401 - loads the OpenCL library looked for below

    if os.environ.get("DEEPFORGE_OPENCL_DIRECT_LAUNCH", "1") == "0":
        return None
    try:
        from deepforge import _cl_launch
    except ImportError:
        return None
    path = _loaded_opencl_library()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
        addresses = [
            ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
            for name in ("clSetKernelArg", "clEnqueueNDRangeKernel")
        ]
    except (OSError, AttributeError) as e:
        log.debug("direct kernel launches unavailable (%s): %s", path, e)
        return None
    _cl_launch.bind(*addresses)
    return _cl_launch


_BOUND: list = []


def launcher():
    """``deepforge._cl_launch`` bound to the process's OpenCL library, or None."""
    if not _BOUND:
        _BOUND.append(_bind())
    return _BOUND[0]


_STATUS_NAMES: dict = {}


def status_name(code: int) -> str:
    """The OpenCL name of a status code, e.g. ``CL_INVALID_KERNEL_ARGS (-52)``."""
    if not _STATUS_NAMES:
        import pyopencl

        sc = pyopencl.status_code
        _STATUS_NAMES.update({getattr(sc, n): n for n in dir(sc) if n.isupper()})
    return f"CL_{_STATUS_NAMES.get(code, 'UNKNOWN')} ({code})"
