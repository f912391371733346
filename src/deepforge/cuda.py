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


class amp:  # noqa: N801 - torch.cuda.amp namespace stand-in
    class GradScaler:
        def __init__(self, *args, enabled: bool = True, **kwargs):
            self._enabled = False

        def scale(self, loss):
            return loss

        def step(self, optimizer, *args, **kwargs):
            return optimizer.step(*args, **kwargs)

        def update(self, new_scale=None):
            pass

        def unscale_(self, optimizer):
            pass

        def is_enabled(self) -> bool:
            return False
