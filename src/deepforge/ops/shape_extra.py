"""Grids, index sets, rotations, splits and the complex-number views of real tensors.

Everything here is a composition of existing differentiable ops (expand, flip, transpose,
narrow, index_select, sub), so it runs on every backend and has gradients wherever PyTorch's
versions do; index sets (tril_indices, combinations' positions) are computed on the host
from sizes alone, the way ``arange`` is.
"""

from __future__ import annotations

import itertools
import numbers
import warnings

import numpy as np

from .. import _dtype as dt
from ..tensor import Tensor
from . import join, rearrange
from ._common import wrap_dim
from .creation import _on_device, _resolve_device

__all__ = [
    "meshgrid", "tril_indices", "triu_indices", "cartesian_prod", "combinations", "rot90",
    "split_with_sizes", "hsplit", "vsplit", "dsplit", "unsafe_chunk", "unsafe_split",
    "unsafe_split_with_sizes", "unravel_index", "diff", "real", "imag", "conj", "conj_physical",
    "conj_physical_", "resolve_conj", "resolve_neg", "is_conj", "is_neg", "isreal", "is_signed",
    "is_same_size",
]  # fmt: skip


def _tensor_list(tensors) -> list:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    return list(tensors)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids of 0-D/1-D tensors; the outputs are expanded views of the inputs."""
    ts = _tensor_list(tensors)
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
            "argument.",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    for t in ts:
        if t.ndim > 1:
            raise RuntimeError(
                "torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got a tensor "
                f"of shape {list(t.shape)}"
            )
        if t._dtype is not ts[0]._dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
        if t._device != ts[0]._device:
            raise RuntimeError("meshgrid expects all tensors to have the same device")
    # "xy" is "ij" with the first two inputs swapped, and then the first two outputs
    swap = indexing == "xy" and len(ts) >= 2
    order = [ts[1], ts[0], *ts[2:]] if swap else ts
    sizes = [t.numel() for t in order]
    grids = []
    for k, t in enumerate(order):
        view_shape = [1] * len(order)
        view_shape[k] = sizes[k]
        grids.append(t.reshape(view_shape).expand(*sizes))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def _triangle_indices(op, row, col, offset, dtype, device, lower):
    if dtype is None:
        dtype = dt.int64
    dtype = dt.to_dtype(dtype)
    if dtype.category != dt.int64.category:
        raise NotImplementedError(f"\"{op}\" not implemented for '{dt.scalar_type_name(dtype)}'")
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    fn = np.tril_indices if lower else np.triu_indices
    r, c = fn(row, offset, col)
    idx = np.stack([r, c]).astype(dtype.np).reshape(2, -1)
    return _on_device(idx, dtype, _resolve_device(device))


def tril_indices(
    row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None,
    pin_memory: bool = False,
) -> Tensor:  # fmt: skip
    """The (2, N) row/column indices of the lower triangle of a row x col matrix."""
    return _triangle_indices("tril_indices", row, col, offset, dtype, device, True)


def triu_indices(
    row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None,
    pin_memory: bool = False,
) -> Tensor:  # fmt: skip
    """The (2, N) row/column indices of the upper triangle of a row x col matrix."""
    return _triangle_indices("triu_indices", row, col, offset, dtype, device, False)


def _check_1d(t: Tensor) -> None:
    if t.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")


def cartesian_prod(*tensors) -> Tensor:
    """All tuples of one element from each 1-D input, as rows of a (N, len(tensors)) tensor."""
    ts = _tensor_list(tensors)
    for t in ts:
        _check_1d(t)
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return join.stack([g.reshape(-1) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """itertools.combinations(_with_replacement) of a 1-D tensor's elements, as rows."""
    _check_1d(input)
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty(0)
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    pos = np.array(list(pick(range(input.shape[0]), r)), np.int64).reshape(-1, r)
    idx = _on_device(pos.reshape(-1), dt.int64, input._device)
    return input.index_select(0, idx).reshape(pos.shape[0], r)


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees k times in the plane of ``dims`` (from dims[0] towards dims[1])."""
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = wrap_dim(dims[0], input.ndim), wrap_dim(dims[1], input.ndim)
    if d0 == d1:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}"
        )
    k %= 4
    if k == 1:
        return rearrange.flip(input, [d1]).transpose(d0, d1)
    if k == 2:
        return rearrange.flip(input, [d0, d1])
    if k == 3:
        return rearrange.flip(input, [d0]).transpose(d0, d1)
    return input.clone()


def split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:
    d = wrap_dim(dim, input.ndim)
    sizes = [int(s) for s in split_sizes]
    if any(s < 0 for s in sizes):
        raise RuntimeError(
            f"split_with_sizes expects split_sizes have only non-negative entries, but got "
            f"split_sizes={sizes}"
        )
    return join.split(input, sizes, d)


def _directional_split(op: str, input: Tensor, sections, dim: int, min_dims: int) -> tuple:
    if input.ndim < min_dims:
        raise RuntimeError(
            f"torch.{op} requires a tensor with at least {min_dims} dimension, but got a tensor "
            f"with {input.ndim} dimensions!"
        )
    if isinstance(sections, numbers.Integral):
        n = input.shape[dim]
        if sections == 0 or n % sections:
            raise RuntimeError(
                f"torch.{op} attempted to split along dimension {dim}, but the size of the "
                f"dimension {n} is not divisible by the split_size {sections}!"
            )
    return join.tensor_split(input, sections, dim)


def hsplit(input: Tensor, indices_or_sections) -> tuple:
    """Split along columns: dim 1, or dim 0 of a 1-D tensor."""
    return _directional_split("hsplit", input, indices_or_sections, 1 if input.ndim > 1 else 0, 1)


def vsplit(input: Tensor, indices_or_sections) -> tuple:
    return _directional_split("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input: Tensor, indices_or_sections) -> tuple:
    return _directional_split("dsplit", input, indices_or_sections, 2, 3)


def unsafe_chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """``chunk`` (PyTorch's unsafe variant only skips view tracking, which is always safe here)."""
    return join.chunk(input, chunks, dim)


def unsafe_split(tensor: Tensor, split_size: int, dim: int = 0) -> tuple:
    return join.split(tensor, split_size, dim)


def unsafe_split_with_sizes(input: Tensor, split_sizes, dim: int = 0) -> tuple:
    return split_with_sizes(input, split_sizes, dim)


def unravel_index(indices, shape) -> tuple:
    """Flat indices into coordinate tensors, one per dimension of ``shape`` (row-major).

    Like PyTorch, indices are not bounds-checked: each coordinate is ``(i // stride) % size``.
    """
    if not isinstance(indices, Tensor):
        from .creation import tensor

        indices = tensor(indices)
    if indices._dtype.category != dt.int64.category:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices._dtype}")
    dims = [int(shape)] if isinstance(shape, numbers.Integral) else [int(s) for s in shape]
    if any(s < 0 for s in dims):
        raise ValueError(f"'shape' cannot have negative values, but got {tuple(dims)}")
    flat = indices.detach().to(dt.int64)
    coords, stride = [], 1
    for s in reversed(dims):
        coords.append(flat.div(stride, rounding_mode="floor").remainder(s))
        stride *= s
    return tuple(reversed(coords))


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """n-th forward difference along ``dim`` (``!=`` for bool tensors), after concatenating
    ``prepend`` and ``append``."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = wrap_dim(dim, input.ndim)
    parts = [p for p in (prepend, input, append) if p is not None]
    for p in parts:
        if not isinstance(p, Tensor):
            raise TypeError(f"diff(): prepend and append must be Tensors, not {type(p).__name__}")
        if p.ndim != input.ndim:
            raise RuntimeError(
                "diff expects prepend or append to be the same dimension as input, but got "
                f"{p.ndim} and {input.ndim}"
            )
    x = join.cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
        x = hi.logical_xor(lo) if x._dtype is dt.bool_ else hi - lo
    return x


# -- the complex-number API on real tensors (a real tensor is its own real part) ---------------


def _real_only(op: str, input: Tensor) -> None:
    if input._dtype.is_complex:
        raise NotImplementedError(f"{op}: complex tensors are not supported by deepforge")


def real(input: Tensor) -> Tensor:
    _real_only("real", input)
    return input


def imag(input: Tensor) -> Tensor:
    _real_only("imag", input)
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


def conj(input: Tensor) -> Tensor:
    _real_only("conj", input)
    return input


def conj_physical(input: Tensor) -> Tensor:
    _real_only("conj_physical", input)
    return input


def conj_physical_(input: Tensor) -> Tensor:
    _real_only("conj_physical_", input)
    return input


def resolve_conj(input: Tensor) -> Tensor:
    return input


def resolve_neg(input: Tensor) -> Tensor:
    return input


def is_conj(input: Tensor) -> bool:
    return False


def is_neg(input: Tensor) -> bool:
    return False


def isreal(input: Tensor) -> Tensor:
    _real_only("isreal", input)
    from .creation import ones

    return ones(input.shape, dtype=dt.bool_, device=input._device)  # NaN too: its imag part is 0


def is_signed(input: Tensor) -> bool:
    return input.is_signed()


def is_same_size(input: Tensor, other: Tensor) -> bool:
    return tuple(input.shape) == tuple(other.shape)


_METHODS = {
    "rot90": rot90, "split_with_sizes": split_with_sizes, "hsplit": hsplit, "vsplit": vsplit,
    "dsplit": dsplit, "unsafe_chunk": unsafe_chunk, "unsafe_split": unsafe_split,
    "unsafe_split_with_sizes": unsafe_split_with_sizes, "diff": diff, "imag": property(imag),
    "conj": conj, "conj_physical": conj_physical, "conj_physical_": conj_physical_,
    "resolve_conj": resolve_conj, "resolve_neg": resolve_neg, "is_conj": is_conj,
    "is_neg": is_neg, "isreal": isreal, "is_same_size": is_same_size,
}  # fmt: skip


def _attach() -> None:
    for name, fn in _METHODS.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)


_attach()
