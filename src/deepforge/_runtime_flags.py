"""PyTorch's process-wide switches and marker objects (``torch.set_anomaly_enabled``,
``torch.set_float32_matmul_precision``, ``torch.strided``, ``torch.channels_last``, ...).

Where a switch selects something deepforge does not do differently (lower-precision float32
matmuls, flushing denormals), it records the request and says so in its docstring.
"""

from __future__ import annotations

import warnings

from . import _dtype as dt
from .autograd.function import ANOMALY

__all__ = [
    "is_anomaly_enabled",
    "set_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
    "get_float32_matmul_precision",
    "set_float32_matmul_precision",
    "set_warn_always",
    "is_warn_always_enabled",
    "is_deterministic_algorithms_warn_only_enabled",
    "get_deterministic_debug_mode",
    "set_deterministic_debug_mode",
    "set_default_tensor_type",
    "set_flush_denormal",
    "get_device_module",
    "layout",
    "strided",
    "memory_format",
    "contiguous_format",
    "preserve_format",
    "channels_last",
    "channels_last_3d",
    "legacy_contiguous_format",
]


# -- anomaly mode (the state behind ``autograd.detect_anomaly``) -------------------------------
def is_anomaly_enabled() -> bool:
    return ANOMALY.enabled


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    ANOMALY.enabled = bool(enabled)
    ANOMALY.check_nan = bool(check_nan)


def is_anomaly_check_nan_enabled() -> bool:
    return ANOMALY.check_nan


# -- float32 matmul precision ------------------------------------------------------------------
_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = ["highest"]


def get_float32_matmul_precision() -> str:
    return _matmul_precision[0]


def set_float32_matmul_precision(precision: str) -> None:
    """Records the setting. deepforge's float32 matmuls always accumulate in float32 (the
    "highest" behaviour), which "high" and "medium" permit."""
    if precision not in _PRECISIONS:
        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
            "set_float32_matmul_precision call has no effect.",
            UserWarning,
            stacklevel=2,
        )
        return
    _matmul_precision[0] = precision


# -- warnings ----------------------------------------------------------------------------------
_warn_always = [False]


def set_warn_always(b: bool) -> None:
    """When True, warnings PyTorch shows once per process are shown every time."""
    _warn_always[0] = bool(b)


def is_warn_always_enabled() -> bool:
    return _warn_always[0]


# -- deterministic algorithms (the flags themselves live in deepforge/__init__.py) -------------
def _pkg():
    import deepforge

    return deepforge


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return bool(getattr(_pkg(), "_deterministic_warn_only", False))


def get_deterministic_debug_mode() -> int:
    df = _pkg()
    if not df.are_deterministic_algorithms_enabled():
        return 0
    return 1 if is_deterministic_algorithms_warn_only_enabled() else 2


_DEBUG_MODES = {"default": 0, "warn": 1, "error": 2}


def set_deterministic_debug_mode(debug_mode: str | int) -> None:
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(
                "invalid value of debug_mode, expected one of `default`, `warn`, `error`, but "
                f"got {debug_mode}"
            )
        debug_mode = _DEBUG_MODES[debug_mode]
    elif isinstance(debug_mode, bool) or not isinstance(debug_mode, int):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode).__name__}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(
            f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}"
        )
    df = _pkg()
    if debug_mode == 0:
        df.use_deterministic_algorithms(False)
    else:
        df.use_deterministic_algorithms(True, warn_only=debug_mode == 1)


# -- default tensor type (deprecated in PyTorch 2.1) -------------------------------------------
def set_default_tensor_type(t) -> None:
    """``set_default_tensor_type(torch.DoubleTensor)`` = ``set_default_dtype(torch.float64)``."""
    warnings.warn(
        "deepforge.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
        "deepforge.set_default_dtype() and deepforge.set_default_device() as alternatives.",
        UserWarning,
        stacklevel=2,
    )
    if isinstance(t, str):
        name = t.rsplit(".", 1)[-1]
        if ".cuda." in t:
            raise RuntimeError(f"set_default_tensor_type: deepforge has no CUDA backend ({t})")
        from . import _legacy

        cls = getattr(_legacy, name, None) if name in _legacy.__all__ else None
        if cls is None:
            raise TypeError(f"invalid type: '{t}'")
        t = cls
    d = getattr(t, "_legacy_dtype", None)
    if d is None:
        raise TypeError(f"invalid type: '{t!r}'")
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    dt.set_default_dtype(d)


def set_flush_denormal(mode: bool) -> bool:
    """Returns whether the request is in effect: deepforge does not switch the CPU to
    flush-to-zero, so ``True`` is refused (``False``) and ``False`` (the default) holds."""
    return not mode


def get_device_module(device=None):
    """The module of a device type: ``deepforge.opencl``, ``deepforge.cuda``."""
    df = _pkg()
    if device is None:
        acc = df.accelerator.current_accelerator()
        dev_type = acc.type if acc is not None else "cpu"
    elif isinstance(device, df.device):
        dev_type = device.type
    elif isinstance(device, str):
        dev_type = device.split(":", 1)[0]
    else:
        raise RuntimeError(f"Invalid value of device '{device}', expect torch.device, str, or None")
    if dev_type in ("opencl", "cuda"):
        return getattr(df, dev_type)
    raise RuntimeError(
        f"Device '{dev_type}' does not have a corresponding module registered as "
        f"'deepforge.{dev_type}'."
    )


# -- layouts and memory formats ----------------------------------------------------------------
class _Marker:
    """A named singleton that prints, compares and pickles like ``torch.strided``."""

    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def __repr__(self) -> str:
        return f"deepforge.{self._name}"

    def __reduce__(self):
        return self._name


class layout(_Marker):  # noqa: N801 - torch.layout
    """A tensor's memory layout; deepforge tensors are ``deepforge.strided``."""


class memory_format(_Marker):  # noqa: N801 - torch.memory_format
    """A memory format argument. deepforge accepts them and keeps its own strided layout, so
    ``channels_last`` gives the same values in a row-major (``contiguous_format``) tensor."""


strided = layout("strided")
contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
legacy_contiguous_format = contiguous_format
