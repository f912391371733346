# Declarations of the C helpers defined in _core_simd.pxi (T/S pairs: float/f, double/d).

cdef extern from *:
    void df_exp_f(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void df_exp_d(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void df_sigmoid_f(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void df_sigmoid_d(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void df_tanh_f(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void df_tanh_d(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void df_silu_f(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void df_silu_d(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void df_relu_f(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void df_relu_d(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void df_gelu_f(const float* x, float* y, Py_ssize_t n) noexcept nogil
    void df_gelu_d(const double* x, double* y, Py_ssize_t n) noexcept nogil
    void df_silu_bwd_f(const float* x, const float* gy, float* gx, Py_ssize_t n) noexcept nogil
    void df_silu_bwd_d(const double* x, const double* gy, double* gx, Py_ssize_t n) noexcept nogil
    void df_relu_bwd_f(const float* x, const float* gy, float* gx, Py_ssize_t n) noexcept nogil
    void df_relu_bwd_d(const double* x, const double* gy, double* gx, Py_ssize_t n) noexcept nogil
    void df_gelu_bwd_f(const float* x, const float* gy, float* gx, Py_ssize_t n) noexcept nogil
    void df_gelu_bwd_d(const double* x, const double* gy, double* gx, Py_ssize_t n) noexcept nogil

    double df_sum_f(const float* x, Py_ssize_t n) noexcept nogil
    double df_sum_d(const double* x, Py_ssize_t n) noexcept nogil
    double df_sumexp_f(const float* x, Py_ssize_t n, float c) noexcept nogil
    double df_sumexp_d(const double* x, Py_ssize_t n, double c) noexcept nogil
    double df_sqdev_f(const float* x, Py_ssize_t n, float c) noexcept nogil
    double df_sqdev_d(const double* x, Py_ssize_t n, double c) noexcept nogil
    double df_dot_f(const float* x, const float* z, Py_ssize_t n) noexcept nogil
    double df_dot_d(const double* x, const double* z, Py_ssize_t n) noexcept nogil
    float df_max_f(const float* x, Py_ssize_t n) noexcept nogil
    double df_max_d(const double* x, Py_ssize_t n) noexcept nogil
    float df_min_f(const float* x, Py_ssize_t n) noexcept nogil
    double df_min_d(const double* x, Py_ssize_t n) noexcept nogil
    double df_expsub_f(const float* x, float* y, Py_ssize_t n, float c) noexcept nogil
    double df_expsub_d(const double* x, double* y, Py_ssize_t n, double c) noexcept nogil
    void df_scale_f(float* y, Py_ssize_t n, float s) noexcept nogil
    void df_scale_d(double* y, Py_ssize_t n, double s) noexcept nogil
    void df_sub2_f(const float* x, float* y, Py_ssize_t n, float c1, float c2) noexcept nogil
    void df_sub2_d(const double* x, double* y, Py_ssize_t n, double c1, double c2) noexcept nogil
    void df_smbwd_f(const float* y, const float* gy, float* gx, Py_ssize_t n, float s) noexcept nogil
    void df_smbwd_d(const double* y, const double* gy, double* gx, Py_ssize_t n, double s) noexcept nogil
    void df_lsmbwd_f(const float* y, const float* gy, float* gx, Py_ssize_t n, float s) noexcept nogil
    void df_lsmbwd_d(const double* y, const double* gy, double* gx, Py_ssize_t n, double s) noexcept nogil

    void df_colmax_f(const float* x, float* acc, Py_ssize_t w) noexcept nogil
    void df_colmax_d(const double* x, double* acc, Py_ssize_t w) noexcept nogil
    void df_colmin_f(const float* x, float* acc, Py_ssize_t w) noexcept nogil
    void df_colmin_d(const double* x, double* acc, Py_ssize_t w) noexcept nogil
    void df_coladd_f(const float* x, float* acc, Py_ssize_t w) noexcept nogil
    void df_coladd_d(const double* x, double* acc, Py_ssize_t w) noexcept nogil
    void df_colfma_f(const float* x, const float* z, float* acc, Py_ssize_t w) noexcept nogil
    void df_colfma_d(const double* x, const double* z, double* acc, Py_ssize_t w) noexcept nogil
    void df_colsqdev_f(const float* x, const float* c, float* acc, Py_ssize_t w) noexcept nogil
    void df_colsqdev_d(const double* x, const double* c, double* acc, Py_ssize_t w) noexcept nogil
    void df_colsumexp_f(const float* x, const float* c, float* acc, Py_ssize_t w) noexcept nogil
    void df_colsumexp_d(const double* x, const double* c, double* acc, Py_ssize_t w) noexcept nogil
    void df_colexpsub_f(const float* x, const float* c, float* y, float* acc, Py_ssize_t w) noexcept nogil
    void df_colexpsub_d(const double* x, const double* c, double* y, double* acc, Py_ssize_t w) noexcept nogil
    void df_colmul_f(float* y, const float* s, Py_ssize_t w) noexcept nogil
    void df_colmul_d(double* y, const double* s, Py_ssize_t w) noexcept nogil
    void df_colsub2_f(const float* x, const float* c1, const float* c2, float* y, Py_ssize_t w) noexcept nogil
    void df_colsub2_d(const double* x, const double* c1, const double* c2, double* y, Py_ssize_t w) noexcept nogil
    void df_colsmbwd_f(const float* y, const float* gy, const float* s, float* gx, Py_ssize_t w) noexcept nogil
    void df_colsmbwd_d(const double* y, const double* gy, const double* s, double* gx, Py_ssize_t w) noexcept nogil
    void df_collsmbwd_f(const float* y, const float* gy, const float* s, float* gx, Py_ssize_t w) noexcept nogil
    void df_collsmbwd_d(const double* y, const double* gy, const double* s, double* gx, Py_ssize_t w) noexcept nogil

    void df_sgd_f(float* p, const float* g, float* buf, Py_ssize_t n, float lr, float mom, float damp1,
                  float wd, int nesterov, int maximize, int first, int use_mom) noexcept nogil
    void df_sgd_d(double* p, const double* g, double* buf, Py_ssize_t n, double lr, double mom,
                  double damp1, double wd, int nesterov, int maximize, int first,
                  int use_mom) noexcept nogil
    void df_adam_f(float* p, const float* g, float* m, float* v, float* vmax, Py_ssize_t n, float w1,
                   float decay, float wd, float beta2, float one_m_beta2, float neg_step,
                   float inv_bc2_sqrt, float eps, int decoupled, int amsgrad,
                   int maximize) noexcept nogil
    void df_adam_d(double* p, const double* g, double* m, double* v, double* vmax, Py_ssize_t n,
                   double w1, double decay, double wd, double beta2, double one_m_beta2,
                   double neg_step, double inv_bc2_sqrt, double eps, int decoupled, int amsgrad,
                   int maximize) noexcept nogil

    void df_philox_bits(uint64_t seed, uint64_t offset, uint64_t start, uint32_t* out,
                        Py_ssize_t n) noexcept nogil
    void df_philox_uniform_f(uint64_t seed, uint64_t offset, uint64_t start, float* out,
                             Py_ssize_t n) noexcept nogil
    void df_philox_uniform_d(uint64_t seed, uint64_t offset, uint64_t start, double* out,
                             Py_ssize_t n) noexcept nogil
    void df_philox_normal_f(uint64_t seed, uint64_t offset, uint64_t start, float* out,
                            Py_ssize_t n) noexcept nogil
    void df_philox_normal_d(uint64_t seed, uint64_t offset, uint64_t start, double* out,
                            Py_ssize_t n) noexcept nogil
    double df_log_ool(double x) noexcept nogil
    double df_cos2pi_ool(double t) noexcept nogil
    int df_idx_bad(const int64_t* idx, Py_ssize_t m, int64_t n) noexcept nogil
    Py_ssize_t df_argmax_f(const float* x, Py_ssize_t n, float* vout) noexcept nogil
    Py_ssize_t df_argmax_d(const double* x, Py_ssize_t n, double* vout) noexcept nogil
    Py_ssize_t df_argmin_f(const float* x, Py_ssize_t n, float* vout) noexcept nogil
    Py_ssize_t df_argmin_d(const double* x, Py_ssize_t n, double* vout) noexcept nogil
