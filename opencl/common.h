/* Shared definitions for deepforge's OpenCL kernels (OpenCL C 1.2).
 *
 * The loader splices this file in where a kernel source says #include "common.h".
 *
 * dtypes are selected with -D build options naming a dtype code, e.g. -DT=F32 or
 * -DSRC=I64 -DDST=F16. For a code X the header gives:
 *   DT_TYPE(X)   the storage type (half for F16, uchar for bool)
 *   DT_C(X)      the compute type: float for F16/F32, double for F64, long for integers/bool
 *   DT_LD(X)(p, i)      load element i of p as DT_C(X)
 *   DT_ST(X)(p, i, v)   store v (any arithmetic type) into element i of p, converting like numpy
 *   DT_IS_FLOAT(X)      1 for floating dtypes;  DT_SIZE(X) its size in bytes
 * Codes: F16 F32 F64 I8 I16 I32 I64 U8 B (bool) and raw U16 U32 U64 (used for plain copies).
 *
 * Launch layout: on CPU devices (-DDF_CPU) each work-item owns one contiguous chunk of the
 * index space (vectorisable inner loops); on GPUs work-items stride through it (coalesced).
 * FOR_RANGE(i, n) hides the difference.
 *
 * Strided operands are described by a Desc passed by value: up to DF_MAXD dims after the host
 * merged the dims it could, up to 4 operands sharing one iteration shape.
 */
#ifndef DF_COMMON_H
#define DF_COMMON_H

#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#define DF_HAS_FP64 1
#define DF_WIDE double
#else
#define DF_WIDE float
#endif

#ifdef cl_khr_int64_base_atomics
#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable
#endif

#define DF_CAT_(a, b) a##b
#define DF_CAT(a, b) DF_CAT_(a, b)

#define DT_TYPE(X) DF_CAT(DT_TYPE_, X)
#define DT_C(X) DF_CAT(DT_C_, X)
#define DT_LD(X) DF_CAT(DT_LD_, X)
#define DT_ST(X) DF_CAT(DT_ST_, X)
#define DT_IS_FLOAT(X) DF_CAT(DT_IS_FLOAT_, X)
#define DT_SIZE(X) DF_CAT(DT_SIZE_, X)

#define DT_TYPE_F16 half
#define DT_TYPE_F32 float
#define DT_TYPE_F64 double
#define DT_TYPE_I8 char
#define DT_TYPE_I16 short
#define DT_TYPE_I32 int
#define DT_TYPE_I64 long
#define DT_TYPE_U8 uchar
#define DT_TYPE_B uchar
#define DT_TYPE_U16 ushort
#define DT_TYPE_U32 uint
#define DT_TYPE_U64 ulong

#define DT_C_F16 float
#define DT_C_F32 float
#define DT_C_F64 double
#define DT_C_I8 long
#define DT_C_I16 long
#define DT_C_I32 long
#define DT_C_I64 long
#define DT_C_U8 long
#define DT_C_B long
#define DT_C_U16 ushort
#define DT_C_U32 uint
#define DT_C_U64 ulong

#define DT_IS_FLOAT_F16 1
#define DT_IS_FLOAT_F32 1
#define DT_IS_FLOAT_F64 1
#define DT_IS_FLOAT_I8 0
#define DT_IS_FLOAT_I16 0
#define DT_IS_FLOAT_I32 0
#define DT_IS_FLOAT_I64 0
#define DT_IS_FLOAT_U8 0
#define DT_IS_FLOAT_B 0
#define DT_IS_FLOAT_U16 0
#define DT_IS_FLOAT_U32 0
#define DT_IS_FLOAT_U64 0

#define DT_SIZE_F16 2
#define DT_SIZE_F32 4
#define DT_SIZE_F64 8
#define DT_SIZE_I8 1
#define DT_SIZE_I16 2
#define DT_SIZE_I32 4
#define DT_SIZE_I64 8
#define DT_SIZE_U8 1
#define DT_SIZE_B 1
#define DT_SIZE_U16 2
#define DT_SIZE_U32 4
#define DT_SIZE_U64 8

#define DT_LD_F16(p, i) vload_half((i), (p))
#define DT_LD_F32(p, i) ((p)[i])
#define DT_LD_F64(p, i) ((p)[i])
#define DT_LD_I8(p, i) ((long)(p)[i])
#define DT_LD_I16(p, i) ((long)(p)[i])
#define DT_LD_I32(p, i) ((long)(p)[i])
#define DT_LD_I64(p, i) ((p)[i])
#define DT_LD_U8(p, i) ((long)(p)[i])
#define DT_LD_B(p, i) ((long)((p)[i] != 0))
#define DT_LD_U16(p, i) ((p)[i])
#define DT_LD_U32(p, i) ((p)[i])
#define DT_LD_U64(p, i) ((p)[i])

#define DT_ST_F16(p, i, v) vstore_half_rte((DF_WIDE)(v), (i), (p))
#define DT_ST_F32(p, i, v) ((p)[i] = (float)(v))
#define DT_ST_F64(p, i, v) ((p)[i] = (double)(v))
#define DT_ST_I8(p, i, v) ((p)[i] = (char)(long)(v))
#define DT_ST_I16(p, i, v) ((p)[i] = (short)(long)(v))
#define DT_ST_I32(p, i, v) ((p)[i] = (int)(long)(v))
#define DT_ST_I64(p, i, v) ((p)[i] = (long)(v))
#define DT_ST_U8(p, i, v) ((p)[i] = (uchar)(long)(v))
#define DT_ST_B(p, i, v) ((p)[i] = (uchar)((v) != 0))
#define DT_ST_U16(p, i, v) ((p)[i] = (v))
#define DT_ST_U32(p, i, v) ((p)[i] = (v))
#define DT_ST_U64(p, i, v) ((p)[i] = (v))

/* ---- iteration ----------------------------------------------------------------------- */

/* The chunk [lo, hi) of [0, n) owned by this work-item (CPU layout; chunks are multiples
   of 16 elements so vector loops start aligned). */
#define DF_CHUNK(lo, hi, n)                                                               \
    long lo, hi;                                                                          \
    {                                                                                     \
        long gs_ = (long)get_global_size(0);                                              \
        long per_ = (((n) + gs_ - 1) / gs_ + 15) & ~15L;                                  \
        lo = (long)get_global_id(0) * per_;                                               \
        hi = min(lo + per_, (long)(n));                                                   \
    }

#ifdef DF_CPU
#define FOR_RANGE(i, n)                                                                   \
    DF_CHUNK(lo_##i, hi_##i, n)                                                           \
    for (long i = lo_##i; i < hi_##i; ++i)
#else
#define FOR_RANGE(i, n)                                                                   \
    for (long i = (long)get_global_id(0); i < (long)(n); i += (long)get_global_size(0))
#endif

/* Strided descriptor: v[0]=ndim (>= 1), v[1]=n, v[2..5]=offsets of operands 0..3,
   v[6..6+MAXD)=shape, then strides of operand k at v[6+MAXD+k*MAXD ..]. */
#define DF_MAXD 12
typedef struct {
    long v[6 + 5 * DF_MAXD];
} Desc;
#define D_NDIM(d) ((int)(d).v[0])
#define D_N(d) ((d).v[1])
#define D_OFF(d, k) ((d).v[2 + (k)])
#define D_SHAPE(d, j) ((d).v[6 + (j)])
#define D_ST(d, k, j) ((d).v[6 + DF_MAXD + (k) * DF_MAXD + (j)])

/* RUNS_BEGIN(d) ... RUNS_END(d): visit the iteration space as runs of cnt_ elements along
   its last dim; inside, element k of the run has offsets P0(k)..P3(k) for operands 0..3
   (operands a kernel does not use get stride 0). On CPU devices a run is as long as the
   work-item's chunk allows (so an op switch placed inside a run costs once per run and the
   element loop vectorises); on GPUs every run is one element. RUN_LOOP(k) loops over a run.
   STRIDED_BEGIN(d) ... STRIDED_END(d) visit single elements with offsets p0..p3. */
#define P0(k) (o0_ + (k) * s0_)
#define P1(k) (o1_ + (k) * s1_)
#define P2(k) (o2_ + (k) * s2_)
#define P3(k) (o3_ + (k) * s3_)
#define RUN_LOOP(k) for (long k = 0; k < cnt_; ++k)

#ifdef DF_CPU
#define RUNS_BEGIN(d)                                                                     \
    {                                                                                     \
        DF_CHUNK(lo_, hi_, D_N(d))                                                        \
        if (lo_ < hi_) {                                                                  \
            const int nd_ = D_NDIM(d);                                                    \
            long idx_[DF_MAXD];                                                           \
            long o0_ = D_OFF(d, 0), o1_ = D_OFF(d, 1), o2_ = D_OFF(d, 2), o3_ = D_OFF(d, 3); \
            long r_ = lo_;                                                                \
            for (int j_ = nd_ - 1; j_ >= 0; --j_) {                                       \
                long s_ = D_SHAPE(d, j_), c_ = r_ % s_;                                   \
                r_ /= s_;                                                                 \
                idx_[j_] = c_;                                                            \
                o0_ += c_ * D_ST(d, 0, j_);                                               \
                o1_ += c_ * D_ST(d, 1, j_);                                               \
                o2_ += c_ * D_ST(d, 2, j_);                                               \
                o3_ += c_ * D_ST(d, 3, j_);                                               \
            }                                                                             \
            const long s0_ = D_ST(d, 0, nd_ - 1), s1_ = D_ST(d, 1, nd_ - 1);              \
            const long s2_ = D_ST(d, 2, nd_ - 1), s3_ = D_ST(d, 3, nd_ - 1);              \
            const long inner_ = D_SHAPE(d, nd_ - 1);                                      \
            for (long i_ = lo_; i_ < hi_;) {                                              \
                const long cnt_ = min(inner_ - idx_[nd_ - 1], hi_ - i_);

#define RUNS_END(d)                                                                       \
                i_ += cnt_;                                                               \
                o0_ += cnt_ * s0_; o1_ += cnt_ * s1_; o2_ += cnt_ * s2_; o3_ += cnt_ * s3_; \
                idx_[nd_ - 1] += cnt_;                                                    \
                for (int j_ = nd_ - 1; j_ > 0 && idx_[j_] >= D_SHAPE(d, j_); --j_) {      \
                    long w_ = D_SHAPE(d, j_);                                             \
                    idx_[j_] = 0;                                                         \
                    idx_[j_ - 1] += 1;                                                    \
                    o0_ += D_ST(d, 0, j_ - 1) - w_ * D_ST(d, 0, j_);                      \
                    o1_ += D_ST(d, 1, j_ - 1) - w_ * D_ST(d, 1, j_);                      \
                    o2_ += D_ST(d, 2, j_ - 1) - w_ * D_ST(d, 2, j_);                      \
                    o3_ += D_ST(d, 3, j_ - 1) - w_ * D_ST(d, 3, j_);                      \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }

/* flat index of element k of the current run */
#define DF_RUN_LIN(k) (i_ + (k))
#else
#define RUNS_BEGIN(d)                                                                     \
    {                                                                                     \
        const int nd_ = D_NDIM(d);                                                        \
        for (long i_ = (long)get_global_id(0); i_ < D_N(d); i_ += (long)get_global_size(0)) { \
            long o0_ = D_OFF(d, 0), o1_ = D_OFF(d, 1), o2_ = D_OFF(d, 2), o3_ = D_OFF(d, 3); \
            long r_ = i_;                                                                 \
            for (int j_ = nd_ - 1; j_ >= 0; --j_) {                                       \
                long s_ = D_SHAPE(d, j_), c_ = r_ % s_;                                   \
                r_ /= s_;                                                                 \
                o0_ += c_ * D_ST(d, 0, j_);                                               \
                o1_ += c_ * D_ST(d, 1, j_);                                               \
                o2_ += c_ * D_ST(d, 2, j_);                                               \
                o3_ += c_ * D_ST(d, 3, j_);                                               \
            }                                                                             \
            const long cnt_ = 1, s0_ = 0, s1_ = 0, s2_ = 0, s3_ = 0;

#define RUNS_END(d)                                                                       \
        }                                                                                 \
    }

#define DF_RUN_LIN(k) (i_ + (k))
#endif

#define STRIDED_BEGIN(d)                                                                  \
    RUNS_BEGIN(d)                                                                         \
    RUN_LOOP(k_) {                                                                        \
        const long p0 = P0(k_), p1 = P1(k_), p2 = P2(k_), p3 = P3(k_);                    \
        (void)p0; (void)p1; (void)p2; (void)p3;

#define STRIDED_END(d)                                                                    \
    }                                                                                     \
    RUNS_END(d)

/* o0..o3 = offsets of operands 0..3 at flat index q of the descriptor's iteration space */
#define DESC_OFFSETS(d, q, o0, o1, o2, o3)                                               \
    {                                                                                     \
        long r_q = (q);                                                                   \
        o0 = D_OFF(d, 0); o1 = D_OFF(d, 1); o2 = D_OFF(d, 2); o3 = D_OFF(d, 3);           \
        for (int j_q = D_NDIM(d) - 1; j_q >= 0; --j_q) {                                  \
            const long s_q = D_SHAPE(d, j_q), c_q = r_q % s_q;                            \
            r_q /= s_q;                                                                   \
            o0 += c_q * D_ST(d, 0, j_q);                                                  \
            o1 += c_q * D_ST(d, 1, j_q);                                                  \
            o2 += c_q * D_ST(d, 2, j_q);                                                  \
            o3 += c_q * D_ST(d, 3, j_q);                                                  \
        }                                                                                 \
    }

/* Tree reduction of scratch[0..L) (L a power of two) into scratch[0], all work-items
   participating; COMBINE(a, b) must be associative. */
#define LOCAL_REDUCE(scratch, lid, L, COMBINE)                                            \
    for (int s_r = (L) >> 1; s_r > 0; s_r >>= 1) {                                        \
        barrier(CLK_LOCAL_MEM_FENCE);                                                     \
        if ((lid) < s_r) scratch[lid] = COMBINE(scratch[lid], scratch[(lid) + s_r]);      \
    }                                                                                     \
    barrier(CLK_LOCAL_MEM_FENCE);

/* the flat index of the current element inside STRIDED_BEGIN/END */
#define DF_LIN DF_RUN_LIN(k_)

/* ---- float helpers --------------------------------------------------------------------- */

/* NaN-propagating max/min (numpy's maximum/minimum); integers use plain max/min. */
#define DF_MAXIMUM_F(a, b) ((isnan(a) || isnan(b)) ? ((a) + (b)) : fmax((a), (b)))
#define DF_MINIMUM_F(a, b) ((isnan(a) || isnan(b)) ? ((a) + (b)) : fmin((a), (b)))

#endif /* DF_COMMON_H */
