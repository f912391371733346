"""``CLArray``: a strided view of an OpenCL buffer, the OpenCL backend's tensor storage.

``CLArray(rt, buf, shape, strides, offset, dtype)``: ``buf`` a pyopencl buffer (from
``rt.alloc``), ``shape`` a tuple, ``strides`` and ``offset`` in ELEMENTS (strides may be 0
for broadcast dims or negative for flipped views), ``dtype`` a numpy dtype. Elements use
numpy's byte layout (bool is one byte 0/1, float16 is IEEE half), so host transfers are plain
copies. ``CLArray.empty(rt, shape, dtype)`` allocates a C-contiguous array.

Views (reshape, permute, expand, basic indexing, diagonal, as_strided) share ``buf``. This
module only does metadata; kernels live in the other modules.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CLArray", "contiguous_strides", "new_contiguous", "view_reshape_strides",
           "basic_index"]

_CSTRIDES: dict = {}  # shape -> C-contiguous strides: a handful of shapes recur per program


def contiguous_strides(shape) -> tuple:
    cache = shape.__class__ is tuple
    if cache:
        r = _CSTRIDES.get(shape)
        if r is not None:
            return r
    st = []
    acc = 1
    for s in reversed(shape):
        st.append(acc)
        acc *= int(s)
    r = tuple(reversed(st))
    if cache:
        if len(_CSTRIDES) >= 4096:
            _CSTRIDES.clear()
        _CSTRIDES[shape] = r
    return r


class CLArray:
    __slots__ = ("rt", "buf", "shape", "strides", "offset", "dtype", "size", "_contig")

    def __init__(self, rt, buf, shape, strides, offset, dtype):
        self.rt = rt
        self.buf = buf
        self.shape = tuple(shape)
        self.strides = tuple(strides)
        self.offset = int(offset)
        self.dtype = np.dtype(dtype)
        n = 1
        for s in self.shape:
            n *= s
        self.size = n
        self._contig = None

    @classmethod
    def empty(cls, rt, shape, dtype):
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in shape)
        n = 1
        for s in shape:
            n *= s
        return new_contiguous(rt, shape, dtype, n)

    # -- metadata ------------------------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    @property
    def is_contiguous(self) -> bool:
        c = self._contig
        if c is None:
            c = True
            acc = 1
            for s, st in zip(reversed(self.shape), reversed(self.strides)):
                if s != 1 and st != acc:
                    c = False
                    break
                acc *= s
            self._contig = c
        return c

    def view(self, shape, strides, offset) -> CLArray:
        # the constructor without re-normalising the dtype: views are most small ops' cost
        v = _new(CLArray)
        v.rt = self.rt
        v.buf = self.buf
        v.shape = shape = tuple(shape)
        v.strides = tuple(strides)
        v.offset = int(offset)
        v.dtype = self.dtype
        n = 1
        for s in shape:
            n *= s
        v.size = n
        v._contig = None
        return v

    def __repr__(self) -> str:
        return (
            f"CLArray(shape={self.shape}, strides={self.strides}, offset={self.offset}, "
            f"dtype={self.dtype}, device=opencl:{self.rt.index})"
        )

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "a CLArray lives on an OpenCL device; copy it to the host with the backend's "
            "to_numpy() (Tensor.cpu()) first"
        )

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]


_new = object.__new__


def new_contiguous(rt, shape: tuple, dtype: np.dtype, n: int) -> CLArray:
    """``CLArray.empty`` for arguments already normalised (a tuple of ints, a numpy dtype and
    their element count ``n``): the per-op fast paths allocate their results through it."""
    self = _new(CLArray)
    self.rt = rt
    self.buf = rt.alloc(n * dtype.itemsize)
    self.shape = shape
    self.strides = contiguous_strides(shape)
    self.offset = 0
    self.dtype = dtype
    self.size = n
    self._contig = True
    return self


# -- view arithmetic ---------------------------------------------------------------------------
def view_reshape_strides(shape, strides, new_shape):
    """Strides for viewing (shape, strides) as new_shape without a copy, or None (torch's
    computeStride)."""
    numel = 1
    for s in shape:
        numel *= s
    if numel == 0 or not shape:
        return contiguous_strides(new_shape)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    chunk_base_stride = strides[-1]
    tensor_numel = 1
    view_numel = 1
    for tensor_d in range(len(shape) - 1, -1, -1):
        tensor_numel *= shape[tensor_d]
        if tensor_d == 0 or (
            shape[tensor_d - 1] != 1
            and strides[tensor_d - 1] != tensor_numel * chunk_base_stride
        ):
            while view_d >= 0 and (view_numel < tensor_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base_stride
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = strides[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_strides)


def basic_index(shape, strides, offset, key):
    """(shape, strides, offset) of x[key] for a key of ints, slices, None and Ellipsis."""
    if not isinstance(key, tuple):
        key = (key,)
    n_real = sum(1 for k in key if k is not None and k is not Ellipsis)
    if n_real > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    out_shape, out_strides = [], []
    dim = 0
    seen_ellipsis = False
    for k in key:
        if k is None:
            out_shape.append(1)
            out_strides.append(0)
        elif k is Ellipsis:
            if seen_ellipsis:
                raise IndexError("an index can only have a single ellipsis ('...')")
            seen_ellipsis = True
            for _ in range(len(shape) - n_real):
                out_shape.append(shape[dim])
                out_strides.append(strides[dim])
                dim += 1
        elif isinstance(k, slice):
            start, stop, step = k.indices(shape[dim])
            n = len(range(start, stop, step))
            if n > 0:
                offset += start * strides[dim]
            out_shape.append(n)
            out_strides.append(strides[dim] * step)
            dim += 1
        else:
            i = int(k)
            n = shape[dim]
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {n}")
            if i < 0:
                i += n
            offset += i * strides[dim]
            dim += 1
    while dim < len(shape):
        out_shape.append(shape[dim])
        out_strides.append(strides[dim])
        dim += 1
    return tuple(out_shape), tuple(out_strides), offset
