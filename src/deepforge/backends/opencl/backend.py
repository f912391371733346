"""The OpenCL backend object: the same primitive names and signatures as
``deepforge.backends.cpu``, taking and returning ``CLArray``s.

One ``OpenCLBackend`` exists per device; it is assembled from mixins, one per op family
(elementwise, reductions, scans and sorts, indexing, nn/random/optim), each in its own
module. This module holds host transfers and views (metadata only, no kernels).
"""

from __future__ import annotations

import os

import numpy as np

from .array import CLArray, basic_index, contiguous_strides, view_reshape_strides
from .desc import DT_CODES
from .elementwise import ElementwiseOps
from .indexing import IndexOps
from .loss import LossOps
from .nn import NNOps
from .recurrent import RecurrentOps
from .reduce import ReduceOps
from .scan_sort import ScanSortOps
from .vision import VisionOps

__all__ = ["OpenCLBackend"]

_SMALL_UPLOAD = 1 << 16


class OpenCLBackend(ElementwiseOps, ReduceOps, ScanSortOps, IndexOps, NNOps, LossOps,
                    RecurrentOps, VisionOps):
    """Primitives for one OpenCL device (``deepforge.device("opencl:N")``)."""

    def __init__(self, rt):
        self.rt = rt
        self.index = rt.index
        self.name = f"opencl:{rt.index}"
        self.device_name = rt.name
        off = os.environ.get("DEEPFORGE_OPENCL_DISABLE_FP64", "") not in ("", "0")
        self.supports_fp64 = rt.has_fp64 and not off
        self.supports_fp16 = rt.has_fp16

    def __repr__(self) -> str:
        return f"<OpenCLBackend {self.name} {self.device_name!r}>"

    def asarray(self, x):
        return x if isinstance(x, CLArray) else self.from_numpy(np.asarray(x))

    # -- host transfers ------------------------------------------------------------------------
    def from_numpy(self, nd):
        nd = np.asarray(nd)
        if nd.dtype not in DT_CODES:
            raise TypeError(f"dtype {nd.dtype} is not supported on OpenCL devices "
                            f"({self.device_name})")
        if nd.dtype == np.float64 and not self.supports_fp64:
            raise TypeError(
                f"{self.name} ({self.device_name}) has no float64 support (cl_khr_fp64); use "
                ".float() to work in float32 on this device"
            )
        x = CLArray.empty(self.rt, nd.shape, nd.dtype)
        if x.size:
            if nd.nbytes <= _SMALL_UPLOAD:
                self.rt.upload(x.buf, np.array(nd, order="C", copy=True))
            else:
                with self.rt.blocking():
                    self.rt.cl.enqueue_copy(self.rt._queue, x.buf, np.ascontiguousarray(nd),
                                            is_blocking=True)
        return x

    def to_numpy(self, x: CLArray):
        host = np.empty(x.shape, x.dtype)
        if x.size == 0:
            return host
        if not x.is_contiguous:
            x = self.clone(x)
        self.rt.download(host, x.buf, x.offset * x.itemsize)
        return host

    def synchronize(self):
        self.rt.finish()

    # -- metadata ------------------------------------------------------------------------------
    def is_contiguous(self, x) -> bool:
        return x.is_contiguous

    def strides(self, x) -> tuple:
        return x.strides

    def storage_offset(self, x) -> int:
        return x.offset

    def storage_nbytes(self, x) -> int:
        return int(x.buf.size)

    def data_ptr(self, x) -> int:
        return int(x.buf.int_ptr) + x.offset * x.itemsize

    def shares_storage(self, a, b) -> bool:
        return a.buf is b.buf or a.buf.int_ptr == b.buf.int_ptr

    # -- views ---------------------------------------------------------------------------------
    def as_strided(self, x, shape, strides_, offset):
        return x.view(tuple(shape), tuple(strides_), offset)

    def reshape_view(self, x, shape):
        shape = tuple(shape)
        if shape == x.shape:
            return x.view(shape, x.strides, x.offset)
        if x.is_contiguous:
            return x.view(shape, contiguous_strides(shape), x.offset)
        st = view_reshape_strides(x.shape, x.strides, shape)
        if st is None:
            return None
        return x.view(shape, st, x.offset)

    def reshape(self, x, shape):
        v = self.reshape_view(x, shape)
        if v is not None:
            return v
        c = self.clone(x)
        return c.view(tuple(shape), contiguous_strides(tuple(shape)), 0)

    def permute(self, x, dims):
        return x.view(tuple(x.shape[d] for d in dims), tuple(x.strides[d] for d in dims),
                      x.offset)

    def expand(self, x, shape):
        shape = tuple(shape)
        lead = len(shape) - len(x.shape)
        st = [0] * lead + [0 if s == 1 and n != 1 else t
                           for s, t, n in zip(x.shape, x.strides, shape[lead:])]
        return x.view(shape, tuple(st), x.offset)

    def getitem_basic(self, x, key):
        shape, st, off = basic_index(x.shape, x.strides, x.offset, key)
        return x.view(shape, st, off)

    def diagonal(self, x, offset, dim1, dim2):
        n1, n2 = x.shape[dim1], x.shape[dim2]
        s1, s2 = x.strides[dim1], x.strides[dim2]
        if offset >= 0:
            n = max(0, min(n1, n2 - offset))
            start = offset * s2
        else:
            n = max(0, min(n1 + offset, n2))
            start = -offset * s1
        keep = [d for d in range(x.ndim) if d not in (dim1, dim2)]
        shape = tuple(x.shape[d] for d in keep) + (n,)
        st = tuple(x.strides[d] for d in keep) + (s1 + s2,)
        return x.view(shape, st, x.offset + (start if n else 0))
