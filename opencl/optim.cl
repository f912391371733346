/* Fused optimizer steps over contiguous parameter/state buffers, the same single-tensor
 * rules as the CPU kernels (PyTorch's SGD and Adam/AdamW). Built per -DT=F16|F32|F64;
 * arithmetic is done in the compute type (float for F16/F32).
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)

/* The *_multi kernels take 8 tensor slots (_MULTI in backends/opencl/nn.py): the slots'
 * parameters, and the update of each in turn (an unused slot has n = 0). */
#define EIGHT_SLOTS(SLOT) SLOT(0), SLOT(1), SLOT(2), SLOT(3), SLOT(4), SLOT(5), SLOT(6), SLOT(7)
#define EIGHT_SLOTS_RUN(RUN)                                                              \
    RUN(0); RUN(1); RUN(2); RUN(3); RUN(4); RUN(5); RUN(6); RUN(7);

/* g = -grad if maximize else grad; g += wd*param; buf = g if first_step else
   momentum*buf + (1-dampening)*g; g = g + momentum*buf if nesterov else buf; param -= lr*g.
   use_mom = 0 (momentum == 0) leaves buf untouched. */
#define SGD_SCALARS                                                                       \
    const TC lr, const TC mom, const TC damp1, const TC wd, const int nesterov,           \
        const int maximize, const int first, const int use_mom
#define SGD_SCALAR_NAMES lr, mom, damp1, wd, nesterov, maximize, first, use_mom

inline void sgd_one(const long n, __global TS* p, const long po, __global const TS* g,
                    const long go, __global TS* buf, const long bo, SGD_SCALARS) {
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

__kernel void sgd_momentum_step(const long n, __global TS* p, const long po, __global const TS* g,
                                const long go, __global TS* buf, const long bo, SGD_SCALARS) {
    sgd_one(n, p, po, g, go, buf, bo, SGD_SCALAR_NAMES);
}

/* The same step for up to 8 tensors in one launch; slot t: n (0 = unused), then
 * param, grad, momentum buffer (or param again) buffers, each with its offset. */
#define SGD_SLOT(t)                                                                       \
    const long n##t, __global TS *p##t, const long po##t, __global const TS *g##t,        \
        const long go##t, __global TS *b##t, const long bo##t
#define SGD_RUN(t) sgd_one(n##t, p##t, po##t, g##t, go##t, b##t, bo##t, SGD_SCALAR_NAMES)

__kernel void sgd_multi(EIGHT_SLOTS(SGD_SLOT), SGD_SCALARS) { EIGHT_SLOTS_RUN(SGD_RUN) }

/* PyTorch's Adam (decoupled = 0) / AdamW (decoupled = 1) step; neg_step = -lr/bc1,
   inv_bc2_sqrt = 1/sqrt(1 - beta2^step), w1 = 1 - beta1, decay = 1 - lr*wd. */
#define ADAM_SCALARS                                                                      \
    const TC w1, const TC decay, const TC wd, const TC beta2, const TC one_m_beta2,       \
        const TC neg_step, const TC inv_bc2_sqrt, const TC eps, const int decoupled,      \
        const int amsgrad, const int maximize
#define ADAM_SCALAR_NAMES                                                                 \
    w1, decay, wd, beta2, one_m_beta2, neg_step, inv_bc2_sqrt, eps, decoupled, amsgrad, maximize

inline void adam_one(const long n, __global TS* p, const long po, __global const TS* g,
                     const long go, __global TS* m, const long mo, __global TS* v, const long vo,
                     __global TS* vmax, const long xo, ADAM_SCALARS) {
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

__kernel void adam_step(const long n, __global TS* p, const long po, __global const TS* g,
                        const long go, __global TS* m, const long mo, __global TS* v,
                        const long vo, __global TS* vmax, const long xo, ADAM_SCALARS) {
    adam_one(n, p, po, g, go, m, mo, v, vo, vmax, xo, ADAM_SCALAR_NAMES);
}

/* The same step for up to 8 tensors in one launch (a training step updates every
 * parameter: one launch instead of one each). Slot t: n (0 = unused), then param, grad,
 * exp_avg, exp_avg_sq, max_exp_avg_sq (or param again) buffers, each with its offset. */
#define ADAM_SLOT(t)                                                                      \
    const long n##t, __global TS *p##t, const long po##t, __global const TS *g##t,        \
        const long go##t, __global TS *m##t, const long mo##t, __global TS *v##t,         \
        const long vo##t, __global TS *x##t, const long xo##t
#define ADAM_RUN(t)                                                                       \
    adam_one(n##t, p##t, po##t, g##t, go##t, m##t, mo##t, v##t, vo##t, x##t, xo##t,       \
             ADAM_SCALAR_NAMES)

__kernel void adam_multi(EIGHT_SLOTS(ADAM_SLOT), ADAM_SCALARS) { EIGHT_SLOTS_RUN(ADAM_RUN) }
