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

__kernel void softmax_lines(const Desc d, const long n, const long so, const long sx,
                            const long sg, __global TS* out, __global const TS* x,
                            __global const TS* gy, const int kind) {
    STRIDED_BEGIN(d)
    if (kind < 2) {
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
