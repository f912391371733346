"""nanmedian: the lower median of the non-NaN values along a dim (or of all), NaN where every
value is NaN, with the index of the chosen element; quantile, sorted on the device; on every
backend, against a numpy reference and PyTorch when installed."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df


def _lower_nanmedian(row):
    vals = np.sort(row[~np.isnan(row)], kind="stable")
    return np.nan if vals.size == 0 else vals[(vals.size - 1) // 2]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((3, 5, 4))
    a[rng.random(a.shape) < 0.3] = np.nan
    a[0, :, 0] = np.nan  # a slice with no number
    return a


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_nanmedian_dim(device, dim, keepdim):
    a = _data()
    x = df.tensor(a, device=device)
    r = df.nanmedian(x, dim, keepdim=keepdim)
    want = np.apply_along_axis(_lower_nanmedian, dim, a)
    if keepdim:
        want = np.expand_dims(want, dim)
    np.testing.assert_array_equal(r.values.cpu().numpy(), want)
    # the index points at the chosen value (rows with a number)
    got_i = r.indices.cpu().numpy()
    picked = np.take_along_axis(a, got_i if keepdim else np.expand_dims(got_i, dim), dim)
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(picked[ok] if keepdim else picked.squeeze(dim)[ok], want[ok])


def test_nanmedian_all_and_grad(device):
    a = _data(1)
    assert df.nanmedian(df.tensor(a, device=device)).item() == _lower_nanmedian(a.reshape(-1))
    assert np.isnan(df.nanmedian(df.full((3,), float("nan"), device=device)).item())
    x = df.tensor([1.0, float("nan"), 3.0, 2.0], device=device, requires_grad=True)
    df.nanmedian(x).backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 1.0]
    n = df.tensor([[4, 1, 3]], device=device)  # integers: the plain lower median
    r = df.nanmedian(n, 1)
    assert r.values.tolist() == [3] and r.indices.tolist() == [2]


def test_nanmedian_vs_torch(device):
    torch = pytest.importorskip("torch")
    a = _data(2).astype(np.float32)
    for dim in (0, 1, 2):
        want = torch.nanmedian(torch.from_numpy(a), dim)
        got = df.nanmedian(df.tensor(a, device=device), dim)
        np.testing.assert_array_equal(got.values.cpu().numpy(), want.values.numpy())
        ok = ~np.isnan(want.values.numpy())  # PyTorch's index for an all-NaN slice is arbitrary
        np.testing.assert_array_equal(got.indices.cpu().numpy()[ok], want.indices.numpy()[ok])
    assert df.nanmedian(df.tensor(a, device=device)).item() == torch.nanmedian(
        torch.from_numpy(a)
    ).item()


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("dim", [None, 0, 1])
def test_quantile_on_the_device_with_nan_and_grad(device, interpolation, dim):
    """quantile: sorted on the input's device (NaN in a slice gives NaN), against numpy, with
    a gradient through the two neighbouring order statistics."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 7))
    a[1, 3] = np.nan
    q = [0.1, 0.5, 0.9]
    qt = df.tensor(q, dtype=df.float64, device=device)
    got = df.quantile(df.tensor(a, device=device), qt, dim=dim, interpolation=interpolation)
    want = np.quantile(a, q, axis=dim, method=interpolation)
    np.testing.assert_allclose(got.cpu().numpy(), want, rtol=1e-12, equal_nan=True)
    x = df.tensor(a[0], device=device, requires_grad=True)
    df.quantile(x, 0.4, interpolation=interpolation).backward()
    assert abs(x.grad.sum().item() - 1.0) < 1e-12  # the weights of the two neighbours
    with pytest.raises(RuntimeError, match=r"q values must be in the range \[0, 1\]"):
        df.quantile(x, 1.5)


@pytest.mark.parametrize("interpolation", ["linear", "midpoint", "nearest"])
def test_quantile_gradcheck(device, interpolation):
    """float64 gradcheck of quantile over a transposed (non-contiguous) input, along a dim and
    over all elements, with a vector of q."""
    from deepforge.autograd import gradcheck

    rng = np.random.default_rng(4)
    x = df.tensor(rng.permutation(20).reshape(5, 4) / 7.0, device=device).t()
    x.requires_grad_(True)
    q = df.tensor([0.2, 0.5, 0.9], dtype=df.float64, device=device)
    assert gradcheck(lambda t: df.quantile(t, q, dim=1, interpolation=interpolation), (x,))
    assert gradcheck(lambda t: df.quantile(t, 0.3, interpolation=interpolation), (x,))
