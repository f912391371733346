/* Arg-reductions: (value, index) pairs, first index on ties, NaN beats everything (the first
 * NaN wins), as in PyTorch. Build options and the Desc layout as in reduce.cl.
 * arg_lines: a work-item per (output, part of R); arg_cols (CPU devices, reduced axes outside
 * the innermost kept one): a work-item per (block of 64 adjacent outputs, part); arg_wg (GPUs,
 * few long reductions): a work-group per (output, part).
 */
#include "common.h"
#include "reduce_common.h"

inline int arg_better(const int is_max, const XC v, const long i, const XC bv, const long bi) {
#if X_FLOAT
    const int vn = isnan(v), bn = isnan(bv);
    if (vn != bn) return vn;
    if (vn) return i < bi;
#endif
    if (v == bv) return i < bi;
    return is_max ? (v > bv) : (v < bv);
}

/* Lane-wise step for elements that come later than the lane's best: strictly better, or the
   first NaN. */
#if X_FLOAT
#define ARG_GT(v, b) ((((v) > (b)) | isnan(v)) & ~isnan(b))
#define ARG_LT(v, b) ((((v) < (b)) | isnan(v)) & ~isnan(b))
#else
#define ARG_GT(v, b) ((v) > (b))
#define ARG_LT(v, b) ((v) < (b))
#endif
#define ARG_BLK 1024
#define ARG_STEP(BETTER, bv, bi, o, r)                                                    \
    {                                                                                     \
        const XV v_ = LDV(x, o);                                                          \
        const XM t_ = BETTER(v_, bv);                                                     \
        bv = select(bv, v_, t_);                                                          \
        bi = select(bi, (long16)(r), convert_long16(t_));                                 \
    }

/* One work-item per (output, part of R): vals (TIN storage) and idx at [p * M + m] (just [m]
   when P == 1). has_idx: the input already carries indices (the pass over partials). */
__kernel void arg_lines(const Desc d, const long M, const long R, const int nr, const long P,
                        __global XT* vals, __global long* idx, __global const XT* x,
                        __global const long* xidx, const int has_idx, const int is_max) {
    const int nd = D_NDIM(d);
    const bool contig = nr == 1 && D_ST(d, 0, nd - 1) == 1 && !has_idx;
    RED_FOR(v, M * P) {
        const long m = v % M, part = v / M;
        const long lo = PART_LO(part, R, P), hi = PART_LO(part + 1, R, P);
        const long base = red_base(&d, nr, m);
        XC bv = (XC)0;
        long bi = -1;
        long r = lo;
        if (contig && hi - lo >= 16) {
            /* the extremum of each block of ARG_BLK elements (vectorised, see red_xcontig),
               keeping the first block with the best one, then the first element of that
               block equal to it (or the first NaN): one extra read of a block in cache */
            const int op = is_max ? R_MAX : R_MIN;
            long bb = lo;
            for (long b0 = lo; b0 < hi; b0 += ARG_BLK) {
                const XC e = red_xcontig(op, x, base + b0, min((long)ARG_BLK, hi - b0));
                if (b0 == lo || (is_max ? ARG_GT(e, bv) : ARG_LT(e, bv)) != 0) {
                    bv = e;
                    bb = b0;
                }
            }
            const long be = min(bb + ARG_BLK, hi);
#if X_FLOAT
#define ARG_HIT(v) (isnan(bv) ? isnan(v) : (v) == bv)
#else
#define ARG_HIT(v) ((v) == bv)
#endif
            for (r = bb; r + 16 <= be; r += 16)
                if (any(ARG_HIT(LDV(x, base + r)))) break;
            for (; r < be; ++r)
                if (ARG_HIT(LDX(x, base + r))) break;
            bi = r;
            r = hi;
        }
        for (; r < hi; ++r) {
            const long o = base + (nr == 1 ? r * D_ST(d, 0, nd - 1) : red_inner(&d, nr, r));
            const XC val = LDX(x, o);
            const long i = has_idx ? xidx[o] : r;
            if (i < 0) continue;  /* an empty part's partial (none when P <= R) */
            if (bi < 0 || arg_better(is_max, val, i, bv, bi)) {
                bv = val;
                bi = i;
            }
        }
        DT_ST(TIN)(vals, v, bv);
        idx[v] = bi;
    }
}

/* Reductions over outer axes on CPU devices (as reduce_cols): 64 adjacent contiguous outputs
   per work-item in 4 vectors of lanes, each reduced element one contiguous 64-element read. */
__kernel void arg_cols(const Desc d, const long M, const long R, const int nr, const long P,
                       __global XT* vals, __global long* idx, __global const XT* x,
                       const int is_max) {
    const int jm = D_NDIM(d) - nr - 1;
    const long Mi = D_SHAPE(d, jm), sm = D_ST(d, 0, jm);
    const long nb = (Mi + 63) / 64, units = M / Mi * nb;
    RED_FOR(v, units * P) {
        const long u = v % units, part = v / units;
        const long m0 = u / nb * Mi + u % nb * 64;
        const int w = (int)min(64L, Mi - u % nb * 64);
        const long lo = PART_LO(part, R, P), hi = PART_LO(part + 1, R, P);
        const long base = red_base(&d, nr, m0);
        const long dst = part * M + m0;
        if (sm == 1 && w == 64 && lo < hi) {
            const long o0 = base + red_inner(&d, nr, lo);
            XV b0 = LDV(x, o0), b1 = LDV(x, o0 + 16), b2 = LDV(x, o0 + 32), b3 = LDV(x, o0 + 48);
            long16 i0 = (long16)lo, i1 = i0, i2 = i0, i3 = i0;
            for (long r = lo + 1; r < hi; ++r) {
                const long o = base + red_inner(&d, nr, r);
                if (is_max) {
                    ARG_STEP(ARG_GT, b0, i0, o, r) ARG_STEP(ARG_GT, b1, i1, o + 16, r)
                    ARG_STEP(ARG_GT, b2, i2, o + 32, r) ARG_STEP(ARG_GT, b3, i3, o + 48, r)
                } else {
                    ARG_STEP(ARG_LT, b0, i0, o, r) ARG_STEP(ARG_LT, b1, i1, o + 16, r)
                    ARG_STEP(ARG_LT, b2, i2, o + 32, r) ARG_STEP(ARG_LT, b3, i3, o + 48, r)
                }
            }
            /* lanes are outputs here: store them directly */
#define ARG_PUT(k, bv, bi)                                                                \
    {                                                                                     \
        XC vs_[16];                                                                       \
        vstore16(bv, 0, vs_);                                                             \
        for (int j = 0; j < 16; ++j) DT_ST(TIN)(vals, dst + 16 * k + j, vs_[j]);          \
        vstore16(bi, 0, idx + dst + 16 * k);                                              \
    }
            ARG_PUT(0, b0, i0) ARG_PUT(1, b1, i1) ARG_PUT(2, b2, i2) ARG_PUT(3, b3, i3)
        } else {
            for (int j = 0; j < w; ++j) {
                XC bv = (XC)0;
                long bi = -1;
                for (long r = lo; r < hi; ++r) {
                    const XC val = LDX(x, base + j * sm + red_inner(&d, nr, r));
                    if (bi < 0 || arg_better(is_max, val, r, bv, bi)) {
                        bv = val;
                        bi = r;
                    }
                }
                DT_ST(TIN)(vals, dst + j, bv);
                idx[dst + j] = bi;
            }
        }
    }
}

__kernel void arg_wg(const Desc d, const long M, const long R, const int nr, const long P,
                     __global XT* vals, __global long* idx, __global const XT* x,
                     const int is_max) {
    __local XC sv[DF_RED_LOCAL];
    __local long si[DF_RED_LOCAL];
    const long g = get_group_id(0);
    const long m = g / P, part = g % P;
    const int lid = get_local_id(0), L = get_local_size(0);
    const long lo = PART_LO(part, R, P), hi = PART_LO(part + 1, R, P);
    const long base = red_base(&d, nr, m);
    XC bv = (XC)0;
    long bi = -1;
    for (long r = lo + lid; r < hi; r += L) {
        const XC v = LDX(x, base + red_inner(&d, nr, r));
        if (bi < 0 || arg_better(is_max, v, r, bv, bi)) {
            bv = v;
            bi = r;
        }
    }
    sv[lid] = bv;
    si[lid] = bi;
    for (int s_r = L >> 1; s_r > 0; s_r >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s_r) {
            const long oi = si[lid + s_r];
            if (oi >= 0 &&
                (si[lid] < 0 || arg_better(is_max, sv[lid + s_r], oi, sv[lid], si[lid]))) {
                sv[lid] = sv[lid + s_r];
                si[lid] = oi;
            }
        }
    }
    if (lid == 0) {
        DT_ST(TIN)(vals, part * M + m, sv[0]);
        idx[part * M + m] = si[0];
    }
}
