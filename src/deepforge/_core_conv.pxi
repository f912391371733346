# Convolution and pooling kernels: im2col/col2im, max/avg pooling forward and backward.
# Spatial kernels take planes as 4-D (planes, D, H, W) arrays (1-D and 2-D ops pass D = 1 /
# H = 1) and loop over planes (= batch x channels) with OpenMP; every plane is written by one
# thread only, so accumulating kernels (col2im, pooling backward) are race-free and
# deterministic.  Geometry arguments are (depth, height, width) triples.

from libc.string cimport memset


ctypedef struct Geom3:
    Py_ssize_t D, H, W          # input plane
    Py_ssize_t kd, kh, kw       # kernel
    Py_ssize_t dd, dh, dw       # dilation
    Py_ssize_t pd, ph, pw       # padding before
    Py_ssize_t sd, sh, sw       # stride
    Py_ssize_t od, oh, ow       # output plane


cdef Geom3 _geom3(tuple in_sp, tuple k, tuple d, tuple p, tuple s, tuple o):
    cdef Geom3 g
    g.D, g.H, g.W = in_sp
    g.kd, g.kh, g.kw = k
    g.dd, g.dh, g.dw = d
    g.pd, g.ph, g.pw = p
    g.sd, g.sh, g.sw = s
    g.od, g.oh, g.ow = o
    return g


cdef inline void _span(Py_ssize_t off, Py_ssize_t s, Py_ssize_t n, Py_ssize_t W,
                       Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """Output range [lo, hi) of x = o*s + off that falls inside [0, W)."""
    cdef Py_ssize_t a = 0, b = n
    if off < 0:
        a = (-off + s - 1) // s
    if W - off <= 0:
        b = 0
    elif (W - off + s - 1) // s < n:
        b = (W - off + s - 1) // s
    if a > b:
        a = b
    lo[0] = a
    hi[0] = b


cdef void _im2col_plane(const floating* x, floating* col, Py_ssize_t ldk, const Geom3* g,
                        bint add) noexcept nogil:
    """add=False: col[k*ldk + l] = x[pos(k, l)] (0 in padding); add=True: x[pos] += col[...]
    (col2im).  Row k of the columns (one kernel offset, all L output positions) starts at
    col + k * ldk."""
    cdef Py_ssize_t a, b, c, z, y, xo, iz, iy, ix0, lo, hi, k = 0
    cdef floating* dst
    cdef floating* xrow
    cdef floating* xw = <floating*>x
    for a in range(g.kd):
        for b in range(g.kh):
            for c in range(g.kw):
                dst = col + k * ldk
                k += 1
                ix0 = c * g.dw - g.pw
                _span(ix0, g.sw, g.ow, g.W, &lo, &hi)
                for z in range(g.od):
                    iz = z * g.sd - g.pd + a * g.dd
                    for y in range(g.oh):
                        iy = y * g.sh - g.ph + b * g.dh
                        if iz < 0 or iz >= g.D or iy < 0 or iy >= g.H:
                            if not add:
                                for xo in range(g.ow):
                                    dst[xo] = 0
                            dst += g.ow
                            continue
                        xrow = xw + (iz * g.H + iy) * g.W + ix0
                        if add:
                            if g.sw == 1:
                                for xo in range(lo, hi):
                                    xrow[xo] += dst[xo]
                            else:
                                for xo in range(lo, hi):
                                    xrow[xo * g.sw] += dst[xo]
                        else:
                            for xo in range(lo):
                                dst[xo] = 0
                            if g.sw == 1:
                                memcpy(dst + lo, xrow + lo, (hi - lo) * sizeof(floating))
                            else:
                                for xo in range(lo, hi):
                                    dst[xo] = xrow[xo * g.sw]
                            for xo in range(hi, g.ow):
                                dst[xo] = 0
                        dst += g.ow


cdef inline Py_ssize_t _col_base(Py_ssize_t q, Py_ssize_t C, Py_ssize_t N, Py_ssize_t K,
                                 Py_ssize_t L, bint merged) noexcept nogil:
    """Offset of plane q = n*C + c's first column row: (N, C*K, L) or merged (C*K, N*L)."""
    if merged:
        return (q % C) * K * N * L + (q // C) * L
    return q * K * L


def im2col(const floating[:, :, :, :, ::1] x, floating[::1] cols, tuple in_sp, tuple k,
           tuple d, tuple p, tuple s, tuple o, bint merged=False):
    """Columns of x (N, C, D, H, W): cols[n, c*K + k, l] (merged=False: (N, C*K, L)) or
    cols[c*K + k, n*L + l] (merged=True: (C*K, N*L), one GEMM for the whole batch) =
    x[n, c, position of kernel offset k for output l] (0 in the padding)."""
    cdef Geom3 g = _geom3(in_sp, k, d, p, s, o)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], q
    cdef Py_ssize_t K = g.kd * g.kh * g.kw, L = g.od * g.oh * g.ow
    cdef Py_ssize_t P = g.D * g.H * g.W
    _check3("im2col", "x", g.D, g.H, g.W, x.shape[2], x.shape[3], x.shape[4])
    _check1("im2col", "cols", N * C * K * L, cols.shape[0])
    if N * C * K * L == 0:
        return
    cdef const floating* xp = &x[0, 0, 0, 0, 0]
    cdef floating* cp = &cols[0]
    cdef Py_ssize_t ldk = N * L if merged else L
    for q in prange(N * C, nogil=True, schedule='static', num_threads=_nthreads,
                    use_threads_if=_par_nn(N * C * K * L)):
        _im2col_plane(xp + q * P, cp + _col_base(q, C, N, K, L, merged), ldk, &g, False)


def col2im(const floating[::1] cols, floating[:, :, :, :, ::1] x, tuple in_sp, tuple k,
           tuple d, tuple p, tuple s, tuple o, bint merged=False):
    """The adjoint of im2col: x (N, C, D, H, W) = 0, then every column adds into its input
    position (cols laid out as in im2col)."""
    cdef Geom3 g = _geom3(in_sp, k, d, p, s, o)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], q
    cdef Py_ssize_t K = g.kd * g.kh * g.kw, L = g.od * g.oh * g.ow
    cdef Py_ssize_t P = g.D * g.H * g.W
    _check3("col2im", "x", g.D, g.H, g.W, x.shape[2], x.shape[3], x.shape[4])
    _check1("col2im", "cols", N * C * K * L, cols.shape[0])
    if N * C * P == 0:
        return
    cdef floating* xp = &x[0, 0, 0, 0, 0]
    cdef const floating* cp = &cols[0] if K * L else NULL
    cdef Py_ssize_t ldk = N * L if merged else L
    for q in prange(N * C, nogil=True, schedule='static', num_threads=_nthreads,
                    use_threads_if=_par_nn(N * C * (K * L + P))):
        memset(xp + q * P, 0, P * sizeof(floating))
        if K * L:
            _im2col_plane(xp + q * P, <floating*>(cp + _col_base(q, C, N, K, L, merged)), ldk,
                          &g, True)


# pooling ----------------------------------------------------------------------------------------


cdef extern from *:
    """
    /* 2-D max pooling of one plane whose windows all lie inside it.  The loops run tap by tap
       over a whole output row with selects instead of branches: per-output branches on random
       data mispredicted about half the time (4x slower than on constant input).  Taps are
       visited in the window's scan order, so ties and NaNs resolve as in the generic loop. */
    #define DF_MAXPOOL_INSIDE(T, S) \
    DF_CLONES static void df_maxpool_inside_##S(const T* x, T* y, int64_t* idx, df_ix oh, \
            df_ix ow, df_ix kh, df_ix kw, df_ix sh, df_ix sw, df_ix W, df_ix dh, df_ix dw) { \
        for (df_ix yy = 0; yy < oh; yy++) { \
            T* yr = y + yy * ow; int64_t* ir = idx + yy * ow; \
            const df_ix r0 = yy * sh * W; const T* xr = x + r0; \
            for (df_ix xo = 0; xo < ow; xo++) { yr[xo] = xr[xo * sw]; ir[xo] = r0 + xo * sw; } \
            for (df_ix b = 0; b < kh; b++) for (df_ix c = 0; c < kw; c++) { \
                const df_ix off = b * dh * W + c * dw; \
                if (off == 0) continue; \
                for (df_ix xo = 0; xo < ow; xo++) { \
                    T v = xr[off + xo * sw]; T m = yr[xo]; int upd = (v > m) | (v != v); \
                    yr[xo] = upd ? v : m; \
                    ir[xo] = upd ? (int64_t)(r0 + off + xo * sw) : ir[xo]; } } } }
    DF_MAXPOOL_INSIDE(float, f)
    DF_MAXPOOL_INSIDE(double, d)
    """
    void df_maxpool_inside_f(const float* x, float* y, int64_t* idx, Py_ssize_t oh,
                             Py_ssize_t ow, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                             Py_ssize_t sw, Py_ssize_t W, Py_ssize_t dh,
                             Py_ssize_t dw) noexcept nogil
    void df_maxpool_inside_d(const double* x, double* y, int64_t* idx, Py_ssize_t oh,
                             Py_ssize_t ow, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh,
                             Py_ssize_t sw, Py_ssize_t W, Py_ssize_t dh,
                             Py_ssize_t dw) noexcept nogil


cdef void _maxpool_plane(const floating* x, floating* y, int64_t* idx, const Geom3* g) noexcept nogil:
    cdef Py_ssize_t z, yy, xo, a, b, c, iz, iy, ix, j, best, o = 0
    cdef floating m, v
    if (g.od == 1 and g.kd == 1 and g.D == 1 and g.pd == 0 and g.ph == 0 and g.pw == 0
            and (g.oh - 1) * g.sh + (g.kh - 1) * g.dh < g.H
            and (g.ow - 1) * g.sw + (g.kw - 1) * g.dw < g.W):
        if floating is float:
            df_maxpool_inside_f(x, y, idx, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.W, g.dh, g.dw)
        else:
            df_maxpool_inside_d(x, y, idx, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.W, g.dh, g.dw)
        return
    for z in range(g.od):
        for yy in range(g.oh):
            for xo in range(g.ow):
                best = -1
                m = -INFINITY
                for a in range(g.kd):
                    iz = z * g.sd - g.pd + a * g.dd
                    if iz < 0 or iz >= g.D:
                        continue
                    for b in range(g.kh):
                        iy = yy * g.sh - g.ph + b * g.dh
                        if iy < 0 or iy >= g.H:
                            continue
                        for c in range(g.kw):
                            ix = xo * g.sw - g.pw + c * g.dw
                            if ix < 0 or ix >= g.W:
                                continue
                            j = (iz * g.H + iy) * g.W + ix
                            v = x[j]
                            if best < 0 or v > m or v != v:
                                m = v
                                best = j
                y[o] = m
                idx[o] = best if best >= 0 else 0
                o += 1


def max_pool(const floating[:, :, :, ::1] x, floating[:, ::1] y, int64_t[:, ::1] idx,
             tuple in_sp, tuple k, tuple d, tuple p, tuple s, tuple o):
    """y[q, l] = max of the window of output l in plane q; idx = its flat plane index
    (the first maximum in scan order; NaN wins)."""
    cdef Geom3 g = _geom3(in_sp, k, d, p, s, o)
    cdef Py_ssize_t nq = x.shape[0], q, L = g.od * g.oh * g.ow, P = g.D * g.H * g.W
    _check2("max_pool", "y", nq, L, y.shape[0], y.shape[1])
    _check2("max_pool", "indices", nq, L, idx.shape[0], idx.shape[1])
    if nq * L == 0:
        return
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* yp = &y[0, 0]
    cdef int64_t* ip = &idx[0, 0]
    for q in prange(nq, nogil=True, schedule='static', num_threads=_nthreads,
                    use_threads_if=_par_nn(nq * L * g.kd * g.kh * g.kw)):
        _maxpool_plane(xp + q * P, yp + q * L, ip + q * L, &g)


def plane_scatter_add(const floating[:, ::1] g, const int64_t[:, ::1] idx, floating[:, ::1] out):
    """out[q, :] = 0; out[q, idx[q, l]] += g[q, l]  (max-pool backward, max-unpool)."""
    cdef Py_ssize_t nq = g.shape[0], L = g.shape[1], P = out.shape[1], q, l
    cdef int64_t j
    _check2("plane_scatter_add", "indices", nq, L, idx.shape[0], idx.shape[1])
    _check1("plane_scatter_add", "out", nq, out.shape[0])
    if nq * P == 0:
        return
    cdef const floating* gp = &g[0, 0] if L else NULL
    cdef const int64_t* ip = &idx[0, 0] if L else NULL
    cdef floating* op = &out[0, 0]
    cdef int bad = 0
    for q in prange(nq, nogil=True, schedule='static', num_threads=_nthreads,
                    use_threads_if=_par_nn(nq * (L + P))):
        memset(op + q * P, 0, P * sizeof(floating))
        for l in range(L):
            j = ip[q * L + l]
            if j < 0 or j >= P:
                bad += 1
            else:
                op[q * P + j] += gp[q * L + l]
    if bad:
        raise IndexError(f"plane_scatter_add: {bad} indices outside [0, {P})")


cdef inline Py_ssize_t _win(Py_ssize_t o, Py_ssize_t s, Py_ssize_t p, Py_ssize_t k, Py_ssize_t n,
                            Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """Window of output o clamped to [0, n); returns its length clamped to [-p, n + p)."""
    cdef Py_ssize_t a = o * s - p, b = a + k
    if b > n + p:
        b = n + p
    lo[0] = a if a > 0 else 0
    hi[0] = b if b < n else n
    return b - a


cdef void _avgpool_plane(const floating* x, floating* gx, const floating* y, floating* yout,
                         const Geom3* g, bint include_pad, Py_ssize_t divisor) noexcept nogil:
    """Forward (x -> yout): window sum / divisor; backward (y -> gx): gx[window] += y / divisor."""
    cdef Py_ssize_t z, yy, xo, za, zb, ya, yb, xa, xb, i, j, l, n, nz, ny, o = 0
    cdef double acc
    cdef floating v
    for z in range(g.od):
        nz = _win(z, g.sd, g.pd, g.kd, g.D, &za, &zb)
        for yy in range(g.oh):
            ny = _win(yy, g.sh, g.ph, g.kh, g.H, &ya, &yb)
            for xo in range(g.ow):
                n = nz * ny * _win(xo, g.sw, g.pw, g.kw, g.W, &xa, &xb)
                if not include_pad:
                    n = (zb - za) * (yb - ya) * (xb - xa)
                if divisor > 0:
                    n = divisor
                if yout == NULL:
                    v = <floating>(y[o] / n) if n else 0
                    for i in range(za, zb):
                        for j in range(ya, yb):
                            for l in range(xa, xb):
                                gx[(i * g.H + j) * g.W + l] += v
                else:
                    acc = 0.0
                    for i in range(za, zb):
                        for j in range(ya, yb):
                            for l in range(xa, xb):
                                acc = acc + x[(i * g.H + j) * g.W + l]
                    yout[o] = <floating>(acc / n) if n else <floating>NAN
                o += 1


def avg_pool(const floating[:, :, :, ::1] x, floating[:, ::1] y, tuple in_sp, tuple k, tuple p,
             tuple s, tuple o, bint count_include_pad, Py_ssize_t divisor_override):
    """y[q, l] = mean of the window of output l (torch's divisor rules; 0 = no override)."""
    cdef tuple one = (1, 1, 1)
    cdef Geom3 g = _geom3(in_sp, k, one, p, s, o)
    cdef Py_ssize_t nq = x.shape[0], q, L = g.od * g.oh * g.ow, P = g.D * g.H * g.W
    _check2("avg_pool", "y", nq, L, y.shape[0], y.shape[1])
    if nq * L == 0:
        return
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef floating* yp = &y[0, 0]
    for q in prange(nq, nogil=True, schedule='static', num_threads=_nthreads,
                    use_threads_if=_par_nn(nq * L * g.kd * g.kh * g.kw)):
        _avgpool_plane(xp + q * P, NULL, NULL, yp + q * L, &g, count_include_pad,
                       divisor_override)


def avg_pool_backward(const floating[:, ::1] gy, floating[:, :, :, ::1] gx, tuple in_sp, tuple k,
                      tuple p, tuple s, tuple o, bint count_include_pad,
                      Py_ssize_t divisor_override):
    """gx (zeroed first) = the adjoint of avg_pool applied to gy."""
    cdef tuple one = (1, 1, 1)
    cdef Geom3 g = _geom3(in_sp, k, one, p, s, o)
    cdef Py_ssize_t nq = gx.shape[0], q, L = g.od * g.oh * g.ow, P = g.D * g.H * g.W
    _check2("avg_pool_backward", "gy", nq, L, gy.shape[0], gy.shape[1])
    if nq * P == 0:
        return
    cdef floating* gxp = &gx[0, 0, 0, 0]
    cdef const floating* gp = &gy[0, 0] if L else NULL
    for q in prange(nq, nogil=True, schedule='static', num_threads=_nthreads,
                    use_threads_if=_par_nn(nq * (L * g.kd * g.kh * g.kw + P))):
        memset(gxp + q * P, 0, P * sizeof(floating))
        if L:
            _avgpool_plane(NULL, gxp + q * P, gp + q * L, NULL, &g, count_include_pad,
                           divisor_override)
