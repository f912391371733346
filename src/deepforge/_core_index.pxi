# Index kernels on (outer, n, inner) views.  Indices are int64 and must lie in [0, n) (the
# caller wraps negative indices where the op allows them); every kernel screens all indices
# (vectorised, threaded) and raises IndexError before writing.  Accumulating kernels
# (index_add, scatter_add, embedding_backward) partition work only over outer / column ranges,
# never over the index axis, so duplicates accumulate in index order: deterministic, race-free.


cdef Py_ssize_t _find_bad(const int64_t* idx, Py_ssize_t m, int64_t n) noexcept nogil:
    """Position of the first index outside [0, n), or -1."""
    cdef int bad = 0
    cdef Py_ssize_t c, j, lo
    cdef int nch = _nthreads if _par(m) else 1
    if m <= 0:
        return -1
    if nch > 1:
        for c in prange(nch, schedule='static', num_threads=nch):
            lo = _cb(m, c, nch)
            bad += df_idx_bad(idx + lo, _cb(m, c + 1, nch) - lo, n)
    else:
        bad = df_idx_bad(idx, m, n)
    if bad == 0:
        return -1
    for j in range(m):
        if idx[j] < 0 or idx[j] >= n:
            return j
    return -1


cdef int _check_idx(str fname, const int64_t* idx, Py_ssize_t m, int64_t n) except -1:
    cdef Py_ssize_t j
    with nogil:
        j = _find_bad(idx, m, n)
    if j >= 0:
        raise IndexError(f"{fname}: index {idx[j]} is out of bounds for dimension with size {n}"
                         f" (at position {j})")
    return 0


cdef inline void _isel_rows(const copyable* x, const int64_t* idx, copyable* y, Py_ssize_t j0,
                            Py_ssize_t j1, Py_ssize_t inner) noexcept nogil:
    cdef Py_ssize_t j
    if inner == 1:
        for j in range(j0, j1):
            y[j] = x[idx[j]]
    else:
        for j in range(j0, j1):
            memcpy(y + j * inner, x + idx[j] * inner, inner * sizeof(copyable))


def index_select(const copyable[:, :, ::1] x, const int64_t[::1] idx, copyable[:, :, ::1] out):
    """out[o, j, :] = x[o, idx[j], :] (torch.index_select / take along one axis)."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2], k = idx.shape[0]
    cdef Py_ssize_t o, c, lo
    _check3("index_select", "out", outer, k, inner, out.shape[0], out.shape[1], out.shape[2])
    if k > 0:
        _check_idx("index_select", &idx[0], k, n)
    if outer * k * inner == 0:
        return
    cdef const copyable* xp = &x[0, 0, 0]
    cdef const int64_t* ip = &idx[0]
    cdef copyable* yp = &out[0, 0, 0]
    cdef bint par = _par(outer * k * inner)
    cdef int nt = _nthreads
    if par and outer < nt:
        for c in prange(nt, nogil=True, schedule='static', num_threads=nt):
            lo = _cb(k, c, nt)
            for o in range(outer):
                _isel_rows(xp + o * n * inner, ip, yp + o * k * inner, lo, _cb(k, c + 1, nt),
                           inner)
    elif par:
        for o in prange(outer, nogil=True, schedule='static', num_threads=nt):
            _isel_rows(xp + o * n * inner, ip, yp + o * k * inner, 0, k, inner)
    else:
        with nogil:
            for o in range(outer):
                _isel_rows(xp + o * n * inner, ip, yp + o * k * inner, 0, k, inner)


cdef inline void _iadd_item(Py_ssize_t w, Py_ssize_t ntile, Py_ssize_t tw, numeric* y,
                            const int64_t* idx, const numeric* src, numeric a, Py_ssize_t n,
                            Py_ssize_t k, Py_ssize_t inner) noexcept nogil:
    cdef Py_ssize_t o = w // ntile, i0 = (w % ntile) * tw, j, i
    cdef Py_ssize_t wd = tw if inner - i0 > tw else inner - i0
    cdef numeric* d
    cdef const numeric* s
    for j in range(k):
        d = y + (o * n + idx[j]) * inner + i0
        s = src + (o * k + j) * inner + i0
        for i in range(wd):
            d[i] = d[i] + a * s[i]


def index_add(numeric[:, :, ::1] out, const int64_t[::1] idx, const numeric[:, :, ::1] src,
              double alpha=1.0):
    """In place: out[o, idx[j], :] += alpha * src[o, j, :] (duplicates accumulate, in order)."""
    cdef Py_ssize_t outer = out.shape[0], n = out.shape[1], inner = out.shape[2]
    cdef Py_ssize_t k = idx.shape[0], w, ntile
    _check3("index_add", "src", outer, k, inner, src.shape[0], src.shape[1], src.shape[2])
    if k > 0:
        _check_idx("index_add", &idx[0], k, n)
    if outer * k * inner == 0:
        return
    cdef numeric a = <numeric>alpha
    cdef numeric* yp = &out[0, 0, 0]
    cdef const int64_t* ip = &idx[0]
    cdef const numeric* sp = &src[0, 0, 0]
    cdef bint par = _par(outer * k * inner)
    cdef int nt = _nthreads
    cdef Py_ssize_t tw = _tile_w(outer, inner, par)
    ntile = (inner + tw - 1) // tw
    if par:
        for w in prange(outer * ntile, nogil=True, schedule='static', num_threads=nt):
            _iadd_item(w, ntile, tw, yp, ip, sp, a, n, k, inner)
    else:
        with nogil:
            for w in range(outer * ntile):
                _iadd_item(w, ntile, tw, yp, ip, sp, a, n, k, inner)


cdef inline void _gather_rows(const copyable* x, const int64_t* idx, copyable* y, Py_ssize_t j0,
                              Py_ssize_t j1, Py_ssize_t inner) noexcept nogil:
    cdef Py_ssize_t j, i
    cdef const int64_t* ir
    cdef copyable* yr
    for j in range(j0, j1):
        ir = idx + j * inner
        yr = y + j * inner
        for i in range(inner):
            yr[i] = x[ir[i] * inner + i]


def gather(const copyable[:, :, ::1] x, const int64_t[:, :, ::1] idx, copyable[:, :, ::1] out):
    """out[o, j, i] = x[o, idx[o, j, i], i] (torch.gather along axis 1)."""
    cdef Py_ssize_t outer = x.shape[0], n = x.shape[1], inner = x.shape[2], k = idx.shape[1]
    cdef Py_ssize_t o, c, lo
    _check3("gather", "index", outer, k, inner, idx.shape[0], idx.shape[1], idx.shape[2])
    _check3("gather", "out", outer, k, inner, out.shape[0], out.shape[1], out.shape[2])
    if outer * k * inner == 0:
        return
    _check_idx("gather", &idx[0, 0, 0], outer * k * inner, n)
    cdef const copyable* xp = &x[0, 0, 0]
    cdef const int64_t* ip = &idx[0, 0, 0]
    cdef copyable* yp = &out[0, 0, 0]
    cdef bint par = _par(outer * k * inner)
    cdef int nt = _nthreads
    if par and outer < nt:
        for c in prange(nt, nogil=True, schedule='static', num_threads=nt):
            lo = _cb(k, c, nt)
            for o in range(outer):
                _gather_rows(xp + o * n * inner, ip + o * k * inner, yp + o * k * inner, lo,
                             _cb(k, c + 1, nt), inner)
    elif par:
        for o in prange(outer, nogil=True, schedule='static', num_threads=nt):
            _gather_rows(xp + o * n * inner, ip + o * k * inner, yp + o * k * inner, 0, k, inner)
    else:
        with nogil:
            for o in range(outer):
                _gather_rows(xp + o * n * inner, ip + o * k * inner, yp + o * k * inner, 0, k,
                             inner)


cdef inline void _scatter_tile(copyable* y, const int64_t* idx, const copyable* s, Py_ssize_t k,
                               Py_ssize_t inner, Py_ssize_t w, bint add) noexcept nogil:
    """y: (n, inner) slab at column i0; idx/s: (k, inner) slabs at column i0."""
    cdef Py_ssize_t j, i
    cdef const int64_t* ir
    cdef const copyable* sr
    for j in range(k):
        ir = idx + j * inner
        sr = s + j * inner
        if add:
            for i in range(w):
                y[ir[i] * inner + i] += sr[i]
        else:
            for i in range(w):
                y[ir[i] * inner + i] = sr[i]


cdef inline void _scatter_item(Py_ssize_t w, Py_ssize_t ntile, Py_ssize_t tw, copyable* y,
                               const int64_t* idx, const copyable* src, Py_ssize_t n,
                               Py_ssize_t k, Py_ssize_t inner, bint add) noexcept nogil:
    cdef Py_ssize_t o = w // ntile, i0 = (w % ntile) * tw
    cdef Py_ssize_t off = o * k * inner + i0
    _scatter_tile(y + o * n * inner + i0, idx + off, src + off, k, inner,
                  tw if inner - i0 > tw else inner - i0, add)


cdef int _scatter_entry(str fname, copyable[:, :, ::1] out, const int64_t[:, :, ::1] idx,
                        const copyable[:, :, ::1] src, bint add) except -1:
    cdef Py_ssize_t outer = out.shape[0], n = out.shape[1], inner = out.shape[2]
    cdef Py_ssize_t k = idx.shape[1], w, ntile
    _check3(fname, "index", outer, k, inner, idx.shape[0], idx.shape[1], idx.shape[2])
    _check3(fname, "src", outer, k, inner, src.shape[0], src.shape[1], src.shape[2])
    if outer * k * inner == 0:
        return 0
    _check_idx(fname, &idx[0, 0, 0], outer * k * inner, n)
    cdef copyable* yp = &out[0, 0, 0]
    cdef const int64_t* ip = &idx[0, 0, 0]
    cdef const copyable* sp = &src[0, 0, 0]
    cdef bint par = _par(outer * k * inner)
    cdef int nt = _nthreads
    cdef Py_ssize_t tw = _tile_w(outer, inner, par)
    ntile = (inner + tw - 1) // tw
    if par:
        for w in prange(outer * ntile, nogil=True, schedule='static', num_threads=nt):
            _scatter_item(w, ntile, tw, yp, ip, sp, n, k, inner, add)
    else:
        with nogil:
            for w in range(outer * ntile):
                _scatter_item(w, ntile, tw, yp, ip, sp, n, k, inner, add)
    return 0


def scatter(copyable[:, :, ::1] out, const int64_t[:, :, ::1] idx,
            const copyable[:, :, ::1] src):
    """In place: out[o, idx[o, j, i], i] = src[o, j, i] (duplicates: the last j wins)."""
    _scatter_entry("scatter", out, idx, src, False)


def scatter_add(numeric[:, :, ::1] out, const int64_t[:, :, ::1] idx,
                const numeric[:, :, ::1] src):
    """In place: out[o, idx[o, j, i], i] += src[o, j, i] (duplicates accumulate, in order)."""
    _scatter_entry("scatter_add", out, idx, src, True)


cdef inline void _emb_cols(const int64_t* idx, const floating* gout, floating* gw, Py_ssize_t m,
                           Py_ssize_t d, int64_t padding_idx, Py_ssize_t lo,
                           Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t r, i
    cdef floating* dst
    cdef const floating* s
    for r in range(m):
        if idx[r] == padding_idx:
            continue
        dst = gw + idx[r] * d
        s = gout + r * d
        for i in range(lo, hi):
            dst[i] = dst[i] + s[i]


def embedding_backward(const int64_t[::1] idx, const floating[:, ::1] gout,
                       floating[:, ::1] gweight, int64_t padding_idx=-1):
    """gweight[idx[r], :] += gout[r, :] for every r with idx[r] != padding_idx (padding_idx < 0:
    none).  Threads split the embedding columns, rows are accumulated in order (deterministic)."""
    cdef Py_ssize_t m = idx.shape[0], num = gweight.shape[0], d = gweight.shape[1]
    cdef Py_ssize_t c
    _check2("embedding_backward", "grad_output", m, d, gout.shape[0], gout.shape[1])
    if m > 0:
        _check_idx("embedding_backward", &idx[0], m, num)
    if m * d == 0:
        return
    cdef const int64_t* ip = &idx[0]
    cdef const floating* gp = &gout[0, 0]
    cdef floating* wp = &gweight[0, 0]
    cdef int nch = _nthreads if (_par(m * d) and d >= 32 * _nthreads) else 1
    if nch > 1:
        for c in prange(nch, nogil=True, schedule='static', num_threads=nch):
            _emb_cols(ip, gp, wp, m, d, padding_idx, _cb(d, c, nch), _cb(d, c + 1, nch))
    else:
        with nogil:
            _emb_cols(ip, gp, wp, m, d, padding_idx, 0, d)
