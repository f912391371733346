/* GEMM kernels that read both operands in place, for CPU devices (one launch, no packing):
 * gemm_direct and gemm_dot. Built with the packed path's options (-DPACKED, TM, VW, NV);
 * macros: gemm_common.h. */
#include "gemm_common.h"

#ifndef PACKED
#error "gemm_direct.cl needs -DPACKED"
#endif

/* an optional bias added to every row of C (has_bias = 0: not read), C's dtype */
#define BIAS_ARGS                                                                         \
    __global const C_T *bias, const long bias_off, const long bias_stride, const int has_bias
#ifdef C_HALF
#define LOAD_C(p, i) ((REAL)vload_half((i), (p)))
#else
#define LOAD_C(p, i) ((REAL)(p)[(i)])
#endif

/* gemm_direct: gemm_packed's register block with A and B read in place through their strides
 * (no packing launch): for small products, where a second launch costs more than the slower
 * reads (rows of A a power-of-two pitch apart share L1 sets; see gemm_packed). Arguments:
 * GEMM_ARGS, then BIAS_ARGS. global = (ceil(M/TM), ceil(N/NR), nbatch) rounded up to the
 * local size. */
__kernel void gemm_direct(GEMM_ARGS, BIAS_ARGS)
{
    const int mb = get_global_id(0);
    const int nb = get_global_id(1);
    const int z = get_global_id(2);
    if (mb * TM >= M || nb * NR >= N || z >= nbatch)
        return;
    const int m0 = mb * TM;
    const int n0 = nb * NR;
    const __global A_T *a = A + a_off + batch_offset(z, d1, d2, sa0, sa1, sa2) + (long)m0 * sam;
    const __global B_T *b = B + b_off + batch_offset(z, d1, d2, sb0, sb1, sb2) + (long)n0 * sbn;

    VT acc[TM][NV];
#pragma unroll
    for (int r = 0; r < TM; ++r)
#pragma unroll
        for (int v = 0; v < NV; ++v)
            acc[r][v] = (VT)0;

#ifndef B_HALF /* half B: vload_half, element by element below */
    if (n0 + NR <= N && sbn == 1) {
        /* rows past M (a bottom edge block) read row M-1 again: in bounds, never stored */
        long arow[TM];
#pragma unroll
        for (int r = 0; r < TM; ++r)
            arow[r] = (long)min(r, M - 1 - m0) * sam;
        for (int k = 0; k < K; ++k) {
            const __global B_T *row = b + (long)k * sbk;
            VT bv[NV];
#pragma unroll
            for (int v = 0; v < NV; ++v)
                bv[v] = CAT(convert_, VT)(VLOAD(v, row));
#pragma unroll
            for (int r = 0; r < TM; ++r) {
                const VT av = (VT)(LOAD_A(a, arow[r] + (long)k * sak));
#pragma unroll
                for (int v = 0; v < NV; ++v)
                    acc[r][v] = fma(av, bv[v], acc[r][v]);
            }
        }
    } else
#endif
    { /* a right edge block, strided B rows or half B: scalar loads, zeros outside */
        for (int k = 0; k < K; ++k) {
            REAL t[NR];
            for (int c = 0; c < NR; ++c)
                t[c] = (n0 + c < N) ? LOAD_B(b, (long)k * sbk + (long)c * sbn) : (REAL)0;
            VT bv[NV];
#pragma unroll
            for (int v = 0; v < NV; ++v)
                bv[v] = VLOAD(v, t);
            for (int r = 0; r < TM; ++r) {
                const VT av =
                    (VT)(m0 + r < M ? LOAD_A(a, (long)r * sam + (long)k * sak) : (REAL)0);
#pragma unroll
                for (int v = 0; v < NV; ++v)
                    acc[r][v] = fma(av, bv[v], acc[r][v]);
            }
        }
    }
    if (has_bias) { /* C = A @ B + bias[n] (a linear layer's forward: no second launch) */
        REAL t[NR];
        for (int c = 0; c < NR; ++c)
            t[c] = n0 + c < N ? LOAD_C(bias, bias_off + (long)(n0 + c) * bias_stride) : (REAL)0;
#pragma unroll
        for (int v = 0; v < NV; ++v) {
            const VT bv = VLOAD(v, t);
#pragma unroll
            for (int r = 0; r < TM; ++r)
                acc[r][v] += bv;
        }
    }
    STORE_BLOCK(C + c_off + (long)z * M * N + (long)m0 * N + n0, acc, m0, n0, M, N);
}

/* gemm_dot: C = A @ B for A and B both contiguous along K (A row-major, B = W.mT with W
 * row-major: ``x @ W.T``, a linear layer's forward) -- no operand is contiguous along M or
 * N, which gemm_direct's broadcast-and-FMA needs. Here the vectors run along K: each
 * work-item keeps a DM x DN block of VW-wide partial dot products, adds each up at the end,
 * and finishes K's tail element by element. Arguments: GEMM_ARGS, then BIAS_ARGS.
 * global = (ceil(M/DM), ceil(N/DN), nbatch) rounded up to the local size. */
#define DM 4
#define DN 4
#ifdef A_HALF
#define VLOAD_A(p) CAT(vload_half, VW)(0, p)
#else
#define VLOAD_A(p) CAT(convert_, VT)(VLOAD(0, p))
#endif
#ifdef B_HALF
#define VLOAD_B(p) CAT(vload_half, VW)(0, p)
#else
#define VLOAD_B(p) CAT(convert_, VT)(VLOAD(0, p))
#endif

/* the sum of v's lanes (through private memory: Oclgrind mistracks .lo/.hi of 16-wide
 * vectors as uninitialised; the compiled code is the same reduction) */
inline REAL hsum(VT v)
{
    REAL t[VW];
    VSTORE(v, 0, t);
    REAL s = (REAL)0;
    for (int i = 0; i < VW; ++i)
        s += t[i];
    return s;
}

__kernel void gemm_dot(GEMM_ARGS, BIAS_ARGS)
{
    const int mb = get_global_id(0);
    const int nb = get_global_id(1);
    const int z = get_global_id(2);
    if (mb * DM >= M || nb * DN >= N || z >= nbatch)
        return;
    const int m0 = mb * DM;
    const int n0 = nb * DN;
    const __global A_T *a = A + a_off + batch_offset(z, d1, d2, sa0, sa1, sa2);
    const __global B_T *b = B + b_off + batch_offset(z, d1, d2, sb0, sb1, sb2);
    /* rows/columns past the edge read the last one again: in bounds, never stored */
    const __global A_T *ar[DM];
    const __global B_T *bc[DN];
#pragma unroll
    for (int r = 0; r < DM; ++r)
        ar[r] = a + (long)min(m0 + r, M - 1) * sam;
#pragma unroll
    for (int c = 0; c < DN; ++c)
        bc[c] = b + (long)min(n0 + c, N - 1) * sbn;

    VT acc[DM][DN];
#pragma unroll
    for (int r = 0; r < DM; ++r)
#pragma unroll
        for (int c = 0; c < DN; ++c)
            acc[r][c] = (VT)0;
    int k = 0;
    for (; k + VW <= K; k += VW) {
        VT av[DM];
#pragma unroll
        for (int r = 0; r < DM; ++r)
            av[r] = VLOAD_A(ar[r] + k);
#pragma unroll
        for (int c = 0; c < DN; ++c) {
            const VT bv = VLOAD_B(bc[c] + k);
#pragma unroll
            for (int r = 0; r < DM; ++r)
                acc[r][c] = fma(av[r], bv, acc[r][c]);
        }
    }
    REAL s[DM][DN];
#pragma unroll
    for (int r = 0; r < DM; ++r)
#pragma unroll
        for (int c = 0; c < DN; ++c)
            s[r][c] = hsum(acc[r][c]);
    for (; k < K; ++k)
#pragma unroll
        for (int r = 0; r < DM; ++r)
#pragma unroll
            for (int c = 0; c < DN; ++c)
                s[r][c] = fma(LOAD_A(ar[r], k), LOAD_B(bc[c], k), s[r][c]);
    __global C_T *cp = C + c_off + (long)z * M * N;
    for (int r = 0; r < DM && m0 + r < M; ++r)
        for (int c = 0; c < DN && n0 + c < N; ++c)
            STORE_C(cp, (long)(m0 + r) * N + n0 + c,
                    s[r][c] + (has_bias ? LOAD_C(bias, bias_off + (long)(n0 + c) * bias_stride)
                                        : (REAL)0));
}

