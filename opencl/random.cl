/* Counter-based random numbers: Philox4x32-10, bit-identical to the CPU backend (_core).
 * Element i of a call with (seed, offset): counter (lo32(i), hi32(i), lo32(offset),
 * hi32(offset)), key (lo32(seed), hi32(seed)) -> words r0..r3.
 *   uniform float32: (r0 >> 8) * 2^-24;  float64 (and float16, rounded from it):
 *   ((r0 >> 5) * 2^26 + (r1 >> 6)) * 2^-53
 *   normal: Box-Muller sqrt(-2 log(1 - U53(r0, r1))) * cos(2 pi U53(r2, r3)) in double
 *   (float where the device has no fp64)
 *   bits: r0
 * Built per output dtype: -DT=F16|F32|F64.
 */
#include "common.h"

#define TS DT_TYPE(T)

/* (hi, lo) = a * b: GPUs have a native 32-bit mul_hi; CPU drivers are much faster with one
   64-bit product */
#ifdef DF_CPU
#define DF_MULHILO(a, b, hi, lo)                                                          \
    {                                                                                     \
        const ulong p_ = (ulong)(a) * (ulong)(b);                                         \
        hi = (uint)(p_ >> 32);                                                            \
        lo = (uint)p_;                                                                    \
    }
#else
#define DF_MULHILO(a, b, hi, lo)                                                          \
    {                                                                                     \
        hi = mul_hi((uint)(a), (uint)(b));                                                \
        lo = (uint)(a) * (uint)(b);                                                       \
    }
#endif

inline uint4 philox4x32_10(uint4 c, uint2 k) {
    uint c0 = c.x, c1 = c.y, c2 = c.z, c3 = c.w, k0 = k.x, k1 = k.y;
    for (int r = 0; r < 10; ++r) {
        if (r) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        uint hi0, lo0, hi1, lo1;
        DF_MULHILO(0xD2511F53u, c0, hi0, lo0)
        DF_MULHILO(0xCD9E8D57u, c2, hi1, lo1)
        c0 = hi1 ^ c1 ^ k0;
        c2 = hi0 ^ c3 ^ k1;
        c1 = lo1;
        c3 = lo0;
    }
    return (uint4)(c0, c1, c2, c3);
}

inline uint4 df_philox(const ulong seed, const ulong offset, const ulong i) {
    const uint4 c = (uint4)((uint)i, (uint)(i >> 32), (uint)offset, (uint)(offset >> 32));
    return philox4x32_10(c, (uint2)((uint)seed, (uint)(seed >> 32)));
}

inline DF_WIDE df_u53(const uint a, const uint b) {
    return ((DF_WIDE)(a >> 5) * (DF_WIDE)67108864.0 + (DF_WIDE)(b >> 6)) *
           (DF_WIDE)1.1102230246251565404236316680908203125e-16;
}

#define DF_W8 DF_CAT(DF_WIDE, 8)
#define DF_CONV_W8 DF_CAT(convert_, DF_W8)
#define ST8_F16(p, i, v) vstore_half8_rte((v), 0, (p) + (i))
#define ST8_F32(p, i, v) vstore8(convert_float8(v), 0, (p) + (i))
#define ST8_F64(p, i, v) vstore8(convert_double8(v), 0, (p) + (i))
#define ST8(p, i, v) DF_CAT(ST8_, T)(p, i, v)

#ifdef DF_CPU
/* CPU devices: eight counters per step in explicit vectors. The 32-bit words stay in 64-bit
   lanes all through (as the CPU backend's C loop keeps them): each product is one 32x32->64
   lane multiply, with no packing between 32- and 64-bit lanes inside the rounds. */
inline void philox8(ulong8* c0, ulong8* c1, ulong8* c2, ulong8* c3, ulong k0, ulong k1) {
    const ulong8 m = (ulong8)(0xFFFFFFFFUL);
    for (int r = 0; r < 10; ++r) {
        if (r) {
            k0 = (k0 + 0x9E3779B9UL) & 0xFFFFFFFFUL;
            k1 = (k1 + 0xBB67AE85UL) & 0xFFFFFFFFUL;
        }
        const ulong8 p0 = (*c0 & m) * (ulong8)(0xD2511F53UL);
        const ulong8 p1 = (*c2 & m) * (ulong8)(0xCD9E8D57UL);
        const ulong8 n0 = (p1 >> 32) ^ *c1 ^ (ulong8)(k0);
        const ulong8 n2 = (p0 >> 32) ^ *c3 ^ (ulong8)(k1);
        *c1 = p1 & m;
        *c3 = p0 & m;
        *c0 = n0;
        *c2 = n2;
    }
}

/* words r0..r3 of elements i..i+7 as uint8 vectors */
#define PHILOX8_WORDS(i, seed, offset)                                                    \
    ulong8 w0_ = (ulong8)((ulong)(uint)(i)) + (ulong8)(0, 1, 2, 3, 4, 5, 6, 7);           \
    ulong8 w1_ = (ulong8)((ulong)((i) >> 32)), w2_ = (ulong8)((ulong)(uint)(offset));     \
    ulong8 w3_ = (ulong8)((ulong)((offset) >> 32));                                       \
    philox8(&w0_, &w1_, &w2_, &w3_, (ulong)(uint)(seed), (ulong)((seed) >> 32));          \
    const uint8 r0 = convert_uint8(w0_), r1 = convert_uint8(w1_);                         \
    const uint8 r2 = convert_uint8(w2_), r3 = convert_uint8(w3_);

/* EACH_ELEMENT(VEC, ONE): ONE(i) for every element, VEC(i) for blocks of eight on CPUs.
   (A block never straddles 2^32 elements: chunks are multiples of 16 from a multiple of 16.) */
#define EACH_ELEMENT(n, VEC, ONE)                                                         \
    {                                                                                     \
        DF_CHUNK(lo_, hi_, n)                                                             \
        long i_ = lo_;                                                                    \
        for (; i_ + 8 <= hi_; i_ += 8) { VEC(i_) }                                        \
        for (; i_ < hi_; ++i_) { ONE(i_) }                                                \
    }
#endif

inline DF_W8 df_u53_8(const uint8 a, const uint8 b) {
    return (DF_CONV_W8(a >> 5) * (DF_WIDE)67108864.0 + DF_CONV_W8(b >> 6)) *
           (DF_WIDE)1.1102230246251565404236316680908203125e-16;
}

#ifndef DF_CPU
#define EACH_ELEMENT(n, VEC, ONE) FOR_RANGE(i_, n) { ONE(i_) }
#endif

/* bits53 = 0: the 24-bit float32 formula; 1: the 53-bit formula (float64, float16) */
__kernel void random_uniform(const long n, __global TS* out, const ulong seed,
                             const ulong offset, const int bits53) {
#define U_VEC(i)                                                                          \
    PHILOX8_WORDS(i, seed, offset)                                                        \
    if (bits53) ST8(out, i, df_u53_8(r0, r1));                                            \
    else ST8(out, i, convert_float8(r0 >> 8) * 5.9604644775390625e-8f);
#define U_ONE(i)                                                                          \
    const uint4 r = df_philox(seed, offset, (ulong)(i));                                  \
    if (bits53) DT_ST(T)(out, i, df_u53(r.x, r.y));                                       \
    else DT_ST(T)(out, i, (float)(r.x >> 8) * 5.9604644775390625e-8f);
    EACH_ELEMENT(n, U_VEC, U_ONE)
}

__kernel void random_normal(const long n, __global TS* out, const ulong seed,
                            const ulong offset) {
#define N_VEC(i)                                                                          \
    PHILOX8_WORDS(i, seed, offset)                                                        \
    const DF_W8 u1 = (DF_W8)(1) - df_u53_8(r0, r1);                                       \
    const DF_W8 u2 = df_u53_8(r2, r3);                                                    \
    ST8(out, i, sqrt((DF_W8)(-2) * log(u1)) *                                             \
                    cos((DF_W8)(6.283185307179586476925286766559005768) * u2));
#define N_ONE(i)                                                                          \
    const uint4 r = df_philox(seed, offset, (ulong)(i));                                  \
    const DF_WIDE u1 = (DF_WIDE)1 - df_u53(r.x, r.y);                                     \
    const DF_WIDE u2 = df_u53(r.z, r.w);                                                  \
    DT_ST(T)(out, i, sqrt((DF_WIDE)-2 * log(u1)) *                                        \
                         cos((DF_WIDE)6.283185307179586476925286766559005768 * u2));
    EACH_ELEMENT(n, N_VEC, N_ONE)
}

__kernel void random_bits(const long n, __global uint* out, const ulong seed, const ulong offset) {
#define B_VEC(i)                                                                          \
    PHILOX8_WORDS(i, seed, offset)                                                        \
    vstore8(r0, 0, out + (i));
#define B_ONE(i) out[i] = df_philox(seed, offset, (ulong)(i)).x;
    EACH_ELEMENT(n, B_VEC, B_ONE)
}
