# Vectorisable C helpers for the hot contiguous loops of deepforge._core.
#
# Cython does the validation, tiling and OpenMP threading; the innermost contiguous loops that
# need transcendental functions (exp/tanh/sigmoid/...) or wide SIMD live here as C, because:
#  * libm's exp is scalar (~7 ns/element) while numpy dispatches AVX-512; our own branch-free
#    exp (Cody-Waite + degree-13/7 polynomial, <= 2 ulp, correct inf/nan/subnormal handling)
#    auto-vectorises;
#  * on x86-64 Linux with GCC >= 11 every helper is compiled three times (x86-64-v4 = AVX-512,
#    x86-64-v3 = AVX2+FMA, baseline SSE2) and picked at load time (target_clones / ifunc), so the
#    package stays portable while using AVX-512 where present;
#  * -ffast-math (setup.py) allows re-association (and unsafe folds such as (a + S) - S -> a),
#    which would destroy Cody-Waite reduction and the round-to-integer shifter trick, so the
#    helpers are compiled with no-unsafe-math-optimizations (GCC pragma; trapping math and signed
#    zeros stay off) / fp reassociate(off) (clang).  Multi-lane accumulators keep sums vectorised.
#    Consequence: the dfs_* scalar helpers must only be inlined into functions of this block.
# T/S pairs: float/f and double/d.

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #include <math.h>
    #ifdef _OPENMP
    #include <omp.h>
    static int df_omp_max_threads(void) { return omp_get_max_threads(); }
    #define DF_HAVE_OPENMP 1
    #else
    static int df_omp_max_threads(void) { return 1; }
    #define DF_HAVE_OPENMP 0
    #endif

    #if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 && defined(__x86_64__) \
        && defined(__linux__) && !defined(DF_NO_CLONES)
    #define DF_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #define DF_SIMD_DISPATCH 1
    #else
    #define DF_CLONES
    #define DF_SIMD_DISPATCH 0
    #endif

    #if defined(__clang__)
    #define DF_PRECISE _Pragma("clang fp reassociate(off)")
    #else
    #define DF_PRECISE
    #endif
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC push_options
    #pragma GCC optimize ("no-unsafe-math-optimizations", "no-trapping-math", "no-signed-zeros", "reciprocal-math")
    #endif

    #define DF_LANES 32
    #define DF_BLOCK 4096
    typedef Py_ssize_t df_ix;

    static inline uint32_t df_u32_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
    static inline uint64_t df_u64_of(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
    static inline float df_f32_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
    static inline double df_f64_bits(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }

    /* expm1(r) for |r| <= ln2/2 (Taylor, degree 13 / 7: < 1 ulp truncation error). */
    static inline double dfs_em1poly_d(double r) {
        DF_PRECISE
        double p = 1.0 / 6227020800.0;
        p = p * r + 1.0 / 479001600.0; p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;   p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;     p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;       p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        return r + (r * r) * p;
    }
    static inline float dfs_em1poly_f(float r) {
        DF_PRECISE
        float p = 1.0f / 5040.0f;
        p = p * r + 1.0f / 720.0f; p = p * r + 1.0f / 120.0f; p = p * r + 1.0f / 24.0f;
        p = p * r + 1.0f / 6.0f;   p = p * r + 0.5f;
        return r + (r * r) * p;
    }
    /* exp: k = round(x/ln2) by the 1.5*2^52 shifter, r = x - k*ln2 (Cody-Waite), 2^k built in
       the exponent bits (two steps below 2^-1000 for gradual underflow); no branches. */
    static inline double dfs_exp_d(double x) {
        DF_PRECISE
        double ks = x * 1.4426950408889634 + 0x1.8p52;
        double kd = ks - 0x1.8p52;
        double r = x - kd * 6.93147180369123816490e-01;
        r = r - kd * 1.90821492927058770002e-10;
        double q = dfs_em1poly_d(r);
        uint64_t kb = df_u64_of(ks + (kd < -1000.0 ? 64.0 : 0.0));
        double res = df_f64_bits(df_u64_of(1.0 + q) + (kb << 52)) * (kd < -1000.0 ? 0x1p-64 : 1.0);
        res = x > 709.782712893384 ? INFINITY : res;
        res = x < -745.2 ? 0.0 : res;
        return x != x ? x : res;
    }
    static inline float dfs_exp_f(float x) {
        DF_PRECISE
        float ks = x * 1.44269504088896341f + 0x1.8p23f;
        float kf = ks - 0x1.8p23f;
        float r = x - kf * 0.693359375f;
        r = r - kf * -2.12194440e-4f;
        float q = dfs_em1poly_f(r);
        uint32_t kb = df_u32_of(ks + (kf < -100.0f ? 32.0f : 0.0f));
        float res = df_f32_bits(df_u32_of(1.0f + q) + (kb << 23)) * (kf < -100.0f ? 0x1p-32f : 1.0f);
        res = x > 88.72283935546875f ? INFINITY : res;
        res = x < -104.0f ? 0.0f : res;
        return x != x ? x : res;
    }
    /* expm1(u) for u <= 0 (used by tanh): 2^k * expm1(r) + (2^k - 1), exact for k == 0. */
    static inline double dfs_expm1neg_d(double u) {
        DF_PRECISE
        double ks = u * 1.4426950408889634 + 0x1.8p52;
        double kd = ks - 0x1.8p52;
        double r = u - kd * 6.93147180369123816490e-01;
        r = r - kd * 1.90821492927058770002e-10;
        double q = dfs_em1poly_d(r);
        double s = df_f64_bits(df_u64_of(1.0) + (df_u64_of(ks) << 52));
        double res = s * q + (s - 1.0);
        res = u < -40.0 ? -1.0 : res;
        return u != u ? u : res;
    }
    static inline float dfs_expm1neg_f(float u) {
        DF_PRECISE
        float ks = u * 1.44269504088896341f + 0x1.8p23f;
        float kf = ks - 0x1.8p23f;
        float r = u - kf * 0.693359375f;
        r = r - kf * -2.12194440e-4f;
        float q = dfs_em1poly_f(r);
        float s = df_f32_bits(df_u32_of(1.0f) + (df_u32_of(ks) << 23));
        float res = s * q + (s - 1.0f);
        res = u < -20.0f ? -1.0f : res;
        return u != u ? u : res;
    }
    /* Phi(x) = 0.5 * erfc(-x / sqrt(2)), the normal CDF used by GELU.  float: Numerical-Recipes
       erfc (relative error < 1.2e-7 on the whole line, so the negative tail keeps float
       precision), evaluated in double with our vectorisable exp; double: libm erfc. */
    static inline double dfs_phi_nr(double x) {
        DF_PRECISE
        double z = x * -0.70710678118654752440;
        double a = z < 0.0 ? -z : z;
        double t = 1.0 / (1.0 + 0.5 * a);
        double p = 0.17087277;
        p = p * t - 0.82215223; p = p * t + 1.48851587; p = p * t - 1.13520398;
        p = p * t + 0.27886807; p = p * t - 0.18628806; p = p * t + 0.09678418;
        p = p * t + 0.37409196; p = p * t + 1.00002368; p = p * t - 1.26551223;
        double e = t * dfs_exp_d(p - a * a);
        return 0.5 * (z < 0.0 ? 2.0 - e : e);
    }
    static inline float dfs_gelu_f(float x) { return (float)((double)x * dfs_phi_nr((double)x)); }
    static inline double dfs_gelu_d(double x) { return x * (0.5 * erfc(x * -0.70710678118654752440)); }
    static inline float dfs_gelu_bwd_f(float x, float gy) {
        double xd = (double)x;
        double pdf = dfs_exp_d(-0.5 * xd * xd) * 0.39894228040143267794;
        return (float)((double)gy * (dfs_phi_nr(xd) + xd * pdf));
    }
    static inline double dfs_gelu_bwd_d(double x, double gy) {
        double pdf = dfs_exp_d(-0.5 * x * x) * 0.39894228040143267794;
        return gy * (0.5 * erfc(x * -0.70710678118654752440) + x * pdf);
    }

    #define DF_SCALARS(T, S) \\
    static inline T dfs_sigmoid_##S(T x) { \\
        T e = dfs_exp_##S(x < (T)0 ? x : -x); \\
        return (x < (T)0 ? e : (T)1) / ((T)1 + e); } \\
    static inline T dfs_tanh_##S(T x) { \\
        T em = dfs_expm1neg_##S((T)-2 * (x < (T)0 ? -x : x)); \\
        T t = -em / (em + (T)2); \\
        return x < (T)0 ? -t : t; } \\
    static inline T dfs_relu_##S(T x) { return x < (T)0 ? (T)0 : x; }
    DF_SCALARS(float, f)
    DF_SCALARS(double, d)

    /* Blocked lane-parallel summation of EXPR(i) over [0, n): DF_LANES independent accumulators
       of type T (vectorise without re-association), flushed to a double every DF_BLOCK terms. */
    #define DF_BLOCKED_SUM(T, EXPR) \\
        double total = 0.0; df_ix i = 0; \\
        while (n - i >= DF_LANES) { \\
            T acc[DF_LANES]; int k; \\
            for (k = 0; k < DF_LANES; k++) acc[k] = (T)0; \\
            df_ix stop = i + DF_BLOCK; if (stop > n) stop = n; \\
            stop = i + (stop - i) / DF_LANES * DF_LANES; \\
            for (; i < stop; i += DF_LANES) \\
                for (k = 0; k < DF_LANES; k++) acc[k] += EXPR(i + k); \\
            for (k = DF_LANES / 2; k >= 1; k /= 2) { \\
                int q; for (q = 0; q < k; q++) acc[q] += acc[q + k]; } \\
            total += (double)acc[0]; } \\
        for (; i < n; i++) total += (double)(EXPR(i)); \\
        return total;

    /* NaN-propagating extreme: CMP is > for max, < for min. */
    #define DF_EXTREME(T, CMP, INIT) \\
        T acc[DF_LANES]; int k; df_ix i = 0, stop = n / DF_LANES * DF_LANES; \\
        for (k = 0; k < DF_LANES; k++) acc[k] = INIT; \\
        for (; i < stop; i += DF_LANES) \\
            for (k = 0; k < DF_LANES; k++) { T v = x[i + k]; \\
                acc[k] = ((v CMP acc[k]) | (v != v)) ? v : acc[k]; } \\
        T m = INIT; \\
        for (k = 0; k < DF_LANES; k++) { T v = acc[k]; m = ((v CMP m) | (v != v) | (m != m)) ? (m != m ? m : v) : m; } \\
        for (; i < n; i++) { T v = x[i]; m = ((v CMP m) | (v != v) | (m != m)) ? (m != m ? m : v) : m; } \\
        return m;

    #define DF_KERNELS(T, S) \\
    DF_CLONES static void df_exp_##S(const T* x, T* y, df_ix n) { DF_PRECISE \\
        for (df_ix i = 0; i < n; i++) y[i] = dfs_exp_##S(x[i]); } \\
    DF_CLONES static void df_sigmoid_##S(const T* x, T* y, df_ix n) { DF_PRECISE \\
        for (df_ix i = 0; i < n; i++) y[i] = dfs_sigmoid_##S(x[i]); } \\
    DF_CLONES static void df_tanh_##S(const T* x, T* y, df_ix n) { DF_PRECISE \\
        for (df_ix i = 0; i < n; i++) y[i] = dfs_tanh_##S(x[i]); } \\
    DF_CLONES static void df_silu_##S(const T* x, T* y, df_ix n) { DF_PRECISE \\
        for (df_ix i = 0; i < n; i++) { T v = x[i]; y[i] = v * dfs_sigmoid_##S(v); } } \\
    DF_CLONES static void df_silu_bwd_##S(const T* x, const T* gy, T* gx, df_ix n) { DF_PRECISE \\
        for (df_ix i = 0; i < n; i++) { T v = x[i]; T s = dfs_sigmoid_##S(v); \\
            gx[i] = gy[i] * (s * ((T)1 + v * ((T)1 - s))); } } \\
    DF_CLONES static void df_relu_##S(const T* x, T* y, df_ix n) { \\
        for (df_ix i = 0; i < n; i++) y[i] = dfs_relu_##S(x[i]); } \\
    DF_CLONES static void df_relu_bwd_##S(const T* x, const T* gy, T* gx, df_ix n) { \\
        for (df_ix i = 0; i < n; i++) gx[i] = x[i] > (T)0 ? gy[i] : (T)0; } \\
    DF_CLONES static void df_gelu_##S(const T* x, T* y, df_ix n) { DF_PRECISE \\
        for (df_ix i = 0; i < n; i++) y[i] = dfs_gelu_##S(x[i]); } \\
    DF_CLONES static void df_gelu_bwd_##S(const T* x, const T* gy, T* gx, df_ix n) { DF_PRECISE \\
        for (df_ix i = 0; i < n; i++) gx[i] = dfs_gelu_bwd_##S(x[i], gy[i]); } \\
    /* ---- contiguous-row reductions ---- */ \\
    DF_CLONES static df_ix df_argmax_##S(const T* x, df_ix n, T* vout) { DF_ARGEXT(T, DF_IT_##S, >) } \\
    DF_CLONES static df_ix df_argmin_##S(const T* x, df_ix n, T* vout) { DF_ARGEXT(T, DF_IT_##S, <) } \\
    DF_CLONES static double df_sum_##S(const T* x, df_ix n) { DF_PRECISE \\
        DF_BLOCKED_SUM(T, DF_AT_X) } \\
    DF_CLONES static double df_sumexp_##S(const T* x, df_ix n, T c) { DF_PRECISE \\
        DF_BLOCKED_SUM(T, DF_EXP_SUB_C_##S) } \\
    DF_CLONES static double df_sqdev_##S(const T* x, df_ix n, T c) { DF_PRECISE \\
        DF_BLOCKED_SUM(T, DF_SQDEV_C) } \\
    DF_CLONES static double df_dot_##S(const T* x, const T* z, df_ix n) { DF_PRECISE \\
        DF_BLOCKED_SUM(T, DF_X_TIMES_Z) } \\
    DF_CLONES static T df_max_##S(const T* x, df_ix n) { DF_PRECISE DF_EXTREME(T, >, -INFINITY) } \\
    DF_CLONES static T df_min_##S(const T* x, df_ix n) { DF_PRECISE DF_EXTREME(T, <, INFINITY) } \\
    /* y = exp(x - c); returns sum(y) */ \\
    DF_CLONES static double df_expsub_##S(const T* x, T* y, df_ix n, T c) { DF_PRECISE \\
        double total = 0.0; df_ix i = 0; \\
        while (n - i >= DF_LANES) { \\
            T acc[DF_LANES]; int k; \\
            for (k = 0; k < DF_LANES; k++) acc[k] = (T)0; \\
            df_ix stop = i + DF_BLOCK; if (stop > n) stop = n; \\
            stop = i + (stop - i) / DF_LANES * DF_LANES; \\
            for (; i < stop; i += DF_LANES) \\
                for (k = 0; k < DF_LANES; k++) { T e = dfs_exp_##S(x[i + k] - c); y[i + k] = e; acc[k] += e; } \\
            for (k = DF_LANES / 2; k >= 1; k /= 2) { int q; for (q = 0; q < k; q++) acc[q] += acc[q + k]; } \\
            total += (double)acc[0]; } \\
        for (; i < n; i++) { T e = dfs_exp_##S(x[i] - c); y[i] = e; total += (double)e; } \\
        return total; } \\
    DF_CLONES static void df_scale_##S(T* y, df_ix n, T s) { \\
        for (df_ix i = 0; i < n; i++) y[i] = y[i] * s; } \\
    /* y = (x - c1) - c2 */ \\
    DF_CLONES static void df_sub2_##S(const T* x, T* y, df_ix n, T c1, T c2) { DF_PRECISE \\
        for (df_ix i = 0; i < n; i++) y[i] = (x[i] - c1) - c2; } \\
    /* softmax backward row: gx = y * (gy - s); log-softmax: gx = gy - exp(y) * s */ \\
    DF_CLONES static void df_smbwd_##S(const T* y, const T* gy, T* gx, df_ix n, T s) { \\
        for (df_ix i = 0; i < n; i++) gx[i] = y[i] * (gy[i] - s); } \\
    DF_CLONES static void df_lsmbwd_##S(const T* y, const T* gy, T* gx, df_ix n, T s) { DF_PRECISE \\
        for (df_ix i = 0; i < n; i++) gx[i] = gy[i] - dfs_exp_##S(y[i]) * s; } \\
    /* ---- column (inner > 1) helpers over w contiguous elements ---- */ \\
    DF_CLONES static void df_colmax_##S(const T* x, T* acc, df_ix w) { \\
        for (df_ix i = 0; i < w; i++) { T v = x[i]; T a = acc[i]; \\
            acc[i] = (((v > a) | (v != v)) & (a == a)) ? v : a; } } \\
    DF_CLONES static void df_colmin_##S(const T* x, T* acc, df_ix w) { \\
        for (df_ix i = 0; i < w; i++) { T v = x[i]; T a = acc[i]; \\
            acc[i] = (((v < a) | (v != v)) & (a == a)) ? v : a; } } \\
    DF_CLONES static void df_coladd_##S(const T* x, T* acc, df_ix w) { \\
        for (df_ix i = 0; i < w; i++) acc[i] += x[i]; } \\
    DF_CLONES static void df_colfma_##S(const T* x, const T* z, T* acc, df_ix w) { \\
        for (df_ix i = 0; i < w; i++) acc[i] += x[i] * z[i]; } \\
    DF_CLONES static void df_colsqdev_##S(const T* x, const T* c, T* acc, df_ix w) { DF_PRECISE \\
        for (df_ix i = 0; i < w; i++) { T d = x[i] - c[i]; acc[i] += d * d; } } \\
    DF_CLONES static void df_colsumexp_##S(const T* x, const T* c, T* acc, df_ix w) { DF_PRECISE \\
        for (df_ix i = 0; i < w; i++) acc[i] += dfs_exp_##S(x[i] - c[i]); } \\
    DF_CLONES static void df_colexpsub_##S(const T* x, const T* c, T* y, T* acc, df_ix w) { DF_PRECISE \\
        for (df_ix i = 0; i < w; i++) { T e = dfs_exp_##S(x[i] - c[i]); y[i] = e; acc[i] += e; } } \\
    DF_CLONES static void df_colmul_##S(T* y, const T* s, df_ix w) { \\
        for (df_ix i = 0; i < w; i++) y[i] = y[i] * s[i]; } \\
    DF_CLONES static void df_colsub2_##S(const T* x, const T* c1, const T* c2, T* y, df_ix w) { DF_PRECISE \\
        for (df_ix i = 0; i < w; i++) y[i] = (x[i] - c1[i]) - c2[i]; } \\
    DF_CLONES static void df_colsmbwd_##S(const T* y, const T* gy, const T* s, T* gx, df_ix w) { \\
        for (df_ix i = 0; i < w; i++) gx[i] = y[i] * (gy[i] - s[i]); } \\
    DF_CLONES static void df_collsmbwd_##S(const T* y, const T* gy, const T* s, T* gx, df_ix w) { DF_PRECISE \\
        for (df_ix i = 0; i < w; i++) gx[i] = gy[i] - dfs_exp_##S(y[i]) * s[i]; } \\
    /* ---- fused optimiser steps (PyTorch single-tensor rules).  Loop-invariant options become
       selects; the optional buffer gets its own loop (no conditional stores: vectorises). ---- */ \\
    DF_CLONES static void df_sgd_##S(T* p, const T* g, T* buf, df_ix n, T lr, T mom, T damp1, T wd, \\
                                     int nesterov, int maximize, int first, int use_mom) { DF_PRECISE \\
        df_ix i; \\
        if (!use_mom) { \\
            for (i = 0; i < n; i++) { T gi = maximize ? -g[i] : g[i]; T pi = p[i]; \\
                gi = wd != (T)0 ? gi + wd * pi : gi; p[i] = pi + (-lr) * gi; } \\
            return; } \\
        for (i = 0; i < n; i++) { T gi = maximize ? -g[i] : g[i]; T pi = p[i]; \\
            gi = wd != (T)0 ? gi + wd * pi : gi; \\
            T b = first ? gi : buf[i] * mom + damp1 * gi; buf[i] = b; \\
            gi = nesterov ? gi + mom * b : b; \\
            p[i] = pi + (-lr) * gi; } } \\
    DF_CLONES static void df_adam_##S(T* p, const T* g, T* m, T* v, T* vmax, df_ix n, T w1, T decay, \\
            T wd, T beta2, T one_m_beta2, T neg_step, T inv_bc2_sqrt, T eps, \\
            int decoupled, int amsgrad, int maximize) { DF_PRECISE \\
        int small = w1 < (T)0.5 && w1 > (T)-0.5; \\
        int coupled = wd != (T)0 && !decoupled; \\
        T dec = (wd != (T)0 && decoupled) ? decay : (T)1; \\
        T omw = (T)1 - w1; df_ix i; \\
        if (amsgrad) { \\
            for (i = 0; i < n; i++) { DF_ADAM_MOMENTS(T) \\
                T a = vmax[i]; vi = ((vi > a) | (vi != vi) | (a != a)) ? (a != a ? a : vi) : a; \\
                vmax[i] = vi; \\
                p[i] = pi + (neg_step * mi) / (sqrt(vi) * inv_bc2_sqrt + eps); } \\
        } else { \\
            for (i = 0; i < n; i++) { DF_ADAM_MOMENTS(T) \\
                p[i] = pi + (neg_step * mi) / (sqrt(vi) * inv_bc2_sqrt + eps); } } }

    /* g (maximize), weight decay (decoupled: param *= 1 - lr*wd), m.lerp_(g, 1 - beta1) with
       torch's two-sided lerp formula, v = v*beta2 + (1 - beta2)*g*g. */
    #define DF_ADAM_MOMENTS(T) \\
        T gi = maximize ? -g[i] : g[i]; T pi = p[i] * dec; \\
        gi = coupled ? gi + wd * pi : gi; \\
        T mi = m[i]; \\
        mi = small ? mi + w1 * (gi - mi) : gi - (gi - mi) * omw; \\
        m[i] = mi; \\
        T vi = v[i] * beta2 + (one_m_beta2 * gi) * gi; \\
        v[i] = vi;

    /* First index of the max (CMP >) / min (CMP <) of x[0:n], n >= 1; a NaN counts as the extreme
       (the first NaN wins).  One pass: per-lane best value and block number (index type IT of
       the value's width so the blends vectorise), then lanes and the tail are merged in index
       order. */
    #define DF_IT_f int32_t
    #define DF_IT_d int64_t
    #define DF_ARGEXT(T, IT, CMP) \\
        T bv[DF_LANES]; IT bi[DF_LANES]; int k; df_ix i, nb = n / DF_LANES; \\
        T best = x[0]; df_ix besti = 0; i = 1; \\
        if (nb > 0) { \\
            for (k = 0; k < DF_LANES; k++) { bv[k] = x[k]; bi[k] = 0; } \\
            for (IT b = 1; b < (IT)nb; b++) { const T* xb = x + (df_ix)b * DF_LANES; \\
                for (k = 0; k < DF_LANES; k++) { T v = xb[k], a = bv[k]; \\
                    int take = ((v CMP a) | (v != v)) & (a == a); \\
                    bv[k] = take ? v : a; bi[k] = take ? b : bi[k]; } } \\
            best = bv[0]; besti = (df_ix)bi[0] * DF_LANES; \\
            for (k = 1; k < DF_LANES; k++) { T v = bv[k]; df_ix vi = (df_ix)bi[k] * DF_LANES + k; \\
                if (best != best) { if (v != v && vi < besti) besti = vi; } \\
                else if (v != v || (v CMP best) || (v == best && vi < besti)) { best = v; besti = vi; } } \\
            i = nb * DF_LANES; } \\
        for (; i < n && best == best; i++) { T v = x[i]; \\
            if (v != v || (v CMP best)) { best = v; besti = i; } } \\
        if (vout) *vout = best; \\
        return besti;

    #define DF_AT_X(j) x[j]
    #define DF_EXP_SUB_C_f(j) dfs_exp_f(x[j] - c)
    #define DF_EXP_SUB_C_d(j) dfs_exp_d(x[j] - c)
    #define DF_SQDEV_C(j) ((x[j] - c) * (x[j] - c))
    #define DF_X_TIMES_Z(j) (x[j] * z[j])
    DF_KERNELS(float, f)
    DF_KERNELS(double, d)

    /* ---- Philox4x32-10 (Random123), counter = (lo(i), hi(i), lo(offset), hi(offset)) ---- */
    /* 32-bit words are kept in 64-bit lanes: vectorises to one vpmuludq per product on AVX-512
       (1.5 ns/element/core vs 2.7 with uint32 lanes). */
    #define DF_M32 0xFFFFFFFFull
    #define DF_PHILOX_BODY \\
        uint64_t c0 = i & DF_M32, c1 = i >> 32, c2 = o0, c3 = o1; \\
        uint64_t k0 = s0, k1 = s1; int rd; \\
        for (rd = 0; rd < 10; rd++) { \\
            uint64_t p0 = 0xD2511F53ull * (c0 & DF_M32), p1 = 0xCD9E8D57ull * (c2 & DF_M32); \\
            c0 = (p1 >> 32) ^ c1 ^ k0; c1 = p1 & DF_M32; c2 = (p0 >> 32) ^ c3 ^ k1; c3 = p0 & DF_M32; \\
            k0 = (k0 + 0x9E3779B9u) & DF_M32; k1 = (k1 + 0xBB67AE85u) & DF_M32; }
    #define DF_PHILOX_SETUP \\
        uint64_t s0 = seed & DF_M32, s1 = seed >> 32; \\
        uint64_t o0 = offset & DF_M32, o1 = offset >> 32;
    #define DF_U53(a, b) ((double)(int64_t)((uint64_t)((a) >> 5) * 67108864u + (uint64_t)((b) >> 6)) * 0x1p-53)

    DF_CLONES static void df_philox_bits(uint64_t seed, uint64_t offset, uint64_t start, uint32_t* out, df_ix n) {
        DF_PHILOX_SETUP
        for (df_ix t = 0; t < n; t++) { uint64_t i = start + (uint64_t)t; DF_PHILOX_BODY out[t] = (uint32_t)c0; }
    }
    DF_CLONES static void df_philox_uniform_f(uint64_t seed, uint64_t offset, uint64_t start, float* out, df_ix n) {
        DF_PHILOX_SETUP
        for (df_ix t = 0; t < n; t++) { uint64_t i = start + (uint64_t)t; DF_PHILOX_BODY
            out[t] = (float)(int64_t)(c0 >> 8) * 0x1p-24f; }
    }
    DF_CLONES static void df_philox_uniform_d(uint64_t seed, uint64_t offset, uint64_t start, double* out, df_ix n) {
        DF_PHILOX_SETUP
        for (df_ix t = 0; t < n; t++) { uint64_t i = start + (uint64_t)t; DF_PHILOX_BODY
            out[t] = DF_U53(c0, c1); }
    }
    /* log(x) for normal x > 0 (fdlibm e_log.c reduction and minimax polynomial, ~1 ulp),
       branch-free: exponent and mantissa come from the bits. */
    static inline double dfs_log_d(double x) {
        DF_PRECISE
        uint64_t b = df_u64_of(x);
        double e = df_f64_bits((b >> 52) | 0x4330000000000000ull) - 4503599627371519.0;
        double m = df_f64_bits((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
        int big = m > 1.4142135623730951;
        m = big ? 0.5 * m : m;
        e = big ? e + 1.0 : e;
        double f = m - 1.0;
        double hfsq = 0.5 * f * f;
        double s = f / (2.0 + f);
        double z = s * s, w = z * z;
        double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
        double t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
        double R = t2 + t1;
        return e * 6.93147180369123816490e-01 - ((hfsq - (s * (hfsq + R) + e * 1.90821492927058770002e-10)) - f);
    }
    /* cos(2*pi*t) for t in [0, 1): exact quadrant reduction on t, Taylor sin/cos on [-pi/4, pi/4]. */
    static inline double dfs_cos2pi(double t) {
        DF_PRECISE
        double qs = 4.0 * t + 0x1.8p52;   /* separate statements: the C front end folds */
        double q = qs - 0x1.8p52;          /* (a + S) - S within one expression */
        double r = (t - 0.25 * q) * 6.283185307179586477;
        double r2 = r * r;
        double c = 1.0 / 20922789888000.0;
        c = c * r2 - 1.0 / 87178291200.0; c = c * r2 + 1.0 / 479001600.0;
        c = c * r2 - 1.0 / 3628800.0;     c = c * r2 + 1.0 / 40320.0;
        c = c * r2 - 1.0 / 720.0;         c = c * r2 + 1.0 / 24.0;
        c = c * r2 - 0.5;                 c = c * r2 + 1.0;
        double sn = 1.0 / 355687428096000.0;
        sn = sn * r2 - 1.0 / 1307674368000.0; sn = sn * r2 + 1.0 / 6227020800.0;
        sn = sn * r2 - 1.0 / 39916800.0;      sn = sn * r2 + 1.0 / 362880.0;
        sn = sn * r2 - 1.0 / 5040.0;          sn = sn * r2 + 1.0 / 120.0;
        sn = sn * r2 - 1.0 / 6.0;             sn = r + (r * r2) * sn;
        double res = c;
        res = q == 1.0 ? -sn : res;
        res = q == 2.0 ? -c : res;
        res = q == 3.0 ? sn : res;
        return res;
    }
    #if defined(__GNUC__)
    #define DF_NOINLINE __attribute__((noinline))
    #else
    #define DF_NOINLINE
    #endif
    /* out-of-line copies for tests (inlining into fast-math callers would re-associate) */
    DF_NOINLINE static double df_log_ool(double x) { return dfs_log_d(x); }
    DF_NOINLINE static double df_cos2pi_ool(double t) { return dfs_cos2pi(t); }
    #define DF_NORMAL_LOOP(T) \\
        DF_PHILOX_SETUP \\
        for (df_ix t = 0; t < n; t++) { uint64_t i = start + (uint64_t)t; DF_PHILOX_BODY \\
            double u1 = 1.0 - DF_U53(c0, c1); \\
            double u2 = DF_U53(c2, c3); \\
            out[t] = (T)(sqrt(-2.0 * dfs_log_d(u1)) * dfs_cos2pi(u2)); }
    DF_CLONES static void df_philox_normal_f(uint64_t seed, uint64_t offset, uint64_t start, float* out, df_ix n) {
        DF_NORMAL_LOOP(float)
    }
    DF_CLONES static void df_philox_normal_d(uint64_t seed, uint64_t offset, uint64_t start, double* out, df_ix n) {
        DF_NORMAL_LOOP(double)
    }

    /* 1 if any idx[j] is outside [0, n) (negative values wrap to huge unsigned ones). */
    DF_CLONES static int df_idx_bad(const int64_t* idx, df_ix m, int64_t n) {
        uint64_t un = (uint64_t)n; int bad = 0;
        for (df_ix j = 0; j < m; j++) bad |= (uint64_t)idx[j] >= un;
        return bad;
    }

    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC pop_options
    #endif
    """
    int df_omp_max_threads() noexcept nogil
    int DF_HAVE_OPENMP
    int DF_SIMD_DISPATCH
