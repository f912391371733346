"""Shape and view ops. Views share storage and the version counter with their base.

Ops that copy elements into a new order (repeat, tile, flip, roll) are in rearrange.py; joining
and splitting are in join.py."""

from __future__ import annotations

import numbers

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, wrap_dim

__all__ = [
    "reshape", "view", "view_as", "flatten", "unflatten", "squeeze", "unsqueeze", "permute",
    "transpose", "swapaxes", "swapdims", "t", "adjoint", "expand", "expand_as",
    "broadcast_to", "broadcast_tensors", "broadcast_shapes", "narrow", "select", "movedim",
    "moveaxis", "as_strided", "ravel", "resize_out",
]


def _view_of(x: Tensor, data) -> Tensor:
    v = make_tensor(data, x._dtype, x._device, x._vc)
    v._base = x if x._base is None else x._base
    v._view_vc = x._vc[0]  # history valid for this version of the storage
    return v


def _infer_shape(shape, numel, op="view"):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _shape_args(shape, op="reshape"):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for i, s in enumerate(shape):
        if isinstance(s, bool) or not isinstance(s, (numbers.Integral, Tensor)):
            raise TypeError(
                f"{op}(): argument 'shape' must be tuple of ints, but found element of type "
                f"{type(s).__name__} at pos {i}"
            )
    return tuple(int(s) for s in shape)


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape, must_view):
        ctx.in_shape = x._data.shape
        be = D.backend_of(x)
        data = be.reshape_view(x._data, shape)
        if data is None:
            if must_view:
                raise RuntimeError(
                    "view size is not compatible with input tensor's size and stride (at least one "
                    "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
                )
            return make_tensor(be.reshape(x._data, shape), x._dtype, x._device)
        return _view_of(x, data)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None, None


def reshape(input: Tensor, *shape) -> Tensor:
    shape = _infer_shape(_shape_args(shape), input.numel())
    if shape == input._data.shape:
        return call(Reshape, input, shape, False) if input._rg else _view_of(input, input._data)
    return call(Reshape, input, shape, False)


def view(input: Tensor, *shape) -> Tensor:
    if len(shape) == 1 and isinstance(shape[0], dt.dtype):
        raise NotImplementedError("view(dtype) reinterpretation is not supported by deepforge")
    shape = _infer_shape(_shape_args(shape, "view"), input.numel())
    return call(Reshape, input, shape, True)


def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other._data.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    nd = input.ndim
    if nd == 0:
        return reshape(input, 1)
    s = wrap_dim(start_dim, nd)
    e = wrap_dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shp = input._data.shape
    n = 1
    for d in shp[s : e + 1]:
        n *= d
    return reshape(input, shp[:s] + (n,) + shp[e + 1 :])


def ravel(input: Tensor) -> Tensor:
    return reshape(input, -1)


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    d = wrap_dim(dim, input.ndim)
    shp = input._data.shape
    sizes = _infer_shape(tuple(sizes), shp[d])
    return reshape(input, shp[:d] + tuple(sizes) + shp[d + 1 :])


def squeeze(input: Tensor, dim=None) -> Tensor:
    shp = input._data.shape
    if dim is None:
        new = tuple(s for s in shp if s != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        ds = {wrap_dim(d, len(shp)) for d in dims} if shp else set()
        new = tuple(s for i, s in enumerate(shp) if not (i in ds and s == 1))
    return reshape(input, new) if new != shp else reshape(input, shp)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    shp = input._data.shape
    d = wrap_dim(dim, len(shp) + 1)
    return reshape(input, shp[:d] + (1,) + shp[d:])


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return _view_of(x, D.backend_of(x).permute(x._data, dims))

    @staticmethod
    def backward(ctx, g):
        inv = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inv[d] = i
        return g.permute(tuple(inv)), None


def permute(input: Tensor, *dims) -> Tensor:
    dims = _shape_args(dims, "permute")
    nd = input.ndim
    if len(dims) != nd:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {nd} is not equal to "
            f"len(dims) = {len(dims)}"
        )
    dims = tuple(wrap_dim(d, nd) for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return call(Permute, input, dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    nd = input.ndim
    if nd == 0:
        return input
    a, b = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    perm = list(range(nd))
    perm[a], perm[b] = perm[b], perm[a]
    return call(Permute, input, tuple(perm))


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else input


def adjoint(input: Tensor) -> Tensor:
    return transpose(input, -2, -1)


def movedim(input: Tensor, source, destination) -> Tensor:
    nd = input.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({src} dims) should contain the "
            f"same number of dims as destination ({dst} dims)"
        )
    src = [wrap_dim(s, nd) for s in src]
    dst = [wrap_dim(d, nd) for d in dst]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return call(Permute, input, tuple(order))


moveaxis = movedim


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x._data.shape
        return _view_of(x, D.backend_of(x).expand(x._data, shape))

    @staticmethod
    def backward(ctx, g):
        from ..autograd.engine import sum_to_shape

        return sum_to_shape(g, ctx.in_shape), None


def expand(input: Tensor, *sizes) -> Tensor:
    sizes = _shape_args(sizes, "expand")
    shp = input._data.shape
    if len(sizes) < len(shp):
        raise RuntimeError(
            f"expand({input.type()}{{{list(shp)}}}, size={list(sizes)}): the number of sizes "
            "provided "
            f"({len(sizes)}) must be greater or equal to the number of dimensions in the tensor "
            f"({len(shp)})"
        )
    lead = len(sizes) - len(shp)
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"expand: the expanded size {s} is not allowed in a leading, non-existing "
                    f"dimension {i}"
                )
            out.append(s)
            continue
        cur = shp[i - lead]
        if s == -1:
            s = cur
        if cur != s and cur != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                f"{list(shp)}"
            )
        out.append(s)
    out = tuple(out)
    if out == shp:
        return input if not input._rg else call(Expand, input, out)
    return call(Expand, input, out)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other._data.shape)


def broadcast_to(input: Tensor, size) -> Tensor:
    return expand(input, tuple(size))


def broadcast_shapes(*shapes):
    from ..tensor import Size

    return Size(D.broadcast_shapes(*[tuple(s) if not isinstance(s, int) else (s,) for s in shapes]))


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = D.broadcast_shapes(*[t._data.shape for t in tensors])
    return tuple(expand(t, shape) for t in tensors)


class Slice(Function):
    """Basic indexing (ints, slices, None, Ellipsis): a view."""

    @staticmethod
    def forward(ctx, x, key):
        ctx.key = key
        ctx.in_shape = x._data.shape
        return _view_of(x, D.backend_of(x).getitem_basic(x._data, key))

    @staticmethod
    def backward(ctx, g):
        return call(SliceBackward, g, ctx.in_shape, ctx.key), None


class SliceBackward(Function):
    @staticmethod
    def forward(ctx, g, in_shape, key):
        ctx.key = key
        be = D.backend_of(g)
        z = be.zeros(in_shape, g._dtype.np)
        be.copy_(be.getitem_basic(z, key), g._data)
        return make_tensor(z, g._dtype, g._device)

    @staticmethod
    def backward(ctx, gg):
        return call(Slice, gg, ctx.key), None, None


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    d = wrap_dim(dim, input.ndim)
    n = input._data.shape[d]
    start = int(start)
    if start < 0:
        start += n
    if start < 0 or start + length > n or length < 0:
        raise RuntimeError(
            f"start ({start}) + length ({length}) exceeds dimension size ({n})."
            if start >= 0
            else f"start out of range (expected to be in range of [{-n}, {n}], but got {start})"
        )
    key = (slice(None),) * d + (slice(start, start + length),)
    return call(Slice, input, key)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    nd = input.ndim
    if nd == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, nd)
    n = input._data.shape[d]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {list(input.shape)} at "
            f"dimension {d}"
        )
    key = (slice(None),) * d + (index % n if n else index,)
    return call(Slice, input, key)


def as_strided(input: Tensor, size, stride, storage_offset=None) -> Tensor:
    be = D.backend_of(input)
    off = be.storage_offset(input._data) if storage_offset is None else storage_offset
    if input._rg:
        raise NotImplementedError(
            "as_strided on a tensor that requires grad is not differentiable in deepforge"
        )
    return _view_of(input, be.as_strided(input._data, tuple(size), tuple(stride), off))


def resize_out(out: Tensor, result: Tensor) -> Tensor:
    """Write an op's result into a user-given ``out=`` tensor (resizing an empty one)."""
    if not isinstance(out, Tensor):
        raise TypeError(f"out= must be a Tensor, got {type(out).__name__}")
    if out._device != result._device:
        raise RuntimeError(
            f"Expected out tensor to have device {result._device}, but got {out._device} instead"
        )
    if out._data.shape != result._data.shape:
        if out.numel() != 0:
            import warnings

            warnings.warn(
                "An output with one or more elements was resized since it had shape "
                f"{list(out.shape)}, "
                f"which does not match the required output shape {list(result.shape)}.",
                UserWarning,
                stacklevel=3,
            )
        out._data = D.backend_of(out).empty(result._data.shape, out._dtype.np)
    if out._dtype.category < result._dtype.category:
        raise RuntimeError(
            f"result type {result._dtype.name} can't be cast to the desired output type "
            f"{out._dtype.name}"
        )
    D.backend_of(out).copy_(out._data, result._data)
    out._vc[0] += 1
    return out


# joining and splitting live in join.py; importable from here too
from .join import (  # noqa: E402,F401
    Cat,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    cat,
    chunk,
    column_stack,
    concat,
    concatenate,
    dstack,
    hstack,
    row_stack,
    split,
    stack,
    tensor_split,
    unbind,
    vstack,
)
