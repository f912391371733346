"""OpenCL device discovery, once per process: every device of every platform is probed by
building and running a tiny kernel; devices whose driver cannot do that are skipped with a
logged reason (logger ``deepforge.opencl``). Usable devices are numbered GPUs first, then the
others, in platform order. ``DEEPFORGE_OPENCL_PLATFORM`` (a substring of the platform name or
vendor, case-insensitive, e.g. ``Oclgrind``) restricts the search."""

from __future__ import annotations

import logging
import os
import threading
import warnings

import numpy as np

log = logging.getLogger("deepforge.opencl")

__all__ = ["devices", "unavailable_message", "InstallError"]

_INSTALL_HINT = (
    "install an OpenCL driver: your GPU vendor's driver (NVIDIA, AMD ROCm, Intel compute "
    "runtime) or, for any CPU, PoCL (`apt-get install pocl-opencl-icd`)"
)



class InstallError(RuntimeError):
    """No usable OpenCL device (or no pyopencl)."""


# -------------------------------------------------------------------------------------------
# discovery
# -------------------------------------------------------------------------------------------
lock = threading.RLock()  # also held by get_runtime
_devices: list | None = None  # [(device, ctx, queue)] of usable devices, in index order
_import_error: str | None = None
_probe_objects: list = []

_PROBE_SRC = """
__kernel void df_probe(__global int* a, const int k) {
    int i = get_global_id(0);
    a[i] = i * k + 1;
}
"""


def _prepare_env() -> None:
    # PoCL: pinning its worker threads roughly halves a launch-and-wait round trip
    os.environ.setdefault("POCL_AFFINITY", "1")


def _probe(cl, dev):
    """(ctx, queue) if ``dev`` builds and runs a kernel correctly, else raise with the reason."""
    ctx = cl.Context([dev])
    queue = cl.CommandQueue(ctx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prg = cl.Program(ctx, _PROBE_SRC).build()
    k = cl.Kernel(prg, "df_probe")
    n = 8
    buf = cl.Buffer(ctx, cl.mem_flags.READ_WRITE, 4 * n)
    k(queue, (n,), (1,), buf, np.int32(3))
    out = np.empty(n, np.int32)
    cl.enqueue_copy(queue, out, buf)
    queue.finish()
    if not np.array_equal(out, np.arange(n, dtype=np.int32) * 3 + 1):
        raise RuntimeError(f"probe kernel computed wrong values {out.tolist()}")
    # kept alive with the context: some drivers (Oclgrind) mis-track memory reused after an
    # early release
    _probe_objects.append((prg, k, buf))
    return ctx, queue


def devices() -> list:
    """The usable devices as (device, context, queue) tuples; probes once per process."""
    global _devices, _import_error
    if _devices is not None:
        return _devices
    with lock:
        if _devices is not None:
            return _devices
        found: list = []
        try:
            _prepare_env()
            import pyopencl as cl
        except ImportError as e:
            _import_error = str(e)
            _devices = []
            return _devices
        want = os.environ.get("DEEPFORGE_OPENCL_PLATFORM", "").strip().lower()
        try:
            platforms = cl.get_platforms()
        except Exception as e:  # no ICD loader / no platforms
            log.info("no OpenCL platforms: %s", e)
            platforms = []
        for p in platforms:
            pname = f"{p.name} ({p.vendor})"
            if want and want not in pname.lower():
                log.info("skipping OpenCL platform %s: DEEPFORGE_OPENCL_PLATFORM=%s", pname, want)
                continue
            try:
                devs = p.get_devices()
            except Exception as e:
                log.warning("skipping OpenCL platform %s: cannot list devices (%s)", pname, e)
                continue
            for d in devs:
                try:
                    ctx, queue = _probe(cl, d)
                except Exception as e:
                    reason = str(e).strip().splitlines()
                    log.warning(
                        "skipping OpenCL device %s on platform %s: it cannot build and run "
                        "kernels (%s)", d.name.strip(), pname, " ".join(reason[:6])[:500],
                    )
                    continue
                found.append((d, ctx, queue))
        gpus = [t for t in found if t[0].type & cl.device_type.GPU]
        others = [t for t in found if not t[0].type & cl.device_type.GPU]
        _devices = gpus + others
        for i, (d, _, _) in enumerate(_devices):
            log.info("opencl:%d is %s (%s)", i, d.name.strip(), d.platform.name)
        return _devices


def unavailable_message() -> str:
    if _import_error is not None:
        return (
            f"deepforge's OpenCL backend needs pyopencl, which is not importable "
            f"({_import_error}): pip install pyopencl (or pip install deepforge[opencl])"
        )
    return f"no usable OpenCL device was found; {_INSTALL_HINT}"
