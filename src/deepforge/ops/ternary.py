"""Ternary elementwise ops: where, clamp/clip, lerp, addcmul, addcdiv (broadcasting)."""

from __future__ import annotations

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor
from . import _dispatch as D
from ._common import call, check_inplace, commit_inplace

__all__ = ["where", "clamp", "clip", "clamp_min", "clamp_max", "lerp", "addcmul", "addcdiv"]


def _is_t(x) -> bool:
    return isinstance(x, Tensor)


_tname = dt.scalar_type_name


# ternary ---------------------------------------------------------------------------------------
class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        if not _is_t(cond):
            raise TypeError("where(): argument 'condition' must be Tensor")
        if cond._dtype is not dt.bool_:
            if cond._dtype is dt.uint8:
                cond = cond.bool()
            else:
                raise RuntimeError(
                    "where expected condition to be a boolean tensor, but got a tensor with "
                    f"dtype {_tname(cond._dtype)}"
                )
        ref = a if _is_t(a) else b if _is_t(b) else cond
        D.check_same_device("where", cond, a, b)
        d = D.result_type_of(a, b) if (_is_t(a) or _is_t(b)) else dt.result_type(a, b)
        ctx.save_for_backward(cond)
        x = a._data if _is_t(a) else D.to_backend_scalar(a, d)
        y = b._data if _is_t(b) else D.to_backend_scalar(b, d)
        shape = D._broadcast_for(
            "where",
            D._broadcast_for("where", cond._data.shape, getattr(x, "shape", ())),
            getattr(y, "shape", ()),
        )
        data = D.backend_of(ref).where(cond._data, x, y, d.np)
        if data.shape != shape:  # pragma: no cover - backend broadcasting guarantee
            raise RuntimeError("where: backend returned a wrong shape")
        return D.wrap(data, d, ref._device)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        _, na, nb = ctx.needs_input_grad
        return None, (where(cond, g, 0.0) if na else None), (where(cond, 0.0, g) if nb else None)


def where(condition, input=None, other=None, *, out=None):
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    r = call(Where, condition, input, other)
    if out is not None:
        from .shape import resize_out

        return resize_out(out, r)
    return r


class Clamp(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        if lo is None and hi is None:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
        D.check_same_device("clamp", x, lo, hi)
        x_d = dt.result_type(x, *[v for v in (lo, hi) if v is not None])
        ctx.save_for_backward(x, lo if _is_t(lo) else None, hi if _is_t(hi) else None)
        ctx.lo = lo if not _is_t(lo) else None
        ctx.hi = hi if not _is_t(hi) else None
        lo_ = lo._data if _is_t(lo) else lo
        hi_ = hi._data if _is_t(hi) else hi
        return D.wrap(D.backend_of(x).clamp(x._data, lo_, hi_, x_d.np), x_d, x._device)

    @staticmethod
    def backward(ctx, g):
        x, lo_t, hi_t = ctx.saved_tensors
        lo = lo_t if lo_t is not None else ctx.lo
        hi = hi_t if hi_t is not None else ctx.hi
        # PyTorch's rule: clamp(x, lo, hi) = min(max(x, lo), hi), so hi wins where lo > hi
        nx, nlo, nhi = ctx.needs_input_grad
        gx = glo = ghi = None
        if nx:
            mask = None
            if lo is not None:
                mask = x >= lo
            if hi is not None:
                m2 = x <= hi
                mask = m2 if mask is None else mask & m2
            gx = where(mask, g, 0.0)
        if nlo:
            glo = where((x < lo) & (lo < hi) if hi is not None else x < lo, g, 0.0)
        if nhi:
            ghi = where((x > hi) | (hi < lo) if lo is not None else x > hi, g, 0.0)
        return gx, glo, ghi


def clamp(input, min=None, max=None, *, out=None):
    r = call(Clamp, input, min, max)
    if out is not None:
        from .shape import resize_out

        return resize_out(out, r)
    return r


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def clamp_(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("clamp_: At least one of 'min' or 'max' must not be None")
    check_inplace(input, "clamp_")
    if input._rg or (min is not None and _is_t(min)) or (max is not None and _is_t(max)):
        return commit_inplace(input, lambda: clamp(input, min, max))
    D.backend_of(input).clamp(input._data, min, max, input._dtype.np, out=input._data)
    input._vc[0] += 1
    return input


def lerp(input, end, weight, *, out=None):
    r = input + weight * (end - input)
    if out is not None:
        from .shape import resize_out

        return resize_out(out, r)
    return r


def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    if isinstance(value, float) and dt.result_type(input, tensor1, tensor2).category < 2:
        value = int(value)  # PyTorch casts value to the (integer) result type
    r = input + value * tensor1 * tensor2 if value != 1 else input + tensor1 * tensor2
    if out is not None:
        from .shape import resize_out

        return resize_out(out, r)
    return r


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    if (
        _is_t(tensor1)
        and _is_t(tensor2)
        and tensor1._dtype.category < 2
        and tensor2._dtype.category < 2
    ):
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future release addcdiv "
            "will perform a true division of tensor1 and tensor2."
        )
    r = input + value * (tensor1 / tensor2) if value != 1 else input + tensor1 / tensor2
    if out is not None:
        from .shape import resize_out

        return resize_out(out, r)
    return r
