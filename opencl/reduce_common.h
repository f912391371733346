/* Shared by reduce.cl and reduce_arg.cl (after common.h): dtype macros for -DTIN/-DTOUT/-DACC,
 * descriptor walking, the work-item loop and 16-wide vector helpers. */
#ifndef DF_REDUCE_COMMON_H
#define DF_REDUCE_COMMON_H

#define XT DT_TYPE(TIN)
#define XC DT_C(TIN)
#define OT DT_TYPE(TOUT)
#define AT DT_TYPE(ACC)
#define LDX(p, i) DT_LD(TIN)(p, i)
#define STO(p, i, v) DT_ST(TOUT)(p, i, v)
#define ACC_FLOAT DT_IS_FLOAT(ACC)
#define X_FLOAT DT_IS_FLOAT(TIN)
#define DF_RED_LOCAL 256
/* helpers called with a constant op code: always inlined so that the op tests fold away */
#define RED_INLINE inline __attribute__((always_inline))

enum { R_SUM, R_PROD, R_MAX, R_MIN, R_ALL, R_ANY, R_NANSUM, R_SQDEV, R_SUMEXP };

/* Each work-item of a reduction kernel does a whole reduction (or a part of one), so on CPU
   devices the items are shared out evenly, without FOR_RANGE's rounding of chunks to 16
   items: that rounding leaves most work-items, and cores, idle when there are few outputs.
   GPUs stride as in FOR_RANGE (adjacent work-items on adjacent outputs). */
#ifdef DF_CPU
#define RED_FOR(v, n)                                                                     \
    long lo_##v, hi_##v;                                                                  \
    {                                                                                     \
        const long gs_ = (long)get_global_size(0), per_ = ((long)(n) + gs_ - 1) / gs_;    \
        lo_##v = (long)get_global_id(0) * per_;                                           \
        hi_##v = min(lo_##v + per_, (long)(n));                                           \
    }                                                                                     \
    for (long v = lo_##v; v < hi_##v; ++v)
#else
#define RED_FOR(v, n) FOR_RANGE(v, n)
#endif

/* start of part p of R reduced elements split into P parts: balanced, and never empty when
   P <= R (ceil-sized chunks leave trailing parts empty when P is large, and an empty part's
   partial would take part in the combine) */
#define PART_LO(p, R, P) ((p) * (R) / (P))

/* offset of x for output m (decomposed over the leading nd - nr dims) */
inline long red_base(const Desc* d, const int nr, long m) {
    long off = D_OFF(*d, 0);
    for (int j = D_NDIM(*d) - nr - 1; j >= 0; --j) {
        const long s = D_SHAPE(*d, j);
        off += (m % s) * D_ST(*d, 0, j);
        m /= s;
    }
    return off;
}

/* offset of reduced element r relative to the output's base */
inline long red_inner(const Desc* d, const int nr, long r) {
    long off = 0;
    const int nd = D_NDIM(*d);
    for (int j = nd - 1; j >= nd - nr; --j) {
        const long s = D_SHAPE(*d, j);
        off += (r % s) * D_ST(*d, 0, j);
        r /= s;
    }
    return off;
}

/* 16 consecutive elements of x from element i as a vector of the compute type XC */
#define V16_F16(p, i) vload_half16(0, (p) + (i))
#define V16_F32(p, i) vload16(0, (p) + (i))
#define V16_F64(p, i) vload16(0, (p) + (i))
#define V16_I8(p, i) convert_long16(vload16(0, (p) + (i)))
#define V16_I16(p, i) convert_long16(vload16(0, (p) + (i)))
#define V16_I32(p, i) convert_long16(vload16(0, (p) + (i)))
#define V16_I64(p, i) vload16(0, (p) + (i))
#define V16_U8(p, i) convert_long16(vload16(0, (p) + (i)))
#define V16_B(p, i) (convert_long16(vload16(0, (p) + (i)) != (uchar16)0) * -1L)
#define LDV(p, i) DF_CAT(V16_, TIN)(p, i)
#define XV DF_CAT(XC, 16)
#define AV DF_CAT(AT, 16)
#define TO_AV(v) DF_CAT(convert_, AV)(v)
#define TO_XV(v) DF_CAT(convert_, XV)(v)
/* the type of a comparison of two XV */
#define XM_F16 int16
#define XM_F32 int16
#define XM_F64 long16
#define XM_I8 long16
#define XM_I16 long16
#define XM_I32 long16
#define XM_I64 long16
#define XM_U8 long16
#define XM_B long16
#define XM DF_CAT(XM_, TIN)

/* Extrema in the compute type: b wins where it is greater (smaller) or NaN, so once a lane
   holds NaN it keeps it (max/min propagate NaN as in PyTorch). XMAX/XMIN take vectors,
   XMAXS/XMINS scalars. */
#if X_FLOAT
#define X_GT(b, a) (((b) > (a)) | isnan(b))
#define X_LT(b, a) (((b) < (a)) | isnan(b))
#define X_LOWEST ((XC)(-INFINITY))
#define X_HIGHEST ((XC)INFINITY)
#else
#define X_GT(b, a) ((b) > (a))
#define X_LT(b, a) ((b) < (a))
#define X_LOWEST ((XC)LONG_MIN)
#define X_HIGHEST ((XC)LONG_MAX)
#endif
#define XMAX(a, b) select((a), (b), X_GT((b), (a)))
#define XMIN(a, b) select((a), (b), X_LT((b), (a)))
#define XMAXS(a, b) (X_GT((b), (a)) ? (b) : (a))
#define XMINS(a, b) (X_LT((b), (a)) ? (b) : (a))

/* the upper half of a 16-wide vector, lane by lane: a shuffle would do, but Oclgrind 21.10's
   uninitialised-value checker marks every shufflevector result lane that reads element 11 of
   a 16-wide source as uninitialised (.hi, .s89abcdef, .sb9, ...: any element type), while
   single-element reads (.sb) are clean; scripts/oclgrind_kernels.py has the minimal kernel.
   Compilers fold this to the same shuffle. */
#define HI16(T, a)                                                                        \
    ((DF_CAT(T, 8))((a).s8, (a).s9, (a).sa, (a).sb, (a).sc, (a).sd, (a).se, (a).sf))

/* s = the 16 lanes of a combined pairwise in a fixed order: CV(op, .) on vectors, CS(op, .)
   on the last two scalars */
#define HALVE16(T, s, a, op, CV, CS)                                                      \
    {                                                                                     \
        const DF_CAT(T, 8) h8_ = CV(op, (a).lo, HI16(T, a));                              \
        const DF_CAT(T, 4) h4_ = CV(op, h8_.lo, h8_.hi);                                  \
        const DF_CAT(T, 2) h2_ = CV(op, h4_.lo, h4_.hi);                                  \
        s = CS(op, h2_.s0, h2_.s1);                                                       \
    }

/* ---- extremum-like ops: max, min, and all/any as max/min of (x != 0) ------------------- */
inline XV red_xmap(const int op, const XV v) {
    if (op == R_ALL || op == R_ANY) return select((XV)0, (XV)1, v != (XV)0);
    return v;
}

inline XC red_xinit(const int op) {
    if (op == R_MAX) return X_LOWEST;
    if (op == R_MIN) return X_HIGHEST;
    return op == R_ALL ? (XC)1 : (XC)0;
}

inline bool red_is_ext(const int op) {
    return op == R_MAX || op == R_MIN || op == R_ALL || op == R_ANY;
}

/* max-like for max/any, min-like for min/all; propagates NaN */
#define RED_XCOMB(op, a, b) ((op) == R_MAX || (op) == R_ANY ? XMAX(a, b) : XMIN(a, b))
#define RED_XCOMBS(op, a, b) ((op) == R_MAX || (op) == R_ANY ? XMAXS(a, b) : XMINS(a, b))

/* extremum-like op over n contiguous elements from x + b, in the compute type (exact): four
   16-wide accumulators (independent chains hide the latency of compare-and-select), then
   16-wide steps and a scalar tail */
RED_INLINE XC red_xcontig(const int op, __global const XT* x, const long b, const long n) {
    long r = 0;
    XV a0 = (XV)red_xinit(op), a1 = a0, a2 = a0, a3 = a0;
    for (; r + 64 <= n; r += 64) {
        a0 = RED_XCOMB(op, a0, red_xmap(op, LDV(x, b + r)));
        a1 = RED_XCOMB(op, a1, red_xmap(op, LDV(x, b + r + 16)));
        a2 = RED_XCOMB(op, a2, red_xmap(op, LDV(x, b + r + 32)));
        a3 = RED_XCOMB(op, a3, red_xmap(op, LDV(x, b + r + 48)));
    }
    a0 = RED_XCOMB(op, RED_XCOMB(op, a0, a1), RED_XCOMB(op, a2, a3));
    for (; r + 16 <= n; r += 16) a0 = RED_XCOMB(op, a0, red_xmap(op, LDV(x, b + r)));
    XC s;
    HALVE16(XC, s, a0, op, RED_XCOMB, RED_XCOMBS);
    for (; r < n; ++r) {
        XC v = LDX(x, b + r);
        if (op == R_ALL || op == R_ANY) v = (XC)(v != (XC)0);
        s = RED_XCOMBS(op, s, v);
    }
    return s;
}

#endif /* DF_REDUCE_COMMON_H */
