"""nn.utils.rnn: PackedSequence and the (un)packing / (un)padding helpers against PyTorch and
by round trips, with gradients, on every device."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close
from seq_refs import torch_or_skip

import deepforge as df
from deepforge.nn.utils import rnn as U

LENGTH_CASES = [([5, 3, 2], True), ([2, 5, 3], False), ([4, 4, 1, 3], False), ([1], True)]


@pytest.mark.parametrize("lengths,enforce_sorted", LENGTH_CASES)
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_padded_matches_torch(device, lengths, enforce_sorted, batch_first):
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    T, B = max(lengths) + 1, len(lengths)
    x = rng.standard_normal((B, T, 2) if batch_first else (T, B, 2))
    ours = df.tensor(x, device=device, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    p = U.pack_padded_sequence(ours, lengths, batch_first, enforce_sorted)
    tp = torch.nn.utils.rnn.pack_padded_sequence(theirs, lengths, batch_first, enforce_sorted)
    assert_close(p.data, tp.data.detach().numpy())
    assert p.batch_sizes.tolist() == tp.batch_sizes.tolist()
    assert p.batch_sizes.dtype == df.int64 and p.batch_sizes.device == df.device("cpu")
    for a, b in ((p.sorted_indices, tp.sorted_indices), (p.unsorted_indices, tp.unsorted_indices)):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.tolist() == b.tolist()
    out, lens = U.pad_packed_sequence(p, batch_first, padding_value=-1.0, total_length=T + 1)
    tout, tlens = torch.nn.utils.rnn.pad_packed_sequence(tp, batch_first, padding_value=-1.0,
                                                         total_length=T + 1)
    assert_close(out, tout.detach().numpy())
    assert lens.tolist() == tlens.tolist() and lens.dtype == df.int64
    g = rng.standard_normal(tuple(tout.shape))
    out.backward(df.tensor(g, device=device))
    tout.backward(torch.tensor(g))
    assert_close(ours.grad, theirs.grad.numpy())


def test_pack_pad_gradcheck(device):
    x = df.randn(4, 3, 2, dtype=df.float64, device=device, requires_grad=True)

    def f(x):
        p = U.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        return U.pad_packed_sequence(p, batch_first=True)[0]

    assert df.autograd.gradcheck(f, (x,), fast_mode=device != "cpu")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(device, batch_first, padding_side):
    torch = torch_or_skip()
    rng = np.random.default_rng(1)
    seqs = [rng.standard_normal((n, 3)) for n in (2, 5, 3)]
    out = U.pad_sequence([df.tensor(s, device=device) for s in seqs], batch_first, 7.0,
                         padding_side)
    tout = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first, 7.0,
                                           padding_side)
    assert_close(out, tout.numpy())


def test_pack_sequence_round_trip(device):
    rng = np.random.default_rng(2)
    seqs = [df.tensor(rng.standard_normal((n, 2)), device=device) for n in (3, 1, 4)]
    p = U.pack_sequence(seqs, enforce_sorted=False)
    assert p.batch_sizes.tolist() == [3, 2, 2, 1]
    for a, b in zip(U.unpack_sequence(p), seqs):
        assert_close(a, b)
    padded = U.pad_sequence(seqs, batch_first=True)
    for a, b in zip(U.unpad_sequence(padded, df.tensor([3, 1, 4]), batch_first=True), seqs):
        assert_close(a, b)


def test_packed_sequence_to(device):
    p = U.pack_sequence([df.ones(3, 2), df.ones(2, 2)])
    q = p.to(device)
    assert q.data.device == df.device(device) and q.batch_sizes.device == df.device("cpu")
    assert p.double().data.dtype == df.float64
    assert not p.is_cuda


def test_errors():
    x = df.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="`lengths` array must be sorted in decreasing order "
                                           "when `enforce_sorted` is True"):
        U.pack_padded_sequence(x, [2, 4, 3])
    with pytest.raises(RuntimeError, match="Length of all samples has to be greater than 0"):
        U.pack_padded_sequence(x, [4, 3, 0])
    with pytest.raises(RuntimeError, match=r"Expected `len\(lengths\)` to be equal to "
                                           r"batch_size, but got 2 \(batch_size=3\)"):
        U.pack_padded_sequence(x, [4, 3])
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        U.pad_sequence([])
    p = U.pack_padded_sequence(x, [4, 3, 2])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the "
                                         "longest sequence in input, but got total_length=3 and "
                                         "max sequence length being 4"):
        U.pad_packed_sequence(p, total_length=3)
