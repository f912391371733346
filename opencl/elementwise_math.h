/* Per-element math of opencl/elementwise.cl, spliced in after its T/TS/TC/K macros:
 * numpy-compatible scalar helpers (floor division, remainder, logaddexp, erfinv, integer
 * shifts and powers) and, on CPU devices, the vectorised path of the float unary ops.
 */
#ifndef DF_ELEMENTWISE_MATH_H
#define DF_ELEMENTWISE_MATH_H

/* ---- scalar helpers -------------------------------------------------------------------- */
#if IS_FLOAT
#define ABS_(x) fabs(x)
#define SIGN_(x) (isnan(x) ? (x) : sign(x))
#define RELU_(x) (isnan(x) ? (x) : ((x) > K(0) ? (x) : K(0)))
#define NEG_(x) (-(x))
#define MAXIMUM_(a, b) DF_MAXIMUM_F(a, b)
#define MINIMUM_(a, b) DF_MINIMUM_F(a, b)
#define FMAX_(a, b) fmax(a, b)
#define FMIN_(a, b) fmin(a, b)
#define ADD_(a, b) ((a) + (b))
#define SUB_(a, b) ((a) - (b))
#define MUL_(a, b) ((a) * (b))

inline TC df_sigmoid(TC x) { return K(1) / (K(1) + exp(-x)); }

/* |x| beyond which tanh rounds to +-1 (float: 1 - tanh(9.1) < 2^-25; double: 19.5 and 2^-54):
   library tanh may return 1 - ulp there, even at infinity. */
#define DF_TANH_SAT (DT_SIZE(T) == 8 ? 19.5 : 9.1)
inline TC df_tanh(TC x) { return fabs(x) > K(DF_TANH_SAT) ? copysign(K(1), x) : tanh(x); }

/* tanh-approximated GELU as x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): equal to
   x (1 + tanh(u)) / 2 without its cancellation for negative x */
#define DF_GELU_2U(x, C)                                                                  \
    ((x) * C(1.59576912160573071175978423973752747) * (C(1) + C(0.044715) * (x) * (x)))

/* numpy's npy_divmod: floor division and Python-style remainder for floats */
inline TC df_floordiv(TC a, TC b) {
    TC mod = fmod(a, b);
    if (b == K(0)) return a / b;
    TC div = (a - mod) / b;
    if (mod != K(0)) {
        if ((b < K(0)) != (mod < K(0))) div -= K(1);
    }
    TC fl;
    if (div != K(0)) {
        fl = floor(div);
        if (div - fl > K(0.5)) fl += K(1);
    } else {
        fl = copysign(K(0), a / b);
    }
    return fl;
}

inline TC df_remainder(TC a, TC b) {
    if (b == K(0)) return fmod(a, b);
    TC mod = fmod(a, b);
    if (mod != K(0)) {
        if ((b < K(0)) != (mod < K(0))) mod += b;
    } else {
        mod = copysign(K(0), b);
    }
    return mod;
}

inline TC df_logaddexp(TC x, TC y) {
    if (x == y) return x + K(0.693147180559945309417232121458176568);
    TC t = x - y;
    if (t > K(0)) return x + log1p(exp(-t));
    if (t <= K(0)) return y + log1p(exp(t));
    return t; /* NaN */
}

inline TC df_erfinv(TC x) {
    /* Giles' single-precision approximation refined by two Newton steps on erf */
    TC w = -log((K(1) - x) * (K(1) + x));
    TC p;
    if (w < K(5)) {
        w = w - K(2.5);
        p = K(2.81022636e-08);
        p = K(3.43273939e-07) + p * w;
        p = K(-3.5233877e-06) + p * w;
        p = K(-4.39150654e-06) + p * w;
        p = K(0.00021858087) + p * w;
        p = K(-0.00125372503) + p * w;
        p = K(-0.00417768164) + p * w;
        p = K(0.246640727) + p * w;
        p = K(1.50140941) + p * w;
    } else {
        w = sqrt(w) - K(3);
        p = K(-0.000200214257);
        p = K(0.000100950558) + p * w;
        p = K(0.00134934322) + p * w;
        p = K(-0.00367342844) + p * w;
        p = K(0.00573950773) + p * w;
        p = K(-0.0076224613) + p * w;
        p = K(0.00943887047) + p * w;
        p = K(1.00167406) + p * w;
        p = K(2.83297682) + p * w;
    }
    TC y = p * x;
    const TC c = K(1.12837916709551257389615890312154517); /* 2/sqrt(pi) */
    if (fabs(x) < K(1)) {
        y = y - (erf(y) - x) / (c * exp(-y * y));
        y = y - (erf(y) - x) / (c * exp(-y * y));
    }
    if (x == K(1)) return INFINITY;
    if (x == K(-1)) return -INFINITY;
    if (fabs(x) > K(1)) return NAN;
    return y;
}

#else /* integer and bool dtypes compute in long with wrap-around arithmetic */
#define ABS_(x) ((x) < 0 ? (long)(0UL - (ulong)(x)) : (x))
#define SIGN_(x) ((long)((x) > 0) - (long)((x) < 0))
#define RELU_(x) ((x) > 0 ? (x) : 0L)
#define NEG_(x) ((long)(0UL - (ulong)(x)))
#define MAXIMUM_(a, b) max(a, b)
#define MINIMUM_(a, b) min(a, b)
#define FMAX_(a, b) max(a, b)
#define FMIN_(a, b) min(a, b)
#define ADD_(a, b) ((long)((ulong)(a) + (ulong)(b)))
#define SUB_(a, b) ((long)((ulong)(a) - (ulong)(b)))
#define MUL_(a, b) ((long)((ulong)(a) * (ulong)(b)))

inline long df_floordiv(long a, long b) {
    if (b == 0) return 0;
    if (b == -1) return NEG_(a);
    long q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}

inline long df_remainder(long a, long b) {
    if (b == 0 || b == -1) return 0;
    long r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

inline long df_fmod(long a, long b) {
    if (b == 0 || b == -1) return 0;
    return a % b;
}

inline long df_ipow(long a, long b) {
    if (b < 0) return (a == 1) ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
    ulong r = 1, base = (ulong)a;
    while (b) {
        if (b & 1) r *= base;
        base *= base;
        b >>= 1;
    }
    return (long)r;
}

inline long df_lshift(long a, long b) { return ((ulong)b < 64UL) ? (long)((ulong)a << b) : 0L; }
inline long df_rshift(long a, long b) { return ((ulong)b < 64UL) ? (a >> b) : (a < 0 ? -1L : 0L); }

#ifdef DT_IS_BOOL
#define BNOT_(x) ((long)((x) == 0))
#else
#define BNOT_(x) (~(x))
#endif
#endif

/* ---- CPU vector path of the float unary ops -----------------------------------------------
 * PoCL compiles a loop of scalar math builtins (exp, log, tanh, erf, ...) into one scalar
 * library call per element, which the loop vectoriser cannot widen: exp costs ~1 ns and log
 * ~10 ns an element, several times the memory time. Its vector overloads are vectorised
 * implementations of the same functions (equal results, <= 1 ulp for exp/log/tanh), so on CPU
 * devices these ops evaluate VW-wide vectors (one 64-byte register): loaded with vloadN where
 * both operands are unit-stride, otherwise gathered through a private buffer, the ragged end
 * padded. The expressions match UNARY_T's element by element. float16 storage keeps the
 * scalar path. */
#if defined(DF_CPU) && IS_FLOAT && DT_SIZE(T) != 2
#define DF_VEC_UNARY 1
#if DT_SIZE(T) == 4
#define VW 16
#define VT float16
#define VLOAD vload16
#define VSTORE vstore16
#else
#define VW 8
#define VT double8
#define VLOAD vload8
#define VSTORE vstore8
#endif
#define V(c) ((VT)(c))

inline VT dfv_sigmoid(VT x) { return V(1) / (V(1) + exp(-x)); }
inline VT dfv_tanh(VT x) {
    return select(tanh(x), copysign(V(1), x), isgreater(fabs(x), V(DF_TANH_SAT)));
}

/* Float erfc loses relative precision in GELU's negative tail (20-170 ulp below -3) and double
   erfc is slow, so float GELU is x * Phi(x) with Numerical Recipes' erfc (relative error
   < 1.2e-7 on the whole line) evaluated in double, as the CPU backend does. */
inline VT dfv_gelu(VT x) {
#if DT_SIZE(T) == 4
    const double16 xd = convert_double16(x);
    const double16 z = xd * -0.707106781186547524400844362104849039, a = fabs(z);
    const double16 t = 1.0 / (1.0 + 0.5 * a);
    double16 p = 0.17087277;
    p = p * t - 0.82215223; p = p * t + 1.48851587; p = p * t - 1.13520398;
    p = p * t + 0.27886807; p = p * t - 0.18628806; p = p * t + 0.09678418;
    p = p * t + 0.37409196; p = p * t + 1.00002368; p = p * t - 1.26551223;
    const double16 e = t * exp(p - a * a);
    return convert_float16(xd * (0.5 * select(e, 2.0 - e, z < 0.0)));
#else
    return V(0.5) * x * erfc(x * V(-0.707106781186547524400844362104849039));
#endif
}

/* X(code, name, expression of the vector x) */
#define UNARY_VEC(X)                                                                      \
    X(20, unary_exp, exp(x))                                                              \
    X(22, unary_expm1, expm1(x))                                                          \
    X(23, unary_log, log(x))                                                              \
    X(26, unary_log1p, log1p(x))                                                          \
    X(36, unary_tanh, dfv_tanh(x))                                                        \
    X(43, unary_sigmoid, dfv_sigmoid(x))                                                  \
    X(44, unary_gelu, dfv_gelu(x))                                                        \
    X(45, unary_gelu_tanh, x * dfv_sigmoid(DF_GELU_2U(x, V)))                              \
    X(46, unary_silu, x * dfv_sigmoid(x))                                                 \
    X(47, unary_softplus, fmax(x, V(0)) + log1p(exp(-fabs(x))))                           \
    X(50, unary_erf, erf(x))

#define VRET_CASE(code, name, expr) case code: return (expr);
#define VIS_CASE(code, name, expr) case code:

/* Out of line: one copy of each op serves both kernels, and a call per VW elements is
   cheap next to the math. */
__attribute__((noinline)) VT unary_vfn(const int op, const VT x) {
    switch (op) {
        UNARY_VEC(VRET_CASE)
    }
    return x;
}

inline int unary_is_vec(const int op) {
    switch (op) {
        UNARY_VEC(VIS_CASE)
        return 1;
    }
    return 0;
}

/* y[k * ys] = op(x[k * xs]) for k in [0, cnt) */
inline void unary_vrun(const int op, __global TS* y, const long ys, __global const TS* x,
                       const long xs, const long cnt) {
    long k = 0;
    if (ys == 1 && xs == 1) {
        for (; k + VW <= cnt; k += VW) VSTORE(unary_vfn(op, VLOAD(0, x + k)), 0, y + k);
    }
    for (; k < cnt; k += VW) {
        const int m = (int)min((long)VW, cnt - k);
        TS t[VW];
        for (int j = 0; j < VW; ++j) t[j] = j < m ? x[(k + j) * xs] : (TS)0;
        VSTORE(unary_vfn(op, VLOAD(0, t)), 0, t);
        for (int j = 0; j < m; ++j) y[(k + j) * ys] = t[j];
    }
}
#endif

#endif /* DF_ELEMENTWISE_MATH_H */
