"""``deepforge.geqrf`` / ``Tensor.geqrf`` (LAPACK's compact QR) against ``torch.geqrf``: values
of ``a`` and ``tau``, batches, wide / tall / empty input, ``out=``, the refused gradient and the
errors."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df

torch = pytest.importorskip("torch")


def _host(t):
    return t.detach().cpu().numpy()


_TOL = {"float32": dict(rtol=1e-4, atol=1e-5), "float64": dict(rtol=1e-10, atol=1e-12)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 5), (4, 4), (2, 3, 5, 3), (1, 1)])
def test_geqrf_matches_torch(shape, dtype, device):
    a = np.random.default_rng(sum(shape)).standard_normal(shape).astype(dtype)
    d = df.geqrf(df.tensor(a, device=device))
    t = torch.geqrf(torch.from_numpy(a))
    assert d.a.device == df.device(device) and d.tau.device == df.device(device)
    assert d.a.dtype == getattr(df, dtype) and d.tau.dtype == getattr(df, dtype)
    assert tuple(d.a.shape) == tuple(t.a.shape) and tuple(d.tau.shape) == tuple(t.tau.shape)
    np.testing.assert_allclose(_host(d.a), t.a.numpy(), **_TOL[dtype])
    np.testing.assert_allclose(_host(d.tau), t.tau.numpy(), **_TOL[dtype])


def test_geqrf_rebuilds_input_and_method(device):
    a = np.random.default_rng(0).standard_normal((3, 5, 3))
    x = df.tensor(a, device=device)
    h, tau = x.geqrf()
    Q = df.linalg.householder_product(h, tau)
    R = h[..., :3, :].triu()
    np.testing.assert_allclose(_host(Q @ R), a, rtol=1e-10, atol=1e-12)


def test_geqrf_non_contiguous_and_special_values(device):
    a = np.random.default_rng(1).standard_normal((5, 4))
    x = df.tensor(a, device=device).t()  # a transposed view
    assert not x.is_contiguous()
    d, t = df.geqrf(x), torch.geqrf(torch.from_numpy(a).t())
    np.testing.assert_allclose(_host(d.a), t.a.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_host(d.tau), t.tau.numpy(), rtol=1e-10, atol=1e-12)
    # a zero column needs no reflection: tau is 0 there, as LAPACK reports it
    for special in (np.zeros((3, 3)), np.eye(3), np.diag([2.0, -1.0, 3.0])):
        d, t = df.geqrf(df.tensor(special, device=device)), torch.geqrf(torch.from_numpy(special))
        np.testing.assert_array_equal(_host(d.a), t.a.numpy())
        np.testing.assert_array_equal(_host(d.tau), t.tau.numpy())


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (2, 0, 3), (0, 2, 2)])
def test_geqrf_empty(shape, device):
    d = df.geqrf(df.zeros(*shape, dtype=df.float64, device=device))
    t = torch.geqrf(torch.zeros(*shape, dtype=torch.float64))
    assert tuple(d.a.shape) == tuple(t.a.shape) and tuple(d.tau.shape) == tuple(t.tau.shape)


def test_geqrf_out(device):
    a = np.random.default_rng(2).standard_normal((4, 3))
    out = (
        df.empty(0, dtype=df.float64, device=device),
        df.empty(0, dtype=df.float64, device=device),
    )
    r = df.geqrf(df.tensor(a, device=device), out=out)
    assert r.a is out[0] and r.tau is out[1]
    t = torch.geqrf(torch.from_numpy(a))
    np.testing.assert_allclose(_host(out[0]), t.a.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(_host(out[1]), t.tau.numpy(), rtol=1e-10, atol=1e-12)


def test_geqrf_gradient_is_refused_like_torch(device):
    a = np.random.default_rng(3).standard_normal((3, 3))
    d = df.geqrf(df.tensor(a, device=device, requires_grad=True))
    t = torch.geqrf(torch.from_numpy(a).requires_grad_())
    assert d.a.requires_grad == t.a.requires_grad and d.tau.requires_grad == t.tau.requires_grad
    with pytest.raises(NotImplementedError) as te:
        t.tau.sum().backward()
    with pytest.raises(NotImplementedError) as de:
        d.tau.sum().backward()
    assert str(de.value) == str(te.value)
    with df.no_grad():
        assert not df.geqrf(df.tensor(a, device=device, requires_grad=True)).a.requires_grad


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.geqrf([[1.0, 2.0], [3.0, 4.0]]),
        lambda m: m.geqrf(m.ones(3)),
        lambda m: m.geqrf(m.ones(2, 2, dtype=m.int64)),
        lambda m: m.geqrf(m.ones(2, 2, dtype=m.bool)),
        lambda m: m.geqrf(m.ones(2, 2, dtype=m.float16)),
        lambda m: m.geqrf(m.ones(2, 2, requires_grad=True), out=(m.empty(0), m.empty(0))),
    ],
)
def test_geqrf_errors_match_torch(make):
    with pytest.raises(Exception) as te:
        make(torch)
    with pytest.raises(Exception) as de:
        make(df)
    assert type(de.value).__name__ == type(te.value).__name__
    assert str(de.value) == str(te.value)
