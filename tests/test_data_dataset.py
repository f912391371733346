"""deepforge.utils.data.dataset: TensorDataset, ConcatDataset, Subset, StackDataset,
ChainDataset, random_split."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
from deepforge.utils.data import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i * i

    def __len__(self):
        return self.n


class Count(IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self):
        return self.stop - self.start


def test_module_paths_match_torch():
    import deepforge.utils.data.dataloader as dl
    import deepforge.utils.data.dataset as ds
    import deepforge.utils.data.sampler as sp
    from deepforge.utils.data._utils.collate import default_collate

    assert ds.TensorDataset is TensorDataset
    assert dl.default_collate is default_collate
    assert callable(dl.get_worker_info) and dl.get_worker_info() is None
    assert sp.RandomSampler.__name__ == "RandomSampler"
    assert df.utils.data.DataLoader is dl.DataLoader


def test_tensor_dataset():
    x = df.arange(12.0).reshape(6, 2)
    y = df.arange(6)
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    assert xi.tolist() == [8.0, 9.0] and yi.item() == 4
    xs, ys = ds[1:3]
    assert xs.shape == (2, 2) and ys.tolist() == [1, 2]
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(x, df.arange(5))


def test_base_dataset_getitem_not_implemented():
    with pytest.raises(NotImplementedError, match="should implement __getitem__"):
        Dataset()[0]


def test_concat_dataset():
    a, b = Squares(3), Squares(2)
    c = a + b
    assert isinstance(c, ConcatDataset)
    assert len(c) == 5 and c.cumulative_sizes == [3, 5]
    assert [c[i] for i in range(5)] == [0, 1, 4, 0, 1]
    assert c[-1] == 1 and c[-5] == 0
    with pytest.raises(ValueError, match="absolute value of index"):
        c[-6]
    with pytest.raises(AssertionError, match="empty iterable"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ConcatDataset([a, Count(0, 2)])


def test_chain_dataset():
    ch = Count(0, 3) + Count(10, 12)
    assert isinstance(ch, ChainDataset)
    assert list(ch) == [0, 1, 2, 10, 11] and len(ch) == 5
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        list(ChainDataset([Squares(2)]))


def test_subset():
    s = Subset(Squares(10), [9, 2, 5])
    assert len(s) == 3
    assert [s[i] for i in range(3)] == [81, 4, 25]
    assert s.__getitems__([2, 0]) == [25, 81]


def test_subset_subclass_must_override_getitems():
    class Bad(Subset):
        def __getitem__(self, idx):
            return 0

    with pytest.raises(NotImplementedError, match="overrides __getitem__ but not __getitems__"):
        Bad(Squares(3), [0])


def test_stack_dataset():
    t = StackDataset(Squares(3), Squares(3))
    assert t[2] == (4, 4) and len(t) == 3
    d = StackDataset(a=Squares(3), b=Squares(3))
    assert d[1] == {"a": 1, "b": 1}
    with pytest.raises(ValueError, match="Size mismatch"):
        StackDataset(Squares(3), Squares(2))
    with pytest.raises(ValueError, match="At least one dataset"):
        StackDataset()
    with pytest.raises(ValueError, match="both types are given"):
        StackDataset(Squares(3), b=Squares(3))


def _partition(parts, n):
    got = sorted(i for p in parts for i in p.indices)
    assert got == list(range(n))


def test_random_split_lengths_and_generator():
    ds = Squares(10)
    g1 = df.Generator().manual_seed(42)
    g2 = df.Generator().manual_seed(42)
    a = random_split(ds, [3, 7], generator=g1)
    b = random_split(ds, [3, 7], generator=g2)
    assert [len(p) for p in a] == [3, 7]
    assert [p.indices for p in a] == [p.indices for p in b]
    _partition(a, 10)
    assert all(isinstance(p, Subset) and p.dataset is ds for p in a)


def test_random_split_default_generator_follows_manual_seed():
    ds = Squares(20)
    df.manual_seed(5)
    a = [p.indices for p in random_split(ds, [10, 10])]
    df.manual_seed(5)
    b = [p.indices for p in random_split(ds, [10, 10])]
    assert a == b
    # same permutation as randperm on the same generator state
    df.manual_seed(5)
    perm = df.randperm(20).tolist()
    assert a[0] + a[1] == perm


def test_random_split_fractions_like_torch():
    ds = Squares(11)
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=df.Generator().manual_seed(0))
    # floor(5.5)=5, floor(3.3)=3, floor(2.2)=2, remainder 1 goes round-robin to the first
    assert [len(p) for p in parts] == [6, 3, 2]
    _partition(parts, 11)
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        parts = random_split(Squares(2), [1.0, 0.0])
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [5, 5])


@pytest.mark.parametrize("n,fractions,lengths", [
    # the lengths torch.utils.data.random_split gives for these fractions
    (11, [0.5, 0.3, 0.2], [6, 3, 2]),
    (10, [0.25, 0.25, 0.5], [3, 2, 5]),
    (7, [1 / 3] * 3, [3, 2, 2]),
    (5, [0.1, 0.9], [1, 4]),
    (100, [0.7, 0.2, 0.1], [70, 20, 10]),
])
def test_random_split_fraction_lengths_match_torch(n, fractions, lengths):
    assert [len(p) for p in random_split(Squares(n), fractions)] == lengths


def test_tensor_dataset_accepts_numpy_index_like_torch():
    x = df.arange(10)
    ds = TensorDataset(x)
    (v,) = ds[np.int64(3)]
    assert v.item() == 3
