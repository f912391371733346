"""In-place Tensor methods (``add_``, ``mul_``, ``copy_``, ``fill_``, ...).

Without autograd they write straight into the tensor's storage (what optimizers use);
with autograd they compute out of place and move the tensor's history to the result.
"""

from __future__ import annotations

from .. import _dtype as dt
from ..autograd.grad_mode import STATE
from ..tensor import Tensor
from . import _dispatch as D
from . import binary as B
from ._common import check_inplace, commit_inplace

__all__ = [
    "add_", "sub_", "mul_", "div_", "pow_", "copy_", "zero_", "fill_", "lerp_", "addcmul_",
    "addcdiv_", "clamp_", "clip_", "remainder_", "fmod_", "floor_divide_", "maximum_", "minimum_",
    "atan2_", "hypot_", "where_", "masked_fill_diag_", "neg_inplace", "logical_and_",
    "logical_or_", "logical_xor_", "bitwise_and_", "bitwise_or_", "bitwise_xor_", "true_divide_",
    "subtract_", "multiply_", "divide_", "clamp_min_", "clamp_max_", "sign_",
]


def _needs(self, *others) -> bool:
    if not STATE.enabled:
        return False
    if self._rg:
        return True
    for o in others:
        if isinstance(o, Tensor) and o._rg:
            return True
    return False


def _check_cast(self, other, op):
    rd = D.result_type_of(self, other)
    if rd.category > self._dtype.category:
        raise RuntimeError(
            f"result type {_pretty(rd)} can't be cast to the desired output type "
            f"{_pretty(self._dtype)}"
        )
    return rd


_pretty = dt.scalar_type_name


def _binary_inplace(name, prim, fn):
    def op_(self, other, *, alpha=1, **kwargs):
        check_inplace(self, name)
        if alpha != 1:
            other = B.mul(other, alpha)
        if _needs(self, other) or kwargs:
            return commit_inplace(self, lambda: fn(self, other, **kwargs))
        _check_cast(self, other, name)
        if isinstance(other, Tensor):
            if other._device is not self._device:
                if other.ndim == 0 and other._device.type == "cpu":
                    other = other.item()
                else:
                    raise RuntimeError(
                        f"{name}: Expected all tensors to be on the same device, but found at "
                        "least "
                        f"two devices, {self._device} and {other._device}!"
                    )
            else:
                shape = D.broadcast_shapes(self._data.shape, other._data.shape)
                if shape != self._data.shape:
                    raise RuntimeError(
                        f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                        f"{list(shape)}"
                    )
        D.binary(prim, self, other, dtype=self._dtype, out=self)
        return self

    op_.__name__ = name
    return op_


add_ = _binary_inplace("add_", "add", B.add)
sub_ = subtract_ = _binary_inplace("sub_", "sub", B.sub)
mul_ = multiply_ = _binary_inplace("mul_", "mul", B.mul)
remainder_ = _binary_inplace("remainder_", "remainder", B.remainder)
fmod_ = _binary_inplace("fmod_", "fmod", B.fmod)
floor_divide_ = _binary_inplace("floor_divide_", "floordiv", B.floor_divide)
maximum_ = _binary_inplace("maximum_", "maximum", B.maximum)
minimum_ = _binary_inplace("minimum_", "minimum", B.minimum)
atan2_ = _binary_inplace("atan2_", "atan2", B.atan2)
hypot_ = _binary_inplace("hypot_", "hypot", B.hypot)
pow_ = _binary_inplace("pow_", "pow", B.pow)


def div_(self, other, *, rounding_mode=None):
    check_inplace(self, "div_")
    if _needs(self, other) or rounding_mode is not None:
        return commit_inplace(
            self, lambda: B.div(self, other, rounding_mode=rounding_mode).to(self._dtype)
        )
    if self._dtype.category < 2:
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type {_pretty(self._dtype)}"
        )
    D.binary("div", self, other, dtype=self._dtype, out=self)
    return self


true_divide_ = divide_ = div_


def _logical_inplace(name, fn):
    def op_(self, other):
        r = fn(self, other)
        D.backend_of(self).copy_(self._data, r._data)
        self._vc[0] += 1
        return self

    op_.__name__ = name
    return op_


logical_and_ = _logical_inplace("logical_and_", B.logical_and)
logical_or_ = _logical_inplace("logical_or_", B.logical_or)
logical_xor_ = _logical_inplace("logical_xor_", B.logical_xor)
bitwise_and_ = _logical_inplace("bitwise_and_", B.bitwise_and)
bitwise_or_ = _logical_inplace("bitwise_or_", B.bitwise_or)
bitwise_xor_ = _logical_inplace("bitwise_xor_", B.bitwise_xor)


def copy_(self, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` into ``self`` (broadcasting, casting, across devices)."""
    check_inplace(self, "copy_")
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'other' must be Tensor, not {type(src).__name__}")
    shape = D.broadcast_shapes(self._data.shape, src._data.shape)
    if shape != self._data.shape:
        raise RuntimeError(
            f"output with shape {list(self.shape)} doesn't match the broadcast shape {list(shape)}"
        )
    if _needs(self, src):
        r = src.to(self._device, self._dtype).expand(self._data.shape)
        if not r._rg:
            r = r + self * 0  # self's old history now gets a zero gradient
        return commit_inplace(self, r)
    be = D.backend_of(self)
    if src._device != self._device:
        host = D.backend_of(src).to_numpy(src._data)
        if self._device.type == "cpu":
            be.copy_(self._data, host)
        else:
            import numpy as np

            tmp = be.from_numpy(
                np.ascontiguousarray(host.astype(self._dtype.np, copy=False)).reshape(host.shape)
            )
            be.copy_(self._data, tmp)
    else:
        be.copy_(self._data, src._data)
    self._vc[0] += 1
    return self


def fill_(self, value) -> Tensor:
    check_inplace(self, "fill_")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with {value.ndim} "
                "dimensions."
            )
        if _needs(self, value):
            return commit_inplace(self, self * 0 + value)
        if value._device is self._device and value._device.type != "cpu":
            return self.copy_(value)  # on the device: no wait to read the value (as PyTorch)
        value = value.item()
    if _needs(self):
        return commit_inplace(self, self * 0 + value)
    D.backend_of(self).copy_(self._data, value)
    self._vc[0] += 1
    return self


def zero_(self) -> Tensor:
    return fill_(self, 0)


def lerp_(self, end, weight) -> Tensor:
    check_inplace(self, "lerp_")
    if _needs(self, end, weight):
        return commit_inplace(self, lambda: B.lerp(self, end, weight))
    be = D.backend_of(self)
    w = weight._data if isinstance(weight, Tensor) else weight
    be.lerp(
        self._data, end._data if isinstance(end, Tensor) else end, w, self._dtype.np, out=self._data
    )
    self._vc[0] += 1
    return self


def addcmul_(self, tensor1, tensor2, *, value=1) -> Tensor:
    check_inplace(self, "addcmul_")
    if _needs(self, tensor1, tensor2):
        return commit_inplace(self, lambda: B.addcmul(self, tensor1, tensor2, value=value))
    prod = D.binary("mul", tensor1, tensor2)
    if value != 1:
        D.binary("mul", prod, value, out=prod)
    D.binary("add", self, prod, dtype=self._dtype, out=self)
    return self


def addcdiv_(self, tensor1, tensor2, *, value=1) -> Tensor:
    check_inplace(self, "addcdiv_")
    if _needs(self, tensor1, tensor2):
        return commit_inplace(self, lambda: B.addcdiv(self, tensor1, tensor2, value=value))
    q = D.binary("div", tensor1, tensor2, dtype=D.float_result(D.result_type_of(tensor1, tensor2)))
    if value != 1:
        D.binary("mul", q, value, out=q)
    D.binary("add", self, q, dtype=self._dtype, out=self)
    return self


def clamp_(self, min=None, max=None) -> Tensor:
    return B.clamp_(self, min, max)


clip_ = clamp_


def clamp_min_(self, min) -> Tensor:
    return B.clamp_(self, min, None)


def clamp_max_(self, max) -> Tensor:
    return B.clamp_(self, None, max)


def where_(self, condition, other):
    return commit_inplace(self, lambda: B.where(condition, self, other))


def masked_fill_diag_(self, value):  # pragma: no cover - helper kept for fill_diagonal_
    raise NotImplementedError


def neg_inplace(self):
    from .unary import neg_

    return neg_(self)


def sign_(self):
    from .unary import sign_ as s

    return s(self)


_ = dt


# the remaining in-place variants PyTorch has: value-changing ones computed out of place and
# committed (so autograd sees them), metadata-changing ones re-pointing the tensor at a view
def _value_inplace(name, fn):
    def op_(self, *args, **kwargs):
        check_inplace(self, name)
        return commit_inplace(
            self, lambda: _zero_grads_to(fn(self, *args, **kwargs).to(self._dtype), (self, *args))
        )

    op_.__name__ = op_.__qualname__ = name
    return op_


def _zero_grads_to(r, args):
    """A non-differentiable result (``x.gt_(y)``) still sends zero gradients to its inputs,
    as in PyTorch."""
    if not r._rg:
        for a in args:
            if isinstance(a, Tensor) and a._rg and STATE.enabled:
                r = r + a * 0
    return r


def _meta_inplace(name, fn):
    def op_(self, *args, **kwargs):
        check_inplace(self, name)
        v = fn(self, *args, **kwargs)
        self._data = v._data
        if v.grad_fn is not None:
            self.grad_fn, self._output_nr = v.grad_fn, v._output_nr
        return self

    op_.__name__ = op_.__qualname__ = name
    return op_


def _install_variants():
    from . import linalg as LA
    from . import reduction as R
    from . import shape as S
    from . import unary as U
    from .indexing import scatter_reduce

    table = {}
    for n in ("eq", "ne", "lt", "le", "gt", "ge"):
        table[n + "_"] = _value_inplace(n + "_", getattr(B, n))
    table.update(
        bitwise_not_=_value_inplace("bitwise_not_", U.bitwise_not),
        cumsum_=_value_inplace("cumsum_", R.cumsum),
        cumprod_=_value_inplace("cumprod_", R.cumprod),
        tril_=_value_inplace("tril_", LA.tril),
        triu_=_value_inplace("triu_", LA.triu),
        scatter_reduce_=_value_inplace("scatter_reduce_", scatter_reduce),
        addmm_=_value_inplace("addmm_", LA.addmm),
        baddbmm_=_value_inplace("baddbmm_", LA.baddbmm),
        squeeze_=_meta_inplace("squeeze_", S.squeeze),
        unsqueeze_=_meta_inplace("unsqueeze_", S.unsqueeze),
        transpose_=_meta_inplace("transpose_", S.transpose),
        swapaxes_=_meta_inplace("swapaxes_", S.transpose),
        swapdims_=_meta_inplace("swapdims_", S.transpose),
        t_=_meta_inplace("t_", S.t),
    )
    return table


_VARIANTS = _install_variants()
globals().update(_VARIANTS)
__all__ += list(_VARIANTS)
