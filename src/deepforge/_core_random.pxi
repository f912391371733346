# Counter-based Philox4x32-10 random numbers, bit-identical to the OpenCL kernels:
# element i of a call with (seed, offset) uses counter (lo32(i), hi32(i), lo32(offset),
# hi32(offset)) and key (lo32(seed), hi32(seed)), giving words r0..r3.
#   philox_bits:    r0
#   philox_uniform: float32 (r0 >> 8) * 2^-24; float64 ((r0 >> 5) * 2^26 + (r1 >> 6)) * 2^-53
#   philox_normal:  Box-Muller in double: sqrt(-2 log(1 - U53(r0, r1))) * cos(2 pi U53(r2, r3))
# Results do not depend on the thread count.


cdef inline int _rng_chunks(Py_ssize_t n, int weight) noexcept nogil:
    return _nthreads if _par(n * weight) else 1


def philox_bits(uint64_t seed, uint64_t offset, uint32_t[::1] out):
    """out[i] = r0 of philox4x32_10((i, offset), seed)."""
    cdef Py_ssize_t n = out.shape[0], c, lo
    if n == 0:
        return
    cdef uint32_t* op = &out[0]
    cdef int nch = _rng_chunks(n, 4)
    if nch > 1:
        for c in prange(nch, nogil=True, schedule='static', num_threads=nch):
            lo = _cb(n, c, nch)
            df_philox_bits(seed, offset, <uint64_t>lo, op + lo, _cb(n, c + 1, nch) - lo)
    else:
        with nogil:
            for c in range(1):
                lo = _cb(n, c, nch)
                df_philox_bits(seed, offset, <uint64_t>lo, op + lo, _cb(n, c + 1, nch) - lo)


def philox_uniform(uint64_t seed, uint64_t offset, floating[::1] out):
    """Uniform [0, 1) floats (24-bit float32, 53-bit float64) from the Philox stream."""
    cdef Py_ssize_t n = out.shape[0], c, lo
    if n == 0:
        return
    cdef floating* op = &out[0]
    cdef int nch = _rng_chunks(n, 4)
    if nch > 1:
        for c in prange(nch, nogil=True, schedule='static', num_threads=nch):
            lo = _cb(n, c, nch)
            if floating is float:
                df_philox_uniform_f(seed, offset, <uint64_t>lo, op + lo, _cb(n, c + 1, nch) - lo)
            else:
                df_philox_uniform_d(seed, offset, <uint64_t>lo, op + lo, _cb(n, c + 1, nch) - lo)
    else:
        with nogil:
            for c in range(1):
                lo = _cb(n, c, nch)
                if floating is float:
                    df_philox_uniform_f(seed, offset, <uint64_t>lo, op + lo, _cb(n, c + 1, nch) - lo)
                else:
                    df_philox_uniform_d(seed, offset, <uint64_t>lo, op + lo, _cb(n, c + 1, nch) - lo)


def philox_normal(uint64_t seed, uint64_t offset, floating[::1] out):
    """Standard normal samples (Box-Muller, computed in double, cast to out's dtype)."""
    cdef Py_ssize_t n = out.shape[0], c, lo
    if n == 0:
        return
    cdef floating* op = &out[0]
    cdef int nch = _rng_chunks(n, 16)
    if nch > 1:
        for c in prange(nch, nogil=True, schedule='static', num_threads=nch):
            lo = _cb(n, c, nch)
            if floating is float:
                df_philox_normal_f(seed, offset, <uint64_t>lo, op + lo, _cb(n, c + 1, nch) - lo)
            else:
                df_philox_normal_d(seed, offset, <uint64_t>lo, op + lo, _cb(n, c + 1, nch) - lo)
    else:
        with nogil:
            for c in range(1):
                lo = _cb(n, c, nch)
                if floating is float:
                    df_philox_normal_f(seed, offset, <uint64_t>lo, op + lo, _cb(n, c + 1, nch) - lo)
                else:
                    df_philox_normal_d(seed, offset, <uint64_t>lo, op + lo, _cb(n, c + 1, nch) - lo)


def _log_cos2pi(double x, double t):
    """Test hook: the vectorised log(x) and cos(2*pi*t) used by philox_normal."""
    return df_log_ool(x), df_cos2pi_ool(t)
