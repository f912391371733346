# cython: language_level=3
"""deepforge._core: threaded, typed-memoryview CPU kernels for the NumPy backend.

Conventions (the caller, backends/cpu.py, guarantees them):

* Every array argument is C-contiguous; outputs are caller-allocated and written in place.
* Float kernels accept float32 or float64 (the ``floating`` fused type; all float arguments of one
  call share the dtype); index arrays are int64.  Scans and the accumulating index kernels accept
  int64 as well (``numeric``) and the data-movement kernels (index_select/gather/scatter) also
  int32 and uint8 (view bool/int8 as uint8).  A dtype mismatch raises ValueError ("Buffer dtype
  mismatch") or TypeError ("No matching signature").
* Axis kernels take the input reshaped to 3-D ``(outer, n, inner)``: ``n`` is the reduced / scanned
  / indexed axis (or a contiguous run of axes), reductions write ``(outer, inner)``.
* Shape errors raise ValueError and index errors IndexError, naming the function, the offending
  index and the size, before anything is written.
* Work below ``PAR_MIN`` units runs serially without entering an OpenMP region (a parallel
  region costs microseconds even with a false if-clause); larger work is split over
  ``num_threads()`` threads with a static schedule.  Results never depend on the thread
  count except for float rounding of reductions split into chunks.
* The hot contiguous loops (exp family, row reductions, argmax, optimiser steps, Philox) are C
  helpers (``_core_simd.pxi``) built as AVX-512 / AVX2 / SSE2 clones on x86-64 Linux
  (``simd_dispatch()``); Cython does validation, tiling and threading.
"""

cimport cython
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY, NAN, log
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

ctypedef fused numeric:
    float
    double
    int64_t

ctypedef fused copyable:
    float
    double
    int64_t
    int32_t
    uint8_t

include "_core_simd.pxi"
include "_core_simd_decl.pxi"
include "_core_dispatch.pxi"

cdef enum:
    PAR_MIN = 1 << 21  # work units (~elements of a memory-bound pass) below which a kernel
                       # stays serial; exp-heavy kernels count 4 units per element.  With
                       # OMP_WAIT_POLICY=PASSIVE (backends/cpu) waking the sleeping threads
                       # costs ~70-100 us per region here, so two threads only beat one from
                       # ~2M elements of a relu/add-class pass (benchmarks/cpu_kernels.py)
    TILE = 4096       # max column-tile width of inner > 1 kernels (>= 16 KB contiguous runs)
    RBLK = 64         # rows accumulated in float32 before flushing into double accumulators
    ARGBLK = 512      # a single argmax row is split over threads only if n >= 2*threads*ARGBLK

cdef int _nthreads = df_omp_max_threads()
if _nthreads < 1:
    _nthreads = 1


def num_threads():
    """Number of threads the kernels use for large inputs."""
    return _nthreads


def set_num_threads(int n):
    """Set the number of threads used by every parallel kernel (n >= 1)."""
    global _nthreads
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _nthreads = n if DF_HAVE_OPENMP else 1


def have_openmp():
    """True when the extension was compiled with OpenMP."""
    return bool(DF_HAVE_OPENMP)


def simd_dispatch():
    """True when the C helpers carry AVX-512/AVX2/SSE2 clones selected at load time."""
    return bool(DF_SIMD_DISPATCH)


cdef inline bint _par(Py_ssize_t work) noexcept nogil:
    return _nthreads > 1 and work >= PAR_MIN


cdef inline Py_ssize_t _cb(Py_ssize_t n, Py_ssize_t c, Py_ssize_t nch) noexcept nogil:
    """Start of chunk c of nch over [0, n), aligned to 16 elements (no false sharing)."""
    if c >= nch:
        return n
    return (n * c // nch) & ~(<Py_ssize_t>15)


cdef inline Py_ssize_t _tile_w(Py_ssize_t outer, Py_ssize_t inner, bint par) noexcept nogil:
    """Column-tile width for inner > 1: rows are streamed in long contiguous runs (hardware
    prefetch; short strided runs are latency bound), split when there are few outer slabs so
    that every thread gets a tile."""
    cdef Py_ssize_t w = inner if inner < TILE else TILE, w2
    if par and outer < 2 * _nthreads:
        w2 = ((inner + _nthreads - 1) // _nthreads + 15) & ~(<Py_ssize_t>15)
        if w2 < w:
            w = w2
    return w if w > 0 else 1


cdef inline char* _scratch(bint par, Py_ssize_t nbytes) except NULL nogil:
    """Per-thread scratch: slot threadid() of a call starts at threadid() * nbytes."""
    return <char*>_alloc((_nthreads if par else 1) * nbytes)


cdef inline void* _alloc(Py_ssize_t nbytes) except NULL nogil:
    cdef void* p = malloc(nbytes if nbytes > 0 else 1)
    if p == NULL:
        with gil:
            raise MemoryError(f"deepforge._core: cannot allocate {nbytes} bytes")
    return p


cdef int _shape_error(str fname, str what, tuple expected, tuple got) except -1:
    raise ValueError(f"{fname}: expected {what} of shape {expected}, got {got}")


cdef inline int _check2(str fname, str what, Py_ssize_t a0, Py_ssize_t a1,
                        Py_ssize_t b0, Py_ssize_t b1) except -1:
    if a0 != b0 or a1 != b1:
        _shape_error(fname, what, (a0, a1), (b0, b1))
    return 0


cdef inline int _check3(str fname, str what, Py_ssize_t a0, Py_ssize_t a1, Py_ssize_t a2,
                        Py_ssize_t b0, Py_ssize_t b1, Py_ssize_t b2) except -1:
    if a0 != b0 or a1 != b1 or a2 != b2:
        _shape_error(fname, what, (a0, a1, a2), (b0, b1, b2))
    return 0


cdef inline int _check1(str fname, str what, Py_ssize_t a, Py_ssize_t b) except -1:
    if a != b:
        _shape_error(fname, what, (a,), (b,))
    return 0


# shared by the vision-layer kernels (_core_conv.pxi, _core_norm.pxi) -----------------------------
cdef enum:
    NN_PAR_MIN = 1 << 20  # memory-bound kernels: threads pay only for large inputs


cdef inline bint _par_nn(Py_ssize_t work) noexcept nogil:
    return _nthreads > 1 and work >= NN_PAR_MIN


include "_core_reduce.pxi"
include "_core_softmax.pxi"
include "_core_scan.pxi"
include "_core_index.pxi"
include "_core_elementwise.pxi"
include "_core_random.pxi"
include "_core_conv.pxi"
include "_core_norm.pxi"
include "_core_rnn.pxi"
