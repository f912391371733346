"""Strided-iteration descriptors (the ``Desc`` struct of ``opencl/common.h``) and the
broadcasting/dtype helpers every kernel module shares.

A descriptor holds one iteration shape and, for up to 4 operands, element strides and
offsets. Before packing, dims of size 1 are dropped and adjacent dims that are contiguous
for every operand are merged, so most launches see one or two dims. Packed layouts are
cached per (shape, strides); only the offsets change between calls.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MAXD", "pack_desc", "broadcast_strides", "broadcast_shape", "DT_CODES", "topt",
    "compute_np", "scalar_of", "collapse", "pack_split", "raw_bits", "RAW_NP",
]

MAXD = 12
_LEN = 6 + 5 * MAXD
_cache: dict = {}

DT_CODES = {
    np.dtype(np.float16): "F16", np.dtype(np.float32): "F32", np.dtype(np.float64): "F64",
    np.dtype(np.int8): "I8", np.dtype(np.int16): "I16", np.dtype(np.int32): "I32",
    np.dtype(np.int64): "I64", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "B",
    np.dtype(np.uint16): "U16", np.dtype(np.uint32): "U32", np.dtype(np.uint64): "U64",
}
RAW_CODES = {1: "U8", 2: "U16", 4: "U32", 8: "U64"}
_TOPT: dict = {}
_CNP = {"F16": np.float32, "F32": np.float32, "F64": np.float64}


def topt(dtype) -> str:
    """Build options selecting storage dtype T for the per-dtype kernel files."""
    o = _TOPT.get(dtype)
    if o is None:
        code = DT_CODES.get(np.dtype(dtype))
        if code is None:
            raise TypeError(f"dtype {np.dtype(dtype)} is not supported by the OpenCL backend")
        o = f"-DT={code}" + (" -DDT_IS_BOOL" if code == "B" else "")
        _TOPT[dtype] = o
    return o


def compute_np(dtype):
    """The numpy type of a kernel's compute type (its scalar arguments) for storage dtype."""
    return _CNP.get(DT_CODES[np.dtype(dtype)], np.int64)


def scalar_of(value, dtype):
    """A Python scalar as the compute-type scalar for storage ``dtype`` (float16 scalars are
    rounded to half first, as numpy does)."""
    d = np.dtype(dtype)
    if d.kind == "f":
        if d == np.float16:
            return np.float32(np.float16(value))
        return np.float32(value) if d == np.float32 else np.float64(value)
    if d.kind == "b":
        return np.int64(bool(value))
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return np.int64(0)
        value = int(value)
    return np.int64(int(value))


def raw_bits(value, dtype) -> int:
    """The bit pattern of ``value`` stored as ``dtype`` (numpy's conversion), as an unsigned
    integer."""
    d = np.dtype(dtype)
    arr = np.array([bool(value)] if d.kind == "b" else [value]).astype(d)
    return int(arr.view(f"u{d.itemsize}")[0])


RAW_NP = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def broadcast_shape(*shapes) -> tuple:
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for s in shapes:
        off = nd - len(s)
        for i, n in enumerate(s):
            j = off + i
            if n != 1:
                if out[j] == 1:
                    out[j] = n
                elif out[j] != n:
                    raise ValueError(f"shapes {' and '.join(str(list(x)) for x in shapes)} "
                                     "cannot be broadcast together")
    return tuple(out)


def broadcast_strides(shape, strides, to_shape) -> tuple:
    """Strides of an array of ``shape`` read as broadcast to ``to_shape`` (0 where broadcast)."""
    off = len(to_shape) - len(shape)
    out = [0] * len(to_shape)
    for i, (n, st) in enumerate(zip(shape, strides)):
        out[off + i] = 0 if n == 1 else st
    return tuple(out)


def pack_desc(shape, strides_list, offsets):
    """The packed descriptor (int64 array) for iterating ``shape`` over operands with the given
    element strides and offsets; ``strides_list`` has 1..4 stride tuples. Returns (desc, n)."""
    key = (shape, tuple(strides_list))
    hit = _cache.get(key)
    if hit is None:
        hit = _build(shape, strides_list)
        if len(_cache) > 8192:
            _cache.clear()
        _cache[key] = hit
    base, n = hit
    d = base.copy()
    for k, o in enumerate(offsets):
        d[2 + k] = o
    return d, n


def _build(shape, strides_list):
    k = len(strides_list)
    dims = [(s, [st[i] for st in strides_list]) for i, s in enumerate(shape) if s != 1]
    n = 1
    for s in shape:
        n *= s
    merged: list = []
    for s, sts in dims:
        if merged:
            ps, psts = merged[-1]
            if all(psts[j] == sts[j] * s for j in range(k)):
                merged[-1] = (ps * s, sts)
                continue
        merged.append((s, sts))
    if not merged:
        merged = [(1, [0] * k)]
    if len(merged) > MAXD:
        raise NotImplementedError(
            f"the OpenCL backend iterates at most {MAXD} non-mergeable dims, got shape "
            f"{list(shape)} with strides {list(strides_list)}"
        )
    d = np.zeros(_LEN, np.int64)
    d[0] = len(merged)
    d[1] = n
    for j, (s, sts) in enumerate(merged):
        d[6 + j] = s
        for q in range(k):
            d[6 + MAXD + q * MAXD + j] = sts[q]
    return d, n


def collapse(shape, strides) -> list:
    """[(size, stride)] of one operand's dims with size-1 dims dropped and contiguous
    neighbours merged (C order preserved)."""
    out: list = []
    for s, st in zip(shape, strides):
        if s == 1:
            continue
        if out and out[-1][1] == st * s:
            out[-1] = (out[-1][0] * s, st)
        else:
            out.append((s, st))
    return out


def pack_split(lead, trail, offset=0):
    """Descriptor (operand 0 only) over ``lead`` + ``trail`` dims, each a [(size, stride)] list
    kept apart (the kernels treat the trailing dims separately). Returns (desc, n_trailing)."""
    key = (tuple(lead), tuple(trail))
    hit = _cache.get(key)
    if hit is None:
        if not trail:
            trail = [(1, 0)]
        dims = list(lead) + list(trail)
        if len(dims) > MAXD:
            raise NotImplementedError(
                f"the OpenCL backend iterates at most {MAXD} non-mergeable dims, got {len(dims)}"
            )
        d = np.zeros(_LEN, np.int64)
        d[0] = len(dims)
        n = 1
        for j, (s, st) in enumerate(dims):
            d[6 + j] = s
            d[6 + MAXD + j] = st
            n *= s
        d[1] = n
        hit = (d, len(trail))
        if len(_cache) > 8192:
            _cache.clear()
        _cache[key] = hit
    d = hit[0].copy()
    d[2] = offset
    return d, hit[1]
