"""``deepforge.save`` / ``deepforge.load``: a pickle whose tensors are stored as raw numpy data,
read back with a restricted unpickler (no arbitrary code runs unless ``weights_only=False``).
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile

import numpy as np

__all__ = ["save", "load", "safe_globals", "add_safe_globals", "get_safe_globals",
           "clear_safe_globals", "UnpicklingError"]

_MAGIC = b"DEEPFORGE\x00v1\n"
UnpicklingError = pickle.UnpicklingError


def _rebuild_tensor(raw: bytes, shape, dtype_name, device, requires_grad, cls_name=None):
    from . import _dtype as dt
    from .ops.creation import _on_device

    d = dt.to_dtype(dtype_name)
    expected = int(np.prod(shape, dtype=np.int64)) * d.itemsize
    if len(raw) != expected:
        raise RuntimeError(
            f"deepforge.load: tensor data is {len(raw)} bytes, expected {expected} for shape {list(shape)}"
        )
    arr = np.frombuffer(raw, dtype=d.np).reshape(shape).copy()
    t = _on_device(arr, d, device)
    if cls_name == "Parameter":
        from .nn.parameter import Parameter

        return Parameter(t, requires_grad=requires_grad)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor_args(t):
    host = np.ascontiguousarray(t._backend().to_numpy(t._data))
    return (_rebuild_tensor, (host.tobytes(), tuple(host.shape), t._dtype.name, str(t._device), t._rg,
                              type(t).__name__))


_SAFE = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("builtins", "range"): range,
}
_USER_SAFE: dict = {}


def _safe_lookup(module, name):
    from . import _device, _dtype
    from .ops import random as rnd
    from .tensor import Size

    own = {
        ("deepforge.serialization", "_rebuild_tensor"): _rebuild_tensor,
        ("deepforge._dtype", "to_dtype"): _dtype.to_dtype,
        ("deepforge._device", "device"): _device.device,
        ("deepforge.tensor", "Size"): Size,
        ("deepforge.ops.random", "_rebuild_generator"): rnd._rebuild_generator,
    }
    obj = own.get((module, name)) or _SAFE.get((module, name)) or _USER_SAFE.get((module, name))
    return obj


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        obj = _safe_lookup(module, name)
        if obj is None:
            raise pickle.UnpicklingError(
                f"Weights only load failed: unsupported global: GLOBAL {module}.{name} was not an "
                "allowed global by default. Please use `deepforge.serialization.add_safe_globals"
                f"([{name}])` or the `deepforge.serialization.safe_globals([{name}])` context "
                "manager to allowlist this global if you trust this class/function, or load with "
                "weights_only=False if you trust the whole file."
            )
        return obj


def _key(obj):
    return (obj.__module__, obj.__qualname__)


def add_safe_globals(safe_globals) -> None:
    for g in safe_globals:
        if isinstance(g, tuple):
            g, name = g
            _USER_SAFE[tuple(name.rsplit(".", 1))] = g
        else:
            _USER_SAFE[_key(g)] = g


def get_safe_globals() -> list:
    return list(_USER_SAFE.values())


def clear_safe_globals() -> None:
    _USER_SAFE.clear()


class safe_globals:  # noqa: N801
    """Context manager that allows ``safe_globals`` while loading with ``weights_only=True``."""

    def __init__(self, safe_globals):
        self._globals = list(safe_globals)

    def __enter__(self):
        self._prev = dict(_USER_SAFE)
        add_safe_globals(self._globals)
        return self

    def __exit__(self, *exc):
        _USER_SAFE.clear()
        _USER_SAFE.update(self._prev)
        return False


def save(obj, f, pickle_module=pickle, pickle_protocol: int = 2, _use_new_zipfile_serialization=True) -> None:
    """Serialize ``obj`` (tensors, state_dicts, containers, modules) to a path or file object."""
    buf = io.BytesIO()
    pickle_module.Pickler(buf, protocol=max(pickle_protocol, 4)).dump(obj)
    payload = buf.getvalue()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            _write(fh, payload)
    else:
        _write(f, payload)


def _write(fh, payload: bytes) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/format", _MAGIC)
        zf.writestr("archive/data.pkl", payload)


def load(f, map_location=None, pickle_module=None, *, weights_only: bool = True, mmap=None, **kwargs):
    """Load what ``save`` wrote. With ``weights_only=True`` (default) only tensors, containers
    and allow-listed classes are rebuilt; nothing else in the file is executed."""
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            raw = fh.read()
    else:
        raw = f.read()
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            if zf.read("archive/format") != _MAGIC:
                raise RuntimeError("not a deepforge file (bad format marker)")
            bad = zf.testzip()
            if bad is not None:
                raise RuntimeError(f"corrupt deepforge file: checksum failed for {bad}")
            payload = zf.read("archive/data.pkl")
    except (zipfile.BadZipFile, KeyError, EOFError) as e:
        raise RuntimeError(
            f"deepforge.load: the file is truncated or not a deepforge checkpoint ({e})"
        ) from None
    unpickler = _RestrictedUnpickler if weights_only else pickle.Unpickler
    try:
        obj = unpickler(io.BytesIO(payload)).load()
    except pickle.UnpicklingError:
        raise
    except (EOFError, ValueError) as e:
        raise RuntimeError(f"deepforge.load: corrupt data ({e})") from None
    if map_location is not None:
        obj = _map(obj, map_location)
    return obj


def _map(obj, loc):
    from .tensor import Tensor

    if isinstance(obj, Tensor):
        dev = loc(obj, str(obj.device)) if callable(loc) else loc
        if isinstance(dev, dict):
            dev = dev.get(str(obj.device), str(obj.device))
        if isinstance(dev, Tensor):
            return dev
        return obj.to(dev) if type(obj).__name__ != "Parameter" else type(obj)(obj.detach().to(dev), obj.requires_grad)
    if isinstance(obj, dict):
        return type(obj)((k, _map(v, loc)) for k, v in obj.items()) if not isinstance(obj, collections.OrderedDict) \
            else collections.OrderedDict((k, _map(v, loc)) for k, v in obj.items())
    if isinstance(obj, list):
        return [_map(v, loc) for v in obj]
    if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
        return tuple(_map(v, loc) for v in obj)
    return obj
