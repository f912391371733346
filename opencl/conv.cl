/* Convolution data movement: im2col (receptive fields to columns) and its adjoint col2im.
 * Built per -DT=F16|F32|F64. Planes are (D, H, W) volumes of q = n*C + c; 1-D and 2-D ops
 * pass D = 1 (and H = 1). Columns are laid out (N, C*K, L): element ((q*K + k)*L + l) holds
 * the input under kernel offset k of output position l (0 in the padding).
 *
 * im2col: one element per output column entry. col2im: one element per INPUT position, which
 * sums the column entries that read it (a gather: no atomics, deterministic order, the same
 * in both layouts).
 *
 * On CPU devices (-DDF_CPU) a work-item owns an even share of whole ROWS instead (an output
 * row of columns / an input row of the plane), whose indices it advances incrementally: the
 * per-element 64-bit divisions of the element layout cost several times the memory traffic
 * there, and a row is a contiguous stream (a plain copy when the stride is 1) that vectorises.
 * `total` counts rows on CPU devices and elements on GPUs.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)

/* the geometry arguments of every kernel in this file */
#define GEOM_PARAMS                                                                       \
    const int D, const int H, const int W, const int kd, const int kh, const int kw,     \
        const int dd, const int dh, const int dw, const int pd, const int ph, const int pw, \
        const int sd, const int sh, const int sw, const int od, const int oh, const int ow


/* first q >= 0 with q * s >= a, for any sign of a (s > 0) */
static inline int ceil_div_(const int a, const int s) { return a >= 0 ? (a + s - 1) / s : -((-a) / s); }

/* output positions ox in [0, ow) whose input ix = ox * s + off falls in [lo, hi): [*x0, *x1) */
static inline void ox_span(const int lo, const int hi, const int off, const int s, const int ow,
                           int* x0, int* x1) {
    *x0 = max(0, ceil_div_(lo - off, s));
    *x1 = max(*x0, min(ow, ceil_div_(hi - off, s)));
}

#ifdef DF_CPU
/* an even share [r0, r1) of n rows per work-item: FOR_RANGE's 16-aligned chunks leave some of
   the few CPU work-items without rows when n is small relative to 16 * their count */
#define ROW_SHARE(r0, r1, n)                                                                 \
    const long gs_ = (long)get_global_size(0), g_ = (long)get_global_id(0);                \
    const long r0 = (n) * g_ / gs_, r1 = (n) * (g_ + 1) / gs_;

/* rows (q, k, oz, oy) of ow columns each; row r starts at column element r * ow */
__kernel void im2col(const long total, __global TS* cols, const long co,
                     __global const TS* x, const long xo, GEOM_PARAMS) {
    ROW_SHARE(r0, r1, total)
    if (r0 >= r1) return;
    const long K = (long)kd * kh * kw, P = (long)D * H * W;
    long t = r0;
    int oy = (int)(t % oh); t /= oh;
    int oz = (int)(t % od); t /= od;
    int k = (int)(t % K);
    long q = t / K;
    for (long r = r0; r < r1; ++r) {
        const int c = k % kw, b = (k / kw) % kh, a = k / (kw * kh);
        const int iz = oz * sd - pd + a * dd, iy = oy * sh - ph + b * dh;
        const long dst = co + r * ow;
        int x0 = 0, x1 = 0;
        const int off = c * dw - pw;
        if (iz >= 0 && iz < D && iy >= 0 && iy < H) ox_span(0, W, off, sw, ow, &x0, &x1);
        const long src = xo + q * P + ((long)iz * H + iy) * W + off;
        for (int ox = 0; ox < x0; ++ox) ST(cols, dst + ox, (TC)0);
        if (sw == 1) {
            for (int ox = x0; ox < x1; ++ox) ST(cols, dst + ox, LD(x, src + ox));
        } else {
            for (int ox = x0; ox < x1; ++ox) ST(cols, dst + ox, LD(x, src + (long)ox * sw));
        }
        for (int ox = x1; ox < ow; ++ox) ST(cols, dst + ox, (TC)0);
        if (++oy == oh) {
            oy = 0;
            if (++oz == od) {
                oz = 0;
                if (++k == K) { k = 0; ++q; }
            }
        }
    }
}

/* rows (q, iz, iy) of W inputs each; each row adds the column entries that read it in
   kernel-offset order, like the element layout. The row (in L1) accumulates in place, as a
   contiguous stream per kernel offset when the stride is 1; other than float32/float64, the
   storage type differs from the compute type (float16 would round every partial sum, bool
   would not normalise), so those sum in registers instead, in tiles of CTILE inputs. */
#define CTILE 64
#if DT_IS_FLOAT(T) && DT_SIZE(T) >= 4
#define ACC_TILE 0
#else
#define ACC_TILE 1
#endif
__kernel void col2im(const long total, __global TS* x, const long xo,
                     __global const TS* cols, const long co, GEOM_PARAMS) {
    ROW_SHARE(r0, r1, total)
    if (r0 >= r1) return;
    const long L = (long)od * oh * ow, K = (long)kd * kh * kw;
    const int tile = ACC_TILE ? CTILE : W;
    long t = r0;
    int iy = (int)(t % H); t /= H;
    int iz = (int)(t % D);
    long q = t / D;
#if ACC_TILE
    TC acc[CTILE];
#endif
    for (long r = r0; r < r1; ++r) {
        const long dst = xo + r * W, qo = co + q * K * L;
        for (int t0 = 0; t0 < W; t0 += tile) {
            const int n = min(tile, W - t0);
#if ACC_TILE
            for (int j = 0; j < n; ++j) acc[j] = (TC)0;
#else
            __global TS* acc = x + dst + t0;
            for (int j = 0; j < n; ++j) acc[j] = (TS)0;
#endif
            for (int a = 0; a < kd; ++a) {
                const int tz = iz + pd - a * dd, oz = tz / sd;
                if (tz < 0 || tz % sd != 0 || oz >= od) continue;
                for (int b = 0; b < kh; ++b) {
                    const int ty = iy + ph - b * dh, oy = ty / sh;
                    if (ty < 0 || ty % sh != 0 || oy >= oh) continue;
                    for (int c = 0; c < kw; ++c) {
                        const long k = ((long)a * kh + b) * kw + c;
                        __global const TS* src = cols + qo + k * L + ((long)oz * oh + oy) * ow;
                        const int off = c * dw - pw;
                        int x0, x1;
                        ox_span(t0, t0 + n, off, sw, ow, &x0, &x1);
                        const int base = off - t0;
                        if (sw == 1) {
                            for (int ox = x0; ox < x1; ++ox) acc[ox + base] += LD(src, ox);
                        } else {
                            for (int ox = x0; ox < x1; ++ox) acc[ox * sw + base] += LD(src, ox);
                        }
                    }
                }
            }
#if ACC_TILE
            for (int j = 0; j < n; ++j) ST(x, dst + t0 + j, acc[j]);
#endif
        }
        if (++iy == H) {
            iy = 0;
            if (++iz == D) { iz = 0; ++q; }
        }
    }
}
#else
__kernel void im2col(const long total, __global TS* cols, const long co,
                     __global const TS* x, const long xo, GEOM_PARAMS) {
    const long L = (long)od * oh * ow, K = (long)kd * kh * kw, P = (long)D * H * W;
    FOR_RANGE(i, total) {
        const long l = i % L, t = i / L;
        const long k = t % K, q = t / K;
        const int ox = (int)(l % ow), oy = (int)((l / ow) % oh), oz = (int)(l / ((long)ow * oh));
        const int c = (int)(k % kw), b = (int)((k / kw) % kh), a = (int)(k / ((long)kw * kh));
        const int iz = oz * sd - pd + a * dd, iy = oy * sh - ph + b * dh;
        const int ix = ox * sw - pw + c * dw;
        TC v = (TC)0;
        if (iz >= 0 && iz < D && iy >= 0 && iy < H && ix >= 0 && ix < W)
            v = LD(x, xo + q * P + ((long)iz * H + iy) * W + ix);
        ST(cols, co + i, v);
    }
}

__kernel void col2im(const long total, __global TS* x, const long xo,
                     __global const TS* cols, const long co, GEOM_PARAMS) {
    const long L = (long)od * oh * ow, K = (long)kd * kh * kw, P = (long)D * H * W;
    FOR_RANGE(i, total) {
        const long p = i % P, q = i / P;
        const int ix = (int)(p % W), iy = (int)((p / W) % H), iz = (int)(p / ((long)W * H));
        __global const TS* base = cols;
        const long qo = co + q * K * L;
        TC acc = (TC)0;
        long k = 0;
        for (int a = 0; a < kd; ++a) {
            const int tz = iz + pd - a * dd;
            const int oz = tz / sd;
            const int okz = tz >= 0 && tz % sd == 0 && oz < od;
            for (int b = 0; b < kh; ++b) {
                const int ty = iy + ph - b * dh;
                const int oy = ty / sh;
                const int oky = okz && ty >= 0 && ty % sh == 0 && oy < oh;
                for (int c = 0; c < kw; ++c, ++k) {
                    const int tx = ix + pw - c * dw;
                    const int ox = tx / sw;
                    if (oky && tx >= 0 && tx % sw == 0 && ox < ow)
                        acc += LD(base, qo + k * L + ((long)oz * oh + oy) * ow + ox);
                }
            }
        }
        ST(x, xo + i, acc);
    }
}
#endif
