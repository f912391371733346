# argmax / argmin / max(dim) / min(dim) over axis 1 of (outer, n, inner).
# Torch semantics: the first occurrence of the extreme; a NaN counts as the extreme of both
# argmax and argmin (the first NaN wins).


cdef inline bint _better(floating v, floating best, bint is_max) noexcept nogil:
    """v replaces best (scanning forwards): strictly better, or the first NaN."""
    if best != best:
        return False
    if v != v:
        return True
    return v > best if is_max else v < best


cdef inline int64_t _arg_seg(const floating* p, Py_ssize_t n, bint is_max,
                             floating* vout) noexcept nogil:
    """Index of the first extreme of p[0:n] (n >= 1); its value goes to *vout if not NULL.
    One vectorised pass (per-lane best value + block index, merged in index order)."""
    if floating is float:
        return df_argmax_f(p, n, vout) if is_max else df_argmin_f(p, n, vout)
    else:
        return df_argmax_d(p, n, vout) if is_max else df_argmin_d(p, n, vout)


cdef void _arg_tile(const floating* x, Py_ssize_t n, Py_ssize_t inner, Py_ssize_t w, bint is_max,
                    floating* vout, int64_t* iout, double* buf) noexcept nogil:
    cdef floating* bv = <floating*>buf
    cdef int64_t* bi = <int64_t*>(buf + w)
    cdef const floating* row
    cdef floating v, b
    cdef bint take
    cdef Py_ssize_t i, j
    for i in range(w):
        bv[i] = x[i]
        bi[i] = 0
    for j in range(1, n):
        row = x + j * inner
        if is_max:
            for i in range(w):
                v = row[i]
                b = bv[i]
                take = ((v > b) | (v != v)) & (b == b)
                bv[i] = v if take else b
                bi[i] = j if take else bi[i]
        else:
            for i in range(w):
                v = row[i]
                b = bv[i]
                take = ((v < b) | (v != v)) & (b == b)
                bv[i] = v if take else b
                bi[i] = j if take else bi[i]
    for i in range(w):
        iout[i] = bi[i]
    if vout != NULL:
        for i in range(w):
            vout[i] = bv[i]


cdef inline void _arg_item(Py_ssize_t w, Py_ssize_t ntile, Py_ssize_t tw, const floating* x,
                           Py_ssize_t n, Py_ssize_t inner, bint is_max, floating* vals,
                           int64_t* idx, double* buf) noexcept nogil:
    cdef Py_ssize_t o = w // ntile, i0 = (w % ntile) * tw
    _arg_tile(x + o * n * inner + i0, n, inner, tw if inner - i0 > tw else inner - i0, is_max,
              vals + o * inner + i0 if vals != NULL else NULL, idx + o * inner + i0, buf)


cdef int _argreduce(const floating* x, Py_ssize_t outer, Py_ssize_t n, Py_ssize_t inner,
                    bint is_max, floating* vals, int64_t* idx) except -1 nogil:
    cdef bint par = _par(outer * n * inner)
    cdef int nt = _nthreads
    cdef Py_ssize_t w, o, c, lo, t, i0, nch, ntile, tw
    cdef char* scratch
    cdef floating* pv
    cdef int64_t* pi
    cdef floating bv
    cdef int64_t bi
    if outer == 0 or inner == 0:
        return 0
    if inner == 1:
        if par and outer < nt and n >= 2 * nt * ARGBLK:
            nch = nt
            pv = <floating*>_alloc(outer * nch * sizeof(floating))
            pi = <int64_t*>_alloc(outer * nch * sizeof(int64_t))
            for w in prange(outer * nch, schedule='static', num_threads=nt):
                o = w // nch
                c = w % nch
                lo = _cb(n, c, nch)
                pi[w] = lo + _arg_seg(x + o * n + lo, _cb(n, c + 1, nch) - lo, is_max, pv + w)
            for o in range(outer):
                bv = pv[o * nch]
                bi = pi[o * nch]
                for c in range(1, nch):
                    if _better(pv[o * nch + c], bv, is_max):
                        bv = pv[o * nch + c]
                        bi = pi[o * nch + c]
                idx[o] = bi
                if vals != NULL:
                    vals[o] = bv
            free(pv)
            free(pi)
        elif par:
            for o in prange(outer, schedule='static', num_threads=nt):
                idx[o] = _arg_seg(x + o * n, n, is_max, vals + o if vals != NULL else NULL)
        else:
            for o in range(outer):
                idx[o] = _arg_seg(x + o * n, n, is_max, vals + o if vals != NULL else NULL)
        return 0
    tw = _tile_w(outer, inner, par)
    ntile = (inner + tw - 1) // tw
    scratch = _scratch(par, 2 * tw * sizeof(double))
    if par:
        for w in prange(outer * ntile, schedule='static', num_threads=nt):
            _arg_item(w, ntile, tw, x, n, inner, is_max, vals, idx,
                      <double*>(scratch + threadid() * 2 * tw * sizeof(double)))
    else:
        for w in range(outer * ntile):
            _arg_item(w, ntile, tw, x, n, inner, is_max, vals, idx, <double*>scratch)
    free(scratch)
    return 0


cdef int _arg_entry(str fname, const floating[:, :, ::1] x, floating* vals,
                    int64_t[:, ::1] idx, bint is_max) except -1:
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2]
    _check2(fname, "indices out", outer, inner, idx.shape[0], idx.shape[1])
    if outer * inner == 0:
        return 0
    if n == 0:
        raise ValueError(f"{fname}: cannot reduce over an empty axis (n == 0)")
    with nogil:
        _argreduce(&x[0, 0, 0], outer, n, inner, is_max, vals, &idx[0, 0])
    return 0


def argmax(const floating[:, :, ::1] x, int64_t[:, ::1] out):
    """out[o, i] = index along n of the first maximum of x[o, :, i] (first NaN if any)."""
    _arg_entry("argmax", x, NULL, out, True)


def argmin(const floating[:, :, ::1] x, int64_t[:, ::1] out):
    """out[o, i] = index along n of the first minimum of x[o, :, i] (first NaN if any)."""
    _arg_entry("argmin", x, NULL, out, False)


def max_with_indices(const floating[:, :, ::1] x, floating[:, ::1] values_out,
                     int64_t[:, ::1] idx_out):
    """torch.max(x, dim): values and first indices of the maxima (NaN wins)."""
    _check2("max_with_indices", "values_out", x.shape[0], x.shape[2], values_out.shape[0],
            values_out.shape[1])
    _arg_entry("max_with_indices", x,
               &values_out[0, 0] if values_out.shape[0] * values_out.shape[1] > 0 else NULL,
               idx_out, True)


def min_with_indices(const floating[:, :, ::1] x, floating[:, ::1] values_out,
                     int64_t[:, ::1] idx_out):
    """torch.min(x, dim): values and first indices of the minima (NaN wins)."""
    _check2("min_with_indices", "values_out", x.shape[0], x.shape[2], values_out.shape[0],
            values_out.shape[1])
    _arg_entry("min_with_indices", x,
               &values_out[0, 0] if values_out.shape[0] * values_out.shape[1] > 0 else NULL,
               idx_out, False)
