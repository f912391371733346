/* Batch norm (training statistics, per channel of (N, C, S)) and layer norm (per row of
 * (M, D)), forward and backward. Built per -DT=F16|F32|F64 (statistics in DF_WIDE).
 *
 * GPU layout: reductions run one work-group per channel / row (local size LS, a power of two
 * <= 256, given by -DLS): each work-item sums a strided share, then a tree in local memory.
 * The elementwise passes run one element per work-item. CPU devices use the kernels at the
 * end of this file. Sums are shifted by the segment's first value (statistics) or the mean
 * (backward), so the variance does not cancel catastrophically.
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

/* ---- CPU devices ----------------------------------------------------------------------------
 * PoCL runs a work-group's items as loops around each barrier region and cannot vectorise
 * these tree reductions, and the elementwise passes above divide per element to find the
 * channel. On CPU devices each work-item instead owns whole contiguous stretches (a part of
 * a (sample, channel) segment, or whole rows) and sweeps them with 16-wide vector loads,
 * accumulating in DF_WIDE; batch-norm statistics combine the parts' partial sums per channel
 * in a second small kernel. */
#ifdef DF_CPU
#define TCV DF_CAT(TC, 16)
#define WDV DF_CAT(WD, 16)
#define TO_WDV DF_CAT(convert_, WDV)
#define TO_TCV DF_CAT(convert_, TCV)
#if DT_SIZE(T) == 2
#define VLD(p) vload_half16(0, (p))
#define VST(v, p) vstore_half16_rte((v), 0, (p))
#else
#define VLD(p) vload16(0, (p))
#define VST(v, p) vstore16((v), 0, (p))
#endif

/* the upper half is built lane by lane: Oclgrind 21.10 flags a .hi of a 16-wide vector as
   uninitialised (see scripts/oclgrind_kernels.py); compilers fold it to the same shuffle */
inline WD hsum16(const WDV v) {
    const DF_CAT(WD, 8) a =
        v.lo + (DF_CAT(WD, 8))(v.s8, v.s9, v.sa, v.sb, v.sc, v.sd, v.se, v.sf);
    const DF_CAT(WD, 4) b = a.lo + a.hi;
    const DF_CAT(WD, 2) c = b.lo + b.hi;
    return c.x + c.y;
}

/* Work-item q of NSEG * P owns elements [lo, hi) of contiguous segment seg (length S), the
   parts P of a segment being multiples of 16 long. */
#define SEG_PARTS_BEGIN(NSEG, S, P)                                                       \
    FOR_RANGE(q_, (NSEG) * (P)) {                                                         \
        const long seg = q_ / (P), part = q_ % (P);                                       \
        const long len_ = (((S) + (P) - 1) / (P) + 15) & ~15L;                            \
        const long lo = part * len_, hi = min(lo + len_, (long)(S));
#define SEG_PARTS_END }

/* Partial sums of segment parts of (N, C, S): mode 0 (statistics) a = sum(x - k),
   b = sum((x - k)^2) with k the channel's first element; mode 1 (backward) a = sum(g),
   b = sum(g * (x - mean)). out[2 q], out[2 q + 1] for work-item q = (n * C + c) * P + part. */
__kernel void bn_part_sums(const long N, const long C, const long S, const long P,
                           __global const TS* x, const long xo, __global const TS* g,
                           const long go, __global const TS* mean, const int mode,
                           __global WD* out) {
    SEG_PARTS_BEGIN(N * C, S, P)
    const long c = seg % C;
    __global const TS* xp = x + xo + seg * S;
    __global const TS* gp = g + go + seg * S;
    const WD k = mode ? (WD)LD(mean, c) : (WD)LD(x, xo + c * S);
    WDV va = 0, vb = 0;
    long j = lo;
    if (mode == 0) {
        for (; j + 16 <= hi; j += 16) {
            const WDV t = TO_WDV(VLD(xp + j)) - k;
            va += t;
            vb += t * t;
        }
    } else {
        for (; j + 16 <= hi; j += 16) {
            const WDV gv = TO_WDV(VLD(gp + j));
            va += gv;
            vb += gv * (TO_WDV(VLD(xp + j)) - k);
        }
    }
    WD a = hsum16(va), b = hsum16(vb);
    for (; j < hi; ++j) {
        const WD t = (WD)LD(xp, j) - k;
        const WD gv = mode ? (WD)LD(gp, j) : t;
        a += gv;
        b += gv * t;
    }
    out[2 * q_] = a;
    out[2 * q_ + 1] = b;
    SEG_PARTS_END
}

/* per channel: the N * P partial sums of bn_part_sums combined into the statistics (mode 0:
   mean, invstd, var) or the backward sums (mode 1: gb = sum g, gw = sum g (x - mean) invstd) */
__kernel void bn_finish(const long N, const long C, const long S, const long P,
                        __global const WD* part, __global const TS* x, const long xo,
                        const int mode, __global TS* o1, __global TS* o2, __global TS* o3,
                        const WD eps) {
    FOR_RANGE(c, C) {
        WD a = 0, b = 0;
        for (long n = 0; n < N; ++n) {
            __global const WD* pp = part + 2 * (n * C + c) * P;
            for (long p = 0; p < P; ++p) {
                a += pp[2 * p];
                b += pp[2 * p + 1];
            }
        }
        const WD m = (WD)(N * S);
        if (mode == 0) {
            WD v = (b - a * a / m) / m;
            v = v > 0 ? v : 0;
            ST(o1, c, (WD)LD(x, xo + c * S) + a / m);
            ST(o3, c, v);
            ST(o2, c, (WD)1 / sqrt(v + eps));
        } else {
            ST(o1, c, b * (WD)LD(o3, c)); /* gw; o3 holds invstd */
            ST(o2, c, a);                 /* gb */
        }
    }
}

/* forward: y = (x - mean) * (invstd * w) + b; backward (gx of training): with
   A = w invstd, gx = A g - A (gb + (x - mean) invstd gw) / m; eval: gx = A g */
__kernel void bn_apply_parts(const long N, const long C, const long S, const long P,
                             __global TS* y, __global const TS* x, const long xo,
                             __global const TS* g, const long go, __global const TS* mean,
                             __global const TS* invstd, __global const TS* w,
                             __global const TS* b, __global const TS* gw, const int affine,
                             const int mode) {
    SEG_PARTS_BEGIN(N * C, S, P)
    const long c = seg % C;
    __global const TS* xp = x + xo + seg * S;
    __global const TS* gp = g + go + seg * S;
    __global TS* yp = y + seg * S;
    const WD mu = LD(mean, c), rs = LD(invstd, c);
    const WD A = affine ? rs * (WD)LD(w, c) : rs;
    /* y = ca * u + cb * (x - mu) + cc with u = g (backward) or x - mu (forward) */
    WD ca = A, cb = 0, cc = 0;
    if (mode == 0) {
        cc = affine ? (WD)LD(b, c) : (WD)0;
    } else {
        const WD m = (WD)(N * S);
        cb = mode == 1 ? -A * rs * (WD)LD(gw, c) / m : (WD)0;
        cc = mode == 1 ? -A * (WD)LD(b, c) / m : (WD)0; /* b holds gb */
    }
    const TC fa = ca, fb = cb, fc = cc, fm = mu;
    long j = lo;
    if (mode == 0) {
        for (; j + 16 <= hi; j += 16) VST((VLD(xp + j) - fm) * fa + fc, yp + j);
    } else {
        for (; j + 16 <= hi; j += 16)
            VST(VLD(gp + j) * fa + (VLD(xp + j) - fm) * fb + fc, yp + j);
    }
    for (; j < hi; ++j) {
        const TC t = LD(xp, j) - fm;
        ST(yp, j, (mode ? LD(gp, j) : t) * fa + (mode ? t * fb : (TC)0) + fc);
    }
    SEG_PARTS_END
}

/* layer norm forward: a work-item per row, statistics then the normalised row */
__kernel void ln_fwd_rows(const long M, const long D, __global TS* y, __global const TS* x,
                          const long xo, __global TS* mean, __global TS* rstd,
                          __global const TS* w, __global const TS* b, const int has_w,
                          const int has_b, const WD eps) {
    FOR_RANGE(r, M) {
        __global const TS* xp = x + xo + r * D;
        __global TS* yp = y + r * D;
        const WD k = LD(xp, 0);
        WDV va = 0, vb = 0;
        long j = 0;
        for (; j + 16 <= D; j += 16) {
            const WDV t = TO_WDV(VLD(xp + j)) - k;
            va += t;
            vb += t * t;
        }
        WD a = hsum16(va), s2 = hsum16(vb);
        for (; j < D; ++j) {
            const WD t = (WD)LD(xp, j) - k;
            a += t;
            s2 += t * t;
        }
        WD v = (s2 - a * a / D) / D;
        v = v > 0 ? v : 0;
        const WD mu = k + a / D, rs = (WD)1 / sqrt(v + eps);
        ST(mean, r, mu);
        ST(rstd, r, rs);
        const TC fm = mu, fr = rs;
        for (j = 0; j + 16 <= D; j += 16) {
            TCV t = (VLD(xp + j) - fm) * fr;
            if (has_w) t *= VLD(w + j);
            if (has_b) t += VLD(b + j);
            VST(t, yp + j);
        }
        for (; j < D; ++j) {
            TC t = (LD(xp, j) - fm) * fr;
            if (has_w) t *= LD(w, j);
            if (has_b) t += LD(b, j);
            ST(yp, j, t);
        }
    }
}

/* layer norm gx: a work-item per row, rstd * (wg - mean(wg) - xhat * mean(wg * xhat)) */
__kernel void ln_bwd_rows_cpu(const long M, const long D, __global TS* gx,
                              __global const TS* g, const long go, __global const TS* x,
                              const long xo, __global const TS* w, const int has_w,
                              __global const TS* mean, __global const TS* rstd) {
    FOR_RANGE(r, M) {
        __global const TS* xp = x + xo + r * D;
        __global const TS* gp = g + go + r * D;
        __global TS* op = gx + r * D;
        const WD mu = LD(mean, r), rs = LD(rstd, r);
        WDV va = 0, vb = 0;
        long j = 0;
        for (; j + 16 <= D; j += 16) {
            WDV wg = TO_WDV(VLD(gp + j));
            if (has_w) wg *= TO_WDV(VLD(w + j));
            va += wg;
            vb += wg * ((TO_WDV(VLD(xp + j)) - mu) * rs);
        }
        WD a = hsum16(va), b = hsum16(vb);
        for (; j < D; ++j) {
            const WD wg = (WD)LD(gp, j) * (has_w ? (WD)LD(w, j) : (WD)1);
            a += wg;
            b += wg * (((WD)LD(xp, j) - mu) * rs);
        }
        const TC fr = rs, fm = mu, m1 = a / D, m2 = b / D;
        for (j = 0; j + 16 <= D; j += 16) {
            TCV wg = VLD(gp + j);
            if (has_w) wg *= VLD(w + j);
            VST(fr * (wg - m1 - (VLD(xp + j) - fm) * fr * m2), op + j);
        }
        for (; j < D; ++j) {
            const TC wg = LD(gp, j) * (has_w ? LD(w, j) : (TC)1);
            ST(op, j, fr * (wg - m1 - (LD(xp, j) - fm) * fr * m2));
        }
    }
}

/* layer norm gw, gb partial column sums: work-item (column block of 16, row part) sums rows
   [r0, r1) into part[(p * 2 + 0|1) * D + j]; ln_cols_finish adds the P parts */
__kernel void ln_cols_parts(const long M, const long D, const long P, __global WD* part,
                            __global const TS* g, const long go, __global const TS* x,
                            const long xo, __global const TS* mean, __global const TS* rstd) {
    const long nb = (D + 15) / 16;
    FOR_RANGE(q, nb * P) {
        const long blk = q % nb, p = q / nb, j0 = blk * 16;
        const long rows = (M + P - 1) / P, r0 = p * rows, r1 = min(r0 + rows, M);
        __global WD* pa = part + (2 * p) * D;
        __global WD* pb = part + (2 * p + 1) * D;
        if (j0 + 16 <= D) {
            WDV va = 0, vb = 0;
            for (long r = r0; r < r1; ++r) {
                const WDV gv = TO_WDV(VLD(g + go + r * D + j0));
                const WD mu = LD(mean, r), rs = LD(rstd, r);
                va += gv * ((TO_WDV(VLD(x + xo + r * D + j0)) - mu) * rs);
                vb += gv;
            }
            vstore16(va, 0, pa + j0);
            vstore16(vb, 0, pb + j0);
        } else {
            for (long j = j0; j < D; ++j) {
                WD a = 0, b = 0;
                for (long r = r0; r < r1; ++r) {
                    const WD gv = LD(g, go + r * D + j);
                    a += gv * (((WD)LD(x, xo + r * D + j) - (WD)LD(mean, r)) * (WD)LD(rstd, r));
                    b += gv;
                }
                pa[j] = a;
                pb[j] = b;
            }
        }
    }
}

__kernel void ln_cols_finish(const long D, const long P, __global const WD* part,
                             __global TS* gw, __global TS* gb) {
    FOR_RANGE(j, D) {
        WD a = 0, b = 0;
        for (long p = 0; p < P; ++p) {
            a += part[(2 * p) * D + j];
            b += part[(2 * p + 1) * D + j];
        }
        ST(gw, j, a);
        ST(gb, j, b);
    }
}
#endif
