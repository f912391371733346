"""``DistributedSampler``: each of ``num_replicas`` processes reads its own slice of a dataset,
as ``torch.utils.data.distributed.DistributedSampler``.

deepforge has no process-group package, so ``num_replicas`` and ``rank`` must be given (the
launcher's world size and rank). The shuffle is ``randperm`` with a generator seeded by
``seed + epoch``, as in PyTorch: every replica draws the same permutation and takes every
``num_replicas``-th index of it. deepforge's generator is Philox-based, so the permutation is
a different one from PyTorch's (Mersenne-Twister) for the same seed; the split between
replicas, the padding and ``drop_last`` follow PyTorch exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import deepforge as df

from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """Indices of ``dataset`` for replica ``rank`` of ``num_replicas``; call ``set_epoch`` at
    the start of each epoch to reshuffle."""

    def __init__(
        self,
        dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            raise RuntimeError(
                "Requires distributed package to be available: deepforge has no process "
                "group, pass num_replicas and rank to DistributedSampler explicitly"
            )
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            # drop the tail so that every replica gets the same number of samples
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = df.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = df.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            # repeat indices from the start so the total divides evenly
            padding_size = self.total_size - len(indices)
            if padding_size <= len(indices):
                indices += indices[:padding_size]
            else:
                indices += (indices * math.ceil(padding_size / len(indices)))[:padding_size]
        else:
            indices = indices[: self.total_size]
        if len(indices) != self.total_size:
            raise AssertionError(
                f"Number of indices ({len(indices)}) does not match total_size ({self.total_size})"
            )
        indices = indices[self.rank : self.total_size : self.num_replicas]
        if len(indices) != self.num_samples:
            raise AssertionError(
                f"Number of subsampled indices ({len(indices)}) does not match num_samples "
                f"({self.num_samples})"
            )
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle differently next time (same order on every replica)."""
        self.epoch = epoch
