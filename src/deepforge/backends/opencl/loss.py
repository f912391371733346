"""Loss kernels on CLArrays: ``nll_loss`` on (N, C) log-probabilities, forward and backward,
one launch each (``opencl/loss.cl``)."""

from __future__ import annotations

import numpy as np

from .array import CLArray
from .desc import topt

__all__ = ["LossOps"]

_I64 = np.int64
_I32 = np.int32
# nll kernels' common tail: target (buffer, offset, stride), weight (buffer, offset, stride,
# present), ignore_index, N, C
_NLL_TYPES = [None, _I64, _I64, None, _I64, _I64, _I32, _I64, _I64, _I64]
_NLL_LOCAL = 256  # NLL_LOCAL in loss.cl


class LossOps:
    """Mixin of the OpenCL backend: needs ``self.rt``."""

    def _nll_common(self, logp_like, target, weight, ignore_index, n, c):
        if weight is None:
            w = (logp_like.buf, 0, 0, 0)  # not read
        else:
            w = (weight.buf, weight.offset, weight.strides[0], 1)
        return (target.buf, target.offset, target.strides[0], *w, int(ignore_index), n, c)

    def nll_forward(self, logp, target, weight, ignore_index, reduction):
        """nll_loss of (N, C) ``logp`` against int64 (N,) ``target`` (valid or ignore_index;
        the caller checked them), class ``weight`` (C,) or None: (loss, total weight), the
        total weight None for reduction 'none'. Nothing waits for the device."""
        rt = self.rt
        n, c = logp.shape
        common = self._nll_common(logp, target, weight, ignore_index, n, c)
        opts = topt(logp.dtype)
        if reduction == "none":
            out = CLArray.empty(rt, (n,), logp.dtype)
            if n:
                k = rt.kernel("loss.cl", "nll_rows", opts, [None, _I64, None, _I64, _I64, _I64]
                              + _NLL_TYPES)  # fmt: skip
                g, ls = rt.range_1d(n)
                rt.launch(k, g, ls, out.buf, out.offset, logp.buf, logp.offset, *logp.strides,
                          *common)  # fmt: skip
            return out, None
        out = CLArray.empty(rt, (), logp.dtype)
        total = CLArray.empty(rt, (), logp.dtype)
        # one work-group: on a CPU device one work-item (a group runs on one thread anyway)
        ls = 1 if rt.is_cpu else 1 << (min(_NLL_LOCAL, rt.max_work_group_size).bit_length() - 1)
        k = rt.kernel("loss.cl", "nll_sum", opts, [None, None, _I32, None, _I64, _I64, _I64]
                      + _NLL_TYPES)  # fmt: skip
        rt.launch(k, (ls,), (ls,), out.buf, total.buf, int(reduction == "mean"), logp.buf,
                  logp.offset, *logp.strides, *common)  # fmt: skip
        return out, total

    def nll_backward(self, g, target, weight, ignore_index, reduction, total, n, c, dtype):
        """d nll_loss / d logp (N x C, contiguous) for the loss gradient ``g`` ((N,) for
        'none', 0-dim otherwise); ``total``: the forward's total weight (for 'mean')."""
        rt = self.rt
        dtype = np.dtype(dtype)
        if g.dtype != dtype:
            g = self.astype(g, dtype)
        gx = CLArray.empty(rt, (n, c), dtype)
        if n * c == 0:
            return gx
        common = self._nll_common(gx, target, weight, ignore_index, n, c)
        sg = g.strides[0] if reduction == "none" else 0
        mean = reduction == "mean"
        tot = total if mean else g
        k = rt.kernel("loss.cl", "nll_backward", topt(dtype),
                      [None, None, _I64, _I64, None, _I64, _I32] + _NLL_TYPES)
        gs, ls = rt.range_1d(n * c)
        rt.launch(k, gs, ls, gx.buf, g.buf, g.offset, sg, tot.buf, tot.offset, int(mean),
                  *common)  # fmt: skip
        return gx
