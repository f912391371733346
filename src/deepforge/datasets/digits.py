"""``Digits``: the UCI hand-written digits (1,797 8x8 images, pixels 0..16, labels 0-9),
shipped with deepforge in ``datasets/data/digits.csv.gz`` (see the README there)."""

from __future__ import annotations

import gzip
import os
from importlib import resources

import numpy as np

from ._common import CLASSES, _ImageDataset

__all__ = ["Digits"]

N_SAMPLES, N_TRAIN, N_TEST = 1797, 1437, 360
SPLIT_SEED = 0


def _load_csv(path=None) -> np.ndarray:
    if path is None:
        ref = resources.files("deepforge.datasets") / "data" / "digits.csv.gz"
        with ref.open("rb") as fh:
            raw = gzip.decompress(fh.read())
    else:
        with open(path, "rb") as fh:
            raw = fh.read()
        if path.endswith(".gz"):
            raw = gzip.decompress(raw)
    table = np.loadtxt(raw.decode("ascii").splitlines(), delimiter=",", dtype=np.float64)
    if table.shape != (N_SAMPLES, 65):
        raise RuntimeError(f"digits data: expected a {N_SAMPLES}x65 table, found {table.shape}")
    return table.astype(np.int64)


_CACHE: dict = {}


def split_indices() -> tuple[np.ndarray, np.ndarray]:
    """The fixed split: ``numpy.random.RandomState(0).permutation(1797)``; its first 1,437
    entries are the training set and the last 360 the test set (numpy guarantees
    ``RandomState`` streams never change)."""
    perm = np.random.RandomState(SPLIT_SEED).permutation(N_SAMPLES)
    return perm[:N_TRAIN], perm[N_TRAIN:]


class Digits(_ImageDataset):
    """The UCI hand-written digits, split 1,437 train / 360 test (``split_indices``).

    Args:
        root: a folder holding ``digits.csv.gz`` (or ``digits.csv``) to read instead of the
            copy shipped with deepforge; None uses the shipped copy.
        train: the training split (True) or the test split (False).
        transform: applied to each image, a float32 tensor (1, 8, 8) in [0, 1] (pixel / 16).
        target_transform: applied to each label (an int).
        split: "train", "test" or "all" (all 1,797 images in file order); overrides ``train``.

    ``data`` is the uint8 tensor (N, 8, 8) of raw pixels 0..16 and ``targets`` the int64
    labels, as in torchvision's MNIST.
    """

    _max_value = 16.0
    classes = CLASSES

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 split: str | None = None) -> None:
        if split is None:
            split = "train" if train else "test"
        if split not in ("train", "test", "all"):
            raise ValueError(f"Digits: split must be 'train', 'test' or 'all', got {split!r}")
        self.root = root
        self.train = split == "train"
        self.split = split
        self.transform = transform
        self.target_transform = target_transform
        path = None
        if root is not None:
            for name in ("digits.csv.gz", "digits.csv"):
                if os.path.exists(os.path.join(root, name)):
                    path = os.path.join(root, name)
                    break
            else:
                raise RuntimeError(
                    f"Digits: no digits.csv.gz or digits.csv in {root!r}; pass root=None to use "
                    "the copy shipped with deepforge"
                )
        if path not in _CACHE:
            _CACHE[path] = _load_csv(path)
        table = _CACHE[path]
        if split != "all":
            train_idx, test_idx = split_indices()
            table = table[train_idx if split == "train" else test_idx]
        self._set_arrays(table[:, :64].reshape(-1, 8, 8), table[:, 64])
