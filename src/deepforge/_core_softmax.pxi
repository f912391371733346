# softmax / log_softmax (+ backward) over axis 1 of (outer, n, inner), and the fused
# log_softmax + NLL used by cross_entropy.  out may alias x (in place) in the forward kernels.


cdef inline void _softmax_row(const floating* x, floating* y, Py_ssize_t n,
                              bint logmode) noexcept nogil:
    cdef floating m = _max(x, n)
    cdef double s
    if logmode:
        s = _sumexp(x, n, m)
        _sub2(x, y, n, m, <floating>log(s))
    else:
        s = _expsub(x, y, n, m)
        _scale(y, n, <floating>(1.0 / s))


cdef void _softmax_tile(const floating* x, floating* y, Py_ssize_t n, Py_ssize_t inner,
                        Py_ssize_t w, bint logmode, double* buf) noexcept nogil:
    cdef floating* m = <floating*>buf
    cdef floating* acc = <floating*>(buf + w)
    cdef floating* c2 = <floating*>(buf + 2 * w)
    cdef double* dacc = buf + 3 * w
    cdef Py_ssize_t i, j, j0, j1
    for i in range(w):
        m[i] = x[i]
        dacc[i] = 0.0
    for j in range(1, n):
        _colmax(x + j * inner, m, w)
    j0 = 0
    while j0 < n:
        j1 = j0 + RBLK if j0 + RBLK < n else n
        for i in range(w):
            acc[i] = 0
        for j in range(j0, j1):
            if logmode:
                _colsumexp(x + j * inner, m, acc, w)
            else:
                _colexpsub(x + j * inner, m, y + j * inner, acc, w)
        for i in range(w):
            dacc[i] += acc[i]
        j0 = j1
    if logmode:
        for i in range(w):
            c2[i] = <floating>log(dacc[i])
        for j in range(n):
            _colsub2(x + j * inner, m, c2, y + j * inner, w)
    else:
        for i in range(w):
            c2[i] = <floating>(1.0 / dacc[i])
        for j in range(n):
            _colmul(y + j * inner, c2, w)


cdef inline void _smbwd_row(const floating* y, const floating* gy, floating* gx, Py_ssize_t n,
                            bint logmode) noexcept nogil:
    if logmode:
        _lsmbwd(y, gy, gx, n, <floating>_sum(gy, n))
    else:
        _smbwd(y, gy, gx, n, <floating>_dot(gy, y, n))


cdef void _smbwd_tile(const floating* y, const floating* gy, floating* gx, Py_ssize_t n,
                      Py_ssize_t inner, Py_ssize_t w, bint logmode, double* buf) noexcept nogil:
    cdef floating* acc = <floating*>buf
    cdef double* dacc = buf + w
    cdef Py_ssize_t i, j, j0, j1
    for i in range(w):
        dacc[i] = 0.0
    j0 = 0
    while j0 < n:
        j1 = j0 + RBLK if j0 + RBLK < n else n
        for i in range(w):
            acc[i] = 0
        for j in range(j0, j1):
            if logmode:
                _coladd(gy + j * inner, acc, w)
            else:
                _colfma(gy + j * inner, y + j * inner, acc, w)
        for i in range(w):
            dacc[i] += acc[i]
        j0 = j1
    for i in range(w):
        acc[i] = <floating>dacc[i]
    for j in range(n):
        if logmode:
            _collsmbwd(y + j * inner, gy + j * inner, acc, gx + j * inner, w)
        else:
            _colsmbwd(y + j * inner, gy + j * inner, acc, gx + j * inner, w)


cdef inline void _sm_row_item(Py_ssize_t o, const floating* x, const floating* gy, floating* y,
                              Py_ssize_t n, bint logmode, bint backward) noexcept nogil:
    if backward:
        _smbwd_row(x + o * n, gy + o * n, y + o * n, n, logmode)
    else:
        _softmax_row(x + o * n, y + o * n, n, logmode)


cdef inline void _sm_tile_item(Py_ssize_t w, Py_ssize_t ntile, Py_ssize_t tw, const floating* x,
                               const floating* gy, floating* y, Py_ssize_t n, Py_ssize_t inner,
                               bint logmode, bint backward, double* buf) noexcept nogil:
    cdef Py_ssize_t o = w // ntile, i0 = (w % ntile) * tw
    cdef Py_ssize_t off = o * n * inner + i0, wd = tw if inner - i0 > tw else inner - i0
    if backward:
        _smbwd_tile(x + off, gy + off, y + off, n, inner, wd, logmode, buf)
    else:
        _softmax_tile(x + off, y + off, n, inner, wd, logmode, buf)


cdef int _softmax_run(const floating* x, const floating* gy, floating* y, Py_ssize_t outer,
                      Py_ssize_t n, Py_ssize_t inner, bint logmode,
                      bint backward) except -1 nogil:
    """Forward (gy == NULL): y = softmax(x).  Backward: x is the forward output, y = grad_x."""
    cdef bint par = _par(outer * n * inner * (2 if backward else 4))
    cdef int nt = _nthreads
    cdef Py_ssize_t w, o, ntile, tw
    cdef char* scratch
    if outer == 0 or inner == 0 or n == 0:
        return 0
    if inner == 1:
        if par:
            for o in prange(outer, schedule='static', num_threads=nt):
                _sm_row_item(o, x, gy, y, n, logmode, backward)
        else:
            for o in range(outer):
                _sm_row_item(o, x, gy, y, n, logmode, backward)
        return 0
    tw = _tile_w(outer, inner, par)
    ntile = (inner + tw - 1) // tw
    scratch = _scratch(par, 4 * tw * sizeof(double))
    if par:
        for w in prange(outer * ntile, schedule='static', num_threads=nt):
            _sm_tile_item(w, ntile, tw, x, gy, y, n, inner, logmode, backward,
                          <double*>(scratch + threadid() * 4 * tw * sizeof(double)))
    else:
        for w in range(outer * ntile):
            _sm_tile_item(w, ntile, tw, x, gy, y, n, inner, logmode, backward, <double*>scratch)
    free(scratch)
    return 0


def softmax(const floating[:, :, ::1] x, floating[:, :, ::1] out):
    """out = exp(x - max) / sum(exp(x - max)) along axis 1 (out may be x)."""
    _check3("softmax", "out", x.shape[0], x.shape[1], x.shape[2], out.shape[0], out.shape[1],
            out.shape[2])
    if x.shape[0] * x.shape[1] * x.shape[2] == 0:
        return
    with nogil:
        _softmax_run(&x[0, 0, 0], NULL, &out[0, 0, 0], x.shape[0], x.shape[1], x.shape[2],
                     False, False)


def log_softmax(const floating[:, :, ::1] x, floating[:, :, ::1] out):
    """out = (x - max) - log(sum(exp(x - max))) along axis 1 (out may be x)."""
    _check3("log_softmax", "out", x.shape[0], x.shape[1], x.shape[2], out.shape[0],
            out.shape[1], out.shape[2])
    if x.shape[0] * x.shape[1] * x.shape[2] == 0:
        return
    with nogil:
        _softmax_run(&x[0, 0, 0], NULL, &out[0, 0, 0], x.shape[0], x.shape[1], x.shape[2],
                     True, False)


cdef int _bwd_entry(str fname, const floating[:, :, ::1] y, const floating[:, :, ::1] gy,
                    floating[:, :, ::1] gx, bint logmode) except -1:
    _check3(fname, "grad_output", y.shape[0], y.shape[1], y.shape[2], gy.shape[0], gy.shape[1],
            gy.shape[2])
    _check3(fname, "grad_input", y.shape[0], y.shape[1], y.shape[2], gx.shape[0], gx.shape[1],
            gx.shape[2])
    if y.shape[0] * y.shape[1] * y.shape[2] == 0:
        return 0
    with nogil:
        _softmax_run(&y[0, 0, 0], &gy[0, 0, 0], &gx[0, 0, 0], y.shape[0], y.shape[1], y.shape[2],
                     logmode, True)
    return 0


def softmax_backward(const floating[:, :, ::1] y, const floating[:, :, ::1] gy,
                     floating[:, :, ::1] gx):
    """gx = y * (gy - sum(gy * y, axis=1)), y = softmax output (gx may alias gy)."""
    _bwd_entry("softmax_backward", y, gy, gx, False)


def log_softmax_backward(const floating[:, :, ::1] y, const floating[:, :, ::1] gy,
                         floating[:, :, ::1] gx):
    """gx = gy - exp(y) * sum(gy, axis=1), y = log_softmax output (gx may alias gy)."""
    _bwd_entry("log_softmax_backward", y, gy, gx, True)


cdef inline void _nll_row(Py_ssize_t i, const floating* xp, const int64_t* target,
                          const floating* weight, int64_t ignore_index, floating* lp,
                          floating* loss, Py_ssize_t C) noexcept nogil:
    cdef int64_t t = target[i]
    if C > 0:
        _softmax_row(xp + i * C, lp + i * C, C, True)
    if t == ignore_index:
        loss[i] = 0
    else:
        loss[i] = -(weight[t] if weight != NULL else <floating>1) * lp[i * C + t]


def log_softmax_nll(const floating[:, ::1] logits, const int64_t[::1] target,
                    const floating[::1] weight, int64_t ignore_index,
                    floating[:, ::1] logp_out, floating[::1] loss_out):
    """Fused cross-entropy core.  logp_out = log_softmax(logits, axis=1);
    loss_out[i] = -weight[t] * logp_out[i, t] with t = target[i] (weight may be empty = ones),
    0 where t == ignore_index.  Returns the total weight of the non-ignored samples (the mean
    reduction's denominator).  IndexError before writing anything if a target is outside
    [0, C) and is not ignore_index."""
    cdef Py_ssize_t N = logits.shape[0], C = logits.shape[1], i
    cdef int64_t t
    cdef bint has_w = weight.shape[0] > 0
    cdef double total = 0.0
    _check1("log_softmax_nll", "target", N, target.shape[0])
    _check2("log_softmax_nll", "logp_out", N, C, logp_out.shape[0], logp_out.shape[1])
    _check1("log_softmax_nll", "loss_out", N, loss_out.shape[0])
    if has_w:
        _check1("log_softmax_nll", "weight", C, weight.shape[0])
    for i in range(N):
        t = target[i]
        if t == ignore_index:
            continue
        if t < 0 or t >= C:
            raise IndexError(f"log_softmax_nll: Target {t} is out of bounds. "
                             f"(sample {i}, {C} classes)")
        total += weight[t] if has_w else 1.0
    if N == 0:
        return total
    cdef const floating* xp = &logits[0, 0] if C > 0 else NULL
    cdef floating* lp = &logp_out[0, 0] if C > 0 else NULL
    cdef bint par = _par(4 * N * C)
    cdef int nt = _nthreads
    cdef const floating* wp = &weight[0] if has_w else NULL
    cdef const int64_t* tp = &target[0]
    cdef floating* op = &loss_out[0]
    if par:
        for i in prange(N, nogil=True, schedule='static', num_threads=nt):
            _nll_row(i, xp, tp, wp, ignore_index, lp, op, C)
    else:
        with nogil:
            for i in range(N):
                _nll_row(i, xp, tp, wp, ignore_index, lp, op, C)
    return total
