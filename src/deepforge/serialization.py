"""``deepforge.save`` / ``deepforge.load``: checkpoints as a zip archive, like ``torch.save``.

Layout (all entries stored uncompressed, each with the zip's CRC-32)::

    archive/format      b"DEEPFORGE\\x00v2\\n"
    archive/byteorder   b"little"
    archive/data.pkl    the object, pickled; each tensor refers to a storage by key
    archive/storages    one line per storage: "key lo hi" (the byte range that was written)
    archive/data/KEY    the raw bytes of a storage

Tensors that are views of one storage (CPU tensors sharing memory) are written once and are
views of one storage again after loading; only the byte range the saved views cover is
written, so saving a small view of a big tensor writes a small file.

Loading is safe by default (``weights_only=True``): the restricted unpickler rebuilds only
tensors, containers and allow-listed globals (``add_safe_globals`` / ``safe_globals``); any
other global (a class, ``os.system``...) raises ``pickle.UnpicklingError`` naming it, before
anything is called. A truncated or corrupt file raises ``RuntimeError`` and returns nothing.

Checkpoints written by ``torch.save`` (its zip format) load too, under the same rules:
their tensors become deepforge tensors (``map_location`` maps torch's locations such as
``"cuda:0"``), and ``torch.nn.Parameter`` becomes ``deepforge.nn.Parameter``.

Plain ``pickle`` of a tensor (``Tensor.__reduce_ex__``, used by multiprocessing and
``copy``) goes through ``_rebuild_tensor_args``: the tensor's data as one bytes-like buffer.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import pickletools
import sys
import threading
import zipfile

import numpy as np

__all__ = ["save", "load", "safe_globals", "add_safe_globals", "get_safe_globals",
           "clear_safe_globals", "get_unsafe_globals_in_checkpoint", "DEFAULT_PROTOCOL"]

DEFAULT_PROTOCOL = 2
_MAGIC = b"DEEPFORGE\x00v2\n"
_MAGIC_V1 = b"DEEPFORGE\x00v1\n"   # older files: tensor bytes inside data.pkl
_PREFIX = "archive/"


class _WeightsOnlyError(pickle.UnpicklingError):
    """A global that ``weights_only=True`` does not allow."""


# -- tensors in plain pickles ------------------------------------------------------------------
def _class_tag(t):
    """None for Tensor, "Parameter" for deepforge's Parameter, else the subclass itself."""
    from .tensor import Tensor

    cls = type(t)
    if cls is Tensor:
        return None
    for c in cls.__mro__:
        if c.__name__ == "Parameter" and c.__module__.startswith("deepforge.nn"):
            return "Parameter" if c is cls else cls
    return cls


def _tensor_state(t):
    d = getattr(t, "__dict__", None)
    return dict(d) if d else None


def _finish(t, requires_grad, cls, state):
    if cls == "Parameter":
        from .nn.parameter import Parameter

        t = Parameter(t, requires_grad=requires_grad)
    else:
        if cls is not None:
            if not (isinstance(cls, type) and issubclass(cls, type(t))):
                raise RuntimeError(f"deepforge.load: {cls!r} is not a Tensor subclass")
            from .tensor import make_tensor

            t = make_tensor(t._data, t._dtype, t._device, t._vc, cls)
        if requires_grad:
            t.requires_grad_(True)
    if state:
        if not isinstance(state, dict):
            raise RuntimeError("deepforge.load: corrupt tensor state")
        t.__dict__.update(state)
    return t


def _check_shape(shape):
    if not isinstance(shape, tuple) or not all(type(s) is int and s >= 0 for s in shape):
        raise RuntimeError(f"deepforge.load: invalid tensor shape {shape!r}")


def _rebuild_tensor(raw, shape, dtype_name, device, requires_grad, cls_name=None, state=None):
    """Rebuild a tensor from ``_rebuild_tensor_args`` (its data as one contiguous buffer)."""
    from . import _dtype as dt

    _check_shape(shape)
    d = dt.to_dtype(dtype_name)
    expected = int(np.prod(shape, dtype=np.int64)) * d.itemsize
    if len(memoryview(raw).cast("B")) != expected:
        raise RuntimeError(
            f"deepforge.load: tensor data is {len(raw)} bytes, expected {expected} for shape "
            f"{list(shape)}"
        )
    arr = np.frombuffer(raw, dtype=d.np).reshape(shape)
    if not arr.flags.writeable or not arr.flags.aligned:
        arr = arr.copy()
    return _finish(_place(arr, d, device), requires_grad, cls_name, state)


def _rebuild_tensor_args(t, proto: int = 4):
    host = np.ascontiguousarray(t._backend().to_numpy(t._data))
    if proto >= 5:
        raw = pickle.PickleBuffer(host if host.flags.writeable else host.copy())
    else:
        raw = host.tobytes()
    return (_rebuild_tensor, (raw, tuple(host.shape), t._dtype.name, str(t._device), t._rg,
                              _class_tag(t), _tensor_state(t)))


# -- map_location ------------------------------------------------------------------------------
class _LoadContext(threading.local):
    """What ``load`` is doing right now in this thread (map_location, the archive's storages)."""

    map_location = None
    storages = None
    torch_archive = None   # (ZipFile, prefix) while loading a torch.save file


_CTX = _LoadContext()


def _target_device(saved: str):
    loc = _CTX.map_location
    if loc is None or callable(loc):
        return saved  # a callable is applied to the rebuilt tensor in _place
    if isinstance(loc, dict):
        return loc.get(saved, saved)
    return loc


def _place(arr, dtype, saved_device, vc=None):
    """A tensor over host array ``arr`` on the device ``map_location`` chooses."""
    from ._device import device as device_cls
    from .ops.creation import _on_device
    from .tensor import make_tensor

    target = _target_device(saved_device)
    try:
        dev = device_cls(target) if not isinstance(target, device_cls) else target
    except Exception:
        raise RuntimeError(
            f"deepforge.load: the checkpoint has a tensor on {saved_device}, which is not a "
            f"deepforge device. Pass map_location='cpu' (or another device) to load it."
        ) from None
    if dev.type == "cpu":
        t = make_tensor(arr, dtype, dev, vc)
    else:
        try:
            t = _on_device(arr, dtype, dev)
        except Exception as e:
            raise RuntimeError(
                f"deepforge.load: the checkpoint has a tensor on {saved_device}, which cannot be "
                f"used here ({e}). Pass map_location='cpu' (or another device) to load it."
            ) from None
    loc = _CTX.map_location
    if callable(loc):
        res = loc(t, saved_device)
        if res is not None:
            from .tensor import Tensor

            if isinstance(res, Tensor):
                t = res if res._dtype is dtype else res.to(dtype)
            else:
                t = t.to(res)
    return t


# -- storages in archives ----------------------------------------------------------------------
class _StorageRef:
    """A storage while saving: the root host array's raw bytes and the range views use."""

    __slots__ = ("key", "raw", "lo", "hi")

    def __init__(self, key, raw):
        self.key = key
        self.raw = raw
        self.lo = raw.nbytes
        self.hi = 0

    def cover(self, lo, hi):
        if hi > lo:
            self.lo = min(self.lo, lo)
            self.hi = max(self.hi, hi)


class _LoadedStorage:
    __slots__ = ("buf", "lo", "vc", "dtype", "location")

    def __init__(self, buf, lo, dtype=None, location=None):
        self.buf = buf
        self.lo = lo
        self.vc = [0]
        self.dtype = dtype          # torch files: the storage's element type
        self.location = location    # torch files: "cpu", "cuda:0", ...


def _extent(offset, shape, strides, itemsize):
    """Byte range ``[lo, hi)`` a strided view touches (empty views touch nothing)."""
    if any(s == 0 for s in shape):
        return offset, offset
    lo = hi = offset
    for n, st in zip(shape, strides):
        if st >= 0:
            hi += (n - 1) * st
        else:
            lo += (n - 1) * st
    return lo, hi + itemsize


def _root_bytes(arr):
    """(root array, its memory as a flat uint8 array) or None when it is not one dense block."""
    root = arr
    while isinstance(root.base, np.ndarray):
        root = root.base
    if not (root.flags.c_contiguous or root.flags.f_contiguous):
        return None
    flat = root.ravel(order="K")
    if flat.size and flat.__array_interface__["data"][0] != root.__array_interface__["data"][0]:
        return None
    return root, flat.view(np.uint8)


def _rebuild_from_storage(storage, offset, shape, strides, dtype_name, device, requires_grad,
                          cls=None, state=None):
    from . import _dtype as dt

    if not isinstance(storage, _LoadedStorage):
        raise RuntimeError("deepforge.load: corrupt tensor record (no storage)")
    _check_shape(shape)
    d = dt.to_dtype(dtype_name)
    if (not isinstance(strides, tuple) or len(strides) != len(shape)
            or not all(type(s) is int for s in strides) or type(offset) is not int):
        raise RuntimeError(f"deepforge.load: invalid tensor strides {strides!r}")
    lo, hi = _extent(offset, shape, strides, d.itemsize)
    rel = offset - storage.lo
    if hi > lo and (lo < storage.lo or hi > storage.lo + len(storage.buf)):
        raise RuntimeError("deepforge.load: corrupt file: a tensor lies outside its storage")
    if hi == lo:
        arr = np.empty(shape, dtype=d.np)
    else:
        arr = np.ndarray(shape, dtype=d.np, buffer=storage.buf, offset=rel, strides=strides)
        if not arr.flags.aligned:
            arr = arr.copy()
    t = _place(arr, d, device, storage.vc if arr.base is not None else None)
    return _finish(t, requires_grad, cls, state)


# -- checkpoints written by torch.save ---------------------------------------------------------
class _TorchStorageType:
    """Stands for ``torch.FloatStorage`` & co. in a torch checkpoint: just an element type."""

    def __init__(self, torch_name):
        self.torch_name = torch_name

    def dtype(self):
        from . import _dtype as dt

        name = _TORCH_STORAGES[self.torch_name]
        try:
            return dt.to_dtype(name)
        except TypeError:
            raise RuntimeError(
                f"deepforge.load: the checkpoint has {name} tensors, a dtype deepforge does not "
                "support"
            ) from None


_TORCH_STORAGES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}


def _torch_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
                             backward_hooks=None, metadata=None):
    if not isinstance(storage, _LoadedStorage) or storage.dtype is None:
        raise RuntimeError("deepforge.load: corrupt torch tensor record (no storage)")
    d = storage.dtype
    size, stride = tuple(size), tuple(stride)
    if not all(type(s) is int for s in stride) or type(storage_offset) is not int:
        raise RuntimeError(f"deepforge.load: invalid tensor strides {stride!r}")
    n = d.itemsize
    return _rebuild_from_storage(storage, storage_offset * n, size, tuple(s * n for s in stride),
                                 d.name, storage.location, requires_grad)


def _torch_rebuild_parameter(data, requires_grad, backward_hooks=None, state=None):
    return _finish(data.detach(), requires_grad, "Parameter", state)


def _torch_dtype(name):
    from . import _dtype as dt

    return dt.to_dtype(name)


_TORCH_DTYPES = ("float16", "float32", "float64", "half", "float", "double", "int8", "int16",
                 "int32", "int64", "short", "int", "long", "uint8", "bool", "complex64",
                 "complex128", "cfloat", "cdouble")


def _torch_globals() -> dict:
    from . import _dtype as dt
    from ._device import device
    from .tensor import Size

    out = {
        ("torch._utils", "_rebuild_tensor_v2"): _torch_rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _torch_rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _torch_rebuild_parameter,
        ("torch", "device"): device,
        ("torch", "Size"): Size,
    }
    aliases = {"half": "float16", "float": "float32", "double": "float64", "short": "int16",
               "int": "int32", "long": "int64", "cfloat": "complex64", "cdouble": "complex128"}
    for name in _TORCH_DTYPES:
        out[("torch", name)] = dt.to_dtype(aliases.get(name, name))
    for name in _TORCH_STORAGES:
        out[("torch", name)] = _TorchStorageType(name)
    return out


class _ArchivePickler(pickle.Pickler):
    """Pickles tensors as references to storages, which ``save`` writes as archive entries."""

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages: dict[int, tuple] = {}   # id(root) -> (root, _StorageRef)
        self.order: list[_StorageRef] = []

    def _new_ref(self, raw):
        ref = _StorageRef(str(len(self.order)), raw)
        self.order.append(ref)
        return ref

    def reducer_override(self, obj):
        from .tensor import Tensor

        if not isinstance(obj, Tensor):
            return NotImplemented
        arr = obj._data
        rooted = (_root_bytes(arr) if obj._device.type == "cpu" and isinstance(arr, np.ndarray)
                  else None)
        if rooted is not None:
            root, raw = rooted
            entry = self.storages.get(id(root))
            if entry is None:
                entry = (root, self._new_ref(raw))
                self.storages[id(root)] = entry
            ref = entry[1]
            offset = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
            strides = tuple(arr.strides)
        else:
            host = np.ascontiguousarray(obj._backend().to_numpy(obj._data))
            ref = self._new_ref(host.reshape(-1).view(np.uint8))
            offset, strides, arr = 0, tuple(host.strides), host
        ref.cover(*_extent(offset, arr.shape, strides, arr.itemsize))
        return (_rebuild_from_storage, (ref, offset, tuple(arr.shape), strides, obj._dtype.name,
                                        str(obj._device), obj._rg, _class_tag(obj),
                                        _tensor_state(obj)))

    def persistent_id(self, obj):
        if type(obj) is _StorageRef:
            return ("storage", obj.key)
        return None


# -- safe globals ------------------------------------------------------------------------------
_SAFE = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("builtins", "range"): range,
    ("builtins", "bytearray"): bytearray,
}
_USER_SAFE: dict = {}


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


def _torch_persistent_load(pid):
    """torch's ``("storage", storage_type, key, location, numel)`` -> that storage's bytes."""
    if not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage":
        raise RuntimeError(f"deepforge.load: unsupported torch storage reference {pid!r}")
    _, stype, key, location, numel = pid
    if not isinstance(stype, _TorchStorageType) or not isinstance(key, str):
        raise RuntimeError(f"deepforge.load: unsupported torch storage type {stype!r}")
    cache = _CTX.storages
    if key not in cache:
        zf, prefix = _CTX.torch_archive
        d = stype.dtype()
        try:
            buf = bytearray(zf.read(f"{prefix}data/{key}"))
        except Exception as e:
            raise RuntimeError(
                f"deepforge.load: the file is truncated, corrupt or not a deepforge checkpoint "
                f"({type(e).__name__}: {e})"
            ) from None
        if type(numel) is not int or len(buf) != numel * d.itemsize:
            raise RuntimeError(
                f"deepforge.load: corrupt file: storage {key} has {len(buf)} bytes, expected "
                f"{numel} elements of {d.name}"
            )
        cache[key] = _LoadedStorage(buf, 0, d, str(location))
    return cache[key]


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


def _write(fh, payload, storages) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(_PREFIX + "format", _MAGIC)
        zf.writestr(_PREFIX + "byteorder", sys.byteorder)
        zf.writestr(_PREFIX + "data.pkl", payload)
        table = []
        for ref in storages:
            lo, hi = (ref.lo, ref.hi) if ref.hi > ref.lo else (0, 0)
            table.append(f"{ref.key} {lo} {hi}")
            zf.writestr(_PREFIX + "data/" + ref.key, memoryview(ref.raw[lo:hi]))
        zf.writestr(_PREFIX + "storages", "\n".join(table))


def _read_archive(raw: bytes):
    """(payload, storages, torch_archive) of a checkpoint; RuntimeError for anything truncated
    or corrupt. ``torch_archive`` is ``(ZipFile, prefix)`` for a ``torch.save`` file (its
    storages are read when the unpickler asks for them), else None."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        names = zf.namelist()
        if _PREFIX + "format" not in names:
            pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
            if pkl and pkl[0][: -len("data.pkl")] + "version" in names:
                prefix = pkl[0][: -len("data.pkl")]
                if prefix + "byteorder" in names:
                    _check_byteorder(zf.read(prefix + "byteorder").decode("ascii"))
                return zf.read(pkl[0]), {}, (zf, prefix)
        magic = zf.read(_PREFIX + "format")
        if magic == _MAGIC_V1:
            return zf.read(_PREFIX + "data.pkl"), {}, None
        if magic != _MAGIC:
            raise RuntimeError(f"deepforge.load: unknown checkpoint format {magic[:40]!r}")
        _check_byteorder(zf.read(_PREFIX + "byteorder").decode("ascii"))
        payload = zf.read(_PREFIX + "data.pkl")
        storages = {}
        table = zf.read(_PREFIX + "storages").decode("ascii")
        for line in filter(None, table.split("\n")):
            key, lo, hi = line.split(" ")
            lo, hi = int(lo), int(hi)
            buf = bytearray(zf.read(_PREFIX + "data/" + key))
            if len(buf) != hi - lo:
                raise RuntimeError(
                    f"deepforge.load: corrupt file: storage {key} has {len(buf)} bytes, "
                    f"expected {hi - lo}"
                )
            storages[key] = _LoadedStorage(buf, lo)
        return payload, storages, None
    except Exception as e:  # zipfile reports damage as BadZipFile, EOFError, struct.error...
        if isinstance(e, RuntimeError) and str(e).startswith("deepforge.load"):
            raise
        raise RuntimeError(
            f"deepforge.load: the file is truncated, corrupt or not a deepforge checkpoint "
            f"({type(e).__name__}: {e})"
        ) from None


def _check_byteorder(order: str) -> None:
    if order != sys.byteorder:
        raise RuntimeError(
            f"deepforge.load: the checkpoint was written on a {order}-endian machine; this one "
            f"is {sys.byteorder}-endian"
        )


def _read_all(f) -> bytes:
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return fh.read()
    if isinstance(f, (bytes, bytearray, memoryview)):
        raise TypeError("deepforge.load expects a path or a file object; wrap bytes in io.BytesIO")
    return f.read()


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
