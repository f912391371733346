"""Reading checkpoints written by ``torch.save`` (its zip format) without torch installed.

torch pickles its tensors as ``torch._utils._rebuild_tensor_v2(storage, ...)`` with storages
as persistent ids ``("storage", torch.FloatStorage, key, location, numel)``; the stand-ins
below rebuild them as deepforge tensors through the same path as deepforge's own records.
"""

from __future__ import annotations

from ._serialization_tensors import _CTX, _finish, _LoadedStorage, _rebuild_from_storage


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
