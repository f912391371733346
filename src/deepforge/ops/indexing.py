"""Indexing: ``x[key]``, ``x[key] = v`` and the gather/scatter/index_* family."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, check_inplace

__all__ = [
    "getitem", "setitem", "index_put", "scatter_", "scatter_add_", "index_add_", "index_copy_",
    "index_fill_", "masked_fill_", "index_put_", "masked_scatter_",
]


def _np_name(d) -> str:
    """PyTorch's lower-case scalar type names in messages ("float", "long")."""
    return {
        "float32": "float",
        "float64": "double",
        "float16": "half",
        "int64": "long",
        "int32": "int",
        "int16": "short",
        "int8": "signed char",
        "uint8": "unsigned char",
    }.get(d.name, d.name)


# key normalisation -----------------------------------------------------------------------------
def _index_array(x: Tensor, idx, be):
    """An index operand as the indexed tensor's backend array (int64 or bool)."""
    if isinstance(idx, Tensor):
        if idx._dtype.category > 1:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        if idx._device != x._device:
            if idx._device.type != "cpu":
                raise RuntimeError(
                    "indices should be either on cpu or on the same device as the indexed "
                    f"tensor ({x._device})"
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
            "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are "
            "valid indices"
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
    consumed = sum(1 if not (k is None or k is Ellipsis or isinstance(k, bool)) else 0 for k in key)
    consumed = sum(
        (k.ndim if isinstance(k, Tensor) and k._dtype in (dt.bool_, dt.uint8) else 1)
        if not (k is None or k is Ellipsis or isinstance(k, bool))
        else 0
        for k in key
    )
    if consumed > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
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
        elif isinstance(k, numbers.Integral) or (
            isinstance(k, Tensor) and k.ndim == 0 and k._dtype.category == 1
        ):
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
                            f"The shape of the mask {list(arr.shape)} at index {j} does not "
                            "match the "
                            f"shape of the indexed tensor {list(shape)} at index {dim + j}"
                        )
                dim += arr.ndim
            else:
                n = shape[dim]
                message = f"index {{index}} is out of bounds for dimension {dim} with size {n}"
                # An integer index tensor on the device is checked without waiting for it
                # (index_checks.py): the kernels skip a bad index meanwhile (one array), or
                # the backend folds several with a floor remainder, in bounds whatever they
                # hold. Host data (lists, CPU tensors) is checked here: no wait either.
                if (x._device.type != "cpu" and isinstance(k, Tensor) and k._device == x._device
                        and n > 0):  # fmt: skip
                    be.check_index(arr, -n, n, IndexError, message)
                elif arr.size:
                    host = _host_index(k, arr, be)
                    lo, hi = int(host.min()), int(host.max())
                    if lo < -n or hi >= n:
                        raise IndexError(message.format(index=hi if hi >= n else lo))
                dim += 1
            out.append(arr)
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                "are "
                f"valid indices (got {type(k).__name__})"
            )
    return tuple(out), advanced


def _host_index(key, arr, be) -> np.ndarray:
    """Integer index ``arr`` (made from ``key``) on the host: ``arr`` itself for a CPU tensor,
    else ``key`` when the user gave it on the host (no download), else ``arr`` downloaded."""
    if isinstance(arr, np.ndarray):
        return arr
    if not isinstance(key, Tensor):
        return np.asarray(key)
    return key._data if key._device.type == "cpu" else be.to_numpy(arr)


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

    if x.ndim == 0 and not (
        key is None
        or key is Ellipsis
        or (isinstance(key, tuple) and all(k is None or k is Ellipsis for k in key))
        or isinstance(key, (bool, Tensor, list))
    ):
        raise IndexError(
            "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
            "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number"
        )
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
    consumed = sum(
        1
        if (i or isinstance(k, slice))
        else (k.ndim if a and k.dtype == np.bool_ else (1 if a else 0))
        for k, i, a in zip(nkey, is_int, is_arr)
    )
    basic = []  # output dims of the basic entries, in order, and each entry's count of them
    counts = []
    for k, i, a in zip(nkey, is_int, is_arr):
        n = ndim - consumed if k is Ellipsis else (0 if (i or a) else 1)
        counts.append(n)
        basic += [len(basic) + j for j in range(n)]
    if not any(k is Ellipsis for k in nkey):  # dims after the last entry are basic dims too
        basic += [len(basic) + j for j in range(ndim - consumed)]
    nb = len(
        np.broadcast_shapes(
            *[
                np.shape(k) if k.dtype != np.bool_ else (int(k.sum()),)
                for k, a in zip(nkey, is_arr)
                if a
            ]
        )
    )

    def layout(adv):  # adv: which entries count as advanced
        pos = [j for j, f in enumerate(adv) if f]
        adjacent = all(adv[j] or counts[j] == 0 for j in range(pos[0], pos[-1] + 1)) and all(
            adv[j] for j in range(pos[0], pos[-1] + 1) if nkey[j] is None or nkey[j] is Ellipsis
        )
        at = sum(counts[: pos[0]]) if adjacent else 0
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
            advanced = any(
                not (k is None or k is Ellipsis or isinstance(k, (int, slice))) for k in ctx.key
            )
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
    mask = key[0] if isinstance(key, tuple) and len(key) == 1 else key
    if (isinstance(mask, Tensor) and mask._dtype is dt.bool_ and mask._device == x._device
            and x._device.type != "cpu" and tuple(mask.shape) == tuple(x.shape[:mask.ndim])
            and mask.ndim and (not isinstance(value, Tensor) or value.ndim == 0)):  # fmt: skip
        # x[mask] = scalar is a masked fill, as in PyTorch: no nonzero, so no wait for the
        # device to learn how many elements the mask selects
        m = mask.reshape(tuple(mask.shape) + (1,) * (x.ndim - mask.ndim))
        masked_fill_(x, m, value)
        return
    nkey, advanced = _normalize_key(x, key)
    perm = _torch_layout(nkey, x.ndim) if advanced else None
    if perm is not None and isinstance(value, Tensor) and value.ndim:
        # value is given in PyTorch's layout of the indexed region: move it to numpy's
        target = D.backend_of(x).getitem_advanced(x._data, nkey).shape
        torch_shape = tuple(target[p] for p in perm)
        inv = [0] * len(perm)
        for i, p in enumerate(perm):
            inv[p] = i
        value = value.expand(D._broadcast_for("setitem", torch_shape, value._data.shape)).permute(
            inv
        )
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
    return (
        call(IndexPut, input, values, nkey, True)
        if (input._rg or values._rg)
        else IndexPut.forward(
            __import__("deepforge.ops._common", fromlist=["x"]).NULL_CTX, input, values, nkey, True
        )
    )


# the index-based ops live in selection.py; importable from here too
from .selection import (  # noqa: E402,F401
    Gather,
    IndexAdd,
    IndexSelect,
    MaskedFill,
    Scatter,
    _bounds,
    _check_index,
    _scatter_add_into_zeros,
    _scatter_into_zeros,
    argwhere,
    gather,
    index_add,
    index_copy,
    index_fill,
    index_select,
    masked_fill,
    masked_scatter,
    masked_select,
    nonzero,
    scatter,
    scatter_add,
    scatter_reduce,
    take,
    take_along_dim,
)


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
