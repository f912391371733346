"""``deepforge.opencl``: OpenCL devices, like ``torch.cuda`` for CUDA.

Nothing here creates an OpenCL context at import; the first call that needs a device probes
the drivers once (see ``deepforge.backends.opencl.runtime``).

Environment variables:

``DEEPFORGE_OPENCL_DEVICE``
    the index ``"opencl"`` means (default 0); devices are numbered GPUs first.
``DEEPFORGE_OPENCL_PLATFORM``
    only use platforms whose name or vendor contains this text (e.g. ``Oclgrind``).
``DEEPFORGE_OPENCL_SYNC=1``
    wait for the device after every kernel and name the kernel that failed.
``DEEPFORGE_OPENCL_DISABLE_FP64=1``
    treat the device as having no float64 support.
``DEEPFORGE_OPENCL_BUILD_OPTIONS``
    extra options for every kernel build (e.g. ``-cl-opt-disable``).
``DEEPFORGE_OPENCL_DEVICE_TYPE=gpu|cpu``
    pick the GPU or CPU kernel layouts whatever the device is (for testing).
``POCL_AFFINITY``
    set to 1 before the first context unless already set (faster launches on PoCL).
"""

from __future__ import annotations

__all__ = [
    "is_available", "device_count", "get_device_name", "get_device_properties", "synchronize",
    "memory_allocated", "max_memory_allocated", "reset_peak_memory_stats", "empty_cache",
    "current_device", "set_device", "device",
]


def is_available() -> bool:
    """True when at least one OpenCL device can build and run kernels."""
    return device_count() > 0


def device_count() -> int:
    from .backends import opencl_device_count

    return opencl_device_count()


def _index(dev) -> int:
    if dev is None:
        return current_device()
    if isinstance(dev, int):
        return dev
    from ._device import device as device_cls

    d = device_cls(dev) if not isinstance(dev, device_cls) else dev
    if d.type != "opencl":
        raise ValueError(f"Expected an opencl device, got {d}")
    return current_device() if d.index is None else d.index


def _runtime(dev=None):
    from .backends.opencl.runtime import get_runtime

    return get_runtime(_index(dev))


class DeviceProperties:
    """What ``get_device_properties`` reports about one device."""

    def __init__(self, rt):
        self.name = rt.name
        self.platform = rt.platform_name
        self.type = "cpu" if rt.is_cpu else "gpu"
        self.total_memory = rt.global_mem_size
        self.max_alloc_size = rt.max_alloc_size
        self.multi_processor_count = rt.compute_units
        self.max_work_group_size = rt.max_work_group_size
        self.local_memory = rt.local_mem_size
        self.supports_fp64 = rt.has_fp64
        self.supports_fp16 = rt.has_fp16

    def __repr__(self) -> str:
        return (
            f"_OpenCLDeviceProperties(name='{self.name}', platform='{self.platform}', "
            f"type={self.type}, total_memory={self.total_memory // (1 << 20)}MB, "
            f"multi_processor_count={self.multi_processor_count}, fp64={self.supports_fp64}, "
            f"fp16={self.supports_fp16})"
        )


def get_device_name(device=None) -> str:
    return _runtime(device).name


def get_device_properties(device=None) -> DeviceProperties:
    return DeviceProperties(_runtime(device))


def synchronize(device=None) -> None:
    """Wait until every kernel queued on the device has finished."""
    from .backends.opencl.runtime import created_runtimes

    if device is None:
        for rt in created_runtimes():
            rt.finish()
        return
    _runtime(device).finish()


def memory_allocated(device=None) -> int:
    """Bytes held by live tensors on the device (pool-rounded sizes)."""
    return _runtime(device).memory_allocated()


def max_memory_allocated(device=None) -> int:
    return _runtime(device).peak_bytes


def reset_peak_memory_stats(device=None) -> None:
    rt = _runtime(device)
    rt.peak_bytes = rt.memory_allocated()


def empty_cache() -> None:
    """Return the memory pool's unused buffers to the driver."""
    from .backends.opencl.runtime import created_runtimes

    for rt in created_runtimes():
        rt.empty_cache()


def current_device() -> int:
    from .backends import current_opencl_index

    return current_opencl_index()


def set_device(device) -> None:
    """Make ``device`` the one "opencl" (without an index) means."""
    import os

    idx = _index(device)
    n = device_count()
    if not 0 <= idx < max(n, 1):
        raise RuntimeError(f"Invalid device opencl:{idx}: {n} OpenCL device(s) available")
    os.environ["DEEPFORGE_OPENCL_DEVICE"] = str(idx)


class device:  # noqa: N801 - torch.cuda.device
    """Context manager that changes the current OpenCL device."""

    def __init__(self, device):
        self.idx = _index(device)
        self.prev = None

    def __enter__(self):
        self.prev = current_device()
        set_device(self.idx)
        return self

    def __exit__(self, *exc):
        set_device(self.prev)
        return False
