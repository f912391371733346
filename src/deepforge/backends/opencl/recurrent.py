"""Recurrent layers on CLArrays: one direction of one LSTM or GRU layer over time-major rows,
the CPU backend's ``lstm_layer_forward``/``_backward`` and ``gru_layer_forward``/``_backward``
(same arguments, same layout of the steps; see backends/cpu/recurrent.py). The input
projection is one GEMM over all steps; each step is then one GEMM (h W_hh^T) and one
pointwise kernel (``opencl/recurrent.cl``) instead of a dozen small ops; the backward runs the
steps in reverse, each a pointwise kernel and one GEMM (a GRU's adds the direct path through
z h), and forms the weight gradients with one GEMM each over all steps. LSTMs with
projections (``proj_size``) take the ops' reference path (``lstm_layer_projection``).
"""

from __future__ import annotations

import numpy as np

from ..rnn_steps import rnn_steps
from .array import CLArray
from .desc import topt

__all__ = ["RecurrentOps"]

_I64 = np.int64


def _t(a):
    """The transposed view of a 2-D CLArray."""
    return a.view((a.shape[1], a.shape[0]), (a.strides[1], a.strides[0]), a.offset)


def _rows(a, r0, r1):
    """Rows [r0, r1) of a contiguous 2-D CLArray."""
    return a.view((r1 - r0, a.shape[1]), a.strides, a.offset + r0 * a.strides[0])


class RecurrentOps:
    """Mixin of the OpenCL backend: needs ``self.rt`` and the other mixins."""

    lstm_layer_projection = False  # no w_hr: the ops run the reference composition

    def _fresh(self, x, dt):
        """A contiguous copy of ``x`` in ``dt`` (state buffers updated in place)."""
        out = CLArray.empty(self.rt, x.shape, dt)
        self.copy_(out, x)
        return out

    def lstm_layer_forward(self, x, w_ih, b, w_hh, w_hr, h0, c0, batch_sizes, reverse):
        """x (N, I) rows of every step, w_ih (4H, I), b (4H,) or None, w_hh (4H, H), h0/c0
        (B, H) -> output (N, H), h_n, c_n and the arrays the backward needs."""
        if w_hr is not None:
            raise NotImplementedError("lstm_layer_forward: projections (proj_size) on OpenCL")
        rt, dt = self.rt, x.dtype
        n_rows, g_width = x.shape[0], w_ih.shape[0]
        hid = g_width // 4
        xw = (self.matmul(x, _t(w_ih), dt) if b is None
              else self.matmul_bias(x, _t(w_ih), b, dt))  # fmt: skip
        xw = self.contiguous(xw)
        h, c = self._fresh(h0, dt), self._fresh(c0, dt)
        act = CLArray.empty(rt, (n_rows, g_width), dt)
        cprev, cnew, hprev, out = (CLArray.empty(rt, (n_rows, hid), dt) for _ in range(4))
        w_hh_t = _t(w_hh)
        k = rt.kernel("recurrent.cl", "lstm_fwd_step", topt(dt),
                      [_I64, _I64, None, _I64] + [None] * 8 + [_I64])
        for r0, r1 in rnn_steps(batch_sizes, reverse):
            bs = r1 - r0
            hg = self.matmul(_rows(h, 0, bs), w_hh_t, dt)  # (bs, 4H), contiguous
            n = bs * hid
            gs, ls = rt.range_1d(n, work=n * 16)
            rt.launch(k, gs, ls, n, hid, xw.buf, xw.offset + r0 * g_width, hg.buf, h.buf, c.buf,
                      act.buf, cprev.buf, cnew.buf, hprev.buf, out.buf, r0)  # fmt: skip
        return out, h, c, (act, cprev, cnew, hprev, None)

    def lstm_layer_backward(self, dout, dh_n, dc_n, x, w_ih, w_hh, w_hr, saved, batch_sizes,
                            reverse, need_dx):
        """Gradients of ``lstm_layer_forward`` from those of its output, h_n and c_n:
        (d x or None, d w_ih, d b, d w_hh, None, d h0, d c0)."""
        act, cprev, cnew, hprev, _ = saved
        rt, dt = self.rt, act.dtype
        g_width = act.shape[1]
        hid, b_rows = g_width // 4, dh_n.shape[0]
        dout = self.contiguous(dout if dout.dtype == dt else self.astype(dout, dt))
        dh, dc = self._fresh(dh_n, dt), self._fresh(dc_n, dt)
        dg = CLArray.empty(rt, act.shape, dt)
        k = rt.kernel("recurrent.cl", "lstm_bwd_step", topt(dt),
                      [_I64, _I64, None, None, _I64] + [None] * 5 + [_I64])
        for r0, r1 in reversed(rnn_steps(batch_sizes, reverse)):
            bs = r1 - r0
            n = bs * hid
            gs, ls = rt.range_1d(n, work=n * 16)
            rt.launch(k, gs, ls, n, hid, dh.buf, dout.buf, dout.offset, dc.buf, act.buf,
                      cprev.buf, cnew.buf, dg.buf, r0)  # fmt: skip
            new = self.matmul(_rows(dg, r0, r1), w_hh, dt)  # d h_prev of the step's rows
            if bs == b_rows:
                dh = new
            else:  # a packed sequence's shorter step: the other rows keep their gradient
                self.copy_(_rows(dh, 0, bs), new)
        dg_t = _t(dg)
        dw_hh = self.matmul(dg_t, hprev, dt)
        dx = self.matmul(dg, w_ih, dt) if need_dx else None
        dw_ih = self.matmul(dg_t, x, dt)
        db = self.reduce("sum", dg, (0,), False, dt)
        return dx, dw_ih, db, dw_hh, None, dh, dc

    def gru_layer_forward(self, x, w_ih, b_ih, w_hh, b_hh, h0, batch_sizes, reverse):
        """x (N, I) rows of every step, w_ih (3H, I), b_ih/b_hh (3H,) or None, w_hh (3H, H),
        h0 (B, H) -> output (N, H), h_n and the arrays the backward needs."""
        rt, dt = self.rt, x.dtype
        n_rows, g_width = x.shape[0], w_ih.shape[0]
        hid = g_width // 3
        xw = (self.matmul(x, _t(w_ih), dt) if b_ih is None
              else self.matmul_bias(x, _t(w_ih), b_ih, dt))  # fmt: skip
        xw = self.contiguous(xw)
        h = self._fresh(h0, dt)
        act = CLArray.empty(rt, (n_rows, 4 * hid), dt)
        hprev, out = (CLArray.empty(rt, (n_rows, hid), dt) for _ in range(2))
        bhh = h if b_hh is None else (b_hh if b_hh.dtype == dt else self.astype(b_hh, dt))
        w_hh_t = _t(w_hh)
        k = rt.kernel("recurrent.cl", "gru_fwd_step", topt(dt),
                      [_I64, _I64, None, _I64, None, None, _I64, np.int32] + [None] * 4 + [_I64])
        for r0, r1 in rnn_steps(batch_sizes, reverse):
            bs = r1 - r0
            hg = self.matmul(_rows(h, 0, bs), w_hh_t, dt)  # (bs, 3H), contiguous
            n = bs * hid
            gs, ls = rt.range_1d(n, work=n * 16)
            rt.launch(k, gs, ls, n, hid, xw.buf, xw.offset + r0 * g_width, hg.buf, bhh.buf,
                      bhh.offset, int(b_hh is not None), h.buf, act.buf, hprev.buf, out.buf,
                      r0)  # fmt: skip
        return out, h, (act, hprev)

    def gru_layer_backward(self, dout, dh_n, x, w_ih, w_hh, saved, batch_sizes, reverse,
                           need_dx):
        """Gradients of ``gru_layer_forward`` from those of its output and h_n:
        (d x or None, d w_ih, d b_ih, d w_hh, d b_hh, d h0)."""
        act, hprev = saved
        rt, dt = self.rt, act.dtype
        n_rows, hid = hprev.shape
        b_rows = dh_n.shape[0]
        dout = self.contiguous(dout if dout.dtype == dt else self.astype(dout, dt))
        dh = self._fresh(dh_n, dt)
        dgx, dgh = (CLArray.empty(rt, (n_rows, 3 * hid), dt) for _ in range(2))
        direct = CLArray.empty(rt, (b_rows, hid), dt)
        k = rt.kernel("recurrent.cl", "gru_bwd_step", topt(dt),
                      [_I64, _I64, None, None, _I64] + [None] * 5 + [_I64])
        for r0, r1 in reversed(rnn_steps(batch_sizes, reverse)):
            bs = r1 - r0
            n = bs * hid
            gs, ls = rt.range_1d(n, work=n * 16)
            rt.launch(k, gs, ls, n, hid, dh.buf, dout.buf, dout.offset, act.buf, hprev.buf,
                      dgx.buf, dgh.buf, direct.buf, r0)  # fmt: skip
            new = self.matmul(_rows(dgh, r0, r1), w_hh, dt)  # through h W_hh^T
            self.copy_(_rows(dh, 0, bs), self.binary("add", new, _rows(direct, 0, bs), dt))
        dgh_t = _t(dgh)
        dw_hh, db_hh = self.matmul(dgh_t, hprev, dt), self.reduce("sum", dgh, (0,), False, dt)
        dx = self.matmul(dgx, w_ih, dt) if need_dx else None
        dw_ih = self.matmul(_t(dgx), x, dt)
        db_ih = self.reduce("sum", dgx, (0,), False, dt)
        return dx, dw_ih, db_ih, dw_hh, db_hh, dh
