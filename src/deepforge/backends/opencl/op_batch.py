"""Recorded small ops: many small elementwise ops in one kernel launch, on CPU devices.

Command batching (``batching.py``) stops PoCL's worker threads from waking once per command,
but every op is still a driver command, and PoCL's ``clEnqueueNDRangeKernel`` alone takes
about 2.5 us for a three-buffer kernel on this class of machine, more than the CPU backend's
whole 1-element add. The recorder removes that cost from the ops eager code issues most
often at small sizes: contiguous unary ops and binary ops with an array or a Python number on
each side. Instead of a launch, such an op appends a record (op code, sizes, offsets, the
scalar's bits) to a host-side program; the buffers it touches get slots, one kernel argument
each. A flush uploads the program and launches ``ew_batch`` (``opencl/elementwise.cl``), whose
single work-item runs the records in order with the same expressions as the per-op kernels, so
the results are bit for bit those of a launch per op.

Ordering: the batcher flushes the recorder before it admits any other command and before
anything waits on the queue, so recorded ops take their place in the in-order queue exactly
where their launches would have. A flush in flight (its batch taken, its launch not yet
enqueued) makes every other thread's command wait for it.

Buffers: a slot holds a retained ``cl_mem``, released once the batch's launch is enqueued
(OpenCL then keeps the buffer alive until the kernel is done). A tensor may die right after a
record that reads it: its buffer goes back to the pool, possibly to be handed out again, and
may even be freed by ``empty_cache``; the retained handle keeps the memory valid, and anything
else that writes the buffer is a command, which flushes the records first. The one write that
does not is the batch's own program upload, so programs go to a buffer of the recorder's own,
never a pooled one. A batch ends at ``MAX_OPS`` records, at ``SLOTS`` distinct buffers or when
the dtype changes (``ew_batch`` is built per dtype).

Threads: ``OpLog.record`` calls no Python code once it has read the buffers' handles, so
under the GIL records never interleave.
"""

from __future__ import annotations

import os
import struct
import threading

import numpy as np

from .desc import topt

__all__ = ["OpRecorder", "MAX_ITEMS", "recorder_for"]

# the largest op recorded: bigger ones gain little from sharing a launch, and a batch runs on
# one work-item
MAX_ITEMS = 4096
_PACK_F = struct.Struct("<f")
_UNPACK_I = struct.Struct("<I")
_PACK_D = struct.Struct("<d")
_UNPACK_Q = struct.Struct("<q")


def _scalar_bits(dtype: np.dtype, value) -> int:
    """The 64 bits ``OB_SCALAR`` in elementwise.cl decodes: a float's bits in the compute type
    (float for float16/32, double for float64), an integer as a signed 64-bit value."""
    if dtype.kind == "f":
        if dtype.itemsize == 8:
            return _UNPACK_Q.unpack(_PACK_D.pack(value))[0]
        return _UNPACK_I.unpack(_PACK_F.pack(value))[0]
    v = int(value)
    return v - (1 << 64) if v >= 1 << 63 else v


def recorder_for(rt):
    """An ``OpRecorder`` for a runtime whose small commands are batched, or None: no batching,
    ``DEEPFORGE_OPENCL_RECORD=0``, or no direct launch path (the recorder's log is kept in
    ``deepforge._cl_launch``)."""
    from .fast_launch import launcher

    if rt.batch is None or os.environ.get("DEEPFORGE_OPENCL_RECORD", "1") == "0":
        return None
    direct = launcher()
    if direct is None or not direct.is_bound():
        return None
    return OpRecorder(rt, direct)


class OpRecorder:
    """The records of one command queue (see the module docstring). The records live in a
    C ``OpLog``; ``lock`` is held from taking a batch until its launch is enqueued."""

    __slots__ = ("rt", "batch", "log", "lock", "_direct", "_kernels", "_prog")

    def __init__(self, rt, direct):
        self.rt = rt
        self.batch = rt.batch
        self._direct = direct
        self.log = direct.OpLog()
        self.lock = threading.Lock()
        self._kernels: dict = {}  # dtype -> ew_batch kernel object of the recorder's own
        self._prog = None

    @property
    def count(self) -> int:
        """Records pending."""
        return self.log.count

    def _takes(self, n: int) -> bool:
        """Whether an op over ``n`` items is recorded: not big ones, and not the first small
        op after the queue went idle, which goes out at once (batching.py), so an op then
        ``.item()`` is one launch and no program upload."""
        if n > MAX_ITEMS:
            return False
        batch = self.batch
        return batch.gate is not None or batch._primed

    def unary(self, dtype, code: int, n: int, out, x, xo: int) -> bool:
        """Record out[:n] = op(x[xo:xo + n]) (``code`` as ew_unary_c's ``op``); False when
        the op is to be launched instead."""
        if not self._takes(n):
            return False
        head = code << 8
        log = self.log
        while not log.record(dtype, head, n, out, x, xo, None, 0, 0):
            self.flush()
        return True

    def binary(
        self, dtype, code: int, mode: int, n: int, out, a, ao: int, b, bo: int, scalar
    ) -> bool:
        """Record out[:n] = op(a, b) (mode and ``code`` as ew_binary_c's; with mode 1 or 2,
        ``a``/``b`` is the array operand passed twice and ``scalar`` the number); False when
        the op is to be launched instead."""
        if not self._takes(n):
            return False
        bits = 0 if mode == 0 else _scalar_bits(dtype, scalar)
        head = (1 + mode) | code << 8
        log = self.log
        while not log.record(dtype, head, n, out, a, ao, b, bo, bits):
            self.flush()
        return True

    def flush(self) -> None:
        """Enqueue the pending records as one launch (nothing when there are none): the
        program's upload and the launch go straight to the batcher's gate, not through
        ``admit``, which would flush again."""
        with self.lock:
            log = self.log
            if not log.count:
                return
            dtype = log.dtype
            host, count, slots = log.take()
            rt, batch, direct = self.rt, self.batch, self._direct
            try:
                kernel = self._kernel(dtype)
                prog = self._program_buffer()
                rt._prune_uploads()
                batch.admit_unrecorded(True)
                ev = rt.cl.enqueue_copy(rt._queue, prog, host, is_blocking=False)
                rt._uploads.append((ev, host))  # kept alive until the copy is done
                batch.admit_unrecorded(True)
            except BaseException:
                direct.release_handles(slots)
                log.busy = False
                raise
            try:
                status = direct.launch_batch(rt.queue_ptr, kernel.int_ptr, prog, count, slots)
            finally:
                log.busy = False
        if status:
            from .fast_launch import status_name

            raise RuntimeError(
                f"OpenCL kernel ew_batch ({count} recorded {dtype} ops) failed to launch on "
                f"{rt.name}: {status_name(status)}"
            )

    def _program_buffer(self):
        """The buffer the programs are uploaded to. Never from the pool: a pooled buffer can
        be one that a pending record still reads (its tensor died after the record), and the
        upload, which runs before the batch, would overwrite it. One buffer serves every
        batch: the queue is in order, so a batch's upload waits for the previous batch."""
        buf = self._prog
        if buf is None:
            rt = self.rt
            buf = self._prog = rt.cl.Buffer(rt.ctx, rt.cl.mem_flags.READ_ONLY,
                                            self._direct.MAX_OPS * self._direct.WORDS * 8)
        return buf

    def _kernel(self, dtype):
        kernel = self._kernels.get(dtype)
        if kernel is None:
            rt = self.rt
            kernel = rt.cl.Kernel(rt.build("elementwise.cl", topt(dtype)), "ew_batch")
            self._kernels[dtype] = kernel
        return kernel
