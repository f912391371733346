/* Sorting along one axis with a bitonic network over (value, original index) pairs, which
 * makes the result stable: ascending puts NaN last, descending puts NaN first, and equal
 * values keep their input order either way. Built per -DT=<code>.
 * Each line is padded to P = 2^p slots; pad slots carry index >= n and sort after all values.
 * sort_init fills the work arrays, sort_step runs one (k, j) stage for every line at once,
 * sort_finish writes values and indices out.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)

/* 1 if (a, ia) must come before (b, ib) */
inline int sort_before(const TC a, const long ia, const TC b, const long ib, const long n,
                       const int desc) {
    if (ia >= n || ib >= n) return ia < ib;
#if DT_IS_FLOAT(T)
    const int an = isnan(a), bn = isnan(b);
    if (an || bn) {
        if (an && bn) return ia < ib;
        return desc ? an : bn;
    }
#endif
    if (a == b) return ia < ib;
    return desc ? (a > b) : (a < b);
}

/* operands: 0 keys (work), 1 idx (work), 2 x; iteration shape (other dims..., n) */
__kernel void sort_init(const Desc d, const long n, __global TS* keys, __global long* idx,
                        __global const TS* x) {
    STRIDED_BEGIN(d)
    ST(keys, p0, LD(x, p2));
    idx[p1] = DF_LIN % n;
    STRIDED_END(d)
}

__kernel void sort_step(const long pairs, const long P, const long n, const long k, const long j,
                        __global TS* keys, __global long* idx, const int desc) {
    const long hp = P >> 1;
    FOR_RANGE(t, pairs) {
        const long line = t / hp, h = t % hp;
        const long i = (h / j) * 2 * j + (h % j);
        const long a = line * P + i, b = a + j;
        const TC va = LD(keys, a), vb = LD(keys, b);
        const long ia = idx[a], ib = idx[b];
        const int up = (i & k) == 0;
        if (up ? sort_before(vb, ib, va, ia, n, desc) : sort_before(va, ia, vb, ib, n, desc)) {
            ST(keys, a, vb);
            ST(keys, b, va);
            idx[a] = ib;
            idx[b] = ia;
        }
    }
}

/* operands: 0 values out, 1 indices out, 2 keys, 3 idx */
__kernel void sort_finish(const Desc d, __global TS* vals, __global long* iout,
                          __global const TS* keys, __global const long* idx) {
    STRIDED_BEGIN(d)
    ST(vals, p0, LD(keys, p2));
    iout[p1] = idx[p3];
    STRIDED_END(d)
}
