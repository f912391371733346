"""scatter_reduce: every reduction with and without ``input``'s own values, against torch and
a numpy reference, and its gradients (gradcheck, ties, zeros in products) on every device."""

from __future__ import annotations

import numpy as np
import op_refs as R
import pytest

import deepforge as df
from deepforge.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

REDUCES = ("sum", "prod", "mean", "amax", "amin")
# duplicate indices along dim 0, every target row hit at least once in some column
IDX = np.array([[0, 1, 0], [2, 2, 0], [0, 1, 3], [0, 0, 0], [2, 1, 1]])


def _distinct(rng, *shapes):
    """Values with no ties (so amax/amin are differentiable), away from 0 (for prod)."""
    n = sum(int(np.prod(s)) for s in shapes)
    v = (rng.permutation(n) + 1.0) / n * 1.5 + 0.25
    v *= rng.choice([-1.0, 1.0], n)
    out, at = [], 0
    for s in shapes:
        k = int(np.prod(s))
        out.append(v[at : at + k].reshape(s))
        at += k
    return out


def _both(x, idx, src, device, grad=False):
    d = [df.tensor(a, device=device, requires_grad=grad and a.dtype.kind == "f") for a in (x, src)]
    t = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in (x, src)]
    return (d[0], df.tensor(idx, device=device), d[1]), (t[0], torch.tensor(idx), t[1])


def _host(t):
    return t.detach().cpu().numpy()


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
def test_forward_vs_torch_and_numpy(reduce, include_self, dtype, device):
    rng = np.random.default_rng(1)
    x = rng.integers(-4, 5, (4, 3)).astype(dtype)
    src = rng.integers(-4, 5, (5, 3)).astype(dtype)  # small integers: ties and zeros
    (xd, i, sd), (xt, it, st) = _both(x, IDX, src, device)
    got = xd.scatter_reduce(0, i, sd, reduce, include_self=include_self)
    want = xt.scatter_reduce(0, it, st, reduce, include_self=include_self)
    assert got.dtype.name == str(want.dtype).replace("torch.", "")
    np.testing.assert_allclose(_host(got), want.numpy(), rtol=1e-6)
    if dtype.startswith("float"):
        ref = R.scatter_reduce(x, 0, IDX, src, reduce, include_self)
        np.testing.assert_allclose(_host(got), ref, rtol=1e-6)


def test_integer_extremes_without_self(device):
    """Integers have no infinity: the reduction must start from the type's extreme."""
    x = df.tensor([1, 2, 3], device=device)
    i = df.tensor([0, 0], device=device)
    s = df.tensor([5, 7], device=device)
    assert x.scatter_reduce(0, i, s, "amin", include_self=False).tolist() == [5, 2, 3]
    assert x.scatter_reduce(0, i, -s, "amax", include_self=False).tolist() == [-5, 2, 3]
    assert x.scatter_reduce(0, i, s, "mean", include_self=False).tolist() == [6, 2, 3]


def test_dim1_3d_and_index_smaller_than_src(device):
    rng = np.random.default_rng(2)
    x, src = _distinct(rng, (2, 4, 3), (2, 5, 3))
    idx = rng.integers(0, 4, (2, 3, 2))
    for reduce in REDUCES:
        (xd, i, sd), (xt, it, st) = _both(x, idx, src, device)
        got = df.scatter_reduce(xd, 1, i, sd, reduce, include_self=False)
        want = torch.scatter_reduce(xt, 1, it, st, reduce, include_self=False)
        np.testing.assert_allclose(_host(got), want.numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduce", REDUCES)
@pytest.mark.parametrize("include_self", [True, False])
def test_gradcheck(reduce, include_self, device):
    rng = np.random.default_rng(3)
    x, src = _distinct(rng, (4, 3), (5, 3))
    (xd, i, sd), _ = _both(x, IDX, src, device, grad=True)

    def f(a, b):
        return df.scatter_reduce(a, 0, i, b, reduce, include_self=include_self)

    assert gradcheck(f, (xd, sd))
    assert gradgradcheck(f, (xd, sd))


def test_gradcheck_src_larger_than_index(device):
    rng = np.random.default_rng(4)
    x, src = _distinct(rng, (4, 3), (6, 4))
    (xd, i, sd), _ = _both(x, IDX[:, :2], src, device, grad=True)
    for reduce in ("prod", "amax", "mean"):
        assert gradcheck(lambda a, b, r=reduce: df.scatter_reduce(a, 0, i, b, r), (xd, sd))
        g = df.autograd.grad(df.scatter_reduce(xd, 0, i, sd, reduce).sum(), sd)[0]
        assert not _host(g)[5:].any() and not _host(g)[:, 2:].any()


def _grads_vs_torch(x, idx, src, reduce, include_self, device):
    (xd, i, sd), (xt, it, st) = _both(x, idx, src, device, grad=True)
    y = df.scatter_reduce(xd, 0, i, sd, reduce, include_self=include_self)
    yt = torch.scatter_reduce(xt, 0, it, st, reduce, include_self=include_self)
    go = np.random.default_rng(5).standard_normal(y.shape)
    g = df.autograd.grad(y, (xd, sd), df.tensor(go, device=device))
    gt = torch.autograd.grad(yt, (xt, st), torch.tensor(go))
    for a, b in zip(g, gt):
        np.testing.assert_allclose(_host(a), b.numpy(), rtol=1e-12, atol=1e-12)
    return xd, i, sd


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_ties_share_the_gradient_like_torch(reduce, device):
    x = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 1.0], [0.0, 0.0, 2.0], [1.0, 1.0, 1.0]])
    src = np.array([[1.0, 2.0, 0.0], [2.0, 2.0, 0.0], [1.0, 0.0, 2.0], [1.0, 1.0, 0.0],
                    [0.0, 1.0, 1.0]])
    _grads_vs_torch(x, IDX, src, reduce, True, device)
    # without self: ties among the scattered values only (PyTorch agrees there)
    _grads_vs_torch(x + 10.0 * (1 if reduce == "amin" else -1), IDX, src, reduce, False, device)


def test_tie_with_excluded_self(device):
    """With include_self=False, input's value takes no part in the reduction, so it does not
    share the gradient even when it equals the result (PyTorch loses half of it there)."""
    x = df.tensor([1.0, 5.0], dtype=df.float64, device=device, requires_grad=True)
    s = df.tensor([1.0, 0.5, 1.0], dtype=df.float64, device=device, requires_grad=True)
    i = df.tensor([0, 0, 1], device=device)
    y = x.scatter_reduce(0, i, s, "amax", include_self=False)
    gx, gs = df.autograd.grad(y.sum(), (x, s))
    assert _host(gx).tolist() == [0.0, 0.0] and _host(gs).tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize("include_self", [True, False])
def test_prod_with_zeros(include_self, device):
    rng = np.random.default_rng(6)
    x, src = _distinct(rng, (4, 3), (5, 3))
    x[0, 0] = x[1, 1] = 0.0  # zeros in input
    src[0, 0] = 0.0  # a lone zero (at x[0, 0], itself zero)
    src[1, 2] = 0.0  # a lone zero at x[0, 2]
    src[2, 1] = src[4, 1] = 0.0  # two zeros at x[1, 1]
    xd, i, sd = _grads_vs_torch(x, IDX, src, "prod", include_self, device)
    # a product is linear in each factor: finite differences are exact at zeros too
    assert gradcheck(lambda a, b: df.scatter_reduce(a, 0, i, b, "prod", include_self=include_self),
                     (xd, sd))


def test_prod_double_backward(device):
    rng = np.random.default_rng(7)
    x, src = _distinct(rng, (4, 3), (5, 3))
    src[1, 2] = 0.0  # one zero per position is still twice differentiable
    (xd, i, sd), _ = _both(x, IDX, src, device, grad=True)
    assert gradgradcheck(lambda a, b: df.scatter_reduce(a, 0, i, b, "prod"), (xd, sd))
    src[2, 1] = src[4, 1] = 0.0  # two zeros at one position: PyTorch's error
    (xd, i, sd), _ = _both(x, IDX, src, device, grad=True)
    _, gs = df.autograd.grad(df.scatter_reduce(xd, 0, i, sd, "prod").sum(), (xd, sd),
                             create_graph=True)
    with pytest.raises(RuntimeError, match="Double backward is unsupported for src when >1 zeros"):
        df.autograd.grad(gs.sum(), (xd, sd))


def test_errors():
    x, i = df.zeros(3), df.tensor([0, 1])
    with pytest.raises(RuntimeError, match="reduce argument must be either sum, prod, mean, amax "
                       "or amin, got add"):
        x.scatter_reduce(0, i, df.ones(2), "add")
    with pytest.raises(RuntimeError, match=r"scatter\(\): Expected self.dtype to be equal to "
                       "src.dtype"):
        x.scatter_reduce(0, i, df.ones(2, dtype=df.float64), "amax")
    with pytest.raises(TypeError, match="argument 'src' must be Tensor"):
        x.scatter_reduce(0, i, 1.0, "amax")
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x.scatter_reduce(0, df.tensor([3]), df.ones(1), "prod")


def test_inplace_variant(device):
    x = df.tensor([1.0, 2.0, 3.0], device=device)
    x.scatter_reduce_(0, df.tensor([0, 0, 2], device=device),
                      df.tensor([4.0, -1.0, 9.0], device=device), "amax")
    assert _host(x).tolist() == [4.0, 2.0, 9.0]
