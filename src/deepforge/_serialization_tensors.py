"""How tensors become records in a pickle and are rebuilt from them, for ``deepforge.save`` /
``deepforge.load`` and for plain ``pickle`` (``Tensor.__reduce_ex__``).

In a checkpoint a tensor is ``_rebuild_from_storage(storage, offset, shape, strides, ...)``
where ``storage`` is a persistent reference to an archive entry; in a plain pickle it is
``_rebuild_tensor(raw_bytes, shape, ...)``. Both rebuild functions are pickled by name as
``deepforge.serialization.<name>``: that name is part of the file format (see the end of this
module). ``_CTX`` carries what the running ``load`` needs (map_location, the storages).
"""

from __future__ import annotations

import pickle
import threading

import numpy as np


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


# -- saving: tensors as storage references -----------------------------------------------------
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


# Files name these two functions ``deepforge.serialization._rebuild_*`` (the public module, which
# imports them; the weights_only allow-list expects that name): pickling them under it keeps
# files readable by every deepforge version, whichever module defines the functions.
_rebuild_tensor.__module__ = "deepforge.serialization"
_rebuild_from_storage.__module__ = "deepforge.serialization"
