"""Shared test helpers."""

from __future__ import annotations

import io
import zipfile

import numpy as np

import deepforge as df


def to_np(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, check_dtype=False):
    a = to_np(actual) if isinstance(actual, df.Tensor) else np.asarray(actual)
    e = to_np(expected) if isinstance(expected, df.Tensor) else np.asarray(expected)
    assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
    if check_dtype:
        assert a.dtype == e.dtype, f"dtype {a.dtype} != {e.dtype}"
    np.testing.assert_allclose(a.astype(np.float64) if a.dtype != np.bool_ else a,
                               e.astype(np.float64) if e.dtype != np.bool_ else e,
                               rtol=rtol, atol=atol, equal_nan=True)


def noncontig(t):
    """A non-contiguous tensor with the same values (a transposed copy transposed back)."""
    if t.ndim < 2:
        big = df.stack([t, t], -1)
        return big[..., 0]
    return t.mT.contiguous().mT


def _build_net(net, lib) -> None:
    """The layers of ``Net``, from deepforge or torch (``lib``)."""
    net.fc1 = lib.nn.Linear(4, 8)
    net.act = lib.nn.ReLU()
    net.block = lib.nn.Sequential(lib.nn.Linear(8, 8), lib.nn.Tanh())
    net.head = lib.nn.Linear(8, 3)
    net.register_buffer("steps", lib.zeros((), dtype=lib.int64))
    net.register_buffer("scratch", lib.zeros(2), persistent=False)
    net.scale = lib.nn.Parameter(lib.ones(1))


def _net_forward(net, x):
    return net.head(net.block(net.act(net.fc1(x)))) * net.scale


class Net(df.nn.Module):
    """A small nested model: parameters, persistent and non-persistent buffers, a Sequential."""

    def __init__(self):
        super().__init__()
        _build_net(self, df)

    forward = _net_forward


def torch_net(torch):
    """``Net`` built with torch (class ``TNet``)."""

    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            _build_net(self, torch)

        forward = _net_forward

    return TNet()


def torch_or_skip():
    import pytest

    return pytest.importorskip("torch")


def random_bits_array(dtype, shape, seed=0) -> np.ndarray:
    """An array of random bytes viewed as ``dtype``: every bit pattern (NaN payloads, -0.0, inf,
    extremes) is as likely as any other; bools are 0 or 1."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == np.bool_:
        return rng.integers(0, 2, n).astype(np.bool_).reshape(shape)
    raw = rng.integers(0, 256, n * np.dtype(dtype).itemsize, dtype=np.uint8)
    return raw.view(dtype).reshape(shape)


def rewrite_pickle(raw: bytes, fn) -> io.BytesIO:
    """A copy of the checkpoint ``raw`` (a zip) whose ``data.pkl`` entry is ``fn(data.pkl)``."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, fn(data) if name.endswith("data.pkl") else data)
    out.seek(0)
    return out
