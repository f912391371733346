# Reductions over axis 1 of (outer, n, inner) -> (outer, inner).
#
# inner == 1: each output reduces a contiguous row (vectorised C helpers, multi-lane accumulators
#   flushed into double, so float32 sums are far more accurate than a naive loop); with fewer rows
#   than threads the rows are split into chunks whose partial results are combined in order.
# inner > 1: work items are (outer, column tile, see _tile_w); rows are streamed contiguously and
#   accumulated into per-thread buffers (float32 partials flushed into double every RBLK rows).

cdef enum:
    OP_SUM = 0
    OP_PROD = 1
    OP_MAX = 2
    OP_MIN = 3
    OP_SQDEV = 4
    OP_SUMEXP = 5


cdef inline double _combine(double a, double b, int op) noexcept nogil:
    if op == OP_PROD:
        return a * b
    if op == OP_MAX or op == OP_MIN:
        if a != a:
            return a
        if b != b:
            return b
        if op == OP_MAX:
            return a if a >= b else b
        return a if a <= b else b
    return a + b


cdef double _seg(const floating* p, Py_ssize_t n, int op, double c) noexcept nogil:
    cdef Py_ssize_t j
    cdef double acc
    if op == OP_SUM:
        return _sum(p, n)
    if op == OP_MAX:
        return _max(p, n)
    if op == OP_MIN:
        return _min(p, n)
    if op == OP_SQDEV:
        return _sqdev(p, n, <floating>c)
    if op == OP_SUMEXP:
        return _sumexp(p, n, <floating>c)
    acc = 1.0
    for j in range(n):
        acc = acc * p[j]
    return acc


cdef void _tile(const floating* x, Py_ssize_t n, Py_ssize_t inner, Py_ssize_t w, int op,
                const double* center, double* res, double* buf) noexcept nogil:
    """Reduce columns [0, w) of the (n, inner) slab at x into res[0:w]; buf: 3*w doubles."""
    cdef floating* acc = <floating*>buf
    cdef floating* cen = <floating*>(buf + w)
    cdef double* dacc = buf + 2 * w
    cdef const floating* row
    cdef Py_ssize_t i, j, j0, j1
    if op == OP_MAX or op == OP_MIN:
        for i in range(w):
            acc[i] = x[i]
        for j in range(1, n):
            if op == OP_MAX:
                _colmax(x + j * inner, acc, w)
            else:
                _colmin(x + j * inner, acc, w)
        for i in range(w):
            res[i] = acc[i]
        return
    if op == OP_PROD:
        for i in range(w):
            dacc[i] = 1.0
        for j in range(n):
            row = x + j * inner
            for i in range(w):
                dacc[i] = dacc[i] * row[i]
        for i in range(w):
            res[i] = dacc[i]
        return
    if op == OP_SQDEV or op == OP_SUMEXP:
        for i in range(w):
            cen[i] = <floating>center[i]
    for i in range(w):
        dacc[i] = 0.0
    j0 = 0
    while j0 < n:
        j1 = j0 + RBLK if j0 + RBLK < n else n
        for i in range(w):
            acc[i] = 0
        for j in range(j0, j1):
            row = x + j * inner
            if op == OP_SUM:
                _coladd(row, acc, w)
            elif op == OP_SQDEV:
                _colsqdev(row, cen, acc, w)
            else:
                _colsumexp(row, cen, acc, w)
        for i in range(w):
            dacc[i] += acc[i]
        j0 = j1
    for i in range(w):
        res[i] = dacc[i]


cdef inline void _tile_item(Py_ssize_t w, Py_ssize_t ntile, Py_ssize_t tw, const floating* x,
                            Py_ssize_t n, Py_ssize_t inner, int op, const double* center,
                            double* res, double* buf) noexcept nogil:
    cdef Py_ssize_t o = w // ntile, i0 = (w % ntile) * tw
    _tile(x + o * n * inner + i0, n, inner, tw if inner - i0 > tw else inner - i0, op,
          center + o * inner + i0 if center != NULL else NULL, res + o * inner + i0, buf)


cdef int _reduce(const floating* x, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner, int op,
                 const double* center, double* res) except -1 nogil:
    """res[o*inner + i] = op-reduction of x[o, :, i] (as double); center: per-output constant."""
    cdef bint par = _par(outer * n * inner * (4 if op == OP_SUMEXP else 1))
    cdef int nt = _nthreads
    cdef Py_ssize_t w, o, c, lo, hi, nch, ntile, tw
    cdef double* part
    cdef char* scratch
    cdef double v
    if outer == 0 or inner == 0:
        return 0
    if inner == 1:
        if par and outer < nt:
            nch = nt
            part = <double*>_alloc(outer * nch * sizeof(double))
            for w in prange(outer * nch, schedule='static', num_threads=nt):
                o = w // nch
                c = w % nch
                lo = _cb(n, c, nch)
                hi = _cb(n, c + 1, nch)
                part[w] = _seg(x + o * n + lo, hi - lo, op,
                               center[o] if center != NULL else 0.0)
            for o in range(outer):
                v = part[o * nch]
                for c in range(1, nch):
                    v = _combine(v, part[o * nch + c], op)
                res[o] = v
            free(part)
        elif par:
            for o in prange(outer, schedule='static', num_threads=nt):
                res[o] = _seg(x + o * n, n, op, center[o] if center != NULL else 0.0)
        else:
            for o in range(outer):
                res[o] = _seg(x + o * n, n, op, center[o] if center != NULL else 0.0)
        return 0
    tw = _tile_w(outer, inner, par)
    ntile = (inner + tw - 1) // tw
    scratch = _scratch(par, 3 * tw * sizeof(double))
    if par:
        for w in prange(outer * ntile, schedule='static', num_threads=nt):
            _tile_item(w, ntile, tw, x, n, inner, op, center, res,
                       <double*>(scratch + threadid() * 3 * tw * sizeof(double)))
    else:
        for w in range(outer * ntile):
            _tile_item(w, ntile, tw, x, n, inner, op, center, res, <double*>scratch)
    free(scratch)
    return 0


cdef double* _reduce_to_buffer(const floating[:, :, ::1] x, floating[:, ::1] out, str fname,
                               int op, bint empty_error) except NULL:
    """Validate, run the reduction into a fresh double buffer (caller frees)."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2], i
    _check2(fname, "out", outer, inner, out.shape[0], out.shape[1])
    if n == 0 and empty_error and outer * inner > 0:
        raise ValueError(f"{fname}: cannot reduce over an empty axis (n == 0)")
    cdef double* res = <double*>_alloc(outer * inner * sizeof(double))
    if n == 0:
        for i in range(outer * inner):
            res[i] = 1.0 if op == OP_PROD else (-INFINITY if op == OP_SUMEXP else 0.0)
        return res
    try:
        with nogil:
            _reduce(&x[0, 0, 0], outer, n, inner, op, NULL, res)
    except BaseException:
        free(res)
        raise
    return res


cdef void _store(const double* res, floating[:, ::1] out, double scale) noexcept nogil:
    cdef Py_ssize_t i, m = out.shape[0] * out.shape[1]
    cdef floating* o
    if m == 0:
        return
    o = &out[0, 0]
    for i in range(m):
        o[i] = <floating>(res[i] * scale)


def reduce_sum(const floating[:, :, ::1] x, floating[:, ::1] out):
    """out[o, i] = sum_j x[o, j, i] (accumulated in double)."""
    cdef double* res = _reduce_to_buffer(x, out, "reduce_sum", OP_SUM, False)
    _store(res, out, 1.0)
    free(res)


def reduce_mean(const floating[:, :, ::1] x, floating[:, ::1] out):
    """out[o, i] = mean_j x[o, j, i] (NaN for n == 0)."""
    cdef double* res = _reduce_to_buffer(x, out, "reduce_mean", OP_SUM, False)
    _store(res, out, 1.0 / x.shape[1] if x.shape[1] > 0 else NAN)
    free(res)


def reduce_prod(const floating[:, :, ::1] x, floating[:, ::1] out):
    """out[o, i] = prod_j x[o, j, i] (accumulated in double)."""
    cdef double* res = _reduce_to_buffer(x, out, "reduce_prod", OP_PROD, False)
    _store(res, out, 1.0)
    free(res)


def reduce_max(const floating[:, :, ::1] x, floating[:, ::1] out):
    """out[o, i] = max_j x[o, j, i]; NaN if any element is NaN; ValueError if n == 0."""
    cdef double* res = _reduce_to_buffer(x, out, "reduce_max", OP_MAX, True)
    _store(res, out, 1.0)
    free(res)


def reduce_min(const floating[:, :, ::1] x, floating[:, ::1] out):
    """out[o, i] = min_j x[o, j, i]; NaN if any element is NaN; ValueError if n == 0."""
    cdef double* res = _reduce_to_buffer(x, out, "reduce_min", OP_MIN, True)
    _store(res, out, 1.0)
    free(res)


cdef int _two_pass(const floating[:, :, ::1] x, double* res, int op2) except -1:
    """res holds the pass-1 result per output; replace it with the pass-2 result."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef double* center = <double*>_alloc(outer * inner * sizeof(double))
    try:
        memcpy(center, res, outer * inner * sizeof(double))
        with nogil:
            _reduce(&x[0, 0, 0], outer, n, inner, op2, center, res)
    finally:
        free(center)
    return 0


def reduce_var(const floating[:, :, ::1] x, floating[:, ::1] out, double correction=1.0):
    """out = sum_j (x - mean)^2 / max(n - correction, 0) (two-pass, double accumulation)."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2], i
    cdef double* res = _reduce_to_buffer(x, out, "reduce_var", OP_SUM, False)
    cdef double dof = n - correction
    if dof < 0:
        dof = 0
    try:
        if n > 0:
            for i in range(outer * inner):
                res[i] = res[i] / n
            _two_pass(x, res, OP_SQDEV)
        else:
            for i in range(outer * inner):
                res[i] = NAN
        for i in range(outer * inner):
            res[i] = res[i] / dof
        _store(res, out, 1.0)
    finally:
        free(res)


def logsumexp(const floating[:, :, ::1] x, floating[:, ::1] out):
    """out = log(sum_j exp(x[o, j, i])), stable; all -inf -> -inf, any +inf -> +inf, n == 0 -> -inf."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2], i
    cdef double* res = _reduce_to_buffer(x, out, "logsumexp", OP_MAX if n > 0 else OP_SUMEXP,
                                         False)
    cdef double* mx
    try:
        if n > 0:
            mx = <double*>_alloc(outer * inner * sizeof(double))
            memcpy(mx, res, outer * inner * sizeof(double))
            try:
                _two_pass(x, res, OP_SUMEXP)
                for i in range(outer * inner):
                    if mx[i] == INFINITY or mx[i] == -INFINITY:
                        res[i] = mx[i]
                    else:
                        res[i] = mx[i] + log(res[i])
            finally:
                free(mx)
        _store(res, out, 1.0)
    finally:
        free(res)


include "_core_argreduce.pxi"
