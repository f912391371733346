"""deepforge.utils.data.sampler: the samplers and BatchSampler, and the whole-batch index
arrays the DataLoader uses (identical to the per-index iteration)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import deepforge as df
from deepforge.utils.data import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def test_sequential():
    s = SequentialSampler(range(5))
    assert list(s) == [0, 1, 2, 3, 4] and len(s) == 5


def test_sampler_base():
    with pytest.raises(NotImplementedError):
        iter(Sampler())


def test_random_sampler_permutation_and_generator():
    g = df.Generator().manual_seed(3)
    s = RandomSampler(range(50), generator=g)
    a = list(s)
    assert sorted(a) == list(range(50)) and len(s) == 50
    b = list(RandomSampler(range(50), generator=df.Generator().manual_seed(3)))
    assert a == b
    assert a != list(s)  # the generator advanced


def test_random_sampler_without_generator_uses_default_rng():
    df.manual_seed(11)
    a = list(RandomSampler(range(30)))
    df.manual_seed(11)
    b = list(RandomSampler(range(30)))
    assert a == b
    # it draws its seed from the default generator once, as torch does
    df.manual_seed(11)
    seed = int(df.empty((), dtype=df.int64).random_().item())
    assert a == df.randperm(30, generator=df.Generator().manual_seed(seed)).tolist()


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(10), num_samples=25)
    out = list(s)
    assert len(out) == 25 == len(s)
    assert sorted(out[:10]) == list(range(10)) and sorted(out[10:20]) == list(range(10))
    r = RandomSampler(range(4), replacement=True, num_samples=70)
    out = list(r)
    assert len(out) == 70 and set(out) <= {0, 1, 2, 3}
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    idx = [10, 20, 30, 40]
    s = SubsetRandomSampler(idx, generator=df.Generator().manual_seed(0))
    out = list(s)
    assert sorted(out) == idx and len(s) == 4


def test_weighted_random_sampler():
    w = [0.0, 1.0, 0.0, 3.0]
    s = WeightedRandomSampler(w, 200, generator=df.Generator().manual_seed(1))
    out = list(s)
    assert len(out) == 200 == len(s) and set(out) <= {1, 3}
    assert out.count(3) > out.count(1)
    nr = list(WeightedRandomSampler([1, 2, 3, 4], 4, replacement=False))
    assert sorted(nr) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler(w, 0)
    with pytest.raises(ValueError, match="replacement should be a boolean"):
        WeightedRandomSampler(w, 3, replacement=None)
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0, 2.0]], 3)


def test_batch_sampler_examples_from_torch_docs():
    assert list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=False)) == \
        [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert list(BatchSampler(SequentialSampler(range(10)), batch_size=3, drop_last=True)) == \
        [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(BatchSampler(range(10), 3, False)) == 4
    assert len(BatchSampler(range(10), 3, True)) == 3
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(range(3), 2, 0)


@pytest.mark.parametrize("kind", [None, "rand", "rand_ns", "repl", "repl_ns"])
def test_batched_index_arrays_equal_lists(kind):
    for n, bs, drop_last in itertools.product([1, 7, 64, 100], [1, 3, 32, 64, 200],
                                              [False, True]):
        def make(n=n, bs=bs):
            g = df.Generator().manual_seed(n * 1000 + bs)
            if kind is None:
                return SequentialSampler(range(n))
            ns = 3 * n + 5 if kind.endswith("_ns") else None
            return RandomSampler(range(n), replacement=kind.startswith("repl"), num_samples=ns,
                                 generator=g)

        lists = list(BatchSampler(make(), bs, drop_last))
        bsamp = BatchSampler(make(), bs, drop_last)
        assert bsamp._can_batch_arrays()
        arrays = list(bsamp._iter_arrays())
        assert [a.tolist() for a in arrays] == lists, (n, bs, drop_last)
        assert all(a.dtype == np.int64 for a in arrays)
        assert len(lists) == len(bsamp)


def test_random_sampler_advances_its_generator_like_torch():
    # torch's RandomSampler draws num_samples // n permutations and one more it slices
    for n, ns in [(10, None), (10, 25), (10, 30)]:
        g = df.Generator().manual_seed(0)
        list(RandomSampler(range(n), num_samples=ns, generator=g))
        h = df.Generator().manual_seed(0)
        for _ in range((ns or n) // n + 1):
            df.randperm(n, generator=h)
        assert g.get_state().tolist() == h.get_state().tolist()


def test_batched_arrays_draw_from_default_rng_like_lists():
    df.manual_seed(9)
    lists = list(BatchSampler(RandomSampler(range(50)), 8, False))
    after_lists = df.rand(1).item()
    df.manual_seed(9)
    arrays = [a.tolist() for a in BatchSampler(RandomSampler(range(50)), 8, False)._iter_arrays()]
    after_arrays = df.rand(1).item()
    assert arrays == lists and after_lists == after_arrays


def test_subclasses_do_not_get_array_batches():
    class MyBatch(BatchSampler):
        pass

    class MySeq(SequentialSampler):
        pass

    assert not MyBatch(SequentialSampler(range(3)), 2, False)._can_batch_arrays()
    assert not BatchSampler(MySeq(range(3)), 2, False)._can_batch_arrays()
