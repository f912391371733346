"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their cells, with PyTorch's weight names
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ``weight_hr_l0``), gate orders (LSTM i,f,g,o; GRU
r,z,n), initial states, bidirectional stacks, inter-layer dropout and packed sequences.

Each direction of each layer is ``ops.recurrent.lstm_layer`` / ``gru_layer`` (one input
projection GEMM over all time steps, then the steps; one fused graph node on backends with
sequence kernels) or, for plain RNNs, the projection and a per-step loop of Tensor ops."""

from __future__ import annotations

import math
import numbers
import warnings

import deepforge
from deepforge import Tensor
from deepforge.ops import recurrent as R

from .. import init
from ..functional._dropout import dropout as _dropout
from ..functional._linear import linear
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_sizes(hidden_size, num_layers, dropout, proj_size, mode):
    if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) \
            or not 0 <= dropout <= 1:
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")
    if not isinstance(hidden_size, int):
        raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
    if hidden_size <= 0:
        raise ValueError("hidden_size must be greater than zero")
    if num_layers <= 0:
        raise ValueError("num_layers must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")
    if proj_size and mode != "LSTM":
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
            f"expects num_layers greater than 1, but got dropout={dropout} and "
            f"num_layers={num_layers}", stacklevel=4)


class RNNBase(Module):
    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        _check_sizes(hidden_size, num_layers, dropout, proj_size, mode)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate = _GATES[mode] * hidden_size
        dirs = 2 if bidirectional else 1
        real_h = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        kw = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            for d in range(dirs):
                in_size = input_size if layer == 0 else real_h * dirs
                sfx = f"_l{layer}{'_reverse' if d == 1 else ''}"
                params = [("weight_ih" + sfx, (gate, in_size)), ("weight_hh" + sfx, (gate, real_h))]
                if bias:
                    params += [("bias_ih" + sfx, (gate,)), ("bias_hh" + sfx, (gate,))]
                if proj_size > 0:
                    params.append(("weight_hr" + sfx, (proj_size, hidden_size)))
                for name, shape in params:
                    setattr(self, name, Parameter(deepforge.empty(shape, **kw)))
                self._flat_weights_names += [n for n, _ in params]
                self._all_weights.append([n for n, _ in params])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Kept for API compatibility (deepforge's weights are never fragmented)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -- forward ---------------------------------------------------------------------------
    def _weights(self, layer, d):
        sfx = f"_l{layer}{'_reverse' if d == 1 else ''}"
        return tuple(getattr(self, n + sfx, None)
                     for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes = input.data, [int(b) for b in input.batch_sizes.tolist()]
            B, batched = batch_sizes[0], True
        else:
            if input.ndim not in (2, 3):
                raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                                 f"{input.ndim}D instead")
            batched = input.ndim == 3
            x = input if batched else input.unsqueeze(1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
            T, B = x.shape[0], x.shape[1]
            batch_sizes = [B] * T
            data = x.reshape(T * B, x.shape[2])
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {data.shape[-1]}")
        w = self.weight_ih_l0
        if data.dtype is not w.dtype and data.dtype.is_floating_point:
            raise ValueError(
                f"RNN input dtype ({data.dtype}) does not match weight dtype ({w.dtype}). Convert "
                f"input: input.to({w.dtype}), or convert model: model.to({data.dtype})")
        dirs = 2 if self.bidirectional else 1
        h0, c0 = self._initial_states(hx, B, data, batched, input if packed else None)
        outs, hs, cs = data, [], []
        for layer in range(self.num_layers):
            dir_outs = []
            for d in range(dirs):
                k = layer * dirs + d
                y, h, c = self._run_direction(outs, batch_sizes, layer, d, h0[k],
                                              c0[k] if c0 is not None else None)
                dir_outs.append(y)
                hs.append(h)
                cs.append(c)
            outs = dir_outs[0] if dirs == 1 else deepforge.cat(dir_outs, 1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                outs = _dropout(outs, self.dropout, training=True)
        h_n = deepforge.stack(hs, 0)
        c_n = deepforge.stack(cs, 0) if self.mode == "LSTM" else None
        if packed:
            if input.unsorted_indices is not None:
                h_n = h_n.index_select(1, input.unsorted_indices)
                c_n = c_n.index_select(1, input.unsorted_indices) if c_n is not None else None
            output = PackedSequence(outs, input.batch_sizes, input.sorted_indices,
                                    input.unsorted_indices)
        else:
            output = outs.reshape(T, B, outs.shape[-1])
            if self.batch_first and batched:
                output = output.transpose(0, 1)
            if not batched:
                output = output.squeeze(1)
                h_n = h_n.squeeze(1)
                c_n = c_n.squeeze(1) if c_n is not None else None
        return output, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def _initial_states(self, hx, B, data, batched, packed):
        """(h0 (layers*dirs, B, P), c0 or None), checked and in the packed batch order."""
        n = self.num_layers * (2 if self.bidirectional else 1)
        real_h = self.proj_size if self.proj_size > 0 else self.hidden_size
        lstm = self.mode == "LSTM"
        if hx is None:
            kw = {"dtype": data.dtype, "device": data.device}
            h0 = deepforge.zeros((n, B, real_h), **kw)
            return h0, (deepforge.zeros((n, B, self.hidden_size), **kw) if lstm else None)
        if lstm:
            h0, c0 = hx[0], hx[1]
        elif isinstance(hx, (tuple, list)):
            raise RuntimeError(f"{type(self).__name__} expects hx to be a Tensor, got a tuple")
        else:
            h0, c0 = hx, None
        states = (h0, c0) if lstm else (h0,)
        want = 3 if batched else 2
        if any(s.ndim != want for s in states):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            if lstm:
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                                   f"({h0.ndim}-D, {c0.ndim}-D) tensors")
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got "
                               f"{h0.ndim}-D tensor")
        if not batched:
            h0 = h0.unsqueeze(1)
            c0 = c0.unsqueeze(1) if lstm else None
        for k, (s, size) in enumerate(((h0, real_h), (c0, self.hidden_size))[:len(states)]):
            if tuple(s.shape) != (n, B, size):
                name = f"hidden[{k}]" if lstm else "hidden"
                raise RuntimeError(f"Expected {name} size {(n, B, size)}, got {list(s.shape)}")
            if s.dtype is not data.dtype:
                raise RuntimeError(f"Input and hidden tensors are not the same dtype, found input "
                                   f"tensor with {data.dtype} and hidden tensor with {s.dtype}")
            if s.device != data.device:
                raise RuntimeError(f"Input and hidden tensors are not at the same device, found "
                                   f"input tensor at {data.device} and hidden tensor at {s.device}")
        if packed is not None and packed.sorted_indices is not None:
            h0 = h0.index_select(1, packed.sorted_indices)
            c0 = c0.index_select(1, packed.sorted_indices) if lstm else None
        return h0, c0

    def _run_direction(self, data, batch_sizes, layer, d, h, c):
        w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, d)
        reverse = d == 1
        if self.mode == "LSTM":
            b = b_ih + b_hh if b_ih is not None else None
            return R.lstm_layer(data, w_ih, b, w_hh, w_hr, h, c, batch_sizes, reverse)
        if self.mode == "GRU":
            y, h = R.gru_layer(data, w_ih, b_ih, w_hh, b_hh, h, batch_sizes, reverse)
            return y, h, None
        xw = linear(data, w_ih, b_ih)
        act = deepforge.tanh if self.mode == "RNN_TANH" else deepforge.relu
        outs = [None] * len(batch_sizes)
        for t, r0, r1 in R._steps(batch_sizes, reverse):
            bs = r1 - r0
            h_new = act(xw[r0:r1] + linear(h[:bs], w_hh, b_hh))
            h = R._keep_rows(h_new, h, bs)
            outs[t] = h_new
        return deepforge.cat(outs, 0), h, None


class RNN(RNNBase):
    def __init__(self, *args, **kwargs):
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if len(args) > 3:
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(
                f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(mode, *args, **kwargs)


class LSTM(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


class RNNCellBase(Module):
    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(deepforge.empty((num_chunks * hidden_size, input_size), **kw))
        self.weight_hh = Parameter(deepforge.empty((num_chunks * hidden_size, hidden_size), **kw))
        if bias:
            self.bias_ih = Parameter(deepforge.empty(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(deepforge.empty(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prep(self, input, hx, n_states):
        """(2-D input, list of 2-D states, batched) with PyTorch's checks."""
        if input.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got "
                             f"{input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        B = x.shape[0]
        if hx is None:
            z = deepforge.zeros((B, self.hidden_size), dtype=x.dtype, device=x.device)
            return x, [z] * n_states, batched
        states = [s if batched else s.unsqueeze(0) for s in (list(hx) if n_states == 2 else [hx])]
        for k, s in enumerate(states):
            if s.ndim == 2 and s.shape[0] != B:
                raise RuntimeError(f"Input batch size {B} doesn't match hidden{k} batch size "
                                   f"{s.shape[0]}")
            if s.shape[-1] != self.hidden_size or s.ndim != 2:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got "
                                   f"{s.shape[-1] if s.ndim == 2 else s.shape[0]}, expected "
                                   f"{self.hidden_size}")
        return x, states, batched


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx=None) -> Tensor:
        if self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        x, (h,), batched = self._prep(input, hx, 1)
        f = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        out = f(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx=None):
        x, (h, c), batched = self._prep(input, hx, 2)
        h2, c2 = R.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h2, c2) if batched else (h2.squeeze(0), c2.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx=None) -> Tensor:
        x, (h,), batched = self._prep(input, hx, 1)
        out = R.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)
