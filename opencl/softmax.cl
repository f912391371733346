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

/* contiguous-axis helpers with 8 independent accumulators (vectorisable) */
inline TC sm_max(__global const TS* x, const long b, const long n) {
    TC part[8];
    for (int j = 0; j < 8; ++j) part[j] = -INFINITY;
    long k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; ++j) part[j] = MAXF(part[j], LD(x, b + k + j));
    TC m = MAXF(MAXF(MAXF(part[0], part[1]), MAXF(part[2], part[3])),
                MAXF(MAXF(part[4], part[5]), MAXF(part[6], part[7])));
    for (; k < n; ++k) m = MAXF(m, LD(x, b + k));
    return m;
}

/* sum of exp(x - m); with `out` also stores the exponentials */
inline TC sm_sumexp(__global const TS* x, const long b, const long n, const TC m,
                    __global TS* out, const long ob, const int store) {
    TC part[8];
    for (int j = 0; j < 8; ++j) part[j] = (TC)0;
    long k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; ++j) {
            const TC e = exp(LD(x, b + k + j) - m);
            if (store) ST(out, ob + k + j, e);
            part[j] += e;
        }
    TC s = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    for (; k < n; ++k) {
        const TC e = exp(LD(x, b + k) - m);
        if (store) ST(out, ob + k, e);
        s += e;
    }
    return s;
}

inline TC sm_dot(__global const TS* a, const long ab, __global const TS* g, const long gb,
                 const long n, const int with_a) {
    TC part[8];
    for (int j = 0; j < 8; ++j) part[j] = (TC)0;
    long k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; ++j) part[j] += with_a ? LD(a, ab + k + j) * LD(g, gb + k + j)
                                                      : LD(g, gb + k + j);
    TC s = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
    for (; k < n; ++k) s += with_a ? LD(a, ab + k) * LD(g, gb + k) : LD(g, gb + k);
    return s;
}

__kernel void softmax_lines(const Desc d, const long n, const long so, const long sx,
                            const long sg, __global TS* out, __global const TS* x,
                            __global const TS* gy, const int kind) {
    STRIDED_BEGIN(d)
    if (so == 1 && sx == 1 && (kind < 2 || sg == 1)) {
        if (kind < 2) {
            const TC m = sm_max(x, p1, n);
            const TC s = sm_sumexp(x, p1, n, m, out, p0, kind == 0);
            if (kind == 0) {
                const TC inv = (TC)1 / s;
                for (long k = 0; k < n; ++k) ST(out, p0 + k, LD(out, p0 + k) * inv);
            } else {
                const TC ls = log(s);
                for (long k = 0; k < n; ++k) ST(out, p0 + k, LD(x, p1 + k) - m - ls);
            }
        } else {
            const TC acc = sm_dot(x, p1, gy, p2, n, kind == 2);
            if (kind == 2) {
                for (long k = 0; k < n; ++k)
                    ST(out, p0 + k, LD(x, p1 + k) * (LD(gy, p2 + k) - acc));
            } else {
                for (long k = 0; k < n; ++k)
                    ST(out, p0 + k, LD(gy, p2 + k) - exp(LD(x, p1 + k)) * acc);
            }
        }
    } else if (kind < 2) {
        TC m = -INFINITY;
        for (long k = 0; k < n; ++k) m = MAXF(m, LD(x, p1 + k * sx));
        TC s = (TC)0;
        for (long k = 0; k < n; ++k) s += exp(LD(x, p1 + k * sx) - m);
        if (kind == 0) {
            const TC inv = (TC)1 / s;
            for (long k = 0; k < n; ++k) ST(out, p0 + k * so, exp(LD(x, p1 + k * sx) - m) * inv);
        } else {
            const TC ls = log(s);
            for (long k = 0; k < n; ++k) ST(out, p0 + k * so, LD(x, p1 + k * sx) - m - ls);
        }
    } else if (kind == 2) {
        TC dot = (TC)0;
        for (long k = 0; k < n; ++k) dot += LD(gy, p2 + k * sg) * LD(x, p1 + k * sx);
        for (long k = 0; k < n; ++k) {
            const TC y = LD(x, p1 + k * sx);
            ST(out, p0 + k * so, y * (LD(gy, p2 + k * sg) - dot));
        }
    } else {
        TC sum = (TC)0;
        for (long k = 0; k < n; ++k) sum += LD(gy, p2 + k * sg);
        for (long k = 0; k < n; ++k)
            ST(out, p0 + k * so, LD(gy, p2 + k * sg) - exp(LD(x, p1 + k * sx)) * sum);
    }
    STRIDED_END(d)
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
