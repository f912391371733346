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
