"""``autocast`` and the autocast state functions (``torch.autocast``, ``torch.is_autocast_enabled``
...).

deepforge keeps PyTorch's per-device-type autocast state (enabled flag, target dtype, nesting,
cache flag) and its context manager / decorator, but does not yet run any op in lower
precision: entering an enabled ``autocast`` region warns and disables autocast for that
region, the way PyTorch itself disables autocast when the requested dtype or device is not
supported. Every op therefore computes in its inputs' dtype, exactly as without autocast, and
``is_autocast_enabled`` answers ``False`` inside such a region, so code that branches on it
stays truthful. ``enabled=False`` regions and the state functions behave as in PyTorch.

PyTorch's CPU autocast defaults to bfloat16; deepforge has no bfloat16, and the only
lower-precision float it has is float16, so that is the default dtype reported for every
device type.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from .. import _dtype

__all__ = [
    "autocast", "is_autocast_available", "is_autocast_enabled", "set_autocast_enabled",
    "get_autocast_dtype", "set_autocast_dtype", "is_autocast_cpu_enabled",
    "set_autocast_cpu_enabled", "get_autocast_cpu_dtype", "set_autocast_cpu_dtype",
    "get_autocast_gpu_dtype", "set_autocast_gpu_dtype", "is_autocast_cache_enabled",
    "set_autocast_cache_enabled", "clear_autocast_cache", "autocast_increment_nesting",
    "autocast_decrement_nesting", "custom_fwd", "custom_bwd",
]  # fmt: skip

# device types autocast knows; "cuda" is accepted so CUDA scripts run (and disable it, as a
# CUDA-less PyTorch does)
_DEVICE_TYPES = ("cpu", "opencl", "cuda")
_enabled: dict[str, bool] = dict.fromkeys(_DEVICE_TYPES, False)
_dtypes: dict[str, Any] = dict.fromkeys(_DEVICE_TYPES, _dtype.float16)
_cache_enabled = [True]
_nesting = [0]


def _check_device_type(device_type: Any, where: str = "autocast") -> str:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    kind = device_type.split(":")[0]
    if kind not in _DEVICE_TYPES:
        raise RuntimeError(
            f"User specified an unsupported autocast device_type '{device_type}' in {where}; "
            f"deepforge supports {', '.join(repr(d) for d in _DEVICE_TYPES)}"
        )
    return kind


def is_autocast_available(device_type: str) -> bool:
    """Whether ``autocast`` accepts ``device_type`` (it never lowers precision, see the module
    docstring)."""
    return device_type.split(":")[0] in _DEVICE_TYPES


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` (PyTorch's default argument means CUDA)."""
    return _enabled[_check_device_type(device_type or "cuda", "is_autocast_enabled")]


def set_autocast_enabled(device_type: str, enabled: bool | None = None) -> None:
    if enabled is None:  # the old one-argument form: set_autocast_enabled(enabled) for CUDA
        device_type, enabled = "cuda", bool(device_type)
    _enabled[_check_device_type(device_type, "set_autocast_enabled")] = bool(enabled)


def get_autocast_dtype(device_type: str):
    return _dtypes[_check_device_type(device_type, "get_autocast_dtype")]


def set_autocast_dtype(device_type: str, dtype) -> None:
    _dtypes[_check_device_type(device_type, "set_autocast_dtype")] = _dtype.to_dtype(dtype)


def is_autocast_cpu_enabled() -> bool:
    return _enabled["cpu"]


def set_autocast_cpu_enabled(enabled: bool) -> None:
    _enabled["cpu"] = bool(enabled)


def get_autocast_cpu_dtype():
    return _dtypes["cpu"]


def set_autocast_cpu_dtype(dtype) -> None:
    _dtypes["cpu"] = _dtype.to_dtype(dtype)


def get_autocast_gpu_dtype():
    return _dtypes["cuda"]


def set_autocast_gpu_dtype(dtype) -> None:
    _dtypes["cuda"] = _dtype.to_dtype(dtype)


def is_autocast_cache_enabled() -> bool:
    return _cache_enabled[0]


def set_autocast_cache_enabled(enabled: bool) -> None:
    _cache_enabled[0] = bool(enabled)


def clear_autocast_cache() -> None:
    """Nothing is cached: deepforge's autocast makes no casted weight copies."""


def autocast_increment_nesting() -> int:
    _nesting[0] += 1
    return _nesting[0]


def autocast_decrement_nesting() -> int:
    _nesting[0] -= 1
    return _nesting[0]


class autocast:  # noqa: N801 - torch.autocast
    """Autocast region (context manager or decorator), ``torch.autocast(device_type, dtype=None,
    enabled=True, cache_enabled=None)``.

    deepforge runs every op in its inputs' dtype inside the region; an enabled region warns
    and turns autocast off for its duration (see the module docstring).
    """

    def __init__(
        self,
        device_type: str,
        dtype=None,
        enabled: bool = True,
        cache_enabled: bool | None = None,
    ) -> None:
        self.device = _check_device_type(device_type)
        if dtype is not None and not isinstance(dtype, _dtype.dtype):
            raise TypeError(
                f"autocast: dtype must be a deepforge.dtype, got {dtype!r} "
                "(deepforge has no bfloat16; its lower-precision float is deepforge.float16)"
            )
        self.fast_dtype = get_autocast_dtype(self.device) if dtype is None else dtype
        self._cache_enabled = (
            is_autocast_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        )
        self._enabled = bool(enabled)
        if self._enabled:
            self._enabled = self._supported()

    def _supported(self) -> bool:
        name = self.device.upper()
        if self.device == "cuda":
            reason = "CUDA is not available (deepforge has no CUDA backend)."
        elif self.fast_dtype != _dtype.float16:
            reason = (
                f"In {name} autocast, but the target dtype is not supported. {name} autocast "
                "only supports deepforge.float16 (deepforge has no bfloat16)."
            )
        else:
            reason = (
                f"deepforge's {name} autocast does not run ops in float16 yet: every op keeps "
                "its inputs' dtype (convert the model with .half() to compute in float16)."
            )
        warnings.warn(f"{reason} Disabling autocast.", UserWarning, stacklevel=3)
        return False

    def __enter__(self) -> autocast:
        self.prev = _enabled[self.device]
        self.prev_fast_dtype = _dtypes[self.device]
        self.prev_cache_enabled = _cache_enabled[0]
        _enabled[self.device] = self._enabled
        _dtypes[self.device] = self.fast_dtype
        _cache_enabled[0] = self._cache_enabled
        autocast_increment_nesting()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> bool:
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        _enabled[self.device] = self.prev
        _dtypes[self.device] = self.prev_fast_dtype
        _cache_enabled[0] = self.prev_cache_enabled
        return False

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def decorate_autocast(*args, **kwargs):
            with autocast(
                self.device,
                dtype=self.fast_dtype,
                enabled=self._enabled,
                cache_enabled=self._cache_enabled,
            ):
                return func(*args, **kwargs)

        return decorate_autocast


def custom_fwd(fwd: Callable | None = None, *, device_type: str, cast_inputs=None) -> Callable:
    """Decorator for a custom ``Function.forward``: run it with autocast off when
    ``cast_inputs`` is given (its floating inputs are cast to ``cast_inputs`` first), else under
    the autocast state of the caller, as in ``torch.amp.custom_fwd``."""
    _check_device_type(device_type, "custom_fwd")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
        if cast_inputs is None or not is_autocast_enabled(device_type):
            return fwd(*args, **kwargs)
        with autocast(device_type=device_type, enabled=False):
            return fwd(*_cast(args, cast_inputs), **_cast(kwargs, cast_inputs))

    return decorate_fwd


def custom_bwd(bwd: Callable | None = None, *, device_type: str) -> Callable:
    """Decorator for a custom ``Function.backward``: run it under the forward's autocast state."""
    _check_device_type(device_type, "custom_bwd")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(
            device_type=device_type,
            enabled=getattr(ctx, "_fwd_used_autocast", False),
            dtype=getattr(ctx, "_dtype", None),
        ):
            return bwd(*args, **kwargs)

    return decorate_bwd


def _cast(value, dtype):
    from ..tensor import Tensor

    if isinstance(value, Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, dict):
        return {k: _cast(v, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, dtype) for v in value)
    return value
