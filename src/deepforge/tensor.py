"""The Tensor: (storage, shape, strides, offset, dtype, device) plus autograd fields.

A tensor's ``_data`` is its backend's strided array (a numpy view on the CPU); views share
``_data``'s storage and the version counter ``_vc``. Methods are thin: the ops modules
attach most of them (see ``deepforge/ops/__init__.py``).
"""

from __future__ import annotations

import weakref

import numpy as np

from . import _dtype as dt
from ._device import device as _device_cls
from .autograd.grad_mode import STATE

__all__ = ["Tensor", "Size", "make_tensor"]


class Size(tuple):
    """``torch.Size``: a tuple of ints."""

    def __repr__(self) -> str:
        return f"deepforge.Size([{', '.join(str(s) for s in self)}])"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __reduce__(self):
        return (Size, (tuple(self),))


_new = object.__new__


def make_tensor(data, dtype, device, vc=None, cls=None):
    """Wrap a backend array as a Tensor (the one constructor every op goes through)."""
    t = _new(cls or Tensor)
    t._data = data
    t._dtype = dtype
    t._device = device
    t._vc = vc if vc is not None else [0]
    t._rg = False
    t.grad_fn = None
    t._output_nr = 0
    t._grad = None
    t._accum = None
    t._base = None
    t._view_vc = 0
    t._retains = False
    return t


class Tensor:
    __slots__ = ("_data", "_dtype", "_device", "_vc", "_rg", "grad_fn", "_output_nr", "_grad",
                 "_accum", "_base", "_view_vc", "_retains", "__weakref__", "__dict__")

    __array_priority__ = 1000  # numpy defers binary ops with a Tensor to Tensor's reflected op

    def __new__(cls, *args, **kwargs):
        """Legacy constructor: ``Tensor(2, 3)`` (uninitialised float), ``Tensor([1., 2.])``."""
        from .ops import creation

        device = kwargs.pop("device", None)
        if kwargs:
            raise TypeError(f"Tensor(): unexpected keyword arguments {sorted(kwargs)}")
        if len(args) == 1 and not isinstance(args[0], int):
            src = args[0]
            if isinstance(src, Tensor):
                base = src
            else:
                base = creation.tensor(src, dtype=dt.get_default_dtype(), device=device)
        else:
            shape = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
            base = creation.empty(*shape, dtype=dt.get_default_dtype(), device=device)
        t = make_tensor(base._data, base._dtype, base._device, base._vc, cls)
        return t

    def __init__(self, *args, **kwargs):
        pass

    # -- metadata -------------------------------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self) -> dt.dtype:
        return self._dtype

    @property
    def device(self) -> _device_cls:
        return self._device

    @property
    def ndim(self) -> int:
        return len(self._data.shape)

    def dim(self) -> int:
        return len(self._data.shape)

    ndimension = dim

    def numel(self) -> int:
        n = 1
        for s in self._data.shape:
            n *= s
        return n

    nelement = numel

    def element_size(self) -> int:
        return self._dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self._dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.numel() * self._dtype.itemsize

    def stride(self, dim: int | None = None):
        s = self._backend().strides(self._data)
        if dim is None:
            return s
        return s[_wrap_dim(dim, len(s), "stride")]

    def storage_offset(self) -> int:
        return self._backend().storage_offset(self._data)

    def is_contiguous(self, memory_format=None) -> bool:
        return self._backend().is_contiguous(self._data)

    def data_ptr(self) -> int:
        return self._backend().data_ptr(self._data)

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_cpu(self) -> bool:
        return self._device.type == "cpu"

    @property
    def is_opencl(self) -> bool:
        return self._device.type == "opencl"

    @property
    def is_sparse(self) -> bool:
        return False

    @property
    def is_quantized(self) -> bool:
        return False

    @property
    def is_meta(self) -> bool:
        return False

    @property
    def layout(self):
        from ._runtime_flags import strided

        return strided

    def is_floating_point(self) -> bool:
        return self._dtype.is_floating_point

    def is_complex(self) -> bool:
        return self._dtype.is_complex

    def is_signed(self) -> bool:
        return self._dtype.is_signed

    def _backend(self):
        d = self._device
        b = d._backend
        if b is None:
            from .backends import get_backend

            b = get_backend(d)
        return b

    # -- autograd fields ------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if value and not (self._dtype.is_floating_point or self._dtype.is_complex):
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        if not value and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        self._rg = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains and STATE.enabled is not None:
            import warnings

            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during autograd.backward(). If you indeed want "
                "the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on the "
                "non-leaf Tensor.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    "assigned grad expected to be a Tensor or None but got grad of type "
                    f"{type(value).__name__}"
                )
            if value._device != self._device:
                raise RuntimeError(
                    "assigned grad has data located on a different device: grad is on "
                    f"{value._device}, "
                    f"tensor is on {self._device}"
                )
            if value._dtype is not self._dtype:
                raise RuntimeError(
                    f"assigned grad has data of a different type: grad is {value._dtype}, tensor "
                    f"is {self._dtype}"
                )
            if value._data.shape != self._data.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: grad is {list(value.shape)}, "
                    f"tensor is {list(self.shape)}"
                )
        self._grad = value

    @property
    def _version(self) -> int:
        return self._vc[0]

    def _bump(self) -> None:
        self._vc[0] += 1

    def _grad_edge(self):
        fn = self.grad_fn
        base = self._base
        if base is not None and self._vc[0] != self._view_vc and base._rg:
            # the base was written in place since this view got its history: the view's
            # values now come from the base's new history (PyTorch regenerates it the same way)
            from .ops.views import refresh_view

            fn = refresh_view(self)
        if fn is not None:
            return (fn, self._output_nr)
        acc = self._accum() if self._accum is not None else None
        if acc is None:
            from .autograd.function import AccumulateGrad

            acc = AccumulateGrad(self)
            self._accum = weakref.ref(acc)
        return (acc, 0)

    def _alias(self) -> Tensor:
        """A new Tensor object over the same data and version counter, with no autograd history."""
        t = make_tensor(self._data, self._dtype, self._device, self._vc)
        return t

    def detach(self) -> Tensor:
        t = make_tensor(self._data, self._dtype, self._device, self._vc)
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._rg = False
        return self

    @property
    def data(self) -> Tensor:
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._data = value._data
        self._dtype = value._dtype
        self._device = value._device
        self._vc = value._vc

    def retain_grad(self) -> None:
        if self.grad_fn is None:
            if not self._rg:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains:
            return
        self._retains = True
        fn = self.grad_fn
        if fn._retain_hooks is None:
            fn._retain_hooks = {}
        fn._retain_hooks[self._output_nr] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains

    def register_hook(self, hook):
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        node, nr = self._grad_edge()
        if self.grad_fn is None:
            self._accum_ref = node  # keep the leaf's node (and so its hooks) alive
        return node._add_tensor_hook(nr, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None) -> None:
        from .autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # -- conversion -----------------------------------------------------------------------------
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self._rg and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        if self._device.type != "cpu" and not force:
            raise TypeError(
                f"can't convert {self._device} device type tensor to numpy. Use Tensor.cpu() to "
                "copy the tensor to host memory first."
            )
        return self._backend().to_numpy(self._data)

    def __array__(self, dtype=None, copy=None):
        a = self._backend().to_numpy(self._data)
        return a if dtype is None else a.astype(dtype, copy=False)

    def item(self):
        if self.numel() != 1:
            raise RuntimeError(
                f"a Tensor with {self.numel()} elements cannot be converted to Scalar"
            )
        return self._backend().to_numpy(self._data).reshape(()).item()

    def tolist(self):
        return self._backend().to_numpy(self._data).tolist()

    def __len__(self) -> int:
        if not self._data.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if not self._data.shape:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous"
                if self.numel() > 1
                else "Boolean value of Tensor with no values is ambiguous"
            )
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._dtype.category > 1 or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        from ._printing import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        if self.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, proto):
        from ._serialization_tensors import _rebuild_tensor_args

        return _rebuild_tensor_args(self, proto)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        from .ops.conversion import _clone_as

        new = _clone_as(self, type(self))
        memo[id(self)] = new
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        d = getattr(self, "__dict__", None)
        if d:
            import copy

            new.__dict__.update(copy.deepcopy(d, memo))
        return new

    def type(self, dtype=None, non_blocking: bool = False):
        if dtype is None:
            return f"deepforge.{_TYPE_NAMES.get(self._dtype.name, 'Tensor')}"
        if isinstance(dtype, str):
            name = dtype.rsplit(".", 1)[-1]
            for k, v in _TYPE_NAMES.items():
                if v == name:
                    return self.to(dt.to_dtype(k))
            raise TypeError(f"invalid type: '{dtype}'")
        if (
            isinstance(dtype, type)
            and issubclass(dtype, Tensor)
            and hasattr(dtype, "_legacy_dtype")
        ):
            return self.to(dtype._legacy_dtype)
        return self.to(dt.to_dtype(dtype))


_TYPE_NAMES = {
    "float32": "FloatTensor",
    "float64": "DoubleTensor",
    "float16": "HalfTensor",
    "int64": "LongTensor",
    "int32": "IntTensor",
    "int16": "ShortTensor",
    "int8": "CharTensor",
    "uint8": "ByteTensor",
    "bool": "BoolTensor",
    "complex64": "ComplexFloatTensor",
    "complex128": "ComplexDoubleTensor",
}


def _wrap_dim(dim: int, ndim: int, op: str = "") -> int:
    n = ndim if ndim > 0 else 1
    if dim.__class__ is not int:
        if isinstance(dim, bool) or not hasattr(dim, "__index__"):
            raise TypeError(
                f"{op + '(): ' if op else ''}argument 'dim' must be int, not {type(dim).__name__}"
            )
        dim = dim.__index__()
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim + n if dim < 0 else dim
