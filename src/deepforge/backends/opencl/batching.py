"""Command batching for CPU OpenCL devices.

On a CPU driver (PoCL) the device's worker threads share the cores with the Python thread
that enqueues. Every command enqueued while the workers are idle wakes one of them, and the
waking thread and the woken one then contend for the cores and the queue: back-to-back
1-element adds on two cores took 7.3-9.6 us of CPU time per op over all threads, 6.7-7.7
batched, against 1.8 us on the CPU backend (the CPU-time line of
``benchmarks/opencl_ops.py --overhead-only``).

The batcher holds small commands back behind a user event (the "gate"), enqueued as a marker
ahead of them. A gate is opened after ``limit`` small commands (a new one is closed behind
them first), before any command that spans several work-groups, and before anything waits
for the queue. The workers then run a batch per wake-up while the host enqueues the next
batch, and large kernels start as soon as they are enqueued.

What keeps it from deadlocking (a blocking call behind a closed gate would never return):

- every blocking call on the queue runs inside ``hold()``, which opens the gate and, until
  the call returns, stops any thread from closing a new one in front of it;
- ``Runtime.queue`` (the raw queue, for code outside the backend) opens the gate first;
- at interpreter exit every gate is opened.

GPU drivers batch submissions themselves and may handle user events on the host, so the
batcher is used on CPU devices only (``DEEPFORGE_OPENCL_BATCH`` overrides the size; 0 turns
it off).
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from contextlib import contextmanager

__all__ = ["CommandBatcher", "batch_limit"]

DEFAULT_LIMIT = 128  # small commands per gate (benchmarks/opencl_ops.py: 16 < 64 < 128 ~ 256)

_live: weakref.WeakSet = weakref.WeakSet()


def batch_limit(is_cpu_device: bool, sync: bool) -> int:
    """Small commands per batch for a device (0: no batching). ``sync`` mode waits after
    every kernel, so there is nothing to batch."""
    raw = os.environ.get("DEEPFORGE_OPENCL_BATCH", "").strip()
    if raw:
        try:
            limit = int(raw)
        except ValueError:
            raise ValueError(
                f"DEEPFORGE_OPENCL_BATCH must be an integer (commands per batch, 0 = off), "
                f"got {raw!r}"
            ) from None
    else:
        limit = DEFAULT_LIMIT if is_cpu_device else 0
    return 0 if sync else max(0, limit)


class CommandBatcher:
    """The gate state of one command queue. ``held`` and ``gate`` are read without the lock
    on the launch path (a stale read only makes a batch one command longer or shorter);
    every change of the gate happens under the lock."""

    __slots__ = (
        "__weakref__",
        "_cl",
        "_ctx",
        "_queue",
        "_lock",
        "_complete",
        "_holds",
        "_primed",
        "_pid",
        "limit",
        "gate",
        "held",
        "recorder",
        "log",
    )

    def __init__(self, cl, ctx, queue, limit: int):
        self._cl = cl
        self._ctx = ctx
        self._queue = queue
        self._lock = threading.Lock()
        self._complete = cl.command_execution_status.COMPLETE
        self._holds = 0  # blocking calls in progress (any thread)
        self._primed = False  # a small command went ungated since the last release
        self._pid = os.getpid()
        self.limit = limit
        self.gate = None  # the closed user event the pending small commands wait behind
        self.held = 0  # small commands enqueued behind ``gate``
        # the queue's OpRecorder (op_batch.py): its records are flushed ahead of any command
        self.recorder = None
        self.log = None  # the recorder's OpLog, read on every admit
        if not _live:
            # registered after pyopencl's own exit handler, so it runs before it
            atexit.register(_open_all_gates)
        _live.add(self)

    def next_gate(self) -> None:
        """Close a new gate behind the pending commands and open the old one: called by the
        launch path before a small command when there is no gate or the batch is full. The
        first small command after a release goes ungated: one op between two waits (an op
        and ``.item()``) is then just the op, with no gate command."""
        cl = self._cl
        with self._lock:
            old = self.gate
            if old is None and not self._primed:
                self._primed = True
                return
            new = None
            if not self._holds:
                new = cl.UserEvent(self._ctx)
                cl.enqueue_marker(self._queue, wait_for=[new])
            self.gate = new
            self.held = 0
            if old is not None:
                old.set_status(self._complete)

    def admit(self, small: bool) -> None:
        """Called before a command is enqueued: a small one goes behind the gate (a new gate
        when there is none or the batch is full), a large one opens it. Recorded ops are
        enqueued first, in their place."""
        log = self.log
        if log is not None and (log.count or log.busy):  # busy: wait for a flush in flight
            self.recorder.flush()
        self.admit_unrecorded(small)

    def admit_unrecorded(self, small: bool) -> None:
        """``admit`` without flushing the recorder (the recorder's own flush uses it)."""
        if small:
            if self.gate is None or self.held >= self.limit:
                self.next_gate()
            self.held += 1
        else:
            self.release()

    def release(self) -> None:
        """Open the gate, if one is closed, and leave none: before a large command or a wait.
        Recorded ops are enqueued first."""
        log = self.log
        if log is not None and (log.count or log.busy):  # busy: wait for a flush in flight
            self.recorder.flush()
        if self.gate is None:
            self._primed = False
            return
        with self._lock:
            old, self.gate, self.held = self.gate, None, 0
            self._primed = False
            if old is not None:
                old.set_status(self._complete)

    @contextmanager
    def hold(self):
        """Around a call that blocks on the queue: no gate is closed until it returns."""
        with self._lock:
            self._holds += 1
        try:
            self.release()
            yield
        finally:
            with self._lock:
                self._holds -= 1


def _open_all_gates() -> None:
    # commands left behind a closed gate would keep the driver's queue from draining at exit;
    # a forked child's copies belong to the parent's driver state and are left alone
    for b in list(_live):
        if b._pid != os.getpid():
            continue
        try:
            b.release()
        except Exception:  # the driver may be gone already; nothing is left to run then
            pass
