"""Out-of-place embeddings of one tensor into another (select/slice/diagonal/as_strided
scatter), index_reduce, put and fill_diagonal_.

Each is a clone followed by a differentiable write (setitem, index_put, scatter_reduce), so
gradients flow to both the input and the embedded source, on every backend.
"""

from __future__ import annotations

import numpy as np

from .. import _dtype as dt
from ..tensor import Tensor
from . import indexing
from ._common import check_inplace, commit_inplace, wrap_dim
from .creation import _on_device
from .selection import check_index_range

__all__ = [
    "select_scatter", "slice_scatter", "diagonal_scatter", "as_strided_scatter", "index_reduce",
    "put",
]  # fmt: skip


def _check_src(src: Tensor, slice_shape) -> None:
    if tuple(src.shape) != tuple(slice_shape):
        raise RuntimeError(
            "expected src to have a size equal to the slice of self. src size = "
            f"{list(src.shape)}, slice size = {list(slice_shape)}"
        )


def _embed(input: Tensor, key, src: Tensor) -> Tensor:
    out = input.clone()
    indexing.setitem(out, key, src)
    return out


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """A copy of ``input`` with ``input.select(dim, index)`` replaced by ``src``."""
    d = wrap_dim(dim, input.ndim)
    _check_src(src, input.select(d, index).shape)
    return _embed(input, (slice(None),) * d + (index,), src)


def slice_scatter(
    input: Tensor, src: Tensor, dim: int = 0, start=None, end=None, step: int = 1
) -> Tensor:
    """A copy of ``input`` with the slice ``start:end:step`` along ``dim`` replaced by ``src``."""
    d = wrap_dim(dim, input.ndim)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    key = (slice(None),) * d + (slice(start, end, step),)
    _check_src(src, input[key].shape)
    return _embed(input, key, src)


def diagonal_scatter(
    input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1
) -> Tensor:
    """A copy of ``input`` with ``input.diagonal(offset, dim1, dim2)`` replaced by ``src``."""
    diag_shape = input.diagonal(offset, dim1, dim2).shape
    _check_src(src, diag_shape)
    d1, d2 = wrap_dim(dim1, input.ndim), wrap_dim(dim2, input.ndim)
    # coordinates in input of each element of the diagonal view (batch dims..., k)
    grid = np.indices(diag_shape, dtype=np.int64)
    k = grid[-1]
    batch = iter(grid[:-1])
    coords = []
    for axis in range(input.ndim):
        if axis == d1:
            coords.append(k + max(-offset, 0))
        elif axis == d2:
            coords.append(k + max(offset, 0))
        else:
            coords.append(next(batch))
    key = tuple(_on_device(c.reshape(-1), dt.int64, input._device) for c in coords)
    return input.index_put(key, src.reshape(-1))


def as_strided_scatter(input: Tensor, src: Tensor, size, stride, storage_offset=None) -> Tensor:
    """A copy of ``input`` with the elements of ``input.clone().as_strided(size, stride,
    storage_offset)`` replaced by ``src``.

    The clone keeps ``input``'s strides when it is dense (PyTorch's preserve_format), so the
    strides address the same elements as in PyTorch; the write is an index_put at the logical
    positions those storage offsets hold.
    """
    size, stride = [int(s) for s in size], [int(s) for s in stride]
    _check_src(src, size)
    offset = 0 if storage_offset is None else int(storage_offset)
    n = input.numel()
    layout = _clone_strides(input)
    # logical (row-major) index of the element at each storage offset of the clone
    logical = np.arange(n, dtype=np.int64).reshape(input.shape)
    storage = np.empty(n, np.int64)
    storage[np.sum(np.indices(input.shape) * _col(layout, input.ndim), axis=0).reshape(-1)] = (
        logical.reshape(-1)
    )
    grid = np.indices(size).reshape(len(size), -1) if size else np.zeros((0, 1), np.int64)
    where = offset + (grid * np.array(stride, np.int64).reshape(-1, 1)).sum(0)
    if where.size and (where.min() < 0 or where.max() >= n):
        raise RuntimeError(
            f"setStorage: sizes {size}, strides {stride}, storage offset {offset} are out of "
            f"bounds for storage of size {n}"
        )
    targets = _on_device(storage[where], dt.int64, input._device)
    flat = input.reshape(-1).index_put((targets,), src.reshape(-1))
    return flat.reshape(input.shape)


def _col(strides, ndim):
    return np.array(strides, np.int64).reshape((ndim,) + (1,) * ndim)


def _clone_strides(input: Tensor) -> list:
    """The strides of ``input.clone()``: input's own if it is dense, row-major otherwise."""
    shape, strides = list(input.shape), list(input.stride())
    order = sorted(range(len(shape)), key=lambda k: (strides[k], -k))
    expected = 1
    for k in order:
        if shape[k] != 1 and strides[k] != expected:
            break
        expected *= shape[k]
    else:
        return [s if shape[k] != 1 else 0 for k, s in enumerate(strides)]
    row_major, acc = [0] * len(shape), 1
    for k in reversed(range(len(shape))):
        row_major[k] = acc
        acc *= shape[k]
    return row_major


def index_reduce(
    input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
    include_self: bool = True,
) -> Tensor:  # fmt: skip
    """Reduce ``source``'s slices into ``input``'s slices at ``index`` along ``dim`` with
    prod, mean, amax or amin."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(
            "index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got "
            f"{reduce}."
        )
    d = wrap_dim(dim, max(input.ndim, 1))
    if index.ndim > 1:
        raise IndexError("index_reduce_(): Index is supposed to be a vector")
    if index._dtype not in (dt.int64, dt.int32):
        raise TypeError("index_reduce_(): Expected dtype int32/int64 for index")
    if source.ndim and index.numel() != source.shape[d]:
        raise RuntimeError(
            f"index_reduce_(): Number of indices ({index.numel()}) should be equal to "
            f"source.size(dim) ({source.shape[d]})"
        )
    if input.ndim == 0:
        return index_reduce(input.reshape(1), 0, index, source.reshape(-1), reduce,
                            include_self=include_self).reshape(())  # fmt: skip
    shape = [1] * source.ndim
    shape[d] = index.numel()
    spread = index.to(dt.int64).reshape(shape).expand(*source.shape)
    return input.scatter_reduce(d, spread, source, reduce, include_self=include_self)


def put(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with the elements at flat (row-major) ``index`` set to ``source``
    (added to, with ``accumulate``); negative indices count from the end."""
    if index._dtype is not dt.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {index._dtype.name}")
    if index.numel() != source.numel():
        raise RuntimeError(
            f"put_(): Expected source and index to have the same number of elements, but got "
            f"source.numel() = {source.numel()}, index.numel() = {index.numel()}"
        )
    n = input.numel()
    flat_index = index.reshape(-1)
    check_index_range(flat_index, -n, n, IndexError,
                      f"out of range: tried to access index {{index}} on a tensor of {n} elements.")
    values = source.reshape(-1).to(input._dtype)
    flat = input.reshape(-1).index_put((flat_index,), values, accumulate)
    return flat.reshape(input.shape)


def put_(self: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    check_inplace(self, "put_")
    return commit_inplace(self, lambda: put(self, index, source, accumulate))


def index_reduce_(
    self: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
    include_self: bool = True,
) -> Tensor:  # fmt: skip
    check_inplace(self, "index_reduce_")
    return commit_inplace(
        self, lambda: index_reduce(self, dim, index, source, reduce, include_self=include_self)
    )


def fill_diagonal_(self: Tensor, fill_value, wrap: bool = False) -> Tensor:
    """Fill the main diagonal (all indices equal) in place; for a tall matrix, ``wrap``
    starts a new diagonal every ncols + 1 rows, as in numpy.fill_diagonal."""
    if self.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    shape = list(self.shape)
    if self.ndim > 2 and any(s != shape[0] for s in shape):
        raise RuntimeError("all dimensions of input must be of equal length")
    if self.ndim == 2:
        rows, cols = shape
        flat = np.arange(0, rows * cols if wrap else min(rows, cols) * cols, cols + 1)
        flat = flat[flat < rows * cols]
        coords = np.unravel_index(flat, shape)
    else:
        coords = (np.arange(shape[0]),) * self.ndim
    key = tuple(_on_device(np.asarray(c, np.int64), dt.int64, self._device) for c in coords)
    value = _on_device(np.asarray(fill_value, self._dtype.np), self._dtype, self._device)
    return self.index_put_(key, value)


_METHODS = {
    "select_scatter": select_scatter, "slice_scatter": slice_scatter,
    "diagonal_scatter": diagonal_scatter, "as_strided_scatter": as_strided_scatter,
    "index_reduce": index_reduce, "index_reduce_": index_reduce_, "put": put, "put_": put_,
    "fill_diagonal_": fill_diagonal_,
}  # fmt: skip


def _attach() -> None:
    for name, fn in _METHODS.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)


_attach()
