"""Joining and splitting: cat, stack and friends, split, chunk, tensor_split, unbind.

Split pieces are views (narrow/select); cat/stack copy into one new tensor.
"""

from __future__ import annotations

import numbers

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, wrap_dim
from .shape import narrow, resize_out, select, unsqueeze

__all__ = [
    "cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack",
    "row_stack", "split", "tensor_split", "chunk", "unbind", "atleast_1d", "atleast_2d",
    "atleast_3d",
]


class Cat(Function):
    @staticmethod
    def forward(ctx, dim, *xs):
        # legacy rule: 1-D empty tensors are skipped (size None) when the others are not 1-D
        ref = next((x for x in xs if not _skipped(x)), xs[0])
        sizes = [None if x is not ref and _skipped(x) else x._data.shape[dim] for x in xs]
        ctx.sizes = sizes  # ctx may be the no-graph NULL_CTX, which drops attributes
        ctx.dim = dim
        be = D.backend_of(xs[0])
        d = xs[0]._dtype
        for x in xs[1:]:
            d = dt.promote_types(d, x._dtype)
        shape = list(ref._data.shape)
        shape[dim] = sum(n for n in sizes if n is not None)
        out = be.empty(tuple(shape), d.np)
        off = 0
        for x, n in zip(xs, sizes):
            if n is None:
                continue
            key = (slice(None),) * dim + (slice(off, off + n),)
            be.copy_(be.getitem_basic(out, key), x._data)
            off += n
        return make_tensor(out, d, xs[0]._device)

    @staticmethod
    def backward(ctx, g):
        parts = iter(split(g, [n for n in ctx.sizes if n is not None], ctx.dim))
        return (None, *[g.new_zeros(0) if n is None else next(parts) for n in ctx.sizes])


def _skipped(x) -> bool:
    return x.ndim == 1 and x._data.shape[0] == 0


def _seq_arg(tensors, op):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}(): argument 'tensors' must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 0, but got {type(x).__name__}"
            )
    return tensors


def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    tensors = _seq_arg(tensors, "cat")
    if not tensors:
        raise ValueError("cat(): expected a non-empty list of Tensors")
    # legacy rule: 1-D empty tensors are skipped
    parts = [x for x in tensors if not (x.ndim == 1 and x._data.shape[0] == 0)] or tensors[:1]
    ref = parts[0]
    if ref.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = wrap_dim(dim, ref.ndim)
    D.check_same_device("cat", *parts)
    for i, x in enumerate(parts):
        if x.ndim != ref.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ref.ndim} and {x.ndim}"
            )
        for k in range(ref.ndim):
            if k != d and x._data.shape[k] != ref._data.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref._data.shape[k]} but got size {x._data.shape[k]} for tensor number {i} "
                    "in the list."
                )
    r = call(Cat, d, *tensors)
    return resize_out(out, r) if out is not None else r


concat = concatenate = cat


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    tensors = _seq_arg(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shp = tensors[0]._data.shape
    for i, x in enumerate(tensors):
        if x._data.shape != shp:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(shp)} at entry 0 and "
                f"{list(x.shape)} at entry {i}"
            )
    d = wrap_dim(dim, len(shp) + 1)
    r = cat([unsqueeze(x, d) for x in tensors], d)
    return resize_out(out, r) if out is not None else r


def hstack(tensors) -> Tensor:
    tensors = atleast_1d(*tensors) if len(tensors) > 1 else [atleast_1d(tensors[0])]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    ts = [atleast_2d(x) for x in tensors]
    return cat(ts, 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    return cat([atleast_3d(x) for x in tensors], 2)


def column_stack(tensors) -> Tensor:
    return hstack([x.reshape(-1, 1) if x.ndim <= 1 else x for x in tensors])


def atleast_1d(*tensors):
    r = [
        x.reshape(1) if x.ndim == 0 else x
        for x in (
            tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
        )
    ]
    return r[0] if len(tensors) == 1 and not isinstance(tensors[0], (list, tuple)) else r


def atleast_2d(*tensors):
    def f(x):
        return x.reshape(1, 1) if x.ndim == 0 else x.unsqueeze(0) if x.ndim == 1 else x

    r = [f(x) for x in tensors]
    return r[0] if len(r) == 1 else r


def atleast_3d(*tensors):
    def f(x):
        if x.ndim == 0:
            return x.reshape(1, 1, 1)
        if x.ndim == 1:
            return x.reshape(1, -1, 1)
        if x.ndim == 2:
            return x.unsqueeze(-1)
        return x

    r = [f(x) for x in tensors]
    return r[0] if len(r) == 1 else r


def split(tensor: Tensor, split_size_or_sections, dim: int = 0):
    d = wrap_dim(dim, tensor.ndim)
    n = tensor._data.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        s = int(split_size_or_sections)
        if s <= 0 and n > 0:
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
            )
        sizes = [min(s, n - i) for i in range(0, n, s)] if s > 0 else [0]
    else:
        sizes = [int(v) for v in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                "size at "
                f"dimension {d}), but got split_sizes={sizes}"
            )
    out = []
    off = 0
    for s in sizes:
        out.append(narrow(tensor, d, off, s))
        off += s
    return tuple(out)


def chunk(input: Tensor, chunks: int, dim: int = 0):
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    n = input._data.shape[wrap_dim(dim, input.ndim)]
    size = -(-n // chunks) if n else 0
    if size == 0:
        return split(input, [0] * min(chunks, 1) or [0], dim) if n == 0 else (input,)
    return split(input, size, dim)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0):
    d = wrap_dim(dim, input.ndim)
    n = input._data.shape[d]
    if isinstance(indices_or_sections, numbers.Integral):
        k = int(indices_or_sections)
        q, r = divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
    else:
        idx = [0] + [min(max(int(i), 0), n) for i in indices_or_sections] + [n]
        sizes = [max(b - a, 0) for a, b in zip(idx[:-1], idx[1:])]
    out, off = [], 0
    for s in sizes:
        out.append(narrow(input, d, off, s))
        off += s
    return tuple(out)


def unbind(input: Tensor, dim: int = 0):
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = wrap_dim(dim, input.ndim)
    return tuple(select(input, d, i) for i in range(input._data.shape[d]))
