"""Index-based selection and scattering: index_select, gather, scatter*, index_add/copy/fill,
masked_fill/select/scatter, nonzero, take. Indices are checked here, before any write (on
OpenCL devices the check is reported at the next wait for the device: index_checks.py)."""

from __future__ import annotations

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, with_out, wrap_dim

__all__ = [
    "index_select", "gather", "scatter", "scatter_add", "scatter_reduce", "index_add", "index_copy",
    "index_fill", "masked_fill", "masked_scatter", "masked_select", "nonzero", "argwhere", "take",
    "take_along_dim",
]


# index_select / gather / scatter ---------------------------------------------------------------
def _check_index(op, idx, want_ndim=None):
    if not isinstance(idx, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(idx).__name__}")
    if idx._dtype is not dt.int64 and idx._dtype is not dt.int32:
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
    return idx if idx._dtype is dt.int64 else idx.long()


# PyTorch: gather/scatter/index_add raise RuntimeError, the others IndexError; only take and
# index_fill accept negative indices
_BOUNDS_ERROR = {
    "gather": RuntimeError,
    "scatter": RuntimeError,
    "scatter_add": RuntimeError,
    "scatter_reduce": RuntimeError,
    "index_add": RuntimeError,
}


_NEGATIVE_OK = frozenset(("take", "index_fill"))


def check_index_range(idx: Tensor, low: int, high: int, exc: type, message: str, ignore=None,
                      first: bool = False) -> None:
    """Raise ``exc(message.format(index=bad))`` for an element of ``idx`` outside [low, high)
    that is not ``ignore``. On OpenCL devices a kernel records it and the error is raised at
    the next wait for the device (index_checks.py), so the check never stalls the queue."""
    D.backend_of(idx).check_index(idx._data, low, high, exc, message, ignore, first)


def check_value_range(x: Tensor, low: float, high: float, exc: type, message: str,
                      nan_ok: bool = False) -> None:
    """Raise ``exc(message)`` when an element of ``x`` is outside [low, high] or is NaN (unless
    ``nan_ok``); on OpenCL devices at the next wait for the device, as ``check_index_range``."""
    D.backend_of(x).check_values(x._data, low, high, exc, message, nan_ok)


def _bounds(op, idx, n, dim):
    check_index_range(
        idx, -n if op in _NEGATIVE_OK else 0, n, _BOUNDS_ERROR.get(op, IndexError),
        f"{op}(): index {{index}} is out of bounds for dimension {dim} with size {n}",
    )


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, axis, idx):
        ctx.axis, ctx.n = axis, x._data.shape[axis] if x.ndim else 1
        ctx.save_for_backward(idx)
        data = D.backend_of(x).index_select(
            (x if x.ndim else x.reshape(1))._data, axis, idx.reshape(-1)._data
        )
        if not x.ndim:
            data = D.backend_of(x).reshape(data, ())
        return make_tensor(data, x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        from .creation import zeros

        (idx,) = ctx.saved_tensors
        shape = list(g._data.shape)
        if not shape:  # a 0-d input: its single element was selected once
            return g, None, None
        shape[ctx.axis] = ctx.n
        # idx passed its check in forward: the backward ops are called without another one
        base = zeros(tuple(shape), dtype=g._dtype, device=g._device)
        return call(IndexAdd, base, ctx.axis, idx.reshape(-1), g, 1), None, None


@with_out
def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    index = _check_index("index_select", index)
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    D.check_same_device("index_select", input, index)
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    if not input.ndim and index.numel() != 1:
        raise RuntimeError(
            f"index_select(): Index to scalar can have only 1 value, got {index.numel()} value(s)"
        )
    _bounds("index_select", index, input._data.shape[axis] if input.ndim else 1, axis)
    return call(IndexSelect, input, axis, index)


def _check_gather_shapes(op, x, axis, idx, src=None):
    if idx.ndim != x.ndim and not (x.ndim == 0 and idx.ndim <= 1):
        raise RuntimeError(
            "Index tensor must have the same number of dimensions as "
            f"{'self' if src is not None else 'input'} tensor"
        )
    for d in range(idx.ndim):
        if d != axis and idx._data.shape[d] > x._data.shape[d]:
            raise RuntimeError(
                f"Size does not match at dimension {d} expected index {list(idx.shape)} to be "
                "smaller "
                f"than self {list(x.shape)} apart from dimension {axis}"
            )
        if src is not None and isinstance(src, Tensor) and idx._data.shape[d] > src._data.shape[d]:
            raise RuntimeError(
                f"Expected index {list(idx.shape)} to be smaller than self {list(x.shape)} apart "
                "from "
                f"dimension {axis} and to be smaller size than src {list(src.shape)}"
            )


class Gather(Function):
    @staticmethod
    def forward(ctx, x, axis, idx):
        ctx.axis, ctx.in_shape = axis, x._data.shape
        ctx.save_for_backward(idx)
        return make_tensor(D.backend_of(x).gather(x._data, axis, idx._data), x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        return _scatter_add_into_zeros(g, ctx.axis, idx, ctx.in_shape), None, None


@with_out
def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    index = _check_index("gather", index)
    D.check_same_device("gather", input, index)
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    _check_gather_shapes("gather", input, axis, index)
    _bounds("gather", index, input._data.shape[axis] if input.ndim else 1, axis)
    return call(Gather, input, axis, index)


class Scatter(Function):
    """Out-of-place scatter (assign, or add when ``reduce='add'``)."""

    @staticmethod
    def forward(ctx, x, axis, idx, src, reduce):
        ctx.axis, ctx.reduce = axis, reduce
        ctx.src_shape = src._data.shape if isinstance(src, Tensor) else None
        ctx.save_for_backward(idx)
        be = D.backend_of(x)
        out = be.clone(x._data)
        s = src._data if isinstance(src, Tensor) else src
        if isinstance(src, Tensor) and src._dtype is not x._dtype:
            s = be.astype(s, x._dtype.np)
        be.scatter_(out, axis, idx._data, s, reduce)
        return make_tensor(out, x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        nx, _, _, nsrc, _ = ctx.needs_input_grad
        if ctx.reduce in ("add", "sum"):
            gx = g
        elif ctx.reduce is None:
            gx = call(Scatter, g, ctx.axis, idx, 0.0, None) if nx else None
        else:
            raise NotImplementedError(
                f"scatter backward with reduce={ctx.reduce!r} is not implemented"
            )
        gsrc = call(Gather, g, ctx.axis, idx) if nsrc else None
        if gsrc is not None and gsrc._data.shape != ctx.src_shape:
            # only src's leading corner (the index's shape) was used: zeros elsewhere
            from .shape import SliceBackward

            key = tuple(slice(0, n) for n in idx._data.shape)
            gsrc = call(SliceBackward, gsrc, ctx.src_shape, key)
        return gx, None, None, gsrc, None


def _scatter_checked(op, input, dim, index, src, reduce):
    index = _check_index(op, index)
    D.check_same_device(op, input, index, src)
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    _check_gather_shapes(op, input, axis, index, src)
    _bounds(op, index, input._data.shape[axis] if input.ndim else 1, axis)
    return axis, index


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None) -> Tensor:
    if src is None:
        src = value
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    axis, index = _scatter_checked("scatter", input, dim, index, src, reduce)
    return call(Scatter, input, axis, index, src, reduce)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    axis, index = _scatter_checked("scatter_add", input, dim, index, src, "add")
    return call(Scatter, input, axis, index, src, "add")


# For backward passes: idx is an int64 index that its forward op checked (or made, as sort's),
# so no second check is queued.
def _scatter_into_zeros(g, axis, idx, shape):
    from .creation import zeros

    return call(Scatter, zeros(shape, dtype=g._dtype, device=g._device), axis, idx, g, None)


def _scatter_add_into_zeros(g, axis, idx, shape):
    from .creation import zeros

    return call(Scatter, zeros(shape, dtype=g._dtype, device=g._device), axis, idx, g, "add")


class IndexAdd(Function):
    @staticmethod
    def forward(ctx, x, axis, idx, src, alpha):
        ctx.axis, ctx.alpha = axis, alpha
        ctx.save_for_backward(idx)
        be = D.backend_of(x)
        out = be.clone(x._data)
        be.index_add_(out, axis, idx._data, src._data, alpha)
        return make_tensor(out, x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        gsrc = call(IndexSelect, g, ctx.axis, idx)  # checked in forward
        if ctx.alpha != 1:
            gsrc = gsrc * ctx.alpha
        return g, None, None, gsrc, None


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    index = _check_index("index_add", index)
    D.check_same_device("index_add", input, index, source)
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    n = input._data.shape[axis] if input.ndim else 1
    if source.ndim and index.numel() != source._data.shape[axis]:
        raise RuntimeError(
            f"index_add_(): Number of indices ({index.numel()}) should be equal to "
            f"source.size(dim) ({source._data.shape[axis]})"
        )
    _bounds("index_add", index, n, axis)
    return call(IndexAdd, input, axis, index, source, alpha)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    index = _check_index("index_copy", index)
    _bounds("index_copy", index, input._data.shape[axis] if input.ndim else 1, axis)
    return index_fill(input, axis, index, 0.0) + index_add(input * 0, axis, index, source)


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    index = _check_index("index_fill", index)
    _bounds("index_fill", index, input._data.shape[axis] if input.ndim else 1, axis)
    from .creation import zeros

    mask = (
        index_add(
            zeros(input._data.shape[axis], device=input._device),
            0,
            index,
            zeros(index.numel(), device=input._device) + 1,
        )
        > 0
    )
    shape = [1] * input.ndim
    shape[axis] = -1
    return masked_fill(input, mask.reshape(shape), value)


class MaskedFill(Function):
    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.save_for_backward(mask)
        v = D.backend_of(x).reshape(value._data, ()) if isinstance(value, Tensor) else value
        if isinstance(value, Tensor):
            v = D.backend_of(x).astype(v, x._dtype.np)
        data = D.backend_of(x).where(mask._data, v, x._data, x._dtype.np)
        return make_tensor(data, x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        from .binary import where

        (mask,) = ctx.saved_tensors
        nx, _, nv = ctx.needs_input_grad
        gx = where(mask, 0.0, g) if nx else None
        gv = where(mask, g, 0.0).sum() if nv else None
        return gx, None, gv


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    if not isinstance(mask, Tensor) or mask._dtype is not dt.bool_:
        raise RuntimeError(
            f"masked_fill_ only supports boolean masks, but got mask with dtype "
            f"{_dtype_word(mask) if isinstance(mask, Tensor) else type(mask).__name__}"
        )
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(
            "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
            f"{value.ndim} dimension(s)."
        )
    D.check_same_device("masked_fill", input, mask)
    D.broadcast_shapes(input._data.shape, mask._data.shape)
    return call(MaskedFill, input, mask, value)


@with_out
def _dtype_word(t) -> str:
    from .indexing import _np_name

    return _np_name(t._dtype)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    from .indexing import getitem

    if mask._dtype is not dt.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask._dtype.name}")
    x, m = input, mask
    if x._data.shape != m._data.shape:
        from .shape import broadcast_tensors

        x, m = broadcast_tensors(x, m)
    return getitem(x, m)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    from .indexing import setitem
    from .shape import broadcast_tensors

    x, m = broadcast_tensors(input, mask)
    n = int(m.sum().item())
    if source.numel() < n:
        raise RuntimeError("masked_scatter: Number of elements of source < number of ones in mask")
    vals = source.reshape(-1)[:n]
    out = x.clone() if not x._rg else x * 1
    setitem(out, m, vals)
    return out


@with_out
def nonzero(input: Tensor, *, as_tuple: bool = False):
    be = D.backend_of(input)
    data = be.nonzero(input._data if input.ndim else be.reshape(input._data, (1,)))
    r = make_tensor(data, dt.int64, input._device)
    if as_tuple:
        if input.ndim == 0:
            return (r.reshape(-1),)
        return tuple(r[:, i] for i in range(input.ndim))
    return r if input.ndim else r[:, :0]


def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)


def take(input: Tensor, index: Tensor) -> Tensor:
    from .indexing import getitem

    flat = input.reshape(-1)
    n = flat._data.shape[0]
    _bounds("take", index, n, 0)
    return getitem(flat, index)


@with_out
def take_along_dim(input: Tensor, indices: Tensor, dim=None) -> Tensor:
    if dim is None:
        return take(input, indices.reshape(-1))
    axis = wrap_dim(dim, input.ndim)
    ishape = list(input._data.shape)
    jshape = list(indices._data.shape)
    ishape[axis] = 1
    jshape[axis] = 1
    b = D.broadcast_shapes(tuple(ishape), tuple(jshape))
    xs = list(b)
    xs[axis] = input._data.shape[axis]
    js = list(b)
    js[axis] = indices._data.shape[axis]
    return gather(input.expand(tuple(xs)), axis, indices.expand(tuple(js)))


# the scatter_reduce family and its gradients live in their own module
from .scatter_reduce import scatter_reduce  # noqa: E402
