/* Indexing: gather through an index array, scatter (assign, add, multiply, amax, amin) and
 * nonzero. Built per -DT=<code>; pure data movement (gather, assign) uses the raw codes
 * U8/U16/U32/U64 so one program serves every dtype of a size.
 *
 * Gather/scatter iterate a Desc whose operands are 0 the destination/output, 1 the source
 * value, 2 the index array (all broadcast to the iteration shape). The indexed position adds
 * lin_mul * index (negative indices wrap by `wrap`) to operand 0's (scatter) or 1's (gather)
 * offset.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)
#define IS_FLOAT DT_IS_FLOAT(T)

__kernel void idx_gather(const Desc d, __global TS* out, __global const TS* src,
                         __global const long* lin, const long lin_mul, const long wrap) {
    STRIDED_BEGIN(d)
    long v = lin[p2];
    if (v < 0) v += wrap;
    ST(out, p0, LD(src, p1 + v * lin_mul));
    STRIDED_END(d)
}

/* ---- scatter with reduction ----------------------------------------------------------------
 * reduce: 0 assign, 1 add, 2 multiply, 3 amax, 4 amin. With atomic = 1 (several work-items)
 * the read-modify-write is a compare-exchange loop on the element's (or, for 1- and 2-byte
 * types, its enclosing 32-bit word's) bits. */
inline TC scat_comb(const int red, const TC old, const TC v) {
    switch (red) {
#if IS_FLOAT
        case 1: return old + v;
        case 2: return old * v;
        case 3: return DF_MAXIMUM_F(old, v);
        case 4: return DF_MINIMUM_F(old, v);
#else
        case 1: return (TC)((ulong)old + (ulong)v);
        case 2: return (TC)((ulong)old * (ulong)v);
        case 3: return max(old, v);
        case 4: return min(old, v);
#endif
        default: return v;
    }
}

#define FB_F32(u) as_float(u)
#define TB_F32(v) as_uint(v)
#define FB_I32(u) ((long)(int)(u))
#define TB_I32(v) ((uint)(int)(v))
#define FB_F64(u) as_double(u)
#define TB_F64(v) as_ulong(v)
#define FB_I64(u) ((long)(u))
#define TB_I64(v) ((ulong)(v))
#define FB_I8(u) ((long)(char)(uchar)(u))
#define TB_I8(v) ((uint)(uchar)(char)(v))
#define FB_U8(u) ((long)(uchar)(u))
#define TB_U8(v) ((uint)(uchar)(v))
#define FB_B(u) ((long)((u) != 0))
#define TB_B(v) ((uint)((v) != 0))
#define FB_I16(u) ((long)(short)(ushort)(u))
#define TB_I16(v) ((uint)(ushort)(short)(v))
#define FB_U16(u) ((ushort)(u))
#define TB_U16(v) ((uint)(v))
#define FB_U32(u) (u)
#define TB_U32(v) (v)
#define FB_U64(u) (u)
#define TB_U64(v) (v)
#define FROM_BITS(u) DF_CAT(FB_, T)(u)
#define TO_BITS(v) DF_CAT(TB_, T)(v)

inline float df_half_bits_to_float(const uint u) {
    ushort h = (ushort)u;
    return vload_half(0, (const __private half*)&h);
}
inline uint df_float_to_half_bits(const float f) {
    ushort h;
    vstore_half_rte(f, 0, (__private half*)&h);
    return (uint)h;
}
#define FB_F16(u) df_half_bits_to_float(u)
#define TB_F16(v) df_float_to_half_bits(v)

inline void scat_atomic(__global TS* base, const long i, const int red, const TC v) {
    __global uchar* bytes = (__global uchar*)base + i * DT_SIZE(T);
/* The first compare-exchange guesses the old bits are 0 (a zeroed accumulator); a wrong guess
   only costs one failed exchange, and no plain (racy) read is needed. */
#if DT_SIZE(T) == 4
    volatile __global uint* p = (volatile __global uint*)bytes;
    uint old = 0, assumed;
    do {
        assumed = old;
        old = atomic_cmpxchg(p, assumed, TO_BITS(scat_comb(red, FROM_BITS(assumed), v)));
    } while (old != assumed);
#elif DT_SIZE(T) == 8
#ifdef cl_khr_int64_base_atomics
    volatile __global ulong* p = (volatile __global ulong*)bytes;
    ulong old = 0, assumed;
    do {
        assumed = old;
        old = atom_cmpxchg(p, assumed, TO_BITS(scat_comb(red, FROM_BITS(assumed), v)));
    } while (old != assumed);
#endif
#else
    const uint sh = (uint)(((size_t)bytes) & 3) * 8;
    volatile __global uint* w = (volatile __global uint*)(bytes - (((size_t)bytes) & 3));
    const uint mask = (DT_SIZE(T) == 1 ? 0xFFu : 0xFFFFu) << sh;
    uint old = 0, assumed;
    do {
        assumed = old;
        const TC cur = FROM_BITS((assumed & mask) >> sh);
        const uint nb = (TO_BITS(scat_comb(red, cur, v)) << sh) & mask;
        old = atomic_cmpxchg(w, assumed, (assumed & ~mask) | nb);
    } while (old != assumed);
#endif
}

__kernel void idx_scatter(const Desc d, __global TS* dst, __global const TS* val,
                          __global const long* lin, const long lin_mul, const long wrap,
                          const TC sval, const TC alpha, const int scalar, const int red,
                          const int atomic) {
    STRIDED_BEGIN(d)
    long v = lin[p2];
    if (v < 0) v += wrap;
    const long t = p0 + v * lin_mul;
    TC x = scalar ? sval : LD(val, p1);
#if IS_FLOAT
    if (alpha != (TC)1) x *= alpha;
#else
    if (red == 1 && alpha != (TC)1) x = (TC)((ulong)x * (ulong)alpha);
#endif
    if (red == 0) ST(dst, t, x);
    else if (atomic) scat_atomic(dst, t, red, x);
    else ST(dst, t, scat_comb(red, LD(dst, t), x));
    STRIDED_END(d)
}

/* ---- nonzero: per-chunk counts, then the flat indices of nonzero elements ------------------ */
__kernel void nz_count(const Desc d, const long G, const long S, __global long* counts,
                       __global const TS* x) {
    const long g = get_global_id(0);
    if (g >= G) return;
    const long lo = g * S, hi = min(D_N(d), lo + S);
    long cnt = 0;
    for (long q = lo; q < hi; ++q) {
        long o0, o1, o2, o3;
        DESC_OFFSETS(d, q, o0, o1, o2, o3);
        cnt += LD(x, o0) != (TC)0;
    }
    counts[g] = cnt;
}

__kernel void nz_write(const Desc d, const long G, const long S, __global const long* starts,
                       __global long* out, __global const TS* x) {
    const long g = get_global_id(0);
    if (g >= G) return;
    const long lo = g * S, hi = min(D_N(d), lo + S);
    long w = starts[g];
    for (long q = lo; q < hi; ++q) {
        long o0, o1, o2, o3;
        DESC_OFFSETS(d, q, o0, o1, o2, o3);
        if (LD(x, o0) != (TC)0) out[w++] = q;
    }
}
