"""RNN / LSTM / GRU layers: forward against a numpy reference and against PyTorch with the same
weights (outputs, final states, gradients of inputs and of every weight) over the option matrix:
layers, direction, batch_first, proj_size, bias, unbatched input, given initial states, packed
sequences (sorted and unsorted)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, to_np
from seq_refs import DTYPES, compare_results, copy_to_torch, rnn_layer_np, torch_or_skip

import deepforge as df
import deepforge.nn as nn

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:torch")  # PyTorch's own notes

T, B, I, H = 5, 3, 4, 6
MODES = {"RNN_TANH": "RNN", "RNN_RELU": "RNN", "LSTM": "LSTM", "GRU": "GRU"}

# (name, constructor options, input options)
CASES = [
    ("base", {}, {}),
    ("2layer_bidir", {"num_layers": 2, "bidirectional": True}, {}),
    ("batch_first_h0", {"batch_first": True}, {"h0": True}),
    ("nobias_2layer", {"bias": False, "num_layers": 2}, {}),
    ("unbatched", {}, {"unbatched": True}),
    ("unbatched_h0_bidir", {"bidirectional": True}, {"unbatched": True, "h0": True}),
    ("packed_sorted", {"num_layers": 2}, {"packed": "sorted"}),
    ("packed_unsorted_bidir_h0", {"num_layers": 2, "bidirectional": True},
     {"packed": "unsorted", "h0": True}),
    ("packed_batch_first", {"batch_first": True, "bidirectional": True}, {"packed": "unsorted"}),
]
PROJ_CASES = [
    ("proj", {"proj_size": 2}, {}),
    ("proj_2layer_bidir_h0", {"proj_size": 3, "num_layers": 2, "bidirectional": True},
     {"h0": True}),
    ("proj_packed_unsorted", {"proj_size": 2, "num_layers": 2}, {"packed": "unsorted", "h0": True}),
    ("proj_unbatched_nobias", {"proj_size": 2, "bias": False}, {"unbatched": True}),
]
ALL = [(m, *c) for m in MODES for c in CASES] + [("LSTM", *c) for c in PROJ_CASES]


def make(lib, mode, opts, dtype, device=None):
    kw = dict(opts)
    if mode.startswith("RNN"):
        kw["nonlinearity"] = "tanh" if mode == "RNN_TANH" else "relu"
    m = getattr(lib.nn, MODES[mode])(I, H, **kw)
    return m.to(dtype) if device is None else m.to(device=device, dtype=dtype)


def inputs(mode, opts, iopts, dtype, rng):
    dirs = 2 if opts.get("bidirectional") else 1
    n = opts.get("num_layers", 1) * dirs
    hout = opts.get("proj_size") or H
    if iopts.get("unbatched"):
        x = rng.standard_normal((T, I))
        hs = [(n, hout), (n, H)]
    else:
        x = rng.standard_normal((B, T, I) if opts.get("batch_first") else (T, B, I))
        hs = [(n, B, hout), (n, B, H)]
    h0 = [rng.standard_normal(s).astype(dtype) for s in hs] if iopts.get("h0") else None
    if h0 is not None and mode != "LSTM":
        h0 = h0[:1]
    return x.astype(dtype), h0


def run_case(lib, module, x, h0, mode, opts, iopts, device, req=True):
    """Build the (possibly packed) input for ``lib`` and call ``module``; returns the tensors
    that received requires_grad and the module's output."""
    dev = {} if lib is not df else {"device": device}
    xt = lib.tensor(x, **dev).requires_grad_(req)
    leaves = [xt]
    hx = None
    if h0 is not None:
        hs = [lib.tensor(h, **dev).requires_grad_(req) for h in h0]
        leaves += hs
        hx = tuple(hs) if mode == "LSTM" else hs[0]
    inp = xt
    packed = iopts.get("packed")
    if packed:
        lengths = [5, 3, 2] if packed == "sorted" else [2, 5, 3]
        inp = lib.nn.utils.rnn.pack_padded_sequence(
            xt, lengths, batch_first=opts.get("batch_first", False),
            enforce_sorted=packed == "sorted")
    return leaves, module(inp, hx)


@pytest.mark.parametrize("np_dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("mode,name,opts,iopts", ALL, ids=[f"{a[0]}-{a[1]}" for a in ALL])
def test_rnn_matches_torch(device, np_dtype, mode, name, opts, iopts):
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    x, h0 = inputs(mode, opts, iopts, np_dtype, rng)
    m = make(df, mode, opts, DTYPES[np_dtype], device)
    tm = copy_to_torch(m, make(torch, mode, opts, getattr(torch, np.dtype(np_dtype).name)))
    leaves, out = run_case(df, m, x, h0, mode, opts, iopts, device)
    tleaves, tout = run_case(torch, tm, x, h0, mode, opts, iopts, device)
    compare_results(m, tm, out, tout, leaves, tleaves, np_dtype)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_matches_numpy(device, mode, bidirectional):
    """Two stacked layers recomputed with the numpy cells."""
    rng = np.random.default_rng(2)
    m = make(df, mode, {"num_layers": 2, "bidirectional": bidirectional}, df.float64, device)
    x = rng.standard_normal((T, B, I))
    out, hn = m(df.tensor(x, device=device))
    dirs = 2 if bidirectional else 1
    w = {k: to_np(v) for k, v in m.state_dict().items()}
    inp, hs, cs = x, [], []
    for layer in range(2):
        outs = []
        for d in range(dirs):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            ws = [w[n + sfx] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            z = np.zeros((B, H))
            y, h, c = rnn_layer_np(mode, inp, z, z, ws, reverse=d == 1)
            outs.append(y)
            hs.append(h)
            cs.append(c)
        inp = np.concatenate(outs, -1)
    assert_close(out, inp, rtol=1e-10, atol=1e-12)
    if mode == "LSTM":
        assert_close(hn[0], np.stack(hs), rtol=1e-10, atol=1e-12)
        assert_close(hn[1], np.stack(cs), rtol=1e-10, atol=1e-12)
    else:
        assert_close(hn, np.stack(hs), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", list(MODES))
def test_rnn_gradcheck(device, mode):
    """float64 gradcheck of a 2-layer bidirectional stack (seq 3, batch 2, hidden 3)."""
    kw = {"nonlinearity": "relu"} if mode == "RNN_RELU" else {}
    m = getattr(df.nn, MODES[mode])(2, 3, num_layers=2, bidirectional=True, **kw)
    m = m.to(device=device, dtype=df.float64)
    x = df.randn(3, 2, 2, dtype=df.float64, device=device, requires_grad=True)

    def fn(x, *params):  # gradcheck perturbs the parameters in place: the module sees it
        out, hn = m(x)
        return out, (hn[1] if mode == "LSTM" else hn)

    assert df.autograd.gradcheck(fn, (x, *m.parameters()), fast_mode=device != "cpu")


def test_lstm_proj_gradcheck(device):
    m = nn.LSTM(2, 3, proj_size=2, num_layers=2).to(device=device, dtype=df.float64)
    x = df.randn(3, 2, 2, dtype=df.float64, device=device, requires_grad=True)
    h0 = df.randn(2, 2, 2, dtype=df.float64, device=device, requires_grad=True)
    c0 = df.randn(2, 2, 3, dtype=df.float64, device=device, requires_grad=True)

    def fn(x, h0, c0):
        out, (h, c) = m(x, (h0, c0))
        return out, h, c

    assert df.autograd.gradcheck(fn, (x, h0, c0), fast_mode=device != "cpu")


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_packed_gradcheck(device, mode):
    m = getattr(nn, mode)(2, 3, bidirectional=True).to(device=device, dtype=df.float64)
    x = df.randn(3, 3, 2, dtype=df.float64, device=device, requires_grad=True)

    def fn(x):
        p = nn.utils.rnn.pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False)
        out, hn = m(p)
        return out.data, (hn[0] if mode == "LSTM" else hn)

    assert df.autograd.gradcheck(fn, (x,), fast_mode=device != "cpu")
