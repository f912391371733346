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

/* fused backward of relu (b: its result), gelu and silu (x: their input); a: the gradient.
 * relu's is a select, as PyTorch's threshold_backward: a NaN gradient where y <= 0 gives 0 */
#define RELU_GRAD_(a, b) ((b) > K(0) ? (a) : K(0))
inline TC df_gelu_grad(TC x) {
    const TC cdf = K(0.5) * erfc(x * K(-0.707106781186547524400844362104849039));
    return cdf + x * exp(K(-0.5) * x * x) * K(0.398942280401432677939946059934381868);
}
inline TC df_silu_grad(TC x) {
    const TC s = K(1) / (K(1) + exp(-x));
    return s * (K(1) + x * (K(1) - s));
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

/* Special functions (lgamma is a builtin): digamma, the Hurwitz zeta function (polygamma),
   the modified Bessel functions i0e/i1e. Cephes' algorithms and Chebyshev coefficients
   (3-clause BSD licence), as PyTorch evaluates them. */
inline TC df_digamma_pos(TC z) {
    TC acc = K(0);
    while (z < K(10)) {
        acc -= K(1) / z;
        z += K(1);
    }
    const TC zz = K(1) / (z * z);
    TC p = K(8.33333333333333333333e-2);
    p = p * zz + K(-2.10927960927960927961e-2);
    p = p * zz + K(7.57575757575757575758e-3);
    p = p * zz + K(-4.16666666666666666667e-3);
    p = p * zz + K(3.96825396825396825397e-3);
    p = p * zz + K(-8.33333333333333333333e-3);
    p = p * zz + K(8.33333333333333333333e-2);
    return acc + log(z) - K(0.5) / z - (z < K(1.0e17) ? zz * p : K(0));
}

inline TC df_digamma(TC x) {
    if (x == K(0)) return copysign((TC)INFINITY, -x);
    if (x < K(0)) {
        if (x == trunc(x)) return (TC)NAN;
        /* psi(1 - x) - psi(x) = pi cot(pi x); the fractional part keeps tan accurate */
        const TC pi = K(3.14159265358979323846264338327950288);
        return df_digamma_pos(K(1) - x) - pi / tan(pi * (x - trunc(x)));
    }
    return df_digamma_pos(x);
}

/* the direct sum of zeta(s, q) would need more terms than this: NaN, as on the CPU backend */
#define DF_ZETA_MAX_TERMS 4096
inline TC df_zeta(TC s, TC q) {
    const TC machep = K(DT_SIZE(T) == 8 ? 1.11022302462515654042e-16 : 5.9604644775390625e-8);
    if (s == K(1)) return (TC)INFINITY;
    if (!(s > K(1))) return (TC)NAN;
    if (q <= K(0)) {
        if (q == floor(q)) return (TC)INFINITY;
        if (s != floor(s) || q < K(-DF_ZETA_MAX_TERMS)) return (TC)NAN;
    }
    TC sum = pow(q, -s), a = q, b = K(0);
    int i = 0;
    while (i < 9 || a <= K(9)) {
        i += 1;
        a += K(1);
        b = pow(a, -s);
        sum += b;
        if (fabs(b) < machep * fabs(sum)) return sum;
    }
    const TC w = a;
    sum += b * w / (s - K(1)) - K(0.5) * b;
    TC fac = K(1), k = K(0);
#define DF_ZETA_STEP(c)                                                                   \
    fac *= s + k;                                                                         \
    b /= w;                                                                               \
    {                                                                                     \
        const TC t = fac * b / K(c);                                                      \
        sum += t;                                                                         \
        if (fabs(t / sum) < machep) return sum;                                           \
    }                                                                                     \
    k += K(1);                                                                            \
    fac *= s + k;                                                                         \
    b /= w;                                                                               \
    k += K(1);
    DF_ZETA_STEP(12.0) DF_ZETA_STEP(-720.0) DF_ZETA_STEP(30240.0) DF_ZETA_STEP(-1209600.0)
    DF_ZETA_STEP(47900160.0) DF_ZETA_STEP(-1.8924375803183791606e9)
    DF_ZETA_STEP(7.47242496e10) DF_ZETA_STEP(-2.950130727918164224e12)
    DF_ZETA_STEP(1.1646782814350067249e14) DF_ZETA_STEP(-4.5979787224074726105e15)
    DF_ZETA_STEP(1.8152105401943546773e17) DF_ZETA_STEP(-7.1661652561756670113e18)
#undef DF_ZETA_STEP
    return sum;
}
#define DF_I0E_A(X)                                                                        \
    X(-4.4153416464793395e-18) X(3.3307945188222384e-17) X(-2.431279846547955e-16)         \
    X(1.715391285555133e-15) X(-1.1685332877993451e-14) X(7.676185498604936e-14)           \
    X(-4.856446783111929e-13) X(2.95505266312964e-12) X(-1.726826291441556e-11)            \
    X(9.675809035373237e-11) X(-5.189795601635263e-10) X(2.6598237246823866e-09)           \
    X(-1.300025009986248e-08) X(6.046995022541919e-08) X(-2.670793853940612e-07)           \
    X(1.1173875391201037e-06) X(-4.4167383584587505e-06) X(1.6448448070728896e-05)         \
    X(-5.754195010082104e-05) X(0.00018850288509584165) X(-0.0005763755745385824)          \
    X(0.0016394756169413357) X(-0.004324309995050576) X(0.010546460394594998)              \
    X(-0.02373741480589947) X(0.04930528423967071) X(-0.09490109704804764)                 \
    X(0.17162090152220877) X(-0.3046826723431984) X(0.6767952744094761)
#define DF_I0E_B(X)                                                                        \
    X(-7.233180487874754e-18) X(-4.830504485944182e-18) X(4.46562142029676e-17)            \
    X(3.461222867697461e-17) X(-2.8276239805165836e-16) X(-3.425485619677219e-16)          \
    X(1.7725601330565263e-15) X(3.8116806693526224e-15) X(-9.554846698828307e-15)          \
    X(-4.150569347287222e-14) X(1.54008621752141e-14) X(3.8527783827421426e-13)            \
    X(7.180124451383666e-13) X(-1.7941785315068062e-12) X(-1.3215811840447713e-11)         \
    X(-3.1499165279632416e-11) X(1.1889147107846439e-11) X(4.94060238822497e-10)           \
    X(3.3962320257083865e-09) X(2.266668990498178e-08) X(2.0489185894690638e-07)           \
    X(2.8913705208347567e-06) X(6.889758346916825e-05) X(0.0033691164782556943)            \
    X(0.8044904110141088)
#define DF_I1E_A(X)                                                                        \
    X(2.7779141127610464e-18) X(-2.111421214358166e-17) X(1.5536319577362005e-16)          \
    X(-1.1055969477353862e-15) X(7.600684294735408e-15) X(-5.042185504727912e-14)          \
    X(3.223793365945575e-13) X(-1.9839743977649436e-12) X(1.1736186298890901e-11)          \
    X(-6.663489723502027e-11) X(3.625590281552117e-10) X(-1.8872497517228294e-09)          \
    X(9.381537386495773e-09) X(-4.445059128796328e-08) X(2.0032947535521353e-07)           \
    X(-8.568720264695455e-07) X(3.4702513081376785e-06) X(-1.3273163656039436e-05)         \
    X(4.781565107550054e-05) X(-0.00016176081582589674) X(0.0005122859561685758)           \
    X(-0.0015135724506312532) X(0.004156422944312888) X(-0.010564084894626197)             \
    X(0.024726449030626516) X(-0.05294598120809499) X(0.1026436586898471)                  \
    X(-0.17641651835783406) X(0.25258718644363365)
#define DF_I1E_B(X)                                                                        \
    X(7.517296310842105e-18) X(4.414348323071708e-18) X(-4.6503053684893586e-17)           \
    X(-3.209525921993424e-17) X(2.96262899764595e-16) X(3.3082023109209285e-16)            \
    X(-1.8803547755107825e-15) X(-3.8144030724370075e-15) X(1.0420276984128802e-14)        \
    X(4.272440016711951e-14) X(-2.1015418427726643e-14) X(-4.0835511110921974e-13)         \
    X(-7.198551776245908e-13) X(2.0356285441470896e-12) X(1.4125807436613782e-11)          \
    X(3.2526035830154884e-11) X(-1.8974958123505413e-11) X(-5.589743462196584e-10)         \
    X(-3.835380385964237e-09) X(-2.6314688468895196e-08) X(-2.512236237870209e-07)         \
    X(-3.882564808877691e-06) X(-0.00011058893876262371) X(-0.009761097491361469)          \
    X(0.7785762350182801)

#define DF_CHB_STEP(c)                                                                    \
    b2 = b1;                                                                              \
    b1 = b0;                                                                              \
    b0 = y * b1 - b2 + K(c);
#define DF_CHBEVL(name, TABLE)                                                            \
    inline TC name(const TC y) {                                                          \
        TC b0 = K(0), b1 = K(0), b2 = K(0);                                               \
        TABLE(DF_CHB_STEP)                                                                \
        return K(0.5) * (b0 - b2);                                                        \
    }
DF_CHBEVL(df_chb_i0e_a, DF_I0E_A)
DF_CHBEVL(df_chb_i0e_b, DF_I0E_B)
DF_CHBEVL(df_chb_i1e_a, DF_I1E_A)
DF_CHBEVL(df_chb_i1e_b, DF_I1E_B)

inline TC df_i0e(TC x) {
    const TC a = fabs(x);
    return a <= K(8) ? df_chb_i0e_a(a / K(2) - K(2)) : df_chb_i0e_b(K(32) / a - K(2)) / sqrt(a);
}

inline TC df_i1e(TC x) {
    const TC a = fabs(x);
    const TC r = a <= K(8) ? df_chb_i1e_a(a / K(2) - K(2)) * a
                           : df_chb_i1e_b(K(32) / a - K(2)) / sqrt(a);
    return x < K(0) ? -r : r;
}

inline TC df_i1(TC x) {
    const TC r = exp(fabs(x)) * fabs(df_i1e(x));
    return x < K(0) ? -r : r;
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

/* Euclid on magnitudes (gcd(0, 0) = 0), as numpy's gcd */
inline long df_gcd(long a, long b) {
    ulong x = a < 0 ? -(ulong)a : (ulong)a, y = b < 0 ? -(ulong)b : (ulong)b;
    while (y) {
        const ulong t = x % y;
        x = y;
        y = t;
    }
    return (long)x;
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
