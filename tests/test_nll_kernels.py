"""nll_loss on (N, C) inputs through the backend kernels (``nll_forward``/``nll_backward``,
one launch each way on OpenCL), on every backend: values and gradients against a numpy
reference and PyTorch, every reduction, class weights, ignore_index, all rows ignored,
-inf log-probabilities in ignored rows, float16/32/64, strided inputs, empty batches, and
the double backward."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
import deepforge.nn.functional as F
from deepforge.autograd import gradcheck, gradgradcheck


def _reference(logp, target, weight, ignore, reduction):
    n, c = logp.shape
    w = np.ones(c) if weight is None else weight
    valid = target != ignore
    rows = np.array([-w[t] * logp[i, t] if v else 0.0 for i, (t, v) in enumerate(zip(target,
                                                                                     valid))])
    wsum = sum(w[t] for t, v in zip(target, valid) if v)
    grad = np.zeros((n, c))
    for i, (t, v) in enumerate(zip(target, valid)):
        if v:
            grad[i, t] = -w[t] / (wsum if reduction == "mean" else 1.0)
    if reduction == "none":
        return rows, None
    total = rows.sum()
    return (total / wsum if reduction == "mean" else total), grad


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [-100, 1])
def test_values_and_gradients(device, reduction, weighted, ignore):
    rng = np.random.default_rng(0)
    logp = np.log(rng.dirichlet(np.ones(6), size=9))
    target = rng.integers(0, 6, 9)
    target[[2, 5]] = 1
    weight = rng.random(6) + 0.5 if weighted else None
    x = df.tensor(logp, device=device, requires_grad=True)
    w = None if weight is None else df.tensor(weight, device=device)
    loss = F.nll_loss(x, df.tensor(target, device=device), w, ignore_index=ignore,
                      reduction=reduction)  # fmt: skip
    want, grad = _reference(logp, target, weight, ignore, reduction)
    np.testing.assert_allclose(loss.detach().cpu().numpy(), want, rtol=1e-12)
    if grad is not None:
        loss.backward()
        np.testing.assert_allclose(x.grad.cpu().numpy(), grad, rtol=1e-12)


def test_ignored_rows_are_not_read(device):
    """An ignored row's log-probabilities are never read: -inf there (at class 0, which a
    masked gather would read in its place) gives no NaN."""
    with np.errstate(divide="ignore"):
        logp = np.log(np.array([[0.0, 0.5, 0.5], [0.2, 0.3, 0.5]]))  # row 0: -inf at class 0
    x = df.tensor(logp, device=device, requires_grad=True)
    loss = F.nll_loss(x, df.tensor([-100, 2], device=device))
    np.testing.assert_allclose(loss.item(), -logp[1, 2])
    loss.backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), [[0, 0, 0], [0, 0, -1.0]])


def test_all_rows_ignored_and_empty_batch(device):
    x = df.zeros(3, 4, device=device, requires_grad=True)
    t = df.full((3,), -100, dtype=df.int64, device=device)
    loss = F.nll_loss(x, t)
    assert np.isnan(loss.item())  # 0 / 0, as PyTorch
    loss.backward()
    assert not x.grad.cpu().numpy().any()
    assert F.nll_loss(x, t, reduction="sum").item() == 0.0
    e = df.zeros(0, 4, device=device, requires_grad=True)
    assert np.isnan(F.nll_loss(e, df.zeros(0, dtype=df.int64, device=device)).item())
    assert F.nll_loss(e, df.zeros(0, dtype=df.int64, device=device), reduction="sum").item() == 0


@pytest.mark.parametrize("dtype", [df.float16, df.float32, df.float64])
def test_dtypes_strided_inputs_and_byte_targets(device, dtype):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 8))
    x = df.tensor(a, dtype=dtype, device=device).t().requires_grad_(True)  # (8, 5), strided
    t = df.tensor(rng.integers(0, 5, 8), dtype=df.uint8, device=device)
    loss = F.cross_entropy(x, t)
    loss.backward()
    xr = x.detach().double()
    ref = F.cross_entropy(xr.cpu(), t.cpu().long())
    tol = 2e-3 if dtype is df.float16 else 1e-6
    np.testing.assert_allclose(loss.double().item(), ref.item(), rtol=tol, atol=tol)
    xr = xr.cpu().requires_grad_(True)
    F.cross_entropy(xr, t.cpu().long()).backward()
    np.testing.assert_allclose(x.grad.double().cpu().numpy(), xr.grad.numpy(), rtol=tol,
                               atol=tol)  # fmt: skip


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_and_double_backward(device, reduction):
    rng = np.random.default_rng(2)
    x = df.tensor(rng.standard_normal((4, 5)), device=device, requires_grad=True)
    t = df.tensor([0, 4, -100, 2], device=device)
    w = df.tensor(rng.random(5) + 0.5, device=device)

    def f(inp):
        return F.cross_entropy(inp, t, weight=w, reduction=reduction)

    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))


def test_vs_torch(device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a, t = rng.standard_normal((16, 10)).astype(np.float32), rng.integers(0, 10, 16)
    t[3] = 7
    w = (rng.random(10) + 0.5).astype(np.float32)
    for reduction in ("mean", "sum", "none"):
        tx = torch.tensor(a, requires_grad=True)
        tl = torch.nn.functional.cross_entropy(tx, torch.tensor(t), weight=torch.tensor(w),
                                               ignore_index=7, reduction=reduction)  # fmt: skip
        dx = df.tensor(a, device=device, requires_grad=True)
        dl = F.cross_entropy(dx, df.tensor(t, device=device), weight=df.tensor(w, device=device),
                             ignore_index=7, reduction=reduction)  # fmt: skip
        np.testing.assert_allclose(dl.detach().cpu().numpy(), tl.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)  # fmt: skip
        tl.sum().backward()
        dl.sum().backward()
        np.testing.assert_allclose(dx.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
