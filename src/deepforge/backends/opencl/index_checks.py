"""Index checks that do not make the host wait for the device.

An op that indexes with a tensor (``gather``, ``scatter``, ``index_select``, ``embedding``,
``cross_entropy``'s targets, ``x[idx]``) must reject an index out of range. Checking it on the
host means downloading the index, which waits for every command before it: on a GPU, a stall
of the whole queue in every training step. Instead the check is one more kernel,
``idx_check`` in ``opencl/index.cl``, that records a bad index in a small error buffer of the
device; the indexing kernels skip such an index meanwhile (a gather writes 0), so nothing is
read or written outside a tensor. The host looks at the buffer at its next wait for the
device (``Runtime.download`` and ``Runtime.finish``: ``.item()``, ``.numpy()``, ``.cpu()``,
``deepforge.opencl.synchronize()``) and raises there the error PyTorch raises for the op,
which says that it was reported late. With ``DEEPFORGE_OPENCL_SYNC=1`` it raises at the op.

Value checks (``binary_cross_entropy``'s input in [0, 1], ``bernoulli``'s probabilities) work
the same way through ``val_check``.

As with a device-side assertion on CUDA, the op and the ones after it may have run when the
error is raised; unlike one, the device stays usable afterwards.
"""

from __future__ import annotations

import threading

import numpy as np

from .desc import compute_np, pack_desc, topt

__all__ = ["DeferredIndexChecks"]

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
# err[0] id of the first failing check, err[1] largest index >= high, err[2] smallest index
# < low, err[3] saturated flag, err[4..5] the exact value of a saturated index
_CLEAR = np.array([0, _INT_MIN, _INT_MAX, 0, 0, 0, 0, 0], np.int32)
_LATE = (
    " (reported at the next wait for the OpenCL device: ops run asynchronously; "
    "DEEPFORGE_OPENCL_SYNC=1 reports it at the op)"
)
_ARG_TYPES = [None, None, np.int64, np.int64, np.int64, np.int32, None, np.int32]


class DeferredIndexChecks:
    """The per-runtime error buffer and the checks queued since the host last looked at it."""

    def __init__(self, rt):
        self.rt = rt
        self.pending = False  # a check was enqueued since the buffer was last read
        self._lock = threading.Lock()
        self._buf = None
        self._ids: dict = {}  # (exception type, message) -> id (from 1)
        self._errors: list = []  # id - 1 -> (exception type, message)

    def enqueue(self, idx, low: int, high: int, exc: type, message: str, ignore=None) -> None:
        """Check that every element of CLArray ``idx`` lies in [low, high) (or equals
        ``ignore``); a failure raises ``exc(message.format(index=<a bad index>))`` later."""
        if idx.size:
            k = self.rt.kernel("index.cl", "idx_check", topt(idx.dtype), _ARG_TYPES)
            ign = (0, 0) if ignore is None else (int(ignore), 1)
            self._launch(k, idx, (exc, message), int(low), int(high), *ign)

    def enqueue_values(self, x, low, high, exc: type, message: str, nan_ok=False) -> None:
        """Check that every element of CLArray ``x`` lies in [low, high] (NaN does not, unless
        ``nan_ok``); a failure raises ``exc(message)`` later."""
        if x.size == 0:
            return
        cnp = compute_np(x.dtype)
        if np.dtype(cnp).kind == "i":  # integer storage: bounds as the nearest integers inside
            info = np.iinfo(np.int64)
            low = int(max(np.ceil(low), info.min)) if low > info.min else info.min
            high = int(min(np.floor(high), info.max)) if high < info.max else info.max
        k = self.rt.kernel("index.cl", "val_check", topt(x.dtype), [None, None, cnp, cnp, np.int32,
                                                                    None, np.int32])  # fmt: skip
        escaped = message.replace("{", "{{").replace("}", "}}")  # raised through str.format
        self._launch(k, x, (exc, escaped), cnp(low), cnp(high), int(bool(nan_ok)))

    def _launch(self, kernel, x, key, *bounds) -> None:
        """Enqueue check ``kernel`` over CLArray ``x`` (args: desc, x, *bounds, buffer, id)."""
        rt = self.rt
        d, n = pack_desc(x.shape, [x.strides], [x.offset])
        g, ls = rt.range_1d(n)
        with self._lock:
            if self._buf is None:  # filled at creation: no command, no wait
                mf = rt.cl.mem_flags
                self._buf = rt.cl.Buffer(rt.ctx, mf.READ_WRITE | mf.COPY_HOST_PTR, hostbuf=_CLEAR)
            cid = self._ids.get(key)
            if cid is None:
                self._errors.append(key)
                cid = self._ids[key] = len(self._errors)
            rt.launch(kernel, g, ls, d, x.buf, *bounds, self._buf, cid)
            self.pending = True
        if rt.sync:
            self.raise_pending(late=False)

    def raise_pending(self, late: bool = True) -> None:
        """Read the error buffer (waits for the queue) and raise the first failed check."""
        rt = self.rt
        with self._lock:
            if not self.pending:
                return
            self.pending = False  # first: the download below would otherwise come back here
            err = np.empty_like(_CLEAR)
            rt.download(err, self._buf)
            if err[0] == 0:
                if len(self._errors) > 4096:  # all checks so far are done: ids can restart
                    self._ids.clear()
                    self._errors.clear()
                return
            rt.upload(self._buf, _CLEAR)  # ahead of any later check, in queue order
            exc, message = self._errors[int(err[0]) - 1]
        high, low, saturated = int(err[1]), int(err[2]), bool(err[3])
        bad = high if high != _INT_MIN else low
        if saturated and bad in (_INT_MIN, _INT_MAX):
            bad = int(err[4:6].view(np.int64)[0])
        raise exc(message.format(index=bad) + (_LATE if late else ""))
