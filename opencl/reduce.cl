/* Reductions over any set of axes, and arg-reductions.
 * Build options: -DTIN=<input code> -DTOUT=<output code> -DACC=<F32|F64|I64 accumulator>.
 *
 * The host passes one Desc (operand 0 = x) whose trailing nr dims are the reduced ones (R
 * elements per output) and whose leading dims enumerate the M outputs; outputs are
 * contiguous. reduce_lines: a work-item per (output, part of R); reduce_cols (CPU devices,
 * reductions over outer axes): a work-item per (block of outputs, part); reduce_wg (GPUs, few
 * long reductions): a work-group per (output, part). With several parts, a second
 * reduce_lines pass combines the ACC partials.
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

/* max / min of n contiguous elements with 8 independent accumulators; sum with a 16-wide
   vector accumulator. Both vectorise, and the order is fixed, so results do not depend on
   the launch geometry. */
#define RED_LANES(NAME, INIT, COMB)                                                       \
    inline AT NAME(__global const XT* x, const long b, const long n) {                    \
        AT part[8];                                                                       \
        for (int j = 0; j < 8; ++j) part[j] = (INIT);                                     \
        long r = 0;                                                                       \
        for (; r + 8 <= n; r += 8)                                                        \
            for (int j = 0; j < 8; ++j) part[j] = COMB(part[j], (AT)LDX(x, b + r + j));  \
        AT acc = COMB(COMB(COMB(part[0], part[1]), COMB(part[2], part[3])),               \
                      COMB(COMB(part[4], part[5]), COMB(part[6], part[7])));              \
        for (; r < n; ++r) acc = COMB(acc, (AT)LDX(x, b + r));                           \
        return acc;                                                                       \
    }
#if ACC_FLOAT
#define RL_MAX(a, b) DF_MAXIMUM_F(a, b)
#define RL_MIN(a, b) DF_MINIMUM_F(a, b)
RED_LANES(red_max_contig, (AT)(-INFINITY), RL_MAX)
RED_LANES(red_min_contig, (AT)INFINITY, RL_MIN)
#else
#define RL_MAX(a, b) max(a, b)
#define RL_MIN(a, b) min(a, b)
RED_LANES(red_max_contig, (AT)LONG_MIN, RL_MAX)
RED_LANES(red_min_contig, (AT)LONG_MAX, RL_MIN)
#endif

/* 16 consecutive elements of x from element i, converted to a vector of ACC */
#define V16_F16(p, i) vload_half16(0, (p) + (i))
#define V16_F32(p, i) vload16(0, (p) + (i))
#define V16_F64(p, i) vload16(0, (p) + (i))
#define V16_I8(p, i) convert_long16(vload16(0, (p) + (i)))
#define V16_I16(p, i) convert_long16(vload16(0, (p) + (i)))
#define V16_I32(p, i) convert_long16(vload16(0, (p) + (i)))
#define V16_I64(p, i) vload16(0, (p) + (i))
#define V16_U8(p, i) convert_long16(vload16(0, (p) + (i)))
#define V16_B(p, i) convert_long16(vload16(0, (p) + (i)) != (uchar16)0) * -1L
#define AT16 DF_CAT(AT, 16)

inline AT red_sum_contig(__global const XT* x, const long b, const long n) {
    AT16 v = (AT16)(0);
    long r = 0;
    for (; r + 16 <= n; r += 16) v += DF_CAT(convert_, AT16)(DF_CAT(V16_, TIN)(x, b + r));
    AT acc = (((v.s0 + v.s1) + (v.s2 + v.s3)) + ((v.s4 + v.s5) + (v.s6 + v.s7))) +
             (((v.s8 + v.s9) + (v.sa + v.sb)) + ((v.sc + v.sd) + (v.se + v.sf)));
    for (; r < n; ++r) acc += (AT)LDX(x, b + r);
    return acc;
}

/* reduced elements [lo, hi) of the output whose base offset is `base` */
inline AT red_range(const Desc* d, const int nr, __global const XT* x, const long base,
                    const long lo, const long hi, const int op, const AT c) {
    const int nd = D_NDIM(*d);
    AT acc = red_init(op);
    if (lo >= hi) return acc;
    if (nr == 1) {
        const long s = D_ST(*d, 0, nd - 1);
        if (s == 1) {
            if (op == R_SUM) return red_sum_contig(x, base + lo, hi - lo);
            if (op == R_MAX) return red_max_contig(x, base + lo, hi - lo);
            if (op == R_MIN) return red_min_contig(x, base + lo, hi - lo);
        }
        if (op == R_SUM) {
            for (long r = lo; r < hi; ++r) acc += (AT)LDX(x, base + r * s);
        } else {
            for (long r = lo; r < hi; ++r) acc = red_comb(op, acc, red_map(op, LDX(x, base + r * s), c));
        }
        return acc;
    }
    long idx[DF_MAXD];
    long o = base, q = lo;
    for (int j = nd - 1; j >= nd - nr; --j) {
        const long sh = D_SHAPE(*d, j);
        idx[j] = q % sh;
        q /= sh;
        o += idx[j] * D_ST(*d, 0, j);
    }
    for (long r = lo; r < hi; ++r) {
        acc = red_comb(op, acc, red_map(op, LDX(x, o), c));
        for (int j = nd - 1; j >= nd - nr; --j) {
            o += D_ST(*d, 0, j);
            if (++idx[j] < D_SHAPE(*d, j)) break;
            o -= D_SHAPE(*d, j) * D_ST(*d, 0, j);
            idx[j] = 0;
        }
    }
    return acc;
}

/* One work-item per (output m, part p) with the R reduced elements split into P parts:
   P == 1 writes final results, P > 1 writes raw ACC partials at out[oo + p * M + m]. */
__kernel void reduce_lines(const Desc d, const long M, const long R, const int nr, const long P,
                           __global OT* out, const long oo, __global const XT* x,
                           __global const AT* center, const int op, const int fin, const AT div) {
    const long chunk = (R + P - 1) / P;
    FOR_RANGE(v, M * P) {
        const long m = v % M, part = v / M;
        const long lo = part * chunk, hi = min(R, lo + chunk);
        const AT c = red_center(op, fin, center, m);
        const AT acc = red_range(&d, nr, x, red_base(&d, nr, m), lo, hi, op, c);
        if (P == 1) red_store(out, oo + m, fin, acc, c, div);
        else STO(out, oo + v, acc);
    }
}

/* Reductions over outer axes on CPU devices: the single leading dim (M outputs, stride sm) is
   walked in blocks of DF_COLB outputs per work-item, the reduced elements in the outer loop,
   so the inner loop reads consecutive memory. Parts and partials as in reduce_lines. */
#define DF_COLB 64
__kernel void reduce_cols(const Desc d, const long M, const long R, const int nr, const long P,
                          __global OT* out, const long oo, __global const XT* x,
                          __global const AT* center, const int op, const int fin, const AT div) {
    const long nb = (M + DF_COLB - 1) / DF_COLB;
    const long chunk = (R + P - 1) / P;
    const long sm = D_ST(d, 0, 0);
    const long s1 = D_ST(d, 0, D_NDIM(d) - 1);
    FOR_RANGE(v, nb * P) {
        const long blk = v % nb, part = v / nb;
        const long m0 = blk * DF_COLB;
        const int w = (int)min((long)DF_COLB, M - m0);
        const long lo = part * chunk, hi = min(R, lo + chunk);
        AT acc[DF_COLB], cen[DF_COLB];
        for (int j = 0; j < DF_COLB; ++j) {
            acc[j] = red_init(op);
            cen[j] = j < w ? red_center(op, fin, center, m0 + j) : (AT)0;
        }
        if (nr == 1 && op == R_SUM) {
            long o = D_OFF(d, 0) + lo * s1 + m0 * sm;
            if (sm == 1 && w == DF_COLB) {
                for (long r = lo; r < hi; ++r, o += s1)
                    for (int j = 0; j < DF_COLB; ++j) acc[j] += (AT)LDX(x, o + j);
            } else {
                for (long r = lo; r < hi; ++r, o += s1)
                    for (int j = 0; j < w; ++j) acc[j] += (AT)LDX(x, o + j * sm);
            }
        } else {
            for (long r = lo; r < hi; ++r) {
                const long o = D_OFF(d, 0) + red_inner(&d, nr, r) + m0 * sm;
                for (int j = 0; j < w; ++j)
                    acc[j] = red_comb(op, acc[j], red_map(op, LDX(x, o + j * sm), cen[j]));
            }
        }
        for (int j = 0; j < w; ++j) {
            if (P == 1) red_store(out, oo + m0 + j, fin, acc[j], cen[j], div);
            else STO(out, oo + part * M + m0 + j, acc[j]);
        }
    }
}

/* one group per (output m, part p) with P parts; partials (P > 1) as in reduce_lines */
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
        else STO(out, oo + part * M + m, scratch[0]);
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

/* One work-item per (output, part of R): vals (TIN storage) and idx at [p * M + m] (just [m]
   when P == 1). has_idx: the input already carries indices (the pass over partials). */
__kernel void arg_lines(const Desc d, const long M, const long R, const int nr, const long P,
                        __global XT* vals, __global long* idx, __global const XT* x,
                        __global const long* xidx, const int has_idx, const int is_max) {
    const int nd = D_NDIM(d);
    const long chunk = (R + P - 1) / P;
    FOR_RANGE(v, M * P) {
        const long m = v % M, part = v / M;
        const long lo = part * chunk, hi = min(R, lo + chunk);
        const long base = red_base(&d, nr, m);
        XC bv = (XC)0;
        long bi = -1;
        for (long r = lo; r < hi; ++r) {
            const long o = base + (nr == 1 ? r * D_ST(d, 0, nd - 1) : red_inner(&d, nr, r));
            const XC val = LDX(x, o);
            const long i = has_idx ? xidx[o] : r;
            if (bi < 0 || arg_better(is_max, val, i, bv, bi)) {
                bv = val;
                bi = i;
            }
        }
        DT_ST(TIN)(vals, v, bv);
        idx[v] = bi;
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
        DT_ST(TIN)(vals, part * M + m, sv[0]);
        idx[part * M + m] = si[0];
    }
}
