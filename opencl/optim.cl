/* Fused optimizer steps over contiguous parameter/state buffers, the same single-tensor
 * rules as the CPU kernels (PyTorch's SGD and Adam/AdamW). Built per -DT=F16|F32|F64;
 * arithmetic is done in the compute type (float for F16/F32).
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)

/* g = -grad if maximize else grad; g += wd*param; buf = g if first_step else
   momentum*buf + (1-dampening)*g; g = g + momentum*buf if nesterov else buf; param -= lr*g.
   use_mom = 0 (momentum == 0) leaves buf untouched. */
__kernel void sgd_momentum_step(const long n, __global TS* p, const long po, __global const TS* g,
                                const long go, __global TS* buf, const long bo, const TC lr,
                                const TC mom, const TC damp1, const TC wd, const int nesterov,
                                const int maximize, const int first, const int use_mom) {
    FOR_RANGE(i, n) {
        TC gi = LD(g, go + i);
        if (maximize) gi = -gi;
        const TC pi = LD(p, po + i);
        if (wd != (TC)0) gi = gi + wd * pi;
        if (use_mom) {
            const TC b = first ? gi : LD(buf, bo + i) * mom + damp1 * gi;
            ST(buf, bo + i, b);
            gi = nesterov ? gi + mom * b : b;
        }
        ST(p, po + i, pi + (-lr) * gi);
    }
}

/* PyTorch's Adam (decoupled = 0) / AdamW (decoupled = 1) step; neg_step = -lr/bc1,
   inv_bc2_sqrt = 1/sqrt(1 - beta2^step), w1 = 1 - beta1, decay = 1 - lr*wd. */
__kernel void adam_step(const long n, __global TS* p, const long po, __global const TS* g,
                        const long go, __global TS* m, const long mo, __global TS* v,
                        const long vo, __global TS* vmax, const long xo, const TC w1,
                        const TC decay, const TC wd, const TC beta2, const TC one_m_beta2,
                        const TC neg_step, const TC inv_bc2_sqrt, const TC eps,
                        const int decoupled, const int amsgrad, const int maximize) {
    const int small = w1 < (TC)0.5 && w1 > (TC)-0.5;
    FOR_RANGE(i, n) {
        TC gi = LD(g, go + i);
        if (maximize) gi = -gi;
        TC pi = LD(p, po + i);
        if (wd != (TC)0) {
            if (decoupled) pi = pi * decay;
            else gi = gi + wd * pi;
        }
        TC mi = LD(m, mo + i);
        mi = small ? mi + w1 * (gi - mi) : gi - (gi - mi) * ((TC)1 - w1);
        ST(m, mo + i, mi);
        TC vi = LD(v, vo + i) * beta2 + (one_m_beta2 * gi) * gi;
        ST(v, vo + i, vi);
        if (amsgrad) {
            const TC a = LD(vmax, xo + i);
            vi = (vi > a || isnan(vi) || isnan(a)) ? (isnan(a) ? a : vi) : a;
            ST(vmax, xo + i, vi);
        }
        const TC denom = sqrt(vi) * inv_bc2_sqrt + eps;
        ST(p, po + i, pi + (neg_step * mi) / denom);
    }
}
