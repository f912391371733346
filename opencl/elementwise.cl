/* Elementwise kernels: unary, predicates, binary, comparisons, where, clamp, lerp,
 * nan_to_num. Built once per storage dtype: -DT=<code> (see common.h).
 * All operands of one launch share the dtype T (the host casts odd operands first), except
 * predicate/comparison outputs and where's condition, which are bool (uchar).
 *
 * Op codes are runtime arguments so one program serves every op of a family; the op switch
 * sits outside the element loop so each case is a tight loop. The host reads the op tables
 * below (lines "X(code, family_name, ...)") to map op names to codes.
 *
 * _c kernels: contiguous operands indexed base + i. _s kernels: strided operands (Desc), with
 * the op switch per run of the innermost dim (see RUNS_BEGIN in common.h). Ops outside the
 * *_FAST lists go through one out-of-line function per family, which keeps the programs (and
 * PoCL's compile times) small. On CPU devices the float transcendental ops (UNARY_VEC in
 * elementwise_math.h) run on whole vectors in both unary kernels instead.
 */
#include "common.h"

#define TS DT_TYPE(T)
#define TC DT_C(T)
#define LD(p, i) DT_LD(T)(p, i)
#define ST(p, i, v) DT_ST(T)(p, i, v)
#define IS_FLOAT DT_IS_FLOAT(T)
#define K(c) ((TC)(c))

#include "elementwise_math.h"

/* ---- op tables --------------------------------------------------------------------------- */
/* X(code, name, expression of x) */
#define UNARY_ALL(X)                                                                      \
    X(1, unary_neg, NEG_(x))                                                              \
    X(2, unary_abs, ABS_(x))                                                              \
    X(3, unary_sign, SIGN_(x))                                                            \
    X(4, unary_square, MUL_(x, x))                                                        \
    X(5, unary_positive, x)                                                               \
    X(6, unary_relu, RELU_(x))

#if IS_FLOAT
#define UNARY_T(X)                                                                        \
    X(7, unary_floor, floor(x))                                                           \
    X(8, unary_ceil, ceil(x))                                                             \
    X(9, unary_trunc, trunc(x))                                                           \
    X(10, unary_round, rint(x))                                                           \
    X(20, unary_exp, exp(x))                                                              \
    X(21, unary_exp2, exp2(x))                                                            \
    X(22, unary_expm1, expm1(x))                                                          \
    X(23, unary_log, log(x))                                                              \
    X(24, unary_log2, log2(x))                                                            \
    X(25, unary_log10, log10(x))                                                          \
    X(26, unary_log1p, log1p(x))                                                          \
    X(27, unary_sqrt, sqrt(x))                                                            \
    X(28, unary_sin, sin(x))                                                              \
    X(29, unary_cos, cos(x))                                                              \
    X(30, unary_tan, tan(x))                                                              \
    X(31, unary_asin, asin(x))                                                            \
    X(32, unary_acos, acos(x))                                                            \
    X(33, unary_atan, atan(x))                                                            \
    X(34, unary_sinh, sinh(x))                                                            \
    X(35, unary_cosh, cosh(x))                                                            \
    X(36, unary_tanh, df_tanh(x))                                                         \
    X(37, unary_asinh, asinh(x))                                                          \
    X(38, unary_acosh, acosh(x))                                                          \
    X(39, unary_atanh, atanh(x))                                                          \
    X(40, unary_reciprocal, K(1) / x)                                                     \
    X(41, unary_deg2rad, x * K(0.0174532925199432957692369076848861271))                  \
    X(42, unary_rad2deg, x * K(57.2957795130823208767981548141051703))                    \
    X(43, unary_sigmoid, df_sigmoid(x))                                                   \
    X(44, unary_gelu, K(0.5) * x * erfc(x * K(-0.707106781186547524400844362104849039)))   \
    X(45, unary_gelu_tanh, x * df_sigmoid(DF_GELU_2U(x, K)))                              \
    X(46, unary_silu, x * df_sigmoid(x))                                                  \
    X(47, unary_softplus, df_logaddexp(x, K(0)))                                          \
    X(48, unary_rsqrt, K(1) / sqrt(x))                                                    \
    X(49, unary_frac, x - trunc(x))                                                       \
    X(50, unary_erf, erf(x))                                                              \
    X(51, unary_erfinv, df_erfinv(x))                                                     \
    X(52, unary_lgamma, lgamma(x))                                                        \
    X(53, unary_digamma, df_digamma(x))                                                   \
    X(54, unary_erfc, erfc(x))                                                            \
    X(55, unary_i0, exp(fabs(x)) * df_i0e(x))                                             \
    X(56, unary_i0e, df_i0e(x))                                                           \
    X(57, unary_i1, df_i1(x))                                                             \
    X(58, unary_i1e, df_i1e(x))
#else
#define UNARY_T(X)                                                                        \
    X(7, unary_floor, x)                                                                  \
    X(8, unary_ceil, x)                                                                   \
    X(9, unary_trunc, x)                                                                  \
    X(10, unary_round, x)                                                                 \
    X(11, unary_bitwise_not, BNOT_(x))
#endif

/* predicates: X(code, name, bool expression of x) */
#if IS_FLOAT
#define PRED_OPS(X)                                                                       \
    X(60, unary_isnan, isnan(x))                                                          \
    X(61, unary_isinf, isinf(x))                                                          \
    X(62, unary_isfinite, isfinite(x))                                                    \
    X(63, unary_signbit, signbit(x))                                                      \
    X(64, unary_logical_not, x == K(0))
#else
#define PRED_OPS(X)                                                                       \
    X(60, unary_isnan, 0)                                                                 \
    X(61, unary_isinf, 0)                                                                 \
    X(62, unary_isfinite, 1)                                                              \
    X(63, unary_signbit, x < 0)                                                           \
    X(64, unary_logical_not, x == 0)
#endif

/* binary: X(code, name, expression of a and b) */
#define BINARY_ALL(X)                                                                     \
    X(1, binary_add, ADD_(a, b))                                                          \
    X(2, binary_sub, SUB_(a, b))                                                          \
    X(3, binary_mul, MUL_(a, b))                                                          \
    X(5, binary_floordiv, df_floordiv(a, b))                                              \
    X(6, binary_remainder, df_remainder(a, b))                                            \
    X(8, binary_maximum, MAXIMUM_(a, b))                                                  \
    X(9, binary_minimum, MINIMUM_(a, b))                                                  \
    X(10, binary_fmax, FMAX_(a, b))                                                       \
    X(11, binary_fmin, FMIN_(a, b))

#if IS_FLOAT
#define BINARY_T(X)                                                                       \
    X(4, binary_div, a / b)                                                               \
    X(7, binary_fmod, fmod(a, b))                                                         \
    X(12, binary_pow, pow(a, b))                                                          \
    X(20, binary_atan2, atan2(a, b))                                                      \
    X(21, binary_hypot, hypot(a, b))                                                      \
    X(22, binary_logaddexp, df_logaddexp(a, b))                                           \
    X(23, binary_copysign, copysign(a, b))                                                \
    X(24, binary_nextafter, nextafter(a, b))                                              \
    X(25, binary_zeta, df_zeta(a, b))                                                     \
    X(26, binary_relu_grad, RELU_GRAD_(a, b))                                             \
    X(27, binary_gelu_grad, a * df_gelu_grad(b))                                          \
    X(28, binary_silu_grad, a * df_silu_grad(b))
#else
#define BINARY_T(X)                                                                       \
    X(7, binary_fmod, df_fmod(a, b))                                                      \
    X(12, binary_pow, df_ipow(a, b))                                                      \
    X(30, binary_bitwise_and, a & b)                                                      \
    X(31, binary_bitwise_or, a | b)                                                       \
    X(32, binary_bitwise_xor, a ^ b)                                                      \
    X(33, binary_left_shift, df_lshift(a, b))                                             \
    X(34, binary_right_shift, df_rshift(a, b))                                            \
    X(35, binary_gcd, df_gcd(a, b))
#endif

/* comparisons (bool result): X(code, name, bool expression of a and b) */
#define COMPARE_OPS(X)                                                                    \
    X(40, binary_eq, a == b)                                                              \
    X(41, binary_ne, a != b)                                                              \
    X(42, binary_lt, a < b)                                                               \
    X(43, binary_le, a <= b)                                                              \
    X(44, binary_gt, a > b)                                                               \
    X(45, binary_ge, a >= b)                                                              \
    X(46, binary_logical_and, (a != K(0)) && (b != K(0)))                                 \
    X(47, binary_logical_or, (a != K(0)) || (b != K(0)))                                  \
    X(48, binary_logical_xor, (a != K(0)) != (b != K(0)))

/* ---- generic per-element functions (one copy of every op per program) ------------- */
#define RET_CASE(code, name, expr) case code: return (expr);

__attribute__((noinline)) TC unary_fn(const int op, const TC x) {
    switch (op) {
        UNARY_ALL(RET_CASE)
        UNARY_T(RET_CASE)
    }
    return x;
}

__attribute__((noinline)) TC binary_fn(const int op, const TC a, const TC b) {
    switch (op) {
        BINARY_ALL(RET_CASE)
        BINARY_T(RET_CASE)
    }
    return a;
}

/* ops that get their own vectorisable loop in the contiguous kernels */
#if IS_FLOAT
#define UNARY_FAST(X)                                                                     \
    X(1, unary_neg, NEG_(x))                                                              \
    X(2, unary_abs, ABS_(x))                                                              \
    X(4, unary_square, MUL_(x, x))                                                        \
    X(6, unary_relu, RELU_(x))                                                            \
    X(20, unary_exp, exp(x))                                                              \
    X(23, unary_log, log(x))                                                              \
    X(27, unary_sqrt, sqrt(x))                                                            \
    X(36, unary_tanh, df_tanh(x))                                                         \
    X(43, unary_sigmoid, df_sigmoid(x))
#define BINARY_FAST(X)                                                                    \
    X(1, binary_add, ADD_(a, b))                                                          \
    X(2, binary_sub, SUB_(a, b))                                                          \
    X(3, binary_mul, MUL_(a, b))                                                          \
    X(4, binary_div, a / b)                                                               \
    X(8, binary_maximum, MAXIMUM_(a, b))                                                  \
    X(9, binary_minimum, MINIMUM_(a, b))                                                  \
    X(26, binary_relu_grad, RELU_GRAD_(a, b))
#else
#define UNARY_FAST(X)
#define BINARY_FAST(X)                                                                    \
    X(1, binary_add, ADD_(a, b))                                                          \
    X(2, binary_sub, SUB_(a, b))                                                          \
    X(3, binary_mul, MUL_(a, b))
#endif

/* ---- unary --------------------------------------------------------------------------------- */
__kernel void ew_unary_c(const long n, __global TS* out, const long oo,
                         __global const TS* xs, const long xo, const int op) {
#ifdef DF_VEC_UNARY
    /* whole vectors inline per op; the ragged end through the generic run */
#define VCASE(code, name, expr)                                                           \
    case code:                                                                            \
        for (; k + VW <= cnt; k += VW) {                                                  \
            const VT x = VLOAD(0, xp + k);                                                \
            VSTORE((expr), 0, yp + k);                                                    \
        }                                                                                 \
        break;
    if (unary_is_vec(op)) {
        DF_CHUNK(lo, hi, n)
        __global TS* yp = out + oo + lo;
        __global const TS* xp = xs + xo + lo;
        const long cnt = hi - lo;
        long k = 0;
        switch (op) {
            UNARY_VEC(VCASE)
        }
        if (k < cnt) unary_vrun(op, yp + k, 1, xp + k, 1, cnt - k);
        return;
    }
#undef VCASE
#endif
#define UCASE(code, name, expr)                                                           \
    case code: {                                                                          \
        FOR_RANGE(i, n) {                                                                 \
            const TC x = LD(xs, xo + i);                                                  \
            ST(out, oo + i, (expr));                                                      \
        }                                                                                 \
    } break;
    switch (op) {
        UNARY_FAST(UCASE)
        default: {
            FOR_RANGE(i, n) { ST(out, oo + i, unary_fn(op, LD(xs, xo + i))); }
        }
    }
#undef UCASE
}

__kernel void ew_unary_s(const Desc d, __global TS* out, __global const TS* xs, const int op) {
#define USCASE(code, name, expr)                                                          \
    case code:                                                                            \
        RUN_LOOP(k) {                                                                     \
            const TC x = LD(xs, P1(k));                                                   \
            ST(out, P0(k), (expr));                                                       \
        }                                                                                 \
        break;
#ifdef DF_VEC_UNARY
    const int vec = unary_is_vec(op);
#endif
    RUNS_BEGIN(d)
#ifdef DF_VEC_UNARY
    if (vec) {
        unary_vrun(op, out + o0_, s0_, xs + o1_, s1_, cnt_);
    } else
#endif
    switch (op) {
        UNARY_FAST(USCASE)
        default:
            RUN_LOOP(k) { ST(out, P0(k), unary_fn(op, LD(xs, P1(k)))); }
    }
    RUNS_END(d)
#undef USCASE
}

__kernel void ew_pred_s(const Desc d, __global uchar* out, __global const TS* xs, const int op) {
#define PSCASE(code, name, expr)                                                          \
    case code:                                                                            \
        RUN_LOOP(k) {                                                                     \
            const TC x = LD(xs, P1(k));                                                   \
            out[P0(k)] = (uchar)((expr) ? 1 : 0);                                         \
        }                                                                                 \
        break;
    RUNS_BEGIN(d)
    switch (op) {
        PRED_OPS(PSCASE)
    }
    RUNS_END(d)
#undef PSCASE
}

/* ---- binary ---------------------------------------------------------------------------------
 * mode: 0 both operands are arrays, 1 b is the scalar sb, 2 a is the scalar sa. */
#define BIN_LOADS(ia, ib)                                                                 \
    const TC a = (mode == 2) ? sa : LD(as, ia);                                           \
    const TC b = (mode == 1) ? sb : LD(bs, ib);

__kernel void ew_binary_c(const long n, __global TS* out, const long oo,
                          __global const TS* as, const long ao, __global const TS* bs,
                          const long bo, const TC sa, const TC sb, const int mode, const int op) {
#define BCASE(code, name, expr)                                                           \
    case code: {                                                                          \
        FOR_RANGE(i, n) {                                                                 \
            BIN_LOADS(ao + i, bo + i)                                                     \
            ST(out, oo + i, (expr));                                                      \
        }                                                                                 \
    } break;
    switch (op) {
        BINARY_FAST(BCASE)
        default: {
            FOR_RANGE(i, n) {
                BIN_LOADS(ao + i, bo + i)
                ST(out, oo + i, binary_fn(op, a, b));
            }
        }
    }
#undef BCASE
}

/* ---- recorded batches (backends/opencl/op_batch.py) -------------------------------------
 * On CPU devices the host records small contiguous unary and binary ops instead of launching
 * each, and one work-item of ew_batch runs a batch of them in order. A record is OB_WORDS longs:
 *   [0] kind (0 unary, 1 + binary mode) | op << 8 | out slot << 16 | x slot << 24 | b slot << 32
 *   [1] n  [2] out offset  [3] x (or a) offset  [4] b offset  [5] the scalar's bits
 * Slots index the buffer arguments m00..m77 (64). The loops run the expressions of ew_unary_c and
 * ew_binary_c, and the vectorised unary ops the same vector functions, so a batch gives the
 * bits a launch per op gives. */
#define OB_WORDS 6
#if IS_FLOAT && DT_SIZE(T) == 8
#define OB_SCALAR(w) as_double(w)
#elif IS_FLOAT
#define OB_SCALAR(w) as_float((uint)(w))
#else
#define OB_SCALAR(w) ((TC)(w))
#endif

inline void ob_unary(const int op, __global TS* out, __global const TS* xs, const long n) {
#ifdef DF_VEC_UNARY
    if (unary_is_vec(op)) {
        unary_vrun(op, out, 1, xs, 1, n);
        return;
    }
#endif
#define OUCASE(code, name, expr)                                                          \
    case code:                                                                            \
        for (long i = 0; i < n; ++i) {                                                    \
            const TC x = LD(xs, i);                                                       \
            ST(out, i, (expr));                                                           \
        }                                                                                 \
        break;
    switch (op) {
        UNARY_FAST(OUCASE)
        default:
            for (long i = 0; i < n; ++i) ST(out, i, unary_fn(op, LD(xs, i)));
    }
#undef OUCASE
}

inline void ob_binary(const int mode, const int op, __global TS* out, __global const TS* as,
                      __global const TS* bs, const TC s, const long n) {
    const TC sa = s, sb = s;
#define OBCASE(code, name, expr)                                                          \
    case code:                                                                            \
        for (long i = 0; i < n; ++i) {                                                    \
            BIN_LOADS(i, i)                                                               \
            ST(out, i, (expr));                                                           \
        }                                                                                 \
        break;
    switch (op) {
        BINARY_FAST(OBCASE)
        default:
            for (long i = 0; i < n; ++i) {
                BIN_LOADS(i, i)
                ST(out, i, binary_fn(op, a, b));
            }
    }
#undef OBCASE
}

#define OB_M8(i) __global TS *m##i##0, __global TS *m##i##1, __global TS *m##i##2,            \
    __global TS *m##i##3, __global TS *m##i##4, __global TS *m##i##5, __global TS *m##i##6,   \
    __global TS *m##i##7
#define OB_L8(i) m##i##0, m##i##1, m##i##2, m##i##3, m##i##4, m##i##5, m##i##6, m##i##7
__kernel void ew_batch(__global const long* prog, const int nops, OB_M8(0), OB_M8(1),
                       OB_M8(2), OB_M8(3), OB_M8(4), OB_M8(5), OB_M8(6), OB_M8(7)) {
    __global TS* mem[64] = {OB_L8(0), OB_L8(1), OB_L8(2), OB_L8(3),
                            OB_L8(4), OB_L8(5), OB_L8(6), OB_L8(7)};
    for (int r = 0; r < nops; ++r) {
        __global const long* w = prog + OB_WORDS * r;
        const long head = w[0];
        const int kind = (int)(head & 255), op = (int)((head >> 8) & 255);
        __global TS* out = mem[(head >> 16) & 63] + w[2];
        __global const TS* xs = mem[(head >> 24) & 63] + w[3];
        if (kind == 0)
            ob_unary(op, out, xs, w[1]);
        else
            ob_binary(kind - 1, op, out, xs, mem[(head >> 32) & 63] + w[4], OB_SCALAR(w[5]),
                      w[1]);
    }
}
#undef OB_M8
#undef OB_L8

__kernel void ew_binary_s(const Desc d, __global TS* out, __global const TS* as,
                          __global const TS* bs, const TC sa, const TC sb, const int mode,
                          const int op) {
#define BSCASE(code, name, expr)                                                          \
    case code:                                                                            \
        RUN_LOOP(k) {                                                                     \
            BIN_LOADS(P1(k), P2(k))                                                       \
            ST(out, P0(k), (expr));                                                       \
        }                                                                                 \
        break;
    RUNS_BEGIN(d)
    switch (op) {
        BINARY_FAST(BSCASE)
        default:
            RUN_LOOP(k) {
                BIN_LOADS(P1(k), P2(k))
                ST(out, P0(k), binary_fn(op, a, b));
            }
    }
    RUNS_END(d)
#undef BSCASE
}

__kernel void ew_compare_s(const Desc d, __global uchar* out, __global const TS* as,
                           __global const TS* bs, const TC sa, const TC sb, const int mode,
                           const int op) {
#define CSCASE(code, name, expr)                                                          \
    case code:                                                                            \
        RUN_LOOP(k) {                                                                     \
            BIN_LOADS(P1(k), P2(k))                                                       \
            out[P0(k)] = (uchar)((expr) ? 1 : 0);                                         \
        }                                                                                 \
        break;
    RUNS_BEGIN(d)
    switch (op) {
        COMPARE_OPS(CSCASE)
    }
    RUNS_END(d)
#undef CSCASE
}

/* ---- where / clamp / lerp / nan_to_num / fill --------------------------------------------- */
/* operands: 0 out, 1 cond (uchar), 2 a, 3 b; mode bit 0: a is the scalar sa, bit 1: b is sb */
__kernel void ew_where_s(const Desc d, __global TS* out, __global const uchar* cond,
                         __global const TS* as, __global const TS* bs, const TC sa,
                         const TC sb, const int mode) {
    STRIDED_BEGIN(d)
    const TC a = (mode & 1) ? sa : LD(as, p2);
    const TC b = (mode & 2) ? sb : LD(bs, p3);
    ST(out, p0, cond[p1] ? a : b);
    STRIDED_END(d)
}

/* operands: 0 out, 1 x, 2 lo, 3 hi; mode bits: 1 lo array, 2 lo scalar, 4 hi array, 8 hi scalar */
__kernel void ew_clamp_s(const Desc d, __global TS* out, __global const TS* xs,
                         __global const TS* los, __global const TS* his, const TC slo,
                         const TC shi, const int mode) {
    STRIDED_BEGIN(d)
    TC r = LD(xs, p1);
    if (mode & 3) {
        const TC lo = (mode & 1) ? LD(los, p2) : slo;
        r = MAXIMUM_(r, lo);
    }
    if (mode & 12) {
        const TC hi = (mode & 4) ? LD(his, p3) : shi;
        r = MINIMUM_(r, hi);
    }
    ST(out, p0, r);
    STRIDED_END(d)
}

#if IS_FLOAT
/* operands: 0 out, 1 a, 2 b, 3 w; mode bit 0: b is the scalar sb, bit 1: w is sw */
__kernel void ew_lerp_s(const Desc d, __global TS* out, __global const TS* as,
                        __global const TS* bs, __global const TS* ws, const TC sb, const TC sw,
                        const int mode) {
    STRIDED_BEGIN(d)
    const TC a = LD(as, p1);
    const TC b = (mode & 1) ? sb : LD(bs, p2);
    const TC w = (mode & 2) ? sw : LD(ws, p3);
    ST(out, p0, a + w * (b - a));
    STRIDED_END(d)
}

__kernel void ew_nan_to_num_s(const Desc d, __global TS* out, __global const TS* xs,
                              const TC vnan, const TC vpos, const TC vneg) {
    STRIDED_BEGIN(d)
    const TC x = LD(xs, p1);
    ST(out, p0, isnan(x) ? vnan : (isinf(x) ? (x > K(0) ? vpos : vneg) : x));
    STRIDED_END(d)
}
#endif
