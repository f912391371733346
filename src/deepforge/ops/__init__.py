"""Every op, written once: public functions here, attached to Tensor as methods below."""

from __future__ import annotations

from ..tensor import Tensor
from . import (
    binary,
    compare,
    contraction,
    conversion,
    creation,
    indexing,
    inplace,
    join,
    linalg,
    random,
    rearrange,
    reduction,
    scan,
    selection,
    shape,
    softmax_family,
    sorting,
    ternary,
    unary,
)
from .binary import *  # noqa: F401,F403
from .compare import *  # noqa: F401,F403
from .contraction import *  # noqa: F401,F403
from .conversion import *  # noqa: F401,F403
from .creation import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .inplace import *  # noqa: F401,F403
from .join import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .random import *  # noqa: F401,F403
from .rearrange import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403
from .scan import *  # noqa: F401,F403
from .selection import *  # noqa: F401,F403
from .shape import *  # noqa: F401,F403
from .softmax_family import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .ternary import *  # noqa: F401,F403
from .unary import *  # noqa: F401,F403

_MODULES = (
    unary,
    binary,
    ternary,
    compare,
    reduction,
    scan,
    sorting,
    softmax_family,
    shape,
    rearrange,
    join,
    indexing,
    selection,
    linalg,
    contraction,
    inplace,
    random,
)
# the public op names (``from deepforge.ops import *`` must not leak the submodules: the
# names ``linalg`` and ``random`` belong to ``deepforge.linalg`` / ``deepforge.random``)
__all__ = sorted({name for mod in _MODULES + (creation, conversion) for name in mod.__all__})

# functions whose first argument is the tensor become methods of the same name
_NOT_METHODS = {
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "dstack",
    "column_stack",
    "row_stack",
    "broadcast_tensors",
    "broadcast_shapes",
    "einsum",
    "where",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "default_generator",
    "Generator",
    "rand",
    "randn",
    "randint",
    "randperm",
    "normal",
    "resize_out",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "chain_matmul",
    "block_diag",
    "getitem",
    "setitem",
    "rand_like",
    "randn_like",
    "randint_like",
    "multinomial",
    "poisson",
    "bernoulli",
    "range_",
    "neg_inplace",
    "masked_fill_diag_",
    "isin",
}


def _attach():
    for mod in _MODULES:
        for name in mod.__all__:
            if name in _NOT_METHODS or hasattr(Tensor, name):
                continue
            setattr(Tensor, name, getattr(mod, name))

    T = Tensor
    T.to = conversion.to
    T.clone = conversion.clone
    T.contiguous = conversion.contiguous
    T.where = lambda self, condition, other: binary.where(condition, self, other)
    T.bernoulli = lambda self, p=None, *, generator=None: random.bernoulli(
        self, p, generator=generator
    )
    T.multinomial = random.multinomial
    T.__getitem__ = indexing.getitem
    T.__setitem__ = indexing.setitem

    def cpu(self, memory_format=None):
        return conversion.to(self, "cpu")

    T.cpu = cpu
    T.cuda = _no_cuda
    T.float = lambda self, memory_format=None: conversion.to(self, _dt.float32)
    T.double = lambda self, memory_format=None: conversion.to(self, _dt.float64)
    T.half = lambda self, memory_format=None: conversion.to(self, _dt.float16)
    T.long = lambda self, memory_format=None: conversion.to(self, _dt.int64)
    T.int = lambda self, memory_format=None: conversion.to(self, _dt.int32)
    T.short = lambda self, memory_format=None: conversion.to(self, _dt.int16)
    T.char = lambda self, memory_format=None: conversion.to(self, _dt.int8)
    T.byte = lambda self, memory_format=None: conversion.to(self, _dt.uint8)
    T.bool = lambda self, memory_format=None: conversion.to(self, _dt.bool_)
    T.type_as = lambda self, other: conversion.to(self, other._dtype)
    T.new_tensor = lambda self, data, dtype=None, device=None, requires_grad=False: creation.tensor(
        data, dtype=dtype or self._dtype, device=device or self._device, requires_grad=requires_grad
    )
    T.new_zeros = lambda self, *size, dtype=None, device=None, requires_grad=False: creation.zeros(
        *size,
        dtype=dtype or self._dtype,
        device=device or self._device,
        requires_grad=requires_grad,
    )
    T.new_ones = lambda self, *size, dtype=None, device=None, requires_grad=False: creation.ones(
        *size,
        dtype=dtype or self._dtype,
        device=device or self._device,
        requires_grad=requires_grad,
    )
    T.new_empty = lambda self, *size, dtype=None, device=None, requires_grad=False: creation.empty(
        *size,
        dtype=dtype or self._dtype,
        device=device or self._device,
        requires_grad=requires_grad,
    )
    T.new_full = lambda self, size, fill_value, dtype=None, device=None, requires_grad=False: (
        creation.full(
            size,
            fill_value,
            dtype=dtype or self._dtype,
            device=device or self._device,
            requires_grad=requires_grad,
        )
    )
    T.softmax = lambda self, dim=None, dtype=None: reduction.softmax(self, dim, dtype)
    T.log_softmax = lambda self, dim=None, dtype=None: reduction.log_softmax(self, dim, dtype)
    T.relu = unary.relu
    T.relu_ = unary.relu_
    T.sigmoid = unary.sigmoid

    T.T = property(lambda self: self.permute(*reversed(range(self.ndim))))
    T.mT = property(lambda self: shape.transpose(self, -2, -1))
    T.H = T.T
    T.mH = T.mT
    T.real = property(lambda self: self)

    # Python operators
    T.__add__ = binary.add
    T.__radd__ = lambda self, other: binary.add(other, self)
    T.__iadd__ = inplace.add_
    T.__sub__ = binary.sub
    T.__rsub__ = lambda self, other: binary.sub(other, self)
    T.__isub__ = inplace.sub_
    T.__mul__ = binary.mul
    T.__rmul__ = lambda self, other: binary.mul(other, self)
    T.__imul__ = inplace.mul_
    T.__truediv__ = binary.div
    T.__rtruediv__ = lambda self, other: binary.div(other, self)
    T.__itruediv__ = inplace.div_
    T.__floordiv__ = binary.floor_divide
    T.__rfloordiv__ = lambda self, other: binary.floor_divide(other, self)
    T.__ifloordiv__ = inplace.floor_divide_
    T.__mod__ = binary.remainder
    T.__rmod__ = lambda self, other: binary.remainder(other, self)
    T.__imod__ = inplace.remainder_
    T.__pow__ = binary.pow
    T.__rpow__ = lambda self, other: binary.pow(other, self)
    T.__ipow__ = inplace.pow_
    T.__matmul__ = linalg.matmul
    T.__rmatmul__ = lambda self, other: linalg.matmul(other, self)
    T.__neg__ = unary.neg
    T.__pos__ = lambda self: self
    T.__abs__ = unary.abs
    T.__invert__ = lambda self: (
        unary.logical_not(self) if self._dtype is _dt.bool_ else unary.bitwise_not(self)
    )
    T.__and__ = lambda self, other: (
        binary.logical_and(self, other)
        if _both_bool(self, other)
        else binary.bitwise_and(self, other)
    )
    T.__rand__ = T.__and__
    T.__or__ = lambda self, other: (
        binary.logical_or(self, other)
        if _both_bool(self, other)
        else binary.bitwise_or(self, other)
    )
    T.__ror__ = T.__or__
    T.__xor__ = lambda self, other: (
        binary.logical_xor(self, other)
        if _both_bool(self, other)
        else binary.bitwise_xor(self, other)
    )
    T.__rxor__ = T.__xor__
    T.__iand__ = inplace.bitwise_and_
    T.__ior__ = inplace.bitwise_or_
    T.__ixor__ = inplace.bitwise_xor_
    T.__lshift__ = binary.bitwise_left_shift
    T.__rshift__ = binary.bitwise_right_shift
    T.__eq__ = binary.eq
    T.__ne__ = binary.ne
    T.__lt__ = binary.lt
    T.__le__ = binary.le
    T.__gt__ = binary.gt
    T.__ge__ = binary.ge
    T.__hash__ = lambda self: id(self)


def _both_bool(a, b):
    return (a._dtype is _dt.bool_) and (
        getattr(b, "_dtype", None) is _dt.bool_ or isinstance(b, bool)
    )


def _no_cuda(self, *args, **kwargs):
    raise RuntimeError(
        "deepforge has no CUDA backend: use .to('opencl') for a GPU, or "
        "deepforge.accelerator.current_accelerator() for device-agnostic code"
    )


from .. import _dtype as _dt  # noqa: E402

_attach()
