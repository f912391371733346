/* nll_loss on (N, C) log-probabilities, forward and backward, in one launch each (the composed
 * form is a gather, a mask, a cast, two sums and a division forward, a fill and a scatter
 * backward). Built per -DT=F16|F32|F64.
 *
 * logp[i, c] at lo + i*sn + c*sc; target[i] (int64) at to + i*st; weight[c] (when has_w) at
 * wo + c*sw. A row whose target is ignore_index, or outside [0, C) (the host's idx_check has
 * reported it), counts with weight 0 and is not read: a -inf log-probability in an ignored row
 * does not turn the loss into NaN.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)
#define NLL_LOCAL 256

#define NLL_ARGS                                                                          \
    __global const long *tgt, const long to, const long st, __global const TS *w,         \
        const long wo, const long sw, const int has_w, const long ignore, const long N,   \
        const long C

/* the weight of row i's target (0 for an ignored or invalid one); *t gets the target */
inline TC nll_weight(const long i, long *t, NLL_ARGS)
{
    const long ti = tgt[to + i * st];
    *t = ti;
    if (ti == ignore || ti < 0 || ti >= C)
        return (TC)0;
    return has_w ? LD(w, wo + ti * sw) : (TC)1;
}

/* reduction 'none': out[i] = -w[t_i] * logp[i, t_i] (0 for an ignored row) */
__kernel void nll_rows(__global TS *out, const long oo, __global const TS *logp, const long lo,
                       const long sn, const long sc, NLL_ARGS)
{
    FOR_RANGE(i, N) {
        long t;
        const TC wi = nll_weight(i, &t, tgt, to, st, w, wo, sw, has_w, ignore, N, C);
        ST(out, oo + i, wi != (TC)0 ? -wi * LD(logp, lo + i * sn + t * sc) : (TC)0);
    }
}

/* 'sum' / 'mean' (mean = 1): one work-group (local size a power of two <= NLL_LOCAL) adds up
 * the rows' losses and weights in DF_WIDE; out[0] = the sum, or the sum over the total
 * weight (0 / 0 = NaN when every row is ignored, as PyTorch); total[0] = the total weight. */
__kernel void nll_sum(__global TS *out, __global TS *total, const int mean,
                      __global const TS *logp, const long lo, const long sn, const long sc,
                      NLL_ARGS)
{
    __local DF_WIDE part_loss[NLL_LOCAL];
    __local DF_WIDE part_w[NLL_LOCAL];
    const int l = get_local_id(0);
    const int ls = get_local_size(0);
    DF_WIDE s = 0, sw_ = 0;
    for (long i = l; i < N; i += ls) {
        long t;
        const TC wi = nll_weight(i, &t, tgt, to, st, w, wo, sw, has_w, ignore, N, C);
        if (wi != (TC)0) {
            s -= (DF_WIDE)(wi * LD(logp, lo + i * sn + t * sc));
            sw_ += (DF_WIDE)wi;
        }
    }
    part_loss[l] = s;
    part_w[l] = sw_;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = ls / 2; h > 0; h /= 2) {
        if (l < h) {
            part_loss[l] += part_loss[l + h];
            part_w[l] += part_w[l + h];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) {
        ST(total, 0, (TC)part_w[0]);
        ST(out, 0, (TC)(mean ? part_loss[0] / part_w[0] : part_loss[0]));
    }
}

/* gx (N x C, contiguous) = d loss / d logp: -w[t_i] * g_i at (i, t_i), 0 elsewhere; g_i is
 * g[go + i*sg] (sg = 0 for 'sum'/'mean'), divided by total[tot_o] for 'mean'. */
__kernel void nll_backward(__global TS *gx, __global const TS *g, const long go, const long sg,
                           __global const TS *total, const long tot_o, const int mean,
                           NLL_ARGS)
{
    FOR_RANGE(k, N * C) {
        const long i = k / C;
        const long c = k - i * C;
        long t;
        TC v = (TC)0;
        if (c == tgt[to + i * st]) {
            const TC wi = nll_weight(i, &t, tgt, to, st, w, wo, sw, has_w, ignore, N, C);
            if (wi != (TC)0) {
                TC gi = LD(g, go + i * sg);
                if (mean)
                    gi = gi / LD(total, tot_o);
                v = -wi * gi;
            }
        }
        ST(gx, k, v);
    }
}
