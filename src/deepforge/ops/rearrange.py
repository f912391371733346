"""Ops that copy elements into a new order or replicate them: repeat, repeat_interleave, tile,
flip, roll. Their results never share storage with the input (views are in shape.py)."""

from __future__ import annotations

from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, wrap_dim
from .shape import _shape_args, narrow, unsqueeze

__all__ = ["repeat", "repeat_interleave", "tile", "flip", "fliplr", "flipud", "roll"]


def repeat(input: Tensor, *sizes) -> Tensor:
    sizes = _shape_args(sizes, "repeat")
    shp = input._data.shape
    if len(sizes) < len(shp):
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of "
            "tensor"
        )
    x = input.reshape((1,) * (len(sizes) - len(shp)) + shp)
    # expand an interleaved (r0, s0, r1, s1, ...) view, then fold: no per-op backward needed
    inter = []
    target = []
    for r, s in zip(sizes, x._data.shape):
        inter += [1, s]
        target += [r, s]
    y = x.reshape(tuple(inter)).expand(tuple(target))
    return y.reshape(tuple(r * s for r, s in zip(sizes, x._data.shape)))


def repeat_interleave(input: Tensor, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Repeat each element (or slice along ``dim``) ``repeats`` times; ``repeat_interleave(r)``
    alone gives the indices ``0..len(r)-1`` each repeated ``r[i]`` times."""
    import numpy as np

    from .creation import tensor

    if repeats is None:
        reps = input.detach().cpu().numpy()
        if reps.ndim > 1:
            raise RuntimeError("repeat_interleave: repeats must be 0-dim or 1-dim tensor")
        if (reps < 0).any():
            raise RuntimeError("repeat_interleave: repeats can not be negative")
        return tensor(np.repeat(np.arange(reps.size), reps.reshape(-1)), device=input._device)
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        x = x.reshape(1)
    n = x._data.shape[d]
    if isinstance(repeats, Tensor) and repeats.numel() == 1 and repeats.ndim <= 1:
        repeats = int(repeats.item())
    if not isinstance(repeats, Tensor):
        r = int(repeats)
        if r < 0:
            raise RuntimeError("repeat_interleave: Repeats must be non-negative")
        shp = x._data.shape
        y = unsqueeze(x, d + 1).expand(shp[: d + 1] + (r,) + shp[d + 1 :])
        return y.reshape(shp[:d] + (n * r,) + shp[d + 1 :])
    reps = repeats.detach().cpu().numpy()
    if reps.ndim != 1 or reps.shape[0] != n:
        raise RuntimeError(
            "repeat_interleave: repeats must have the same size as input along dim, but got "
            f"repeats.size(0) = {reps.size} and input.size({d}) = {n}"
        )
    if (reps < 0).any():
        raise RuntimeError("repeat_interleave: Repeats must be non-negative")
    idx = tensor(np.repeat(np.arange(n), reps), device=x._device)
    return x.index_select(d, idx)


def tile(input: Tensor, dims) -> Tensor:
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat(input, dims)


class Flip(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        key = tuple(slice(None, None, -1) if i in dims else slice(None) for i in range(x.ndim))
        data = D.backend_of(x).getitem_basic(x._data, key)
        return make_tensor(D.backend_of(x).clone(data), x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        return flip(g, ctx.dims), None


def flip(input: Tensor, *dims) -> Tensor:
    """``flip(x, dims)``; the method also takes ``x.flip(0, 1)``."""
    if len(dims) == 1 and not isinstance(dims[0], int):
        dims = tuple(dims[0])
    axes = tuple(wrap_dim(d, input.ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(
            f"dim {next(a for a in axes if axes.count(a) > 1)} appears multiple times in the "
            "list of dims"
        )
    return call(Flip, input, axes)


def fliplr(input: Tensor) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    from .join import cat  # not at the top: join and shape import each other, shape first

    if dims is None:
        return roll(input.flatten(), shifts, 0).reshape(input._data.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}"
        )
    x = input
    for s, d in zip(shifts, dims):
        d = wrap_dim(d, x.ndim)
        n = x._data.shape[d]
        if n == 0:
            continue
        s %= n
        if s:
            x = cat([narrow(x, d, n - s, s), narrow(x, d, 0, n - s)], d)
    return x
