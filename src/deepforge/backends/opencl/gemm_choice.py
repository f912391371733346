"""Which OpenCL GEMM kernel runs a product (``gemm.matmul``): by device type, dtypes, size and
operand layout, from timings taken on PoCL (Zen 4, float32, launches queued back to back).
GPUs take the tiled kernel; CPU devices the packed one, or for small and mid-size products
one of the single-launch kernels (gemm_direct, gemm_dot), where a training step of a small
model is mostly launches."""

from __future__ import annotations

import os

import numpy as np

__all__ = ["choose_variant", "dot_layout", "DOT_M", "DOT_N", "PACKED_CFG", "VARIANTS"]

VARIANTS = ("packed", "direct", "tiled", "naive")
_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
# rows per work-item, vector width, vectors per row of the register-blocked kernels (gemm.py)
PACKED_CFG = {"float": (8, 16, 2), "double": (8, 8, 2)}

# Float problems with at most this many multiply-adds go to the naive kernel on CPU devices
# when gemm_direct does not take them: one launch beats two (pack, multiply) there.
_NAIVE_MAX_FLOPS_CPU = 32 * 32 * 32
# ... and up to this many to gemm_direct (no packing launch). Measured on PoCL/Zen 4, float32,
# launches queued back to back: 32x64x128 17 us against 26 packed, 256^3 232 against 343,
# 512^3 1.36 ms against 1.82, 768^3 5.2 against 5.6; 1024^3 12.5 against 11.7 and 2048^3 127
# against 78 (panels a work-group reuses from cache: packing pays off).
_DIRECT_MAX_FLOPS_CPU = 768 * 768 * 768
# ... and, with a right edge block (N not a multiple of the block's 32 columns) or A read
# along M (a.mT), up to this many: 64x64x100 26 us against 44, 128x128x200 76 against 80,
# 256x256x784 842 against 686; A.mT 128^3 47 against 56, 128x512x128 131 against 141.
_DIRECT_SMALL_FLOPS_CPU = 1 << 22
# gemm_dot's block (DM x DN in gemm_direct.cl): for A and B both contiguous along K (x @ W.T),
# taken up to _DIRECT_SMALL_FLOPS_CPU, or for a long K (packing costs K (M + N)) over a small
# output. Measured as above: 32x64x128 17 us against 24 packed, 64x256x256 110 against 112,
# 32x784x256 111 against 178, 100x1000x10 40 against 111; 256^3 375 against 233, 512^3 1.98
# ms against 1.71, 2000x64x64 213 us against 161.
DOT_M, DOT_N = 4, 4
_DOT_LONG_K_MAX_MN = 1 << 14


def dot_layout(sak, sbk, sbn, K, vw):
    """Whether gemm_dot takes the operands: both unit-stride along K, K at least one vector,
    and B's rows not contiguous (then gemm_direct's vectors along N are the better fit)."""
    return sak == 1 and sbk == 1 and sbn != 1 and K >= vw


def choose_variant(rt, variant, a_dt, b_dt, c_dt, M, N, K, strides=(1, 0, 1)):
    """The kernel variant for an M x K @ K x N product; ``strides``: (sak, sbk, sbn)."""
    v = variant or os.environ.get("DEEPFORGE_OPENCL_GEMM") or "auto"
    if v != "auto" and v not in VARIANTS:
        raise ValueError(f"unknown OpenCL GEMM variant {v!r}; expected one of {VARIANTS}")
    if K == 0 or not (a_dt in _FLOATS and b_dt in _FLOATS and c_dt in _FLOATS):
        return "naive"  # integer/bool matmul; K == 0 (writes zeros)
    if v != "auto":
        return v
    if not rt.is_cpu:
        return "tiled"
    # matrix @ vector (N == 1): a 32-column register block would compute 31 columns for nothing
    if N == 1:
        return "naive"
    # the single-launch kernels (variant "direct"): gemm_direct with B's rows contiguous,
    # gemm_dot with both operands along K
    sak, sbk, sbn = strides
    _, vw, nv = PACKED_CFG["double" if c_dt == np.float64 else "float"]
    flops = M * N * K
    if sbn == 1 and b_dt != np.float16 and N >= vw * nv:
        # whole column blocks and rows of A along K: up to mid sizes; a right edge block (its
        # scalar path) or a transposed A: small products only. (N below one block: every
        # block would take the edge path.)
        whole = N % (vw * nv) == 0 and sak == 1
        if flops <= (_DIRECT_MAX_FLOPS_CPU if whole else _DIRECT_SMALL_FLOPS_CPU):
            return "direct"
    elif dot_layout(sak, sbk, sbn, K, vw) and (
        flops <= _DIRECT_SMALL_FLOPS_CPU or (K >= 512 and M * N <= _DOT_LONG_K_MAX_MN)
    ):
        return "direct"
    # tiny products otherwise: one launch beats two
    if M * N * K <= _NAIVE_MAX_FLOPS_CPU:
        return "naive"
    return "packed"

