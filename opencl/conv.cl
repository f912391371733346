/* Convolution data movement: im2col (receptive fields to columns) and its adjoint col2im.
 * Built per -DT=F16|F32|F64. Planes are (D, H, W) volumes of q = n*C + c; 1-D and 2-D ops
 * pass D = 1 (and H = 1). Columns are laid out (N, C*K, L): element ((q*K + k)*L + l) holds
 * the input under kernel offset k of output position l (0 in the padding).
 *
 * im2col: one element per output column entry. col2im: one element per INPUT position, which
 * sums the column entries that read it (a gather: no atomics, deterministic order).
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
