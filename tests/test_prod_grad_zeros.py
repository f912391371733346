"""Gradients of prod and cumprod where the input has zeros (each factor's gradient is the
product of the others, computed without dividing), first and second order, on every backend;
and integer pow with negative tensor exponents (PyTorch's integer rule, no error)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import deepforge as df
from deepforge.autograd import gradcheck, gradgradcheck

# rows with no zero, one zero, two zeros, a zero first and last
ROWS = np.array(
    [[1.5, -2.0, 0.5, 3.0], [1.5, 0.0, -2.0, 0.75], [0.0, 2.0, 0.0, -1.25], [-0.5, 2.0, 3.0, 0.0]]
)


def _others_product(x, j, k):
    """d(prod_{i<=j} x_i)/dx_k for a 1-D x: the product of the others (0 when k > j)."""
    return float(np.prod([x[i] for i in range(j + 1) if i != k])) if k <= j else 0.0


def _cumprod_grad_ref(x, g):
    n = len(x)
    return np.array([sum(g[j] * _others_product(x, j, k) for j in range(n)) for k in range(n)])


def _prod_grad_ref(x, g):
    return np.array([g * _others_product(x, len(x) - 1, k) for k in range(len(x))])


@pytest.mark.parametrize("transposed", [False, True])
def test_cumprod_and_prod_gradients_with_zeros(device, transposed):
    rng = np.random.default_rng(0)
    data = ROWS.T.copy() if transposed else ROWS
    axis = 0 if transposed else 1  # each slice along axis is one row of ROWS
    g = rng.standard_normal(data.shape)
    x = df.tensor(data, dtype=df.float64, device=device)
    if transposed:  # a non-contiguous input
        x = df.tensor(ROWS, dtype=df.float64, device=device).t()
    x.requires_grad_(True)
    df.cumprod(x, axis).backward(df.tensor(g, device=device))
    got = x.grad.cpu().numpy()
    for r, row in enumerate(ROWS):
        gr = g[:, r] if transposed else g[r]
        want = _cumprod_grad_ref(row, gr)
        np.testing.assert_allclose(got[:, r] if transposed else got[r], want, rtol=1e-12)

    x.grad = None
    gp = g.sum(axis)
    x.prod(axis).backward(df.tensor(gp, device=device))
    got = x.grad.cpu().numpy()
    for r, row in enumerate(ROWS):
        want = _prod_grad_ref(row, gp[r])
        np.testing.assert_allclose(got[:, r] if transposed else got[r], want, rtol=1e-12)


def test_prod_of_all_elements_with_zeros(device):
    for flat in ([2.0, 0.0, 3.0, -1.0, 0.5, 4.0], [2.0, 0.0, 3.0, 0.0, 0.5, 4.0]):
        x = df.tensor(np.reshape(flat, (2, 3)), dtype=df.float64, device=device,
                      requires_grad=True)  # fmt: skip
        x.prod().backward()
        want = _prod_grad_ref(np.array(flat), 1.0).reshape(2, 3)
        np.testing.assert_allclose(x.grad.cpu().numpy(), want, rtol=1e-12)


@pytest.mark.parametrize("dim", [0, 1])
def test_gradcheck_with_zeros(device, dim):
    x = df.tensor(ROWS, dtype=df.float64, device=device, requires_grad=True)
    xt = df.tensor(ROWS.T.copy(), dtype=df.float64, device=device).t().requires_grad_(True)
    for inp in (x, xt):  # contiguous and transposed
        assert gradcheck(lambda t: df.cumprod(t, dim), (inp,))
        assert gradcheck(lambda t: t.prod(dim), (inp,))
        assert gradcheck(lambda t: t.prod(), (inp,))
        # second order: the create_graph path, whose own derivative must be right
        assert gradgradcheck(lambda t: df.cumprod(t, dim), (inp,))
        assert gradgradcheck(lambda t: t.prod(dim), (inp,))


def _int_pow_ref(a, b):
    if b >= 0:
        return a**b
    return 1 if a == 1 else ((-1) ** (b % 2) if a == -1 else 0)


@pytest.mark.parametrize("dtype", [df.int64, df.int32, df.int8])
def test_integer_pow_negative_tensor_exponent(device, dtype):
    bases = [1, -1, 2, -2, 0, 3]
    exps = [-1, -2, -3, 0, 2]
    pairs = list(itertools.product(bases, exps))
    a = df.tensor([p[0] for p in pairs], dtype=dtype, device=device)
    b = df.tensor([p[1] for p in pairs], dtype=dtype, device=device)
    want = [_int_pow_ref(x, y) for x, y in pairs]
    assert (a**b).tolist() == want
    assert df.pow(2, b).tolist() == [_int_pow_ref(2, y) for _, y in pairs]
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        a**-1  # a Python int exponent is refused, as in PyTorch


def test_integer_pow_matches_torch(device):
    torch = pytest.importorskip("torch")
    a = np.array([1, -1, 2, -2, 0, 3, 5, -3], dtype=np.int64)
    b = np.array([-1, -1, -1, -2, -1, -3, 3, 2], dtype=np.int64)
    want = (torch.from_numpy(a) ** torch.from_numpy(b)).numpy()
    got = (df.tensor(a, device=device) ** df.tensor(b, device=device)).cpu().numpy()
    np.testing.assert_array_equal(got, want)
