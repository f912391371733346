"""Sorting and selection: sort, argsort, topk, kthvalue, median, mode, unique, quantile."""

from __future__ import annotations

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, with_out, wrap_dim
from .reduction import _values_indices

__all__ = [
    "sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode", "unique",
    "unique_consecutive", "quantile",
]

_Sort = _values_indices("sort")
_TopK = _values_indices("topk")


class SortFn(Function):
    @staticmethod
    def forward(ctx, x, axis, descending, stable):
        vals, idx = D.backend_of(x).sort(x._data, axis, descending, stable)
        i = make_tensor(idx, dt.int64, x._device)
        ctx.axis, ctx.in_shape = axis, x._data.shape
        ctx.save_for_backward(i)
        ctx.mark_non_differentiable(i)
        return make_tensor(vals, x._dtype, x._device), i

    @staticmethod
    def backward(ctx, g, _gi):
        from .indexing import _scatter_into_zeros

        (idx,) = ctx.saved_tensors
        return _scatter_into_zeros(g, ctx.axis, idx, ctx.in_shape), None, None, None


@with_out
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    if input.ndim == 0:
        return _Sort(
            input.clone(),
            make_tensor(D.backend_of(input).zeros((), dt.int64.np), dt.int64, input._device),
        )
    v, i = call(SortFn, input, wrap_dim(dim, input.ndim), descending, stable)
    return _Sort(v, i)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    return sort(input, dim, descending, stable).indices


def msort(input: Tensor) -> Tensor:
    return sort(input, 0).values


class TopK(Function):
    @staticmethod
    def forward(ctx, x, k, axis, largest, sorted_):
        vals, idx = D.backend_of(x).topk(x._data, k, axis, largest, sorted_)
        i = make_tensor(idx, dt.int64, x._device)
        ctx.axis, ctx.in_shape = axis, x._data.shape
        ctx.save_for_backward(i)
        ctx.mark_non_differentiable(i)
        return make_tensor(vals, x._dtype, x._device), i

    @staticmethod
    def backward(ctx, g, _gi):
        from .indexing import _scatter_into_zeros

        (idx,) = ctx.saved_tensors
        return _scatter_into_zeros(g, ctx.axis, idx, ctx.in_shape), None, None, None, None


@with_out
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    n = input._data.shape[axis] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range (k={k}, size of dim {axis} is {n})")
    if input.ndim == 0:
        return _TopK(
            input.clone(),
            make_tensor(D.backend_of(input).zeros((), dt.int64.np), dt.int64, input._device),
        )
    v, i = call(TopK, input, k, axis, largest, sorted)
    return _TopK(v, i)


@with_out
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    from collections import namedtuple

    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    n = input._data.shape[axis] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(
            f"kthvalue(): selected number k out of range for dimension {axis} (k={k}, size {n})"
        )
    v, i = sort(input, axis)
    v = v.narrow(axis, k - 1, 1)
    i = i.narrow(axis, k - 1, 1)
    if not keepdim:
        v, i = v.squeeze(axis), i.squeeze(axis)
    return namedtuple("kthvalue", ["values", "indices"])(v, i)


def median(input: Tensor, dim=None, keepdim: bool = False):
    if dim is None:
        flat = input.reshape(-1)
        n = flat._data.shape[0]
        if n == 0:
            return flat.sum() * float("nan")
        return sort(flat).values[(n - 1) // 2]
    from collections import namedtuple

    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    n = input._data.shape[axis] if input.ndim else 1
    r = kthvalue(input, (n + 1) // 2, axis, keepdim)
    return namedtuple("median", ["values", "indices"])(r.values, r.indices)


def nanmedian(input: Tensor, dim=None, keepdim: bool = False):
    """The lower median of the non-NaN values (NaN where all are NaN). The sort puts NaNs
    last, so it is the element at (count of non-NaN - 1) // 2: picked with a gather, with no
    look at the data from the host."""
    from collections import namedtuple

    if dim is None or input.ndim == 0:
        flat = input.reshape(-1)
        if flat._data.shape[0] == 0:
            return flat.sum() * float("nan")
        k = ((~flat.isnan()).sum() - 1).clamp(min=0) // 2
        r = sort(flat).values.gather(0, k.reshape(1)).reshape(())
        if dim is None:
            return r
        return namedtuple("nanmedian", ["values", "indices"])(r, k * 0)
    axis = wrap_dim(dim, input.ndim)
    v, i = sort(input, axis)
    k = ((~input.isnan()).sum(axis, keepdim=True) - 1).clamp(min=0) // 2
    v, i = v.gather(axis, k), i.gather(axis, k)
    if not keepdim:
        v, i = v.squeeze(axis), i.squeeze(axis)
    return namedtuple("nanmedian", ["values", "indices"])(v, i)


@with_out
def quantile(input: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"):
    """The q-th quantiles along ``dim`` (``binning.quantile``: sorted on the input's device)."""
    from .binning import quantile as _quantile

    return _quantile(input, q, dim, keepdim, interpolation=interpolation)


@with_out
def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """Most frequent value along ``dim`` (smallest on ties) and its last index, like PyTorch."""
    from collections import namedtuple

    import numpy as np

    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    a = (
        np.moveaxis(input.detach().cpu().numpy(), axis, -1)
        if input.ndim
        else input.numpy().reshape(1)
    )
    flat = a.reshape(-1, a.shape[-1])
    vals = np.empty(flat.shape[0], a.dtype)
    idx = np.empty(flat.shape[0], np.int64)
    for r, row in enumerate(flat):
        u, counts = np.unique(row, return_counts=True)
        v = u[np.argmax(counts)]
        vals[r] = v
        idx[r] = np.nonzero(row == v)[0][-1]
    out_shape = a.shape[:-1]
    from .creation import tensor

    v = tensor(vals.reshape(out_shape), dtype=input._dtype, device=input._device)
    i = tensor(idx.reshape(out_shape), dtype=dt.int64, device=input._device)
    if keepdim and input.ndim:
        v, i = v.unsqueeze(axis), i.unsqueeze(axis)
    return namedtuple("mode", ["values", "indices"])(v, i)


def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim=None,
):
    import numpy as np

    from .creation import tensor

    a = input.detach().cpu().numpy()
    res = np.unique(a, return_inverse=return_inverse, return_counts=return_counts, axis=dim)
    if not isinstance(res, tuple):
        res = (res,)
    out = [tensor(res[0], dtype=input._dtype, device=input._device)]
    k = 1
    if return_inverse:
        inv = res[k].reshape(a.shape if dim is None else (a.shape[dim],))
        out.append(tensor(inv, dtype=dt.int64, device=input._device))
        k += 1
    if return_counts:
        out.append(tensor(res[k], dtype=dt.int64, device=input._device))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(
    input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim=None
):
    import numpy as np

    from .creation import tensor

    a = input.detach().cpu().numpy().reshape(-1)
    if a.size == 0:
        keep = np.zeros(0, bool)
    else:
        keep = np.concatenate([[True], a[1:] != a[:-1]])
    vals = a[keep]
    out = [tensor(vals, dtype=input._dtype, device=input._device)]
    if return_inverse:
        out.append(
            tensor((np.cumsum(keep) - 1).reshape(input.shape), dtype=dt.int64, device=input._device)
        )
    if return_counts:
        starts = np.nonzero(keep)[0]
        out.append(tensor(np.diff(np.append(starts, a.size)), dtype=dt.int64, device=input._device))
    return out[0] if len(out) == 1 else tuple(out)
