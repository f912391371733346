"""linalg.svd, linalg.svdvals, legacy svd and the singular-value matrix norms: values against
numpy and torch, gradients (gradcheck / gradgradcheck, torch's), errors, empty inputs."""

from __future__ import annotations

import re

import numpy as np
import pytest

import deepforge as df
from deepforge.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

SHAPES = [(4, 3), (3, 5), (3, 3), (2, 4, 3), (2, 1, 3, 5), (1, 1)]


def _mat(shape, seed=0, dtype="float64"):
    """Random orthogonal factors around singular values k+1, k, ..., 2: well separated and
    away from 0, so the SVD's gradient is well conditioned."""
    rng = np.random.default_rng(seed)
    *batch, m, n = shape
    k = min(m, n)
    q1 = np.linalg.qr(rng.standard_normal((*batch, m, m)))[0]
    q2 = np.linalg.qr(rng.standard_normal((*batch, n, n)))[0]
    d = np.zeros(shape)
    d[..., np.arange(k), np.arange(k)] = np.arange(k + 1, 1, -1, dtype=float)
    return (q1 @ d @ q2).astype(dtype)


def _host(t):
    return t.detach().cpu().numpy()


def _tol(dtype):
    return {"rtol": 1e-4, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}


def _outer(U, Vh):
    """u_j v_j^T per singular triple: independent of each vector's sign."""
    k = min(U.shape[-1], Vh.shape[-2])
    return U[..., :, :k, None] * Vh[..., None, :k, :]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("full_matrices", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_svd_forward(shape, full_matrices, dtype, device):
    a = _mat(shape, dtype=dtype)
    U, S, Vh = df.linalg.svd(df.tensor(a, device=device), full_matrices=full_matrices)
    Ut, St, Vht = torch.linalg.svd(torch.tensor(a), full_matrices=full_matrices)
    assert U.shape == Ut.shape and S.shape == St.shape and Vh.shape == Vht.shape
    assert U.dtype == S.dtype == Vh.dtype == getattr(df, dtype)
    assert U.device == df.device(device)
    u, s, vh = _host(U), _host(S), _host(Vh)
    tol = _tol(dtype)
    np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), **tol)
    np.testing.assert_allclose(s, St.numpy(), **tol)
    k = s.shape[-1]
    np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vh[..., :k, :], a, **tol)
    eye = np.broadcast_to(np.eye(u.shape[-1]), u.shape[:-2] + (u.shape[-1],) * 2)
    np.testing.assert_allclose(np.swapaxes(u, -1, -2) @ u, eye, **tol)
    np.testing.assert_allclose(_host(_outer(U, Vh)), _outer(Ut, Vht).numpy(), **tol)


def test_svd_result_type_and_noncontiguous(device):
    a = _mat((2, 5, 4))
    r = df.linalg.svd(df.tensor(a, device=device).mT, full_matrices=False)
    assert type(r).__name__ == "linalg_svd" and r._fields == ("U", "S", "Vh")
    U, S, Vh = r
    assert U is r.U and S is r.S and Vh is r.Vh
    at = np.swapaxes(a, -1, -2)
    np.testing.assert_allclose(_host(S), np.linalg.svd(at, compute_uv=False), rtol=1e-12)
    step = df.tensor(_mat((6, 4)), device=device)[::2]
    assert not step.is_contiguous()
    np.testing.assert_allclose(_host(df.linalg.svdvals(step)),
                               np.linalg.svd(_mat((6, 4))[::2], compute_uv=False), rtol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_svdvals(shape, device):
    a = _mat(shape, seed=1)
    x = df.tensor(a, device=device)
    s = df.linalg.svdvals(x)
    np.testing.assert_allclose(_host(s), torch.linalg.svdvals(torch.tensor(a)).numpy(),
                               rtol=1e-12)
    # the path that keeps U and Vh for the gradient gives the same values
    np.testing.assert_allclose(_host(df.linalg.svdvals(x.requires_grad_())), _host(s), rtol=1e-12)


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (3, 3), (2, 3, 2)])
def test_svd_gradcheck(shape, device):
    A = df.tensor(_mat(shape, seed=2), device=device, requires_grad=True)

    def f(A):
        U, S, Vh = df.linalg.svd(A, full_matrices=False)
        return _outer(U, Vh), S

    assert gradcheck(f, (A,))
    assert gradgradcheck(f, (A,))
    # U alone / Vh alone take their own branches of the formula
    assert gradcheck(lambda A: _outer(df.linalg.svd(A, False).U, df.linalg.svd(A, False).Vh), (A,))
    w = df.arange(1.0, min(shape[-2:]) + 1, dtype=df.float64, device=device)
    assert gradcheck(lambda A: (df.linalg.svd(A, False).U * w) @ df.linalg.svd(A, False).U.mT, (A,))
    assert gradcheck(lambda A: (df.linalg.svd(A, False).Vh.mT * w) @ df.linalg.svd(A, False).Vh,
                     (A,))
    assert gradcheck(df.linalg.svdvals, (A,))
    assert gradgradcheck(df.linalg.svdvals, (A,))


@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (2, 5, 3)])
def test_full_matrices_gradient_matches_torch(shape, device):
    """As PyTorch: the columns of U / rows of Vh past min(m, n) are not functions of A, so
    their gradients are dropped; the rest is the reduced SVD's gradient."""
    a = _mat(shape, seed=3)
    A = df.tensor(a, device=device, requires_grad=True)
    At = torch.tensor(a, requires_grad=True)
    rng = np.random.default_rng(0)
    outs, touts = df.linalg.svd(A), torch.linalg.svd(At)
    ws = [rng.standard_normal(tuple(t.shape)) for t in touts]
    # abs(): gauge-invariant when the extra columns are only determined up to sign
    loss = sum((o.abs() * df.tensor(w, device=device)).sum() for o, w in zip(outs, ws))
    tloss = sum((o.abs() * torch.tensor(w)).sum() for o, w in zip(touts, ws))
    (g,) = df.autograd.grad(loss, A)
    (gt,) = torch.autograd.grad(tloss, At)
    np.testing.assert_allclose(_host(g), gt.numpy(), rtol=1e-9, atol=1e-10)
    k = min(shape[-2:])
    assert gradcheck(lambda A: df.linalg.svd(A).U[..., :k].abs(), (A,))


@pytest.mark.parametrize("ord", [2, -2, "nuc"])
@pytest.mark.parametrize("shape,dim", [((3, 4), (-2, -1)), ((2, 3, 4), (-2, -1)),
                                       ((3, 2, 4), (0, 2)), ((4, 2, 3), (2, 0))])
def test_matrix_norm(ord, shape, dim, device):
    a = _mat(shape, seed=4) if dim == (-2, -1) else np.random.default_rng(4).uniform(-2, 2, shape)
    x = df.tensor(a, device=device, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    for keepdim in (False, True):
        got = df.linalg.matrix_norm(x, ord, dim, keepdim)
        want = torch.linalg.matrix_norm(xt, ord, dim, keepdim)
        np.testing.assert_allclose(_host(got), want.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(_host(got), np.linalg.norm(a, ord, dim, keepdim), rtol=1e-10)
        go = np.random.default_rng(1).standard_normal(tuple(want.shape))
        (g,) = df.autograd.grad(got, x, df.tensor(go, device=device))
        (gt,) = torch.autograd.grad(want, xt, torch.tensor(go))
        np.testing.assert_allclose(_host(g), gt.numpy(), rtol=1e-8, atol=1e-10)
    assert gradcheck(lambda x: df.linalg.matrix_norm(x, ord, dim), (x,))
    assert gradgradcheck(lambda x: df.linalg.matrix_norm(x, ord, dim), (x,))


def test_norm_routes_to_singular_values(device):
    a = _mat((3, 5), seed=5)
    x = df.tensor(a, device=device)
    for ord in (2, -2, "nuc"):
        np.testing.assert_allclose(_host(df.linalg.norm(x, ord)), np.linalg.norm(a, ord),
                                   rtol=1e-12)
        b = np.stack([a, 2 * a])
        np.testing.assert_allclose(
            _host(df.linalg.norm(df.tensor(b, device=device), ord, dim=(1, 2))),
            np.linalg.norm(b, ord, (1, 2)), rtol=1e-12,
        )
    f32 = df.linalg.matrix_norm(df.tensor(a.astype(np.float32), device=device), "nuc")
    assert f32.dtype == df.float32


def test_legacy_svd(device):
    a = _mat((2, 5, 3), seed=6)
    x = df.tensor(a, device=device, requires_grad=True)
    r = df.svd(x)
    assert type(r).__name__ == "svd" and r._fields == ("U", "S", "V")
    rt = torch.svd(torch.tensor(a))
    assert [tuple(t.shape) for t in r] == [tuple(t.shape) for t in rt]
    np.testing.assert_allclose(_host(r.U @ df.diag_embed(r.S) @ r.V.mT), a, rtol=1e-12)
    np.testing.assert_allclose(_host(_outer(r.U, r.V.mT)), _outer(rt.U, rt.V.mH).numpy(),
                               rtol=1e-10, atol=1e-12)
    full = x.svd(some=False)
    assert full.U.shape == (2, 5, 5) and full.V.shape == (2, 3, 3)
    no_uv = df.svd(x, compute_uv=False)
    assert no_uv.U.shape == (2, 5, 5) and no_uv.V.shape == (2, 3, 3)
    assert not _host(no_uv.U).any() and not _host(no_uv.V).any()
    (g,) = df.autograd.grad(no_uv.S.sum(), x)  # differentiable, as in PyTorch
    At = torch.tensor(a, requires_grad=True)
    torch.svd(At, compute_uv=False).S.sum().backward()
    np.testing.assert_allclose(_host(g), At.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(0, 3), (2, 3, 0), (0, 2, 2), (2, 0, 0)])
@pytest.mark.parametrize("full_matrices", [True, False])
def test_empty(shape, full_matrices, device):
    r = df.linalg.svd(df.zeros(shape, device=device), full_matrices=full_matrices)
    rt = torch.linalg.svd(torch.zeros(shape), full_matrices=full_matrices)
    for a, b in zip(r, rt):
        assert a.shape == b.shape
        np.testing.assert_array_equal(_host(a), b.numpy())


@pytest.mark.parametrize("shape", [(2, 0, 3), (2, 3, 0), (0, 3, 3), (0, 0, 3)])
@pytest.mark.parametrize("ord", [2, -2, "nuc"])
def test_matrix_norm_empty(shape, ord):
    try:
        want = torch.linalg.matrix_norm(torch.zeros(shape), ord)
    except IndexError as e:
        with pytest.raises(IndexError, match=re.escape(str(e))):
            df.linalg.matrix_norm(df.zeros(shape), ord)
        return
    got = df.linalg.matrix_norm(df.zeros(shape), ord)
    assert got.shape == want.shape and not _host(got).any()


def test_errors(device):
    with pytest.raises(RuntimeError, match="^linalg.svd: The input tensor A must have at least 2 "
                       "dimensions.$"):
        df.linalg.svd(df.ones(3, device=device))
    with pytest.raises(RuntimeError, match="linalg.svd: The input tensor A must have at least 2"):
        df.linalg.svdvals(df.tensor(1.0, device=device))
    with pytest.raises(RuntimeError, match="^linalg.svd: input should have at least 2 dimensions, "
                       "but has 1 dimensions instead$"):
        df.svd(df.ones(3, device=device))
    for f in (df.linalg.svd, df.linalg.svdvals, df.svd):
        with pytest.raises(RuntimeError, match="linalg.svd: Expected a floating point or complex "
                           "tensor as input. Got Long"):
            f(df.ones(3, 3, dtype=df.int64, device=device))
    with pytest.raises(NotImplementedError, match="not implemented for 'Half'"):
        df.linalg.svd(df.ones(3, 3, dtype=df.float16))
    bad = df.tensor([[1.0, float("nan")], [0.0, 1.0]], device=device)
    with pytest.raises(df.linalg.LinAlgError, match="failed to converge because the input matrix "
                       "contained non-finite values"):
        df.linalg.svdvals(bad)
    assert issubclass(df.linalg.LinAlgError, RuntimeError)
    with pytest.raises(TypeError, match="must be Tensor"):
        df.linalg.svd([[1.0]])
