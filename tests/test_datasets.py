"""deepforge.datasets: the shipped Digits data and the MNIST IDX reader."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct

import numpy as np
import pytest

import deepforge as df
from deepforge.datasets import MNIST, Digits, read_idx
from deepforge.datasets.digits import split_indices
from deepforge.utils.data import DataLoader, default_collate

DATA = os.path.join(os.path.dirname(df.__file__), "datasets", "data")


def test_shipped_file_is_the_documented_one():
    with open(os.path.join(DATA, "digits.csv.gz"), "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    assert digest == "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    assert os.path.exists(os.path.join(DATA, "README.md"))


def test_digits_shapes_types_and_scaling():
    train, test, full = Digits(), Digits(train=False), Digits(split="all")
    assert (len(train), len(test), len(full)) == (1437, 360, 1797)
    img, label = train[0]
    assert img.shape == (1, 8, 8) and img.dtype == df.float32
    assert type(label) is int and 0 <= label <= 9
    assert train.data.shape == (1437, 8, 8) and train.data.dtype == df.uint8
    assert train.targets.shape == (1437,) and train.targets.dtype == df.int64
    assert int(full.data.max()) == 16 and int(full.data.min()) == 0
    np.testing.assert_array_equal(img.numpy()[0], train.data[0].numpy() / np.float32(16))
    assert 0.0 <= float(full._images.min()) and float(full._images.max()) == 1.0
    assert np.bincount(full.targets.numpy()).tolist() == [178, 182, 177, 183, 181, 182, 181,
                                                          179, 174, 180]
    assert train.classes[3] == "3 - three" and train.class_to_idx["9 - nine"] == 9
    assert "Number of datapoints: 1437" in repr(train)


def test_digits_first_image_is_a_zero():
    full = Digits(split="all")
    img, label = full[0]
    assert label == 0
    expected_row = [0, 0, 5, 13, 9, 1, 0, 0]  # the first row of the first UCI digit
    assert full.data[0, 0].tolist() == expected_row


def test_digits_split_is_fixed_and_disjoint():
    tr, te = split_indices()
    assert len(tr) == 1437 and len(te) == 360
    assert sorted(np.concatenate([tr, te]).tolist()) == list(range(1797))
    assert tr[:5].tolist() == np.random.RandomState(0).permutation(1797)[:5].tolist()
    full = Digits(split="all")
    train, test = Digits(), Digits(train=False)
    np.testing.assert_array_equal(train.data.numpy(), full.data.numpy()[tr])
    np.testing.assert_array_equal(test.targets.numpy(), full.targets.numpy()[te])
    assert Digits(train=False).targets.tolist() == test.targets.tolist()  # deterministic
    assert set(np.unique(test.targets.numpy()).tolist()) == set(range(10))


def test_digits_transforms_and_errors(tmp_path):
    ds = Digits(transform=lambda x: x.flatten() * 2, target_transform=lambda y: y + 100)
    img, label = ds[1]
    assert img.shape == (64,) and float(img.max()) <= 2.0 and label >= 100
    with pytest.raises(ValueError, match="split must be 'train', 'test' or 'all'"):
        Digits(split="val")
    with pytest.raises(RuntimeError, match="no digits.csv.gz or digits.csv"):
        Digits(root=str(tmp_path))
    with open(os.path.join(DATA, "digits.csv.gz"), "rb") as src:
        (tmp_path / "digits.csv.gz").write_bytes(src.read())
    assert Digits(root=str(tmp_path)).targets.tolist() == Digits().targets.tolist()


def test_digits_dataloader_batches_equal_per_sample_collation():
    ds = Digits(train=False)
    df.manual_seed(0)
    fast = list(DataLoader(ds, batch_size=50, shuffle=True))
    df.manual_seed(0)
    slow = list(DataLoader(ds, batch_size=50, shuffle=True,
                           collate_fn=lambda b: default_collate(b)))
    assert len(fast) == len(slow) == 8
    for (xf, yf), (xs, ys) in zip(fast, slow):
        assert xf.shape == xs.shape and xf.dtype == xs.dtype == df.float32
        assert yf.dtype == ys.dtype == df.int64
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())


# -- MNIST / IDX -------------------------------------------------------------------------------
def write_idx(path, arr: np.ndarray, code: int, gz: bool = False):
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    raw = struct.pack(">BBBB", 0, 0, code, arr.ndim)
    raw += struct.pack(">" + "I" * arr.ndim, *arr.shape) + arr.astype(dt).tobytes()
    if gz:
        raw = gzip.compress(raw)
    with open(path, "wb") as fh:
        fh.write(raw)


def make_mnist(folder, n_train=5, n_test=3, gz=False, size=28):
    rng = np.random.default_rng(0)
    os.makedirs(folder, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte{suffix}"), imgs, 0x08, gz)
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte{suffix}"), labels, 0x08, gz)
        out[prefix] = (imgs, labels)
    return out


@pytest.mark.parametrize("code,dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                        (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)])
def test_read_idx_types(tmp_path, code, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x.idx", arr, code)
    got = read_idx(str(tmp_path / "x.idx"))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)


def test_read_idx_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(RuntimeError, match="not an IDX file"):
        read_idx(str(tmp_path / "bad"))
    write_idx(tmp_path / "ok", np.zeros((4, 2), np.uint8), 0x08)
    raw = (tmp_path / "ok").read_bytes()
    (tmp_path / "short").write_bytes(raw[:-3])
    with pytest.raises(RuntimeError, match="IDX data is 5 bytes, expected 8"):
        read_idx(str(tmp_path / "short"))
    (tmp_path / "hdr").write_bytes(raw[:6])
    with pytest.raises(RuntimeError, match="truncated IDX header"):
        read_idx(str(tmp_path / "hdr"))


@pytest.mark.parametrize("gz,layout", [(False, "raw"), (True, "raw"), (False, "flat")])
def test_mnist_reads_local_idx_files(tmp_path, gz, layout):
    folder = tmp_path / "MNIST" / "raw" if layout == "raw" else tmp_path
    arrays = make_mnist(folder, gz=gz)
    train, test = MNIST(tmp_path), MNIST(str(tmp_path), train=False)
    assert len(train) == 5 and len(test) == 3
    img, label = train[2]
    assert img.shape == (1, 28, 28) and img.dtype == df.float32
    np.testing.assert_array_equal(img.numpy()[0], arrays["train"][0][2] / np.float32(255))
    assert label == int(arrays["train"][1][2]) and type(label) is int
    assert train.data.dtype == df.uint8 and train.targets.dtype == df.int64
    np.testing.assert_array_equal(test.targets.numpy(), arrays["t10k"][1])
    xb, yb = next(iter(DataLoader(train, batch_size=4)))
    assert xb.shape == (4, 1, 28, 28) and yb.tolist() == arrays["train"][1][:4].tolist()
    t = MNIST(tmp_path, transform=lambda x: x.sum(), target_transform=str)
    assert isinstance(t[0][1], str) and t[0][0].shape == ()


def test_mnist_missing_files_and_download(tmp_path):
    with pytest.raises(RuntimeError, match=r"train-images-idx3-ubyte not found.*MNIST/raw"):
        MNIST(tmp_path)
    with pytest.raises(RuntimeError, match="deepforge does not download datasets"):
        MNIST(tmp_path, download=True)
    folder = tmp_path / "MNIST" / "raw"
    make_mnist(folder)
    write_idx(folder / "train-labels-idx1-ubyte", np.zeros(4, np.uint8), 0x08)
    with pytest.raises(RuntimeError, match="do not match"):
        MNIST(tmp_path)
