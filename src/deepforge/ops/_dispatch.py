"""The dispatch layer: the one place that checks devices, dtypes and shapes, allocates
outputs, and calls backend primitives. Ops call these; backends never check anything."""

from __future__ import annotations

from .. import _dtype as dt
from .._device import CPU
from ..backends import get_backend
from ..tensor import Tensor, make_tensor

__all__ = [
    "backend_of",
    "backend_for",
    "host_backend",
    "wrap",
    "unary",
    "binary",
    "broadcast_shapes",
    "check_same_device",
    "result_type_of",
    "float_result",
    "to_backend_scalar",
]

bool_ = dt.bool_
_FLOAT_CAT = 2


def backend_for(dev):
    """The backend of a canonical device (creation ops allocate through it)."""
    b = dev._backend
    return b if b is not None else get_backend(dev)


def host_backend():
    """The CPU backend (host-side work such as sampling without replacement)."""
    return get_backend(CPU)


def backend_of(t: Tensor):
    b = t._device._backend
    return b if b is not None else get_backend(t._device)


def wrap(data, dtype, device) -> Tensor:
    return make_tensor(data, dtype, device)


_BCAST_CACHE: dict = {}


def broadcast_shapes(*shapes) -> tuple:
    """The broadcast of ``shapes``; RuntimeError with PyTorch's message when they don't."""
    key = shapes
    r = _BCAST_CACHE.get(key)
    if r is not None:
        return r
    ndim = max(len(s) for s in shapes)
    out = [1] * ndim
    for s in shapes:
        off = ndim - len(s)
        for i, n in enumerate(s):
            j = off + i
            if n == 1:
                continue
            if out[j] == 1:
                out[j] = n
            elif out[j] != n:
                a = shapes[0]
                raise RuntimeError(
                    f"The size of tensor a ({out[j]}) must match the size of tensor b ({n}) at "
                    f"non-singleton dimension {j}"
                    if len(shapes) == 2
                    else f"Shape mismatch: objects cannot be broadcast to a single shape. "
                    f"Mismatch is between arg 0 {list(a)} and arg {shapes.index(s)} {list(s)}."
                )
    r = tuple(out)
    if len(_BCAST_CACHE) < 4096:
        _BCAST_CACHE[key] = r
    return r


def check_same_device(op: str, *tensors) -> None:
    dev = None
    for t in tensors:
        if isinstance(t, Tensor):
            if dev is None:
                dev = t._device
            elif t._device != dev:
                raise RuntimeError(
                    f"{op}: Expected all tensors to be on the same device, but found at least two "
                    f"devices, {dev} and {t._device}!"
                )


_RT_CACHE: dict = {}
dt.DEFAULT_DTYPE_CACHES.append(_RT_CACHE)


def _rt_key(x):
    if isinstance(x, Tensor):
        return (x._dtype, len(x._data.shape) == 0)
    return type(x)


def result_type_of(a, b) -> dt.dtype:
    key = (_rt_key(a), _rt_key(b))
    r = _RT_CACHE.get(key)
    if r is None:
        r = dt.result_type(a, b)
        _RT_CACHE[key] = r
    return r


def float_result(d: dt.dtype) -> dt.dtype:
    """Integer/bool inputs of an op that always produces floats give the default float."""
    return d if d.category >= _FLOAT_CAT else dt.get_default_dtype()


def to_backend_scalar(x, dtype: dt.dtype):
    """A Python scalar converted to what ``dtype``'s arithmetic expects."""
    if dtype.category >= _FLOAT_CAT:
        return float(x) if not isinstance(x, complex) else x
    if dtype is bool_:
        return bool(x)
    return int(x)


def _cross_device_scalar(op, a, b):
    """PyTorch lets a 0-dim CPU tensor act as a scalar in an op on another device."""
    if a._device.type == "cpu" and not a._data.shape and b._device.type != "cpu":
        return make_tensor(
            backend_of(b).from_numpy(a.numpy(force=True).reshape(())), a._dtype, b._device
        ), b
    if b._device.type == "cpu" and not b._data.shape and a._device.type != "cpu":
        return a, make_tensor(
            backend_of(a).from_numpy(b.numpy(force=True).reshape(())), b._dtype, a._device
        )
    raise RuntimeError(
        f"{op}: Expected all tensors to be on the same device, but found at least two devices, "
        f"{a._device} and {b._device}!"
    )


_SCALARS = (int, float, bool, complex)


def _check_scalar(op: str, v) -> None:
    if not isinstance(v, _SCALARS) and not (hasattr(v, "dtype") and getattr(v, "ndim", 1) == 0):
        raise TypeError(
            f"{op}(): expected a Tensor or a number as operand, but got {type(v).__name__}"
        )


def _broadcast_for(op: str, *shapes) -> tuple:
    try:
        return broadcast_shapes(*shapes)
    except RuntimeError as e:
        raise RuntimeError(f"{op}: {e}") from None


def unary(op: str, x: Tensor, dtype: dt.dtype | None = None, out: Tensor | None = None) -> Tensor:
    """Elementwise op; ``dtype`` is the result dtype (default: x's)."""
    be = backend_of(x)
    rd = dtype or x._dtype
    if out is not None:
        be.unary(op, x._data, rd.np, out=out._data)
        out._vc[0] += 1
        return out
    return make_tensor(be.unary(op, x._data, rd.np), rd, x._device)


def binary(
    op: str,
    a,
    b,
    dtype: dt.dtype | None = None,
    out_dtype: dt.dtype | None = None,
    out: Tensor | None = None,
) -> Tensor:
    """Broadcasting binary op between tensors and/or Python scalars.

    ``dtype``: computation dtype (default: PyTorch's promotion of a and b);
    ``out_dtype``: result dtype when it differs (bool for comparisons).
    """
    ta = isinstance(a, Tensor)
    tb = isinstance(b, Tensor)
    if ta and tb:
        if a._device is not b._device:
            a, b = _cross_device_scalar(op, a, b)
        if dtype is None:
            dtype = a._dtype if a._dtype is b._dtype else result_type_of(a, b)
        sa, sb = a._data.shape, b._data.shape
        shape = sa if sa == sb else _broadcast_for(op, sa, sb)
        x, y, t = a._data, b._data, a
    elif ta:
        _check_scalar(op, b)
        if dtype is None:
            dtype = result_type_of(a, b)
        shape = a._data.shape
        x, y, t = a._data, to_backend_scalar(b, dtype), a
    elif tb:
        _check_scalar(op, a)
        if dtype is None:
            dtype = result_type_of(a, b)
        shape = b._data.shape
        x, y, t = to_backend_scalar(a, dtype), b._data, b
    else:
        raise TypeError(f"{op}(): expected at least one Tensor argument")
    rd = out_dtype or dtype
    be = backend_of(t)
    if out is not None:
        if out._data.shape != shape:
            broadcast_shapes(out._data.shape, shape)
            if broadcast_shapes(out._data.shape, shape) != out._data.shape:
                raise RuntimeError(
                    f"output with shape {list(out.shape)} doesn't match the broadcast shape "
                    f"{list(shape)}"
                )
        be.binary(op, x, y, dtype.np, out=out._data)
        out._vc[0] += 1
        return out
    return make_tensor(be.binary(op, x, y, dtype.np), rd, t._device)
