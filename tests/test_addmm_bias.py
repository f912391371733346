"""addmm with a bias vector: a linear layer's forward as one backend call (``matmul_bias``;
the OpenCL GEMM adds the bias inside its kernel), on every backend."""

from __future__ import annotations

import numpy as np

import deepforge as df
from deepforge.autograd import gradcheck


def test_addmm_with_a_bias_vector(device):
    """addmm(bias, a, b) with a 1-D bias (a linear layer's forward, one backend call): values
    and gradients of all three inputs, also through F.linear with batch dims."""
    rng = np.random.default_rng(3)
    bias = df.tensor(rng.standard_normal(5), device=device, requires_grad=True)
    a = df.tensor(rng.standard_normal((4, 3)), device=device, requires_grad=True)
    b = df.tensor(rng.standard_normal((5, 3)), device=device).t().requires_grad_(True)
    want = bias.detach().cpu().numpy() + a.detach().cpu().numpy() @ b.detach().cpu().numpy()
    np.testing.assert_allclose(df.addmm(bias, a, b).detach().cpu().numpy(), want, rtol=1e-12)
    assert gradcheck(lambda x, y, z: df.addmm(x, y, z), (bias, a, b))
    x = df.tensor(rng.standard_normal((2, 3, 4)), device=device, requires_grad=True)
    w = df.tensor(rng.standard_normal((6, 4)), device=device, requires_grad=True)
    bb = df.tensor(rng.standard_normal(6), device=device, requires_grad=True)
    assert gradcheck(lambda p, q, r: df.nn.functional.linear(p, q, r), (x, w, bb))
