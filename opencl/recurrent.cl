/* One LSTM time step's pointwise work, forward and backward, for the sequence kernels of
 * src/deepforge/backends/opencl/recurrent.py (the step's GEMM runs before, in gemm.cl). Built
 * per -DT=F16|F32|F64. Gate order i, f, g, o; G = 4H; one work-item per (row, j), rows < bs.
 * The states h, c (B x H) and dh, dc are updated in place: an element is read and written by
 * the same work-item only.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)

inline TC sigm(const TC x) { return (TC)1 / ((TC)1 + exp(-x)); }

/* gates = xw[row] + hg[row] (hg: the step's h W_hh^T, bs x G); saves the activations (act,
 * N x G) and c_prev, c_new, h_prev (N x H) at the step's rows; out[row] = h_new */
__kernel void lstm_fwd_step(const long n, const long H, __global const TS *xw, const long xo,
                            __global const TS *hg, __global TS *h, __global TS *c,
                            __global TS *act, __global TS *cprev, __global TS *cnew,
                            __global TS *hprev, __global TS *out, const long r0)
{
    const long G = 4 * H;
    FOR_RANGE(k, n) {
        const long row = k / H, j = k - row * H;
        const long x0 = xo + row * G + j, g0 = row * G + j, a0 = (r0 + row) * G + j;
        const long s = row * H + j, o = (r0 + row) * H + j;
        const TC i = sigm(LD(xw, x0) + LD(hg, g0));
        const TC f = sigm(LD(xw, x0 + H) + LD(hg, g0 + H));
        const TC g = tanh(LD(xw, x0 + 2 * H) + LD(hg, g0 + 2 * H));
        const TC og = sigm(LD(xw, x0 + 3 * H) + LD(hg, g0 + 3 * H));
        const TC cp = LD(c, s), hp = LD(h, s);
        const TC cn = f * cp + i * g;
        const TC hn = og * tanh(cn);
        ST(act, a0, i);
        ST(act, a0 + H, f);
        ST(act, a0 + 2 * H, g);
        ST(act, a0 + 3 * H, og);
        ST(cprev, o, cp);
        ST(cnew, o, cn);
        ST(hprev, o, hp);
        ST(out, o, hn);
        ST(c, s, cn);
        ST(h, s, hn);
    }
}

/* from dh (the state's gradient), dout[row] (the output's, at doo) and dc: the gate
 * gradients dg (N x G) at the step's rows, and dc <- dc_prev */
__kernel void lstm_bwd_step(const long n, const long H, __global const TS *dh,
                            __global const TS *dout, const long doo, __global TS *dc,
                            __global const TS *act, __global const TS *cprev,
                            __global const TS *cnew, __global TS *dg, const long r0)
{
    const long G = 4 * H;
    FOR_RANGE(k, n) {
        const long row = k / H, j = k - row * H;
        const long a0 = (r0 + row) * G + j, s = row * H + j, o = (r0 + row) * H + j;
        const TC i = LD(act, a0), f = LD(act, a0 + H), g = LD(act, a0 + 2 * H);
        const TC og = LD(act, a0 + 3 * H);
        const TC gh = LD(dh, s) + LD(dout, doo + o);
        const TC tc = tanh(LD(cnew, o));
        const TC gct = LD(dc, s) + gh * og * ((TC)1 - tc * tc);
        ST(dg, a0, gct * g * i * ((TC)1 - i));
        ST(dg, a0 + H, gct * LD(cprev, o) * f * ((TC)1 - f));
        ST(dg, a0 + 2 * H, gct * i * ((TC)1 - g * g));
        ST(dg, a0 + 3 * H, gh * tc * og * ((TC)1 - og));
        ST(dc, s, gct * f);
    }
}

/* GRU, gate order r, z, n; G = 3H. gates: xw[row] (x W_ih^T + b_ih) and hg[row] (h W_hh^T)
 * plus b_hh (when has_bhh); saves act (N x 4H: r, z, n, hn + b_hn) and h_prev (N x H) at the
 * step's rows; out[row] = h <- (1 - z) n + z h */
__kernel void gru_fwd_step(const long n, const long H, __global const TS *xw, const long xo,
                           __global const TS *hg, __global const TS *bhh, const long bo,
                           const int has_bhh, __global TS *h, __global TS *act,
                           __global TS *hprev, __global TS *out, const long r0)
{
    const long G = 3 * H;
    FOR_RANGE(k, n) {
        const long row = k / H, j = k - row * H;
        const long x0 = xo + row * G + j, g0 = row * G + j, a0 = (r0 + row) * 4 * H + j;
        const long s = row * H + j, o = (r0 + row) * H + j;
        const TC br = has_bhh ? LD(bhh, bo + j) : (TC)0;
        const TC bz = has_bhh ? LD(bhh, bo + H + j) : (TC)0;
        const TC bn = has_bhh ? LD(bhh, bo + 2 * H + j) : (TC)0;
        const TC r = sigm(LD(xw, x0) + LD(hg, g0) + br);
        const TC z = sigm(LD(xw, x0 + H) + LD(hg, g0 + H) + bz);
        const TC hn = LD(hg, g0 + 2 * H) + bn;
        const TC nn = tanh(LD(xw, x0 + 2 * H) + r * hn);
        const TC hp = LD(h, s);
        const TC hnew = ((TC)1 - z) * nn + z * hp;
        ST(act, a0, r);
        ST(act, a0 + H, z);
        ST(act, a0 + 2 * H, nn);
        ST(act, a0 + 3 * H, hn);
        ST(hprev, o, hp);
        ST(out, o, hnew);
        ST(h, s, hnew);
    }
}

/* from dh and dout[row]: the gate gradients of x W_ih^T (dgx) and of h W_hh^T (dgh), N x 3H
 * at the step's rows, and direct (bs x H) = the gradient reaching h_prev through z h */
__kernel void gru_bwd_step(const long n, const long H, __global const TS *dh,
                           __global const TS *dout, const long doo, __global const TS *act,
                           __global const TS *hprev, __global TS *dgx, __global TS *dgh,
                           __global TS *direct, const long r0)
{
    const long G = 3 * H;
    FOR_RANGE(k, n) {
        const long row = k / H, j = k - row * H;
        const long a0 = (r0 + row) * 4 * H + j, d0 = (r0 + row) * G + j;
        const long s = row * H + j, o = (r0 + row) * H + j;
        const TC r = LD(act, a0), z = LD(act, a0 + H), nn = LD(act, a0 + 2 * H);
        const TC hn = LD(act, a0 + 3 * H);
        const TC g = LD(dh, s) + LD(dout, doo + o);
        const TC dn = g * ((TC)1 - z) * ((TC)1 - nn * nn);
        const TC dz = g * (LD(hprev, o) - nn) * z * ((TC)1 - z);
        const TC dr = dn * hn * r * ((TC)1 - r);
        ST(dgx, d0, dr);
        ST(dgx, d0 + H, dz);
        ST(dgx, d0 + 2 * H, dn);
        ST(dgh, d0, dr);
        ST(dgh, d0 + H, dz);
        ST(dgh, d0 + 2 * H, dn * r);
        ST(direct, s, g * z);
    }
}
