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
from libc.string cimport memcpy

ctypedef int (*mem_ref_fn)(void*) noexcept nogil
ctypedef int (*set_arg_fn)(void*, unsigned int, size_t, const void*) noexcept nogil
ctypedef int (*enqueue_fn)(void*, void*, unsigned int, const size_t*, const size_t*,
                           const size_t*, unsigned int, const void*, void*) noexcept nogil

cdef set_arg_fn _set_arg = NULL
cdef enqueue_fn _enqueue = NULL
cdef mem_ref_fn _retain = NULL
cdef mem_ref_fn _release = NULL

# status the functions return before ``bind`` was called (CL_INVALID_OPERATION)
cdef int NOT_BOUND = -59
# status for a scalar type character this module does not pack (CL_INVALID_ARG_VALUE)
cdef int BAD_TYPECHAR = -50
# ``launch`` could not take these arguments (not an OpenCL status): use pyopencl's setter
NOT_HANDLED = 1


def bind(uintptr_t set_arg_address, uintptr_t enqueue_address, uintptr_t retain_address,
         uintptr_t release_address) -> None:
    """Use the ``clSetKernelArg``, ``clEnqueueNDRangeKernel``, ``clRetainMemObject`` and
    ``clReleaseMemObject`` found at these addresses."""
    global _set_arg, _enqueue, _retain, _release
    _set_arg = <set_arg_fn>set_arg_address
    _enqueue = <enqueue_fn>enqueue_address
    _retain = <mem_ref_fn>retain_address
    _release = <mem_ref_fn>release_address


def is_bound() -> bool:
    return _set_arg != NULL and _enqueue != NULL and _retain != NULL and _release != NULL


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


# -- recorded small ops (backends/opencl/op_batch.py) ----------------------------------------
cdef enum:
    LOG_SLOTS = 64  # buffer arguments of ew_batch (opencl/elementwise.cl)
    LOG_OPS = 256  # records per launch
    LOG_WORDS = 6  # longs per record (OB_WORDS)

SLOTS, MAX_OPS, WORDS = LOG_SLOTS, LOG_OPS, LOG_WORDS


cdef class OpLog:
    """The pending records of one queue's recorder, kept in C.

    A record names its buffers by slot; a slot holds a retained ``cl_mem``, so a buffer that
    returns to the pool (or is freed by it) while a record names it stays valid until the
    launch, and a buffer the pool hands out again keeps its slot. ``record`` runs under the
    GIL and calls no Python code, so records from several threads never interleave; ``take``
    hands a whole batch over to one flush.
    """

    cdef int64_t words[LOG_OPS * LOG_WORDS]
    cdef void* mems[LOG_SLOTS]
    cdef readonly int count
    cdef readonly int nslots
    cdef readonly object dtype
    # a batch was taken and its launch is not enqueued yet: commands must wait for it
    cdef public bint busy

    def __dealloc__(self):
        cdef int i
        if _release != NULL:
            for i in range(self.nslots):
                _release(self.mems[i])

    cdef int64_t _slot(self, void* m) noexcept:
        cdef int i
        for i in range(self.nslots):
            if self.mems[i] == m:
                return i
        _retain(m)
        self.mems[self.nslots] = m
        self.nslots += 1
        return self.nslots - 1

    def record(self, object dtype, int64_t head, int64_t n, object out, object a, int64_t ao,
               object b, int64_t bo, int64_t bits) -> bool:
        """Append out[:n] = op(a[ao:], b[bo:]) (``head``: kind | op << 8; ``b`` None for a
        unary op); False, with nothing recorded, when the batch is full or of another dtype
        (the caller flushes and records again)."""
        if _retain == NULL:  # never retried: the caller's flush could not make room for it
            raise RuntimeError("deepforge._cl_launch is not bound to an OpenCL library")
        # the handles first: reading them may run Python code (and so switch threads)
        cdef void* mo = <void*><uintptr_t>out.int_ptr
        cdef void* ma = <void*><uintptr_t>a.int_ptr
        cdef void* mb = ma if (b is None or b is a) else <void*><uintptr_t>b.int_ptr
        # from here on nothing calls into Python, so no other thread records in between
        if self.count and (self.count == LOG_OPS or dtype is not self.dtype
                           or self.nslots + 3 > LOG_SLOTS):
            return False
        if dtype is not self.dtype:
            self.dtype = dtype
        cdef int64_t so = self._slot(mo)
        cdef int64_t sa = self._slot(ma)
        cdef int64_t sb = sa if mb == ma else self._slot(mb)
        cdef int64_t* w = &self.words[self.count * LOG_WORDS]
        w[0] = head | so << 16 | sa << 24 | sb << 32
        w[1] = n
        w[2] = 0
        w[3] = ao
        w[4] = bo
        w[5] = bits
        self.count += 1
        return True

    def take(self):
        """(program, count, slots) of the pending batch, which is emptied: the program a new
        int64 array, the slots the retained ``cl_mem`` handles as integers, which
        ``launch_batch`` releases. ``busy`` is set until the caller has enqueued the batch."""
        import numpy as np

        # allocated before the state is read: allocating may run Python code (a garbage
        # collection), and so let another thread record in between
        prog = np.empty(LOG_OPS * LOG_WORDS, np.int64)
        cdef int64_t[::1] view = prog
        cdef void* mems[LOG_SLOTS]
        cdef int i
        # from here to the reset nothing calls into Python
        cdef int count = self.count
        cdef int nslots = self.nslots
        memcpy(&view[0], self.words, count * LOG_WORDS * sizeof(int64_t))
        memcpy(mems, self.mems, nslots * sizeof(void*))
        self.count = 0
        self.nslots = 0
        self.busy = True
        slots = tuple([<uintptr_t>mems[i] for i in range(nslots)])
        return prog[: count * LOG_WORDS], count, slots


def launch_batch(uintptr_t queue, uintptr_t kernel, object prog, int count,
                 tuple slots) -> int:
    """Set ew_batch's arguments (the program buffer, the record count, the slots' buffers and
    null for the unused ones), enqueue one work-item and release the slots' handles (the
    enqueued command keeps them alive). Returns an OpenCL status."""
    cdef void* k = <void*>kernel
    cdef void* mem = <void*><uintptr_t>prog.int_ptr
    cdef void* m
    cdef size_t one = 1
    cdef int i, err
    cdef int n = len(slots)
    err = _set_arg(k, 0, sizeof(void*), &mem)
    if not err:
        err = _set_arg(k, 1, sizeof(int), &count)
    for i in range(LOG_SLOTS):
        if err:
            break
        if i < n:
            m = <void*><uintptr_t>slots[i]
            err = _set_arg(k, 2 + i, sizeof(void*), &m)
        else:
            err = _set_arg(k, 2 + i, sizeof(void*), NULL)
    if not err:
        err = _enqueue(<void*>queue, k, 1, NULL, &one, &one, 0, NULL, NULL)
    for i in range(n):
        _release(<void*><uintptr_t>slots[i])
    return err


def release_handles(tuple slots) -> None:
    """Release the handles ``OpLog.take`` returned, for a batch that will not be launched."""
    cdef Py_ssize_t i
    for i in range(len(slots)):
        _release(<void*><uintptr_t>slots[i])
