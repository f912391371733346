/* Pooling: max pooling with flat plane indices and its backward (a per-plane scatter), and
 * average pooling with PyTorch's divisor rules and its backward (a gather over the windows
 * that cover each input). Built per -DT=F16|F32|F64. Planes are (D, H, W) volumes of
 * q = n*C + c (1-D/2-D ops pass D = 1, H = 1); outputs are (od, oh, ow) per plane.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)

#define GEOM_PARAMS                                                                       \
    const int D, const int H, const int W, const int kd, const int kh, const int kw,     \
        const int dd, const int dh, const int dw, const int pd, const int ph, const int pw, \
        const int sd, const int sh, const int sw, const int od, const int oh, const int ow

/* one output per element: the first maximum in scan order (NaN wins), as on the CPU */
__kernel void max_pool(const long total, __global TS* y, __global long* idx,
                       __global const TS* x, const long xo, GEOM_PARAMS) {
    const long L = (long)od * oh * ow, P = (long)D * H * W;
    FOR_RANGE(i, total) {
        const long l = i % L, q = i / L;
        const int ox = (int)(l % ow), oy = (int)((l / ow) % oh), oz = (int)(l / ((long)ow * oh));
        __global const TS* xp = x;
        const long base = xo + q * P;
        TC m = (TC)(-INFINITY);
        long best = -1;
        for (int a = 0; a < kd; ++a) {
            const int iz = oz * sd - pd + a * dd;
            if (iz < 0 || iz >= D) continue;
            for (int b = 0; b < kh; ++b) {
                const int iy = oy * sh - ph + b * dh;
                if (iy < 0 || iy >= H) continue;
                for (int c = 0; c < kw; ++c) {
                    const int ix = ox * sw - pw + c * dw;
                    if (ix < 0 || ix >= W) continue;
                    const long j = ((long)iz * H + iy) * W + ix;
                    const TC v = LD(xp, base + j);
                    if (best < 0 || v > m || isnan(v)) {
                        m = v;
                        best = j;
                    }
                }
            }
        }
        ST(y, i, m);
        idx[i] = best < 0 ? 0 : best;
    }
}

/* out[q, :] = 0; out[q, idx[q, l]] += g[q, l]: one work-item per plane (race-free) */
__kernel void plane_scatter_add(const long planes, const long L, const long P, __global TS* out,
                                __global const TS* g, const long go, __global const long* idx,
                                const long io) {
    FOR_RANGE(q, planes) {
        for (long j = 0; j < P; ++j) ST(out, q * P + j, 0);
        for (long l = 0; l < L; ++l) {
            const long j = idx[io + q * L + l];
            if (j >= 0 && j < P)
                ST(out, q * P + j, LD(out, q * P + j) + LD(g, go + q * L + l));
        }
    }
}

/* window [lo, hi) of output o along one dim, clamped to the input; returns the length of the
   window clamped to the padded input (PyTorch's count_include_pad size) */
inline int win(const int o, const int s, const int p, const int k, const int n, int* lo, int* hi) {
    const int a = o * s - p;
    const int b = min(a + k, n + p);
    *lo = max(a, 0);
    *hi = min(b, n);
    return b - a;
}

inline TC divisor(const int oz, const int oy, const int ox, const int include_pad,
                  const int override_, GEOM_PARAMS, int* z0, int* z1, int* y0, int* y1, int* x0,
                  int* x1) {
    const int nz = win(oz, sd, pd, kd, D, z0, z1);
    const int ny = win(oy, sh, ph, kh, H, y0, y1);
    const int nx = win(ox, sw, pw, kw, W, x0, x1);
    if (override_ > 0) return (TC)override_;
    if (include_pad) return (TC)nz * ny * nx;
    return (TC)(*z1 - *z0) * (*y1 - *y0) * (*x1 - *x0);
}

__kernel void avg_pool(const long total, __global TS* y, __global const TS* x, const long xo,
                       const int include_pad, const int override_, GEOM_PARAMS) {
    const long L = (long)od * oh * ow, P = (long)D * H * W;
    FOR_RANGE(i, total) {
        const long l = i % L, q = i / L;
        const int ox = (int)(l % ow), oy = (int)((l / ow) % oh), oz = (int)(l / ((long)ow * oh));
        int z0, z1, y0, y1, x0, x1;
        const TC n = divisor(oz, oy, ox, include_pad, override_, D, H, W, kd, kh, kw, dd, dh,
                             dw, pd, ph, pw, sd, sh, sw, od, oh, ow, &z0, &z1, &y0, &y1, &x0,
                             &x1);
        TC acc = (TC)0;
        for (int a = z0; a < z1; ++a)
            for (int b = y0; b < y1; ++b)
                for (int c = x0; c < x1; ++c)
                    acc += LD(x, xo + q * P + ((long)a * H + b) * W + c);
        ST(y, i, acc / n);
    }
}

/* gx[input] = sum over the windows covering it of g[window] / divisor[window] */
__kernel void avg_pool_backward(const long total, __global TS* gx, __global const TS* g,
                                const long go, const int include_pad, const int override_,
                                GEOM_PARAMS) {
    const long L = (long)od * oh * ow, P = (long)D * H * W;
    FOR_RANGE(i, total) {
        const long p = i % P, q = i / P;
        const int ix = (int)(p % W), iy = (int)((p / W) % H), iz = (int)(p / ((long)W * H));
        /* outputs o with o*s - pad <= i < o*s - pad + k */
        const int za = max(0, (iz + pd - kd) / sd + ((iz + pd - kd) >= 0 ? 1 : 0));
        const int zb = min(od - 1, (iz + pd) / sd);
        const int ya = max(0, (iy + ph - kh) / sh + ((iy + ph - kh) >= 0 ? 1 : 0));
        const int yb = min(oh - 1, (iy + ph) / sh);
        const int xa = max(0, (ix + pw - kw) / sw + ((ix + pw - kw) >= 0 ? 1 : 0));
        const int xb = min(ow - 1, (ix + pw) / sw);
        TC acc = (TC)0;
        for (int oz = za; oz <= zb; ++oz)
            for (int oy = ya; oy <= yb; ++oy)
                for (int ox = xa; ox <= xb; ++ox) {
                    int z0, z1, y0, y1, x0, x1;
                    const TC n = divisor(oz, oy, ox, include_pad, override_, D, H, W, kd, kh,
                                         kw, dd, dh, dw, pd, ph, pw, sd, sh, sw, od, oh, ow, &z0,
                                         &z1, &y0, &y1, &x0, &x1);
                    acc += LD(g, go + q * L + ((long)oz * oh + oy) * ow + ox) / n;
                }
        ST(gx, i, acc);
    }
}

#ifdef DF_CPU
/* The share [lo, hi) of n items owned by this work-item, split evenly: FOR_RANGE rounds each
   share up to 16 items, which leaves cores idle when n (here planes * rows) is small. */
#define EVEN_SHARE(lo, hi, n)                                                             \
    const long gs_ = (long)get_global_size(0), g_ = (long)get_global_id(0);               \
    const long lo = (n) * g_ / gs_, hi = (n) * (g_ + 1) / gs_;

/* Max pooling of 2-D planes whose windows all lie inside the plane (no padding or ceil_mode
   overhang), one (plane, output row) per item. Per-output window loops with a data-dependent
   selection chain do not vectorise on a CPU (pocl gathers across work-items instead); here
   each tap is applied to 8 outputs of the row at once with explicit vector selects. Taps go in
   scan order and a tap replaces the running maximum when greater or NaN, so ties and NaN
   resolve exactly as in max_pool. */
#if DT_SIZE(T) == 8
#define MI8 long8
#else
#define MI8 int8
#endif
#define TC8 DF_CAT(TC, 8)
#define TC16 DF_CAT(TC, 16)
#if DT_SIZE(T) == 2
#define LD16(p, o) vload_half16(0, (p) + (o))
#define ST8_ROW(p, o, v) vstore_half8_rte((v), 0, (p) + (o))
#else
#define LD16(p, o) vload16(0, (p) + (o))
#define ST8_ROW(p, o, v) vstore8((v), 0, (p) + (o))
#endif
/* even and odd lanes of a 16-wide vector, lane by lane: .even/.odd are the same shuffles, but
   Oclgrind 21.10 flags shuffles that read lane 11 as uninitialised (see HI16 in
   reduce_common.h); compilers fold this to the same code */
#define EVEN16(a) ((TC8)((a).s0, (a).s2, (a).s4, (a).s6, (a).s8, (a).sa, (a).sc, (a).se))
#define ODD16(a) ((TC8)((a).s1, (a).s3, (a).s5, (a).s7, (a).s9, (a).sb, (a).sd, (a).sf))
/* tap ``v`` at window offset ``off`` replaces the running maximum when greater or NaN */
#define TAP8(v, off)                                                                      \
    {                                                                                     \
        const MI8 upd_ = ((v) > m) | isnan(v);                                            \
        m = select(m, (v), upd_);                                                         \
        t = select(t, (MI8)(off), upd_);                                                  \
    }
#define STORE8(o)                                                                         \
    {                                                                                     \
        ST8_ROW(yr, o, m);                                                                \
        const long8 lane_ = (long8)(0, 1, 2, 3, 4, 5, 6, 7);                              \
        vstore8((long8)(r0 + (long)(o) * sw) + lane_ * sw + convert_long8(t), 0, ir + (o)); \
    }
#define LD8(p, o)                                                                         \
    ((TC8)(LD(p, o), LD(p, (o) + sw), LD(p, (o) + 2 * sw), LD(p, (o) + 3 * sw),           \
           LD(p, (o) + 4 * sw), LD(p, (o) + 5 * sw), LD(p, (o) + 6 * sw), LD(p, (o) + 7 * sw)))

__kernel void max_pool_rows(const long items, __global TS* y, __global long* idx,
                            __global const TS* x, const long xo, const int H, const int W,
                            const int kh, const int kw, const int dh, const int dw, const int sh,
                            const int sw, const int oh, const int ow) {
    EVEN_SHARE(lo, hi, items)
    for (long r = lo; r < hi; ++r) {
        const long q = r / oh;
        const long r0 = (r - q * oh) * sh * W;
        __global TS* yr = y + r * ow;
        __global long* ir = idx + r * ow;
        __global const TS* xr = x + xo + q * H * W + r0;
        int o = 0;
        if (sw == 2 && kw == 2 && dw == 1) {
            /* the common 2-wide, stride-2 window: each window row of 8 outputs is one
               contiguous 16-wide load whose even and odd lanes are its two taps (the last
               one read, 2 * o + 15, is the last window's right tap: inside the row) */
            for (; o + 8 <= ow; o += 8) {
                __global const TS* xb = xr + (long)o * 2;
                TC16 v = LD16(xb, 0);
                TC8 m = EVEN16(v);
                MI8 t = (MI8)0;
                TAP8(ODD16(v), 1)
                for (int b = 1; b < kh; ++b) {
                    const int off = b * dh * W;
                    v = LD16(xb, off);
                    TAP8(EVEN16(v), off)
                    TAP8(ODD16(v), off + 1)
                }
                STORE8(o)
            }
        }
        for (; o + 8 <= ow; o += 8) {
            __global const TS* xb = xr + (long)o * sw;
            TC8 m = LD8(xb, 0);
            MI8 t = (MI8)0;
            for (int b = 0; b < kh; ++b)
                for (int c = 0; c < kw; ++c) {
                    const int off = b * dh * W + c * dw;
                    const TC8 v = LD8(xb, off);
                    TAP8(v, off)
                }
            STORE8(o)
        }
        for (; o < ow; ++o) {
            __global const TS* xb = xr + (long)o * sw;
            TC m = LD(xb, 0);
            int t = 0;
            for (int b = 0; b < kh; ++b)
                for (int c = 0; c < kw; ++c) {
                    const int off = b * dh * W + c * dw;
                    const TC v = LD(xb, off);
                    const int upd = (v > m) | isnan(v);
                    m = upd ? v : m;
                    t = upd ? off : t;
                }
            ST(yr, o, m);
            ir[o] = r0 + (long)o * sw + t;
        }
    }
}
#endif
