"""Samplers: ``torch.utils.data.sampler`` with the same classes, arguments and RNG use.

``SequentialSampler`` and ``RandomSampler`` also produce their indices in numpy chunks
(``_index_chunks``), drawn at the same moments as ``__iter__`` draws them, so that
``BatchSampler`` can hand the ``DataLoader`` whole index arrays without building Python
lists; the indices are the same either way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence, Sized

import numpy as np

import deepforge

__all__ = [
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler",
]


class Sampler:
    """Base class: an iterable of indices (or of lists of indices), optionally sized."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass

    def __iter__(self) -> Iterator:
        raise NotImplementedError

    def __class_getitem__(cls, item):  # Sampler[int] in type hints
        return cls


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)

    def _index_chunks(self):
        yield np.arange(len(self.data_source), dtype=np.int64)


class RandomSampler(Sampler):
    """A random permutation (or ``num_samples`` draws with ``replacement``), from
    ``generator`` or, when it is None, from a generator seeded by the default one."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator=None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={self.replacement}"
            )
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got "
                f"num_samples={self.num_samples}"
            )

    @property
    def num_samples(self) -> int:
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def _index_chunks(self):
        n = len(self.data_source)
        if self.generator is None:
            seed = int(deepforge.empty((), dtype=deepforge.int64).random_().item())
            generator = deepforge.Generator()
            generator.manual_seed(seed)
        else:
            generator = self.generator
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield deepforge.randint(0, n, (32,), generator=generator).numpy()
            yield deepforge.randint(0, n, (self.num_samples % 32,), generator=generator).numpy()
        else:
            for _ in range(self.num_samples // n):
                yield deepforge.randperm(n, generator=generator).numpy()
            rest = self.num_samples % n
            if rest:
                yield deepforge.randperm(n, generator=generator).numpy()[:rest]
            else:
                # torch draws a last permutation and keeps none of it; a draw advances a
                # deepforge generator by one step whatever its size, so draw an empty one
                yield deepforge.randperm(0, generator=generator).numpy()

    def __iter__(self) -> Iterator[int]:
        for chunk in self._index_chunks():
            yield from chunk.tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in random order, without replacement."""

    def __init__(self, indices: Sequence[int], generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in deepforge.randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={num_samples}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        weights_tensor = deepforge.as_tensor(weights, dtype=deepforge.float64)
        if len(weights_tensor.shape) != 1:
            raise ValueError(
                "weights should be a 1d sequence but given weights have shape "
                f"{tuple(weights_tensor.shape)}"
            )
        self.weights = weights_tensor
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rand_tensor = deepforge.multinomial(self.weights, self.num_samples, self.replacement,
                                            generator=self.generator)
        yield from iter(rand_tensor.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``."""

    def __init__(self, sampler: Sampler | Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        sampler_iter = iter(self.sampler)
        if self.drop_last:
            args = [sampler_iter] * self.batch_size
            for batch in zip(*args):
                yield [*batch]
        else:
            batch = [*itertools.islice(sampler_iter, self.batch_size)]
            while batch:
                yield batch
                batch = [*itertools.islice(sampler_iter, self.batch_size)]

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return (len(self.sampler) + self.batch_size - 1) // self.batch_size

    def _can_batch_arrays(self) -> bool:
        return type(self) is BatchSampler and type(self.sampler) in (SequentialSampler,
                                                                     RandomSampler)

    def _iter_arrays(self) -> Iterator[np.ndarray]:
        """The batches of ``__iter__`` as int64 arrays (only when ``_can_batch_arrays()``)."""
        bs = self.batch_size
        pending: list[np.ndarray] = []
        npending = 0
        for chunk in self.sampler._index_chunks():
            start = 0
            if npending:
                head = chunk[: bs - npending]
                pending.append(head)
                npending += len(head)
                start = len(head)
                if npending < bs:
                    continue
                yield np.concatenate(pending)
                pending, npending = [], 0
            stop = start + (len(chunk) - start) // bs * bs
            for i in range(start, stop, bs):
                yield chunk[i: i + bs]
            if stop < len(chunk):
                pending, npending = [chunk[stop:]], len(chunk) - stop
        if npending and not self.drop_last:
            yield np.concatenate(pending)
