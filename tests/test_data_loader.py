"""DataLoader: batching, shuffling and seeding, validation, the TensorDataset fast path,
IterableDataset, and real worker processes."""

from __future__ import annotations

import os
import random
import time
import warnings

import numpy as np
import pytest

import deepforge as df
from deepforge.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Subset,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)


class Range(Dataset):
    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        return i

    def __len__(self):
        return self.n


class WorkerProbe(Dataset):
    """Each sample reports which worker made it and that worker's RNG state."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "worker": -1 if info is None else info.id,
                "seed": -1 if info is None else info.seed,
                "df_seed": df.initial_seed(), "np": float(np.random.rand()),
                "py": random.random(), "pid": os.getpid()}


class Stream(IterableDataset):
    """0..n-1, split between workers by get_worker_info()."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))

    def __len__(self):
        return self.n


class Failing(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise ValueError("bad sample 2")
        return i


class Crashing(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if get_worker_info() is not None:
            os._exit(3)
        return i


class Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(2.0)
        return i


def _data(n=23):
    g = df.Generator().manual_seed(1)
    return df.randn(n, 3, generator=g), df.arange(n)


def _flat(batches):
    return [b.tolist() if isinstance(b, df.Tensor) else b for b in batches]


# -- single process ----------------------------------------------------------------------------
def test_sequential_batches_and_len():
    dl = DataLoader(Range(10), batch_size=4)
    assert _flat(dl) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(dl) == 3
    dl = DataLoader(Range(10), batch_size=4, drop_last=True)
    assert len(dl) == 2 and len(list(dl)) == 2
    assert [b.dtype for b in DataLoader(Range(3), batch_size=2)] == [df.int64, df.int64]


def test_batch_size_none_disables_batching():
    dl = DataLoader(Range(3), batch_size=None)
    assert list(dl) == [0, 1, 2]
    xs = list(DataLoader(TensorDataset(df.arange(3)), batch_size=None))
    assert [x[0].shape for x in xs] == [(), (), ()]


def test_shuffle_is_deterministic_under_manual_seed():
    def epoch():
        return _flat(DataLoader(Range(20), batch_size=6, shuffle=True))

    df.manual_seed(123)
    a = epoch() + epoch()
    df.manual_seed(123)
    b = epoch() + epoch()
    assert a == b
    assert a[:4] != a[4:]  # two epochs differ
    assert sorted(sum(a[:4], [])) == list(range(20))


def test_shuffle_draws_base_seed_then_sampler_seed_like_torch():
    # iterator: base_seed from the loader's generator (default RNG), then RandomSampler's seed
    df.manual_seed(7)
    batches = _flat(DataLoader(Range(10), batch_size=10, shuffle=True))
    df.manual_seed(7)
    df.empty((), dtype=df.int64).random_()  # base_seed
    seed = int(df.empty((), dtype=df.int64).random_().item())
    assert batches == [df.randperm(10, generator=df.Generator().manual_seed(seed)).tolist()]


def test_generator_argument():
    def epoch(seed):
        return _flat(DataLoader(Range(30), batch_size=7, shuffle=True,
                                generator=df.Generator().manual_seed(seed)))

    assert epoch(4) == epoch(4) and epoch(4) != epoch(5)
    state = df.get_rng_state()
    epoch(4)
    assert df.get_rng_state().tolist() == state.tolist()  # the default RNG is untouched


def test_samplers_and_collate_fn():
    dl = DataLoader(Range(6), batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert _flat(dl) == [[5, 4], [3, 2], [1, 0]]
    dl = DataLoader(Range(6), batch_sampler=[[0, 1, 2], [5]])
    assert _flat(dl) == [[0, 1, 2], [5]] and len(dl) == 2
    dl = DataLoader(Range(5), batch_size=2, collate_fn=lambda b: sum(b))
    assert list(dl) == [1, 5, 4]
    dl = DataLoader(Range(50), batch_size=10,
                    sampler=WeightedRandomSampler([0.0] * 25 + [1.0] * 25, 50))
    assert all(v >= 25 for b in dl for v in b.tolist())


@pytest.mark.parametrize("kwargs,match", [
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified in multiprocessing"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(shuffle=True, sampler=[0]), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    (dict(multiprocessing_context="fork"), "multiprocessing_context can only be used"),
    (dict(num_workers=1, multiprocessing_context="nope"), "should specify a valid start method"),
    (dict(num_workers=1, prefetch_factor=-1), "prefetch_factor option should be non-negative"),
])
def test_argument_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(Range(3), **kwargs)


def test_iterable_dataset_validation_and_attribute_lock():
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(Stream(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler option"):
        DataLoader(Stream(3), sampler=[0])
    with pytest.raises(ValueError, match="expected unspecified batch_sampler option"):
        DataLoader(Stream(3), batch_sampler=[[0]])
    dl = DataLoader(Range(3))
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        dl.batch_size = 4
    dl.num_workers = 0  # other attributes can change


def test_iterable_dataset_single_process():
    dl = DataLoader(Stream(7), batch_size=3)
    assert _flat(dl) == [[0, 1, 2], [3, 4, 5], [6]] and len(dl) == 3
    assert len(DataLoader(Stream(7), batch_size=3, drop_last=True)) == 2
    assert _flat(DataLoader(Stream(7), batch_size=3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert list(DataLoader(Stream(3), batch_size=None)) == [0, 1, 2]  # default_convert


def test_pin_memory_accepted():
    x, y = _data(4)
    out = list(DataLoader(TensorDataset(x, y), batch_size=2, pin_memory=True))
    assert len(out) == 2


# -- the TensorDataset fast path ---------------------------------------------------------------
def _slow_collate(batch):
    return default_collate(batch)  # not `default_collate` itself: forces the per-sample path


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for xa, xb in zip(a, b):
        assert type(xa) is type(xb) is list and len(xa) == len(xb)
        for ta, tb in zip(xa, xb):
            assert ta.dtype == tb.dtype and ta.shape == tb.shape
            assert ta.requires_grad == tb.requires_grad
            np.testing.assert_array_equal(ta.detach().numpy(), tb.detach().numpy())


@pytest.mark.parametrize("shuffle,drop_last,bs", [(False, False, 5), (True, False, 4),
                                                  (True, True, 4), (False, True, 23),
                                                  (True, False, 100)])
def test_fast_path_equals_per_sample_path(shuffle, drop_last, bs):
    x, y = _data()
    mask = x[:, 0] > 0
    ds = TensorDataset(x, y, mask, x.double()[:, :2], y.to(df.uint8), y.to(df.float16))

    def run(collate):
        df.manual_seed(0)
        return list(DataLoader(ds, batch_size=bs, shuffle=shuffle, drop_last=drop_last,
                               collate_fn=collate))

    _assert_same_batches(run(None), run(_slow_collate))


def test_fast_path_through_subsets_and_samplers():
    x, y = _data(40)
    ds = TensorDataset(x, y)
    train, _ = random_split(ds, [30, 10], generator=df.Generator().manual_seed(0))
    sub = Subset(train, list(range(29, -1, -2)))
    for dataset in (train, sub):
        for kw in (dict(batch_size=8, shuffle=True), dict(batch_size=8),
                   dict(batch_sampler=BatchSampler(RandomSampler(dataset, replacement=True,
                                                                 num_samples=50), 16, False)),
                   dict(batch_size=3, sampler=[2, 0, 1, 1])):
            df.manual_seed(1)
            fast = list(DataLoader(dataset, **kw))
            df.manual_seed(1)
            slow = list(DataLoader(dataset, collate_fn=_slow_collate, **kw))
            _assert_same_batches(fast, slow)


def test_fast_path_keeps_autograd():
    w = df.randn(6, 2, requires_grad=True)
    (xb,) = next(iter(DataLoader(TensorDataset(w), batch_size=4, sampler=[5, 0, 5, 1])))
    assert xb.requires_grad
    xb.sum().backward()
    assert w.grad[:, 0].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 2.0]


def test_fast_path_index_errors_like_per_sample():
    ds = TensorDataset(df.arange(5))
    with pytest.raises(IndexError):
        list(DataLoader(ds, batch_size=2, sampler=[0, 7]))
    with pytest.raises(IndexError):
        list(DataLoader(ds, batch_size=2, sampler=[0, 7], collate_fn=_slow_collate))


def test_fast_path_is_used():
    from deepforge.utils.data._utils.fetch import tensor_batch_getter

    x, y = _data()
    assert tensor_batch_getter(TensorDataset(x, y)) is not None
    assert tensor_batch_getter(Subset(TensorDataset(x), [1, 2])) is not None
    assert tensor_batch_getter(Range(3)) is None

    class Custom(TensorDataset):
        def __getitem__(self, i):
            return (self.tensors[0][i] * 2,)

    assert tensor_batch_getter(Custom(x)) is None
    out = next(iter(DataLoader(Custom(x), batch_size=2)))
    np.testing.assert_array_equal(out[0].numpy(), (x[:2] * 2).numpy())


# -- worker processes --------------------------------------------------------------------------
def test_workers_give_the_same_batches_as_main_process():
    x, y = _data(37)
    ds = TensorDataset(x, y)
    for kw in (dict(batch_size=5, shuffle=True), dict(batch_size=4, collate_fn=_slow_collate)):
        df.manual_seed(3)
        ref = list(DataLoader(ds, **kw))
        df.manual_seed(3)
        got = list(DataLoader(ds, num_workers=2, **kw))
        _assert_same_batches(got, ref)


def test_worker_seeds_and_info():
    from deepforge.utils.data._utils.worker import _generate_state

    g = df.Generator().manual_seed(99)
    fresh = df.Generator().manual_seed(99)
    base = int(df.empty((), dtype=df.int64).random_(generator=fresh).item())
    seen_init = []

    def init_fn(worker_id):
        info = get_worker_info()
        assert info.id == worker_id and info.num_workers == 2
        seen_init.append(worker_id)  # in the worker's own memory

    dl = DataLoader(WorkerProbe(), batch_size=None, num_workers=2, generator=g,
                    worker_init_fn=init_fn)
    samples = list(dl)
    assert [s["i"] for s in samples] == list(range(8))
    assert {s["worker"] for s in samples} == {0, 1}
    assert len({s["pid"] for s in samples}) == 2 and os.getpid() not in {s["pid"] for s in samples}
    for s in samples:
        assert s["seed"] == base + s["worker"]
        assert s["df_seed"] == s["seed"]  # deepforge.manual_seed(seed) in the worker
    first = {s["worker"]: s for s in reversed(samples)}
    for wid, s in first.items():  # each worker's first draw from random / numpy
        assert s["py"] == random.Random(base + wid).random()
        assert s["np"] == np.random.RandomState(_generate_state(base, wid)).random_sample()
    assert seen_init == []  # worker_init_fn ran in the workers, not here
    assert get_worker_info() is None


def test_numpy_worker_seed_matches_torch():
    from deepforge.utils.data._utils.worker import _generate_state

    # the words torch.utils.data._utils.worker._generate_state gives for these inputs
    expected = {
        (0, 0): [2968811710, 3677149159, 745650761, 2884920346],
        (12345, 1): [530262504, 3509291438, 1156716502, 3400667355],
        (2**63 - 1, 7): [3706660862, 1642455348, 3333652763, 3068748488],
        (987654321987, 3): [4240036713, 3417735677, 1348725599, 3390489940],
    }
    for (base, wid), words in expected.items():
        assert _generate_state(base, wid) == words


def test_same_seed_same_worker_results():
    def run():
        df.manual_seed(5)
        return [(s["i"], s["np"], s["py"]) for s in
                DataLoader(WorkerProbe(), batch_size=None, num_workers=2)]

    assert run() == run()


def test_worker_info_is_read_only():
    from deepforge.utils.data._utils.worker import WorkerInfo

    info = WorkerInfo(id=0, num_workers=1, seed=3, dataset=None)
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo"):
        info.id = 1
    assert "seed=3" in repr(info)


def test_iterable_dataset_sharded_between_workers():
    dl = DataLoader(Stream(10), batch_size=2, num_workers=2)
    out = _flat(dl)
    # in-order round robin between the two workers' shards, as in torch
    assert out == [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]
    assert sorted(sum(out, [])) == list(range(10))


def test_worker_exception_is_reraised_with_traceback():
    dl = DataLoader(Failing(), batch_size=1, num_workers=2)
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker process 0.*"
                                         r"bad sample 2"):
        list(dl)


def test_worker_crash_is_reported():
    dl = DataLoader(Crashing(), batch_size=1, num_workers=1)
    with pytest.raises(RuntimeError,
                       match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(dl)


def test_timeout():
    dl = DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.3)
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        list(dl)


def test_persistent_workers_reuse_processes():
    dl = DataLoader(WorkerProbe(), batch_size=None, num_workers=2, persistent_workers=True)
    e1 = list(dl)
    it = dl._iterator
    e2 = list(dl)
    assert dl._iterator is it
    assert {s["pid"] for s in e1} == {s["pid"] for s in e2}
    assert [s["i"] for s in e2] == list(range(8))
    it._shutdown_workers()


def test_prefetch_factor_and_len_with_workers():
    dl = DataLoader(Range(9), batch_size=2, num_workers=2, prefetch_factor=1)
    assert len(dl) == 5 and _flat(dl) == [[0, 1], [2, 3], [4, 5], [6, 7], [8]]


def test_spawn_context():
    x, y = _data(10)
    dl = DataLoader(TensorDataset(x, y), batch_size=4, num_workers=1,
                    multiprocessing_context="spawn")
    _assert_same_batches(list(dl), list(DataLoader(TensorDataset(x, y), batch_size=4)))


def test_too_many_workers_warns():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        DataLoader(Range(3), num_workers=(os.cpu_count() or 1) + 64)
    assert any("worker processes in total" in str(x.message) for x in w)


def test_len_of_iterable_warns_when_exceeded():
    class Liar(Stream):
        def __len__(self):
            return 2

    dl = DataLoader(Liar(4), batch_size=None)
    assert len(dl) == 2
    with pytest.warns(UserWarning, match="was reported to be 2"):
        list(dl)


def test_fast_path_on_every_device(device):
    x, y = _data(17)
    ds = TensorDataset(x.to(device), y.to(device))

    def run(collate):
        df.manual_seed(2)
        return list(DataLoader(ds, batch_size=5, shuffle=True, collate_fn=collate))

    fast, slow = run(None), run(_slow_collate)
    assert len(fast) == len(slow) == 4
    for bf, bs in zip(fast, slow):
        for tf, ts in zip(bf, bs):
            assert tf.device == ts.device == df.device(device) and tf.dtype == ts.dtype
            np.testing.assert_array_equal(tf.cpu().numpy(), ts.cpu().numpy())


def test_abandoned_iterator_stops_its_workers():
    it = iter(DataLoader(Range(100), batch_size=2, num_workers=2))
    assert next(it).tolist() == [0, 1]
    workers = list(it._workers)
    del it
    for w in workers:
        w.join(timeout=5)
        assert not w.is_alive()
