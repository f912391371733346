# Normalisation kernels: batch norm over (N, C, S) and layer norm over the rows of (M, D),
# forward and backward.  Statistics accumulate in double whatever the input dtype.

from libc.math cimport sqrt
from libc.string cimport memset


# batch norm over (N, C, S): statistics per channel ---------------------------------------------


cdef void _bn_stats(const floating* x, Py_ssize_t N, Py_ssize_t C, Py_ssize_t S, Py_ssize_t c,
                    double* mean, double* var) noexcept nogil:
    """Mean and biased variance of channel c; sums shifted by the first value (one pass)."""
    cdef Py_ssize_t n, i
    cdef const floating* row
    cdef double k = x[c * S], s1 = 0.0, s2 = 0.0, t, r1, r2
    cdef double m = <double>N * S
    for n in range(N):
        row = x + (n * C + c) * S
        r1 = 0.0
        r2 = 0.0
        for i in range(S):
            t = row[i] - k
            r1 = r1 + t
            r2 = r2 + t * t
        s1 += r1
        s2 += r2
    mean[0] = k + s1 / m
    t = (s2 - s1 * s1 / m) / m
    var[0] = t if t > 0 else 0.0


def batch_norm_train(const floating[:, :, ::1] x, const floating[::1] w, const floating[::1] b,
                     double eps, floating[:, :, ::1] y, floating[::1] mean, floating[::1] invstd,
                     floating[::1] var):
    """Training-mode batch norm of x (N, C, S): per-channel batch mean, biased var, 1/std, and
    y = (x - mean) * invstd * w + b (w, b may be empty: no affine)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], c, n, i
    cdef bint affine = w.shape[0] > 0
    _check3("batch_norm_train", "y", N, C, S, y.shape[0], y.shape[1], y.shape[2])
    _check1("batch_norm_train", "mean", C, mean.shape[0])
    if affine:
        _check1("batch_norm_train", "weight", C, w.shape[0])
        _check1("batch_norm_train", "bias", C, b.shape[0])
    if N * C * S == 0:
        return
    cdef const floating* xp = &x[0, 0, 0]
    cdef floating* yp = &y[0, 0, 0]
    cdef double m, v, r
    cdef floating sc, sh
    cdef const floating* xr
    cdef floating* yr
    for c in prange(C, nogil=True, schedule='static', num_threads=_nthreads,
                    use_threads_if=_par_nn(N * C * S)):
        _bn_stats(xp, N, C, S, c, &m, &v)
        r = 1.0 / sqrt(v + eps)
        mean[c] = <floating>m
        var[c] = <floating>v
        invstd[c] = <floating>r
        sc = <floating>(r * w[c]) if affine else <floating>r
        sh = <floating>((b[c] if affine else 0.0) - m * r * (w[c] if affine else 1.0))
        for n in range(N):
            xr = xp + (n * C + c) * S
            yr = yp + (n * C + c) * S
            for i in range(S):
                yr[i] = xr[i] * sc + sh


def batch_norm_backward(const floating[:, :, ::1] g, const floating[:, :, ::1] x,
                        const floating[::1] w, const floating[::1] mean,
                        const floating[::1] invstd, floating[:, :, ::1] gx, floating[::1] gw,
                        floating[::1] gb, bint train):
    """Gradients of batch norm (train: batch statistics; else fixed mean/invstd).  gx may be
    empty (not needed); gw/gb receive sum(g * xhat) and sum(g) per channel."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], S = x.shape[2], c, n, i
    cdef bint affine = w.shape[0] > 0, want_gx = gx.shape[0] > 0
    _check3("batch_norm_backward", "g", N, C, S, g.shape[0], g.shape[1], g.shape[2])
    if want_gx:
        _check3("batch_norm_backward", "gx", N, C, S, gx.shape[0], gx.shape[1], gx.shape[2])
    _check1("batch_norm_backward", "gw", C, gw.shape[0])
    if N * C * S == 0:
        return
    cdef const floating* xp = &x[0, 0, 0]
    cdef const floating* gp = &g[0, 0, 0]
    cdef floating* gxp = &gx[0, 0, 0] if want_gx else NULL
    cdef double sg, sgx, r1, r2, mu, rs, ww, k1, k2, m = <double>N * S
    cdef const floating* xr
    cdef const floating* gr
    cdef floating* dr
    cdef floating a1, a2, a3
    for c in prange(C, nogil=True, schedule='static', num_threads=_nthreads,
                    use_threads_if=_par_nn(N * C * S)):
        mu = mean[c]
        rs = invstd[c]
        sg = 0.0
        sgx = 0.0
        for n in range(N):
            xr = xp + (n * C + c) * S
            gr = gp + (n * C + c) * S
            r1 = 0.0
            r2 = 0.0
            for i in range(S):
                r1 = r1 + gr[i]
                r2 = r2 + gr[i] * (xr[i] - mu)
            sg = sg + r1
            sgx = sgx + r2
        gb[c] = <floating>sg
        gw[c] = <floating>(sgx * rs)
        if want_gx:
            ww = w[c] if affine else 1.0
            # gx = ww*rs*(g - sg/m - (x-mu)*rs^2*sgx/m)  (train)  or  ww*rs*g  (eval)
            k1 = ww * rs
            k2 = (ww * rs * rs * rs * sgx / m) if train else 0.0
            a1 = <floating>k1
            a2 = <floating>k2
            a3 = <floating>((ww * rs * sg / m - k2 * mu) if train else 0.0)
            for n in range(N):
                xr = xp + (n * C + c) * S
                gr = gp + (n * C + c) * S
                dr = gxp + (n * C + c) * S
                for i in range(S):
                    dr[i] = a1 * gr[i] - a2 * xr[i] - a3


# layer norm over the rows of (M, D) -------------------------------------------------------------


cdef void _ln_row(const floating* x, floating* y, Py_ssize_t D, double eps,
                  const floating* w, const floating* b, floating* mean, floating* rstd) noexcept nogil:
    cdef Py_ssize_t i
    cdef double k = x[0], s1 = 0.0, s2 = 0.0, t, mu, r
    for i in range(D):
        t = x[i] - k
        s1 = s1 + t
        s2 = s2 + t * t
    mu = k + s1 / D
    t = (s2 - s1 * s1 / D) / D
    r = 1.0 / sqrt((t if t > 0 else 0.0) + eps)
    mean[0] = <floating>mu
    rstd[0] = <floating>r
    cdef floating fm = <floating>mu, fr = <floating>r
    if w != NULL and b != NULL:
        for i in range(D):
            y[i] = (x[i] - fm) * fr * w[i] + b[i]
    elif w != NULL:
        for i in range(D):
            y[i] = (x[i] - fm) * fr * w[i]
    else:
        for i in range(D):
            y[i] = (x[i] - fm) * fr


def layer_norm(const floating[:, ::1] x, const floating[::1] w, const floating[::1] b,
               double eps, floating[:, ::1] y, floating[::1] mean, floating[::1] rstd):
    """y = (x - mean) * rstd * w + b per row of x (M, D); w / b may be empty."""
    cdef Py_ssize_t M = x.shape[0], D = x.shape[1], r
    _check2("layer_norm", "y", M, D, y.shape[0], y.shape[1])
    _check1("layer_norm", "mean", M, mean.shape[0])
    if w.shape[0]:
        _check1("layer_norm", "weight", D, w.shape[0])
    if b.shape[0]:
        _check1("layer_norm", "bias", D, b.shape[0])
    if M * D == 0:
        return
    cdef const floating* xp = &x[0, 0]
    cdef floating* yp = &y[0, 0]
    cdef const floating* wp = &w[0] if w.shape[0] else NULL
    cdef const floating* bp = &b[0] if b.shape[0] else NULL
    for r in prange(M, nogil=True, schedule='static', num_threads=_nthreads,
                    use_threads_if=_par_nn(M * D)):
        _ln_row(xp + r * D, yp + r * D, D, eps, wp, bp, &mean[r], &rstd[r])


def layer_norm_backward(const floating[:, ::1] g, const floating[:, ::1] x, const floating[::1] w,
                        const floating[::1] mean, const floating[::1] rstd, floating[:, ::1] gx,
                        floating[::1] gw, floating[::1] gb):
    """gx (may be empty) and, when gw/gb are not empty, the column sums of g*xhat and g."""
    cdef Py_ssize_t M = x.shape[0], D = x.shape[1], r, i, c, r0, r1
    cdef bint want_gx = gx.shape[0] > 0, want_gwb = gw.shape[0] > 0
    _check2("layer_norm_backward", "g", M, D, g.shape[0], g.shape[1])
    if want_gx:
        _check2("layer_norm_backward", "gx", M, D, gx.shape[0], gx.shape[1])
    if M * D == 0:
        if want_gwb:
            for i in range(D):
                gw[i] = 0
                gb[i] = 0
        return
    cdef const floating* xp = &x[0, 0]
    cdef const floating* gp = &g[0, 0]
    cdef const floating* wp = &w[0] if w.shape[0] else NULL
    cdef floating* gxp = &gx[0, 0] if want_gx else NULL
    cdef int nt = _nthreads if _par_nn(M * D) else 1
    if nt > M:
        nt = <int>M if M > 0 else 1
    cdef double* acc = <double*>_alloc((2 * nt * D if want_gwb else 1) * sizeof(double))
    cdef double s1, s2, mu, rs, wg, xh
    cdef const floating* xr
    cdef const floating* gr
    cdef floating* dr
    cdef double* aw
    cdef double* ab
    if want_gwb:
        memset(acc, 0, 2 * nt * D * sizeof(double))
    try:
        for c in prange(nt, nogil=True, schedule='static', num_threads=nt, use_threads_if=nt > 1):
            r0 = M * c // nt
            r1 = M * (c + 1) // nt
            aw = acc + 2 * c * D
            ab = aw + D
            for r in range(r0, r1):
                xr = xp + r * D
                gr = gp + r * D
                mu = mean[r]
                rs = rstd[r]
                if want_gwb:
                    for i in range(D):
                        aw[i] = aw[i] + gr[i] * (xr[i] - mu) * rs
                        ab[i] = ab[i] + gr[i]
                if want_gx:
                    s1 = 0.0
                    s2 = 0.0
                    for i in range(D):
                        wg = gr[i] * (wp[i] if wp != NULL else 1.0)
                        s1 = s1 + wg
                        s2 = s2 + wg * (xr[i] - mu) * rs
                    s1 = s1 / D
                    s2 = s2 / D
                    dr = gxp + r * D
                    for i in range(D):
                        wg = gr[i] * (wp[i] if wp != NULL else 1.0)
                        xh = (xr[i] - mu) * rs
                        dr[i] = <floating>(rs * (wg - s1 - xh * s2))
        if want_gwb:
            for i in range(D):
                s1 = 0.0
                s2 = 0.0
                for c in range(nt):
                    s1 = s1 + acc[2 * c * D + i]
                    s2 = s2 + acc[2 * c * D + D + i]
                gw[i] = <floating>s1
                gb[i] = <floating>s2
    finally:
        free(acc)
