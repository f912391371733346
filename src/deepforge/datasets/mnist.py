"""``MNIST`` from local IDX files, and ``read_idx`` for the IDX format itself.

deepforge never downloads anything: put the four standard files (optionally gzipped) in
``ROOT/MNIST/raw/`` (torchvision's layout) or directly in ``ROOT``::

    train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from ._common import CLASSES, _ImageDataset

__all__ = ["MNIST", "read_idx"]

# IDX type codes -> big-endian numpy dtypes
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (``.gz`` is decompressed): magic ``00 00 TYPE NDIM``, NDIM big-endian
    uint32 sizes, then the data in big-endian row-major order. Returns a native numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as e:
        raise RuntimeError(f"cannot read IDX file {path}: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise RuntimeError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RuntimeError(f"{path}: truncated IDX header")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise RuntimeError(
            f"{path}: IDX data is {len(raw) - header} bytes, expected {expected} for shape "
            f"{list(shape)}"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


class MNIST(_ImageDataset):
    """The MNIST digits (60,000 train / 10,000 test 28x28 images) from local IDX files.

    ``dataset[i]`` is ``(image, label)``: a float32 tensor (1, 28, 28) in [0, 1] (pixel / 255,
    what torchvision's ``ToTensor`` gives) after ``transform``, and an int after
    ``target_transform``. ``data`` (uint8, (N, 28, 28)) and ``targets`` (int64) hold the raw
    arrays. ``download=True`` is refused: deepforge does not download data.
    """

    resources = [
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    ]
    classes = CLASSES

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        self.root = os.fspath(root)
        self.train = train
        self.split = "train" if train else "test"
        self.transform = transform
        self.target_transform = target_transform
        if download:
            raise RuntimeError(
                "deepforge does not download datasets (download=True). Get the MNIST IDX files "
                f"yourself and put them in {self.raw_folder} (or in {self.root}), then use "
                "download=False."
            )
        img_name, lbl_name = self.resources[0 if train else 1]
        images = read_idx(self._find(img_name))
        labels = read_idx(self._find(lbl_name))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise RuntimeError(
                f"MNIST: images {list(images.shape)} and labels {list(labels.shape)} do not "
                "match (expected (N, H, W) and (N,))"
            )
        self._set_arrays(images, labels)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, "MNIST", "raw")

    def _find(self, name: str) -> str:
        tried = []
        for folder in (self.raw_folder, self.root):
            for fname in (name, name + ".gz"):
                path = os.path.join(folder, fname)
                tried.append(path)
                if os.path.exists(path):
                    return path
        raise RuntimeError(
            f"MNIST file {name} not found (looked for {', '.join(tried)}). deepforge does not "
            f"download datasets: put the four MNIST IDX files (.gz or not) in {self.raw_folder}."
        )
