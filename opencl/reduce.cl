/* Reductions over any set of axes, and arg-reductions.
 * Build options: -DTIN=<input code> -DTOUT=<output code> -DACC=<F32|F64|I64 accumulator>.
 *
 * The host permutes the reduced axes last and passes one Desc (operand 0 = x) whose trailing
 * nr dims are the reduced ones (R elements per output) and whose leading dims enumerate the M
 * outputs; outputs are contiguous. reduce_lines: one work-item per output; reduce_wg: one
 * work-group per (output, part) writing ACC partials that a second reduce_lines pass combines.
 *
 * op: 0 sum, 1 prod, 2 max, 3 min, 4 all, 5 any, 6 nansum, 7 sum((x - c)^2), 8 sum(exp(x - c))
 *     (c: per-output center array, non-finite centers read as 0 for op 8)
 * fin: 0 out = acc, 1 out = acc / div, 2 out = log(acc) + c
 */
#include "common.h"

#define XT DT_TYPE(TIN)
#define XC DT_C(TIN)
#define OT DT_TYPE(TOUT)
#define AT DT_TYPE(ACC)
#define LDX(p, i) DT_LD(TIN)(p, i)
#define STO(p, i, v) DT_ST(TOUT)(p, i, v)
#define ACC_FLOAT DT_IS_FLOAT(ACC)
#define X_FLOAT DT_IS_FLOAT(TIN)
#define DF_RED_LOCAL 256

enum { R_SUM, R_PROD, R_MAX, R_MIN, R_ALL, R_ANY, R_NANSUM, R_SQDEV, R_SUMEXP };

inline AT red_init(const int op) {
    switch (op) {
        case R_PROD: case R_ALL: return (AT)1;
#if ACC_FLOAT
        case R_MAX: return (AT)(-INFINITY);
        case R_MIN: return (AT)INFINITY;
#else
        case R_MAX: return (AT)LONG_MIN;
        case R_MIN: return (AT)LONG_MAX;
#endif
        default: return (AT)0;
    }
}

inline AT red_comb(const int op, const AT a, const AT b) {
    switch (op) {
        case R_PROD: return a * b;
#if ACC_FLOAT
        case R_MAX: return DF_MAXIMUM_F(a, b);
        case R_MIN: return DF_MINIMUM_F(a, b);
#else
        case R_MAX: return max(a, b);
        case R_MIN: return min(a, b);
#endif
        case R_ALL: return (AT)((a != (AT)0) && (b != (AT)0));
        case R_ANY: return (AT)((a != (AT)0) || (b != (AT)0));
        default: return a + b;
    }
}

inline AT red_map(const int op, const XC v, const AT c) {
    switch (op) {
        case R_ALL: case R_ANY: return (AT)(v != (XC)0);
#if X_FLOAT && ACC_FLOAT
        case R_NANSUM: return isnan(v) ? (AT)0 : (AT)v;
        case R_SQDEV: { const AT t = (AT)v - c; return t * t; }
        case R_SUMEXP: return exp((AT)v - c);
#endif
        default: return (AT)v;
    }
}

inline AT red_center(const int op, const int fin, __global const AT* center, const long m) {
    if (op < R_SQDEV && fin != 2) return (AT)0;
    AT c = center[m];
#if ACC_FLOAT
    if (op == R_SUMEXP && !isfinite(c)) c = (AT)0;
#endif
    return c;
}

inline void red_store(__global OT* out, const long i, const int fin, const AT acc, const AT c,
                      const AT div) {
#if ACC_FLOAT
    if (fin == 1) { STO(out, i, acc / div); return; }
    if (fin == 2) { STO(out, i, log(acc) + (isfinite(c) ? c : (AT)0)); return; }
#endif
    STO(out, i, acc);
}

/* offset of x for output m (decomposed over the leading nd - nr dims) */
inline long red_base(const Desc* d, const int nr, long m) {
    long off = D_OFF(*d, 0);
    for (int j = D_NDIM(*d) - nr - 1; j >= 0; --j) {
        const long s = D_SHAPE(*d, j);
        off += (m % s) * D_ST(*d, 0, j);
        m /= s;
    }
    return off;
}

/* offset of reduced element r relative to the output's base */
inline long red_inner(const Desc* d, const int nr, long r) {
    long off = 0;
    const int nd = D_NDIM(*d);
    for (int j = nd - 1; j >= nd - nr; --j) {
        const long s = D_SHAPE(*d, j);
        off += (r % s) * D_ST(*d, 0, j);
        r /= s;
    }
    return off;
}

__kernel void reduce_lines(const Desc d, const long M, const long R, const int nr,
                           __global OT* out, const long oo, __global const XT* x,
                           __global const AT* center, const int op, const int fin, const AT div) {
    const int nd = D_NDIM(d);
    FOR_RANGE(m, M) {
        const long base = red_base(&d, nr, m);
        const AT c = red_center(op, fin, center, m);
        AT acc = red_init(op);
        if (nr == 1) {
            const long s = D_ST(d, 0, nd - 1);
            if (op == R_SUM) {
                for (long r = 0; r < R; ++r) acc += (AT)LDX(x, base + r * s);
            } else {
                for (long r = 0; r < R; ++r) acc = red_comb(op, acc, red_map(op, LDX(x, base + r * s), c));
            }
        } else {
            long idx[DF_MAXD];
            for (int j = 0; j < nd; ++j) idx[j] = 0;
            long o = base;
            for (long r = 0; r < R; ++r) {
                acc = red_comb(op, acc, red_map(op, LDX(x, o), c));
                for (int j = nd - 1; j >= nd - nr; --j) {
                    o += D_ST(d, 0, j);
                    if (++idx[j] < D_SHAPE(d, j)) break;
                    o -= D_SHAPE(d, j) * D_ST(d, 0, j);
                    idx[j] = 0;
                }
            }
        }
        red_store(out, oo + m, fin, acc, c, div);
    }
}

/* one group per (output m, part p) with P parts; partial results (P > 1) are raw ACC values */
__kernel void reduce_wg(const Desc d, const long M, const long R, const int nr, const long P,
                        __global OT* out, const long oo, __global const XT* x,
                        __global const AT* center, const int op, const int fin, const AT div) {
    __local AT scratch[DF_RED_LOCAL];
    const long g = get_group_id(0);
    const long m = g / P, part = g % P;
    const int lid = get_local_id(0), L = get_local_size(0);
    const long chunk = (R + P - 1) / P;
    const long lo = part * chunk, hi = min(R, lo + chunk);
    const long base = red_base(&d, nr, m);
    const AT c = red_center(op, fin, center, m);
    AT acc = red_init(op);
    if (nr == 1) {
        const long s = D_ST(d, 0, D_NDIM(d) - 1);
        if (op == R_SUM) {
            for (long r = lo + lid; r < hi; r += L) acc += (AT)LDX(x, base + r * s);
        } else {
            for (long r = lo + lid; r < hi; r += L)
                acc = red_comb(op, acc, red_map(op, LDX(x, base + r * s), c));
        }
    } else {
        for (long r = lo + lid; r < hi; r += L)
            acc = red_comb(op, acc, red_map(op, LDX(x, base + red_inner(&d, nr, r)), c));
    }
    scratch[lid] = acc;
    for (int s_r = L >> 1; s_r > 0; s_r >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s_r) scratch[lid] = red_comb(op, scratch[lid], scratch[lid + s_r]);
    }
    if (lid == 0) {
        if (P == 1) red_store(out, oo + m, fin, scratch[0], c, div);
        else STO(out, oo + g, scratch[0]);
    }
}

/* ---- arg-reductions: (value, index) pairs, first index on ties, NaN beats everything ---- */
inline int arg_better(const int is_max, const XC v, const long i, const XC bv, const long bi) {
#if X_FLOAT
    const int vn = isnan(v), bn = isnan(bv);
    if (vn != bn) return vn;
    if (vn) return i < bi;
#endif
    if (v == bv) return i < bi;
    return is_max ? (v > bv) : (v < bv);
}

/* vals (TIN storage) and idx outputs contiguous per output (or per (output, part) when
   written by arg_wg). has_idx: the input already carries indices (second pass). */
__kernel void arg_lines(const Desc d, const long M, const long R, const int nr,
                        __global XT* vals, __global long* idx, __global const XT* x,
                        __global const long* xidx, const int has_idx, const int is_max) {
    const int nd = D_NDIM(d);
    FOR_RANGE(m, M) {
        const long base = red_base(&d, nr, m);
        XC bv = (XC)0;
        long bi = -1;
        for (long r = 0; r < R; ++r) {
            const long o = base + (nr == 1 ? r * D_ST(d, 0, nd - 1) : red_inner(&d, nr, r));
            const XC v = LDX(x, o);
            const long i = has_idx ? xidx[o] : r;
            if (bi < 0 || arg_better(is_max, v, i, bv, bi)) {
                bv = v;
                bi = i;
            }
        }
        DT_ST(TIN)(vals, m, bv);
        idx[m] = bi;
    }
}

__kernel void arg_wg(const Desc d, const long M, const long R, const int nr, const long P,
                     __global XT* vals, __global long* idx, __global const XT* x, const int is_max) {
    __local XC sv[DF_RED_LOCAL];
    __local long si[DF_RED_LOCAL];
    const long g = get_group_id(0);
    const long m = g / P, part = g % P;
    const int lid = get_local_id(0), L = get_local_size(0);
    const long chunk = (R + P - 1) / P;
    const long lo = part * chunk, hi = min(R, lo + chunk);
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
            if (oi >= 0 && (si[lid] < 0 || arg_better(is_max, sv[lid + s_r], oi, sv[lid], si[lid]))) {
                sv[lid] = sv[lid + s_r];
                si[lid] = oi;
            }
        }
    }
    if (lid == 0) {
        DT_ST(TIN)(vals, g, sv[0]);
        idx[g] = si[0];
    }
}
