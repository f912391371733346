"""Launch plans: the OpenCL backend's per-op fast path for small tensors.

On PoCL a 1-element op costs a few microseconds in the driver's enqueue alone, so the Python
around it must be short. pyopencl's generated invoker sets every argument on every call; a
``Plan`` instead owns a kernel object of its own (per launch site and thread, made by
``Runtime.plan``) whose constant arguments (op code, mode, fixed offsets) are set once, and a
launch sets only the buffers and the scalars that changed since the previous one. Kernel
arguments keep their values once a launch has captured them (OpenCL copies them at enqueue),
so reusing the object is safe as long as no other thread sets its arguments in between, which
the per-thread caches guarantee.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Plan", "LONG", "AVAILABLE"]

# struct typechar of an OpenCL ``long`` for ``Kernel._set_arg_buf_pack_multi``, which knows C
# types only: plans are used where C ``long`` is 64 bits (not on Windows, which keeps the
# general path)
LONG = b"l"
AVAILABLE = np.dtype("l").itemsize == 8


class Plan:
    """A kernel object private to one launch site and thread, the launch sizes it needs per
    item count, and the scalar arguments of its last launch."""

    __slots__ = ("rt", "queue", "kernel", "name", "sizes", "last", "data", "_enqueue",
                 "_direct", "_queue_ptr", "_kernel_ptr", "batch", "key")

    def __init__(self, rt, kernel):
        import pyopencl._cl as _cl

        from .fast_launch import launcher

        self.rt = rt
        self.key = None  # its key in rt.tls.kernels (set by Runtime.plan)
        self.queue = rt._queue
        self.batch = rt.batch
        self.kernel = kernel
        self.name = kernel.function_name
        self.sizes: dict = {}  # n -> (global size, local size)
        self.last = None
        self.data = None  # the launch site's own per-plan constants
        # positional calls into the binding: the invoker's own enqueue without its frame
        self._enqueue = _cl.enqueue_nd_range_kernel
        # direct clSetKernelArg/clEnqueueNDRangeKernel calls (fast_launch.py), when available
        self._direct = launcher()
        self._queue_ptr = rt._queue.int_ptr
        self._kernel_ptr = kernel.int_ptr

    def run(self, n: int, bufs: tuple, ints: tuple, more: tuple | None = None) -> None:
        """Launch over ``n`` items (sized like ``rt.range_1d(n)``): ``bufs`` are (index,
        buffer) pairs, ``ints`` and ``more`` (index, struct typechar, value) triples, all
        flattened. ``ints`` (integers only) equal to the previous launch's are not set again;
        ``more`` always is (equal floats can differ in bits: 0.0 and -0.0)."""
        gl = self.sizes.get(n)
        if gl is None:
            gl = self._sizes(n)
        if self.batch is not None:  # see batching.py: one work-group is small, more is large
            self.batch.admit(gl[0][0] <= gl[1][0])
        direct = self._direct
        if direct is not None:
            kp = self._kernel_ptr
            if ints != self.last:
                self.last = None
                self._check(direct.set_scalars(kp, ints), None)
                self.last = ints
            if more is not None:
                self._check(direct.set_scalars(kp, more), None)
            err = direct.run_1d(self._queue_ptr, kp, gl[0][0], gl[1][0], bufs)
            if err:
                self._check(err, gl)
            if self.rt.sync:
                self.rt.sync_after_launch(self.name)
            return
        k = self.kernel
        k._set_arg_multi(bufs)
        if ints != self.last:
            k._set_arg_buf_pack_multi(ints)
            self.last = ints
        if more is not None:
            k._set_arg_buf_pack_multi(more)
        try:
            self._enqueue(self.queue, k, gl[0], gl[1])
        except Exception as e:
            self._discard()
            rt = self.rt
            raise RuntimeError(
                f"OpenCL kernel {self.name} failed to launch on {rt.name} "
                f"(global size {gl[0]}, local size {gl[1]}): {e}"
            ) from None
        if self.rt.sync:
            self.rt.sync_after_launch(self.name)

    def _check(self, status: int, gl: tuple | None) -> None:
        """Raise for a failed direct call (``status`` is an OpenCL status code, 0 = success)."""
        if not status:
            return
        from .fast_launch import status_name

        self._discard()
        where = "" if gl is None else f" (global size {gl[0]}, local size {gl[1]})"
        what = "launch" if gl is not None else "take its arguments"
        raise RuntimeError(
            f"OpenCL kernel {self.name} failed to {what} on {self.rt.name}{where}: "
            f"{status_name(status)}"
        )

    def _discard(self) -> None:
        """After a failed call, which may have left any argument half set (the constant ones
        set at creation included): the plan is dropped from the cache, so the launch site
        builds a fresh one next time."""
        self.last = None
        kernels = self.rt.tls.kernels
        if self.key is not None and kernels.get(self.key) is self:
            del kernels[self.key]

    def _sizes(self, n: int) -> tuple:
        rt = self.rt
        g, lsize = rt.range_1d(n)
        lim = rt._wg_limits.get(self.kernel) or rt._wg_limit(self.kernel)
        if lsize[0] > lim:  # keep the number of groups, shrink them (as Runtime.launch does)
            ls = 1 << (lim.bit_length() - 1)
            g, lsize = (g[0] // lsize[0] * ls,), (ls,)
        if len(self.sizes) >= 256:  # a few item counts recur in practice; bound them anyway
            self.sizes.clear()
        self.sizes[n] = (g, lsize)
        return g, lsize
