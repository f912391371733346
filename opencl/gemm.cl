/* deepforge GEMM kernels: gemm_naive, the packed register-blocked path (gemm_pack,
 * gemm_packed) and the local-memory tiled path (gemm_tiled). Build options and the
 * shared macros: gemm_common.h. */
#include "gemm_common.h"

/* ------------------------------------------------------------------------------------------ */
/* gemm_naive: one C element per work-item, any dtype (integers, bool, tiny float problems).  */
/* global = (N, M, batch) rounded up; local = anything.                                       */
/* ------------------------------------------------------------------------------------------ */
#ifdef NAIVE
#ifdef A_HALF
#define NLOAD_A(p, i) ((ACC_T)vload_half((i), (p)))
#else
#define NLOAD_A(p, i) ((ACC_T)(p)[(i)])
#endif
#ifdef B_HALF
#define NLOAD_B(p, i) ((ACC_T)vload_half((i), (p)))
#else
#define NLOAD_B(p, i) ((ACC_T)(p)[(i)])
#endif

__kernel void gemm_naive(GEMM_ARGS)
{
    const int n = get_global_id(0);
    const int m = get_global_id(1);
    const int z = get_global_id(2);
    if (n >= N || m >= M || z >= nbatch)
        return;
    const __global A_T *a = A + a_off + batch_offset(z, d1, d2, sa0, sa1, sa2) + m * sam;
    const __global B_T *b = B + b_off + batch_offset(z, d1, d2, sb0, sb1, sb2) + n * sbn;
    ACC_T acc = (ACC_T)0;
    for (int k = 0; k < K; ++k) {
#ifdef C_BOOL
        acc |= (NLOAD_A(a, k * sak) != 0) & (NLOAD_B(b, k * sbk) != 0);
#else
        acc += NLOAD_A(a, k * sak) * NLOAD_B(b, k * sbk);
#endif
    }
    const long ci = c_off + (long)z * M * N + (long)m * N + n;
#ifdef C_BOOL
    C[ci] = (C_T)(acc != 0);
#else
    STORE_C(C, ci, acc);
#endif
}
#endif /* NAIVE */

/* ------------------------------------------------------------------------------------------ */
/* Register-blocked path for CPU devices (PoCL): no local memory, no barriers.                */
/* ------------------------------------------------------------------------------------------ */
#ifdef PACKED
/* Pack A (M x K, strides sam/sak) into panels Ap[za][mb][k][TM] and B (K x N, strides
 * sbk/sbn) into Bp[zb][nb][k][NR], zero-padding rows >= M and columns >= N. Operands are read
 * in place through their strides; each is packed over its own (non-broadcast) batch items.
 * One launch for both. A work-item packs KC consecutive k of one row block of A (blk <
 * mblocks) or of one column block of B: neighbouring work-items read neighbouring blocks of
 * the same rows, and each writes one contiguous run of its panel.
 * global = (ceil(M/TM) + ceil(N/NR), ceil(K/(KC*PACK_CHUNKS)), max(nbatch_a, nbatch_b)),
 * rounded up. */
#define KC 16
#define PACK_ARGS                                                                              \
    __global const A_T *A, const long a_off, const long sam, const long sak,                   \
        __global const B_T *B, const long b_off, const long sbk, const long sbn,               \
        __global REAL *Ap, __global REAL *Bp, const int M, const int N, const int K,           \
        const int nbatch_a, const int nbatch_b, const long ad1, const long ad2, const long as0, \
        const long as1, const long as2, const long bd1, const long bd2, const long bs0,         \
        const long bs1, const long bs2
/* KC consecutive k, from k0, of block blk (see gemm_pack) */
inline void pack_chunk(PACK_ARGS, const int blk, const int k0, const int z)
{
    const int mblocks = (M + TM - 1) / TM;
    const int nblocks = (N + NR - 1) / NR;
    const int kn = min(KC, K - k0);
    if (blk < mblocks) {
        if (z >= nbatch_a)
            return;
        const int m0 = blk * TM;
        const __global A_T *a = A + a_off + batch_offset(z, ad1, ad2, as0, as1, as2);
        __global REAL *ap = Ap + (((long)z * mblocks + blk) * K + k0) * TM;
#if !defined(A_HALF) && TM == 8
        if (m0 + TM <= M && kn == KC) {
            if (sam == 1) { /* A.mT-like: the TM rows of one k are contiguous */
                for (int kk = 0; kk < KC; ++kk)
                    vstore8(CAT(convert_, CAT(REAL, 8))(vload8(0, a + m0 + (k0 + kk) * sak)), kk,
                            ap);
                return;
            }
            if (sak == 1) { /* row-major: KC contiguous k per row; transpose in registers */
                REAL t[TM][KC];
#pragma unroll
                for (int r = 0; r < TM; ++r)
                    vstore16(CAT(convert_, CAT(REAL, 16))(vload16(0, a + (m0 + r) * sam + k0)), 0,
                             t[r]);
#pragma unroll
                for (int kk = 0; kk < KC; ++kk)
                    vstore8((CAT(REAL, 8))(t[0][kk], t[1][kk], t[2][kk], t[3][kk], t[4][kk],
                                           t[5][kk], t[6][kk], t[7][kk]),
                            kk, ap);
                return;
            }
        }
#endif
        for (int r = 0; r < TM; ++r) {
            if (m0 + r < M) {
                const __global A_T *row = a + (long)(m0 + r) * sam + (long)k0 * sak;
                for (int kk = 0; kk < kn; ++kk)
                    ap[kk * TM + r] = LOAD_A(row, kk * sak);
            } else {
                for (int kk = 0; kk < kn; ++kk)
                    ap[kk * TM + r] = (REAL)0;
            }
        }
        return;
    }
    const int nb = blk - mblocks;
    if (nb >= nblocks || z >= nbatch_b)
        return;
    const int n0 = nb * NR;
    const __global B_T *b = B + b_off + batch_offset(z, bd1, bd2, bs0, bs1, bs2) + (long)k0 * sbk;
    __global REAL *bp = Bp + (((long)z * nblocks + nb) * K + k0) * NR;
#ifndef B_HALF
    if (sbn == 1 && n0 + NR <= N) {
        for (int kk = 0; kk < kn; ++kk) {
            const __global B_T *row = b + kk * sbk + n0;
#pragma unroll
            for (int v = 0; v < NV; ++v)
                VSTORE(CAT(convert_, VT)(VLOAD(v, row)), kk * NV + v, bp);
        }
        return;
    }
#if NR % 8 == 0
    if (sbk == 1 && n0 + NR <= N && kn == KC) { /* B.mT-like: KC contiguous k per column */
        REAL t[NR][KC];
#pragma unroll
        for (int c = 0; c < NR; ++c)
            vstore16(CAT(convert_, CAT(REAL, 16))(vload16(0, b + (n0 + c) * sbn)), 0, t[c]);
#pragma unroll
        for (int kk = 0; kk < KC; ++kk)
#pragma unroll
            for (int c = 0; c < NR; c += 8)
                vstore8((CAT(REAL, 8))(t[c][kk], t[c + 1][kk], t[c + 2][kk], t[c + 3][kk],
                                       t[c + 4][kk], t[c + 5][kk], t[c + 6][kk], t[c + 7][kk]),
                        0, bp + kk * NR + c);
        return;
    }
#endif
#endif
    for (int kk = 0; kk < kn; ++kk) {
        const __global B_T *row = b + kk * sbk;
        for (int c = 0; c < NR; ++c)
            bp[kk * NR + c] = (n0 + c < N) ? LOAD_B(row, (long)(n0 + c) * sbn) : (REAL)0;
    }
}

/* A work-item packs PACK_CHUNKS (a build option from gemm.py) runs of KC k: on PoCL each
 * work-group carries a fixed cost, which at one run per work-item was a tenth of a 1024^3
 * product. */
__kernel void gemm_pack(PACK_ARGS)
{
    const int blk = get_global_id(0);
    const int z = get_global_id(2);
    for (int c = 0; c < PACK_CHUNKS; ++c) {
        const int k0 = (get_global_id(1) * PACK_CHUNKS + c) * KC;
        if (k0 >= K)
            return;
        pack_chunk(A, a_off, sam, sak, B, b_off, sbk, sbn, Ap, Bp, M, N, K, nbatch_a, nbatch_b,
                   ad1, ad2, as0, as1, as2, bd1, bd2, bs0, bs1, bs2, blk, k0, z);
    }
}

/* C block (TM x NR) per work-item from the packed panels; C is contiguous (M x N per batch).
 * (A is always packed: reading TM rows of a row-major A in place puts TM streams a row pitch
 * apart, which for power-of-two K all map to the same L1 sets and halves the speed.)
 * global = (ceil(M/TM), ceil(N/NR), nbatch) rounded up to the local size. */
__kernel void gemm_packed(__global const REAL *Ap, __global const REAL *Bp, __global C_T *C,
                          const long c_off, const int M, const int N, const int K,
                          const int nbatch, const long d1, const long d2, const long pa0,
                          const long pa1, const long pa2, const long pb0, const long pb1,
                          const long pb2)
{
    const int mb = get_global_id(0);
    const int nb = get_global_id(1);
    const int z = get_global_id(2);
    if (mb * TM >= M || nb * NR >= N || z >= nbatch)
        return;
    const int m0 = mb * TM;
    const int n0 = nb * NR;
    const __global REAL *ap = Ap + batch_offset(z, d1, d2, pa0, pa1, pa2) + (long)mb * K * TM;
    const __global REAL *bp = Bp + batch_offset(z, d1, d2, pb0, pb1, pb2) + (long)nb * K * NR;

    VT acc[TM][NV];
#pragma unroll
    for (int r = 0; r < TM; ++r)
#pragma unroll
        for (int v = 0; v < NV; ++v)
            acc[r][v] = (VT)0;

    for (int k = 0; k < K; ++k) {
        VT b[NV];
#pragma unroll
        for (int v = 0; v < NV; ++v)
            b[v] = VLOAD(v, bp);
#pragma unroll
        for (int r = 0; r < TM; ++r) {
            const VT a = (VT)(ap[r]);
#pragma unroll
            for (int v = 0; v < NV; ++v)
                acc[r][v] = fma(a, b[v], acc[r][v]);
        }
        ap += TM;
        bp += NR;
    }

    STORE_BLOCK(C + c_off + (long)z * M * N + (long)m0 * N + n0, acc, m0, n0, M, N);
}

#endif /* PACKED */

/* ------------------------------------------------------------------------------------------ */
/* Local-memory tiled path for GPUs: a work-group computes a TSM x TSN tile of C; each        */
/* work-item a WPTM x WPTN register block (strided rows/cols, so local reads don't conflict). */
/* Operands are read in place through their strides; out-of-range elements load as zero.     */
/* local = (TSN/WPTN, TSM/WPTM, 1); global = (ceil(N/TSN)*lx, ceil(M/TSM)*ly, nbatch).        */
/* ------------------------------------------------------------------------------------------ */
#ifdef TILED
#define RTSN (TSN / WPTN)
#define RTSM (TSM / WPTM)
#define NTHREADS (RTSN * RTSM)
#define LPTA ((TSK * TSM) / NTHREADS)
#define LPTB ((TSK * TSN) / NTHREADS)

__kernel __attribute__((reqd_work_group_size(RTSN, RTSM, 1))) void
gemm_tiled(GEMM_ARGS)
{
    const int tx = get_local_id(0);
    const int ty = get_local_id(1);
    const int tid = ty * RTSN + tx;
    const int n0 = get_group_id(0) * TSN;
    const int m0 = get_group_id(1) * TSM;
    const int z = get_global_id(2);

    __local REAL As[TSK][TSM + 1];
    __local REAL Bs[TSK][TSN + 1];

    const __global A_T *a = A + a_off + batch_offset(z, d1, d2, sa0, sa1, sa2);
    const __global B_T *b = B + b_off + batch_offset(z, d1, d2, sb0, sb1, sb2);

    REAL acc[WPTM][WPTN];
#pragma unroll
    for (int i = 0; i < WPTM; ++i)
#pragma unroll
        for (int j = 0; j < WPTN; ++j)
            acc[i][j] = (REAL)0;

    for (int k0 = 0; k0 < K; k0 += TSK) {
        /* A tile: TSK x TSM; consecutive threads walk m when A is column-major-ish (sam==1),
         * k otherwise, so global reads stay coalesced for both A and A.mT. */
#pragma unroll
        for (int l = 0; l < LPTA; ++l) {
            const int e = l * NTHREADS + tid;
            int kk, mm;
            if (sam == 1) {
                mm = e % TSM;
                kk = e / TSM;
            } else {
                kk = e % TSK;
                mm = e / TSK;
            }
            const int gm = m0 + mm, gk = k0 + kk;
            As[kk][mm] = (gm < M && gk < K) ? LOAD_A(a, gm * sam + gk * sak) : (REAL)0;
        }
#pragma unroll
        for (int l = 0; l < LPTB; ++l) {
            const int e = l * NTHREADS + tid;
            int kk, nn;
            if (sbk == 1 && sbn != 1) {
                kk = e % TSK;
                nn = e / TSK;
            } else {
                nn = e % TSN;
                kk = e / TSN;
            }
            const int gn = n0 + nn, gk = k0 + kk;
            Bs[kk][nn] = (gn < N && gk < K) ? LOAD_B(b, gk * sbk + gn * sbn) : (REAL)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

#pragma unroll
        for (int kk = 0; kk < TSK; ++kk) {
            REAL bv[WPTN];
#pragma unroll
            for (int j = 0; j < WPTN; ++j)
                bv[j] = Bs[kk][tx + j * RTSN];
#pragma unroll
            for (int i = 0; i < WPTM; ++i) {
                const REAL av = As[kk][ty + i * RTSM];
#pragma unroll
                for (int j = 0; j < WPTN; ++j)
                    acc[i][j] = fma(av, bv[j], acc[i][j]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    if (z >= nbatch)
        return;
    __global C_T *c = C + c_off + (long)z * M * N;
#pragma unroll
    for (int i = 0; i < WPTM; ++i) {
        const int m = m0 + ty + i * RTSM;
        if (m < M) {
#pragma unroll
            for (int j = 0; j < WPTN; ++j) {
                const int n = n0 + tx + j * RTSN;
                if (n < N)
                    STORE_C(c, (long)m * N + n, acc[i][j]);
            }
        }
    }
}
#endif /* TILED */
