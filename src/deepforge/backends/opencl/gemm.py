"""OpenCL GEMM: ``matmul(rt, a, b, out_dtype)`` for strided, batched, broadcast CLArrays.

Kernels live in ``opencl/gemm.cl`` and ``opencl/gemm_direct.cl``. Four variants:

``packed`` (CPU devices, the default when ``rt.is_cpu``)
    One packing launch reads A and B *in place* through their strides (any layout: ``x.mT``,
    slices, offsets, negative strides, broadcast batch dims) into zero-padded panels,
    ``Ap[mb][k][TM]`` and ``Bp[nb][k][VW*NV]`` (each operand over its own batch items only);
    then one work-item per ``TM x VW*NV`` block of C (8 x 32 for float32, 8 x 16 for float64)
    keeps the block in 16 vector registers and streams both panels over K: per k, two
    ``vload16`` of B, eight broadcasts of A, sixteen ``fma``. No local memory and no barriers:
    on PoCL a barrier spills the accumulators, which costs most of the speed.
``direct`` (CPU devices, small and mid-size products)
    The same register block with no packing launch: ``gemm_direct`` reads B's rows as
    vectors and A element by element in place (B rows contiguous), ``gemm_dot`` keeps 4 x 4
    vector dot products along K when both operands are contiguous along K (``x @ W.T``, a
    linear layer). Chosen by size and layout (``gemm_choice.py``): a training step of a small
    model is mostly launches, and this saves one per product.
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

``DEEPFORGE_OPENCL_GEMM=packed|direct|tiled|naive`` (or the ``variant`` argument) forces a float
variant, which is how the tests run the GPU kernel on PoCL.
"""

from __future__ import annotations

import itertools
import weakref

import numpy as np

from .gemm_choice import DOT_M, DOT_N, PACKED_CFG, VARIANTS, choose_variant, dot_layout

__all__ = ["matmul", "VARIANTS"]

FILENAME = "gemm.cl"
DIRECT_FILENAME = "gemm_direct.cl"

# Local sizes are fixed, never derived from the problem size: PoCL compiles a kernel once per
# distinct local size. gemm_packed work-groups: 1 row block x 8 column blocks, so a group's
# work-items share one A panel (measured on PoCL/Zen 4, one thread, 2048^3: 1x8 109 GFLOP/s
# per core, 4x1 90, 1x4 102, 2x8 105, 1x16 105; OpenBLAS 97):
_PACKED_LOCAL = (1, 8)
# ... and along row/column blocks for the packing kernel, whose work-items each pack
# _PACK_KC (= KC in gemm.cl) consecutive k:
_PACK_LOCAL = 8
_PACK_KC = 16
_PACK_CHUNKS = 8  # runs of _PACK_KC per packing work-item (passed to gemm.cl)
# gemm_naive: (8, 8), or (1, 64) for matrix @ vector
_NAIVE_LOCAL = ((8, 8), (1, 64))

# Tiled path configurations, best first: (TSM, TSN, TSK, WPTM, WPTN).
_TILED_CFGS = (
    (64, 64, 16, 4, 4),  # 16 x 16 work-items
    (32, 32, 16, 4, 4),  # 8 x 8
    (16, 16, 16, 2, 2),  # 8 x 8
    (8, 8, 8, 2, 2),  # 4 x 4
    (4, 4, 4, 2, 2),  # 2 x 2
    (1, 1, 1, 1, 1),  # 1 x 1: always fits
)

# Batch items per launch: some GPU drivers cap the third global dimension at 65535 groups.
_MAX_Z = 65535

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
_F64 = np.dtype(np.float64)

_L, _I = np.int64, np.int32
# Scalar argument types per kernel (None: a buffer). Typed kernels take plain Python ints and
# set their arguments ~100x faster than with numpy scalars.
_ARG_TYPES = {
    "gemm_naive": [None, _L, _L, _L, None, _L, _L, _L, None, _L] + [_I] * 4 + [_L] * 8,
    "gemm_tiled": [None, _L, _L, _L, None, _L, _L, _L, None, _L] + [_I] * 4 + [_L] * 8,
    "gemm_pack": [None, _L, _L, _L, None, _L, _L, _L, None, None] + [_I] * 5 + [_L] * 10,
    "gemm_packed": [None, None, None, _L] + [_I] * 4 + [_L] * 8,
    "gemm_direct": [None, _L, _L, _L, None, _L, _L, _L, None, _L] + [_I] * 4 + [_L] * 8
    + [None, _L, _L, _I],
    "gemm_dot": [None, _L, _L, _L, None, _L, _L, _L, None, _L] + [_I] * 4 + [_L] * 8
    + [None, _L, _L, _I],
}


def matmul(rt, a, b, out_dtype, variant=None, bias=None):
    """``a @ b`` with numpy matmul semantics for ``a`` (..., M, K) and ``b`` (..., K, N).

    Both operands have ``ndim >= 2``; batch dims broadcast. Operands are read in place
    through their strides and offsets (no copies); the result is a new C-contiguous CLArray
    of ``out_dtype``. ``variant`` (or ``DEEPFORGE_OPENCL_GEMM``): ``"packed"``, ``"tiled"``,
    ``"naive"`` or ``"auto"``/None (by device type and problem size). ``bias``: a 1-D
    CLArray of N elements of ``out_dtype`` added to every row of a 2-D product inside the
    kernel, where the chosen kernel can (``direct``); otherwise None is returned and the
    caller adds it.
    """
    from .array import CLArray

    if a.ndim < 2 or b.ndim < 2:
        raise RuntimeError("matmul: both arguments need at least 2 dimensions here")
    M, K = a.shape[-2:]
    K2, N = b.shape[-2:]
    if K != K2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({M}x{K} and {K2}x{N})")
    out_dtype = np.dtype(out_dtype)

    # broadcast batch dims: (size, A stride, B stride), stride 0 where an operand broadcasts
    na, nb = a.ndim - 2, b.ndim - 2
    nbatch = max(na, nb)
    batch, bdims = [], []
    for i in range(nbatch):
        ia, ib = i - (nbatch - na), i - (nbatch - nb)
        x = a.shape[ia] if ia >= 0 else 1
        y = b.shape[ib] if ib >= 0 else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i}"
            )
        n = y if x == 1 else x
        batch.append(n)
        if n != 1:
            bdims.append((n, a.strides[ia] if x != 1 else 0, b.strides[ib] if y != 1 else 0))

    out = CLArray.empty(rt, (*batch, M, N), out_dtype)
    if M == 0 or N == 0 or 0 in batch:
        return out
    if _F64 in (out_dtype, a.dtype, b.dtype) and not _has_fp64(rt):
        raise RuntimeError(
            f"float64 is not supported by OpenCL device '{rt.device.name.strip()}' (no "
            "cl_khr_fp64); use .float() to compute in float32"
        )

    sam, sak = a.strides[-2], a.strides[-1]
    sbk, sbn = b.strides[-2], b.strides[-1]
    dims = _collapse_batch(bdims) if len(bdims) > 1 else bdims
    m_eff = M
    # B shared by the whole batch and A's batch dim steps over whole row blocks: fold the
    # batch into M (one big GEMM; C is contiguous, so its rows line up).
    if len(dims) == 1 and dims[0][2] == 0 and (M == 1 or dims[0][1] == M * sam):
        if M == 1:
            sam = dims[0][1]
        m_eff = dims[0][0] * M
        dims = []

    v = choose_variant(rt, variant, a.dtype, b.dtype, out_dtype, m_eff, N, K, (sak, sbk, sbn))
    setup = _setup(rt, v, a.dtype, b.dtype, out_dtype)
    run = _RUN[v]
    if bias is not None:
        if v != "direct" or dims or bias.dtype != out_dtype or bias.shape != (N,):
            return None
        _run_direct(setup, rt, a.buf, b.buf, out.buf, a.offset, b.offset, out.offset,
                    m_eff, N, K, sam, sak, sbk, sbn, dims, bias)  # fmt: skip
        return out
    if len(dims) <= 3:
        run(setup, rt, a.buf, b.buf, out.buf, a.offset, b.offset, out.offset,
            m_eff, N, K, sam, sak, sbk, sbn, dims)  # fmt: skip
        return out
    # more than 3 batch dims left after collapsing: loop on the host over the leading ones
    outer, inner = dims[:-3], dims[-3:]
    c_step = m_eff * N
    for n, _, _ in inner:
        c_step *= n
    c_strides = []
    for n, _, _ in reversed(outer):
        c_strides.append(c_step)
        c_step *= n
    c_strides.reverse()
    for idx in itertools.product(*(range(d[0]) for d in outer)):
        a_off = a.offset + sum(i * d[1] for i, d in zip(idx, outer))
        b_off = b.offset + sum(i * d[2] for i, d in zip(idx, outer))
        c_off = out.offset + sum(i * cs for i, cs in zip(idx, c_strides))
        run(setup, rt, a.buf, b.buf, out.buf, a_off, b_off, c_off,
            m_eff, N, K, sam, sak, sbk, sbn, inner)  # fmt: skip
    return out


# -------------------------------------------------------------------------------------------
# variant choice, build options, cached per-(device, variant, dtypes) setups
# -------------------------------------------------------------------------------------------
def _has_fp64(rt):
    has = getattr(rt, "has_fp64", None)
    return "cl_khr_fp64" in rt.device.extensions if has is None else has



def _collapse_batch(dims):
    """Merge adjacent (size, A stride, B stride) batch dims contiguous in A and B (C is)."""
    out = [dims[0]]
    for n, x, y in dims[1:]:
        pn, px, py = out[-1]
        if px == x * n and py == y * n:
            out[-1] = (pn * n, x, y)
        else:
            out.append((n, x, y))
    return out


def _cl_type(dt):
    try:
        return _CL_TYPES[np.dtype(dt)]
    except KeyError:
        raise TypeError(f"matmul on OpenCL does not support dtype {np.dtype(dt)}") from None


def _options(real, a_dt, b_dt, c_dt):
    ta, tb, tc = _cl_type(a_dt), _cl_type(b_dt), _cl_type(c_dt)
    opts = [f"-DREAL={real}", f"-DA_T={ta}", f"-DB_T={tb}", f"-DC_T={tc}"]
    for name, dt in (("A", a_dt), ("B", b_dt), ("C", c_dt)):
        if dt == np.float16:
            opts.append(f"-D{name}_HALF")
    if "double" in (real, ta, tb, tc):
        opts.append("-DNEED_FP64")
    return opts


def _kernel(rt, name, options):
    filename = DIRECT_FILENAME if name in ("gemm_direct", "gemm_dot") else FILENAME
    return rt.kernel(filename, name, options, scalar_dtypes=_ARG_TYPES[name])


def _fit_local(rt, lx, ly):
    """Shrink a 2-D local size until the device accepts it."""
    sizes = rt.device.max_work_item_sizes
    mx = rt.max_work_group_size
    while lx > 1 and (lx > sizes[0] or lx * ly > mx):
        lx //= 2
    while ly > 1 and (ly > sizes[1] or lx * ly > mx):
        ly //= 2
    return max(lx, 1), max(ly, 1)


_setups = weakref.WeakKeyDictionary()  # rt -> {(variant, dtypes): setup dict}


def _setup(rt, v, a_dt, b_dt, c_dt):
    per_rt = _setups.get(rt)
    if per_rt is None:
        per_rt = _setups[rt] = {}
    key = (v, a_dt, b_dt, c_dt)
    s = per_rt.get(key)
    if s is None:
        s = per_rt[key] = _MAKE[v](rt, a_dt, b_dt, c_dt)
    return s


def _real(c_dt):
    return "double" if c_dt == _F64 else "float"


def _make_naive(rt, a_dt, b_dt, c_dt):
    if c_dt in _FLOATS:
        acc = _real(c_dt)
    elif c_dt == np.bool_:
        acc = "int"
    elif c_dt.itemsize == 8:
        acc = _cl_type(c_dt)
    else:  # narrow ints accumulate in 32 bits and wrap like numpy when stored
        acc = "int" if c_dt.kind == "i" else "uint"
    opts = _options(_real(c_dt), a_dt, b_dt, c_dt) + ["-DNAIVE", f"-DACC_T={acc}"]
    if c_dt == np.bool_:
        opts.append("-DC_BOOL")
    return {
        "kernel": _kernel(rt, "gemm_naive", " ".join(opts)),
        "local": [_fit_local(rt, *ls) for ls in _NAIVE_LOCAL],
    }


def _make_packed(rt, a_dt, b_dt, c_dt):
    real = _real(c_dt)
    tm, vw, nv = PACKED_CFG[real]
    opts = _options(real, a_dt, b_dt, c_dt) + ["-DPACKED", f"-DTM={tm}", f"-DVW={vw}", f"-DNV={nv}",
                                                f"-DPACK_CHUNKS={_PACK_CHUNKS}"]
    opts = " ".join(opts)
    return {
        "options": opts,
        "pack": _kernel(rt, "gemm_pack", opts),
        "mm": _kernel(rt, "gemm_packed", opts),
        "tm": tm,
        "nr": vw * nv,
        "esize": 8 if real == "double" else 4,
        "lk": _fit_local(rt, _PACK_LOCAL, 1)[0],
        "lmn": _fit_local(rt, *_PACKED_LOCAL),
    }


def _make_tiled(rt, a_dt, b_dt, c_dt):
    """The largest tiled configuration the device *and* the compiled kernel accept."""
    import pyopencl as cl

    real = _real(c_dt)
    base = " ".join(_options(real, a_dt, b_dt, c_dt))
    esize = 8 if real == "double" else 4
    sizes = rt.device.max_work_item_sizes
    for tsm, tsn, tsk, wptm, wptn in _TILED_CFGS:
        lx, ly = tsn // wptn, tsm // wptm
        if lx > sizes[0] or ly > sizes[1] or lx * ly > rt.max_work_group_size:
            continue
        if tsk * (tsm + tsn + 2) * esize > rt.device.local_mem_size:
            continue
        opts = f"{base} -DTILED -DTSM={tsm} -DTSN={tsn} -DTSK={tsk} -DWPTM={wptm} -DWPTN={wptn}"
        kernel = _kernel(rt, "gemm_tiled", opts)
        wg = kernel.get_work_group_info(cl.kernel_work_group_info.WORK_GROUP_SIZE, rt.device)
        if lx * ly <= wg:
            return {"kernel": kernel, "tile": (tsm, tsn), "local": (lx, ly, 1)}
    raise RuntimeError("no tiled GEMM configuration fits this OpenCL device")  # pragma: no cover


def _make_direct(rt, a_dt, b_dt, c_dt):
    s = _make_packed(rt, a_dt, b_dt, c_dt)  # the same build: the kernels share their code
    s["direct"] = _kernel(rt, "gemm_direct", s["options"])
    s["dot"] = _kernel(rt, "gemm_dot", s["options"])
    s["vw"] = PACKED_CFG[_real(c_dt)][1]
    return s


_MAKE = {"naive": _make_naive, "packed": _make_packed, "direct": _make_direct,
         "tiled": _make_tiled}  # fmt: skip


# -------------------------------------------------------------------------------------------
# launches
# -------------------------------------------------------------------------------------------
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


def _batch3(dims):
    """Up to 3 batch dims as (nbatch, d1, d2, (sa0, sa1, sa2), (sb0, sb1, sb2))."""
    d = [(1, 0, 0)] * (3 - len(dims)) + list(dims)
    return (
        d[0][0] * d[1][0] * d[2][0],
        d[1][0],
        d[2][0],
        (d[0][1], d[1][1], d[2][1]),
        (d[0][2], d[1][2], d[2][2]),
    )


def _run_naive(s, rt, abuf, bbuf, cbuf, a_off, b_off, c_off, M, N, K, sam, sak, sbk, sbn, dims):
    nz, d1, d2, sa, sb = _batch3(dims)
    lx, ly = s["local"][N == 1]
    args = (abuf, a_off, sam, sak, bbuf, b_off, sbk, sbn, cbuf, c_off, M, N, K, nz, d1, d2,
            *sa, *sb)  # fmt: skip
    gsize = (-(-N // lx) * lx, -(-M // ly) * ly, nz)
    _launch(rt, s["kernel"], gsize, (lx, ly, 1), args)


def _run_tiled(s, rt, abuf, bbuf, cbuf, a_off, b_off, c_off, M, N, K, sam, sak, sbk, sbn, dims):
    nz, d1, d2, sa, sb = _batch3(dims)
    tsm, tsn = s["tile"]
    lx, ly, _ = local = s["local"]
    args = (abuf, a_off, sam, sak, bbuf, b_off, sbk, sbn, cbuf, c_off, M, N, K, nz, d1, d2,
            *sa, *sb)  # fmt: skip
    _launch(rt, s["kernel"], (-(-N // tsn) * lx, -(-M // tsm) * ly, nz), local, args)


def _own(sizes, strides):
    """An operand's own batch items (a dim it broadcasts over counts once): (its sizes, its
    batch strides in the packed buffer in units of one panel, the number of items)."""
    own = [n if st != 0 else 1 for n, st in zip(sizes, strides)]
    packed, cnt = [0, 0, 0], 1
    for i in (2, 1, 0):
        if own[i] > 1:
            packed[i] = cnt
            cnt *= own[i]
    return own, packed, cnt


def _run_packed(s, rt, abuf, bbuf, cbuf, a_off, b_off, c_off, M, N, K, sam, sak, sbk, sbn, dims):
    nz, d1, d2, sa, sb = _batch3(dims)
    tm, nr, lk, (lm, ln) = s["tm"], s["nr"], s["lk"], s["lmn"]
    mblocks, nblocks = -(-M // tm), -(-N // nr)
    a_panel, b_panel = mblocks * K * tm, nblocks * K * nr
    sizes = (nz // (d1 * d2), d1, d2)
    a_own, a_pk, na = _own(sizes, sa)
    b_own, b_pk, nbb = _own(sizes, sb)
    ap = rt.alloc(na * a_panel * s["esize"])
    bp = rt.alloc(nbb * b_panel * s["esize"])
    # one launch packs both operands (dim 0: A's row blocks, then B's column blocks)
    nblk = mblocks + nblocks
    _launch(
        rt,
        s["pack"],
        (-(-nblk // lk) * lk, -(-K // (_PACK_KC * _PACK_CHUNKS)), max(na, nbb)),
        (lk, 1, 1),
        (abuf, a_off, sam, sak, bbuf, b_off, sbk, sbn, ap, bp, M, N, K, na, nbb,
         a_own[1], a_own[2], *sa, b_own[1], b_own[2], *sb),
    )  # fmt: skip
    _launch(
        rt,
        s["mm"],
        (-(-mblocks // lm) * lm, -(-nblocks // ln) * ln, nz),
        (lm, ln, 1),
        (ap, bp, cbuf, c_off, M, N, K, nz, d1, d2,
         a_pk[0] * a_panel, a_pk[1] * a_panel, a_pk[2] * a_panel,
         b_pk[0] * b_panel, b_pk[1] * b_panel, b_pk[2] * b_panel),
    )  # fmt: skip


def _run_direct(s, rt, abuf, bbuf, cbuf, a_off, b_off, c_off, M, N, K, sam, sak, sbk, sbn, dims,
                bias=None):
    nz, d1, d2, sa, sb = _batch3(dims)
    lm, ln = s["lmn"]
    fused = (cbuf, 0, 0, 0) if bias is None else (bias.buf, bias.offset, bias.strides[0], 1)
    args = (abuf, a_off, sam, sak, bbuf, b_off, sbk, sbn, cbuf, c_off, M, N, K, nz, d1, d2,
            *sa, *sb, *fused)  # fmt: skip
    if dot_layout(sak, sbk, sbn, K, s["vw"]):  # both along K: vectors along K
        kernel, bm, bn = s["dot"], DOT_M, DOT_N
    else:
        kernel, bm, bn = s["direct"], s["tm"], s["nr"]
    gsize = (_blocks(M, bm, lm), _blocks(N, bn, ln), nz)
    _launch(rt, kernel, gsize, (lm, ln, 1), args)


def _blocks(n, block, local):
    """Work-items for ceil(n / block) blocks, rounded up to a multiple of ``local``."""
    items = -(-n // block)
    return -(-items // local) * local


_RUN = {"naive": _run_naive, "packed": _run_packed, "direct": _run_direct,
        "tiled": _run_tiled}  # fmt: skip
