"""OpenCL runtime: one context/queue per device, program and kernel caches, the memory pool,
and kernel launches. Which devices are usable is ``discovery.devices()``; ``get_runtime(i)``
makes the runtime of device ``i`` on first use.

The ``Runtime`` object is what kernels are launched through; other modules (the GEMM module
included) rely on exactly these members:

``rt.ctx``, ``rt.queue``, ``rt.device``
    the ``pyopencl`` context, in-order command queue and device. On CPU devices small
    commands are enqueued in batches (``batching.py``): ``rt.queue`` lets every held command
    go first, so it may be waited on; backend code that blocks on the queue does so inside
    ``with rt.blocking():``.
``rt.build(filename, options="") -> pyopencl.Program``
    builds ``opencl/<filename>`` (or an absolute path) once per (file, options) and caches
    the program; ``#include "x.h"`` lines are spliced in from the same directory. The
    runtime's own options (``-DDF_CPU`` on CPU devices, ``-cl-std=CL1.2``, correctly rounded
    float division where the device has it, and ``DEEPFORGE_OPENCL_BUILD_OPTIONS``) are
    appended. Failures raise ``RuntimeError``
    naming the file and options, with the build log.
``rt.kernel(filename, name, options="", scalar_dtypes=None) -> pyopencl.Kernel``
    a cached kernel object (created once per thread with ``pyopencl.Kernel(program, name)``);
    ``scalar_dtypes`` is handed to ``set_scalar_arg_dtypes`` on creation.
``rt.launch(kernel, global_size, local_size, *args)``
    enqueues a kernel (never waits, unless ``DEEPFORGE_OPENCL_SYNC=1``), naming the kernel in
    any error.
``rt.plan(key, filename, name, options, fixed) -> Plan``
    the per-op fast path (``plan.py``): a kernel object of its own per (key, thread) whose
    constant arguments ``fixed`` are set once; ``plan.run(n, bufs, ints, more)`` sets the
    rest and enqueues. ``rt.tls.kernels.get(key)`` looks a plan up without a call.
``rt.recorder``
    on CPU devices (None elsewhere), the ``OpRecorder`` (``op_batch.py``) that the
    elementwise fast paths hand small contiguous unary and binary ops to instead of
    launching them; every other command and every wait flushes it first.
``rt.index_checks``
    the ``DeferredIndexChecks`` (``index_checks.py``): index bounds checks recorded by a kernel
    and raised by ``rt.download``/``rt.finish`` after they wait.
``rt.tls``
    this thread's kernel objects and plans: a kernel object is never shared between threads,
    since setting its arguments and enqueueing it are two steps another thread could come
    between (threads may launch concurrently; programs, buffers and the queue are shared).
``rt.alloc(nbytes) -> buffer``
    a pool-backed buffer; out of memory frees the pool, retries once, then raises
    ``RuntimeError("OpenCL out of memory: ...")``.
``rt.is_cpu``, ``rt.max_work_group_size``, ``rt.compute_units``, ``rt.has_fp64``
    device facts used to size work. ``DEEPFORGE_OPENCL_DEVICE_TYPE=gpu`` (or ``cpu``) makes
    ``is_cpu`` lie, so the GPU kernel layouts can be tested on a CPU driver.
``rt.sync_after_launch(name)``
    call after a launch done by hand: with ``DEEPFORGE_OPENCL_SYNC=1`` it waits for the
    queue and raises ``RuntimeError`` naming the kernel if the device reported an error.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import warnings
from collections import deque
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from . import discovery
from .batching import CommandBatcher, batch_limit
from .discovery import InstallError, devices
from .fast_launch import arg_codes, launch_direct, launcher
from .index_checks import DeferredIndexChecks
from .op_batch import recorder_for
from .plan import Plan

log = logging.getLogger("deepforge.opencl")

__all__ = ["Runtime", "devices", "get_runtime", "kernel_dirs", "InstallError"]


def kernel_dirs() -> list[Path]:
    """Where kernel sources are looked up: the installed package's ``_opencl/`` first, then
    the repository's top-level ``opencl/`` (editable and source checkouts)."""
    here = Path(__file__).resolve()
    pkg = here.parents[2] / "_opencl"
    repo = here.parents[4] / "opencl"
    return [d for d in (pkg, repo) if d.is_dir()]


_runtimes: dict = {}


def get_runtime(index: int) -> Runtime:
    rt = _runtimes.get(index)
    if rt is not None:
        return rt
    with discovery.lock:
        devs = discovery.devices()
        if not devs:
            raise InstallError(discovery.unavailable_message())
        if not 0 <= index < len(devs):
            raise RuntimeError(
                f"Invalid device opencl:{index}: there are {len(devs)} usable OpenCL device(s) "
                f"(opencl:0 .. opencl:{len(devs) - 1})"
            )
        rt = _runtimes.get(index)
        if rt is None:
            d, ctx, queue = devs[index]
            rt = Runtime(index, d, ctx, queue)
            _runtimes[index] = rt
        return rt


def created_runtimes() -> list:
    return list(_runtimes.values())


def _items(size) -> int:
    n = 1
    for s in size:
        n *= s
    return n


# -------------------------------------------------------------------------------------------
# runtime
# -------------------------------------------------------------------------------------------
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"[ \t]*$', re.MULTILINE)


class _ThreadCaches(threading.local):
    """Kernel objects and plans of one thread. A launch sets a kernel object's arguments and
    then enqueues it, two steps another thread could slip between if it shared the object, so
    each thread gets its own (clEnqueueNDRangeKernel itself is thread-safe; clSetKernelArg on
    one kernel object from two threads is not). Programs, buffers and the queue are shared."""

    def __init__(self):
        self.kernels: dict = {}  # (file, name, options) -> Kernel; ("plan", ...) -> Plan
        self.typed: set = set()  # kernel keys whose scalar argument dtypes are set
        self.arg_codes: dict = {}  # typed kernel -> argument codes for the direct launcher


class Runtime:
    """One OpenCL device in use: context, queue, caches and memory pool (see module doc)."""

    def __init__(self, index, device, ctx, queue):
        import pyopencl as cl
        import pyopencl.tools as cl_tools

        self.cl = cl
        self.index = index
        self.device = device
        self.ctx = ctx
        self._queue = queue  # raw: code here never blocks on it outside ``blocking()``
        # direct clEnqueueNDRangeKernel calls (fast_launch.py), or None for pyopencl's
        self.direct = launcher()
        self.queue_ptr = queue.int_ptr
        self.name = device.name.strip()
        self.platform_name = device.platform.name.strip()
        self.is_cpu = bool(device.type & cl.device_type.CPU)
        forced = os.environ.get("DEEPFORGE_OPENCL_DEVICE_TYPE", "").strip().lower()
        if forced in ("cpu", "gpu"):  # run the other layout's kernels (testing aid)
            self.is_cpu = forced == "cpu"
        self.max_work_group_size = int(device.max_work_group_size)
        self.compute_units = int(device.max_compute_units)
        self.global_mem_size = int(device.global_mem_size)
        self.max_alloc_size = int(device.max_mem_alloc_size)
        self.local_mem_size = int(device.local_mem_size)
        exts = set(device.extensions.split())
        self.has_fp64 = "cl_khr_fp64" in exts or "cl_amd_fp64" in exts
        self.has_fp16 = "cl_khr_fp16" in exts
        self.has_int64_atomics = "cl_khr_int64_base_atomics" in exts
        self.sync = os.environ.get("DEEPFORGE_OPENCL_SYNC", "") not in ("", "0")
        # small commands held back and run in batches on CPU devices (batching.py)
        limit = batch_limit(bool(device.type & cl.device_type.CPU), self.sync)
        self.batch = CommandBatcher(cl, ctx, queue, limit) if limit else None
        # small elementwise ops recorded and run in batches where commands are batched
        self.recorder = recorder_for(self)
        if self.recorder is not None:
            self.batch.recorder, self.batch.log = self.recorder, self.recorder.log
        opts = ["-cl-std=CL1.2"]
        if self.is_cpu:
            opts.append("-DDF_CPU=1")
        fp = int(getattr(device, "single_fp_config", 0) or 0)
        if fp & int(cl.device_fp_config.CORRECTLY_ROUNDED_DIVIDE_SQRT):
            opts.append("-cl-fp32-correctly-rounded-divide-sqrt")
        extra = os.environ.get("DEEPFORGE_OPENCL_BUILD_OPTIONS", "").strip()
        if extra:  # e.g. -cl-opt-disable for debugging tools
            opts.append(extra)
        self.base_options = " ".join(opts)
        self._programs: dict = {}
        self.tls = _ThreadCaches()
        self._wg_limits: dict = {}
        self._sources: dict = {}
        self.build_count = 0
        # the allocator's enqueues never wait, so they may go behind a closed gate
        self._pool = cl_tools.MemoryPool(cl_tools.ImmediateAllocator(queue))
        self._alloc_errors = (cl.MemoryError, cl.LogicError, cl.RuntimeError)
        self.peak_bytes = 0
        self._uploads: deque = deque()  # (event, host array) of writes in flight, in order
        self._uploads_lock = threading.Lock()
        self._complete = cl.command_execution_status.COMPLETE
        self.index_checks = DeferredIndexChecks(self)

    def __repr__(self) -> str:
        return f"<OpenCL runtime opencl:{self.index} {self.name!r}>"

    @property
    def queue(self):
        """The command queue, with no command held back (see batching.py): code outside the
        backend may block on it."""
        if self.batch is not None:
            self.batch.release()
        return self._queue

    def blocking(self):
        """Context for a call that waits on the queue (see ``CommandBatcher.hold``)."""
        return nullcontext() if self.batch is None else self.batch.hold()

    # -- programs ------------------------------------------------------------------------------
    def source(self, filename: str) -> tuple[str, str]:
        """(path, text) of a kernel source with its ``#include "x.h"`` lines spliced in."""
        hit = self._sources.get(filename)
        if hit is not None:
            return hit
        p = Path(filename)
        if not p.is_absolute():
            for d in kernel_dirs():
                if (d / filename).is_file():
                    p = d / filename
                    break
            else:
                raise FileNotFoundError(
                    f"OpenCL kernel source {filename!r} not found in "
                    f"{', '.join(str(d) for d in kernel_dirs()) or '(no kernel directory)'}"
                )
        text = p.read_text()

        def splice(m, seen=set()):  # noqa: B006 - guards recursive includes of one splice
            inc = p.parent / m.group(1)
            if inc in seen:
                return ""
            seen.add(inc)
            return _INCLUDE.sub(splice, inc.read_text())

        text = _INCLUDE.sub(lambda m: splice(m, set()), text)
        self._sources[filename] = (str(p), text)
        return self._sources[filename]

    def build(self, filename: str, options: str = ""):
        key = (filename, options)
        prg = self._programs.get(key)
        if prg is not None:
            return prg
        path, text = self.source(filename)
        full = f"{options} {self.base_options}".strip()
        cl = self.cl
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prg = cl.Program(self.ctx, text).build(options=full)
        except cl.Error as e:
            raise RuntimeError(
                f"OpenCL build of {path} failed on {self.name} (options: {full or '(none)'}):\n{e}"
            ) from None
        self.build_count += 1
        self._programs[key] = prg
        return prg

    # this thread's caches under their historical names (tests swap them to force rebuilds)
    @property
    def _kernels(self) -> dict:
        return self.tls.kernels

    @_kernels.setter
    def _kernels(self, value: dict) -> None:
        self.tls.kernels = value

    @property
    def _typed(self) -> set:
        return self.tls.typed

    @_typed.setter
    def _typed(self, value: set) -> None:
        self.tls.typed = value

    def kernel(self, filename: str, name: str, options: str = "", scalar_dtypes=None):
        tls = self.tls
        key = (filename, name, options)
        k = tls.kernels.get(key)
        if k is None:
            k = self.cl.Kernel(self.build(filename, options), name)
            tls.kernels[key] = k
            if scalar_dtypes is not None:
                self._type_args(k, key, scalar_dtypes)
        elif scalar_dtypes is not None and key not in tls.typed:
            self._type_args(k, key, scalar_dtypes)  # first fetched without them
        return k

    def plan(self, key: tuple, filename: str, name: str, options: str, fixed: tuple):
        """This thread's plan for ``key`` (a tuple starting with ``"plan"``, kept in
        ``tls.kernels``): a new kernel object (never the one ``kernel()`` hands out, whose
        arguments other launches overwrite) with the arguments ``fixed`` ((index, struct
        typechar, value), flattened) set once."""
        kernels = self.tls.kernels
        p = kernels.get(key)
        if not p:
            k = self.cl.Kernel(self.build(filename, options), name)
            if fixed:
                k._set_arg_buf_pack_multi(fixed)
            p = kernels[key] = Plan(self, k)
            p.key = key
        return p

    def _type_args(self, k, key, scalar_dtypes) -> None:
        k.set_scalar_arg_dtypes(scalar_dtypes)
        self.tls.typed.add(key)
        codes = arg_codes(scalar_dtypes)
        if codes is not None:
            self.tls.arg_codes[k] = codes

    # -- launches ------------------------------------------------------------------------------
    def launch(self, kernel, gsize, lsize, *args):
        if lsize is not None and len(lsize) == 1 and lsize[0] > 1:
            lim = self._wg_limits.get(kernel)
            if lim is None:
                lim = self._wg_limit(kernel)
            if lsize[0] > lim:  # keep the number of groups, shrink them to what the kernel takes
                ls = 1 << (lim.bit_length() - 1)
                gsize, lsize = (gsize[0] // lsize[0] * ls,), (ls,)
        if self.batch is not None:  # one work-group is small (batching.py)
            self.batch.admit(lsize is not None and _items(gsize) <= _items(lsize))
        try:
            if self.direct is None:
                kernel(self._queue, gsize, lsize, *args)
            else:
                launch_direct(self, kernel, gsize, lsize, args)
        except Exception as e:
            raise RuntimeError(
                f"OpenCL kernel {kernel.function_name} failed to launch on {self.name} "
                f"(global size {gsize}, local size {lsize}): {e}"
            ) from None
        if self.sync:
            self.sync_after_launch(kernel.function_name)

    def _wg_limit(self, kernel) -> int:
        """The largest work-group this compiled kernel accepts on the device (registers and
        local memory can make it smaller than the device maximum)."""
        cl = self.cl
        try:
            lim = int(kernel.get_work_group_info(cl.kernel_work_group_info.WORK_GROUP_SIZE,
                                                 self.device))
        except cl.Error:
            lim = self.max_work_group_size
        lim = max(1, min(lim, self.max_work_group_size))
        self._wg_limits[kernel] = lim
        return lim

    def sync_after_launch(self, name: str = "kernel") -> None:
        if not self.sync:
            return
        try:
            with self.blocking():
                self._queue.finish()
        except Exception as e:
            raise RuntimeError(f"OpenCL kernel {name} failed on {self.name}: {e}") from None

    def finish(self) -> None:
        """Wait for every command; then raise an index error the device reported meanwhile
        (index_checks.py)."""
        self._wait()
        if self.index_checks.pending:
            self.index_checks.raise_pending()

    def _wait(self) -> None:
        with self.blocking():
            self._queue.finish()
        if self._uploads:
            self._prune_uploads()

    # -- memory --------------------------------------------------------------------------------
    def alloc(self, nbytes: int):
        # whole 8-byte words: kernels may update 1- and 2-byte elements through their word
        nbytes = (nbytes + 7) & -8 or 8
        if nbytes > self.max_alloc_size:
            self._oom(nbytes, None)
        pool = self._pool
        try:
            buf = pool.allocate(nbytes)
        except self._alloc_errors as e:
            buf = self._alloc_retry(nbytes, e)
        used = pool.active_bytes
        if used > self.peak_bytes:
            self.peak_bytes = used
        return buf

    def _alloc_retry(self, nbytes, err):
        self._pool.free_held()
        try:
            buf = self._pool.allocate(nbytes)
        except self._alloc_errors as e2:
            self._oom(nbytes, e2)
        log.debug("allocation retried after freeing the pool: %s", err)
        return buf

    def _oom(self, nbytes, err):
        raise RuntimeError(
            f"OpenCL out of memory: tried to allocate {nbytes} bytes on opencl:{self.index} "
            f"({self.name}) ({self._pool.active_bytes} bytes in use, device has "
            f"{self.global_mem_size} bytes; the largest single allocation is "
            f"{self.max_alloc_size} bytes)" + (f": {err}" if err is not None else "")
        ) from None

    def memory_allocated(self) -> int:
        return int(self._pool.active_bytes)

    def empty_cache(self) -> None:
        self._pool.free_held()

    def upload(self, buf, host: np.ndarray, byte_offset: int = 0) -> None:
        """Copy a contiguous host array into ``buf`` without waiting for the queue; the host
        array is kept alive until the copy is done."""
        pending = self._uploads
        if pending:
            self._prune_uploads()
            if len(pending) > 256:
                self._wait()
        if self.batch is not None:  # a small write: batched like a one-group kernel
            self.batch.admit(True)
        ev = self.cl.enqueue_copy(self._queue, buf, host, dst_offset=byte_offset,
                                  is_blocking=False)
        pending.append((ev, host))

    def _prune_uploads(self) -> None:
        # Only finished writes are dropped: dropping pyopencl's event of an unfinished one
        # waits for it, which behind a closed batch gate would never return. The queue is
        # in order, so the finished ones are at the front; the lock keeps two threads from
        # popping past an unfinished one.
        pending, done = self._uploads, self._complete
        with self._uploads_lock:
            while pending and pending[0][0].command_execution_status == done:
                pending.popleft()

    def download(self, host: np.ndarray, buf, byte_offset: int = 0) -> None:
        """Copy ``buf`` into ``host`` (waits for the queue), then raise an index error the
        device reported meanwhile: the data may depend on the failed op."""
        with self.blocking():
            self.cl.enqueue_copy(self._queue, host, buf, src_offset=byte_offset,
                                 is_blocking=True)
        if self.index_checks.pending:
            self.index_checks.raise_pending()

    # -- work sizes ----------------------------------------------------------------------------
    def range_1d(self, n: int, lsize: int | None = None, work: int | None = None) -> tuple:
        """(global, local) sizes for a FOR_RANGE/STRIDED loop over ``n`` items costing about
        ``work`` element operations in all (default ``n``)."""
        if self.is_cpu:
            ls = 8 if lsize is None else lsize
            w = n if work is None else work
            groups = min(max(1, -(-w // (ls * 4096))), 4 * self.compute_units, -(-n // ls))
        else:
            ls = min(256, self.max_work_group_size) if lsize is None else lsize
            groups = min(max(1, -(-n // ls)), 32 * self.compute_units)
        return (groups * ls,), (ls,)
