"""Recurrent cells and their fused kernels: RNNCell / LSTMCell / GRUCell against numpy and
PyTorch, float64 gradcheck of the functional cell forms on every device, the fused pointwise
Functions and the fused sequence kernels against their reference compositions (forward and
backward, double backward too), and the Cython step kernels against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, to_np
from seq_refs import (
    DTYPES,
    TOL,
    compare_results,
    copy_to_torch,
    gru_cell_np,
    lstm_cell_np,
    rnn_cell_np,
    sigmoid,
    torch_or_skip,
)

import deepforge as df
import deepforge.nn as nn
from deepforge.nn.functional import _rnn as R
from deepforge.ops._fused import kernel, reference_only

CELLS = ["RNNCell-tanh", "RNNCell-relu", "LSTMCell", "GRUCell"]


def make_cell(lib, name, bias, dtype, device=None):
    cls, _, nl = name.partition("-")
    kw = {"nonlinearity": nl} if nl else {}
    m = getattr(lib.nn, cls)(4, 5, bias=bias, **kw)
    return m.to(dtype) if device is None else m.to(device=device, dtype=dtype)


def cell_np(name, m, x, hx):
    w = {k: to_np(v) for k, v in m.state_dict().items()}
    args = [w["weight_ih"], w["weight_hh"], w.get("bias_ih"), w.get("bias_hh")]
    if name == "LSTMCell":
        return lstm_cell_np(x, hx[0], hx[1], *args)
    if name == "GRUCell":
        return gru_cell_np(x, hx, *args)
    return rnn_cell_np(x, hx, *args, nonlinearity=name.partition("-")[2])


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("given", [True, False])
def test_cell_matches_numpy(device, name, bias, batched, given):
    rng = np.random.default_rng(0)
    m = make_cell(df, name, bias, df.float64, device)
    lead = (3,) if batched else ()
    x = rng.standard_normal(lead + (4,))
    states = [rng.standard_normal(lead + (5,)) if given else np.zeros(lead + (5,))
              for _ in range(2)]
    hx = tuple(states) if name == "LSTMCell" else states[0]
    t = (lambda a: df.tensor(a, device=device))
    arg = (tuple(t(s) for s in hx) if name == "LSTMCell" else t(hx)) if given else None
    out = m(t(x), arg)
    ref = cell_np(name, m, x, hx)
    for o, r in zip(out if name == "LSTMCell" else (out,), ref if name == "LSTMCell" else (ref,)):
        assert_close(o, r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("np_dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_torch(device, np_dtype, name, bias, batched):
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    m = make_cell(df, name, bias, DTYPES[np_dtype], device)
    tm = copy_to_torch(m, make_cell(torch, name, bias, getattr(torch, np.dtype(np_dtype).name)))
    lead = (3,) if batched else ()
    arrays = [rng.standard_normal(lead + (n,)).astype(np_dtype) for n in (4, 5, 5)]
    ours = [df.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    nst = 2 if name == "LSTMCell" else 1
    hx = (lambda s: tuple(s[1:3]) if nst == 2 else s[1])
    compare_results(m, tm, m(ours[0], hx(ours)), tm(theirs[0], hx(theirs)), ours[:1 + nst],
                    theirs[:1 + nst], np_dtype)


FUNCTIONAL = {
    "rnn_tanh_cell": (R.rnn_tanh_cell, 1, 1),
    "rnn_relu_cell": (R.rnn_relu_cell, 1, 1),
    "lstm_cell": (R.lstm_cell, 4, 2),
    "gru_cell": (R.gru_cell, 3, 1),
}


@pytest.mark.parametrize("name", list(FUNCTIONAL))
@pytest.mark.parametrize("bias", [True, False])
def test_functional_cell_gradcheck(device, name, bias):
    fn, gates, nst = FUNCTIONAL[name]
    rng = np.random.default_rng(2)
    B, I, H = 2, 2, 3

    def t(*shape):
        return df.tensor(rng.standard_normal(shape), device=device, requires_grad=True)

    x, h, c = t(B, I), t(B, H), t(B, H)
    ws = [t(gates * H, I), t(gates * H, H)] + ([t(gates * H), t(gates * H)] if bias else [])

    def f(x, h, c, *ws):
        return fn(x, (h, c) if nst == 2 else h, *ws)

    assert df.autograd.gradcheck(f, (x, h, c, *ws), fast_mode=device != "cpu")


@pytest.mark.parametrize("which", ["lstm", "gru"])
def test_pointwise_function_matches_reference(device, which):
    """The fused pointwise Function (one graph node, Tensor-op backward) against the plain
    composition: forward values and every input gradient."""
    rng = np.random.default_rng(3)
    shapes = [(3, 20), (3, 5)] if which == "lstm" else [(3, 15), (3, 15), (3, 5)]
    fused = R.lstm_cell_pointwise if which == "lstm" else R.gru_cell_pointwise
    ref = R.lstm_cell_reference if which == "lstm" else R.gru_cell_reference
    arrays = [rng.standard_normal(s) for s in shapes]
    results = []
    for fn in (fused, ref):
        ins = [df.tensor(a, device=device, requires_grad=True) for a in arrays]
        outs = fn(*ins)
        outs = outs if isinstance(outs, tuple) else (outs,)
        seeds = [np.random.default_rng(4 + k).standard_normal(tuple(o.shape))
                 for k, o in enumerate(outs)]
        sum((o * df.tensor(s, device=device)).sum() for o, s in zip(outs, seeds)).backward()
        results.append([to_np(o) for o in outs] + [to_np(i.grad) for i in ins])
    for a, b in zip(*results):
        assert_close(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("which", ["lstm", "gru"])
def test_pointwise_function_double_backward(device, which):
    rng = np.random.default_rng(5)
    shapes = [(2, 12), (2, 3)] if which == "lstm" else [(2, 9), (2, 9), (2, 3)]
    fn = R.lstm_cell_pointwise if which == "lstm" else R.gru_cell_pointwise
    ins = [df.tensor(rng.standard_normal(s), device=device, requires_grad=True) for s in shapes]
    assert df.autograd.gradgradcheck(fn, tuple(ins), fast_mode=device != "cpu")


def _layer_case(which, proj, bias, batch_sizes, rng, device, x_grad=True):
    """Inputs of ``lstm_layer`` (x, w_ih, b, w_hh, w_hr, h0, c0) or ``gru_layer`` (x, w_ih,
    b_ih, w_hh, b_hh, h0) for an input size 2, hidden size 4 (projected to 3)."""
    H, P, I = 4, (3 if proj else 4), 2
    N, B = sum(batch_sizes), batch_sizes[0]
    G = (4 if which == "lstm" else 3) * H

    def t(*shape, grad=True):
        return df.tensor(rng.standard_normal(shape), device=device, requires_grad=grad)

    x, w_ih = t(N, I, grad=x_grad), t(G, I)
    if which == "lstm":
        return [x, w_ih, t(G) if bias else None, t(G, P), t(P, H) if proj else None, t(B, P),
                t(B, H)]
    return [x, w_ih, t(G) if bias else None, t(G, H), t(G) if bias else None, t(B, H)]


# (which, proj, bias, reverse, batch_sizes, x needs grad)
LAYER_CASES = [
    ("lstm", False, True, False, (3, 3, 3), True), ("lstm", False, True, True, (3, 2, 2, 1), True),
    ("lstm", True, True, False, (3, 2, 1), True), ("lstm", True, False, True, (2, 2, 1), False),
    ("gru", False, True, False, (3, 3, 3), True), ("gru", False, True, True, (3, 2, 2, 1), True),
    ("gru", False, False, False, (2, 1), False),
]


@pytest.mark.parametrize("which,proj,bias,reverse,batch_sizes,x_grad", LAYER_CASES)
def test_layer_kernels_match_reference(device, which, proj, bias, reverse, batch_sizes, x_grad):
    """One direction of a layer through the backend's fused sequence kernels (where it has
    them) against the per-step reference composition: outputs, final states, gradients."""
    results = []
    for ref in (False, True):
        ins = _layer_case(which, proj, bias, batch_sizes, np.random.default_rng(6), device, x_grad)
        with reference_only() if ref else _nullcontext():
            outs = (R.lstm_layer if which == "lstm" else R.gru_layer)(*ins, list(batch_sizes),
                                                                      reverse)
        seeds = [np.random.default_rng(7 + k).standard_normal(tuple(o.shape))
                 for k, o in enumerate(outs)]
        sum((o * df.tensor(s, device=device)).sum() for o, s in zip(outs, seeds)).backward()
        results.append([to_np(o) for o in outs] +
                       [to_np(i.grad) for i in ins if i is not None and i.requires_grad])
        assert x_grad or ins[0].grad is None
    for a, b in zip(*results):
        assert_close(a, b, rtol=1e-11, atol=1e-12)


def test_layer_kernels_are_used_on_cpu():
    x = df.zeros(2, 4)
    assert kernel(x, "lstm_layer_forward") is not None
    assert kernel(x, "gru_layer_backward") is not None
    out = R.lstm_layer(df.zeros(2, 3), df.zeros(8, 3, requires_grad=True), None, df.zeros(8, 2),
                       None, df.zeros(1, 2), df.zeros(1, 2), [1, 1])
    assert type(out[0].grad_fn).__name__.startswith("LSTMLayer")


@pytest.mark.parametrize("which", ["lstm", "gru"])
@pytest.mark.parametrize("ref", [False, True], ids=["fused", "reference"])
def test_layer_double_backward(device, which, ref):
    ins = _layer_case(which, which == "lstm", True, (2, 2, 1), np.random.default_rng(8), device)
    fn = R.lstm_layer if which == "lstm" else R.gru_layer

    def f(*a):
        return fn(*a, [2, 2, 1], True)

    with reference_only() if ref else _nullcontext():
        assert df.autograd.gradgradcheck(f, tuple(ins), fast_mode=device != "cpu")


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# the Cython step kernels against numpy ------------------------------------------------------------
@pytest.mark.parametrize("np_dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_core_lstm_step_kernels(np_dtype):
    core = pytest.importorskip("deepforge._core")
    rng = np.random.default_rng(9)
    B, H = 3, 5
    xg, hgT = rng.standard_normal((B, 4 * H)), rng.standard_normal((4 * H, B))
    c0 = rng.standard_normal((B, H))
    a = [np.array(v, np_dtype) for v in (xg, hgT, c0)]
    c = a[2].copy()
    act, cprev, cnew, h, h2 = (np.empty(s, np_dtype) for s in
                               [(B, 4 * H), (B, H), (B, H), (B, H), (B, H)])
    core.lstm_cell_forward(a[0], a[1], c, act, cprev, cnew, h, h2)
    pre = xg + hgT.T
    i, f, g, o = np.split(pre, 4, 1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    c_ref = f * c0 + i * g
    tol = TOL[np_dtype]
    for got, want in [(act, np.concatenate([i, f, g, o], 1)), (c, c_ref), (cnew, c_ref),
                      (cprev, c0), (h, o * np.tanh(c_ref)), (h2, o * np.tanh(c_ref))]:
        np.testing.assert_allclose(got, want, **tol)
    dh, dh2, dc = (rng.standard_normal((B, H)) for _ in range(3))
    dg = np.empty((B, 4 * H), np_dtype)
    dcc = dc.astype(np_dtype)
    core.lstm_cell_backward(dh.astype(np_dtype), dh2.astype(np_dtype), dcc, act, cnew, cprev, dg)
    tc = np.tanh(c_ref)
    gh = dh + dh2
    gct = dc + gh * o * (1 - tc * tc)
    want = np.concatenate([gct * g * i * (1 - i), gct * c0 * f * (1 - f), gct * i * (1 - g * g),
                           gh * tc * o * (1 - o)], 1)
    np.testing.assert_allclose(dg, want, **tol)
    np.testing.assert_allclose(dcc, gct * f, **tol)


@pytest.mark.parametrize("np_dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("bias", [True, False])
def test_core_gru_step_kernels(np_dtype, bias):
    core = pytest.importorskip("deepforge._core")
    rng = np.random.default_rng(10)
    B, H = 3, 5
    xg, hgT, h0 = rng.standard_normal((B, 3 * H)), rng.standard_normal((3 * H, B)), \
        rng.standard_normal((B, H))
    bhh = rng.standard_normal(3 * H) if bias else np.empty(0)
    cast = (lambda v: np.array(v, np_dtype))  # copies: the kernel writes h in place
    h = cast(h0)
    act, hprev, out = (np.empty(s, np_dtype) for s in [(B, 4 * H), (B, H), (B, H)])
    core.gru_cell_forward(cast(xg), cast(hgT), cast(bhh), h, act, hprev, out)
    hg = hgT.T + (bhh if bias else 0)
    r, z = sigmoid(xg[:, :H] + hg[:, :H]), sigmoid(xg[:, H:2 * H] + hg[:, H:2 * H])
    n = np.tanh(xg[:, 2 * H:] + r * hg[:, 2 * H:])
    h_ref = (1 - z) * n + z * h0
    tol = TOL[np_dtype]
    for got, want in [(h, h_ref), (out, h_ref), (hprev, h0),
                      (act, np.concatenate([r, z, n, hg[:, 2 * H:]], 1))]:
        np.testing.assert_allclose(got, want, **tol)
    dh = rng.standard_normal((B, H))
    dgx, dgh = np.empty((B, 3 * H), np_dtype), np.empty((B, 3 * H), np_dtype)
    dhp = np.empty((B, H), np_dtype)
    core.gru_cell_backward(cast(dh), np.empty((0, H), np_dtype), act, hprev, dgx, dgh, dhp)
    dn = dh * (1 - z) * (1 - n * n)
    dz = dh * (h0 - n) * z * (1 - z)
    dr = dn * hg[:, 2 * H:] * r * (1 - r)
    np.testing.assert_allclose(dgx, np.concatenate([dr, dz, dn], 1), **tol)
    np.testing.assert_allclose(dgh, np.concatenate([dr, dz, dn * r], 1), **tol)
    np.testing.assert_allclose(dhp, dh * z, **tol)


def test_core_kernel_shape_errors():
    core = pytest.importorskip("deepforge._core")
    z = np.zeros
    with pytest.raises(ValueError, match=r"lstm_cell_forward: expected hgT of shape \(8, 3\)"):
        core.lstm_cell_forward(z((3, 8)), z((3, 8)), z((3, 2)), z((3, 8)), z((3, 2)), z((3, 2)),
                               z((3, 2)), z((0, 2)))
    with pytest.raises(ValueError, match="gru_cell_backward: expected dgx"):
        core.gru_cell_backward(z((3, 2)), z((0, 2)), z((3, 8)), z((3, 2)), z((3, 5)), z((3, 6)),
                               z((3, 2)))


def test_cells_state_dict_layout():
    for cls, k in ((nn.RNNCell, 1), (nn.LSTMCell, 4), (nn.GRUCell, 3)):
        sd = cls(4, 5).state_dict()
        assert list(sd) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        assert tuple(sd["weight_ih"].shape) == (k * 5, 4)
        assert tuple(sd["weight_hh"].shape) == (k * 5, 5)
        assert tuple(sd["bias_hh"].shape) == (k * 5,)
        assert list(cls(4, 5, bias=False).state_dict()) == ["weight_ih", "weight_hh"]
