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

/* bits53 = 0: the 24-bit float32 formula; 1: the 53-bit formula (float64, float16) */
__kernel void random_uniform(const long n, __global TS* out, const ulong seed,
                             const ulong offset, const int bits53) {
    if (bits53) {
        FOR_RANGE(i, n) {
            const uint4 r = df_philox(seed, offset, (ulong)i);
            DT_ST(T)(out, i, df_u53(r.x, r.y));
        }
    } else {
        FOR_RANGE(i, n) {
            const uint4 r = df_philox(seed, offset, (ulong)i);
            DT_ST(T)(out, i, (float)(r.x >> 8) * 5.9604644775390625e-8f);
        }
    }
}

__kernel void random_normal(const long n, __global TS* out, const ulong seed,
                            const ulong offset) {
    FOR_RANGE(i, n) {
        const uint4 r = df_philox(seed, offset, (ulong)i);
        const DF_WIDE u1 = (DF_WIDE)1 - df_u53(r.x, r.y);
        const DF_WIDE u2 = df_u53(r.z, r.w);
        const DF_WIDE z = sqrt((DF_WIDE)-2 * log(u1)) *
                          cos((DF_WIDE)6.283185307179586476925286766559005768 * u2);
        DT_ST(T)(out, i, z);
    }
}

__kernel void random_bits(const long n, __global uint* out, const ulong seed, const ulong offset) {
    FOR_RANGE(i, n) { out[i] = df_philox(seed, offset, (ulong)i).x; }
}
