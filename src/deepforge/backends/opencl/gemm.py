"""OpenCL GEMM: ``matmul(rt, a, b, out_dtype)`` for strided, batched, broadcast CLArrays.

Kernels live in ``opencl/gemm.cl``. Three variants:

``packed`` (CPU devices, the default when ``rt.is_cpu``)
    One packing launch reads A and B *in place* through their strides (any layout: ``x.mT``,
    slices, offsets, negative strides, broadcast batch dims) into zero-padded panels,
    ``Ap[mb][k][TM]`` and ``Bp[nb][k][VW*NV]`` (each operand over its own batch items only);
    then one work-item per ``TM x VW*NV`` block of C (8 x 32 for float32, 8 x 16 for float64)
    keeps the block in 16 vector registers and streams both panels over K: per k, two
    ``vload16`` of B, eight broadcasts of A, sixteen ``fma``. No local memory and no barriers:
    on PoCL a barrier spills the accumulators, which costs most of the speed.
``tiled`` (GPUs, the default otherwise)
    Classic local-memory tiling (TSM x TSN tile per work-group, TSK-deep K steps) with a
    WPTM x WPTN register block per work-item, reading operands through their strides with
    zero-filled edges. The work-group shape is a build option; the host picks the largest
    configuration that the device *and* the compiled kernel accept.
``naive``
    One output element per work-item, any dtype: integer and bool matmul, ``K == 0``, and on
    CPU devices tiny float problems (one launch instead of two) and matrix @ vector.

Batch dims are broadcast, size-1 dims dropped and dims contiguous in both operands merged;
when B is shared by the whole batch and A's batch steps over whole row blocks, the batch is
folded into M (one big GEMM, e.g. ``(B, T, K) @ (K, N)``). Up to three remaining batch dims
are indexed in the kernels; more are looped over on the host. The result is a new
C-contiguous ``CLArray``. Float inputs of any float dtype (float16 included: ``vload_half``
is core OpenCL, no ``cl_khr_fp16`` needed) are converted while loading; accumulation is in
float32, or float64 when ``out_dtype`` is float64.

``DEEPFORGE_OPENCL_GEMM=packed|tiled|naive`` (or the ``variant`` argument) forces a float
variant, which is how the tests run the GPU kernel on PoCL.
"""

from __future__ import annotations

import itertools
import os
import weakref

import numpy as np

__all__ = ["matmul", "VARIANTS"]

FILENAME = "gemm.cl"
VARIANTS = ("packed", "tiled", "naive")

# Float problems with at most this many multiply-adds go to the naive kernel on CPU devices:
# one launch beats two (pack, multiply) there.
_NAIVE_MAX_FLOPS_CPU = 32 * 32 * 32

# Register-blocked (packed) path: rows per work-item, vector width, vectors per row.
_PACKED_CFG = {"float": (8, 16, 2), "double": (8, 8, 2)}
# Work-group size along M blocks for the packed kernel on CPU devices.
_PACKED_LOCAL_M = 4
# Work-group size of the packing kernels (along K). Local sizes are fixed, not derived from
# the problem size: PoCL compiles a kernel once per distinct local size.
_PACK_LOCAL = 16

# Tiled path configurations, best first: (TSM, TSN, TSK, WPTM, WPTN).
_TILED_CFGS = (
    (64, 64, 16, 4, 4),  # 16 x 16 work-items
    (32, 32, 16, 4, 4),  # 8 x 8
    (16, 16, 16, 2, 2),  # 8 x 8
    (8, 8, 8, 2, 2),  # 4 x 4
    (4, 4, 4, 2, 2),  # 2 x 2
    (1, 1, 1, 1, 1),  # 1 x 1: always fits
)

_CL_TYPES = {
    np.dtype(np.float32): "float",
    np.dtype(np.float64): "double",
    np.dtype(np.float16): "half",
    np.dtype(np.int8): "char",
    np.dtype(np.uint8): "uchar",
    np.dtype(np.int16): "short",
    np.dtype(np.uint16): "ushort",
    np.dtype(np.int32): "int",
    np.dtype(np.uint32): "uint",
    np.dtype(np.int64): "long",
    np.dtype(np.uint64): "ulong",
    np.dtype(np.bool_): "uchar",
}
_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _cl_type(dt):
    try:
        return _CL_TYPES[np.dtype(dt)]
    except KeyError:
        raise TypeError(f"matmul on OpenCL does not support dtype {np.dtype(dt)}") from None


def _has_fp64(rt):
    has = getattr(rt, "has_fp64", None)
    return "cl_khr_fp64" in rt.device.extensions if has is None else has


def _common_options(real, a_dt, b_dt, c_dt):
    ta, tb, tc = _cl_type(a_dt), _cl_type(b_dt), _cl_type(c_dt)
    opts = [f"-DREAL={real}", f"-DA_T={ta}", f"-DB_T={tb}", f"-DC_T={tc}"]
    for name, dt in (("A", a_dt), ("B", b_dt), ("C", c_dt)):
        if np.dtype(dt) == np.float16:
            opts.append(f"-D{name}_HALF")
    if "double" in (real, ta, tb, tc):
        opts.append("-DNEED_FP64")
    return opts


def _choose_variant(rt, variant, a_dt, b_dt, c_dt, M, N, K):
    v = variant or os.environ.get("DEEPFORGE_OPENCL_GEMM") or "auto"
    if v != "auto" and v not in VARIANTS:
        raise ValueError(f"unknown OpenCL GEMM variant {v!r}; expected one of {VARIANTS}")
    if K == 0 or not (a_dt in _FLOATS and b_dt in _FLOATS and c_dt in _FLOATS):
        return "naive"  # integer/bool matmul; K == 0 (writes zeros)
    if v != "auto":
        return v
    if not rt.is_cpu:
        return "tiled"
    # tiny products: one launch beats two; matrix @ vector (N == 1): packing A and computing
    # 32 columns to keep one costs more than plain dot products
    if M * N * K <= _NAIVE_MAX_FLOPS_CPU or N == 1:
        return "naive"
    return "packed"


def _collapse_batch(shape, sa, sb):
    """Drop size-1 batch dims and merge adjacent dims that are contiguous in A and B (C is)."""
    dims = []
    for n, x, y in zip(shape, sa, sb):
        if n == 1:
            continue
        if dims:
            pn, px, py = dims[-1]
            if px == x * n and py == y * n:
                dims[-1] = (pn * n, x, y)
                continue
        dims.append((n, x, y))
    return dims


def _pad3(dims):
    """(d1, d2, s0..s2 for A, s0..s2 for B) for up to three (n, sa, sb) dims."""
    dims = [(1, 0, 0)] * (3 - len(dims)) + list(dims)
    return dims


_L, _I = np.int64, np.int32
# Scalar argument types per kernel (None: a buffer). Typed kernels take plain Python ints and
# set their arguments ~100x faster than with numpy scalars.
_ARG_TYPES = {
    "gemm_naive": [None, _L, _L, _L, None, _L, _L, _L, None, _L] + [_I] * 4 + [_L] * 8,
    "gemm_tiled": [None, _L, _L, _L, None, _L, _L, _L, None, _L] + [_I] * 4 + [_L] * 8,
    "gemm_pack": [None, _L, _L, _L, None, _L, _L, _L, None, None] + [_I] * 5 + [_L] * 10,
    "gemm_packed": [None, None, None, _L] + [_I] * 4 + [_L] * 8,
}


def _kernel(rt, name, options):
    # typed scalar arguments: set_args with plain ints is ~100x faster than with numpy scalars
    return rt.kernel(FILENAME, name, options, scalar_dtypes=_ARG_TYPES[name])


# Batch items per launch: some GPU drivers cap the third global dimension at 65535 groups.
_MAX_Z = 65535


def _launch(rt, kernel, gsize, lsize, args):
    nz = gsize[2]
    if nz <= _MAX_Z:
        rt.launch(kernel, gsize, lsize, *args)
        return
    # larger batches: several launches with a global offset along dim 2 (the kernels index
    # the batch with get_global_id(2) and guard it against nbatch)
    import pyopencl as cl

    kernel.set_args(*args)
    for z0 in range(0, nz, _MAX_Z):
        g = (gsize[0], gsize[1], min(_MAX_Z, nz - z0))
        cl.enqueue_nd_range_kernel(rt.queue, kernel, g, lsize, global_work_offset=(0, 0, z0))
        rt.sync_after_launch(kernel.function_name)


def _round_up(x, m):
    return (x + m - 1) // m * m


def matmul(rt, a, b, out_dtype, variant=None):
    """``a @ b`` with numpy matmul semantics for ``a`` (..., M, K) and ``b`` (..., K, N).

    Both operands have ``ndim >= 2``; batch dims broadcast. Operands are read in place
    through their strides and offsets (no copies); the result is a new contiguous CLArray of
    ``out_dtype``. Float operands of other float dtypes are converted while loading.
    """
    from .array import CLArray

    if a.ndim < 2 or b.ndim < 2:
        raise RuntimeError("matmul: both arguments need at least 2 dimensions here")
    M, K = a.shape[-2:]
    K2, N = b.shape[-2:]
    if K != K2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({M}x{K} and {K2}x{N})")
    out_dtype = np.dtype(out_dtype)
    ba, bb = tuple(a.shape[:-2]), tuple(b.shape[:-2])
    nb = max(len(ba), len(bb))
    ba_p = (1,) * (nb - len(ba)) + ba
    bb_p = (1,) * (nb - len(bb)) + bb
    sa_p = (0,) * (nb - len(ba)) + tuple(a.strides[:-2])
    sb_p = (0,) * (nb - len(bb)) + tuple(b.strides[:-2])
    batch = []
    sa, sb = [], []
    for i, (x, y) in enumerate(zip(ba_p, bb_p)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i}"
            )
        batch.append(y if x == 1 else x)
        sa.append(sa_p[i] if x != 1 else 0)
        sb.append(sb_p[i] if y != 1 else 0)

    out = CLArray.empty(rt, tuple(batch) + (M, N), out_dtype)
    if M == 0 or N == 0 or any(n == 0 for n in batch):
        return out

    sam, sak = a.strides[-2], a.strides[-1]
    sbk, sbn = b.strides[-2], b.strides[-1]
    dims = _collapse_batch(batch, sa, sb)
    m_eff = M
    # B shared by the whole batch and A's batch dim steps over whole row blocks: fold the
    # batch into M (one big GEMM; C is contiguous, so its rows line up).
    if len(dims) == 1 and dims[0][2] == 0 and (M == 1 or dims[0][1] == M * sam):
        if M == 1:
            sam = dims[0][1]
        m_eff = dims[0][0] * M
        dims = []

    if np.dtype(np.float64) in (out_dtype, a.dtype, b.dtype) and not _has_fp64(rt):
        raise RuntimeError(
            f"float64 is not supported by OpenCL device '{rt.device.name}' (no cl_khr_fp64); "
            "use .float() to compute in float32"
        )
    v = _choose_variant(rt, variant, a.dtype, b.dtype, out_dtype, m_eff, N, K)

    # More than 3 collapsed batch dims: loop on the host over the leading ones.
    outer, inner = dims[:-3], dims[-3:]
    c_batch = int(np.prod([d[0] for d in inner])) if inner else 1
    c_step = m_eff * N
    c_strides_outer = []
    s = c_batch * c_step
    for n, _, _ in reversed(outer):
        c_strides_outer.append(s)
        s *= n
    c_strides_outer.reverse()
    for idx in itertools.product(*(range(d[0]) for d in outer)):
        a_off = a.offset + sum(i * d[1] for i, d in zip(idx, outer))
        b_off = b.offset + sum(i * d[2] for i, d in zip(idx, outer))
        c_off = out.offset + sum(i * cs for i, cs in zip(idx, c_strides_outer))
        args = (rt, a, b, out, a_off, b_off, c_off, m_eff, N, K, sam, sak, sbk, sbn, inner)
        if v == "packed":
            _run_packed(*args)
        elif v == "tiled":
            _run_tiled(*args)
        else:
            _run_naive(*args)
    return out


def _real(out_dtype):
    return "double" if np.dtype(out_dtype) == np.float64 else "float"


def _naive_acc(out_dtype):
    dt = np.dtype(out_dtype)
    if dt in _FLOATS:
        return _real(dt)
    if dt == np.bool_:
        return "int"
    if dt.itemsize == 8:
        return _cl_type(dt)
    return "int" if dt.kind == "i" else "uint"


def _run_naive(rt, a, b, c, a_off, b_off, c_off, M, N, K, sam, sak, sbk, sbn, dims):
    real = _real(c.dtype)
    opts = _common_options(real, a.dtype, b.dtype, c.dtype)
    opts += ["-DNAIVE", f"-DACC_T={_naive_acc(c.dtype)}"]
    if c.dtype == np.bool_:
        opts.append("-DC_BOOL")
    kernel = _kernel(rt, "gemm_naive", " ".join(opts))
    p = _pad3(dims)
    nbatch = p[0][0] * p[1][0] * p[2][0]
    lx, ly = _fit_local(rt, (8, 8) if N > 1 else (1, 64))  # matrix @ vector: all along M
    gsize = (_round_up(N, lx), _round_up(M, ly), nbatch)
    args = (
        a.buf, a_off, sam, sak,
        b.buf, b_off, sbk, sbn,
        c.buf, c_off, M, N, K, nbatch,
        p[1][0], p[2][0],
        p[0][1], p[1][1], p[2][1],
        p[0][2], p[1][2], p[2][2],
    )  # fmt: skip
    _launch(rt, kernel, gsize, (lx, ly, 1), args)


def _fit_local(rt, local):
    """Shrink a 2-D local size until the device accepts it."""
    lx, ly = local
    sizes = rt.device.max_work_item_sizes
    mx = rt.max_work_group_size
    while lx > 1 and (lx > sizes[0] or lx * ly > mx):
        lx //= 2
    while ly > 1 and (ly > sizes[1] or lx * ly > mx):
        ly //= 2
    return max(lx, 1), max(ly, 1)


def _run_packed(rt, a, b, c, a_off, b_off, c_off, M, N, K, sam, sak, sbk, sbn, dims):
    real = _real(c.dtype)
    tm, vw, nv = _PACKED_CFG[real]
    nr = vw * nv
    opts = _common_options(real, a.dtype, b.dtype, c.dtype)
    opts += ["-DPACKED", f"-DTM={tm}", f"-DVW={vw}", f"-DNV={nv}"]
    opts = " ".join(opts)
    esize = 8 if real == "double" else 4
    mblocks = -(-M // tm)
    nblocks = -(-N // nr)
    p = _pad3(dims)
    nbatch = p[0][0] * p[1][0] * p[2][0]

    # Each operand is packed over its own (non-broadcast) batch dims only.
    def own(col):
        sizes = [d[0] if d[col] != 0 else 1 for d in p]
        strides = [d[col] if d[col] != 0 else 0 for d in p]
        return sizes, strides

    (a_sizes, a_strides), (b_sizes, b_strides) = own(1), own(2)
    a_panel = mblocks * K * tm
    b_panel = nblocks * K * nr

    def packed_strides(sizes, panel):
        out, s = [], panel
        for n in reversed(sizes):
            out.append(s if n > 1 else 0)
            s *= n
        return out[::-1], s  # strides, total elements

    pa, a_total = packed_strides(a_sizes, a_panel)
    pb, b_total = packed_strides(b_sizes, b_panel)
    ap = rt.alloc(a_total * esize)
    bp = rt.alloc(b_total * esize)

    na = a_sizes[0] * a_sizes[1] * a_sizes[2]
    nbb = b_sizes[0] * b_sizes[1] * b_sizes[2]
    lk = _fit_local(rt, (_PACK_LOCAL, 1))[0]
    _launch(
        rt,
        _kernel(rt, "gemm_pack", opts),
        (_round_up(K, lk), mblocks + nblocks, max(na, nbb)),
        (lk, 1, 1),
        (
            a.buf, a_off, sam, sak, b.buf, b_off, sbk, sbn, ap, bp, M, N, K, na, nbb,
            a_sizes[1], a_sizes[2], a_strides[0], a_strides[1], a_strides[2],
            b_sizes[1], b_sizes[2], b_strides[0], b_strides[1], b_strides[2],
        ),
    )  # fmt: skip
    lm = _fit_local(rt, (_PACKED_LOCAL_M, 1))[0]
    _launch(
        rt,
        _kernel(rt, "gemm_packed", opts),
        (_round_up(mblocks, lm), nblocks, nbatch),
        (lm, 1, 1),
        (
            ap, bp, c.buf, c_off, M, N, K, nbatch, p[1][0], p[2][0],
            pa[0], pa[1], pa[2], pb[0], pb[1], pb[2],
        ),
    )  # fmt: skip


_tiled_choice = weakref.WeakKeyDictionary()  # rt -> {build options: (kernel, cfg)}


def _tiled_kernel(rt, base_opts):
    """The largest tiled configuration the device and the compiled kernel accept."""
    import pyopencl as cl

    per_rt = _tiled_choice.setdefault(rt, {})
    hit = per_rt.get(base_opts)
    if hit is not None:
        return hit
    sizes = rt.device.max_work_item_sizes
    esize = 8 if "-DREAL=double" in base_opts else 4
    for cfg in _TILED_CFGS:
        tsm, tsn, tsk, wptm, wptn = cfg
        lx, ly = tsn // wptn, tsm // wptm
        if lx > sizes[0] or ly > sizes[1] or lx * ly > rt.max_work_group_size:
            continue
        if tsk * (tsm + tsn + 2) * esize > rt.device.local_mem_size:
            continue
        opts = (
            f"{base_opts} -DTILED -DTSM={tsm} -DTSN={tsn} -DTSK={tsk} -DWPTM={wptm} -DWPTN={wptn}"
        )
        kernel = _kernel(rt, "gemm_tiled", opts)
        wg = kernel.get_work_group_info(cl.kernel_work_group_info.WORK_GROUP_SIZE, rt.device)
        if lx * ly <= wg:
            hit = per_rt[base_opts] = (kernel, cfg)
            return hit
    raise RuntimeError("no tiled GEMM configuration fits this OpenCL device")  # pragma: no cover


def _run_tiled(rt, a, b, c, a_off, b_off, c_off, M, N, K, sam, sak, sbk, sbn, dims):
    real = _real(c.dtype)
    base = " ".join(_common_options(real, a.dtype, b.dtype, c.dtype))
    kernel, (tsm, tsn, _tsk, wptm, wptn) = _tiled_kernel(rt, base)
    lx, ly = tsn // wptn, tsm // wptm
    p = _pad3(dims)
    nbatch = p[0][0] * p[1][0] * p[2][0]
    gsize = (-(-N // tsn) * lx, -(-M // tsm) * ly, nbatch)
    args = (
        a.buf, a_off, sam, sak,
        b.buf, b_off, sbk, sbn,
        c.buf, c_off, M, N, K, nbatch,
        p[1][0], p[2][0],
        p[0][1], p[1][1], p[2][1],
        p[0][2], p[1][2], p[2][2],
    )  # fmt: skip
    _launch(rt, kernel, gsize, (lx, ly, 1), args)
