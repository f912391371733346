/* Sorting along one axis with a bitonic network over (value, original index) pairs, which
 * makes the result stable: ascending puts NaN last, descending puts NaN first, and equal
 * values keep their input order either way. Built per -DT=<code>.
 * Each line is padded to P = 2^p slots; pad slots carry index >= n and sort after all values.
 * sort_init fills the work arrays, sort_step runs one (k, j) stage for every line at once,
 * sort_block runs the stages that stay inside blocks of slots, sort_finish writes values and
 * indices out.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)

/* 1 if (a, ia) must come before (b, ib) */
inline int sort_before(const TC a, const long ia, const TC b, const long ib, const long n,
                       const int desc) {
    if (ia >= n || ib >= n) return ia < ib;
#if DT_IS_FLOAT(T)
    const int an = isnan(a), bn = isnan(b);
    if (an || bn) {
        if (an && bn) return ia < ib;
        return desc ? an : bn;
    }
#endif
    if (a == b) return ia < ib;
    return desc ? (a > b) : (a < b);
}

/* compare-exchange of slots a and b (a before b when ``up``): unconditional stores of the
   selected values, so loops over pairs vectorise on CPU devices (a macro: PoCL does not
   vectorise the loops once this is an inline function) */
#define SORT_CMPX(a_, b_, up_)                                                            \
    {                                                                                     \
        const long a = (a_), b = (b_);                                                    \
        const TC va = LD(keys, a), vb = LD(keys, b);                                      \
        const long ia = idx[a], ib = idx[b];                                              \
        const int sw = (up_) ? sort_before(vb, ib, va, ia, n, desc)                       \
                             : sort_before(va, ia, vb, ib, n, desc);                      \
        ST(keys, a, sw ? vb : va);                                                        \
        ST(keys, b, sw ? va : vb);                                                        \
        idx[a] = sw ? ib : ia;                                                            \
        idx[b] = sw ? ia : ib;                                                            \
    }

/* operands: 0 keys (work), 1 idx (work), 2 x; iteration shape (other dims..., n) */
__kernel void sort_init(const Desc d, const long n, __global TS* keys, __global long* idx,
                        __global const TS* x) {
    STRIDED_BEGIN(d)
    ST(keys, p0, LD(x, p2));
    idx[p1] = DF_LIN % n;
    STRIDED_END(d)
}

__kernel void sort_step(const long pairs, const long P, const long n, const long k, const long j,
                        __global TS* keys, __global long* idx, const int desc) {
    /* P, k and j are powers of 2 (j < P): pair t of a stage is slot a = 2t - (t mod j) and
       a + j, without 64-bit divisions */
    FOR_RANGE(t, pairs) {
        const long a0 = 2 * t - (t & (j - 1));
        SORT_CMPX(a0, a0 + j, ((a0 & (P - 1)) & k) == 0)
    }
}

/* sort_block: the stages (kk, j) whose pairs stay inside aligned blocks of ``bs`` slots
 * (j < bs), for kk from k_lo to k_hi (powers of 2); the first kk starts at j = j0, later ones
 * at kk / 2. One launch replaces log2(bs) sort_step launches per kk and works in cache (CPU)
 * or local memory (GPU). bs is a power of 2, at most SORT_BLOCK, and divides P. */
#ifndef SORT_BLOCK
#define SORT_BLOCK 1024
#endif

#ifdef DF_CPU
/* one work-item per block, its stages in order */
__kernel void sort_block(const long nblocks, const long P, const long n, const long bs,
                         const long k_lo, const long k_hi, const long j0,
                         __global TS* keys, __global long* idx, const int desc) {
    for (long blk = get_global_id(0); blk < nblocks; blk += get_global_size(0)) {
        const long base = blk * bs, i0 = base % P;
        for (long kk = k_lo; kk <= k_hi; kk <<= 1) {
            for (long j = (kk == k_lo) ? j0 : (kk >> 1); j >= 1; j >>= 1) {
                for (long s = 0; s < bs; s += 2 * j) {
                    const int up = ((i0 + s) & kk) == 0;  /* same for the whole run (kk > j) */
                    for (long q = 0; q < j; q++)
                        SORT_CMPX(base + s + q, base + s + q + j, up)
                }
            }
        }
    }
}
#else
/* one work-group per block, in local memory */
__kernel void sort_block(const long nblocks, const long P, const long n, const long bs,
                         const long k_lo, const long k_hi, const long j0,
                         __global TS* keys, __global long* idx, const int desc) {
    __local TC lk[SORT_BLOCK];
    __local long li[SORT_BLOCK];
    const long blk = get_group_id(0);
    const long lid = get_local_id(0), lsz = get_local_size(0);
    const long base = blk * bs, i0 = base % P, hb = bs >> 1;
    for (long t = lid; t < bs; t += lsz) {
        lk[t] = LD(keys, base + t);
        li[t] = idx[base + t];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (long kk = k_lo; kk <= k_hi; kk <<= 1) {
        for (long j = (kk == k_lo) ? j0 : (kk >> 1); j >= 1; j >>= 1) {
            for (long h = lid; h < hb; h += lsz) {
                const long a = 2 * h - (h & (j - 1)), b = a + j;
                const int up = ((i0 + a) & kk) == 0;
                const TC va = lk[a], vb = lk[b];
                const long ia = li[a], ib = li[b];
                if (up ? sort_before(vb, ib, va, ia, n, desc)
                       : sort_before(va, ia, vb, ib, n, desc)) {
                    lk[a] = vb;
                    lk[b] = va;
                    li[a] = ib;
                    li[b] = ia;
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    for (long t = lid; t < bs; t += lsz) {
        ST(keys, base + t, lk[t]);
        idx[base + t] = li[t];
    }
}
#endif

/* operands: 0 values out, 1 indices out, 2 keys, 3 idx */
__kernel void sort_finish(const Desc d, __global TS* vals, __global long* iout,
                          __global const TS* keys, __global const long* idx) {
    STRIDED_BEGIN(d)
    ST(vals, p0, LD(keys, p2));
    iout[p1] = idx[p3];
    STRIDED_END(d)
}
