"""The fused backward kernels of relu, gelu and silu (``unary_grad``: one kernel instead of
the composed formula) against the composed formula and PyTorch, on every backend, for every
float dtype, contiguous or not; relu's keeps PyTorch's threshold semantics for NaN."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
import deepforge.nn.functional as F

TOL = {df.float16: 2e-3, df.float32: 2e-6, df.float64: 1e-12}


def _reference(name, x, g):
    """d act(x)/dx * g in float64, composed from numpy."""
    from math import erf, pi, sqrt

    if name == "relu":
        return np.where(x > 0, g, 0.0)
    if name == "gelu":
        cdf = 0.5 * (1.0 + np.vectorize(erf)(x / sqrt(2.0)))
        return g * (cdf + x * np.exp(-0.5 * x * x) / sqrt(2.0 * pi))
    s = 1.0 / (1.0 + np.exp(-x))
    return g * s * (1.0 + x * (1.0 - s))


@pytest.mark.parametrize("name", ["relu", "gelu", "silu"])
@pytest.mark.parametrize("dtype", [df.float16, df.float32, df.float64])
@pytest.mark.parametrize("transposed", [False, True])
def test_fused_grad_matches_formula(device, name, dtype, transposed):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 9)) * 3
    a[0, :3] = 0.0
    g = rng.standard_normal((6, 9))
    x = df.tensor(a.T.copy() if transposed else a, dtype=dtype, device=device)
    x = (x.t() if transposed else x).requires_grad_(True)
    getattr(F, name)(x).backward(df.tensor(g, dtype=dtype, device=device))
    # reference at the inputs as rounded to dtype
    xr = x.detach().double().cpu().numpy()
    gr = df.tensor(g, dtype=dtype).double().numpy()
    want = _reference(name, xr, gr)
    np.testing.assert_allclose(x.grad.double().cpu().numpy(), want, rtol=TOL[dtype] * 4,
                               atol=TOL[dtype] * 4)  # fmt: skip


def test_relu_grad_nan_semantics(device):
    """PyTorch's threshold_backward: a NaN gradient survives only where the result is > 0."""
    x = df.tensor([-1.0, 1.0, 0.0], device=device, requires_grad=True)
    df.relu(x).backward(df.full((3,), float("nan"), device=device))
    got = x.grad.cpu().numpy()
    assert got[0] == 0.0 and np.isnan(got[1]) and got[2] == 0.0


@pytest.mark.parametrize("name", ["relu", "gelu", "silu"])
def test_fused_grad_vs_torch(device, name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, g = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((4, 5))
    x = df.tensor(a, device=device, requires_grad=True)
    getattr(F, name)(x).backward(df.tensor(g.astype(np.float32), device=device))
    tx = torch.tensor(a, requires_grad=True)
    getattr(torch.nn.functional, name)(tx).backward(torch.tensor(g.astype(np.float32)))
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
