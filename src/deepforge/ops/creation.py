"""Tensor creation: from data, filled, ranges, ``*_like``. Copying a tensor to another
dtype/device, ``clone`` and ``contiguous`` are in conversion.py."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _dtype as dt
from .._device import CPU, canonical
from .._device import device as device_cls
from ..tensor import Tensor, make_tensor
from . import _dispatch as D

__all__ = [
    "tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty", "zeros_like",
    "ones_like", "full_like", "empty_like", "arange", "range_", "linspace", "logspace", "eye",
    "empty_strided", "scalar_tensor", "complex_",
]

_default_device_holder = None


def _default_device():
    from .. import _default_device as holder

    return holder.get()


def _resolve_device(device):
    if device is None:
        return _default_device()
    return canonical(device)


def _resolve_dtype(dtype, fallback=None):
    if dtype is None:
        return fallback if fallback is not None else dt.get_default_dtype()
    return dt.to_dtype(dtype)


def _shape_arg(size) -> tuple:
    if (
        len(size) == 1
        and isinstance(size[0], (tuple, list, Tensor))
        and not isinstance(size[0], Tensor)
    ):
        size = tuple(size[0])
    elif len(size) == 1 and isinstance(size[0], Tensor):
        size = tuple(int(s) for s in size[0].tolist())
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s.item())
        if not isinstance(s, numbers.Integral) or isinstance(s, bool):
            raise TypeError(
                f"expected a sequence of integers or a single integer as the size, got "
                f"{type(s).__name__} ({s!r})"
            )
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _on_device(nd: np.ndarray, dtype: dt.dtype, device, requires_grad=False) -> Tensor:
    dev = (
        device
        if isinstance(device, device_cls) and device.index is not None or device is CPU
        else _resolve_device(device)
    )
    if dev.type != "cpu":
        be = D.backend_for(dev)
        if dtype is dt.float64 and not be.supports_fp64:
            raise TypeError(
                f"{dev} ({be.device_name}) has no float64 support (cl_khr_fp64); use .float() "
                "to work in float32 on this device"
            )
        data = be.from_numpy(np.ascontiguousarray(nd).reshape(nd.shape))  # keeps 0-d
    else:
        data = nd
    t = make_tensor(data, dtype, dev)
    if requires_grad:
        t.requires_grad = True
    return t


def _infer_dtype(data):
    """dtype PyTorch infers from nested Python data."""
    kinds = set()
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, Tensor):
            kinds.add(("t", x._dtype))
        elif isinstance(x, np.generic):
            kinds.add(("t", dt.from_numpy_dtype(x.dtype)))
        elif isinstance(x, bool):
            kinds.add("b")
        elif isinstance(x, numbers.Integral):
            kinds.add("i")
        elif isinstance(x, numbers.Real):
            kinds.add("f")
        elif isinstance(x, numbers.Complex):
            kinds.add("c")
        elif isinstance(x, np.ndarray):
            kinds.add(("t", dt.from_numpy_dtype(x.dtype)))
        else:
            if isinstance(x, (str, bytes)):
                raise TypeError(f"tensor(): invalid data type '{type(x).__name__}'")
            raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")
    res = None
    for k in kinds:
        if isinstance(k, tuple):
            d = k[1]
        else:
            d = {"b": dt.bool_, "i": dt.int64, "f": dt.get_default_dtype(), "c": dt.complex64}[k]
        res = d if res is None else dt.promote_types(res, d)
    return res if res is not None else dt.get_default_dtype()


def _to_numpy_nested(data):
    if isinstance(data, Tensor):
        return data.detach().cpu().numpy()
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        return np.array([_to_numpy_nested(x) for x in data])
    return np.array(data)


def tensor(
    data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    """Copy ``data`` (nested lists, scalars, numpy arrays, tensors) into a new tensor."""
    if isinstance(data, Tensor):
        d = _resolve_dtype(dtype, data._dtype)
        nd = np.array(data.detach().cpu().numpy(), dtype=d.np, copy=True)
        return _on_device(nd, d, device if device is not None else data._device, requires_grad)
    if isinstance(data, (np.ndarray, np.generic)):  # numpy scalars keep their dtype, as in torch
        d = _resolve_dtype(dtype, dt.from_numpy_dtype(data.dtype))
        nd = np.array(data, dtype=d.np, copy=True)
    else:
        d = _resolve_dtype(dtype, _infer_dtype(data)) if dtype is not None else _infer_dtype(data)
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # 1e10 -> inf in float16, like torch
                nd = np.array(_to_numpy_nested(data), dtype=d.np)
        except ValueError as e:
            raise ValueError(f"tensor(): could not build a tensor from the data ({e})") from None
        except OverflowError as e:
            raise RuntimeError(
                f"tensor(): value cannot be converted to type {d.name} without overflow"
            ) from e
        if nd.dtype == object:
            raise TypeError("tensor(): nested sequences must be of equal length and hold numbers")
    return _on_device(nd, d, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a tensor or a CPU numpy array when it can."""
    if isinstance(data, Tensor):
        r = data
        if dtype is not None and dt.to_dtype(dtype) is not data._dtype:
            r = r.to(dt.to_dtype(dtype))
        if device is not None and canonical(device) != r._device:
            r = r.to(device)
        return r
    if isinstance(data, np.ndarray) and (device is None or canonical(device).type == "cpu"):
        d = _resolve_dtype(dtype, dt.from_numpy_dtype(data.dtype))
        nd = data if data.dtype == d.np else data.astype(d.np)
        return make_tensor(nd, d, CPU)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    d = dt.from_numpy_dtype(ndarray.dtype)
    if ndarray.strides and any(s < 0 for s in ndarray.strides):
        raise ValueError(
            "At least one stride in the given numpy array is negative, and tensors with negative "
            "strides are not currently supported. (You can probably work around this by making a "
            "copy of your array with array.copy().)"
        )
    return make_tensor(ndarray, d, CPU)


def _filled(shape, value, dtype, device, requires_grad):
    dev = _resolve_device(device)
    d = _resolve_dtype(dtype)
    be = D.backend_for(dev)
    if dev.type != "cpu" and d is dt.float64 and not be.supports_fp64:
        _on_device(np.empty(0), d, dev)  # raises the fp64 error
    if value is None:
        data = be.empty(shape, d.np)
    elif value == 0:
        data = be.zeros(shape, d.np)
    else:
        data = be.full(shape, value, d.np)
    t = make_tensor(data, d, dev)
    if requires_grad:
        t.requires_grad = True
    return t


def zeros(
    *size, out=None, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False
) -> Tensor:
    return _filled(_shape_arg(size), 0, dtype, device, requires_grad)


def ones(
    *size, out=None, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False
) -> Tensor:
    return _filled(_shape_arg(size), 1, dtype, device, requires_grad)


def empty(
    *size,
    out=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    pin_memory=False,
    memory_format=None,
) -> Tensor:
    return _filled(_shape_arg(size), None, dtype, device, requires_grad)


def full(
    size, fill_value, *, out=None, dtype=None, device=None, requires_grad=False, layout=None
) -> Tensor:
    if not isinstance(fill_value, (numbers.Number, np.generic, Tensor)):
        raise TypeError(
            f"full(): argument 'fill_value' must be Number, not {type(fill_value).__name__}"
        )
    if dtype is None:
        if isinstance(fill_value, Tensor):
            fill_value = fill_value.item()
        dtype = dt.result_type(fill_value)
    return _filled(
        _shape_arg((size,) if not isinstance(size, int) else (size,)),
        fill_value,
        dtype,
        device,
        requires_grad,
    )


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(
        (), s, dtype=dtype or dt.get_default_dtype(), device=device, requires_grad=requires_grad
    )


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return empty(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def _like(x, dtype, device):
    return (_resolve_dtype(dtype, x._dtype), x._device if device is None else device)


def zeros_like(
    input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None
) -> Tensor:
    d, dev = _like(input, dtype, device)
    return _filled(input._data.shape, 0, d, dev, requires_grad)


def ones_like(
    input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None
) -> Tensor:
    d, dev = _like(input, dtype, device)
    return _filled(input._data.shape, 1, d, dev, requires_grad)


def empty_like(
    input, *, dtype=None, device=None, requires_grad=False, layout=None, memory_format=None
) -> Tensor:
    d, dev = _like(input, dtype, device)
    return _filled(input._data.shape, None, d, dev, requires_grad)


def full_like(
    input,
    fill_value,
    *,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    memory_format=None,
) -> Tensor:
    d, dev = _like(input, dtype, device)
    return _filled(input._data.shape, fill_value, d, dev, requires_grad)


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


def arange(
    start=0,
    end=None,
    step=1,
    *,
    out=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
) -> Tensor:
    start, end, step = _num(start), _num(end), _num(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) / step < 0:
        raise RuntimeError(
            f"arange: upper bound and larger bound inconsistent with step sign (start={start}, "
            f"end={end}, step={step})"
        )
    if dtype is None:
        dtype = (
            dt.int64
            if all(isinstance(v, numbers.Integral) for v in (start, end, step))
            else dt.get_default_dtype()
        )
    d = dt.to_dtype(dtype)
    n = max(0, math.ceil((end - start) / step))
    nd = (
        start + step * np.arange(n, dtype=np.float64 if d.is_floating_point else np.int64)
    ).astype(d.np)
    return _on_device(nd, d, device, requires_grad)


def range_(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    n = int(math.floor((end - start) / step)) + 1
    d = _resolve_dtype(dtype)
    nd = (start + step * np.arange(n, dtype=np.float64)).astype(d.np)
    return _on_device(nd, d, device, requires_grad)


def linspace(
    start, end, steps, *, out=None, dtype=None, device=None, requires_grad=False, layout=None
) -> Tensor:
    start, end = _num(start), _num(end)
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    d = _resolve_dtype(dtype)
    if d.is_floating_point:
        # torch computes both halves from their own end point (symmetric rounding)
        nd = np.empty(steps, np.float64)
        if steps == 1:
            nd[0] = start
        elif steps > 1:
            step = (end - start) / (steps - 1)
            half = steps // 2
            i = np.arange(steps)
            nd[:half] = start + step * i[:half]
            nd[half:] = end - step * (steps - 1 - i[half:])
        nd = nd.astype(d.np)
    else:
        nd = np.linspace(start, end, steps).astype(d.np)
    return _on_device(nd, d, device, requires_grad)


def logspace(
    start, end, steps, base=10.0, *, out=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    d = _resolve_dtype(dtype)
    exps = linspace(start, end, steps, dtype=dt.float64).numpy()
    return _on_device((base**exps).astype(d.np), d, device, requires_grad)


def eye(
    n, m=None, *, out=None, dtype=None, device=None, requires_grad=False, layout=None
) -> Tensor:
    if m is None:
        m = n
    if n < 0 or m < 0:
        raise RuntimeError(f"eye: n and m must be non-negative, got n={n}, m={m}")
    d = _resolve_dtype(dtype)
    return _on_device(np.eye(n, m, dtype=d.np), d, device, requires_grad)


def complex_(real, imag):
    raise NotImplementedError("complex tensors are not supported by deepforge yet")
