"""Plain numpy references for the recurrent cells and attention, and the PyTorch comparison
helpers shared by the tests/test_seq_*.py files."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import to_np

import deepforge as df

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}
DTYPES = {np.float32: df.float32, np.float64: df.float64}


def torch_or_skip():
    return pytest.importorskip("torch")


# numpy references ---------------------------------------------------------------------------------
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _lin(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def rnn_cell_np(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    pre = _lin(x, w_ih, b_ih) + _lin(h, w_hh, b_hh)
    return np.tanh(pre) if nonlinearity == "tanh" else np.maximum(pre, 0)


def lstm_cell_np(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    i, f, g, o = np.split(_lin(x, w_ih, b_ih) + _lin(h, w_hh, b_hh), 4, axis=-1)
    c2 = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
    h2 = sigmoid(o) * np.tanh(c2)
    return (h2 if w_hr is None else h2 @ w_hr.T), c2


def gru_cell_np(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    xr, xz, xn = np.split(_lin(x, w_ih, b_ih), 3, axis=-1)
    hr, hz, hn = np.split(_lin(h, w_hh, b_hh), 3, axis=-1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def rnn_layer_np(mode, x, h, c, weights, reverse=False):
    """One direction of one layer over x (T, B, I) with the cell of ``mode``: outputs, h, c."""
    T = x.shape[0]
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        if mode == "LSTM":
            h, c = lstm_cell_np(x[t], h, c, *weights)
        elif mode == "GRU":
            h = gru_cell_np(x[t], h, *weights)
        else:
            nl = "tanh" if mode == "RNN_TANH" else "relu"
            h = rnn_cell_np(x[t], h, *weights, nonlinearity=nl)
        outs[t] = h
    return np.stack(outs), h, c


def sdpa_np(q, k, v, mask=None, scale=None, causal=False):
    s = (q @ np.swapaxes(k, -1, -2)) * (1 / np.sqrt(q.shape[-1]) if scale is None else scale)
    if causal:
        mask = np.tril(np.ones((q.shape[-2], k.shape[-2]), bool))
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    s = s - s.max(-1, keepdims=True)
    e = np.exp(s)
    return (e / e.sum(-1, keepdims=True)) @ v


# PyTorch comparison -------------------------------------------------------------------------------
def copy_to_torch(module, tmodule):
    """Load ``module``'s state_dict into the PyTorch module ``tmodule`` (same keys and shapes)."""
    import torch

    sd = {k: torch.tensor(to_np(v)) for k, v in module.state_dict().items()}
    tmodule.load_state_dict(sd)
    return tmodule


def to_torch(a, requires_grad=False):
    import torch

    t = torch.tensor(to_np(a) if isinstance(a, df.Tensor) else np.asarray(a))
    return t.requires_grad_(requires_grad)


def flat_outputs(out):
    """The tensors of a (possibly nested, PackedSequence-holding) module output, in order."""
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        if hasattr(out, "batch_sizes"):  # PackedSequence
            return [out.data]
        return [t for o in out for t in flat_outputs(o)]
    return [out]


def backward_with_seeds(outs, seeds, lib):
    """sum(out * seed) over the outputs, backpropagated (lib: deepforge or torch)."""
    total = None
    for o, s in zip(outs, seeds):
        term = (o * lib.tensor(s, dtype=o.dtype, device=o.device)).sum()
        total = term if total is None else total + term
    total.backward()


def compare_results(module, tmodule, out, tout, leaves, tleaves, dtype):
    """Compare every output tensor of deepforge's ``out`` with PyTorch's ``tout``, then
    backpropagate the same random seeds through both and compare the gradients of ``leaves``
    (inputs, initial states) and of every parameter, by name."""
    import torch

    outs, touts = flat_outputs(out), flat_outputs(tout)
    assert len(outs) == len(touts)
    tol = TOL[dtype]
    for o, t in zip(outs, touts):
        assert tuple(o.shape) == tuple(t.shape), f"shape {tuple(o.shape)} != {tuple(t.shape)}"
        np.testing.assert_allclose(to_np(o), t.detach().numpy(), **tol)
    rng = np.random.default_rng(1)
    seeds = [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in touts]
    backward_with_seeds(outs, seeds, df)
    backward_with_seeds(touts, seeds, torch)
    for k, (a, t) in enumerate(zip(leaves, tleaves)):
        np.testing.assert_allclose(to_np(a.grad), t.grad.numpy(), **tol,
                                   err_msg=f"grad of input {k}")
    tparams = dict(tmodule.named_parameters())
    for name, p in module.named_parameters():
        tp = tparams[name]
        if tp.grad is None:
            assert p.grad is None or not to_np(p.grad).any(), name
            continue
        assert p.grad is not None, f"no gradient for {name}"
        np.testing.assert_allclose(to_np(p.grad), tp.grad.numpy(), **tol, err_msg=name)


def compare_module(module, tmodule, args, targs, dtype, kwargs=None, grad_args=()):
    """``module(*args, **kwargs)`` vs ``tmodule(*targs, **kwargs)`` with ``compare_results``;
    ``grad_args``: indices of the arguments whose gradients are compared."""
    kwargs = kwargs or {}
    compare_results(module, tmodule, module(*args, **kwargs), tmodule(*targs, **kwargs),
                    [args[i] for i in grad_args], [targs[i] for i in grad_args], dtype)
