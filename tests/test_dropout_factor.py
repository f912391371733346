"""dropout's factor in one op (``ops.random.keep_scale``; one kernel on OpenCL): the same
mask as ``bernoulli(x, 1 - p)`` drawn from the same generator state, scaled by 1 / (1 - p),
for every float dtype, plain and feature (dropout2d) shapes, on every backend; and the same
mask on every backend for one seed."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
import deepforge.nn.functional as F


@pytest.mark.parametrize("dtype", [df.float16, df.float32, df.float64])
@pytest.mark.parametrize("shape", [(37,), (4, 5, 6), (2, 3, 8, 8)])
def test_factor_is_bernoulli_mask_scaled(device, dtype, shape):
    x = df.ones(shape, dtype=dtype, device=device)
    df.manual_seed(3)
    y = F.dropout(x, 0.3)
    df.manual_seed(3)
    keep = df.bernoulli(x, 0.7)
    np.testing.assert_array_equal(y.cpu().numpy(), (x * (keep * (1.0 / 0.7))).cpu().numpy())
    if len(shape) == 4:  # one mask value per channel
        df.manual_seed(4)
        y2 = F.dropout2d(x, 0.5)
        df.manual_seed(4)
        k2 = df.bernoulli(df.empty(shape[:2] + (1, 1), dtype=dtype, device=device), 0.5)
        np.testing.assert_array_equal(y2.cpu().numpy(), (x * (k2 * 2.0)).cpu().numpy())


def test_same_mask_on_every_backend(device):
    df.manual_seed(5)
    ref = F.dropout(df.ones(300), 0.4).numpy()
    df.manual_seed(5)
    got = F.dropout(df.ones(300, device=device), 0.4).cpu().numpy()
    np.testing.assert_array_equal(got, ref)
    assert 0.3 < (ref == 0).mean() < 0.5


def test_dropout_gradient_uses_the_factor(device):
    x = df.randn(6, 7, device=device, dtype=df.float64, requires_grad=True)
    df.manual_seed(6)
    y = F.dropout(x, 0.25)
    y.sum().backward()
    factor = (y / x).detach().cpu().numpy()
    np.testing.assert_allclose(x.grad.cpu().numpy(), factor, rtol=1e-12)
    assert set(np.unique(np.round(factor, 12))) <= {0.0, round(1 / 0.75, 12)}
