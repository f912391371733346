"""Recurrent modules as modules: state_dict names and shapes equal to PyTorch's, repr,
train/eval (inter-layer dropout only in training), dtype/device moves, and every bad-input path
with PyTorch's error type and message."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, to_np
from seq_refs import torch_or_skip

import deepforge as df
import deepforge.nn as nn

CONFIGS = [
    ("RNN", {}), ("RNN", {"num_layers": 2, "bidirectional": True, "nonlinearity": "relu"}),
    ("LSTM", {"num_layers": 3, "bias": False}), ("LSTM", {"proj_size": 3, "bidirectional": True}),
    ("GRU", {"num_layers": 2, "batch_first": True, "dropout": 0.2}),
]


@pytest.mark.parametrize("cls,kw", CONFIGS)
def test_state_dict_matches_torch(cls, kw):
    torch = torch_or_skip()
    ours = getattr(nn, cls)(5, 7, **kw)
    theirs = getattr(torch.nn, cls)(5, 7, **kw)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    assert [tuple(v.shape) for v in sd.values()] == [tuple(v.shape) for v in tsd.values()]
    assert ours._flat_weights_names == theirs._flat_weights_names
    assert [[tuple(w.shape) for w in ws] for ws in ours.all_weights] == \
        [[tuple(w.shape) for w in ws] for ws in theirs.all_weights]
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: df.tensor(v.numpy()) for k, v in tsd.items()})


def test_reprs_match_torch():
    torch = torch_or_skip()
    for make in (lambda m: m.RNNCell(5, 7, nonlinearity="relu"), lambda m: m.GRUCell(5, 7, False),
                 lambda m: m.LSTMCell(5, 7)):
        assert repr(make(nn)) == repr(make(torch.nn))


def test_init_range():
    m = nn.LSTM(4, 16, 2)
    for p in m.parameters():
        assert to_np(p).max() <= 0.25 and to_np(p).min() >= -0.25 and to_np(p).std() > 0.1


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_dropout_only_between_layers_in_training(device, cls):
    """dropout=1 zeroes the input of the second layer in training: its output no longer
    depends on the input; in eval mode the model is the dropout-free model."""
    m = getattr(nn, cls)(3, 4, num_layers=2, dropout=1.0).to(device)
    ref = getattr(nn, cls)(3, 4, num_layers=2).to(device)
    ref.load_state_dict(m.state_dict())
    x1, x2 = df.randn(5, 2, 3, device=device), df.randn(5, 2, 3, device=device)
    m.eval()
    assert_close(m(x1)[0], ref(x1)[0])
    assert not np.allclose(to_np(m(x1)[0]), to_np(m(x2)[0]))
    m.train()
    assert_close(m(x1)[0], m(x2)[0])
    single = getattr(nn, cls)(3, 4).to(device)
    single.train()
    assert_close(single(x1)[0], single(x1)[0])  # no dropout after the last layer


def test_single_layer_dropout_warns():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(5, 7, 1, dropout=0.5)


def test_to_dtype_and_device(device):
    m = nn.GRU(3, 4).to(device=device, dtype=df.float64)
    out, h = m(df.randn(2, 1, 3, dtype=df.float64, device=device))
    assert out.dtype == df.float64 and out.device == df.device(device)


def test_module_errors():
    m = nn.LSTM(5, 7, 2)
    x = df.randn(4, 3, 5)
    z = df.zeros
    cases = [
        (RuntimeError, "input.size(-1) must be equal to input_size. Expected 5, got 4",
         lambda: m(df.randn(4, 3, 4))),
        (RuntimeError, "Expected hidden[0] size (2, 3, 7), got [1, 3, 7]",
         lambda: m(x, (z(1, 3, 7), z(2, 3, 7)))),
        (RuntimeError, "Expected hidden[1] size (2, 3, 7), got [1, 3, 7]",
         lambda: m(x, (z(2, 3, 7), z(1, 3, 7)))),
        (ValueError, "LSTM: Expected input to be 2D or 3D, got 4D instead",
         lambda: m(df.randn(1, 4, 3, 5))),
        (RuntimeError, "For batched 3-D input, hx and cx should also be 3-D but got (2-D, 2-D) "
                       "tensors", lambda: m(x, (z(3, 7), z(3, 7)))),
        (RuntimeError, "For unbatched 2-D input, hx and cx should also be 2-D but got (3-D, 3-D) "
                       "tensors", lambda: m(df.randn(4, 5), (z(2, 1, 7), z(2, 1, 7)))),
        (ValueError, "RNN input dtype (deepforge.float64) does not match weight dtype "
                     "(deepforge.float32)", lambda: m(x.double())),
        (RuntimeError, "Expected hidden size (1, 3, 7), got [2, 3, 7]",
         lambda: nn.GRU(5, 7)(x, z(2, 3, 7))),
        (RuntimeError, "For batched 3-D input, hx should also be 3-D but got 2-D tensor",
         lambda: nn.RNN(5, 7)(x, z(3, 7))),
        (RuntimeError, "Input and hidden tensors are not the same dtype",
         lambda: nn.GRU(5, 7)(x, z(1, 3, 7, dtype=df.float64))),
        (ValueError, "Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'.",
         lambda: nn.RNN(5, 7, nonlinearity="sigmoid")),
        (ValueError, "proj_size argument is only supported for LSTM, not RNN or GRU",
         lambda: nn.GRU(5, 7, proj_size=2)),
        (ValueError, "proj_size has to be smaller than hidden_size",
         lambda: nn.LSTM(5, 7, proj_size=7)),
        (ValueError, "dropout should be a number in range [0, 1]",
         lambda: nn.LSTM(5, 7, dropout=1.5)),
        (ValueError, "hidden_size must be greater than zero", lambda: nn.LSTM(5, 0)),
        (ValueError, "num_layers must be greater than zero", lambda: nn.LSTM(5, 7, 0)),
        (TypeError, "hidden_size should be of type int, got: float", lambda: nn.LSTM(5, 7.0)),
    ]
    for exc, msg, fn in cases:
        with pytest.raises(exc) as info:
            fn()
        assert msg in str(info.value), (msg, str(info.value))


def test_cell_errors():
    c = nn.LSTMCell(5, 7)
    z = df.zeros
    cases = [
        (RuntimeError, "input has inconsistent input_size: got 4 expected 5",
         lambda: c(df.randn(3, 4))),
        (RuntimeError, "Input batch size 3 doesn't match hidden0 batch size 2",
         lambda: c(df.randn(3, 5), (z(2, 7), z(3, 7)))),
        (RuntimeError, "hidden0 has inconsistent hidden_size: got 6, expected 7",
         lambda: c(df.randn(3, 5), (z(3, 6), z(3, 7)))),
        (RuntimeError, "Input batch size 3 doesn't match hidden1 batch size 2",
         lambda: c(df.randn(3, 5), (z(3, 7), z(2, 7)))),
        (ValueError, "LSTMCell: Expected input to be 1D or 2D, got 3D instead",
         lambda: c(df.randn(2, 3, 5))),
        (RuntimeError, "Input batch size 3 doesn't match hidden0 batch size 2",
         lambda: nn.GRUCell(5, 7)(df.randn(3, 5), z(2, 7))),
        (RuntimeError, "hidden0 has inconsistent hidden_size: got 1, expected 7",
         lambda: nn.GRUCell(5, 7)(df.randn(5), z(1, 7))),
        (RuntimeError, "Unknown nonlinearity: x",
         lambda: nn.RNNCell(5, 7, nonlinearity="x")(df.randn(3, 5))),
    ]
    for exc, msg, fn in cases:
        with pytest.raises(exc) as info:
            fn()
        assert msg in str(info.value), (msg, str(info.value))


def test_errors_match_torch_messages():
    """The same bad calls raise the same error types with the same messages in PyTorch."""
    torch = torch_or_skip()
    for lib in (df, torch):
        m = lib.nn.LSTM(5, 7, 2)
        with pytest.raises(RuntimeError) as info:
            m(lib.randn(4, 3, 5), (lib.zeros(1, 3, 7), lib.zeros(2, 3, 7)))
        assert str(info.value) == "Expected hidden[0] size (2, 3, 7), got [1, 3, 7]"
        with pytest.raises(RuntimeError) as info:
            lib.nn.GRU(5, 7, 2)(lib.randn(4, 3, 5), lib.zeros(1, 3, 7))
        assert str(info.value) == "Expected hidden size (2, 3, 7), got [1, 3, 7]"
        with pytest.raises(RuntimeError) as info:
            m(lib.randn(4, 3, 4))
        assert str(info.value) == "input.size(-1) must be equal to input_size. Expected 5, got 4"
