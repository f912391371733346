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

/* With wrap > 0 (one index array along a dim of size wrap) an index outside [0, wrap) after
 * wrapping is skipped: gather writes 0 there, scatter writes nothing. Indices on OpenCL devices
 * are checked by idx_check, which reports at the host's next wait; until then these kernels run
 * and must not touch memory outside their tensors. (wrap == 0: a folded multi-array offset,
 * checked on the host before the launch.) */
#define IDX_OUT(v) (wrap > 0 && (ulong)(v) >= (ulong)wrap)

__kernel void idx_gather(const Desc d, __global TS* out, __global const TS* src,
                         __global const long* lin, const long lin_mul, const long wrap) {
    STRIDED_BEGIN(d)
    long v = lin[p2];
    if (v < 0) v += wrap;
    if (IDX_OUT(v)) ST(out, p0, (TC)0);
    else ST(out, p0, LD(src, p1 + v * lin_mul));
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
    if (!IDX_OUT(v)) {
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
    }
    STRIDED_END(d)
}

/* ---- whole-row kernels (CPU layout) --------------------------------------------------------
 * The axis ops of a [outer, axis, inner] view. A strided per-element loop re-reads the index
 * and redoes the div/mod offset arithmetic for every element; here each index is read once per
 * inner run and the run is a plain (vectorisable) loop. */

/* out[o, j, :] = src[o, idx[j], :] for a fresh C-contiguous out of shape [outer, m, inner].
   The outer*m*inner output elements are split evenly over the work-items (no rounding of the
   share, so no work-item idles), each walking its range run by run. */
__kernel void idx_rows_gather(__global TS* out, __global const TS* src,
                              __global const long* idx, const long s_off, const long i_off,
                              const long outer, const long m,
                              const long inner, const long s_out, const long s_ax,
                              const long s_in, const long i_st, const long wrap) {
    const long total = outer * m * inner;
    const long gs = (long)get_global_size(0), g = (long)get_global_id(0);
    const long lo = total / gs * g + min(g, total % gs);
    const long hi = lo + total / gs + (g < total % gs ? 1 : 0);
    long row = lo / inner, c = lo - row * inner;
    for (long e = lo; e < hi; ++row, c = 0) {
        const long o = row / m, j = row - o * m;
        long v = idx[i_off + j * i_st];
        if (v < 0) v += wrap;
        const long cnt = min(inner - c, hi - e);
        __global TS* po = out + e;
        if (IDX_OUT(v)) {
            for (long k = 0; k < cnt; ++k) ST(po, k, (TC)0);
        } else if (s_in == 1) {
            __global const TS* ps = src + s_off + o * s_out + v * s_ax + c;
            for (long k = 0; k < cnt; ++k) ST(po, k, LD(ps, k));
        } else {
            __global const TS* ps = src + s_off + o * s_out + v * s_ax + c * s_in;
            for (long k = 0; k < cnt; ++k) ST(po, k, LD(ps, k * s_in));
        }
        e += cnt;
    }
}

/* dst[o, idx[r], cols] += alpha * src[o, r, cols] for r = 0..n-1 in order. Work-item (o, rb, cb)
   owns destination rows [rb*R, rb*R+R) and columns [cb*C, cb*C+C) of outer index o: it scans
   all n indices and applies the ones that land in its rows. The owned blocks are disjoint, so
   no atomics are needed, and each element is summed in index order (deterministic, exact
   duplicates). Uses the typed build (-DT=<dtype>). */
#if IS_FLOAT
#define ROW_SCALE(x) ((x) * alpha)
#else
#define ROW_SCALE(x) ((TC)((ulong)(x) * (ulong)alpha))
#endif
__kernel void idx_rows_add(__global TS* dst, __global const TS* src, __global const long* idx,
                           const long d_off, const long s_off, const long i_off,
                           const long outer, const long n, const long inner, const long rows,
                           const long RB, const long CB, const long d_out, const long d_ax,
                           const long d_in, const long s_out, const long s_ax, const long s_in,
                           const long i_st, const TC alpha) {
    const long g = (long)get_global_id(0);
    if (g >= outer * RB * CB) return;
    const long o = g / (RB * CB), rb = (g / CB) % RB, cb = g % CB;
    const long R = (rows + RB - 1) / RB, C = (inner + CB - 1) / CB;
    const long r0 = rb * R, r1 = min(rows, r0 + R);
    const long c0 = cb * C, c1 = min(inner, c0 + C);
    if (r0 >= r1 || c0 >= c1) return;
    __global TS* db = dst + d_off + o * d_out + c0 * d_in;
    __global const TS* sb = src + s_off + o * s_out + c0 * s_in;
    const long w = c1 - c0;
    for (long r = 0; r < n; ++r) {
        long v = idx[i_off + r * i_st];
        if (v < 0) v += rows;
        if (v < r0 || v >= r1) continue;
        __global TS* pd = db + v * d_ax;
        __global const TS* ps = sb + r * s_ax;
        if (d_in == 1 && s_in == 1) {  /* unit strides: the loop the compiler vectorises */
            for (long k = 0; k < w; ++k) ST(pd, k, scat_comb(1, LD(pd, k), ROW_SCALE(LD(ps, k))));
        } else {
            for (long k = 0; k < w; ++k)
                ST(pd, k * d_in, scat_comb(1, LD(pd, k * d_in), ROW_SCALE(LD(ps, k * s_in))));
        }
    }
}

/* ---- deferred index checks ---------------------------------------------------------------
 * Reports indices outside [low, high) (except `ignore` when has_ignore) without making the host
 * wait: err[0] takes the check's id (the first failing check keeps it), err[1] the largest index
 * >= high, err[2] the smallest index < low (32-bit atomics, core OpenCL 1.1); an index beyond
 * the int range saturates there, sets err[3] and leaves its value in err[4..5] (low, high
 * words). The host reads err at its next wait for the device (index_checks.py). Typed build. */
__kernel void idx_check(const Desc d, __global const TS* idx, const long low, const long high,
                        const long ignore, const int has_ignore, volatile __global int* err,
                        const int id) {
    STRIDED_BEGIN(d)
    const long v = (long)LD(idx, p0);
    if ((v < low || v >= high) && !(has_ignore && v == ignore)) {
        const int prev = atomic_cmpxchg(&err[0], 0, id);
        if (prev == 0 || prev == id) {
            const int c = v > INT_MAX ? INT_MAX : (v < INT_MIN ? INT_MIN : (int)v);
            if (v >= high) atomic_max(&err[1], c);
            else atomic_min(&err[2], c);
            if (c != v) {
                atomic_xchg(&err[4], (int)(uint)((ulong)v & 0xFFFFFFFFu));
                atomic_xchg(&err[5], (int)(uint)((ulong)v >> 32));
                atomic_xchg(&err[3], 1);
            }
        }
    }
    STRIDED_END(d)
}

/* val_check: as idx_check for a value range [low, high] (NaN is outside it unless nan_ok), e.g.
 * BCE's input in [0, 1]; only the id of the first failing check is recorded. */
__kernel void val_check(const Desc d, __global const TS* x, const TC low, const TC high,
                        const int nan_ok, volatile __global int* err, const int id) {
    STRIDED_BEGIN(d)
    const TC v = LD(x, p0);
#if IS_FLOAT
    if (!(v >= low && v <= high) && !(nan_ok && isnan(v))) atomic_cmpxchg(&err[0], 0, id);
#else
    if (v < low || v > high) atomic_cmpxchg(&err[0], 0, id);
#endif
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
