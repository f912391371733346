# Scans along axis 1 of (outer, n, inner): cumsum / cumprod (float32 accumulates in double like
# PyTorch's CPU kernels, int64 wraps), cummax / cummin (torch: ties and NaNs take the latest index).
# A single long row (outer < threads) is scanned in parallel chunks: chunk totals, an exclusive
# prefix over them, then each chunk rescanned from its offset.


cdef inline void _scan_row(const numeric* x, numeric* y, Py_ssize_t n, bint prod, double dstart,
                           int64_t istart) noexcept nogil:
    cdef Py_ssize_t j
    cdef double dacc = dstart
    cdef int64_t iacc = istart
    if numeric is int64_t:
        if prod:
            for j in range(n):
                iacc = <int64_t>(<uint64_t>iacc * <uint64_t>x[j])
                y[j] = iacc
        else:
            for j in range(n):
                iacc = <int64_t>(<uint64_t>iacc + <uint64_t>x[j])
                y[j] = iacc
    else:
        if prod:
            for j in range(n):
                dacc = dacc * x[j]
                y[j] = <numeric>dacc
        else:
            for j in range(n):
                dacc = dacc + x[j]
                y[j] = <numeric>dacc


cdef inline void _total_row(const numeric* x, Py_ssize_t n, bint prod, double* dres,
                            int64_t* ires) noexcept nogil:
    cdef Py_ssize_t j
    cdef double dacc = 1.0 if prod else 0.0
    cdef int64_t iacc = 1 if prod else 0
    if numeric is int64_t:
        for j in range(n):
            iacc = <int64_t>(<uint64_t>iacc * <uint64_t>x[j]) if prod else \
                <int64_t>(<uint64_t>iacc + <uint64_t>x[j])
        ires[0] = iacc
    else:
        if prod:
            for j in range(n):
                dacc = dacc * x[j]
        else:
            for j in range(n):
                dacc = dacc + x[j]
        dres[0] = dacc


cdef void _scan_tile(const numeric* x, numeric* y, Py_ssize_t n, Py_ssize_t inner, Py_ssize_t w,
                     bint prod, double* buf) noexcept nogil:
    cdef double* dacc = buf
    cdef int64_t* iacc = <int64_t*>buf
    cdef const numeric* row
    cdef numeric* yrow
    cdef Py_ssize_t i, j
    if numeric is int64_t:
        for i in range(w):
            iacc[i] = 1 if prod else 0
    else:
        for i in range(w):
            dacc[i] = 1.0 if prod else 0.0
    for j in range(n):
        row = x + j * inner
        yrow = y + j * inner
        if numeric is int64_t:
            if prod:
                for i in range(w):
                    iacc[i] = <int64_t>(<uint64_t>iacc[i] * <uint64_t>row[i])
                    yrow[i] = iacc[i]
            else:
                for i in range(w):
                    iacc[i] = <int64_t>(<uint64_t>iacc[i] + <uint64_t>row[i])
                    yrow[i] = iacc[i]
        else:
            if prod:
                for i in range(w):
                    dacc[i] = dacc[i] * row[i]
                    yrow[i] = <numeric>dacc[i]
            else:
                for i in range(w):
                    dacc[i] = dacc[i] + row[i]
                    yrow[i] = <numeric>dacc[i]


cdef inline void _scan_item(Py_ssize_t w, Py_ssize_t ntile, Py_ssize_t tw, const numeric* x,
                            numeric* y, Py_ssize_t n, Py_ssize_t inner, bint prod,
                            double* buf) noexcept nogil:
    cdef Py_ssize_t o = w // ntile, i0 = (w % ntile) * tw
    cdef Py_ssize_t off = o * n * inner + i0
    _scan_tile(x + off, y + off, n, inner, tw if inner - i0 > tw else inner - i0, prod, buf)


cdef int _scan(const numeric* x, numeric* y, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
               bint prod) except -1 nogil:
    cdef bint par = _par(2 * outer * n * inner)
    cdef int nt = _nthreads
    cdef Py_ssize_t w, o, c, lo, hi, t, i0, nch, ntile, off, tw
    cdef char* scratch
    cdef double* dpart
    cdef int64_t* ipart
    cdef double dv, dtmp
    cdef int64_t iv, itmp
    if outer == 0 or inner == 0 or n == 0:
        return 0
    if inner == 1:
        if par and outer < nt:
            nch = nt
            dpart = <double*>_alloc(outer * nch * sizeof(double))
            ipart = <int64_t*>_alloc(outer * nch * sizeof(int64_t))
            for w in prange(outer * nch, schedule='static', num_threads=nt):
                o = w // nch
                c = w % nch
                lo = _cb(n, c, nch)
                _total_row(x + o * n + lo, _cb(n, c + 1, nch) - lo, prod, dpart + w, ipart + w)
            for o in range(outer):       # exclusive prefix of the chunk totals
                dv = 1.0 if prod else 0.0
                iv = 1 if prod else 0
                for c in range(nch):
                    dtmp = dpart[o * nch + c]
                    itmp = ipart[o * nch + c]
                    dpart[o * nch + c] = dv
                    ipart[o * nch + c] = iv
                    dv = dv * dtmp if prod else dv + dtmp
                    iv = <int64_t>(<uint64_t>iv * <uint64_t>itmp) if prod else \
                        <int64_t>(<uint64_t>iv + <uint64_t>itmp)
            for w in prange(outer * nch, schedule='static', num_threads=nt):
                o = w // nch
                c = w % nch
                lo = _cb(n, c, nch)
                hi = _cb(n, c + 1, nch)
                _scan_row(x + o * n + lo, y + o * n + lo, hi - lo, prod, dpart[w], ipart[w])
            free(dpart)
            free(ipart)
        elif par:
            for o in prange(outer, schedule='static', num_threads=nt):
                _scan_row(x + o * n, y + o * n, n, prod, 1.0 if prod else 0.0, 1 if prod else 0)
        else:
            for o in range(outer):
                _scan_row(x + o * n, y + o * n, n, prod, 1.0 if prod else 0.0, 1 if prod else 0)
        return 0
    tw = _tile_w(outer, inner, par)
    ntile = (inner + tw - 1) // tw
    scratch = _scratch(par, tw * sizeof(double))
    if par:
        for w in prange(outer * ntile, schedule='static', num_threads=nt):
            _scan_item(w, ntile, tw, x, y, n, inner, prod,
                       <double*>(scratch + threadid() * tw * sizeof(double)))
    else:
        for w in range(outer * ntile):
            _scan_item(w, ntile, tw, x, y, n, inner, prod, <double*>scratch)
    free(scratch)
    return 0


cdef int _scan_entry(str fname, const numeric[:, :, ::1] x, numeric[:, :, ::1] out,
                     bint prod) except -1:
    _check3(fname, "out", x.shape[0], x.shape[1], x.shape[2], out.shape[0], out.shape[1],
            out.shape[2])
    if x.shape[0] * x.shape[1] * x.shape[2] == 0:
        return 0
    with nogil:
        _scan(&x[0, 0, 0], &out[0, 0, 0], x.shape[0], x.shape[1], x.shape[2], prod)
    return 0


def cumsum(const numeric[:, :, ::1] x, numeric[:, :, ::1] out):
    """Inclusive cumulative sum along axis 1 (float32 accumulates in double; out may be x)."""
    _scan_entry("cumsum", x, out, False)


def cumprod(const numeric[:, :, ::1] x, numeric[:, :, ::1] out):
    """Inclusive cumulative product along axis 1 (float32 accumulates in double; out may be x)."""
    _scan_entry("cumprod", x, out, True)


cdef inline bint _isnan_n(numeric e) noexcept nogil:
    if numeric is int64_t:
        return False
    else:
        return e != e


cdef void _cumext_row(const numeric* x, numeric* v, int64_t* ix, Py_ssize_t n,
                      bint is_max) noexcept nogil:
    cdef numeric best = x[0], e
    cdef int64_t bi = 0
    cdef Py_ssize_t j
    v[0] = best
    ix[0] = 0
    for j in range(1, n):
        e = x[j]
        if _isnan_n(e) or ((e >= best) if is_max else (e <= best)):
            best = e
            bi = j
        v[j] = best
        ix[j] = bi


cdef void _cumext_tile(const numeric* x, numeric* v, int64_t* ix, Py_ssize_t n, Py_ssize_t inner,
                       Py_ssize_t w, bint is_max, double* buf) noexcept nogil:
    cdef numeric* bv = <numeric*>buf
    cdef int64_t* bi = <int64_t*>(buf + w)
    cdef numeric e, b
    cdef bint take
    cdef Py_ssize_t i, j
    for i in range(w):
        bv[i] = x[i]
        bi[i] = 0
        v[i] = x[i]
        ix[i] = 0
    for j in range(1, n):
        for i in range(w):
            e = x[j * inner + i]
            b = bv[i]
            if is_max:
                take = _isnan_n(e) | (e >= b)
            else:
                take = _isnan_n(e) | (e <= b)
            bv[i] = e if take else b
            bi[i] = j if take else bi[i]
            v[j * inner + i] = bv[i]
            ix[j * inner + i] = bi[i]


cdef inline void _cumext_item(Py_ssize_t w, Py_ssize_t ntile, Py_ssize_t tw, const numeric* x,
                              numeric* v, int64_t* ix, Py_ssize_t n, Py_ssize_t inner,
                              bint is_max, double* buf) noexcept nogil:
    cdef Py_ssize_t o = w // ntile, i0 = (w % ntile) * tw
    cdef Py_ssize_t off = o * n * inner + i0
    _cumext_tile(x + off, v + off, ix + off, n, inner, tw if inner - i0 > tw else inner - i0,
                 is_max, buf)


cdef int _cumext_entry(str fname, const numeric[:, :, ::1] x, numeric[:, :, ::1] values_out,
                       int64_t[:, :, ::1] idx_out, bint is_max) except -1:
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    cdef Py_ssize_t w, o, t, i0, ntile, off, tw
    cdef char* scratch
    _check3(fname, "values_out", outer, n, inner, values_out.shape[0], values_out.shape[1],
            values_out.shape[2])
    _check3(fname, "idx_out", outer, n, inner, idx_out.shape[0], idx_out.shape[1],
            idx_out.shape[2])
    if outer * n * inner == 0:
        return 0
    cdef const numeric* xp = &x[0, 0, 0]
    cdef numeric* vp = &values_out[0, 0, 0]
    cdef int64_t* ip = &idx_out[0, 0, 0]
    cdef bint par = _par(outer * n * inner)
    cdef int nt = _nthreads
    if inner == 1:
        if par:
            for o in prange(outer, nogil=True, schedule='static', num_threads=nt):
                _cumext_row(xp + o * n, vp + o * n, ip + o * n, n, is_max)
        else:
            with nogil:
                for o in range(outer):
                    _cumext_row(xp + o * n, vp + o * n, ip + o * n, n, is_max)
        return 0
    tw = _tile_w(outer, inner, par)
    ntile = (inner + tw - 1) // tw
    scratch = _scratch(par, 2 * tw * sizeof(double))
    if par:
        for w in prange(outer * ntile, nogil=True, schedule='static', num_threads=nt):
            _cumext_item(w, ntile, tw, xp, vp, ip, n, inner, is_max,
                         <double*>(scratch + threadid() * 2 * tw * sizeof(double)))
    else:
        with nogil:
            for w in range(outer * ntile):
                _cumext_item(w, ntile, tw, xp, vp, ip, n, inner, is_max, <double*>scratch)
    free(scratch)
    return 0


def cummax(const numeric[:, :, ::1] x, numeric[:, :, ::1] values_out, int64_t[:, :, ::1] idx_out):
    """torch.cummax along axis 1: running max and the index of its latest occurrence (NaN
    propagates and takes the index of the latest NaN)."""
    _cumext_entry("cummax", x, values_out, idx_out, True)


def cummin(const numeric[:, :, ::1] x, numeric[:, :, ::1] values_out, int64_t[:, :, ::1] idx_out):
    """torch.cummin along axis 1 (see cummax)."""
    _cumext_entry("cummin", x, values_out, idx_out, False)
