"""Less common Tensor methods of PyTorch: ``unfold`` windows, ``resize_``, ``sum_to_size``,
legacy ``new``, ``apply_``/``map_``, memory-placement queries, post-accumulate-grad hooks.

Importing this module attaches the methods to ``Tensor`` (``deepforge/__init__.py`` does it).
"""

from __future__ import annotations

import mmap
import numbers

import numpy as np

from . import _dtype as dt
from .autograd.function import Function
from .ops import _dispatch as D
from .ops._common import call, wrap_dim
from .ops.shape import _view_of
from .tensor import Size, Tensor

__all__ = ["detach", "detach_", "is_inference", "narrow_copy", "get_device"]


def _storage_of(x: Tensor):
    """(array, element offset of x's first element) to build new views of x's storage from.

    A view is re-derived from its base's array, which owns the storage: a strided view may not
    know where its storage starts (numpy's ``as_strided`` results do not)."""
    be = D.backend_of(x)
    base = x._base
    if base is None or not x._data.size:
        return x._data, be.storage_offset(x._data) if x._data.size else 0
    src = base._data
    delta = (be.data_ptr(x._data) - be.data_ptr(src)) // x._dtype.itemsize
    return src, be.storage_offset(src) + delta


# -- unfold: a strided view of sliding windows -------------------------------------------------
class Unfold(Function):
    """``x.unfold(d, size, step)``: windows along ``d`` as a new last dim, sharing x's storage."""

    @staticmethod
    def forward(ctx, x, d, size, step):
        ctx.geom = (x._data.shape, d, size, step)
        be = D.backend_of(x)
        shape, strides = x._data.shape, be.strides(x._data)
        if not shape:  # a 0-d tensor gives one window of `size` (0 or 1) elements
            out_shape, out_strides = (size,), (1,)
        else:
            n_windows = (shape[d] - size) // step + 1
            out_shape = shape[:d] + (n_windows,) + shape[d + 1 :] + (size,)
            out_strides = strides[:d] + (step * strides[d],) + strides[d + 1 :] + (strides[d],)
        src, offset = _storage_of(x)
        return _view_of(x, be.as_strided(src, out_shape, out_strides, offset))

    @staticmethod
    def backward(ctx, g):
        shape, d, size, step = ctx.geom
        return _unfold_backward(g, shape, d, size, step), None, None, None


def _unfold_backward(g: Tensor, shape, d: int, size: int, step: int) -> Tensor:
    """Sum each window's gradient back into the elements it covers (windows may overlap).

    Written with differentiable Tensor ops, so the gradient is differentiable again."""
    from .ops.creation import arange, zeros

    if not shape:
        return g.sum()
    in_shape = shape
    n_windows = g.shape[d]
    # (..., n_windows, ..., size) -> (..., n_windows * size, ...): one source row per element
    rows = g.movedim(-1, d + 1).reshape(in_shape[:d] + (n_windows * size,) + in_shape[d + 1 :])
    starts = arange(n_windows, device=g.device) * step
    index = (starts.unsqueeze(1) + arange(size, device=g.device).unsqueeze(0)).reshape(-1)
    return zeros(in_shape, dtype=g.dtype, device=g.device).index_add(d, index, rows)


def unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    nd = self.ndim
    d = wrap_dim(dimension, nd)
    n = self._data.shape[d] if nd else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return call(Unfold, self, d, int(size), int(step))


# -- shapes ------------------------------------------------------------------------------------
def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    return self.reshape(other.shape)


def sum_to_size(self: Tensor, *size) -> Tensor:
    """Sum ``self`` down to ``size``, which it must be expandable from (broadcast's inverse)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    shape = tuple(self._data.shape)
    lead = len(shape) - len(size)
    if lead < 0 or any(s != 1 and s != shape[lead + i] for i, s in enumerate(size)):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    from .autograd.engine import sum_to_shape

    return sum_to_shape(self, Size(size))


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``narrow`` into a new contiguous tensor (not a view)."""
    return input.narrow(dim, start, length).clone()


def _contiguous_strides(shape) -> tuple:
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(strides))


def resize_(self: Tensor, *sizes, memory_format=None) -> Tensor:
    """Give ``self`` a new shape over its storage, contiguous from its storage offset.

    Shrinking or keeping the element count reuses the storage; growing it past the storage's end
    allocates a larger storage with the old elements at the front and the rest uninitialised.
    As in PyTorch, other tensors viewing the old storage keep seeing only its old extent."""
    if self._rg:
        raise RuntimeError("cannot resize variables that require grad")
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    shape = tuple(int(s) for s in sizes)
    if any(s < 0 for s in shape):
        raise RuntimeError(
            f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}"
        )
    numel = int(np.prod(shape, dtype=np.int64))
    be = D.backend_of(self)
    data, offset = _storage_of(self)
    capacity = be.storage_nbytes(data) // self._dtype.itemsize
    strides = _contiguous_strides(shape)
    if offset + numel > capacity:
        grown = be.empty((offset + numel,), self._dtype.np)
        old = be.as_strided(data, (capacity,), (1,), 0)
        be.copy_(be.as_strided(grown, (capacity,), (1,), 0), old)
        data = grown
    self._data = be.as_strided(data, shape, strides, offset)
    return self


def resize_as_(self: Tensor, the_template: Tensor, *, memory_format=None) -> Tensor:
    return resize_(self, the_template.shape)


# -- element-wise Python callables (CPU only, as in PyTorch) -----------------------------------
def _check_python_map(self: Tensor, op: str) -> None:
    if self._rg:
        raise RuntimeError(
            f"Can't call {op}() on Variable that requires grad. Use var.detach().{op}() instead."
        )
    if self._device.type != "cpu":
        raise TypeError(f"{op}() is only implemented on CPU tensors, got {self._device}")


def _write_back(self: Tensor, values) -> Tensor:
    self._data[...] = np.asarray(values, dtype=self._dtype.np).reshape(self._data.shape)
    self._vc[0] += 1
    return self


def apply_(self: Tensor, callable) -> Tensor:
    """Replace each element ``v`` with ``callable(v)`` (a slow Python loop, CPU only)."""
    _check_python_map(self, "apply_")
    return _write_back(self, [callable(v) for v in self._data.ravel().tolist()])


def map_(self: Tensor, tensor: Tensor, callable) -> Tensor:
    """``self[i] = callable(self[i], tensor[i])``, ``tensor`` broadcast to ``self`` (CPU only)."""
    _check_python_map(self, "map_")
    other = np.broadcast_to(np.asarray(tensor), self._data.shape).ravel().tolist()
    mine = self._data.ravel().tolist()
    return _write_back(self, [callable(a, b) for a, b in zip(mine, other)])


def map2_(self: Tensor, x: Tensor, y: Tensor, callable) -> Tensor:
    _check_python_map(self, "map2_")
    shape = self._data.shape
    xs = np.broadcast_to(np.asarray(x), shape).ravel().tolist()
    ys = np.broadcast_to(np.asarray(y), shape).ravel().tolist()
    mine = self._data.ravel().tolist()
    return _write_back(self, [callable(a, b, c) for a, b, c in zip(mine, xs, ys)])


# -- legacy constructor ------------------------------------------------------------------------
def new(self: Tensor, *args, device=None, size=None) -> Tensor:
    """``x.new(2, 3)`` / ``x.new(torch.Size)``: uninitialised, x's dtype and device;
    ``x.new([1, 2])``: data; ``x.new(t)``: ``t`` itself (same dtype required)."""
    from .ops import creation

    dev = device if device is not None else self._device
    if size is not None:
        args = (Size(size),)
    if len(args) == 1 and isinstance(args[0], Tensor):
        other = args[0]
        if other._dtype is not self._dtype or other._device != self._device:
            raise TypeError(
                f"new(): expected a tensor of dtype {self._dtype} on {self._device}, got "
                f"{other._dtype} on {other._device}"
            )
        return other.detach()
    if len(args) == 1 and not isinstance(args[0], (numbers.Integral, Size)):
        data = args[0]
        if not isinstance(data, (list, tuple, np.ndarray)):
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
        return creation.tensor(data, dtype=self._dtype, device=dev)
    shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], Size) else args
    if not shape:
        shape = (0,)  # x.new(): an empty 1-d tensor
    return creation.empty(tuple(int(s) for s in shape), dtype=self._dtype, device=dev)


# -- memory placement --------------------------------------------------------------------------
def pin_memory(self: Tensor, device=None) -> Tensor:
    """A copy for fast host-to-accelerator transfer. deepforge's copy is ordinary (pageable)
    host memory, so ``is_pinned()`` stays False; with no accelerator it raises like PyTorch."""
    from . import accelerator

    if self._device.type != "cpu":
        raise RuntimeError(
            f"cannot pin '{self.type()}' on {self._device}: only dense CPU tensors can be pinned"
        )
    if not accelerator.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return self.clone()


def is_pinned(self: Tensor, device=None) -> bool:
    return False


def _shared_root(data) -> bool:
    while isinstance(data, np.ndarray):
        data = data.base
    if isinstance(data, memoryview):  # np.frombuffer keeps the buffer behind a memoryview
        data = data.obj
    return isinstance(data, mmap.mmap)


def share_memory_(self: Tensor) -> Tensor:
    """Move a CPU tensor's elements into anonymous shared memory (seen by forked processes).

    OpenCL tensors are left as they are (device memory). Other Tensor objects over the old
    storage keep the old, private copy, so call it on the tensor that owns its storage."""
    if self._device.type != "cpu" or is_shared(self):
        return self
    if self._base is not None:
        raise NotImplementedError(
            "share_memory_: moving a view's storage into shared memory is not supported in "
            "deepforge; call share_memory_() on the base tensor"
        )
    old = self._data
    buf = mmap.mmap(-1, max(old.nbytes, 1))
    shared = np.frombuffer(buf, dtype=old.dtype, count=old.size).reshape(old.shape)
    shared[...] = old
    self._data = shared
    return self


def is_shared(self: Tensor) -> bool:
    return self._device.type == "cpu" and _shared_root(self._data)


def get_device(input: Tensor) -> int:
    """-1 for a CPU tensor, the device index for an OpenCL tensor."""
    dev = input._device
    return -1 if dev.type == "cpu" else (dev.index or 0)


# -- autograd ----------------------------------------------------------------------------------
def register_post_accumulate_grad_hook(self: Tensor, hook):
    """``hook(tensor)`` runs after each accumulation into this leaf's ``.grad``."""
    if not self._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    node, _ = self._grad_edge()
    self._accum_ref = node  # keep the leaf's node (and so its hooks) alive
    return node.register_post_accumulate_hook(hook)


def detach(input: Tensor) -> Tensor:
    return input.detach()


def detach_(input: Tensor) -> Tensor:
    return input.detach_()


def is_inference(input: Tensor) -> bool:
    """False: deepforge has no inference tensors (``inference_mode`` works like ``no_grad``)."""
    return False


# -- dtype conversions and small queries -------------------------------------------------------
def _unsupported_dtype(name: str):
    def convert(self: Tensor, memory_format=None) -> Tensor:
        raise NotImplementedError(
            f"{name} is not a deepforge dtype: use .half(), .float() or .double() instead"
        )

    convert.__name__ = convert.__qualname__ = name
    return convert


def dim_order(self: Tensor, *, ambiguity_check: bool = False) -> tuple:
    """The dims from outermost to innermost in memory (PyTorch's rule, ties included)."""
    shape, strides = tuple(self._data.shape), tuple(self.stride())
    nd = len(shape)
    if nd <= 1:
        return tuple(range(nd))
    contiguous = _dense_in_order(shape, strides, range(nd))
    channels_last = nd == 4 and _dense_in_order(shape, strides, (0, 2, 3, 1))
    if contiguous and not channels_last:
        order = list(range(nd))
    elif channels_last and not contiguous:
        order = [0, *range(2, nd), 1]
    else:
        order = _sort_dims(shape, strides)
    if ambiguity_check and (
        any(_should_swap(shape, strides, a, b) != 1 for a, b in zip(order, order[1:]))
        or len(set(strides)) < nd
        or 1 in shape
    ):
        raise RuntimeError("The tensor does not have unique dim order.")
    return tuple(order)


def _dense_in_order(shape, strides, order) -> bool:
    expect = 1
    for d in reversed(tuple(order)):
        if shape[d] != 1 and strides[d] != expect:
            return False
        expect *= shape[d]
    return True


def _ge(a: int, b: int) -> bool:
    return b == 0 or (a != 0 and (a >= b or a % b == 0))


def _should_swap(shape, strides, a: int, b: int) -> int:
    sa, sb = strides[a], strides[b]
    if sa == 0 or sb == 0:
        return 0
    if sa == sb:
        return 0 if _ge(shape[b], shape[a]) else 1
    if _ge(sb, sa):
        return -1
    return 1 if _ge(sa, sb) else 0


def _sort_dims(shape, strides) -> list:
    perm = list(reversed(range(len(shape))))  # sorted innermost-first, reversed at the end
    for i in range(1, len(perm)):
        d1 = i
        for d0 in reversed(range(i)):
            c = _should_swap(shape, strides, perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    return list(reversed(perm))


def _hardshrink(self: Tensor, lambd: float = 0.5) -> Tensor:
    from ._nn_aliases import hardshrink

    return hardshrink(self, lambd)


def _prelu(self: Tensor, weight: Tensor) -> Tensor:
    from ._nn_aliases import prelu

    return prelu(self, weight)


def _attach() -> None:
    T = Tensor
    T.unfold = unfold
    T.reshape_as = reshape_as
    T.sum_to_size = sum_to_size
    T.narrow_copy = narrow_copy
    T.resize_ = resize_
    T.resize_as_ = resize_as_
    T.apply_ = apply_
    T.map_ = map_
    T.map2_ = map2_
    T.new = new
    T.pin_memory = pin_memory
    T.is_pinned = is_pinned
    T.share_memory_ = share_memory_
    T.is_shared = is_shared
    T.get_device = get_device
    T.register_post_accumulate_grad_hook = register_post_accumulate_grad_hook
    T.is_inference = is_inference
    T.is_nonzero = Tensor.__bool__
    T.output_nr = property(lambda self: self._output_nr)
    T.name = property(lambda self: None)
    T.dim_order = dim_order
    T.cfloat = lambda self, memory_format=None: self.to(dt.complex64)
    T.cdouble = lambda self, memory_format=None: self.to(dt.complex128)
    T.bfloat16 = _unsupported_dtype("bfloat16")
    T.chalf = _unsupported_dtype("chalf")
    T.hardshrink = _hardshrink
    T.prelu = _prelu


_attach()
