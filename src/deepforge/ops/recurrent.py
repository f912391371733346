"""Recurrent cell and layer math (the ops behind ``nn.RNN``/``LSTM``/``GRU`` and their cells).

* The LSTM and GRU pointwise steps are single autograd Functions (one graph node per step
  instead of ~15) with backwards written in Tensor ops, so they run on every backend;
  ``*_cell_reference`` are the plain compositions they are tested against.
* ``lstm_layer`` / ``gru_layer`` run one direction of one layer over time-major rows (packed or
  padded), input projection included. Where the backend has the fused sequence kernels
  (``lstm_layer_forward`` ...; the CPU's run a BLAS GEMM and a Cython pointwise kernel per
  step) the whole direction is one graph node whose backward forms the weight gradients with
  one GEMM over all steps; elsewhere
  (or inside ``deepforge.ops._fused.reference_only()``) it is the per-step composition
  ``*_layer_reference``, which is also what a second-order backward differentiates.
"""

from __future__ import annotations

import deepforge
from deepforge import Tensor
from deepforge.autograd import Function

from ..tensor import make_tensor
from . import _dispatch as D
from ._fused import kernel

__all__ = ["lstm_cell_pointwise", "gru_cell_pointwise", "lstm_cell_reference",
           "gru_cell_reference", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell",
           "lstm_layer", "gru_layer", "lstm_layer_reference", "gru_layer_reference"]


def _grad_through(reference, inputs, grads, extra=()):
    """Gradients of ``reference(*inputs, *extra)`` for the tensors among ``inputs`` that need
    them, with a graph (a backward run with create_graph=True must stay differentiable, and a
    fused backward is not: it recomputes the reference composition on the saved inputs)."""
    with deepforge.enable_grad():
        outs = reference(*inputs, *extra)
    wanted = [x for x in inputs if x is not None and x.requires_grad]
    got = iter(deepforge.autograd.grad(outs, wanted, grads, create_graph=True, allow_unused=True)
               if wanted else ())
    return tuple(next(got) if x is not None and x.requires_grad else None for x in inputs)


class LSTMPointwise(Function):
    """(gates (B, 4H) = x W_ih^T + h W_hh^T + b, c_prev) -> (h, c), gate order i, f, g, o."""

    @staticmethod
    def forward(ctx, gates, c_prev):
        i, f, g, o = gates.chunk(4, 1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c_prev + i * g
        tc = c.tanh()
        h = o * tc
        ctx.save_for_backward(gates, c_prev, i, f, g, o, tc)
        return h, c

    @staticmethod
    def backward(ctx, gh, gc):
        gates, c_prev, i, f, g, o, tc = ctx.saved_tensors
        if deepforge.is_grad_enabled():
            return _grad_through(lstm_cell_reference, (gates, c_prev), (gh, gc))
        gct = gc + gh * o * (1.0 - tc * tc)
        di = gct * g * i * (1.0 - i)
        df = gct * c_prev * f * (1.0 - f)
        dg = gct * i * (1.0 - g * g)
        do = gh * tc * o * (1.0 - o)
        return deepforge.cat([di, df, dg, do], 1), gct * f


class GRUPointwise(Function):
    """(gx = x W_ih^T + b_ih, gh = h W_hh^T + b_hh, h) -> h', gate order r, z, n."""

    @staticmethod
    def forward(ctx, gx, gh, h):
        xr, xz, xn = gx.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r = (xr + hr).sigmoid()
        z = (xz + hz).sigmoid()
        n = (xn + r * hn).tanh()
        out = (1.0 - z) * n + z * h
        ctx.save_for_backward(gx, gh, h, r, z, n)
        return out

    @staticmethod
    def backward(ctx, g):
        gx, gh, h, r, z, n = ctx.saved_tensors
        if deepforge.is_grad_enabled():
            return _grad_through(gru_cell_reference, (gx, gh, h), (g,))
        hn = gh[:, 2 * h.shape[1]:]
        dn = g * (1.0 - z) * (1.0 - n * n)
        dz = g * (h - n) * z * (1.0 - z)
        dr = dn * hn * r * (1.0 - r)
        return deepforge.cat([dr, dz, dn], 1), deepforge.cat([dr, dz, dn * r], 1), g * z


def lstm_cell_pointwise(gates: Tensor, c_prev: Tensor):
    return LSTMPointwise.apply(gates, c_prev)


def gru_cell_pointwise(gx: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    return GRUPointwise.apply(gx, gh, h)


def lstm_cell_reference(gates: Tensor, c_prev: Tensor):
    i, f, g, o = gates.chunk(4, 1)
    c = f.sigmoid() * c_prev + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def gru_cell_reference(gx: Tensor, gh: Tensor, h: Tensor) -> Tensor:
    xr, xz, xn = gx.chunk(3, 1)
    hr, hz, hn = gh.chunk(3, 1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return (1.0 - z) * n + z * h


def _lin(x, w, b):
    y = x @ w.t()
    return y if b is None else y + b


def rnn_tanh_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    return (_lin(x, w_ih, b_ih) + _lin(h, w_hh, b_hh)).tanh()


def rnn_relu_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    return (_lin(x, w_ih, b_ih) + _lin(h, w_hh, b_hh)).relu()


def lstm_cell(x, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    h, c = hx
    return lstm_cell_pointwise(_lin(x, w_ih, b_ih) + _lin(h, w_hh, b_hh), c)


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    return gru_cell_pointwise(_lin(x, w_ih, b_ih), _lin(h, w_hh, b_hh), h)


# whole layers ------------------------------------------------------------------------------------
def _steps(batch_sizes, reverse):
    """(t, row start, row end) of each step in processing order."""
    offs = [0]
    for bs in batch_sizes:
        offs.append(offs[-1] + bs)
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    return [(t, offs[t], offs[t + 1]) for t in order]


def _keep_rows(new, old, bs):
    """The state after a step of ``bs`` rows: ``new`` over the first rows, ``old`` below."""
    return new if bs == old.shape[0] else deepforge.cat([new, old[bs:]], 0)


def lstm_layer_reference(x, w_ih, b, w_hh, w_hr, h, c, batch_sizes, reverse=False):
    """One direction of an LSTM layer step by step: x (N, I) holds the rows of every step (see
    ``_steps``), b = b_ih + b_hh or None, states h (B, P), c (B, H) -> (output (N, P), h_n,
    c_n)."""
    xw = _lin(x, w_ih, b)  # the input projection of all steps: one GEMM
    outs = [None] * len(batch_sizes)
    w_hh_t = w_hh.t()
    for t, r0, r1 in _steps(batch_sizes, reverse):
        bs = r1 - r0
        h_new, c_new = lstm_cell_pointwise(xw[r0:r1] + h[:bs] @ w_hh_t, c[:bs])
        if w_hr is not None:
            h_new = h_new @ w_hr.t()
        h, c = _keep_rows(h_new, h, bs), _keep_rows(c_new, c, bs)
        outs[t] = h_new
    return deepforge.cat(outs, 0), h, c


def gru_layer_reference(x, w_ih, b_ih, w_hh, b_hh, h, batch_sizes, reverse=False):
    """One direction of a GRU layer step by step: x (N, I) holds the rows of every step,
    state h (B, H) -> (output (N, H), h_n)."""
    xw = _lin(x, w_ih, b_ih)
    outs = [None] * len(batch_sizes)
    w_hh_t = w_hh.t()
    for t, r0, r1 in _steps(batch_sizes, reverse):
        bs = r1 - r0
        gh = h[:bs] @ w_hh_t
        h_new = gru_cell_pointwise(xw[r0:r1], gh if b_hh is None else gh + b_hh, h[:bs])
        h = _keep_rows(h_new, h, bs)
        outs[t] = h_new
    return deepforge.cat(outs, 0), h


def _arr(t):
    return None if t is None else t._data


def _wrap(a, like):
    return None if a is None else make_tensor(a, like._dtype, like._device)


class LSTMLayer(Function):
    """``lstm_layer_reference`` as one graph node through the backend's sequence kernels."""

    @staticmethod
    def forward(ctx, x, w_ih, b, w_hh, w_hr, h0, c0, batch_sizes, reverse):
        out, hn, cn, ctx.work = kernel(x, "lstm_layer_forward")(
            x._data, w_ih._data, _arr(b), w_hh._data, _arr(w_hr), h0._data, c0._data,
            batch_sizes, reverse)
        ctx.batch_sizes, ctx.reverse = batch_sizes, reverse
        ctx.save_for_backward(x, w_ih, b, w_hh, w_hr, h0, c0)
        return _wrap(out, x), _wrap(hn, x), _wrap(cn, x)

    @staticmethod
    def backward(ctx, gout, ghn, gcn):
        if deepforge.is_grad_enabled():
            return (*_grad_through(lstm_layer_reference, ctx.saved_tensors, (gout, ghn, gcn),
                                   (ctx.batch_sizes, ctx.reverse)), None, None)
        x, w_ih, b, w_hh, w_hr, _, _ = ctx.saved_tensors
        grads = kernel(x, "lstm_layer_backward")(
            gout._data, ghn._data, gcn._data, x._data, w_ih._data, w_hh._data, _arr(w_hr),
            ctx.work, ctx.batch_sizes, ctx.reverse, ctx.needs_input_grad[0])
        dx, dw_ih, db, dw_hh, dw_hr, dh0, dc0 = (_wrap(g, x) for g in grads)
        return dx, dw_ih, db if b is not None else None, dw_hh, dw_hr, dh0, dc0, None, None


class GRULayer(Function):
    """``gru_layer_reference`` as one graph node through the backend's sequence kernels."""

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, w_hh, b_hh, h0, batch_sizes, reverse):
        out, hn, ctx.work = kernel(x, "gru_layer_forward")(
            x._data, w_ih._data, _arr(b_ih), w_hh._data, _arr(b_hh), h0._data, batch_sizes,
            reverse)
        ctx.batch_sizes, ctx.reverse = batch_sizes, reverse
        ctx.save_for_backward(x, w_ih, b_ih, w_hh, b_hh, h0)
        return _wrap(out, x), _wrap(hn, x)

    @staticmethod
    def backward(ctx, gout, ghn):
        if deepforge.is_grad_enabled():
            return (*_grad_through(gru_layer_reference, ctx.saved_tensors, (gout, ghn),
                                   (ctx.batch_sizes, ctx.reverse)), None, None)
        x, w_ih, b_ih, w_hh, b_hh, _ = ctx.saved_tensors
        grads = kernel(x, "gru_layer_backward")(
            gout._data, ghn._data, x._data, w_ih._data, w_hh._data, ctx.work, ctx.batch_sizes,
            ctx.reverse, ctx.needs_input_grad[0])
        dx, dw_ih, db_ih, dw_hh, db_hh, dh0 = (_wrap(g, x) for g in grads)
        return (dx, dw_ih, db_ih if b_ih is not None else None, dw_hh,
                db_hh if b_hh is not None else None, dh0, None, None)


def _fusable(name, x, *others):
    if kernel(x, name) is None:
        return False
    return all(t is None or (t._dtype is x._dtype and t._device is x._device) for t in others)


def lstm_layer(x, w_ih, b, w_hh, w_hr, h0, c0, batch_sizes, reverse=False):
    """One direction of an LSTM layer (see ``lstm_layer_reference``), fused where possible."""
    if _fusable("lstm_layer_forward", x, w_ih, b, w_hh, w_hr, h0, c0) and (
        w_hr is None or getattr(D.backend_of(x), "lstm_layer_projection", True)
    ):
        return LSTMLayer.apply(x, w_ih, b, w_hh, w_hr, h0, c0, tuple(batch_sizes), reverse)
    return lstm_layer_reference(x, w_ih, b, w_hh, w_hr, h0, c0, batch_sizes, reverse)


def gru_layer(x, w_ih, b_ih, w_hh, b_hh, h0, batch_sizes, reverse=False):
    """One direction of a GRU layer (see ``gru_layer_reference``), fused where possible."""
    if _fusable("gru_layer_forward", x, w_ih, b_ih, w_hh, b_hh, h0):
        return GRULayer.apply(x, w_ih, b_ih, w_hh, b_hh, h0, tuple(batch_sizes), reverse)
    return gru_layer_reference(x, w_ih, b_ih, w_hh, b_hh, h0, batch_sizes, reverse)
