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
/* always_inline: left to itself PoCL calls it, and the words go through memory every round */
__attribute__((always_inline)) inline void philox8(ulong8* c0, ulong8* c1, ulong8* c2,
                                                  ulong8* c3, const ulong* ka, const ulong* kb) {
    const ulong8 m = (ulong8)(0xFFFFFFFFUL);
#pragma unroll
    for (int r = 0; r < 10; ++r) {
        const ulong8 p0 = (*c0 & m) * (ulong8)(0xD2511F53UL);
        const ulong8 p1 = (*c2 & m) * (ulong8)(0xCD9E8D57UL);
        const ulong8 n0 = (p1 >> 32) ^ *c1 ^ (ulong8)(ka[r]);
        const ulong8 n2 = (p0 >> 32) ^ *c3 ^ (ulong8)(kb[r]);
        *c1 = p1 & m;
        *c3 = p0 & m;
        *c0 = n0;
        *c2 = n2;
    }
}

/* The ten round keys of ``seed``, once per work-item: updated inside the rounds, the key
   schedule cost more vector instructions than the rounds themselves (PoCL kept the pair in
   a vector register and re-broadcast it every round). */
#define PHILOX_KEYS(seed)                                                                 \
    ulong ka_[10], kb_[10];                                                               \
    {                                                                                     \
        ulong a_ = (ulong)(uint)(seed), b_ = (ulong)((seed) >> 32);                       \
        for (int r_ = 0; r_ < 10; ++r_) {                                                 \
            ka_[r_] = a_;                                                                 \
            kb_[r_] = b_;                                                                 \
            a_ = (a_ + 0x9E3779B9UL) & 0xFFFFFFFFUL;                                      \
            b_ = (b_ + 0xBB67AE85UL) & 0xFFFFFFFFUL;                                      \
        }                                                                                 \
    }

/* words r0..r3 of elements i..i+7 as uint8 vectors */
#define PHILOX8_WORDS(i, seed, offset)                                                    \
    ulong8 w0_ = (ulong8)((ulong)(uint)(i)) + (ulong8)(0, 1, 2, 3, 4, 5, 6, 7);           \
    ulong8 w1_ = (ulong8)((ulong)((i) >> 32)), w2_ = (ulong8)((ulong)(uint)(offset));     \
    ulong8 w3_ = (ulong8)((ulong)((offset) >> 32));                                       \
    philox8(&w0_, &w1_, &w2_, &w3_, ka_, kb_);                                            \
    const uint8 r0 = convert_uint8(w0_), r1 = convert_uint8(w1_);                         \
    const uint8 r2 = convert_uint8(w2_), r3 = convert_uint8(w3_);

/* EACH_ELEMENT(VEC, ONE): ONE(i) for every element, VEC(i) for blocks of eight on CPUs.
   (A block never straddles 2^32 elements: chunks are multiples of 16 from a multiple of 16.) */
#define EACH_ELEMENT(n, VEC, ONE)                                                         \
    {                                                                                     \
        PHILOX_KEYS(seed)                                                                 \
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

/* dropout's factor in one launch: scale where random_uniform's u (the same counter, so the
   same mask as bernoulli(1 - p) from the same generator state) is below keep, else 0; compared
   in the compute type TC, as the composed (u < keep) in the tensor's dtype. F32 and F64. */
#define TC8 DF_CAT(DT_C(T), 8)
__kernel void random_keep_scale(const long n, __global TS* out, const ulong seed,
                                const ulong offset, const int bits53, const DT_C(T) keep,
                                const DT_C(T) scale) {
#define K_VEC(i)                                                                          \
    PHILOX8_WORDS(i, seed, offset)                                                        \
    const TC8 u8_ = bits53 ? DF_CAT(convert_, TC8)(df_u53_8(r0, r1))                     \
                           : DF_CAT(convert_, TC8)(convert_float8(r0 >> 8) *             \
                                                   5.9604644775390625e-8f);               \
    ST8(out, i, select((TC8)0, (TC8)scale, u8_ < (TC8)keep));
#define K_ONE(i)                                                                          \
    const uint4 r = df_philox(seed, offset, (ulong)(i));                                  \
    const DT_C(T) u_ = bits53 ? (DT_C(T))df_u53(r.x, r.y)                                 \
                              : (DT_C(T))((float)(r.x >> 8) * 5.9604644775390625e-8f);    \
    DT_ST(T)(out, i, u_ < keep ? scale : (DT_C(T))0);
    EACH_ELEMENT(n, K_VEC, K_ONE)
}

#if defined(DF_CPU) && defined(DF_HAS_FP64)
/* cos(2 pi t) for t in [0, 1) in eight lanes: exact quadrant reduction on t, then Taylor
   sin/cos on [-pi/4, pi/4] (the CPU backend's dfs_cos2pi). The builtin cos, with its
   general range reduction, took about a third of random_normal on PoCL. u1 is in (0, 1], so
   the log below needs no special cases (log(1) is 0). */
inline double8 df_cos2pi8(const double8 t) {
    const double8 qs = 4.0 * t + 0x1.8p52;
    const double8 q = qs - 0x1.8p52;
    const double8 r = (t - 0.25 * q) * 6.283185307179586477;
    const double8 r2 = r * r;
    double8 c = (double8)(1.0 / 20922789888000.0);
    c = c * r2 - 1.0 / 87178291200.0;
    c = c * r2 + 1.0 / 479001600.0;
    c = c * r2 - 1.0 / 3628800.0;
    c = c * r2 + 1.0 / 40320.0;
    c = c * r2 - 1.0 / 720.0;
    c = c * r2 + 1.0 / 24.0;
    c = c * r2 - 0.5;
    c = c * r2 + 1.0;
    double8 sn = (double8)(1.0 / 355687428096000.0);
    sn = sn * r2 - 1.0 / 1307674368000.0;
    sn = sn * r2 + 1.0 / 6227020800.0;
    sn = sn * r2 - 1.0 / 39916800.0;
    sn = sn * r2 + 1.0 / 362880.0;
    sn = sn * r2 - 1.0 / 5040.0;
    sn = sn * r2 + 1.0 / 120.0;
    sn = sn * r2 - 1.0 / 6.0;
    sn = r + (r * r2) * sn;
    double8 res = c;
    res = select(res, -sn, q == 1.0);
    res = select(res, -c, q == 2.0);
    res = select(res, sn, q == 3.0);
    return res;
}

/* log(x) for normal x > 0 in eight lanes (fdlibm's reduction and minimax polynomial, about
   1 ulp; the CPU backend's dfs_log_d), branch-free from the bits */
inline double8 df_log8(const double8 x) {
    const ulong8 b = as_ulong8(x);
    double8 e = as_double8((b >> 52) | (ulong8)(0x4330000000000000UL)) - 4503599627371519.0;
    double8 m = as_double8((b & (ulong8)(0x000FFFFFFFFFFFFFUL)) | (ulong8)(0x3FF0000000000000UL));
    const long8 big = m > 1.4142135623730951;
    m = select(m, 0.5 * m, big);
    e = select(e, e + 1.0, big);
    const double8 f = m - 1.0;
    const double8 hfsq = 0.5 * f * f;
    const double8 s = f / (2.0 + f);
    const double8 z = s * s, w = z * z;
    const double8 t1 = w * (3.999999999940941908e-01 +
                            w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    const double8 t2 = z * (6.666666666666735130e-01 +
                            w * (2.857142874366239149e-01 +
                                 w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    const double8 R = t2 + t1;
    return e * 6.93147180369123816490e-01 -
           ((hfsq - (s * (hfsq + R) + e * 1.90821492927058770002e-10)) - f);
}
#define DF_COS2PI8(u) df_cos2pi8(u)
#define DF_LOG8(u) df_log8(u)
/* the last n % 8 elements take the same formulas, one lane used */
#define DF_COS2PI1(u) df_cos2pi8((double8)(u)).s0
#define DF_LOG1(u) df_log8((double8)(u)).s0
#else
#define DF_COS2PI8(u) cos((DF_W8)(6.283185307179586476925286766559005768) * (u))
#define DF_LOG8(u) log(u)
#define DF_COS2PI1(u) cos((DF_WIDE)6.283185307179586476925286766559005768 * (u))
#define DF_LOG1(u) log(u)
#endif

__kernel void random_normal(const long n, __global TS* out, const ulong seed,
                            const ulong offset) {
#define N_VEC(i)                                                                          \
    PHILOX8_WORDS(i, seed, offset)                                                        \
    const DF_W8 u1 = (DF_W8)(1) - df_u53_8(r0, r1);                                       \
    const DF_W8 u2 = df_u53_8(r2, r3);                                                    \
    ST8(out, i, sqrt((DF_W8)(-2) * DF_LOG8(u1)) * DF_COS2PI8(u2));
#define N_ONE(i)                                                                          \
    const uint4 r = df_philox(seed, offset, (ulong)(i));                                  \
    const DF_WIDE u1 = (DF_WIDE)1 - df_u53(r.x, r.y);                                     \
    const DF_WIDE u2 = df_u53(r.z, r.w);                                                  \
    DT_ST(T)(out, i, sqrt((DF_WIDE)-2 * DF_LOG1(u1)) * DF_COS2PI1(u2));
    EACH_ELEMENT(n, N_VEC, N_ONE)
}

__kernel void random_bits(const long n, __global uint* out, const ulong seed, const ulong offset) {
#define B_VEC(i)                                                                          \
    PHILOX8_WORDS(i, seed, offset)                                                        \
    vstore8(r0, 0, out + (i));
#define B_ONE(i) out[i] = df_philox(seed, offset, (ulong)(i)).x;
    EACH_ELEMENT(n, B_VEC, B_ONE)
}
