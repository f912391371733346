/* A plain local-memory tiled matrix product, batched with broadcast batch dims:
 * C[b] = A[b] @ B[b], A (M, K) and B (K, N) read through arbitrary strides. The fallback until
 * the tuned GEMM (gemm.cl) is available. Built per -DT=<code>; accumulates in the compute type
 * (float for F16/F32, double for F64, long for integers).
 * Global size (roundup(N, TILE), roundup(M, TILE), batches); local size (TILE, TILE).
 * The Desc iterates the batch dims with operands 0 C, 1 A, 2 B.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)
#define TILE 16

__kernel __attribute__((reqd_work_group_size(TILE, TILE, 1)))
void matmul_tiled(const Desc d, const long M, const long N, const long K,
                  __global TS* C, const long sc_m, const long sc_n,
                  __global const TS* A, const long sa_m, const long sa_k,
                  __global const TS* B, const long sb_k, const long sb_n) {
    __local TC As[TILE][TILE + 1];
    __local TC Bs[TILE][TILE + 1];
    const int tx = get_local_id(0), ty = get_local_id(1);
    const long col = get_global_id(0), row = get_global_id(1);
    long oc, oa, ob, o3;
    DESC_OFFSETS(d, (long)get_global_id(2), oc, oa, ob, o3);
    (void)o3;
    TC acc = (TC)0;
    for (long k0 = 0; k0 < K; k0 += TILE) {
        const long ka = k0 + tx, kb = k0 + ty;
        As[ty][tx] = (row < M && ka < K) ? LD(A, oa + row * sa_m + ka * sa_k) : (TC)0;
        Bs[ty][tx] = (kb < K && col < N) ? LD(B, ob + kb * sb_k + col * sb_n) : (TC)0;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int k = 0; k < TILE; ++k) acc += As[ty][k] * Bs[k][tx];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (row < M && col < N) ST(C, oc + row * sc_m + col * sc_n, acc);
}
