"""Fetchers: turn an index (or a batch of indices) from the sampler into collated data.

Fast path: a ``TensorDataset`` (also through ``Subset``s of one) collated by
``default_collate`` is fetched by indexing each tensor with the whole batch of indices at
once, instead of building one tensor per sample and stacking them. The result is the same
tensor, value for value, dtype and shape, as the per-sample path gives.
"""

from __future__ import annotations

import numpy as np

import deepforge

from ..dataset import Subset, TensorDataset
from . import collate

__all__ = ["_DatasetKind", "_MapDatasetFetcher", "_IterableDatasetFetcher", "tensor_batch_getter",
           "take_rows"]


def _as_index_array(index):
    """``index`` as a 1-D integer numpy array, or None if it is not a plain list of ints."""
    if isinstance(index, np.ndarray):
        arr = index
    else:
        if not isinstance(index, (list, tuple)) or not index:
            return None
        if not all(type(i) is int for i in index):
            return None
        arr = np.asarray(index)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        return None
    return arr.astype(np.intp, copy=False)


def take_rows(t, idx: np.ndarray):
    """``t[idx]`` for a 1-D integer index array (numpy's take on the CPU)."""
    if t._device.type == "cpu" and not t.requires_grad:
        return deepforge.from_numpy(np.take(t.numpy(), idx, axis=0))
    return t[deepforge.from_numpy(idx).to(t.device)]


def tensor_batch_getter(dataset):
    """``fn(index_array) -> [batch tensors]`` equal to ``default_collate([dataset[i] ...])``,
    or None when ``dataset`` is not a (``Subset`` of a) plain ``TensorDataset``.

    Other datasets can take part through a ``_batch_getter()`` method that returns such a
    function (or None); deepforge's image datasets do, when they have no transforms.
    """
    cls = type(dataset)
    hook = getattr(dataset, "_batch_getter", None)
    if callable(hook):
        return hook()
    if isinstance(dataset, TensorDataset):
        if cls.__getitem__ is not TensorDataset.__getitem__ or hasattr(dataset, "__getitems__"):
            return None
        tensors = tuple(dataset.tensors)
        if not tensors or not all(isinstance(t, deepforge.Tensor) and t.ndim >= 1 for t in tensors):
            return None
        return lambda idx: [take_rows(t, idx) for t in tensors]
    if isinstance(dataset, Subset):
        if cls.__getitem__ is not Subset.__getitem__ or cls.__getitems__ is not Subset.__getitems__:
            return None
        inner = tensor_batch_getter(dataset.dataset)
        if inner is None:
            return None
        try:
            sub = np.asarray(dataset.indices)
        except Exception:
            return None
        if sub.ndim != 1 or (sub.size and sub.dtype.kind not in "iu"):
            return None
        sub = sub.astype(np.intp, copy=False)
        return lambda idx: inner(sub[idx])
    return None


class _BaseDatasetFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last

    def fetch(self, possibly_batched_index):
        raise NotImplementedError


class _IterableDatasetFetcher(_BaseDatasetFetcher):
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        super().__init__(dataset, auto_collation, collate_fn, drop_last)
        self.dataset_iter = iter(dataset)
        self.ended = False

    def fetch(self, possibly_batched_index):
        if self.ended:
            raise StopIteration
        if self.auto_collation:
            data = []
            for _ in possibly_batched_index:
                try:
                    data.append(next(self.dataset_iter))
                except StopIteration:
                    self.ended = True
                    break
            if len(data) == 0 or (self.drop_last and len(data) < len(possibly_batched_index)):
                raise StopIteration
        else:
            data = next(self.dataset_iter)
        return self.collate_fn(data)


class _MapDatasetFetcher(_BaseDatasetFetcher):
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        super().__init__(dataset, auto_collation, collate_fn, drop_last)
        self.fast = None
        if auto_collation and collate_fn is collate.default_collate:
            self.fast = tensor_batch_getter(dataset)

    def fetch(self, possibly_batched_index):
        if self.auto_collation:
            if self.fast is not None:
                idx = _as_index_array(possibly_batched_index)
                if idx is not None and idx.size:
                    return self.fast(idx)
            if isinstance(possibly_batched_index, np.ndarray):
                possibly_batched_index = possibly_batched_index.tolist()
            getitems = getattr(self.dataset, "__getitems__", None)
            if callable(getitems):
                data = getitems(possibly_batched_index)
            else:
                data = [self.dataset[idx] for idx in possibly_batched_index]
        else:
            data = self.dataset[possibly_batched_index]
        return self.collate_fn(data)


class _DatasetKind:
    """A map-style or an iterable dataset, and the fetcher that reads each kind."""

    Map = 0
    Iterable = 1

    @staticmethod
    def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
        if kind == _DatasetKind.Map:
            return _MapDatasetFetcher(dataset, auto_collation, collate_fn, drop_last)
        return _IterableDatasetFetcher(dataset, auto_collation, collate_fn, drop_last)
