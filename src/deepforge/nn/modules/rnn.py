"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their cells, with PyTorch's weight names
(``weight_ih_l0``, ``bias_hh_l1_reverse``, ``weight_hr_l0``), gate orders (LSTM i,f,g,o; GRU
r,z,n), initial states, bidirectional stacks, inter-layer dropout and packed sequences."""

from __future__ import annotations

import math

import deepforge
from deepforge import Tensor

from .. import init
from ..functional import _rnn as R
from ..functional._dropout import dropout as _dropout
from ..functional._linear import linear
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


class RNNBase(Module):
    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None, dtype=None):
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element being zeroed")
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
            import warnings

            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=2,
            )
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
                    self._flat_weights_names.append(name)
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
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        ws = self._flat_weights
        return [ws[i:i + per] for i in range(0, len(ws), per)]

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
        g = lambda n: getattr(self, n + sfx, None)  # noqa: E731
        return g("weight_ih"), g("weight_hh"), g("bias_ih"), g("bias_hh"), g("weight_hr")

    def _check_hidden(self, h, expected, which=None):
        if tuple(h.shape) != expected:
            name = "hidden" if which is None else f"hidden[{which}]"
            raise RuntimeError(f"Expected {name} size {expected}, got {list(h.shape)}")

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        if packed:
            data, batch_sizes = input.data, [int(b) for b in input.batch_sizes.tolist()]
            B = batch_sizes[0]
            batched = True
        else:
            if input.ndim not in (2, 3):
                raise ValueError(f"{self._name()}: Expected input to be 2D or 3D, got {input.ndim}D instead")
            batched = input.ndim == 3
            x = input if batched else input.unsqueeze(1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
            T, B = x.shape[0], x.shape[1]
            batch_sizes = [B] * T
            data = x.reshape(T * B, x.shape[2])
        if data.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {data.shape[-1]}"
            )
        dirs = 2 if self.bidirectional else 1
        real_h = self.proj_size if self.proj_size > 0 else self.hidden_size
        n = self.num_layers * dirs
        h0, c0 = self._initial_states(hx, n, B, real_h, data, batched, packed, input)
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
            output = PackedSequence(outs, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
        else:
            output = outs.reshape(T, B, outs.shape[-1])
            if self.batch_first and batched:
                output = output.transpose(0, 1)
            if not batched:
                output = output.squeeze(1)
                h_n = h_n.squeeze(1)
                c_n = c_n.squeeze(1) if c_n is not None else None
        return output, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def _name(self) -> str:
        return type(self).__name__

    def _initial_states(self, hx, n, B, real_h, data, batched, packed, input):
        kw = {"dtype": data.dtype, "device": data.device}
        if hx is None:
            h0 = deepforge.zeros((n, B, real_h), **kw)
            c0 = deepforge.zeros((n, B, self.hidden_size), **kw) if self.mode == "LSTM" else None
            return h0, c0
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
            h0, c0 = hx
        else:
            if isinstance(hx, (tuple, list)):
                raise RuntimeError(f"{self._name()} expects hx to be a Tensor, got a tuple")
            h0, c0 = hx, None
        if not batched:
            if h0.ndim != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {h0.ndim}-D tensor")
            h0 = h0.unsqueeze(1)
            c0 = c0.unsqueeze(1) if c0 is not None else None
        elif h0.ndim != 3:
            raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {h0.ndim}-D tensor")
        if self.mode == "LSTM":
            self._check_hidden(h0, (n, B, real_h), 0)
            self._check_hidden(c0, (n, B, self.hidden_size), 1)
        else:
            self._check_hidden(h0, (n, B, real_h))
        if packed and input.sorted_indices is not None:
            h0 = h0.index_select(1, input.sorted_indices)
            c0 = c0.index_select(1, input.sorted_indices) if c0 is not None else None
        return h0, c0

    def _run_direction(self, data, batch_sizes, layer, d, h, c):
        w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, d)
        reverse = d == 1
        if self.mode == "LSTM":
            xw = linear(data, w_ih, b_ih + b_hh if b_ih is not None else None)
            return R.lstm_layer(xw, w_hh, w_hr, h, c, batch_sizes, reverse)
        if self.mode == "GRU":
            y, h = R.gru_layer(linear(data, w_ih, b_ih), w_hh, b_hh, h, batch_sizes, reverse)
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
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
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
        if input.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(
                f"input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}"
            )
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        B = x.shape[0]
        if hx is None:
            z = deepforge.zeros((B, self.hidden_size), dtype=x.dtype, device=x.device)
            states = [z] * n_states
        else:
            states = list(hx) if n_states == 2 else [hx]
            states = [s if batched else s.unsqueeze(0) for s in states]
            for k, s in enumerate(states):
                if tuple(s.shape) != (B, self.hidden_size):
                    which = "" if n_states == 1 else f"[{k}]"
                    raise RuntimeError(
                        f"hidden{which} has inconsistent hidden_size or batch: got {list(s.shape)}, "
                        f"expected {[B, self.hidden_size]}"
                    )
        return x, states, batched


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)

    def forward(self, input: Tensor, hx=None) -> Tensor:
        x, (h,), batched = self._prep(input, hx, 1)
        f = R.rnn_tanh_cell if self.nonlinearity == "tanh" else R.rnn_relu_cell
        out = f(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx=None):
        x, (h, c), batched = self._prep(input, hx, 2)
        h2, c2 = R.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h2, c2) if batched else (h2.squeeze(0), c2.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx=None) -> Tensor:
        x, (h,), batched = self._prep(input, hx, 1)
        out = R.gru_cell(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)
