# Fused-type (float32/float64) wrappers around the C helpers of _core_simd.pxi.

cdef inline void _exp(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    if floating is float:
        df_exp_f(x, y, n)
    else:
        df_exp_d(x, y, n)


cdef inline void _sigmoid(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    if floating is float:
        df_sigmoid_f(x, y, n)
    else:
        df_sigmoid_d(x, y, n)


cdef inline void _tanh(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    if floating is float:
        df_tanh_f(x, y, n)
    else:
        df_tanh_d(x, y, n)


cdef inline void _silu(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    if floating is float:
        df_silu_f(x, y, n)
    else:
        df_silu_d(x, y, n)


cdef inline void _relu(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    if floating is float:
        df_relu_f(x, y, n)
    else:
        df_relu_d(x, y, n)


cdef inline void _gelu(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    if floating is float:
        df_gelu_f(x, y, n)
    else:
        df_gelu_d(x, y, n)


cdef inline void _silu_bwd(const floating* x, const floating* gy, floating* gx, Py_ssize_t n) noexcept nogil:
    if floating is float:
        df_silu_bwd_f(x, gy, gx, n)
    else:
        df_silu_bwd_d(x, gy, gx, n)


cdef inline void _relu_bwd(const floating* x, const floating* gy, floating* gx, Py_ssize_t n) noexcept nogil:
    if floating is float:
        df_relu_bwd_f(x, gy, gx, n)
    else:
        df_relu_bwd_d(x, gy, gx, n)


cdef inline void _gelu_bwd(const floating* x, const floating* gy, floating* gx, Py_ssize_t n) noexcept nogil:
    if floating is float:
        df_gelu_bwd_f(x, gy, gx, n)
    else:
        df_gelu_bwd_d(x, gy, gx, n)


cdef inline double _sum(const floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return df_sum_f(x, n)
    else:
        return df_sum_d(x, n)


cdef inline double _sumexp(const floating* x, Py_ssize_t n, floating c) noexcept nogil:
    if floating is float:
        return df_sumexp_f(x, n, c)
    else:
        return df_sumexp_d(x, n, c)


cdef inline double _sqdev(const floating* x, Py_ssize_t n, floating c) noexcept nogil:
    if floating is float:
        return df_sqdev_f(x, n, c)
    else:
        return df_sqdev_d(x, n, c)


cdef inline double _dot(const floating* x, const floating* z, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return df_dot_f(x, z, n)
    else:
        return df_dot_d(x, z, n)


cdef inline floating _max(const floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return df_max_f(x, n)
    else:
        return df_max_d(x, n)


cdef inline floating _min(const floating* x, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return df_min_f(x, n)
    else:
        return df_min_d(x, n)


cdef inline double _expsub(const floating* x, floating* y, Py_ssize_t n, floating c) noexcept nogil:
    if floating is float:
        return df_expsub_f(x, y, n, c)
    else:
        return df_expsub_d(x, y, n, c)


cdef inline void _scale(floating* y, Py_ssize_t n, floating s) noexcept nogil:
    if floating is float:
        df_scale_f(y, n, s)
    else:
        df_scale_d(y, n, s)


cdef inline void _sub2(const floating* x, floating* y, Py_ssize_t n, floating c1, floating c2) noexcept nogil:
    if floating is float:
        df_sub2_f(x, y, n, c1, c2)
    else:
        df_sub2_d(x, y, n, c1, c2)


cdef inline void _smbwd(const floating* y, const floating* gy, floating* gx, Py_ssize_t n, floating s) noexcept nogil:
    if floating is float:
        df_smbwd_f(y, gy, gx, n, s)
    else:
        df_smbwd_d(y, gy, gx, n, s)


cdef inline void _lsmbwd(const floating* y, const floating* gy, floating* gx, Py_ssize_t n, floating s) noexcept nogil:
    if floating is float:
        df_lsmbwd_f(y, gy, gx, n, s)
    else:
        df_lsmbwd_d(y, gy, gx, n, s)


cdef inline void _colmax(const floating* x, floating* acc, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_colmax_f(x, acc, w)
    else:
        df_colmax_d(x, acc, w)


cdef inline void _colmin(const floating* x, floating* acc, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_colmin_f(x, acc, w)
    else:
        df_colmin_d(x, acc, w)


cdef inline void _coladd(const floating* x, floating* acc, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_coladd_f(x, acc, w)
    else:
        df_coladd_d(x, acc, w)


cdef inline void _colfma(const floating* x, const floating* z, floating* acc, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_colfma_f(x, z, acc, w)
    else:
        df_colfma_d(x, z, acc, w)


cdef inline void _colsqdev(const floating* x, const floating* c, floating* acc, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_colsqdev_f(x, c, acc, w)
    else:
        df_colsqdev_d(x, c, acc, w)


cdef inline void _colsumexp(const floating* x, const floating* c, floating* acc, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_colsumexp_f(x, c, acc, w)
    else:
        df_colsumexp_d(x, c, acc, w)


cdef inline void _colexpsub(const floating* x, const floating* c, floating* y, floating* acc, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_colexpsub_f(x, c, y, acc, w)
    else:
        df_colexpsub_d(x, c, y, acc, w)


cdef inline void _colmul(floating* y, const floating* s, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_colmul_f(y, s, w)
    else:
        df_colmul_d(y, s, w)


cdef inline void _colsub2(const floating* x, const floating* c1, const floating* c2, floating* y, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_colsub2_f(x, c1, c2, y, w)
    else:
        df_colsub2_d(x, c1, c2, y, w)


cdef inline void _colsmbwd(const floating* y, const floating* gy, const floating* s, floating* gx, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_colsmbwd_f(y, gy, s, gx, w)
    else:
        df_colsmbwd_d(y, gy, s, gx, w)


cdef inline void _collsmbwd(const floating* y, const floating* gy, const floating* s, floating* gx, Py_ssize_t w) noexcept nogil:
    if floating is float:
        df_collsmbwd_f(y, gy, s, gx, w)
    else:
        df_collsmbwd_d(y, gy, s, gx, w)
