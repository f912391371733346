"""Indexing: ``x[key]``, ``x[key] = v`` and the gather/scatter/index_* family."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, check_inplace, wrap_dim

__all__ = [
    "getitem", "setitem", "index_select", "gather", "scatter", "scatter_add", "scatter_reduce",
    "index_add", "index_copy", "index_fill", "masked_fill", "masked_scatter", "masked_select",
    "nonzero", "argwhere", "take", "take_along_dim", "index_put", "scatter_", "scatter_add_",
    "index_add_", "index_copy_", "index_fill_", "masked_fill_", "index_put_", "masked_scatter_",
]


def _np_name(d) -> str:
    """PyTorch's lower-case scalar type names in messages ("float", "long")."""
    return {"float32": "float", "float64": "double", "float16": "half", "int64": "long", "int32": "int",
            "int16": "short", "int8": "signed char", "uint8": "unsigned char"}.get(d.name, d.name)


# key normalisation -----------------------------------------------------------------------------
def _index_array(x: Tensor, idx, be):
    """An index operand as the indexed tensor's backend array (int64 or bool)."""
    if isinstance(idx, Tensor):
        if idx._dtype.category > 1:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if idx._device != x._device:
            if idx._device.type != "cpu":
                raise RuntimeError(
                    f"indices should be either on cpu or on the same device as the indexed tensor ({x._device})"
                )
            return be.from_numpy(np.ascontiguousarray(idx.numpy()))
        data = idx._data
        if idx._dtype is dt.uint8:
            data = be.astype(data, np.bool_)
        elif idx._dtype not in (dt.int64, dt.bool_):
            data = be.astype(data, np.int64)
        return data
    arr = np.asarray(idx)
    if arr.dtype == object or (arr.dtype.kind not in "biu" and arr.size):
        raise IndexError(
            "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices"
        )
    if arr.dtype.kind != "b":
        arr = arr.astype(np.int64)
    return arr if x._device.type == "cpu" else be.from_numpy(np.ascontiguousarray(arr))


def _as_int(v):
    if isinstance(v, Tensor):
        return int(v.item())
    return v


def _normalize_key(x: Tensor, key):
    """Split a Python index into (key tuple, is_advanced), checking ints against sizes."""
    if not isinstance(key, tuple):
        key = (key,)
    shape = x._data.shape
    be = D.backend_of(x)
    out = []
    advanced = False
    # count dims consumed to validate integer indices
    consumed = sum(
        1 if not (k is None or k is Ellipsis or isinstance(k, bool))
        else 0 for k in key
    )
    consumed = sum(
        (k.ndim if isinstance(k, Tensor) and k._dtype in (dt.bool_, dt.uint8) else 1)
        if not (k is None or k is Ellipsis or isinstance(k, bool)) else 0
        for k in key
    )
    if consumed > len(shape):
        raise IndexError(
            f"too many indices for tensor of dimension {len(shape)}"
        )
    dim = 0
    for k in key:
        if k is None:
            out.append(None)
        elif k is Ellipsis:
            out.append(Ellipsis)
            dim += len(shape) - consumed
        elif isinstance(k, bool):
            advanced = True
            out.append(np.array(k) if x._device.type == "cpu" else be.from_numpy(np.array(k)))
        elif isinstance(k, numbers.Integral) or (isinstance(k, Tensor) and k.ndim == 0 and k._dtype.category == 1):
            k = int(k.item()) if isinstance(k, Tensor) else int(k)
            n = shape[dim]
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of bounds for dimension {dim} with size {n}")
            out.append(k)
            dim += 1
        elif isinstance(k, slice):
            start, stop, step = _as_int(k.start), _as_int(k.stop), _as_int(k.step)
            if step is not None and step <= 0:
                raise ValueError("step must be greater than zero")
            out.append(slice(start, stop, step))
            dim += 1
        elif isinstance(k, (Tensor, list, np.ndarray, tuple)):
            advanced = True
            arr = _index_array(x, k, be)
            if arr.dtype == np.bool_ and arr.ndim:
                for j, m in enumerate(arr.shape):
                    if dim + j >= len(shape) or shape[dim + j] != m:
                        raise IndexError(
                            f"The shape of the mask {list(arr.shape)} at index {j} does not match the "
                            f"shape of the indexed tensor {list(shape)} at index {dim + j}"
                        )
                dim += arr.ndim
            else:
                n = shape[dim]
                if arr.size:
                    lo, hi = _minmax(arr, be)
                    if lo < -n or hi >= n:
                        bad = hi if hi >= n else lo
                        raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {n}")
                dim += 1
            out.append(arr)
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
                f"valid indices (got {type(k).__name__})"
            )
    return tuple(out), advanced


def _minmax(arr, be):
    if isinstance(arr, np.ndarray):
        return int(arr.min()), int(arr.max())
    host = be.to_numpy(arr)
    return int(host.min()), int(host.max())


# getitem ---------------------------------------------------------------------------------------
class AdvancedIndex(Function):
    @staticmethod
    def forward(ctx, x, key):
        ctx.key = key
        ctx.in_shape = x._data.shape
        return make_tensor(D.backend_of(x).getitem_advanced(x._data, key), x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        return call(IndexPutAccumulateZeros, g, ctx.in_shape, ctx.key), None


class IndexPutAccumulateZeros(Function):
    """zeros(shape).index_put_(key, g, accumulate=True): the gradient of advanced indexing."""

    @staticmethod
    def forward(ctx, g, shape, key):
        ctx.key = key
        be = D.backend_of(g)
        z = be.zeros(shape, g._dtype.np)
        be.index_put_(z, key, g._data, True)
        return make_tensor(z, g._dtype, g._device)

    @staticmethod
    def backward(ctx, gg):
        return call(AdvancedIndex, gg, ctx.key), None, None


def getitem(x: Tensor, key) -> Tensor:
    from .shape import Slice

    if x.ndim == 0 and not (key is None or key is Ellipsis or (isinstance(key, tuple) and all(k is None or k is Ellipsis for k in key)) or isinstance(key, (bool, Tensor, list))):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    nkey, advanced = _normalize_key(x, key)
    if not advanced:
        return call(Slice, x, nkey)
    r = call(AdvancedIndex, x, nkey)
    perm = _torch_layout(nkey, x.ndim)
    return r if perm is None else r.permute(perm)


def _torch_layout(nkey, ndim):
    """The permutation from numpy's to PyTorch's result layout, or None when they agree.

    numpy counts integers as advanced indices: ``x[0, :, idx]`` puts the index dimensions
    first because the advanced indices 0 and idx are not adjacent. PyTorch selects integers
    first, so idx stays in place. Only keys mixing integers and index arrays can differ.
    """
    is_int = [isinstance(k, int) for k in nkey]
    is_arr = [not (k is None or k is Ellipsis or isinstance(k, (int, slice))) for k in nkey]
    if not any(is_int) or not any(is_arr):
        return None
    consumed = sum(1 if (i or isinstance(k, slice)) else (k.ndim if a and k.dtype == np.bool_ else (1 if a else 0))
                   for k, i, a in zip(nkey, is_int, is_arr))
    basic = []  # output dims of the basic entries, in order, and each entry's count of them
    counts = []
    for k, i, a in zip(nkey, is_int, is_arr):
        n = ndim - consumed if k is Ellipsis else (0 if (i or a) else 1)
        counts.append(n)
        basic += [len(basic) + j for j in range(n)]
    if not any(k is Ellipsis for k in nkey):  # dims after the last entry are basic dims too
        basic += [len(basic) + j for j in range(ndim - consumed)]
    nb = len(np.broadcast_shapes(*[np.shape(k) if k.dtype != np.bool_ else (int(k.sum()),)
                                   for k, a in zip(nkey, is_arr) if a]))

    def layout(adv):  # adv: which entries count as advanced
        pos = [j for j, f in enumerate(adv) if f]
        adjacent = all(adv[j] or counts[j] == 0 for j in range(pos[0], pos[-1] + 1)) and \
            all(adv[j] for j in range(pos[0], pos[-1] + 1) if nkey[j] is None or nkey[j] is Ellipsis)
        at = sum(counts[:pos[0]]) if adjacent else 0
        return basic[:at] + [("B", j) for j in range(nb)] + basic[at:]

    np_layout = layout([i or a for i, a in zip(is_int, is_arr)])
    torch_layout = layout(is_arr)
    if np_layout == torch_layout:
        return None
    return tuple(np_layout.index(lbl) for lbl in torch_layout)


# setitem ---------------------------------------------------------------------------------------
class IndexPut(Function):
    """x[key] = value, in place, differentiable w.r.t. both x and value."""

    @staticmethod
    def forward(ctx, x, value, key, accumulate):
        ctx.key = key
        ctx.accumulate = accumulate
        be = D.backend_of(x)
        v = value._data if isinstance(value, Tensor) else value
        if isinstance(value, Tensor) and value._dtype is not x._dtype:
            v = be.astype(v, x._dtype.np)
        if accumulate:
            be.index_put_(x._data, key, v, True)
        else:
            be.setitem(x._data, key, v)
        x._vc[0] += 1
        ctx.mark_dirty(x)
        ctx.value_shape = value._data.shape if isinstance(value, Tensor) else None
        return x

    @staticmethod
    def backward(ctx, g):
        from .shape import Slice

        nx, nv = ctx.needs_input_grad[:2]
        gx = gv = None
        if nx:
            if ctx.accumulate:
                gx = g
            else:
                gx = call(IndexPut, g.clone(), 0.0, ctx.key, False)
        if nv:
            advanced = any(not (k is None or k is Ellipsis or isinstance(k, (int, slice))) for k in ctx.key)
            gv = call(AdvancedIndex if advanced else Slice, g, ctx.key)
            gv = _sum_to(gv, ctx.value_shape)
        return gx, gv, None, None


def _sum_to(g, shape):
    from ..autograd.engine import sum_to_shape

    if shape is None or g._data.shape == tuple(shape):
        return g
    # a value broadcast into the indexed region: reduce leading and size-1 dims
    while g.ndim > len(shape) and g._data.shape[0] == 1 and g.ndim - 1 >= len(shape):
        g = g.squeeze(0)
    return sum_to_shape(g, tuple(shape))


def setitem(x: Tensor, key, value) -> None:
    from ..autograd.grad_mode import STATE

    if not isinstance(value, Tensor):
        if isinstance(value, (list, tuple, np.ndarray)):
            from .creation import tensor

            value = tensor(value, dtype=x._dtype, device=x._device)
        elif not isinstance(value, (numbers.Number, np.generic)):
            raise TypeError(f"can't assign a {type(value).__name__} to a {x.type()}")
    elif value._device != x._device:
        if value.ndim == 0 and value._device.type == "cpu":
            value = value.item()
        else:
            raise RuntimeError(
                f"setitem: Expected all tensors to be on the same device, but found at least two "
                f"devices, {x._device} and {value._device}!"
            )
    nkey, advanced = _normalize_key(x, key)
    perm = _torch_layout(nkey, x.ndim) if advanced else None
    if perm is not None and isinstance(value, Tensor) and value.ndim:
        # value is given in PyTorch's layout of the indexed region: move it to numpy's
        target = D.backend_of(x).getitem_advanced(x._data, nkey).shape
        torch_shape = tuple(target[p] for p in perm)
        inv = [0] * len(perm)
        for i, p in enumerate(perm):
            inv[p] = i
        value = value.expand(D._broadcast_for("setitem", torch_shape, value._data.shape)).permute(inv)
    if STATE.enabled and (x._rg or (isinstance(value, Tensor) and value._rg)):
        check_inplace(x, "setitem")
        if isinstance(value, Tensor) and value._data.shape:
            _check_assign_shape(x, nkey, value)
        if x._base is not None and (x._base._rg or x._rg):
            from ._common import commit_inplace

            r = x.clone()  # a write through a view: the base's history is rebased
            IndexPut.apply(r, value, nkey, False)
            commit_inplace(x, r)
            return
        IndexPut.apply(x, value, nkey, False)
        return
    be = D.backend_of(x)
    v = value._data if isinstance(value, Tensor) else value
    try:
        be.setitem(x._data, nkey, v)
    except ValueError as e:
        raise RuntimeError(f"setitem: {e}") from None
    x._vc[0] += 1


def _check_assign_shape(x, nkey, value):
    be = D.backend_of(x)
    target = be.getitem_advanced(x._data, nkey).shape
    D.broadcast_shapes(target, value._data.shape)


# index_select / gather / scatter ---------------------------------------------------------------
def _check_index(op, idx, want_ndim=None):
    if not isinstance(idx, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(idx).__name__}")
    if idx._dtype is not dt.int64 and idx._dtype is not dt.int32:
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")
    return idx if idx._dtype is dt.int64 else idx.long()


# PyTorch: gather/scatter/index_add raise RuntimeError, the others IndexError; only take and
# index_fill accept negative indices
_BOUNDS_ERROR = {"gather": RuntimeError, "scatter": RuntimeError, "scatter_add": RuntimeError,
                 "scatter_reduce": RuntimeError, "index_add": RuntimeError}
_NEGATIVE_OK = frozenset(("take", "index_fill"))


def _bounds(op, idx, n, dim):
    if idx.numel():
        host = idx.detach().cpu().numpy() if idx._device.type != "cpu" else idx._data
        lo, hi = int(host.min()), int(host.max())
        low = -n if op in _NEGATIVE_OK else 0
        if lo < low or hi >= n:
            bad = hi if hi >= n else lo
            raise _BOUNDS_ERROR.get(op, IndexError)(
                f"{op}(): index {bad} is out of bounds for dimension {dim} with size {n}")


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, axis, idx):
        ctx.axis, ctx.n = axis, x._data.shape[axis] if x.ndim else 1
        ctx.save_for_backward(idx)
        data = D.backend_of(x).index_select((x if x.ndim else x.reshape(1))._data, axis, idx.reshape(-1)._data)
        return make_tensor(data if x.ndim else data.reshape(()), x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        from .creation import zeros

        (idx,) = ctx.saved_tensors
        shape = list(g._data.shape)
        if shape:
            shape[ctx.axis] = ctx.n
        return index_add(zeros(tuple(shape), dtype=g._dtype, device=g._device), ctx.axis, idx.reshape(-1), g), None, None


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    index = _check_index("index_select", index)
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    D.check_same_device("index_select", input, index)
    axis = wrap_dim(dim, input.ndim) if input.ndim else 0
    _bounds("index_select", index, input._data.shape[axis] if input.ndim else 1, axis)
    return call(IndexSelect, input, axis, index)


def _check_gather_shapes(op, x, axis, idx, src=None):
    if idx.ndim != x.ndim and not (x.ndim == 0 and idx.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {'self' if src is not None else 'input'} tensor")
    for d in range(idx.ndim):
        if d != axis and idx._data.shape[d] > x._data.shape[d]:
            raise RuntimeError(
                f"Size does not match at dimension {d} expected index {list(idx.shape)} to be smaller "
                f"than self {list(x.shape)} apart from dimension {axis}"
            )
        if src is not None and isinstance(src, Tensor) and idx._data.shape[d] > src._data.shape[d]:
            raise RuntimeError(
                f"Expected index {list(idx.shape)} to be smaller than self {list(x.shape)} apart from "
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
            gx = scatter(g, ctx.axis, idx, 0.0) if nx else None
        else:
            raise NotImplementedError(f"scatter backward with reduce={ctx.reduce!r} is not implemented")
        gsrc = gather(g, ctx.axis, idx) if nsrc else None
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


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    axis, index = _scatter_checked("scatter_reduce", input, dim, index, src, reduce)
    if reduce == "sum":
        base = input if include_self else scatter(input, axis, index, 0.0)
        return scatter_add(base, axis, index, src)
    if reduce == "mean":
        from .creation import ones_like

        total = scatter_reduce(input, axis, index, src, "sum", include_self=include_self)
        cnt = scatter_add(ones_like(input) if include_self else scatter(ones_like(input) * 0, axis, index, 0.0),
                          axis, index, ones_like(src))
        cnt = cnt.clamp(min=1)
        r = total / cnt
        return r if input._dtype.category >= 2 else r.floor().to(input._dtype)
    base = input if include_self else scatter(input, axis, index, {"prod": 1.0, "amax": -np.inf, "amin": np.inf}[reduce])
    if input._rg or src._rg:
        raise NotImplementedError(f"scatter_reduce with reduce={reduce!r} is not differentiable in deepforge yet")
    be = D.backend_of(base)
    out = be.clone(base._data)
    be.scatter_(out, axis, index._data, src._data, reduce)
    return make_tensor(out, input._dtype, input._device)


def _scatter_into_zeros(g, axis, idx, shape):
    from .creation import zeros

    return scatter(zeros(shape, dtype=g._dtype, device=g._device), axis, idx, g)


def _scatter_add_into_zeros(g, axis, idx, shape):
    from .creation import zeros

    return scatter_add(zeros(shape, dtype=g._dtype, device=g._device), axis, idx, g)


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
        gsrc = index_select(g, ctx.axis, idx)
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
            f"index_add_(): Number of indices ({index.numel()}) should be equal to source.size(dim) ({source._data.shape[axis]})"
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

    mask = index_add(zeros(input._data.shape[axis], device=input._device), 0,
                     index, zeros(index.numel(), device=input._device) + 1) > 0
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
            f"{_np_name(mask._dtype) if isinstance(mask, Tensor) else type(mask).__name__}"
        )
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(
            f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s)."
        )
    D.check_same_device("masked_fill", input, mask)
    D.broadcast_shapes(input._data.shape, mask._data.shape)
    return call(MaskedFill, input, mask, value)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    if mask._dtype is not dt.bool_:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {mask._dtype.name}")
    x, m = input, mask
    if x._data.shape != m._data.shape:
        from .shape import broadcast_tensors

        x, m = broadcast_tensors(x, m)
    return getitem(x, m)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    from .shape import broadcast_tensors

    x, m = broadcast_tensors(input, mask)
    n = int(m.sum().item())
    if source.numel() < n:
        raise RuntimeError("masked_scatter: Number of elements of source < number of ones in mask")
    vals = source.reshape(-1)[:n]
    out = x.clone() if not x._rg else x * 1
    setitem(out, m, vals)
    return out


def nonzero(input: Tensor, *, as_tuple: bool = False):
    data = D.backend_of(input).nonzero(input._data if input.ndim else input._data.reshape(1))
    r = make_tensor(data, dt.int64, input._device)
    if as_tuple:
        if input.ndim == 0:
            return (r.reshape(-1),)
        return tuple(r[:, i] for i in range(input.ndim))
    return r if input.ndim else r[:, :0]


def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)


def take(input: Tensor, index: Tensor) -> Tensor:
    flat = input.reshape(-1)
    n = flat._data.shape[0]
    _bounds("take", index, n, 0)
    return getitem(flat, index)


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


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    out = input.clone()
    return index_put_(out, indices, values, accumulate)


def index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    key = tuple(indices)
    if not accumulate:
        setitem(input, key, values)
        return input
    nkey, _ = _normalize_key(input, key)
    check_inplace(input, "index_put_")
    if not isinstance(values, Tensor):
        from .creation import tensor

        values = tensor(values, dtype=input._dtype, device=input._device)
    return call(IndexPut, input, values, nkey, True) if (input._rg or values._rg) else \
        IndexPut.forward(__import__("deepforge.ops._common", fromlist=["x"]).NULL_CTX, input, values, nkey, True)


# in-place variants: computed out of place when autograd is involved, else written directly -----
def _inplace(name, fn):
    def op(input, *args, **kwargs):
        from ._common import commit_inplace, needs_grad

        check_inplace(input, name)
        r = fn(input, *args, **kwargs)
        if not needs_grad(r) and input._base is None:
            D.backend_of(input).copy_(input._data, r._data)
            input._vc[0] += 1
            return input
        return commit_inplace(input, r)

    op.__name__ = name
    return op


scatter_ = _inplace("scatter_", scatter)
scatter_add_ = _inplace("scatter_add_", scatter_add)
index_add_ = _inplace("index_add_", index_add)
index_copy_ = _inplace("index_copy_", index_copy)
index_fill_ = _inplace("index_fill_", index_fill)
masked_fill_ = _inplace("masked_fill_", masked_fill)
masked_scatter_ = _inplace("masked_scatter_", masked_scatter)
