"""Lookup of optional fused backend kernels, and helpers shared by the vision op modules.

``Take`` / ``TakeAdd`` (index_select along one axis with a trusted, cached int64 index, and
its adjoint, an index_add into zeros) and ``PadConst`` (constant padding; adjoint: a slice)
are the reference paths' building blocks: each calls one backend primitive, and each is the
other's backward, so compositions of them are differentiable to any order on every backend.

An op that has a fused kernel asks ``kernel(x, "im2col")``: it returns the backend's function
when the backend offers it (and fused kernels are not switched off), else ``None``, and the op
falls back to its reference composition of primitives that every backend implements.
``reference_only()`` switches the fused kernels off, so tests can compare both paths.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call
from .creation import tensor
from .shape import Slice

__all__ = ["kernel", "reference_only", "fused_enabled", "ntuple", "index_tensor", "FLOAT_NP",
           "take", "take_add", "pad_const"]

FLOAT_NP = (np.dtype(np.float32), np.dtype(np.float64))


class _State:
    enabled = True


def fused_enabled() -> bool:
    return _State.enabled


def kernel(x: Tensor, name: str):
    """The fused backend kernel ``name`` for ``x`` (float32/float64 only), or None."""
    if not _State.enabled or x._dtype.np not in FLOAT_NP:
        return None
    return getattr(D.backend_of(x), name, None)


@contextlib.contextmanager
def reference_only():
    """Run the ops through their reference compositions (no fused kernels) inside the block."""
    prev = _State.enabled
    _State.enabled = False
    try:
        yield
    finally:
        _State.enabled = prev


def ntuple(v, n: int, name: str = "argument") -> tuple:
    """``v`` as a tuple of ``n`` ints (an int is repeated; a 1-sequence is repeated)."""
    if isinstance(v, (list, tuple)):
        if len(v) == 1 and n > 1:
            return tuple(int(v[0]) for _ in range(n))
        if len(v) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                               "values "
                               f"to match the convolution dimensions, but got {name}={list(v)}")
        return tuple(int(a) for a in v)
    return (int(v),) * n


_INDEX_CACHE: dict = {}


def index_tensor(key, device, build) -> Tensor:
    """A cached int64 index tensor on ``device``; ``build()`` makes its numpy array once."""
    k = (key, str(device))
    t = _INDEX_CACHE.get(k)
    if t is None:
        arr = np.ascontiguousarray(build(), dtype=np.int64)
        t = make_tensor(arr, dt.int64, device) if device.type == "cpu" else \
            tensor(arr, dtype=dt.int64, device=device)
        if len(_INDEX_CACHE) > 256:
            _INDEX_CACHE.clear()
        _INDEX_CACHE[k] = t
    return t


class Take(Function):
    """``x.index_select(axis, idx)`` for a trusted 1-D int64 index (no bounds check)."""

    @staticmethod
    def forward(ctx, x, axis, idx):
        ctx.axis, ctx.n = axis, x._data.shape[axis]
        ctx.save_for_backward(idx)
        return make_tensor(D.backend_of(x).index_select(x._data, axis, idx._data), x._dtype,
                           x._device)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        return call(TakeAdd, g, ctx.axis, idx, ctx.n), None, None


class TakeAdd(Function):
    """Zeros of g's shape with ``shape[axis] = n``, then ``index_add_(axis, idx, g)``."""

    @staticmethod
    def forward(ctx, g, axis, idx, n):
        ctx.axis = axis
        ctx.save_for_backward(idx)
        be = D.backend_of(g)
        shape = list(g._data.shape)
        shape[axis] = n
        out = be.zeros(tuple(shape), g._dtype.np)
        be.index_add_(out, axis, idx._data, be.contiguous(g._data), 1)
        return make_tensor(out, g._dtype, g._device)

    @staticmethod
    def backward(ctx, gg):
        (idx,) = ctx.saved_tensors
        return call(Take, gg, ctx.axis, idx), None, None, None


class PadConst(Function):
    """Constant padding by non-negative (lo, hi) pairs of the last ``len(pads)`` dims."""

    @staticmethod
    def forward(ctx, x, pads, value):
        be = D.backend_of(x)
        shape = x._data.shape
        lead = len(shape) - len(pads)
        out_shape = shape[:lead] + tuple(n + a + b for n, (a, b) in zip(shape[lead:], pads))
        out = be.full(out_shape, value, x._dtype.np)
        key = (slice(None),) * lead + tuple(slice(a, a + n)
                                            for n, (a, _) in zip(shape[lead:], pads))
        be.copy_(be.getitem_basic(out, key), x._data)
        ctx.key = key
        return make_tensor(out, x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        return call(Slice, g, ctx.key), None, None


def take(x: Tensor, axis: int, idx: Tensor) -> Tensor:
    return call(Take, x, axis, idx)


def take_add(g: Tensor, axis: int, idx: Tensor, n: int) -> Tensor:
    return call(TakeAdd, g, axis, idx, n)


def pad_const(x: Tensor, pads, value=0.0) -> Tensor:
    return call(PadConst, x, tuple(pads), value)
