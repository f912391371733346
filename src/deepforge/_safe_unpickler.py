"""The unpicklers of ``deepforge.load``: the restricted one of ``weights_only=True`` and its
allow-list of globals, and the full one of ``weights_only=False``.

The restricted unpickler resolves a global only through ``_safe_lookup`` (deepforge's own
rebuild functions, a few harmless builtins, the user's ``add_safe_globals`` entries and the
stand-ins for torch's globals); anything else raises before it could be called.
"""

from __future__ import annotations

import collections
import pickle

from ._serialization_tensors import _CTX, _rebuild_from_storage, _rebuild_tensor
from ._torch_checkpoint import _torch_globals, _torch_persistent_load


class _WeightsOnlyError(pickle.UnpicklingError):
    """A global that ``weights_only=True`` does not allow."""


_SAFE = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("builtins", "range"): range,
    ("builtins", "bytearray"): bytearray,
}
_USER_SAFE: dict = {}  # (module, name) -> object; deepforge.serialization.add_safe_globals fills it


def _own_globals() -> dict:
    from . import _device, _dtype
    from .ops import random as rnd
    from .tensor import Size

    return {
        ("deepforge.serialization", "_rebuild_tensor"): _rebuild_tensor,
        ("deepforge.serialization", "_rebuild_from_storage"): _rebuild_from_storage,
        ("deepforge._dtype", "to_dtype"): _dtype.to_dtype,
        ("deepforge._device", "device"): _device.device,
        ("deepforge.tensor", "Size"): Size,
        ("deepforge.ops.random", "_rebuild_generator"): rnd._rebuild_generator,
    }


def _safe_lookup(module, name):
    key = (module, name)
    return (_own_globals().get(key) or _SAFE.get(key) or _USER_SAFE.get(key)
            or (_torch_globals().get(key) if module.startswith("torch") else None))


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        obj = _safe_lookup(module, name)
        if obj is None:
            raise _WeightsOnlyError(
                f"Weights only load failed: unsupported global: GLOBAL {module}.{name} was not "
                "an allowed global by default. Nothing in the file was run. If you trust it, "
                f"allow-list it with `deepforge.serialization.add_safe_globals([{name}])` or the "
                f"`deepforge.serialization.safe_globals([{name}])` context manager, or load the "
                "whole file with weights_only=False (which can run arbitrary code)."
            )
        return obj

    def persistent_load(self, pid):
        return _persistent_load(pid)


class _FullUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module.startswith("torch") and _CTX.torch_archive is not None:
            obj = _torch_globals().get((module, name))
            if obj is not None:
                return obj
        return super().find_class(module, name)

    def persistent_load(self, pid):
        return _persistent_load(pid)


def _persistent_load(pid):
    if _CTX.torch_archive is not None:
        return _torch_persistent_load(pid)
    storages = _CTX.storages
    if (not isinstance(pid, tuple) or len(pid) != 2 or pid[0] != "storage"
            or storages is None or pid[1] not in storages):
        raise RuntimeError(f"deepforge.load: corrupt file: unknown storage reference {pid!r}")
    return storages[pid[1]]
