"""Packed sequences: ``PackedSequence``, ``pack_padded_sequence``, ``pad_packed_sequence``,
``pad_sequence``, ``pack_sequence``, ``unpack_sequence`` (``torch.nn.utils.rnn``)."""

from __future__ import annotations

from collections import namedtuple

import deepforge
from deepforge import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpack_sequence", "invert_permutation"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Time-major packed data: ``data[sum(batch_sizes[:t]) + b]`` is step t of sequence b."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        si = self.sorted_indices.to(dev) if self.sorted_indices is not None else None
        ui = self.unsorted_indices.to(dev) if self.unsorted_indices is not None else None
        return type(self)(data, self.batch_sizes, si, ui)

    @property
    def is_cuda(self) -> bool:
        return False


def invert_permutation(permutation):
    if permutation is None:
        return None
    out = deepforge.empty_like(permutation)
    out[permutation] = deepforge.arange(permutation.numel(), device=permutation.device)
    return out


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    lengths = [int(v) for v in (lengths.tolist() if isinstance(lengths, Tensor) else lengths)]
    if enforce_sorted:
        if any(lengths[i] < lengths[i + 1] for i in range(len(lengths) - 1)):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                "sidestep this requirement if you do not need ONNX exportability."
            )
        sorted_indices = None
        order = list(range(len(lengths)))
    else:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        sorted_indices = deepforge.tensor(order, dtype=deepforge.int64, device=input.device)
    if any(v <= 0 for v in lengths):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0")
    x = input.transpose(0, 1) if batch_first else input  # (T, B, *)
    if max(lengths) > x.shape[0]:
        raise RuntimeError(f"pack_padded_sequence: a length {max(lengths)} exceeds the padded size {x.shape[0]}")
    sl = [lengths[i] for i in order]
    steps = []
    batch_sizes = []
    idx = deepforge.tensor(order, dtype=deepforge.int64, device=input.device)
    xs = x.index_select(1, idx)
    for t in range(sl[0]):
        bs = sum(1 for v in sl if v > t)
        batch_sizes.append(bs)
        steps.append(xs[t, :bs])
    data = deepforge.cat(steps, 0)
    return PackedSequence(data, deepforge.tensor(batch_sizes, dtype=deepforge.int64), sorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length=None):
    data, batch_sizes = sequence.data, [int(b) for b in sequence.batch_sizes.tolist()]
    B = batch_sizes[0]
    T = len(batch_sizes)
    if total_length is not None:
        if total_length < T:
            raise ValueError(
                f"Expected total_length to be at least the length of the longest sequence in input, "
                f"but got total_length={total_length} and max sequence length being {T}"
            )
        T_out = total_length
    else:
        T_out = T
    rows = []
    off = 0
    trailing = tuple(data.shape[1:])
    for t in range(T_out):
        if t < T:
            bs = batch_sizes[t]
            step = data[off:off + bs]
            off += bs
            if bs < B:
                pad = deepforge.full((B - bs,) + trailing, padding_value, dtype=data.dtype, device=data.device)
                step = deepforge.cat([step, pad], 0)
        else:
            step = deepforge.full((B,) + trailing, padding_value, dtype=data.dtype, device=data.device)
        rows.append(step)
    out = deepforge.stack(rows, 0)  # (T, B, *)
    lengths = [sum(1 for bs in batch_sizes if bs > b) for b in range(B)]
    lengths_t = deepforge.tensor(lengths, dtype=deepforge.int64)
    if sequence.unsorted_indices is not None:
        out = out.index_select(1, sequence.unsorted_indices)
        lengths_t = lengths_t[sequence.unsorted_indices.cpu()]
    if batch_first:
        out = out.transpose(0, 1)
    return out, lengths_t


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    T = max(s.shape[0] for s in sequences)
    trailing = tuple(sequences[0].shape[1:])
    rows = []
    for s in sequences:
        n = s.shape[0]
        if n < T:
            pad = deepforge.full((T - n,) + trailing, padding_value, dtype=s.dtype, device=s.device)
            s = deepforge.cat([s, pad] if padding_side == "right" else [pad, s], 0)
        rows.append(s)
    out = deepforge.stack(rows, 0)  # (B, T, *)
    return out if batch_first else out.transpose(0, 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return [padded[i, : int(n)] for i, n in enumerate(lengths.tolist())]
