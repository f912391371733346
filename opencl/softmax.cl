/* softmax / log_softmax along one axis, forward and backward. Built per -DT=F16|F32|F64.
 * A "line" is one position of every dim except the axis; a Desc over the lines gives the
 * line's base offsets for operands 0 out, 1 x (y for backward), 2 gy; the axis has length n
 * and per-operand strides so, sx, sg.
 * kind: 0 softmax, 1 log_softmax, 2 softmax backward (x = y), 3 log_softmax backward.
 * softmax_lines: one work-item per line (many lines); softmax_wg: one work-group per line.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)
#define MAXF(a, b) DF_MAXIMUM_F(a, b)
#define ADDF(a, b) ((a) + (b))
#define DF_SM_LOCAL 256

/* 16 lanes of TC: loads, stores, a NaN-propagating max (b wins where greater or NaN, so a
   NaN lane stays NaN) and fixed-order horizontal folds */
#define VT DF_CAT(TC, 16)
#if DT_SIZE(T) == 2
#define LDV(p, i) vload_half16(0, (p) + (i))
#define STV(p, i, v) vstore_half16_rte((v), 0, (p) + (i))
#else
#define LDV(p, i) vload16(0, (p) + (i))
#define STV(p, i, v) vstore16((v), 0, (p) + (i))
#endif
#define VMAXF(a, b) select((a), (b), ((b) > (a)) | isnan(b))
#define VADD(a, b) ((a) + (b))
/* sums of exponentials and products accumulate in the widest float the device has: a long
   line summed in float loses digits that log_softmax's x - m - log(s) then exposes */
#define WV DF_CAT(DF_WIDE, 16)
#define TO_WV(v) DF_CAT(convert_, WV)(v)
/* the upper half of a 16-wide vector lane by lane, not .hi: Oclgrind reports shuffles that
   read element 11 of a 16-wide vector as uninitialised (see HI16 in reduce_common.h) */
#define HI16_(T, a)                                                                       \
    ((DF_CAT(T, 8))((a).s8, (a).s9, (a).sa, (a).sb, (a).sc, (a).sd, (a).se, (a).sf))
#define HFOLDW(s, a)                                                                      \
    {                                                                                     \
        const DF_CAT(DF_WIDE, 8) h8_ = (a).lo + HI16_(DF_WIDE, a);                        \
        const DF_CAT(DF_WIDE, 4) h4_ = h8_.lo + h8_.hi;                                   \
        const DF_CAT(DF_WIDE, 2) h2_ = h4_.lo + h4_.hi;                                   \
        s = h2_.s0 + h2_.s1;                                                              \
    }
#define HFOLD(s, a, CV, CS)                                                               \
    {                                                                                     \
        const DF_CAT(TC, 8) h8_ = CV((a).lo, HI16_(TC, a));                               \
        const DF_CAT(TC, 4) h4_ = CV(h8_.lo, h8_.hi);                                     \
        const DF_CAT(TC, 2) h2_ = CV(h4_.lo, h4_.hi);                                     \
        s = CS(h2_.s0, h2_.s1);                                                           \
    }

/* ---- one line with a contiguous axis: 16-wide along the axis ----------------------------- */
inline TC sm_max(__global const TS* x, const long b, const long n) {
    /* four independent chains: compare-and-select has a long latency */
    VT m0 = (VT)(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    long k = 0;
    for (; k + 64 <= n; k += 64) {
        m0 = VMAXF(m0, LDV(x, b + k));
        m1 = VMAXF(m1, LDV(x, b + k + 16));
        m2 = VMAXF(m2, LDV(x, b + k + 32));
        m3 = VMAXF(m3, LDV(x, b + k + 48));
    }
    m0 = VMAXF(VMAXF(m0, m1), VMAXF(m2, m3));
    for (; k + 16 <= n; k += 16) m0 = VMAXF(m0, LDV(x, b + k));
    TC m;
    HFOLD(m, m0, VMAXF, MAXF);
    for (; k < n; ++k) m = MAXF(m, LD(x, b + k));
    return m;
}

/* sum of exp(x - m); with `store` also writes the exponentials to out */
inline TC sm_sumexp(__global const TS* x, const long b, const long n, const TC m,
                    __global TS* out, const long ob, const int store) {
    WV a = (WV)0;
    long k = 0;
    for (; k + 16 <= n; k += 16) {
        const VT e = exp(LDV(x, b + k) - m);
        if (store) STV(out, ob + k, e);
        a += TO_WV(e);
    }
    DF_WIDE s;
    HFOLDW(s, a);
    for (; k < n; ++k) {
        const TC e = exp(LD(x, b + k) - m);
        if (store) ST(out, ob + k, e);
        s += e;
    }
    return (TC)s;
}

/* sum of a * g (with_a) or of g */
inline TC sm_dot(__global const TS* a, const long ab, __global const TS* g, const long gb,
                 const long n, const int with_a) {
    WV acc = (WV)0;
    long k = 0;
    for (; k + 16 <= n; k += 16)
        acc += TO_WV(with_a ? LDV(a, ab + k) * LDV(g, gb + k) : LDV(g, gb + k));
    DF_WIDE s;
    HFOLDW(s, acc);
    for (; k < n; ++k) s += with_a ? LD(a, ab + k) * LD(g, gb + k) : LD(g, gb + k);
    return (TC)s;
}

inline void sm_line(const int kind, const long n, const long so, const long sx, const long sg,
                    __global TS* out, const long p0, __global const TS* x, const long p1,
                    __global const TS* gy, const long p2) {
    if (so == 1 && sx == 1 && (kind < 2 || sg == 1)) {
        long k = 0;
        if (kind < 2) {
            const TC m = sm_max(x, p1, n);
            const TC s = sm_sumexp(x, p1, n, m, out, p0, kind == 0);
            if (kind == 0) {
                const TC inv = (TC)1 / s;
                for (; k + 16 <= n; k += 16) STV(out, p0 + k, LDV(out, p0 + k) * inv);
                for (; k < n; ++k) ST(out, p0 + k, LD(out, p0 + k) * inv);
            } else {
                const TC ls = log(s);
                for (; k + 16 <= n; k += 16) STV(out, p0 + k, LDV(x, p1 + k) - m - ls);
                for (; k < n; ++k) ST(out, p0 + k, LD(x, p1 + k) - m - ls);
            }
        } else {
            const TC acc = sm_dot(x, p1, gy, p2, n, kind == 2);
            if (kind == 2) {
                for (; k + 16 <= n; k += 16)
                    STV(out, p0 + k, LDV(x, p1 + k) * (LDV(gy, p2 + k) - acc));
                for (; k < n; ++k) ST(out, p0 + k, LD(x, p1 + k) * (LD(gy, p2 + k) - acc));
            } else {
                for (; k + 16 <= n; k += 16)
                    STV(out, p0 + k, LDV(gy, p2 + k) - exp(LDV(x, p1 + k)) * acc);
                for (; k < n; ++k) ST(out, p0 + k, LD(gy, p2 + k) - exp(LD(x, p1 + k)) * acc);
            }
        }
    } else if (kind < 2) {
        TC m = -INFINITY;
        for (long k = 0; k < n; ++k) m = MAXF(m, LD(x, p1 + k * sx));
        DF_WIDE sw = 0;
        for (long k = 0; k < n; ++k) sw += exp(LD(x, p1 + k * sx) - m);
        const TC s = (TC)sw;
        if (kind == 0) {
            const TC inv = (TC)1 / s;
            for (long k = 0; k < n; ++k) ST(out, p0 + k * so, exp(LD(x, p1 + k * sx) - m) * inv);
        } else {
            const TC ls = log(s);
            for (long k = 0; k < n; ++k) ST(out, p0 + k * so, LD(x, p1 + k * sx) - m - ls);
        }
    } else if (kind == 2) {
        DF_WIDE dw = 0;
        for (long k = 0; k < n; ++k) dw += LD(gy, p2 + k * sg) * LD(x, p1 + k * sx);
        const TC dot = (TC)dw;
        for (long k = 0; k < n; ++k) {
            const TC y = LD(x, p1 + k * sx);
            ST(out, p0 + k * so, y * (LD(gy, p2 + k * sg) - dot));
        }
    } else {
        DF_WIDE sw = 0;
        for (long k = 0; k < n; ++k) sw += LD(gy, p2 + k * sg);
        const TC sum = (TC)sw;
        for (long k = 0; k < n; ++k)
            ST(out, p0 + k * so, LD(gy, p2 + k * sg) - exp(LD(x, p1 + k * sx)) * sum);
    }
}

/* ---- 16 adjacent lines (the axis is not the innermost dim, e.g. softmax over channels of
   NCHW): one vector across the lines per position along the axis, so each step reads 16
   consecutive elements instead of one element per line at stride sx ------------------------ */
inline void sm_block16(const int kind, const long n, const long so, const long sx,
                       const long sg, __global TS* out, const long p0, __global const TS* x,
                       const long p1, __global const TS* gy, const long p2) {
    if (kind < 2) {
        VT m = (VT)(-INFINITY);
        for (long k = 0; k < n; ++k) m = VMAXF(m, LDV(x, p1 + k * sx));
        WV sw = (WV)0;
        for (long k = 0; k < n; ++k) {
            const VT e = exp(LDV(x, p1 + k * sx) - m);
            if (kind == 0) STV(out, p0 + k * so, e);
            sw += TO_WV(e);
        }
        const VT s = DF_CAT(convert_, VT)(sw);
        if (kind == 0) {
            const VT inv = (VT)1 / s;
            for (long k = 0; k < n; ++k) STV(out, p0 + k * so, LDV(out, p0 + k * so) * inv);
        } else {
            const VT ls = log(s);
            for (long k = 0; k < n; ++k) STV(out, p0 + k * so, LDV(x, p1 + k * sx) - m - ls);
        }
    } else {
        WV accw = (WV)0;
        for (long k = 0; k < n; ++k)
            accw += TO_WV(kind == 2 ? LDV(gy, p2 + k * sg) * LDV(x, p1 + k * sx)
                                    : LDV(gy, p2 + k * sg));
        const VT acc = DF_CAT(convert_, VT)(accw);
        for (long k = 0; k < n; ++k) {
            const VT y = LDV(x, p1 + k * sx), g = LDV(gy, p2 + k * sg);
            STV(out, p0 + k * so, kind == 2 ? y * (g - acc) : g - exp(y) * acc);
        }
    }
}

/* One work-item per line (GPUs: strided over the lines, adjacent items on adjacent lines).
   CPU devices: an even share of the lines per work-item, walked as runs of lines adjacent
   along the descriptor's innermost dim, 16 at a time when they are adjacent in memory. */
__kernel void softmax_lines(const Desc d, const long n, const long so, const long sx,
                            const long sg, __global TS* out, __global const TS* x,
                            __global const TS* gy, const int kind) {
    const long nl = D_N(d);
    long p0, p1, p2, p3;
#ifdef DF_CPU
    const int nd = D_NDIM(d);
    const long gs = (long)get_global_size(0), per = (nl + gs - 1) / gs;
    const long lo = (long)get_global_id(0) * per, hi = min(lo + per, nl);
    const long inner = D_SHAPE(d, nd - 1);
    const long t0 = D_ST(d, 0, nd - 1), t1 = D_ST(d, 1, nd - 1), t2 = D_ST(d, 2, nd - 1);
    const bool blocks = t0 == 1 && t1 == 1 && (kind < 2 || t2 == 1);
    for (long l = lo; l < hi;) {
        DESC_OFFSETS(d, l, p0, p1, p2, p3);
        const long cnt = min(inner - l % inner, hi - l);
        long j = 0;
        if (blocks) {
            for (; j + 16 <= cnt; j += 16)
                sm_block16(kind, n, so, sx, sg, out, p0 + j, x, p1 + j, gy, p2 + j);
        }
        for (; j < cnt; ++j)
            sm_line(kind, n, so, sx, sg, out, p0 + j * t0, x, p1 + j * t1, gy, p2 + j * t2);
        l += cnt;
    }
#else
    for (long l = (long)get_global_id(0); l < nl; l += (long)get_global_size(0)) {
        DESC_OFFSETS(d, l, p0, p1, p2, p3);
        sm_line(kind, n, so, sx, sg, out, p0, x, p1, gy, p2);
    }
#endif
    (void)p3;
}

/* local size: a power of two <= DF_SM_LOCAL; one group per line */
__kernel void softmax_wg(const Desc d, const long n, const long so, const long sx, const long sg,
                         __global TS* out, __global const TS* x, __global const TS* gy,
                         const int kind) {
    __local TC scratch[DF_SM_LOCAL];
    const long line = get_group_id(0);
    const int lid = get_local_id(0), L = get_local_size(0);
    long p0, p1, p2, p3;
    DESC_OFFSETS(d, line, p0, p1, p2, p3);
    (void)p3;
    if (kind < 2) {
        TC m = -INFINITY;
        for (long k = lid; k < n; k += L) m = MAXF(m, LD(x, p1 + k * sx));
        scratch[lid] = m;
        LOCAL_REDUCE(scratch, lid, L, MAXF)
        m = scratch[0];
        barrier(CLK_LOCAL_MEM_FENCE);
        TC s = (TC)0;
        for (long k = lid; k < n; k += L) s += exp(LD(x, p1 + k * sx) - m);
        scratch[lid] = s;
        LOCAL_REDUCE(scratch, lid, L, ADDF)
        s = scratch[0];
        if (kind == 0) {
            const TC inv = (TC)1 / s;
            for (long k = lid; k < n; k += L)
                ST(out, p0 + k * so, exp(LD(x, p1 + k * sx) - m) * inv);
        } else {
            const TC ls = log(s);
            for (long k = lid; k < n; k += L) ST(out, p0 + k * so, LD(x, p1 + k * sx) - m - ls);
        }
    } else {
        TC acc = (TC)0;
        for (long k = lid; k < n; k += L)
            acc += (kind == 2) ? LD(gy, p2 + k * sg) * LD(x, p1 + k * sx) : LD(gy, p2 + k * sg);
        scratch[lid] = acc;
        LOCAL_REDUCE(scratch, lid, L, ADDF)
        acc = scratch[0];
        for (long k = lid; k < n; k += L) {
            const TC y = LD(x, p1 + k * sx), g = LD(gy, p2 + k * sg);
            ST(out, p0 + k * so, (kind == 2) ? y * (g - acc) : g - exp(y) * acc);
        }
    }
}
