# cython: language_level=3, boundscheck=False, wraparound=False
"""Kernel launches for the OpenCL backend without pyopencl's per-call wrappers.

A small op on a CPU OpenCL device (PoCL) costs a few microseconds, and pyopencl's
``enqueue_nd_range_kernel`` spends about half of that outside the driver: it converts the size
tuples, creates an event and wraps it in a Python object that is released right away. The
backend never uses those events (an in-order queue orders everything, and waits go through
``queue.finish()``), so this module calls ``clSetKernelArg`` and ``clEnqueueNDRangeKernel``
directly on the handles pyopencl owns, with no event.

Nothing is linked at build time: ``bind`` receives the two entry points' addresses from the
OpenCL library pyopencl has loaded (``backends/opencl/fast_launch.py``), so the package builds
and imports on machines without OpenCL. Every function returns the OpenCL status code
(0 = success) and leaves raising to the caller, which knows the kernel's name.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_CheckBuffer, PyObject_GetBuffer
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t, uintptr_t

ctypedef int (*set_arg_fn)(void*, unsigned int, size_t, const void*) noexcept nogil
ctypedef int (*enqueue_fn)(void*, void*, unsigned int, const size_t*, const size_t*,
                           const size_t*, unsigned int, const void*, void*) noexcept nogil

cdef set_arg_fn _set_arg = NULL
cdef enqueue_fn _enqueue = NULL

# status the functions return before ``bind`` was called (CL_INVALID_OPERATION)
cdef int NOT_BOUND = -59
# status for a scalar type character this module does not pack (CL_INVALID_ARG_VALUE)
cdef int BAD_TYPECHAR = -50
# ``launch`` could not take these arguments (not an OpenCL status): use pyopencl's setter
NOT_HANDLED = 1


def bind(uintptr_t set_arg_address, uintptr_t enqueue_address) -> None:
    """Use the ``clSetKernelArg`` and ``clEnqueueNDRangeKernel`` found at these addresses."""
    global _set_arg, _enqueue
    _set_arg = <set_arg_fn>set_arg_address
    _enqueue = <enqueue_fn>enqueue_address


def is_bound() -> bool:
    return _set_arg != NULL and _enqueue != NULL


cdef inline int _set_mems(void* k, tuple pairs):
    """(index, pyopencl memory object) pairs, flattened, as kernel arguments."""
    cdef Py_ssize_t i
    cdef void* mem
    cdef int err = 0
    for i in range(0, len(pairs), 2):
        mem = <void*><uintptr_t>pairs[i + 1].int_ptr
        err = _set_arg(k, <unsigned int>pairs[i], sizeof(void*), &mem)
        if err:
            return err
    return 0


cdef int _set_scalar(void* k, unsigned int idx, object a, Py_UCS4 code) except? -1000:
    """One scalar argument of C type ``code`` (``l``/``L`` 64-bit, ``i``/``I`` 32-bit
    integers, ``f`` float, ``d`` double). Returns an OpenCL status, or NOT_HANDLED."""
    cdef int64_t l
    cdef uint64_t ul
    cdef int32_t n
    cdef uint32_t un
    cdef float f
    cdef double d
    if code == "f" or code == "d":
        try:
            if code == "f":
                f = a
                return _set_arg(k, idx, 4, &f)
            d = a
            return _set_arg(k, idx, 8, &d)
        except TypeError:
            return NOT_HANDLED
    if code != "l" and code != "L" and code != "i" and code != "I":
        return NOT_HANDLED
    try:
        a = a.__index__()
    except AttributeError:  # numpy bools and other integral values without __index__
        try:
            i = int(a)
        except (TypeError, ValueError, OverflowError):
            return NOT_HANDLED
        if i != a:  # never truncate
            return NOT_HANDLED
        a = i
    try:
        if code == "l":
            l = a
            return _set_arg(k, idx, 8, &l)
        if code == "L":
            ul = a
            return _set_arg(k, idx, 8, &ul)
        if code == "i":
            n = a
            return _set_arg(k, idx, 4, &n)
        un = a
        return _set_arg(k, idx, 4, &un)
    except OverflowError:
        return NOT_HANDLED


def set_scalars(uintptr_t kernel, tuple triples) -> int:
    """(index, struct type character, value) triples, flattened: ``b"l"`` (64-bit integer),
    ``b"i"`` (32-bit integer), ``b"f"`` (float) or ``b"d"`` (double)."""
    if _set_arg == NULL:
        return NOT_BOUND
    cdef void* k = <void*>kernel
    cdef Py_ssize_t i
    cdef int err
    for i in range(0, len(triples), 3):
        err = _set_scalar(k, <unsigned int>triples[i], triples[i + 2],
                          <Py_UCS4>(<bytes>triples[i + 1])[0])
        if err == NOT_HANDLED:
            return BAD_TYPECHAR
        if err:
            return err
    return 0


def run_1d(uintptr_t queue, uintptr_t kernel, size_t gsize, size_t lsize, tuple mems) -> int:
    """Set the memory arguments ``mems`` ((index, buffer) pairs, flattened) and enqueue a
    1-D range: the launch plans' whole per-call work."""
    if _enqueue == NULL:
        return NOT_BOUND
    cdef void* k = <void*>kernel
    cdef int err = _set_mems(k, mems)
    if err:
        return err
    return _enqueue(<void*>queue, k, 1, NULL, &gsize, &lsize, 0, NULL, NULL)


def enqueue(uintptr_t queue, uintptr_t kernel, object gsize, object lsize) -> int:
    """Enqueue a kernel whose arguments are already set, over ``gsize`` (1 to 3 dims) with
    work-group size ``lsize`` (a sequence of the same length, or None for the driver's choice)."""
    if _enqueue == NULL:
        return NOT_BOUND
    cdef size_t g[3]
    cdef size_t l[3]
    cdef unsigned int dims = <unsigned int>len(gsize)
    cdef unsigned int i
    if dims < 1 or dims > 3 or (lsize is not None and len(lsize) != dims):
        return -53  # CL_INVALID_WORK_DIMENSION
    for i in range(dims):
        g[i] = gsize[i]
        if lsize is not None:
            l[i] = lsize[i]
    return _enqueue(<void*>queue, <void*>kernel, dims, NULL, g,
                    l if lsize is not None else NULL, 0, NULL, NULL)


cdef int _set_any(void* k, unsigned int idx, object a, str code) except? -1000:
    """One argument by its code: ``o`` a memory object, None (a null buffer) or a host buffer
    passed by value (a numpy struct); otherwise a scalar (see ``_set_scalar``). Returns an
    OpenCL status, or NOT_HANDLED."""
    cdef void* mem
    cdef Py_buffer view
    cdef int err
    if code != "o":
        return _set_scalar(k, idx, a, code[0])
    if a is None:
        return _set_arg(k, idx, sizeof(void*), NULL)
    ptr = getattr(a, "int_ptr", None)
    if ptr is not None:
        mem = <void*><uintptr_t>ptr
        return _set_arg(k, idx, sizeof(void*), &mem)
    if PyObject_CheckBuffer(a):
        PyObject_GetBuffer(a, &view, PyBUF_SIMPLE)
        err = _set_arg(k, idx, <size_t>view.len, view.buf)
        PyBuffer_Release(&view)
        return err
    return NOT_HANDLED


def launch(uintptr_t queue, uintptr_t kernel, object gsize, object lsize, tuple args,
           tuple codes) -> int:
    """Set every argument of ``kernel`` from ``args`` by ``codes`` (one per argument, see
    ``_set_any``) and enqueue it like ``enqueue``. Returns an OpenCL status, or NOT_HANDLED
    (nothing enqueued) for arguments it does not know how to pass."""
    if _enqueue == NULL:
        return NOT_BOUND
    cdef Py_ssize_t i, count = len(args)
    cdef void* k = <void*>kernel
    cdef int err
    if count != len(codes):
        return NOT_HANDLED
    for i in range(count):
        err = _set_any(k, <unsigned int>i, args[i], <str>codes[i])
        if err:
            return err
    return enqueue(queue, kernel, gsize, lsize)
