"""Recurrent cell math. The LSTM and GRU pointwise steps are single autograd Functions (one
graph node per step instead of ~15), with backwards written in Tensor ops so they run on
every backend; ``*_reference`` are the plain compositions they are tested against."""

from __future__ import annotations

import deepforge
from deepforge import Tensor
from deepforge.autograd import Function
from deepforge.autograd.function import once_differentiable

__all__ = ["lstm_cell_pointwise", "gru_cell_pointwise", "lstm_cell_reference",
           "gru_cell_reference", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell"]


class LSTMPointwise(Function):
    """(gates (B, 4H) = x W_ih^T + h W_hh^T + b, c_prev) -> (h, c), gate order i, f, g, o."""

    @staticmethod
    def forward(ctx, gates, c_prev):
        i, f, g, o = gates.chunk(4, 1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c_prev + i * g
        tc = c.tanh()
        h = o * tc
        ctx.save_for_backward(i, f, g, o, tc, c_prev)
        return h, c

    @staticmethod
    @once_differentiable
    def backward(ctx, gh, gc):
        i, f, g, o, tc, c_prev = ctx.saved_tensors
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
        ctx.save_for_backward(r, z, n, hn, h)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        r, z, n, hn, h = ctx.saved_tensors
        dn = g * (1.0 - z) * (1.0 - n * n)
        dz = g * (h - n) * z * (1.0 - z)
        dr = dn * hn * r * (1.0 - r)
        gx = deepforge.cat([dr, dz, dn], 1)
        ghh = deepforge.cat([dr, dz, dn * r], 1)
        return gx, ghh, g * z


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
