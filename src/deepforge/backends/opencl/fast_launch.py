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

import numpy as np

log = logging.getLogger("deepforge.opencl")

__all__ = ["arg_codes", "launch_direct", "launcher", "status_name"]


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
            for name in (
                "clSetKernelArg", "clEnqueueNDRangeKernel", "clRetainMemObject",
                "clReleaseMemObject",
            )
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


# argument codes of ``_cl_launch.launch``: "o" for buffers, null buffers and by-value structs
# (pyopencl's None scalar type), one letter per scalar C type
_ARG_CODES = {
    None: "o",
    np.dtype(np.int64): "l",
    np.dtype(np.int32): "i",
    np.dtype(np.float32): "f",
    np.dtype(np.float64): "d",
    np.dtype(np.uint64): "L",
    np.dtype(np.uint32): "I",
}


def arg_codes(scalar_dtypes) -> tuple | None:
    """Codes for a kernel typed with ``set_scalar_arg_dtypes(scalar_dtypes)``, or None when
    an argument has a type the direct setter does not pack."""
    codes = tuple(_ARG_CODES.get(None if t is None else np.dtype(t)) for t in scalar_dtypes)
    return None if None in codes else codes


def launch_direct(rt, kernel, gsize, lsize, args: tuple) -> None:
    """Set ``kernel``'s arguments and enqueue it on ``rt``'s queue without pyopencl's
    wrappers: in one call for typed kernels, else through pyopencl's argument setter."""
    direct = rt.direct
    codes = rt.tls.arg_codes.get(kernel)
    status = direct.NOT_HANDLED
    if codes is not None:
        status = direct.launch(rt.queue_ptr, kernel.int_ptr, gsize, lsize, args, codes)
    if status == direct.NOT_HANDLED:
        kernel.set_args(*args)
        status = direct.enqueue(rt.queue_ptr, kernel.int_ptr, gsize, lsize)
    if status:
        raise RuntimeError(status_name(status))
