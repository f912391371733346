"""``deepforge.cuda``: deepforge has no CUDA backend; these answer like a CUDA-less PyTorch.

GPU work goes through OpenCL: see ``deepforge.accelerator`` and ``deepforge.opencl``.
"""

from __future__ import annotations

__all__ = [
    "is_available",
    "device_count",
    "manual_seed",
    "manual_seed_all",
    "synchronize",
    "empty_cache",
    "is_bf16_supported",
    "current_device",
    "get_device_name",
]


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed) -> None:
    """Seeding CUDA is a no-op without CUDA (as in PyTorch)."""


def manual_seed_all(seed) -> None:
    """Seeding CUDA is a no-op without CUDA (as in PyTorch)."""


def synchronize(device=None) -> None:
    raise RuntimeError(_NO_CUDA)


def empty_cache() -> None:
    """Nothing to free: there is no CUDA allocator."""


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def current_device() -> int:
    raise RuntimeError(_NO_CUDA)


def get_device_name(device=None) -> str:
    raise RuntimeError(_NO_CUDA)


_NO_CUDA = (
    "deepforge has no CUDA backend; use the OpenCL backend (device 'opencl') or "
    "deepforge.accelerator.current_accelerator()"
)


# ``deepforge.cuda.amp``: PyTorch's deprecated spelling of ``deepforge.amp`` for CUDA
from .amp._device_amp import cuda_amp as _cuda_amp  # noqa: E402

amp = _cuda_amp()
