"""``deepforge.save`` / ``deepforge.load``: checkpoints as a zip archive, like ``torch.save``.

The archive holds the pickled object and, as separate entries, the raw bytes of each tensor
storage (layout: ``deepforge._serialization_format``). Tensors that are views of one storage
(CPU tensors sharing memory) are written once and are views of one storage again after
loading; only the byte range the saved views cover is written, so saving a small view of a
big tensor writes a small file.

Loading is safe by default (``weights_only=True``): the restricted unpickler rebuilds only
tensors, containers and allow-listed globals (``add_safe_globals`` / ``safe_globals``); any
other global (a class, ``os.system``...) raises ``pickle.UnpicklingError`` naming it, before
anything is called. A truncated or corrupt file raises ``RuntimeError`` and returns nothing.

Checkpoints written by ``torch.save`` (its zip format) load too, under the same rules:
their tensors become deepforge tensors (``map_location`` maps torch's locations such as
``"cuda:0"``), and ``torch.nn.Parameter`` becomes ``deepforge.nn.Parameter``.

Plain ``pickle`` of a tensor (``Tensor.__reduce_ex__``, used by multiprocessing and
``copy``) goes through ``_rebuild_tensor_args``: the tensor's data as one bytes-like buffer.

The machinery lives in private modules: ``_serialization_tensors`` (tensor records),
``_serialization_format`` (the zip archive), ``_safe_unpickler`` (the unpicklers and the
allow-list) and ``_torch_checkpoint`` (torch.save files).
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools

from ._safe_unpickler import (
    _USER_SAFE,
    _FullUnpickler,
    _RestrictedUnpickler,
    _safe_lookup,
    _WeightsOnlyError,
)
from ._serialization_format import _read_all, _read_archive, _write
from ._serialization_tensors import (  # noqa: F401 - the rebuild functions' pickled home
    _CTX,
    _ArchivePickler,
    _rebuild_from_storage,
    _rebuild_tensor,
)

__all__ = ["save", "load", "safe_globals", "add_safe_globals", "get_safe_globals",
           "clear_safe_globals", "get_unsafe_globals_in_checkpoint", "DEFAULT_PROTOCOL"]

DEFAULT_PROTOCOL = 2


# -- safe globals ------------------------------------------------------------------------------
def _key(obj):
    return (obj.__module__, obj.__qualname__)


def add_safe_globals(safe_globals) -> None:
    """Allow these classes/functions in ``load(weights_only=True)``. An entry is the object
    itself or ``(object, "module.qualname")`` when it is pickled under another name."""
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


class safe_globals:  # noqa: N801 - torch.serialization.safe_globals
    """Context manager: allow ``safe_globals`` in ``load(weights_only=True)`` inside it."""

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


# -- save / load -------------------------------------------------------------------------------
def save(obj, f, pickle_module=pickle, pickle_protocol: int = DEFAULT_PROTOCOL,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False):
    """Save ``obj`` (tensors, state_dicts, optimizer state, containers, whole modules) to a
    path or a binary file object."""
    protocol = max(int(pickle_protocol), 4)
    buf = io.BytesIO()
    if pickle_module is pickle:
        pickler = _ArchivePickler(buf, protocol)
        pickler.dump(obj)
        storages = pickler.order
    else:  # a custom pickle module: tensors carry their bytes inside the pickle
        pickle_module.Pickler(buf, protocol=protocol).dump(obj)
        storages = []
    payload = buf.getbuffer()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            _write(fh, payload, storages)
    else:
        _write(f, payload, storages)



def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = None,
         mmap=None, **pickle_load_args):
    """Load what ``save`` wrote from a path or a binary file object.

    ``weights_only`` (default True) rebuilds only tensors, containers and allow-listed globals
    and refuses anything else with ``pickle.UnpicklingError`` before running it.
    ``map_location``: a device (string or ``deepforge.device``), a dict mapping saved device
    strings to devices, or ``fn(tensor, saved_device) -> tensor | device | None``.
    """
    if weights_only is None:
        weights_only = True
    if isinstance(map_location, dict):
        map_location = {str(k): str(v) for k, v in map_location.items()}
    elif map_location is not None and not callable(map_location):
        map_location = str(map_location)
    payload, storages, torch_archive = _read_archive(_read_all(f))
    unpickler_cls = _RestrictedUnpickler if weights_only else _FullUnpickler
    prev = (_CTX.map_location, _CTX.storages, _CTX.torch_archive)
    _CTX.map_location, _CTX.storages, _CTX.torch_archive = map_location, storages, torch_archive
    try:
        return unpickler_cls(io.BytesIO(payload), **pickle_load_args).load()
    except _WeightsOnlyError:
        raise
    except RuntimeError as e:
        if str(e).startswith("deepforge.load"):
            raise
        raise RuntimeError(f"deepforge.load: failed to rebuild the saved object ({e})") from e
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, OverflowError, MemoryError, UnicodeDecodeError) as e:
        if not weights_only and not isinstance(e, (pickle.UnpicklingError, EOFError)):
            raise
        raise RuntimeError(
            f"deepforge.load: corrupt checkpoint data ({type(e).__name__}: {e})"
        ) from None
    finally:
        _CTX.map_location, _CTX.storages, _CTX.torch_archive = prev


def get_unsafe_globals_in_checkpoint(f) -> list[str]:
    """The ``module.name`` globals in a checkpoint that ``weights_only=True`` would refuse."""
    payload = _read_archive(_read_all(f))[0]
    found, strings, memo = [], [], {}
    top = None  # the string on top of the unpickler's stack, if it is one
    for op, arg, _pos in pickletools.genops(payload):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
            top = arg
            strings.append(arg)
        elif op.name == "MEMOIZE":
            memo[len(memo)] = top
        elif op.name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = top
        elif op.name in ("GET", "BINGET", "LONG_BINGET"):
            top = memo.get(arg)
            strings.append(top)
        elif op.name in ("GLOBAL", "INST"):
            module, name = arg.split(" ", 1)
            found.append((module, name))
            top = None
        elif op.name == "STACK_GLOBAL":
            if len(strings) >= 2 and isinstance(strings[-2], str) and isinstance(strings[-1], str):
                found.append((strings[-2], strings[-1]))
            top = None
        else:
            top = None
    out = []
    for module, name in found:
        if _safe_lookup(module, name) is None and f"{module}.{name}" not in out:
            out.append(f"{module}.{name}")
    return out
