"""Recurrent-layer kernels: one direction of one LSTM / GRU layer over time-major rows."""

from __future__ import annotations

import numpy as np

from ..rnn_steps import rnn_steps
from ._common import _core

__all__ = ["lstm_layer_forward", "lstm_layer_backward", "gru_layer_forward", "gru_layer_backward"]


# One direction of one LSTM / GRU layer over time-major rows: the rows of step t are
# offsets[t]:offsets[t + 1] with batch_sizes[t] rows (non-increasing: packed sequences; equal:
# padded ones).  The input projection x W_ih^T + b is one GEMM over all steps; then each step
# is one small GEMM and one fused pointwise kernel (_core_rnn.pxi).  The recurrent product
# is computed as W_hh h^T (G, bs): for a small batch that GEMM shape runs about twice as fast in
# OpenBLAS as h W_hh^T, and the kernels read it transposed.  States live in (B, .) buffers
# updated in place: a shorter step updates its first rows and leaves the others (their final
# states, or the initial ones going backwards in time).  The backward pass runs the steps in
# reverse and forms the weight gradients with one GEMM over all steps.
#
# A step's GEMM is small (batch x hidden): OpenBLAS's threads cost more to wake than they save
# there, and on a loaded machine they collapse (a 20x256x1024 GEMM measured 55 ms on 2 threads
# against 0.6 ms on one; a 700x256x1024 one 16-28 ms against 3.9 ms).  A layer whose step GEMM
# is below _SERIAL_STEP_MACS therefore runs all its GEMMs, the input projection and the
# weight gradients included, on one BLAS thread when threadpoolctl is installed to switch it.
_SERIAL_STEP_MACS = 1 << 24
_blas_ctl: list = []


def _blas_controllers():
    if not _blas_ctl:
        try:
            from threadpoolctl import ThreadpoolController

            _blas_ctl.append(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:  # threadpoolctl missing or unable to see the BLAS: leave it alone
            _blas_ctl.append([])
    return _blas_ctl[0]


def _serial_blas(step_macs):
    """Switch numpy's BLAS to one thread for a loop of small GEMMs; returns the restore list."""
    if step_macs >= _SERIAL_STEP_MACS:
        return []
    saved = []
    for c in _blas_controllers():
        n = c.get_num_threads()
        if n and n > 1:
            c.set_num_threads(1)
            saved.append((c, n))
    return saved


def _restore_blas(saved):
    for c, n in saved:
        c.set_num_threads(n)


def _project(x, w_ih, b):
    """x W_ih^T (+ b): the input gates of every step, one GEMM."""
    xw = np.matmul(x, w_ih.T)
    if b is not None:
        xw += b
    return xw


def _input_grads(dg, x, w_ih, need_dx):
    """(d x or None, d W_ih, d b) from the gate gradients dg (N, G) of xw = x W_ih^T + b."""
    return (dg @ w_ih if need_dx else None), dg.T @ x, dg.sum(0)


def lstm_layer_forward(x, w_ih, b, w_hh, w_hr, h0, c0, batch_sizes, reverse):
    """x (N, I) rows of every step, w_ih (4H, I), b (4H,) = b_ih + b_hh or None, w_hh (4H, P),
    w_hr (P, H) or None, h0 (B, P), c0 (B, H) -> output (N, P), h_n, c_n and the arrays the
    backward needs."""
    dt = x.dtype
    N, G = x.shape[0], w_ih.shape[0]
    H, P, B = G // 4, h0.shape[1], h0.shape[0]
    h, c = np.array(h0, dt, order="C"), np.array(c0, dt, order="C")
    act, hg = np.empty((N, G), dt), np.empty(B * G, dt)
    cprev, cnew, hprev, out = (np.empty((N, n), dt) for n in (H, H, P, P))
    hraw = np.empty((N, H), dt) if w_hr is not None else None
    no_rows = np.empty((0, H), dt)
    whr_t = w_hr.T if w_hr is not None else None
    step, matmul = _core.lstm_cell_forward, np.matmul
    blas = _serial_blas(B * G * P)
    try:
        xw = _project(x, w_ih, b)
        for r0, r1 in rnn_steps(batch_sizes, reverse):
            bs = r1 - r0
            hp = h[:bs]
            hprev[r0:r1] = hp
            hgt = hg[: G * bs].reshape(G, bs)
            matmul(w_hh, hp.T, out=hgt)
            if hraw is None:
                step(xw[r0:r1], hgt, c[:bs], act[r0:r1], cprev[r0:r1], cnew[r0:r1], out[r0:r1], hp)
            else:
                hr = hraw[r0:r1]
                step(xw[r0:r1], hgt, c[:bs], act[r0:r1], cprev[r0:r1], cnew[r0:r1], hr, no_rows)
                matmul(hr, whr_t, out=out[r0:r1])
                hp[...] = out[r0:r1]
    finally:
        _restore_blas(blas)
    return out, h, c, (act, cprev, cnew, hprev, hraw)


def lstm_layer_backward(
    dout, dh_n, dc_n, x, w_ih, w_hh, w_hr, saved, batch_sizes, reverse, need_dx
):
    """Gradients of ``lstm_layer_forward`` from those of its output (N, P), h_n and c_n:
    (d x or None, d w_ih, d b, d w_hh, d w_hr or None, d h0, d c0)."""
    act, cprev, cnew, hprev, hraw = saved
    dt = act.dtype
    N, G = act.shape
    H, B = G // 4, dh_n.shape[0]
    dout = np.ascontiguousarray(dout, dt)
    dh, dc = np.array(dh_n, dt, order="C"), np.array(dc_n, dt, order="C")
    dg = np.empty((N, G), dt)
    no_rows = np.empty((0, H), dt)
    dhs = np.empty(dout.shape, dt) if hraw is not None else None
    dhh = np.empty((B, H), dt) if hraw is not None else None
    step, matmul = _core.lstm_cell_backward, np.matmul
    blas = _serial_blas(B * G * dh.shape[1])
    try:
        for r0, r1 in reversed(rnn_steps(batch_sizes, reverse)):
            bs = r1 - r0
            saved_rows = (act[r0:r1], cnew[r0:r1], cprev[r0:r1], dg[r0:r1])
            if dhs is None:
                step(dh[:bs], dout[r0:r1], dc[:bs], *saved_rows)
            else:
                np.add(dh[:bs], dout[r0:r1], out=dhs[r0:r1])
                matmul(dhs[r0:r1], w_hr, out=dhh[:bs])
                step(dhh[:bs], no_rows, dc[:bs], *saved_rows)
            matmul(dg[r0:r1], w_hh, out=dh[:bs])
        dw_hh = dg.T @ hprev
        dw_hr = dhs.T @ hraw if dhs is not None else None
        dx, dw_ih, db = _input_grads(dg, x, w_ih, need_dx)
    finally:
        _restore_blas(blas)
    return dx, dw_ih, db, dw_hh, dw_hr, dh, dc


def gru_layer_forward(x, w_ih, b_ih, w_hh, b_hh, h0, batch_sizes, reverse):
    """x (N, I) rows of every step, w_ih (3H, I), b_ih (3H,) or None, w_hh (3H, H), b_hh (3H,)
    or None, h0 (B, H) -> output (N, H), h_n and the arrays the backward needs."""
    dt = x.dtype
    N, G = x.shape[0], w_ih.shape[0]
    H, B = G // 3, h0.shape[0]
    h = np.array(h0, dt, order="C")
    act, hg = np.empty((N, 4 * H), dt), np.empty(B * G, dt)
    hprev, out = np.empty((N, H), dt), np.empty((N, H), dt)
    bhh = np.ascontiguousarray(b_hh, dt) if b_hh is not None else np.empty(0, dt)
    step, matmul = _core.gru_cell_forward, np.matmul
    blas = _serial_blas(B * G * H)
    try:
        xw = _project(x, w_ih, b_ih)
        for r0, r1 in rnn_steps(batch_sizes, reverse):
            bs = r1 - r0
            hgt = hg[: G * bs].reshape(G, bs)
            matmul(w_hh, h[:bs].T, out=hgt)
            step(xw[r0:r1], hgt, bhh, h[:bs], act[r0:r1], hprev[r0:r1], out[r0:r1])
    finally:
        _restore_blas(blas)
    return out, h, (act, hprev)


def gru_layer_backward(dout, dh_n, x, w_ih, w_hh, saved, batch_sizes, reverse, need_dx):
    """Gradients of ``gru_layer_forward`` from those of its output (N, H) and h_n:
    (d x or None, d w_ih, d b_ih, d w_hh, d b_hh, d h0)."""
    act, hprev = saved
    dt = act.dtype
    N, H = hprev.shape
    dout = np.ascontiguousarray(dout, dt)
    dh = np.array(dh_n, dt, order="C")
    dgx, dgh = np.empty((N, 3 * H), dt), np.empty((N, 3 * H), dt)
    direct = np.empty(dh.shape, dt)
    step, matmul = _core.gru_cell_backward, np.matmul
    blas = _serial_blas(dh.shape[0] * 3 * H * H)
    try:
        for r0, r1 in reversed(rnn_steps(batch_sizes, reverse)):
            bs = r1 - r0
            rows = (act[r0:r1], hprev[r0:r1], dgx[r0:r1], dgh[r0:r1])
            step(dh[:bs], dout[r0:r1], *rows, direct[:bs])
            matmul(dgh[r0:r1], w_hh, out=dh[:bs])
            dh[:bs] += direct[:bs]
        dw_hh, db_hh = dgh.T @ hprev, dgh.sum(0)
        dx, dw_ih, db_ih = _input_grads(dgx, x, w_ih, need_dx)
    finally:
        _restore_blas(blas)
    return dx, dw_ih, db_ih, dw_hh, db_hh, dh


if _core is None or not hasattr(_core, "lstm_cell_forward"):  # unbuilt: per-step reference path
    del lstm_layer_forward, lstm_layer_backward, gru_layer_forward, gru_layer_backward
    __all__ = []
