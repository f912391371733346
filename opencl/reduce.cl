/* Reductions over any set of axes. Arg-reductions are in reduce_arg.cl.
 * Build options: -DTIN=<input code> -DTOUT=<output code> -DACC=<F32|F64|I64 accumulator>.
 *
 * The host passes one Desc (operand 0 = x) whose trailing nr dims are the reduced ones (R
 * elements per output) and whose leading dims enumerate the M outputs; outputs are
 * contiguous. reduce_lines: a work-item per (output, part of R), contiguous runs read 16
 * wide; reduce_cols (CPU devices, reduced axes outside the innermost kept one): a work-item
 * per (run of up to DF_COLW adjacent outputs, part), so each step reads a contiguous run of
 * x; reduce_wg (GPUs, few long reductions over inner axes): a work-group per (output, part).
 * With several parts the kernels write ACC partials [part][output], and a second launch
 * reduces those over their outer axis.
 *
 * op: 0 sum, 1 prod, 2 max, 3 min, 4 all, 5 any, 6 nansum, 7 sum((x - c)^2), 8 sum(exp(x - c))
 *     (c: per-output center array, non-finite centers read as 0 for op 8)
 * fin: 0 out = acc, 1 out = acc / div, 2 out = log(acc) + c
 */
#include "common.h"
#include "reduce_common.h"

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

/* ---- 16-wide forms of the ops ------------------------------------------------------------
   Sum-like ops (sum, prod, nansum, sqdev, sumexp) accumulate AV lanes; extremum-like ops
   (max, min, and all/any as max/min of x != 0) keep XV lanes in the input's compute type,
   which is exact and avoids widening. Lanes are combined in a fixed order, so results do not
   depend on the launch geometry. */
RED_INLINE AV red_vmap(const int op, const XV v, const AV c) {
#if X_FLOAT && ACC_FLOAT
    if (op == R_NANSUM) return TO_AV(select(v, (XV)0, isnan(v)));
    if (op == R_SQDEV) { const AV t = TO_AV(v) - c; return t * t; }
    if (op == R_SUMEXP) return TO_AV(exp(v - TO_XV(c)));
#endif
    return TO_AV(v);
}

inline AV red_vcenter(const int op, __global const AT* center, const long m) {
    if (op < R_SQDEV) return (AV)0;
    AV c = vload16(0, center + m);
#if ACC_FLOAT
    if (op == R_SUMEXP) c = select(c, (AV)0, !isfinite(c));
#endif
    return c;
}

#define RED_ACOMB(op, a, b) ((op) == R_PROD ? (a) * (b) : (a) + (b))

/* op over n contiguous elements from x + b: four 16-wide accumulators (independent chains
   hide the latency of the combine), then 16-wide steps and a scalar tail (as red_xcontig). */
RED_INLINE AT red_contig(const int op, __global const XT* x, const long b, const long n,
                         const AT c) {
    if (red_is_ext(op)) return (AT)red_xcontig(op, x, b, n);
    const AV cv = (AV)c;
    long r = 0;
    AV a0 = (AV)red_init(op), a1 = a0, a2 = a0, a3 = a0;
    for (; r + 64 <= n; r += 64) {
        a0 = RED_ACOMB(op, a0, red_vmap(op, LDV(x, b + r), cv));
        a1 = RED_ACOMB(op, a1, red_vmap(op, LDV(x, b + r + 16), cv));
        a2 = RED_ACOMB(op, a2, red_vmap(op, LDV(x, b + r + 32), cv));
        a3 = RED_ACOMB(op, a3, red_vmap(op, LDV(x, b + r + 48), cv));
    }
    a0 = RED_ACOMB(op, RED_ACOMB(op, a0, a1), RED_ACOMB(op, a2, a3));
    for (; r + 16 <= n; r += 16) a0 = RED_ACOMB(op, a0, red_vmap(op, LDV(x, b + r), cv));
    AT s;
    HALVE16(AT, s, a0, op, RED_ACOMB, RED_ACOMB);
    for (; r < n; ++r) s = RED_ACOMB(op, s, red_map(op, LDX(x, b + r), c));
    return s;
}

/* F(OPC) once per op code with OPC a constant, so no op test is left inside the loops */
#define RED_EACH_OP(op, F)                                                                \
    switch (op) {                                                                         \
        case R_SUM: F(R_SUM) break;                                                       \
        case R_PROD: F(R_PROD) break;                                                     \
        case R_MAX: F(R_MAX) break;                                                       \
        case R_MIN: F(R_MIN) break;                                                       \
        case R_ALL: F(R_ALL) break;                                                       \
        case R_ANY: F(R_ANY) break;                                                       \
        case R_NANSUM: F(R_NANSUM) break;                                                 \
        case R_SQDEV: F(R_SQDEV) break;                                                   \
        default: F(R_SUMEXP) break;                                                       \
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
#define RED_CONTIG(OPC) acc = red_contig(OPC, x, base + lo, hi - lo, c);
            RED_EACH_OP(op, RED_CONTIG)
        } else {
#define RED_STRIDED(OPC)                                                                  \
    for (long r = lo; r < hi; ++r) acc = red_comb(OPC, acc, red_map(OPC, LDX(x, base + r * s), c));
            RED_EACH_OP(op, RED_STRIDED)
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
    RED_FOR(v, M * P) {
        const long m = v % M, part = v / M;
        const long lo = PART_LO(part, R, P), hi = PART_LO(part + 1, R, P);
        const AT c = red_center(op, fin, center, m);
        const AT acc = red_range(&d, nr, x, red_base(&d, nr, m), lo, hi, op, c);
        if (P == 1) red_store(out, oo + m, fin, acc, c, div);
        else STO(out, oo + v, acc);
    }
}

/* Reductions over outer axes on CPU devices: a work-item owns a run of up to cw adjacent
   outputs along the innermost kept dim (stride sm) and a part of the reduced elements, and
   walks that part with the run's accumulators in private memory, so every step reads a
   contiguous run of x (sm == 1: 16 wide). Long contiguous runs let the hardware prefetchers
   stream; blocks of a few columns over all rows were 2-3x slower on PoCL. Parts and partials
   as in reduce_lines. */
#define DF_COLW 2048
#define COL_ROW(r) (base + (nr == 1 ? (r) * s1 : red_inner(d, nr, (r))))
RED_INLINE void red_col_arith(const int op, const Desc* d, const int nr, __global const XT* x,
                              const long base, const long sm, const long s1, const int w,
                              const long lo, const long hi, __global const AT* center,
                              const long m0, AT* acc) {
    for (int j = 0; j < w; ++j) acc[j] = red_init(op);
    const int wv = sm == 1 ? (w & ~15) : 0;
    for (long r = lo; r < hi; ++r) {
        const long o = COL_ROW(r);
        for (int j = 0; j < wv; j += 16) {
            const AV t = red_vmap(op, LDV(x, o + j), red_vcenter(op, center, m0 + j));
            vstore16(RED_ACOMB(op, vload16(0, acc + j), t), 0, acc + j);
        }
        for (int j = wv; j < w; ++j)
            acc[j] = red_comb(op, acc[j], red_map(op, LDX(x, o + j * sm),
                                                  red_center(op, 0, center, m0 + j)));
    }
}

/* extremum-like ops keep their accumulators in the input's compute type (exact) */
RED_INLINE void red_col_ext(const int op, const Desc* d, const int nr, __global const XT* x,
                            const long base, const long sm, const long s1, const int w,
                            const long lo, const long hi, XC* acc) {
    for (int j = 0; j < w; ++j) acc[j] = red_xinit(op);
    const int wv = sm == 1 ? (w & ~15) : 0;
    for (long r = lo; r < hi; ++r) {
        const long o = COL_ROW(r);
        for (int j = 0; j < wv; j += 16)
            vstore16(RED_XCOMB(op, vload16(0, acc + j), red_xmap(op, LDV(x, o + j))), 0, acc + j);
        for (int j = wv; j < w; ++j) {
            XC v = LDX(x, o + j * sm);
            if (op == R_ALL || op == R_ANY) v = (XC)(v != (XC)0);
            acc[j] = RED_XCOMBS(op, acc[j], v);
        }
    }
}

__kernel void reduce_cols(const Desc d, const long M, const long R, const int nr, const long P,
                          __global OT* out, const long oo, __global const XT* x,
                          __global const AT* center, const int op, const int fin, const AT div,
                          const long cw) {
    const int jm = D_NDIM(d) - nr - 1;
    const long Mi = D_SHAPE(d, jm), sm = D_ST(d, 0, jm);
    const long nb = (Mi + cw - 1) / cw, units = M / Mi * nb;
    const long s1 = D_ST(d, 0, D_NDIM(d) - 1);
    const bool ext = red_is_ext(op);
    RED_FOR(v, units * P) {
        const long u = v % units, part = v / units;
        const long m0 = u / nb * Mi + u % nb * cw;
        const int w = (int)min(cw, Mi - u % nb * cw);
        const long lo = PART_LO(part, R, P), hi = PART_LO(part + 1, R, P);
        const long base = red_base(&d, nr, m0);
        union { AT a[DF_COLW]; XC x[DF_COLW]; } acc;
#define RED_COLS(OPC)                                                                     \
    if (red_is_ext(OPC)) red_col_ext(OPC, &d, nr, x, base, sm, s1, w, lo, hi, acc.x);      \
    else red_col_arith(OPC, &d, nr, x, base, sm, s1, w, lo, hi, center, m0, acc.a);
        RED_EACH_OP(op, RED_COLS)
        for (int j = 0; j < w; ++j) {
            const AT a = ext ? (AT)acc.x[j] : acc.a[j];
            if (P == 1) {
                red_store(out, oo + m0 + j, fin, a, red_center(op, fin, center, m0 + j), div);
            } else {
                STO(out, oo + part * M + m0 + j, a);
            }
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
    const long lo = PART_LO(part, R, P), hi = PART_LO(part + 1, R, P);
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
