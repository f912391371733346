/* Batch norm (training statistics, per channel of (N, C, S)) and layer norm (per row of
 * (M, D)), forward and backward. Built per -DT=F16|F32|F64 (statistics in DF_WIDE).
 *
 * Reductions run one work-group per channel / row (local size LS, a power of two <= 256,
 * given by -DLS): each work-item sums a strided share, then a tree in local memory. Sums are
 * shifted by the segment's first value, so the variance does not cancel catastrophically.
 * The elementwise passes run one element per work-item.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)
#define WD DF_WIDE

#ifndef LS
#define LS 64
#endif

/* tree-sum two values over the work-group; the result is in a[0], b[0] */
inline void group_sum2(__local WD* a, __local WD* b) {
    const int lid = get_local_id(0);
    for (int s = LS / 2; s > 0; s >>= 1) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s) {
            a[lid] += a[lid + s];
            b[lid] += b[lid + s];
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* element j (0 <= j < N*S) of channel c of x (N, C, S) */
#define BN_AT(j) (((j) / S) * C * S + c * S + (j) % S)

__kernel void bn_stats(const long N, const long C, const long S, __global const TS* x,
                       const long xo, __global TS* mean, __global TS* invstd, __global TS* var,
                       const WD eps) {
    __local WD s1[LS], s2[LS];
    const long c = get_group_id(0);
    const int lid = get_local_id(0);
    const long m = N * S;
    const WD k = LD(x, xo + c * S);
    WD a = 0, b = 0;
    for (long j = lid; j < m; j += LS) {
        const WD t = (WD)LD(x, xo + BN_AT(j)) - k;
        a += t;
        b += t * t;
    }
    s1[lid] = a;
    s2[lid] = b;
    group_sum2(s1, s2);
    if (lid == 0) {
        const WD mu = k + s1[0] / m;
        WD v = (s2[0] - s1[0] * s1[0] / m) / m;
        v = v > 0 ? v : 0;
        ST(mean, c, mu);
        ST(var, c, v);
        ST(invstd, c, (WD)1 / sqrt(v + eps));
    }
}

/* y = (x - mean) * invstd * w + b (affine = 0: w = 1, b = 0) */
__kernel void bn_apply(const long total, const long C, const long S, __global TS* y,
                       __global const TS* x, const long xo, __global const TS* mean,
                       __global const TS* invstd, __global const TS* w, __global const TS* b,
                       const int affine) {
    FOR_RANGE(i, total) {
        const long c = (i / S) % C;
        TC v = (LD(x, xo + i) - LD(mean, c)) * LD(invstd, c);
        if (affine) v = v * LD(w, c) + LD(b, c);
        ST(y, i, v);
    }
}

/* per channel: gb = sum(g), gw = sum(g * (x - mean)) * invstd */
__kernel void bn_bwd_reduce(const long N, const long C, const long S, __global const TS* g,
                            const long go, __global const TS* x, const long xo,
                            __global const TS* mean, __global const TS* invstd,
                            __global TS* gw, __global TS* gb) {
    __local WD s1[LS], s2[LS];
    const long c = get_group_id(0);
    const int lid = get_local_id(0);
    const long m = N * S;
    const WD mu = LD(mean, c);
    WD a = 0, b = 0;
    for (long j = lid; j < m; j += LS) {
        const long e = BN_AT(j);
        const WD gv = LD(g, go + e);
        a += gv;
        b += gv * ((WD)LD(x, xo + e) - mu);
    }
    s1[lid] = a;
    s2[lid] = b;
    group_sum2(s1, s2);
    if (lid == 0) {
        ST(gb, c, s1[0]);
        ST(gw, c, s2[0] * LD(invstd, c));
    }
}

/* gx = w*invstd*(g - gb/m - (x - mean)*invstd*gw/m) (train) or w*invstd*g (eval) */
__kernel void bn_bwd_apply(const long total, const long C, const long S, const long m,
                           __global TS* gx, __global const TS* g, const long go,
                           __global const TS* x, const long xo, __global const TS* w,
                           __global const TS* mean, __global const TS* invstd,
                           __global const TS* gw, __global const TS* gb, const int affine,
                           const int train) {
    FOR_RANGE(i, total) {
        const long c = (i / S) % C;
        const WD rs = LD(invstd, c);
        const WD ww = affine ? (WD)LD(w, c) : (WD)1;
        WD v = (WD)LD(g, go + i);
        if (train)
            v -= ((WD)LD(gb, c) + ((WD)LD(x, xo + i) - (WD)LD(mean, c)) * rs * (WD)LD(gw, c)) / m;
        ST(gx, i, ww * rs * v);
    }
}

/* layer norm: one work-group per row of x (M, D) */
__kernel void ln_stats(const long D, __global const TS* x, const long xo, __global TS* mean,
                       __global TS* rstd, const WD eps) {
    __local WD s1[LS], s2[LS];
    const long r = get_group_id(0);
    const int lid = get_local_id(0);
    const long base = xo + r * D;
    const WD k = LD(x, base);
    WD a = 0, b = 0;
    for (long j = lid; j < D; j += LS) {
        const WD t = (WD)LD(x, base + j) - k;
        a += t;
        b += t * t;
    }
    s1[lid] = a;
    s2[lid] = b;
    group_sum2(s1, s2);
    if (lid == 0) {
        WD v = (s2[0] - s1[0] * s1[0] / D) / D;
        v = v > 0 ? v : 0;
        ST(mean, r, k + s1[0] / D);
        ST(rstd, r, (WD)1 / sqrt(v + eps));
    }
}

__kernel void ln_apply(const long total, const long D, __global TS* y, __global const TS* x,
                       const long xo, __global const TS* mean, __global const TS* rstd,
                       __global const TS* w, __global const TS* b, const int has_w,
                       const int has_b) {
    FOR_RANGE(i, total) {
        const long r = i / D, j = i % D;
        TC v = (LD(x, xo + i) - LD(mean, r)) * LD(rstd, r);
        if (has_w) v *= LD(w, j);
        if (has_b) v += LD(b, j);
        ST(y, i, v);
    }
}

/* gx of one row: rstd * (wg - mean(wg) - xhat * mean(wg * xhat)), wg = w * g */
__kernel void ln_bwd_rows(const long D, __global TS* gx, __global const TS* g, const long go,
                          __global const TS* x, const long xo, __global const TS* w,
                          const int has_w, __global const TS* mean, __global const TS* rstd) {
    __local WD s1[LS], s2[LS];
    const long r = get_group_id(0);
    const int lid = get_local_id(0);
    const WD mu = LD(mean, r), rs = LD(rstd, r);
    WD a = 0, b = 0;
    for (long j = lid; j < D; j += LS) {
        const WD wg = (WD)LD(g, go + r * D + j) * (has_w ? (WD)LD(w, j) : (WD)1);
        a += wg;
        b += wg * ((WD)LD(x, xo + r * D + j) - mu) * rs;
    }
    s1[lid] = a;
    s2[lid] = b;
    group_sum2(s1, s2);
    const WD m1 = s1[0] / D, m2 = s2[0] / D;
    for (long j = lid; j < D; j += LS) {
        const WD wg = (WD)LD(g, go + r * D + j) * (has_w ? (WD)LD(w, j) : (WD)1);
        const WD xh = ((WD)LD(x, xo + r * D + j) - mu) * rs;
        ST(gx, r * D + j, rs * (wg - m1 - xh * m2));
    }
}

/* column sums over the M rows: gw[j] = sum g*xhat, gb[j] = sum g (one work-item per column) */
__kernel void ln_bwd_cols(const long M, const long D, __global TS* gw, __global TS* gb,
                          __global const TS* g, const long go, __global const TS* x,
                          const long xo, __global const TS* mean, __global const TS* rstd) {
    FOR_RANGE(j, D) {
        WD a = 0, b = 0;
        for (long r = 0; r < M; ++r) {
            const WD gv = LD(g, go + r * D + j);
            a += gv * ((WD)LD(x, xo + r * D + j) - (WD)LD(mean, r)) * (WD)LD(rstd, r);
            b += gv;
        }
        ST(gw, j, a);
        ST(gb, j, b);
    }
}
