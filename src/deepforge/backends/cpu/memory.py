"""Allocation, copies, storage queries and views (every view shares memory with its input)."""

from __future__ import annotations

import numpy as np

__all__ = [
    "empty",
    "zeros",
    "full",
    "from_numpy",
    "to_numpy",
    "copy_",
    "astype",
    "clone",
    "contiguous",
    "is_contiguous",
    "strides",
    "storage_offset",
    "storage_nbytes",
    "data_ptr",
    "shares_storage",
    "as_strided",
    "reshape_view",
    "reshape",
    "permute",
    "expand",
    "getitem_basic",
    "diagonal",
]


def empty(shape, dtype):
    return np.empty(shape, dtype)


def zeros(shape, dtype):
    return np.zeros(shape, dtype)


def full(shape, value, dtype):
    return np.full(shape, value, dtype)


def from_numpy(nd):
    return nd


def to_numpy(x):
    return x


def copy_(dst, src):
    np.copyto(dst, src, casting="unsafe")


def astype(x, dtype):
    return x.astype(dtype)


def clone(x):
    return np.array(x, copy=True, order="K")


def contiguous(x):
    return x if x.flags.c_contiguous else np.ascontiguousarray(x)


def is_contiguous(x) -> bool:
    return x.flags.c_contiguous


def strides(x) -> tuple:
    item = x.itemsize
    return tuple(s // item for s in x.strides)


def _root(x):
    """The array that owns ``x``'s memory. numpy's ``as_strided`` puts a plain wrapper object
    (not an array) between its result and the source, whose ``.base`` continues the chain."""
    while True:
        b = x.base
        if isinstance(b, np.ndarray):
            x = b
        elif b is not None and isinstance(getattr(b, "base", None), np.ndarray):
            x = b.base
        else:
            return x


def storage_offset(x) -> int:
    root = _root(x)
    if x.size == 0:
        return 0
    return (x.__array_interface__["data"][0] - root.__array_interface__["data"][0]) // x.itemsize


def storage_nbytes(x) -> int:
    return _root(x).nbytes


def data_ptr(x) -> int:
    return x.__array_interface__["data"][0]


def shares_storage(a, b) -> bool:
    return _root(a) is _root(b)


def as_strided(x, shape, strides_, offset):
    root = _root(x)
    flat = root.reshape(-1) if root.flags.c_contiguous else root.ravel(order="K")
    item = x.itemsize
    return np.lib.stride_tricks.as_strided(
        flat[offset:], shape=shape, strides=tuple(s * item for s in strides_)
    )


def reshape_view(x, shape):
    try:
        return np.reshape(x, shape, copy=False)
    except ValueError:
        return None


def reshape(x, shape):
    return np.reshape(x, shape)


def permute(x, dims):
    return x.transpose(dims)


def expand(x, shape):
    return np.broadcast_to(x, shape)


def getitem_basic(x, key):
    # a trailing Ellipsis makes numpy return a 0-d view, never a scalar copy, for int-only keys
    if not any(k is Ellipsis for k in key):
        key = key + (Ellipsis,)
    return x[key]


def diagonal(x, offset, dim1, dim2):
    """A writable strided view of a diagonal (np.diagonal's view is read-only)."""
    xm = np.moveaxis(x, (dim1, dim2), (-2, -1))
    xm = xm[..., :, offset:] if offset >= 0 else xm[..., -offset:, :]
    n = max(0, min(xm.shape[-2], xm.shape[-1]))
    return np.lib.stride_tricks.as_strided(
        xm,
        xm.shape[:-2] + (n,),
        xm.strides[:-2] + (xm.strides[-2] + xm.strides[-1],),
        writeable=x.flags.writeable,
    )
