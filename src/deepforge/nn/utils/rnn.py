"""Packed sequences: ``PackedSequence``, ``pack_padded_sequence``, ``pad_packed_sequence``,
``pad_sequence``, ``unpad_sequence``, ``pack_sequence``, ``unpack_sequence``
(``torch.nn.utils.rnn``).

Packing and unpacking are each one differentiable row gather (``index_select``) with an index
built on the host from the lengths, whatever the number of time steps."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

import deepforge
from deepforge import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "unpad_sequence", "pack_sequence", "unpack_sequence", "invert_permutation"]

_Packed = namedtuple("PackedSequence",
                     ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_Packed):
    """Time-major packed data: ``data[sum(batch_sizes[:t]) + b]`` is step t of the b-th longest
    sequence; ``batch_sizes`` (int64, CPU) counts the sequences still running at each step."""

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

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype=deepforge.float64)

    def float(self):
        return self.to(dtype=deepforge.float32)

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def invert_permutation(permutation):
    if permutation is None:
        return None
    out = deepforge.empty_like(permutation)
    out[permutation] = deepforge.arange(permutation.numel(), device=permutation.device)
    return out


def _batch_sizes(sorted_lengths):
    """Sequences still running at each step, for lengths sorted in decreasing order."""
    lens = np.asarray(sorted_lengths, dtype=np.int64)
    return (lens[None, :] > np.arange(lens[0])[:, None]).sum(1)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    lengths = [int(v) for v in (lengths.tolist() if isinstance(lengths, Tensor) else lengths)]
    B = input.shape[0] if batch_first else input.shape[1]
    if len(lengths) != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lengths)} (batch_size={B})")
    if enforce_sorted:
        if any(lengths[i] < lengths[i + 1] for i in range(len(lengths) - 1)):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability.")
        order, sorted_indices = list(range(B)), None
    else:
        order = sorted(range(B), key=lambda i: -lengths[i])
        sorted_indices = deepforge.tensor(order, dtype=deepforge.int64, device=input.device)
    if any(v <= 0 for v in lengths):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    T = input.shape[1] if batch_first else input.shape[0]
    if max(lengths) > T:
        raise RuntimeError(f"pack_padded_sequence: a length {max(lengths)} exceeds the padded "
                           f"sequence length {T}")
    bs = _batch_sizes([lengths[i] for i in order])
    # row (t, b) of the packed data is row t*B + order[b] (time-major) or order[b]*T + t
    t_idx = np.repeat(np.arange(len(bs)), bs)
    b_idx = np.concatenate([np.asarray(order[:n]) for n in bs])
    rows = b_idx * T + t_idx if batch_first else t_idx * B + b_idx
    flat = input.reshape((B * T,) + tuple(input.shape[2:]))
    data = flat.index_select(0, deepforge.tensor(rows, dtype=deepforge.int64, device=input.device))
    return PackedSequence(data, deepforge.tensor(bs, dtype=deepforge.int64), sorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length=None):
    data = sequence.data
    bs = np.asarray(sequence.batch_sizes.tolist(), dtype=np.int64)
    B, T, N = int(bs[0]), len(bs), int(bs.sum())
    if total_length is not None:
        if total_length < T:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being {T}")
        T = total_length
    lengths = (bs[None, :] > np.arange(B)[:, None]).sum(1)  # of the sorted sequences
    perm = np.arange(B) if sequence.unsorted_indices is None else \
        np.asarray(sequence.unsorted_indices.tolist(), dtype=np.int64)
    # padded (T, B) or (B, T) cell of output batch column j holds sorted sequence perm[j]
    offs = np.concatenate([[0], np.cumsum(bs)[:-1]])
    t = np.arange(T)[:, None]
    src = np.where(t < lengths[perm][None, :],
                   offs[np.minimum(t, len(bs) - 1)] + perm[None, :], N)  # N: the padding row
    if batch_first:
        src = src.T
    pad = deepforge.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype,
                         device=data.device)
    idx = deepforge.tensor(src.reshape(-1), dtype=deepforge.int64, device=data.device)
    out = deepforge.cat([data, pad], 0).index_select(0, idx)
    out = out.reshape(tuple(src.shape) + tuple(data.shape[1:]))
    return out, deepforge.tensor(lengths[perm], dtype=deepforge.int64)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    if not len(sequences):
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    T = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        n = s.shape[0]
        if n < T:
            pad = deepforge.full((T - n,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype,
                                 device=s.device)
            s = deepforge.cat([s, pad] if padding_side == "right" else [pad, s], 0)
        rows.append(s)
    out = deepforge.stack(rows, 0)  # (B, T, *)
    return out if batch_first else out.transpose(0, 1)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False):
    """The list of sequences (L_i, *) a padded (T, B, *) (or (B, T, *)) tensor holds."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    lens = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    return [x[i, : int(n)] for i, n in enumerate(lens)]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence):
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
