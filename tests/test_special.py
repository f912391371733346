"""deepforge.special and the special elementwise functions (lgamma, digamma, polygamma,
mvlgamma, i0, sinc, logit, erfc, xlogy_): values against torch (edge cases and tails
included), in-place variants, gradients of the compositions, and PyTorch's errors. The op-spec
table (tests/op_specs_special.py) covers the forward/gradcheck/non-contiguous grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepforge as df
import deepforge.special as S
from deepforge.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

EDGE = [0.0, -0.0, 1.0, 2.0, 0.5, 1e-8, -2.5, -3.75, 9.99, 10.0, 35.0, 1e5, math.inf, -math.inf]
EDGE += [math.nan, -1.0, -2.0]


def _both(values, device, dtype="float64"):
    a = np.asarray(values, dtype=dtype)
    return df.tensor(a, device=device), torch.tensor(a)


def _close(a, b, rtol=1e-12, atol=1e-13):
    got = a.detach().cpu().numpy()
    want = b.detach().numpy()
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def test_special_names_are_torch_names():
    import torch.special

    assert set(S.__all__) <= set(torch.special.__all__)
    for name in S.__all__:
        assert callable(getattr(S, name))


@pytest.mark.parametrize("name", ["lgamma", "digamma", "erfc", "i0"])
def test_edge_values_match_torch(device, name):
    x, tx = _both(EDGE, device)
    _close(getattr(df, name)(x), getattr(torch, name)(tx))
    _close(getattr(x, name)(), getattr(tx, name)())


@pytest.mark.parametrize("name", ["i0e", "i1", "i1e", "expit", "gammaln", "psi", "ndtr"])
def test_special_unary_match_torch(device, name):
    x, tx = _both(np.linspace(-12, 12, 97), device)
    _close(getattr(S, name)(x), getattr(torch.special, name)(tx), rtol=1e-11)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_low_precision_dtypes(device, dtype):
    x, tx = _both(np.linspace(0.3, 6, 23), device, dtype)
    for name in ("lgamma", "digamma", "erfc", "i0"):
        r = getattr(df, name)(x)
        assert r.dtype == x.dtype
        _close(
            r.float(), getattr(torch, name)(tx).float(), rtol=2e-3 if dtype == "float16" else 2e-6
        )


def test_integer_input_gives_default_float(device):
    x = df.tensor([1, 2, 5], device=device)
    for name in ("lgamma", "digamma", "erfc", "i0", "sinc"):
        r = getattr(df, name)(x)
        assert r.dtype == df.float32
        _close(r, getattr(torch, name)(torch.tensor([1, 2, 5])), rtol=1e-6)


def test_polygamma_orders_and_negative_x(device):
    x, tx = _both([-2.5, -0.3, 0.2, 1.0, 3.7, 25.0], device)
    for n in range(5):
        _close(df.polygamma(n, x), torch.polygamma(n, tx), rtol=1e-9)
        _close(x.polygamma(n), tx.polygamma(n), rtol=1e-9)


def test_zeta_matches_torch(device):
    s, ts = _both([1.5, 2.0, 3.0, 10.0, 30.0, 1.0, 0.5, 2.0], device)
    q, tq = _both([0.3, 1.0, 2.0, 5.0, 1.0, 1.0, 1.0, -1.5], device)
    _close(S.zeta(s, q), torch.special.zeta(ts, tq), rtol=1e-12)
    _close(S.zeta(2.0, q), torch.special.zeta(2.0, tq), rtol=1e-12)
    _close(S.zeta(s, 3.0), torch.special.zeta(ts, 3.0), rtol=1e-12)


def test_mvlgamma_sinc_logit(device):
    x, tx = _both([1.6, 2.0, 7.5], device)
    for p in (1, 2, 3):
        _close(df.mvlgamma(x, p), torch.mvlgamma(tx, p))
        _close(S.multigammaln(x, p), torch.special.multigammaln(tx, p))
    y, ty = _both([-2.5, -1.0, 0.0, 1e-9, 0.5, 3.0], device)
    _close(df.sinc(y), torch.sinc(ty), atol=1e-15)
    p, tp = _both([0.0, 0.1, 0.5, 0.9, 1.0, 1.5], device)
    _close(df.logit(p), torch.logit(tp))
    _close(p.logit(0.2), tp.logit(0.2))
    _close(S.logit(p, eps=1e-3), torch.special.logit(tp, eps=1e-3))


def test_tails_are_accurate(device):
    x, tx = _both([-40.0, -20.0, -5.0, 0.0, 5.0, 8.0], device)
    _close(S.log_ndtr(x), torch.special.log_ndtr(tx), rtol=1e-12)
    y, ty = _both([-3.0, 0.0, 5.0, 25.0, 30.0, 1e3, 1e10], device)
    _close(S.erfcx(y), torch.special.erfcx(ty), rtol=1e-12)
    p, tp = _both([0.0, 1e-300, 1e-30, 1e-5, 0.2, 0.5, 0.97, 1 - 1e-12, 1.0, -0.5, 2.0], device)
    _close(S.ndtri(p), torch.special.ndtri(tp), rtol=1e-12)


def test_entr_xlog1py_xlogy(device):
    x, tx = _both([-1.0, 0.0, 0.5, 2.0, math.nan], device)
    _close(S.entr(x), torch.special.entr(tx))
    y, ty = _both([0.5, -0.5, math.nan, 2.0, 1.0], device)
    _close(S.xlog1py(x, y), torch.special.xlog1py(tx, ty))
    _close(S.xlog1py(2.0, y), torch.special.xlog1py(2.0, ty))
    _close(S.xlogy(x, y.abs()), torch.special.xlogy(tx, ty.abs()))


def test_softmax_family_and_round(device):
    x, tx = _both(np.linspace(-3, 3, 12).reshape(3, 4), device)
    _close(S.softmax(x, 1), torch.special.softmax(tx, 1))
    _close(S.log_softmax(x, 0), torch.special.log_softmax(tx, 0))
    _close(S.logsumexp(x, 1), torch.special.logsumexp(tx, 1))
    _close(S.round(x * 3.3, decimals=1), torch.special.round(tx * 3.3, decimals=1))
    _close(S.exp2(x), torch.special.exp2(tx))


@pytest.mark.parametrize(
    "name, values, args",
    [
        ("lgamma_", [0.5, 3.0], ()),
        ("digamma_", [0.5, 3.0], ()),
        ("erfc_", [0.5, -3.0], ()),
        ("i0_", [0.5, -3.0], ()),
        ("sinc_", [0.0, 0.7], ()),
        ("logit_", [0.1, 0.7], (0.2,)),
        ("polygamma_", [0.5, 3.0], (2,)),
        ("mvlgamma_", [1.5, 3.0], (2,)),
    ],
)
def test_inplace_variants(device, name, values, args):
    x, tx = _both(values, device)
    r = getattr(x, name)(*args)
    assert r is x
    _close(x, getattr(tx, name)(*args))


def test_inplace_keeps_graph(device):
    base = df.tensor([0.7, 2.5], dtype=df.float64, device=device, requires_grad=True)
    tb = torch.tensor([0.7, 2.5], dtype=torch.float64, requires_grad=True)
    y = base * 1.0
    y.lgamma_()
    y.sum().backward()
    ty = tb * 1.0
    ty.lgamma_()
    ty.sum().backward()
    _close(base.grad, tb.grad)


def test_xlogy_inplace(device):
    x, tx = _both([0.0, 1.5, 2.0], device)
    y, ty = _both([0.0, 3.0, 0.5], device)
    x.xlogy_(y)
    tx.xlogy_(ty)
    _close(x, tx)
    z, tz = _both([1.0, 2.0, 3.0], device)
    df.xlogy_(z, 2.0)
    torch.xlogy_(tz, 2.0)
    _close(z, tz)


def test_gradients_match_torch(device):
    vals = [0.4, 1.3, 4.2]
    for f in (
        lambda m, t: m.lgamma(t) * m.digamma(t),
        lambda m, t: m.polygamma(2, t),
        lambda m, t: m.special.i1e(t) + m.special.i0e(t) + m.i0(t),
        lambda m, t: m.special.ndtri(t / 5.0) + m.special.log_ndtr(-4 * t),
    ):
        x = df.tensor(vals, dtype=df.float64, device=device, requires_grad=True)
        tx = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
        (g,) = df.autograd.grad(f(df, x).sum(), x, create_graph=True)
        (tg,) = torch.autograd.grad(f(torch, tx).sum(), tx, create_graph=True)
        _close(g, tg, rtol=1e-9)
        (gg,) = df.autograd.grad(g.sum(), x)
        (tgg,) = torch.autograd.grad(tg.sum(), tx)
        _close(gg, tgg, rtol=1e-8)


def test_gradcheck_compositions(device):
    x = df.tensor([0.3, 1.7, 3.1], dtype=df.float64, device=device, requires_grad=True)
    p = df.tensor([0.01, 0.4, 0.93], dtype=df.float64, device=device, requires_grad=True)
    for f, inp in (
        (lambda t: S.erfcx(t * 10.0), x),
        (lambda t: S.log_ndtr(-t * 12.0), x),
        (S.ndtri, p),
        (S.entr, x),
        (lambda t: df.mvlgamma(t + 2.0, 3), x),
        (lambda t: df.sinc(t - 1.6), x),
        (lambda t: df.logit(t, eps=0.05), p),
    ):
        assert gradcheck(f, (inp,))
        assert gradgradcheck(f, (inp,))


def test_errors(device):
    x = df.tensor([0.5, 2.0], dtype=df.float64, device=device)
    with pytest.raises(RuntimeError, match="does not support negative n"):
        df.polygamma(-1, x)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        df.mvlgamma(x, 0)
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        df.tensor([1, 2], device=device).lgamma_()
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        df.tensor([1, 2], device=device).sinc_()
    with pytest.raises(TypeError, match="expected at least one Tensor"):
        S.zeta(2.0, 3.0)
    s = df.tensor([2.0, 3.0], dtype=df.float64, device=device, requires_grad=True)
    with pytest.raises(NotImplementedError, match="derivative of zeta for 'self'"):
        S.zeta(s, x).sum().backward()


def test_zeta_gradient_in_q(device):
    q = df.tensor([0.7, 2.2], dtype=df.float64, device=device, requires_grad=True)
    assert gradcheck(lambda t: S.zeta(3.0, t), (q,))
    assert gradgradcheck(lambda t: S.zeta(2.5, t), (q,))


def test_incomplete_gamma_matches_torch(device):
    rng = np.random.default_rng(5)
    a = np.concatenate([rng.uniform(0.05, 15.0, 12), [1.0, 0.0, -1.0, 3.0, math.inf, 2.0, 0.0]])
    x = np.concatenate([rng.uniform(0.0, 25.0, 12), [0.0, 1.0, 1.0, -1.0, 2.0, math.inf, 0.0]])
    ta, tx = _both(a, device), _both(x, device)
    _close(S.gammainc(ta[0], tx[0]), torch.special.gammainc(ta[1], tx[1]), rtol=1e-10)
    _close(S.gammaincc(ta[0], tx[0]), torch.special.gammaincc(ta[1], tx[1]), rtol=1e-10)
    with pytest.raises(
        TypeError, match=r"argument 'other' \(position 2\) must be Tensor, not float"
    ):
        S.gammainc(ta[0], 2.5)


def test_incomplete_gamma_large_a_against_mpmath(device):
    mpmath = pytest.importorskip("mpmath")
    a, x = [25.0, 400.0, 400.0], [27.0, 380.0, 430.0]
    got = S.gammainc(*_both(a, device)[:1], _both(x, device)[0]).cpu().numpy()
    want = [float(mpmath.gammainc(ai, 0, xi, regularized=True)) for ai, xi in zip(a, x)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_incomplete_gamma_gradients(device):
    a = df.tensor([0.7, 2.0, 9.0], dtype=df.float64, device=device)
    x = df.tensor([0.4, 3.0, 11.0], dtype=df.float64, device=device, requires_grad=True)
    assert gradcheck(lambda t: S.gammainc(a, t), (x,))
    assert gradcheck(lambda t: S.gammaincc(a, t), (x,))
    a.requires_grad_()
    with pytest.raises(NotImplementedError, match="derivative of gammainc/gammaincc"):
        S.gammainc(a, x.detach()).sum().backward()


def test_igamma_top_level_and_methods(device):
    a, ta = _both([0.5, 2.0, 7.0], device)
    x, tx = _both([0.3, 2.5, 4.0], device)
    _close(df.igamma(a, x), torch.igamma(ta, tx), rtol=1e-12)
    _close(a.igammac(x), ta.igammac(tx), rtol=1e-12)
    b, tb = a.clone(), ta.clone()
    b.igamma_(x)
    tb.igamma_(tx)
    _close(b, tb, rtol=1e-12)
    b, tb = a.clone(), ta.clone()
    b.igammac_(x)
    tb.igammac_(tx)
    _close(b, tb, rtol=1e-12)


def test_mvlgamma_outside_the_domain_as_torch(device):
    """No domain check, as PyTorch 2.x: x <= (p - 1) / 2 gives inf or the finite lgamma sum,
    NaN stays NaN (and the op never asks the device)."""
    torch = pytest.importorskip("torch")
    vals = [0.5, -3.0, 0.9, 1.0, float("nan"), 4.0]
    got = df.mvlgamma(df.tensor(vals, device=device), 3).cpu().numpy()
    np.testing.assert_allclose(got, torch.mvlgamma(torch.tensor(vals), 3).numpy(), rtol=1e-6,
                               equal_nan=True)  # fmt: skip
