"""Copies of a tensor: to another dtype and/or device (``Tensor.to``, ``.float()``,
``.cpu()``...), ``clone`` and ``contiguous``. Creating tensors from data is in creation.py."""

from __future__ import annotations

import numpy as np

from .. import _dtype as dt
from .._device import canonical
from .._device import device as device_cls
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call
from .creation import _on_device

__all__ = ["to", "clone", "contiguous"]


class ToCopy(Function):
    """Copy across dtype and/or device; the gradient goes back the same way."""

    @staticmethod
    def forward(ctx, x, dtype, dev):
        ctx.src = (x._dtype, x._device)
        return _convert(x, dtype, dev)

    @staticmethod
    def backward(ctx, g):
        dtype, dev = ctx.src
        return to(g, dev, dtype), None, None


def _convert(x, dtype, dev):
    src_be = D.backend_of(x)
    if dev == x._device:
        return make_tensor(src_be.astype(x._data, dtype.np), dtype, dev)
    dst_be = D.backend_for(dev)
    if dev.type != "cpu" and dtype is dt.float64 and not dst_be.supports_fp64:
        _on_device(np.empty(0), dtype, dev)
    host = src_be.to_numpy(x._data)
    if host.dtype != dtype.np:
        host = host.astype(dtype.np)
    if dev.type == "cpu":
        if x._device.type == "cpu":
            host = host.copy()
        return make_tensor(
            np.ascontiguousarray(host)
            if not host.flags.c_contiguous and x._device.type != "cpu"
            else host,
            dtype,
            dev,
        )
    return make_tensor(
        dst_be.from_numpy(np.ascontiguousarray(host).reshape(host.shape)), dtype, dev
    )


def _parse_to_args(x, args, kwargs):
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a._dtype, a._device
        elif isinstance(a, dt.dtype):
            dtype = a
        elif isinstance(a, (str, device_cls)):
            device = a
        elif isinstance(a, bool):
            pass  # non_blocking / copy positional flags
        elif a is None:
            pass
        else:
            raise TypeError(
                f"to() received an invalid combination of arguments: {type(a).__name__}"
            )
    return dtype, device, copy


def to(x: Tensor, *args, **kwargs) -> Tensor:
    """``Tensor.to(dtype)``, ``.to(device)``, ``.to(device, dtype)``, ``.to(other)``."""
    dtype, device, copy = _parse_to_args(x, args, kwargs)
    d = x._dtype if dtype is None else dt.to_dtype(dtype)
    dev = x._device if device is None else canonical(device)
    if d is x._dtype and dev == x._device and not copy:
        return x
    if d is x._dtype and dev == x._device:
        return clone(x)
    return call(ToCopy, x, d, dev)


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return make_tensor(D.backend_of(x).clone(x._data), x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        return g


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    return call(Clone, input)


class Contiguous(Function):
    @staticmethod
    def forward(ctx, x):
        return make_tensor(D.backend_of(x).contiguous(x._data), x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        return g


def contiguous(input: Tensor, memory_format=None) -> Tensor:
    if D.backend_of(input).is_contiguous(input._data):
        return input
    return call(Contiguous, input)


def _clone_as(x: Tensor, cls) -> Tensor:
    t = make_tensor(D.backend_of(x).clone(x._data), x._dtype, x._device, cls=cls)
    t._rg = x._rg
    return t
