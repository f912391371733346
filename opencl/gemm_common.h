#ifndef DF_GEMM_COMMON_H
#define DF_GEMM_COMMON_H
/* Shared by the GEMM kernels (gemm.cl, gemm_direct.cl): C[z] = A[z] @ B[z] for strided,
 * batched, broadcast operands.
 *
 * OpenCL C 1.2. Every kernel guards its bounds; none assumes a work-group size (the host picks
 * one the device and the kernel report), except gemm_tiled, whose work-group shape is a build
 * option the host checks against the device and the kernel before launching.
 *
 * Build options (all -D, set by src/deepforge/backends/opencl/gemm.py):
 *   REAL=float|double      compute type (double only on devices with cl_khr_fp64)
 *   A_T, B_T, C_T           storage types of A, B, C (float, double, half, int, long, ...).
 *                           half is read/written with vload_half/vstore_half, which are core
 *                           OpenCL 1.2 and need no cl_khr_fp16.
 *   A_HALF, B_HALF, C_HALF  defined when the operand is half
 *   ACC_T                   accumulator type of gemm_naive (REAL for floats, int/long for ints)
 *   C_BOOL                  gemm_naive writes (acc != 0) (bool matmul)
 *   register-blocked paths (gemm_pack, gemm_packed; gemm_direct, gemm_dot), with PACKED:
 *     TM                    rows of C per work-item (8)
 *     VW                    vector width (16 for float, 8 for double)
 *     NV                    vectors per row: a work-item computes TM x (VW*NV) of C
 *   local-memory path (gemm_tiled):
 *     TSM, TSN, TSK         work-group tile of C and K-step
 *     WPTM, WPTN            C elements per work-item along M and N
 *
 * Batch indexing: the host collapses batch dims to at most 3 (d0, d1, d2; d0 implicit) and
 * passes per-operand element strides for each (0 where an operand is broadcast).
 */

#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#ifndef REAL
#define REAL float
#endif
#ifndef A_T
#define A_T REAL
#endif
#ifndef B_T
#define B_T REAL
#endif
#ifndef C_T
#define C_T REAL
#endif
#ifndef ACC_T
#define ACC_T REAL
#endif

#ifdef A_HALF
#define LOAD_A(p, i) ((REAL)vload_half((i), (p)))
#else
#define LOAD_A(p, i) ((REAL)(p)[(i)])
#endif
#ifdef B_HALF
#define LOAD_B(p, i) ((REAL)vload_half((i), (p)))
#else
#define LOAD_B(p, i) ((REAL)(p)[(i)])
#endif
#ifdef C_HALF
#define STORE_C(p, i, v) vstore_half((float)(v), (i), (p))
#else
#define STORE_C(p, i, v) ((p)[(i)] = (C_T)(v))
#endif

/* The arguments of every kernel reading A and B in place (gemm_naive, gemm_tiled,
 * gemm_direct, gemm_dot): each operand's buffer, offset and row/column strides, C's buffer
 * and offset, the sizes, and up to 3 batch dims (d0 implicit) with A's and B's strides. */
#define GEMM_ARGS                                                                         \
    __global const A_T *A, const long a_off, const long sam, const long sak,              \
        __global const B_T *B, const long b_off, const long sbk, const long sbn,          \
        __global C_T *C, const long c_off, const int M, const int N, const int K,         \
        const int nbatch, const long d1, const long d2, const long sa0, const long sa1,   \
        const long sa2, const long sb0, const long sb1, const long sb2

/* Offset of batch item z split over (d0, d1, d2) with strides (s0, s1, s2). */
long batch_offset(long z, long d1, long d2, long s0, long s1, long s2)
{
    const long i2 = z % d2;
    const long r = z / d2;
    return (r / d1) * s0 + (r % d1) * s1 + i2 * s2;
}

#ifdef PACKED
#define NR (VW * NV)
#define VT CAT(REAL, VW)
#define VLOAD CAT(vload, VW)
#define VSTORE CAT(vstore, VW)
#define VSTORE_HALF CAT(vstore_half, VW)

/* Store a work-item's TM x NR block acc of C (row pitch N) at c: whole vectors inside C,
 * element by element on its edges. */
#ifdef C_HALF
#define STORE_VEC(x, v, p) VSTORE_HALF(CAT(convert_float, VW)(x), v, p)
#else
#define STORE_VEC(x, v, p) VSTORE(x, v, p)
#endif
#define STORE_BLOCK(c_, acc, m0, n0, M, N)                                                  \
    do {                                                                                    \
        __global C_T *c = (c_);                                                             \
        if ((m0) + TM <= (M) && (n0) + NR <= (N)) {                                         \
            _Pragma("unroll") for (int r = 0; r < TM; ++r)                                  \
                _Pragma("unroll") for (int v = 0; v < NV; ++v)                              \
                    STORE_VEC(acc[r][v], v, c + (long)r * (N));                             \
        } else {                                                                            \
            for (int r = 0; r < TM && (m0) + r < (M); ++r) {                                \
                for (int v = 0; v < NV; ++v) {                                              \
                    REAL t[VW];                                                             \
                    VSTORE(acc[r][v], 0, t);                                                \
                    for (int j = 0; j < VW; ++j)                                            \
                        if ((n0) + v * VW + j < (N))                                        \
                            STORE_C(c, (long)r * (N) + v * VW + j, t[j]);                   \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    } while (0)
#endif /* PACKED */

#endif /* DF_GEMM_COMMON_H */
