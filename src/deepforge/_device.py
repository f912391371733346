"""``deepforge.device``: parsing and comparing device strings ("cpu", "opencl", "opencl:N")."""

from __future__ import annotations

__all__ = ["device"]

_KNOWN_TYPES = ("cpu", "opencl")


class device:  # noqa: N801 - mirrors torch.device
    """A device a tensor lives on. Compares and prints like ``torch.device``."""

    __slots__ = ("type", "index", "_backend")

    def __new__(cls, type_or_str=None, index: int | None = None):
        if isinstance(type_or_str, device):
            if index is not None:
                raise ValueError("device(): index given twice")
            return type_or_str
        if isinstance(type_or_str, int) and not isinstance(type_or_str, bool):
            type_or_str, index = "opencl", type_or_str
        if not isinstance(type_or_str, str):
            raise TypeError(
                f"device() expected a string or an int, got {type(type_or_str).__name__}"
            )
        key = (type_or_str, index)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        dev_type, dev_index = _parse(type_or_str, index)
        self = object.__new__(cls)
        self.type = dev_type
        self.index = dev_index
        self._backend = None
        _CACHE[key] = self
        return self

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError, ValueError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))

    def __enter__(self):
        from . import _default_device

        self._prev = _default_device.get()
        _default_device.set(self)
        return self

    def __exit__(self, *exc):
        from . import _default_device

        _default_device.set(self._prev)


_CACHE: dict = {}


def _parse(s: str, index: int | None) -> tuple[str, int | None]:
    name, sep, idx = s.partition(":")
    if sep:
        if index is not None:
            raise RuntimeError(
                f"type (string) must not include an index because index was passed explicitly: {s}"
            )
        if not idx.isdigit():
            raise RuntimeError(f"Invalid device string: '{s}'")
        index = int(idx)
    if name not in _KNOWN_TYPES:
        raise RuntimeError(
            f"Expected one of cpu, opencl device type at start of device string: {s}. "
            f"deepforge runs on these devices here: {', '.join(available_devices())}"
        )
    if index is not None and index < 0:
        raise RuntimeError(f"Device index must not be negative, got {index}")
    if name == "cpu" and index not in (None, 0):
        raise RuntimeError(f"cpu device index must be 0 or None, got {index}")
    return name, index


def available_devices() -> list[str]:
    """Names of the devices usable in this process (probes OpenCL only if pyopencl is present)."""
    names = ["cpu"]
    try:
        from .backends import opencl_device_count

        names += [f"opencl:{i}" for i in range(opencl_device_count())]
    except Exception:  # a broken driver must never break the error message itself
        pass
    return names


CPU = device("cpu")


def canonical(dev) -> device:
    """The device a tensor reports: "opencl" becomes "opencl:<current>" like torch's "cuda:0"."""
    d = device(dev) if not isinstance(dev, device) else dev
    if d.type == "opencl" and d.index is None:
        from .backends import current_opencl_index

        return device("opencl", current_opencl_index())
    if d.type == "cpu" and d.index is not None:
        return CPU
    return d
