"""DistributedSampler: the split between replicas, padding and drop_last as in torch.

deepforge's randperm is Philox-based, so a seeded shuffle is a different permutation from
torch's; the shuffled tests check the properties torch guarantees instead (a permutation,
shared by all replicas, a function of seed + epoch only).
"""

from __future__ import annotations

import pytest

import deepforge as df
from deepforge.utils.data import DataLoader, DistributedSampler, TensorDataset


class _Sized:
    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


@pytest.mark.parametrize("n", [0, 1, 7, 10, 12])
@pytest.mark.parametrize("replicas", [1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_split_matches_torch(n, replicas, drop_last):
    pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    for rank in range(replicas):
        kwargs = dict(num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
        ours = DistributedSampler(_Sized(n), **kwargs)
        ref = TorchSampler(_Sized(n), **kwargs)
        assert list(ours) == list(ref)
        assert len(ours) == len(ref) == ours.num_samples
        assert ours.total_size == ref.total_size


@pytest.mark.parametrize("drop_last", [False, True])
def test_shuffled_replicas_partition_one_permutation(drop_last):
    n, replicas = 23, 4
    samplers = [
        DistributedSampler(_Sized(n), num_replicas=replicas, rank=r, seed=5, drop_last=drop_last)
        for r in range(replicas)
    ]
    parts = [list(s) for s in samplers]
    sizes = {len(p) for p in parts}
    assert sizes == {len(samplers[0])}
    # rank r takes every replicas-th element of one shared (padded) permutation
    merged = [parts[i % replicas][i // replicas] for i in range(replicas * len(parts[0]))]
    if drop_last:
        assert len(merged) == 20 and len(set(merged)) == 20
    else:
        assert len(merged) == 24 and set(merged) == set(range(n))
        assert merged[23:] == merged[:1]  # padding repeats the start of the permutation
    assert merged != sorted(merged)


def test_shuffle_depends_on_seed_and_epoch_only():
    def order(seed: int, epoch: int) -> list[int]:
        s = DistributedSampler(_Sized(50), num_replicas=2, rank=1, seed=seed)
        s.set_epoch(epoch)
        return list(s)

    assert order(0, 0) == order(0, 0)
    df.manual_seed(123)  # the global generator does not influence the order
    assert order(0, 1) == order(0, 1)
    assert order(0, 0) != order(0, 1)
    assert order(0, 1) != order(1, 1)
    # as in torch, the generator is seeded with seed + epoch
    assert order(2, 3) == order(5, 0)
    g = df.Generator().manual_seed(7)
    assert order(7, 0) == df.randperm(50, generator=g).tolist()[1::2]


def test_invalid_arguments():
    with pytest.raises(
        ValueError, match=r"Invalid rank 3, rank should be in the interval \[0, 2\]"
    ):
        DistributedSampler(_Sized(4), num_replicas=3, rank=3)
    with pytest.raises(RuntimeError, match="pass num_replicas and rank"):
        DistributedSampler(_Sized(4))


def test_with_dataloader(device):
    data = TensorDataset(df.arange(10, device=device))
    seen = []
    for rank in range(2):
        sampler = DistributedSampler(data, num_replicas=2, rank=rank, shuffle=False)
        for (batch,) in DataLoader(data, batch_size=2, sampler=sampler):
            seen += batch.cpu().tolist()
    assert sorted(seen) == list(range(10))
    assert df.utils.data.distributed.DistributedSampler is DistributedSampler
