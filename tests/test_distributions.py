"""deepforge.distributions against torch.distributions with the same parameters: densities,
entropies, moments, KL divergences, shapes, validation errors; sample moments checked
statistically; gradients through log_prob and rsample (gradcheck on every device)."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
from deepforge.autograd import gradcheck

torch = pytest.importorskip("torch")
D = df.distributions
TD = torch.distributions

RNG = np.random.default_rng(1234)
LOC = RNG.normal(size=(2, 3))
SCALE = RNG.uniform(0.5, 2.0, size=(2, 3))
VALUE = RNG.normal(size=(4, 2, 3))
PROBS = RNG.uniform(0.1, 0.9, size=(2, 3))
SIMPLEX = RNG.dirichlet([1.0] * 4, size=2)
A = RNG.normal(size=(3, 3))
COV = A @ A.T + np.eye(3)
B = RNG.normal(size=(3, 3))
COV2 = B @ B.T + 0.5 * np.eye(3)

# name: (parameter arrays, a value in the support, kwargs names or None for positional)
CASES = {
    "Normal": ((LOC, SCALE), VALUE),
    "Laplace": ((LOC, SCALE), VALUE),
    "Uniform": ((LOC, LOC + SCALE), LOC + 0.4 * SCALE),
    "Exponential": ((SCALE,), np.abs(VALUE)),
    "Gamma": ((SCALE, SCALE + 0.3), np.abs(VALUE) + 0.1),
    "Beta": ((SCALE, SCALE + 0.5), RNG.uniform(0.05, 0.95, size=(4, 2, 3))),
    "Bernoulli": ((PROBS,), (VALUE > 0).astype(np.float64)),
    "Dirichlet": ((SCALE,), RNG.dirichlet([1.0] * 3, size=(4, 2))),
}


def _t(a, device):
    return df.tensor(np.array(a, np.float64), device=device)


def _T(a):
    return torch.tensor(np.array(a, np.float64))


def _close(a, b, rtol=1e-10, atol=1e-12):
    got = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
    want = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


def _pair(name, params, device):
    return getattr(D, name)(*[_t(p, device) for p in params]), getattr(TD, name)(
        *[_T(p) for p in params]
    )


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(device, name):
    params, value = CASES[name]
    d, td = _pair(name, params, device)
    assert tuple(d.batch_shape) == tuple(td.batch_shape)
    assert tuple(d.event_shape) == tuple(td.event_shape)
    _close(d.log_prob(_t(value, device)), td.log_prob(_T(value)))
    _close(d.entropy(), td.entropy())
    for attr in ("mean", "variance", "stddev", "mode"):
        _close(getattr(d, attr), getattr(td, attr))
    assert d.has_enumerate_support == td.has_enumerate_support
    assert d.has_rsample == td.has_rsample
    assert type(d.support).__name__ == type(td.support).__name__


@pytest.mark.parametrize("name", ["Categorical", "OneHotCategorical"])
@pytest.mark.parametrize("param", ["probs", "logits"])
def test_categorical_matches_torch(device, name, param):
    arr = SIMPLEX if param == "probs" else np.log(SIMPLEX) + 0.7
    d = getattr(D, name)(**{param: _t(arr, device)})
    td = getattr(TD, name)(**{param: _T(arr)})
    idx = np.array([[1, 3], [0, 2], [3, 3]])
    value = idx if name == "Categorical" else np.eye(4)[idx]
    _close(d.log_prob(df.tensor(value, device=device)), td.log_prob(torch.tensor(value)))
    _close(d.entropy(), td.entropy())
    _close(d.probs, td.probs)
    _close(d.logits, td.logits)
    _close(d.mean, td.mean)
    _close(d.mode, td.mode)
    _close(d.enumerate_support(), td.enumerate_support())
    assert tuple(d.sample((5,)).shape) == tuple(td.sample((5,)).shape)


@pytest.mark.parametrize("param", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_multivariate_normal_matches_torch(device, param):
    mat = np.linalg.cholesky(COV) if param == "scale_tril" else COV
    d = D.MultivariateNormal(_t(LOC, device), **{param: _t(mat, device)})
    td = TD.MultivariateNormal(_T(LOC), **{param: _T(mat)})
    assert tuple(d.batch_shape) == (2,) and tuple(d.event_shape) == (3,)
    _close(d.log_prob(_t(VALUE, device)), td.log_prob(_T(VALUE)))
    _close(d.entropy(), td.entropy())
    _close(d.variance, td.variance)
    _close(d.covariance_matrix, td.covariance_matrix)
    _close(d.precision_matrix, td.precision_matrix, rtol=1e-9)
    _close(d.scale_tril, td.scale_tril)
    assert tuple(d.rsample((5,)).shape) == (5, 2, 3)


def test_independent_and_transformed(device):
    d = D.Independent(D.Normal(_t(LOC, device), _t(SCALE, device)), 1)
    td = TD.Independent(TD.Normal(_T(LOC), _T(SCALE)), 1)
    assert tuple(d.batch_shape) == (2,) and tuple(d.event_shape) == (3,)
    _close(d.log_prob(_t(VALUE, device)), td.log_prob(_T(VALUE)))
    _close(d.entropy(), td.entropy())
    assert repr(d.support) == repr(td.support)
    assert d.has_rsample
    base, tbase = D.Normal(_t(LOC, device), _t(SCALE, device)), TD.Normal(_T(LOC), _T(SCALE))
    for ts, tts in (
        (
            [D.ExpTransform(), D.AffineTransform(1.0, 2.0)],
            [TD.ExpTransform(), TD.AffineTransform(1.0, 2.0)],
        ),
        ([D.SigmoidTransform()], [TD.SigmoidTransform()]),
        ([D.TanhTransform()], [TD.TanhTransform()]),
    ):
        t_d, t_td = D.TransformedDistribution(base, ts), TD.TransformedDistribution(tbase, tts)
        with torch.no_grad():
            v = t_td.sample((3,))
        _close(t_d.log_prob(_t(v.numpy(), device)), t_td.log_prob(v), rtol=1e-9)
        assert tuple(t_d.rsample((3,)).shape) == (3, 2, 3)


KL_CASES = [
    ("Normal", (LOC, SCALE), (LOC[::-1], SCALE + 1.0)),
    ("Laplace", (LOC, SCALE), (LOC[::-1], SCALE + 1.0)),
    ("Uniform", (LOC, LOC + SCALE), (LOC - 1.0, LOC + SCALE + 1.0)),
    ("Uniform", (LOC - 1.0, LOC + SCALE), (LOC, LOC + SCALE)),
    ("Exponential", (SCALE,), (SCALE[::-1],)),
    ("Gamma", (SCALE, SCALE), (SCALE + 1.0, SCALE[::-1])),
    ("Beta", (SCALE, SCALE + 1.0), (SCALE[::-1], SCALE)),
    ("Bernoulli", (np.array([0.0, 0.3, 1.0, 0.5]),), (np.array([0.2, 0.0, 0.5, 1.0]),)),
    (
        "Categorical",
        (np.array([[0.5, 0.0, 0.5], [0.2, 0.3, 0.5]]),),
        (SIMPLEX[:, :3] / SIMPLEX[:, :3].sum(-1, keepdims=True),),
    ),
    ("Categorical", (SIMPLEX,), (np.array([[0.5, 0.0, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4]]),)),
    ("Dirichlet", (SCALE,), (SCALE[::-1] + 0.2,)),
]


@pytest.mark.parametrize("case", KL_CASES, ids=[f"{c[0]}{i}" for i, c in enumerate(KL_CASES)])
def test_kl_matches_torch(device, case):
    name, p_params, q_params = case
    p, tp = _pair(name, p_params, device)
    q, tq = _pair(name, q_params, device)
    _close(D.kl_divergence(p, q), TD.kl_divergence(tp, tq))


def test_kl_multivariate_normal_and_independent(device):
    p = D.MultivariateNormal(_t(LOC, device), _t(COV, device))
    q = D.MultivariateNormal(_t(LOC[::-1], device), _t(COV2, device))
    tp, tq = TD.MultivariateNormal(_T(LOC), _T(COV)), TD.MultivariateNormal(_T(LOC[::-1]), _T(COV2))
    _close(D.kl_divergence(p, q), TD.kl_divergence(tp, tq))
    ip = D.Independent(D.Normal(_t(LOC, device), _t(SCALE, device)), 1)
    iq = D.Independent(D.Normal(_t(LOC * 0, device), _t(SCALE + 1, device)), 1)
    tip = TD.Independent(TD.Normal(_T(LOC), _T(SCALE)), 1)
    tiq = TD.Independent(TD.Normal(_T(LOC * 0), _T(SCALE + 1)), 1)
    _close(D.kl_divergence(ip, iq), TD.kl_divergence(tip, tiq))
    with pytest.raises(ValueError, match="different event shapes"):
        D.kl_divergence(p, D.MultivariateNormal(_t(np.zeros(2), device), _t(np.eye(2), device)))


def test_register_kl_and_missing_pair():
    class MyNormal(D.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), D.Normal(1.0, 2.0)
    _close(D.kl_divergence(p, q), TD.kl_divergence(TD.Normal(0.0, 1.0), TD.Normal(1.0, 2.0)))

    @D.register_kl(MyNormal, D.Normal)
    def _kl_mine(p, q):
        return df.tensor(-1.0)

    assert D.kl_divergence(p, q).item() == -1.0
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Exponential(1.0))
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)


@pytest.mark.parametrize(
    "name, params, mean, var",
    [
        ("Normal", (1.5, 2.0), 1.5, 4.0),
        ("Laplace", (-1.0, 0.5), -1.0, 0.5),
        ("Uniform", (-1.0, 3.0), 1.0, 16.0 / 12.0),
        ("Exponential", (2.0,), 0.5, 0.25),
        ("Gamma", (0.5, 2.0), 0.25, 0.125),
        ("Gamma", (3.0, 1.5), 2.0, 3.0 / 2.25),
        ("Beta", (2.0, 5.0), 2.0 / 7.0, 10.0 / (49.0 * 8.0)),
        ("Bernoulli", (0.3,), 0.3, 0.21),
    ],
)
def test_sample_moments(device, name, params, mean, var):
    df.manual_seed(7)
    d = getattr(D, name)(*[_t(p, device) for p in params])
    s = d.sample((20000,))
    assert tuple(s.shape) == (20000,)
    assert not s.requires_grad
    s = s.cpu().numpy()
    assert abs(s.mean() - mean) < 5 * np.sqrt(var / 20000) + 1e-9
    assert abs(s.var() - var) < 0.06 * var
    assert bool(d.support.check(df.tensor(s, device=device)).all())


def test_sample_shapes_and_discrete_frequencies(device):
    df.manual_seed(3)
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    c = D.Categorical(_t(probs, device))
    s = c.sample((20000,))
    assert tuple(s.shape) == (20000, 2) and s.dtype == df.int64
    freq = np.stack([(s.cpu().numpy() == k).mean(0) for k in range(3)], -1)
    np.testing.assert_allclose(freq, probs, atol=0.02)
    oh = D.OneHotCategorical(_t(probs, device)).sample((4, 5))
    assert tuple(oh.shape) == (4, 5, 2, 3)
    assert bool((oh.sum(-1) == 1).all())
    dirich = D.Dirichlet(_t([[0.5, 1.0, 2.0]], device)).sample((20000,))
    assert tuple(dirich.shape) == (20000, 1, 3)
    np.testing.assert_allclose(
        dirich.cpu().numpy().mean(0)[0], [0.5 / 3.5, 1 / 3.5, 2 / 3.5], atol=0.01
    )
    mvn = D.MultivariateNormal(_t(LOC[0], device), _t(COV, device))
    z = mvn.sample((40000,)).cpu().numpy()
    np.testing.assert_allclose(np.cov(z.T), COV, atol=0.15 * np.abs(COV).max())
    np.testing.assert_allclose(z.mean(0), LOC[0], atol=0.05)
    assert tuple(D.Normal(_t(LOC, device), 1.0).sample().shape) == (2, 3)
    assert tuple(D.Normal(0.0, 1.0).sample((2, 2)).shape) == (2, 2)


def test_expand(device):
    d = D.Normal(_t([0.0, 1.0], device), _t([1.0, 2.0], device)).expand((3, 2))
    assert tuple(d.batch_shape) == (3, 2)
    assert tuple(d.sample().shape) == (3, 2)
    c = D.Categorical(_t(SIMPLEX[0], device)).expand((5,))
    assert tuple(c.batch_shape) == (5,) and tuple(c.sample().shape) == (5,)
    m = D.MultivariateNormal(_t(LOC[0], device), _t(COV, device)).expand((4,))
    assert tuple(m.batch_shape) == (4,) and tuple(m.log_prob(_t(VALUE[0, 0], device)).shape) == (4,)


def test_rsample_gradients_flow(device):
    loc = _t(LOC, device).requires_grad_()
    scale = _t(SCALE, device).requires_grad_()

    def normal_rsample(m, s):
        df.manual_seed(11)  # the same noise on every call: a deterministic function of m, s
        return D.Normal(m, s).rsample((2,))

    assert gradcheck(normal_rsample, (loc, scale))

    def mvn_rsample(m, raw):
        df.manual_seed(12)
        tril = raw.tril(-1) + df.diag_embed(raw.diagonal(dim1=-2, dim2=-1).exp())
        return D.MultivariateNormal(m, scale_tril=tril).rsample((2,))

    raw = _t(np.tril(A) * 0.3, device).requires_grad_()
    assert gradcheck(mvn_rsample, (loc, raw))
    for name in ("Uniform", "Exponential", "Laplace"):
        params = (
            [loc, loc + scale]
            if name == "Uniform"
            else [scale]
            if name == "Exponential"
            else [loc, scale]
        )
        x = getattr(D, name)(*params).rsample((3,))
        (g,) = df.autograd.grad(x.sum(), params[0])
        assert g.shape == params[0].shape and bool((g != 0).any())


def test_log_prob_gradcheck(device):
    loc = _t(LOC, device).requires_grad_()
    scale = _t(SCALE, device).requires_grad_()
    value = _t(VALUE[:2], device)
    assert gradcheck(lambda m, s: D.Normal(m, s).log_prob(value), (loc, scale))
    assert gradcheck(lambda m, s: D.Normal(m, s).entropy(), (loc, scale))
    logits = _t(np.log(SIMPLEX), device).requires_grad_()
    idx = df.tensor([[1, 3], [0, 2]], device=device)
    assert gradcheck(lambda lg: D.Categorical(logits=lg).log_prob(idx), (logits,))
    assert gradcheck(lambda lg: D.Categorical(logits=lg).entropy(), (logits,))
    blog = _t(LOC, device).requires_grad_()
    bval = _t(PROBS > 0.5, device)
    assert gradcheck(lambda lg: D.Bernoulli(logits=lg).log_prob(bval), (blog,))
    conc = _t(SCALE, device).requires_grad_()
    assert gradcheck(lambda c: D.Gamma(c, 2.0).log_prob(_t(SCALE, device)), (conc,))
    assert gradcheck(lambda c: D.Dirichlet(c).entropy(), (conc,))
    assert gradcheck(lambda c: D.Beta(c, c + 1.0).log_prob(_t(PROBS, device)), (conc,))
    raw = _t(np.tril(A) * 0.3 + np.eye(3) * 2.0, device).requires_grad_()
    assert gradcheck(
        lambda m, r: D.MultivariateNormal(m, scale_tril=r.tril()).log_prob(_t(VALUE[0], device)),
        (loc, raw),
    )
    cov_a = _t(A, device).requires_grad_()
    assert gradcheck(
        lambda a: D.kl_divergence(
            D.MultivariateNormal(
                _t(LOC, device), a @ a.mT + df.eye(3, dtype=df.float64, device=device)
            ),
            D.MultivariateNormal(_t(LOC * 0, device), _t(COV2, device)),
        ),
        (cov_a,),
    )


def test_validation_errors(device):
    with pytest.raises(
        ValueError,
        match=r"Expected parameter scale \(Tensor of shape \(2,\)\) of distribution Normal",
    ):
        D.Normal(_t([0.0, 0.0], device), _t([1.0, -1.0], device))
    D.Normal(_t([0.0], device), _t([-1.0], device), validate_args=False)
    with pytest.raises(
        ValueError, match="Either `probs` or `logits` must be specified, but not both"
    ):
        D.Bernoulli(probs=_t([0.5], device), logits=_t([0.0], device))
    with pytest.raises(ValueError, match="Expected parameter probs"):
        D.Bernoulli(probs=_t([1.5], device))
    with pytest.raises(ValueError, match="Uniform is not defined when low>= high"):
        D.Uniform(_t([1.0], device), _t([0.0], device))
    with pytest.raises(ValueError, match="Expected value argument .* to be within the support"):
        D.Exponential(_t([1.0], device)).log_prob(_t([-1.0], device))
    with pytest.raises(ValueError, match="The value argument to log_prob must be a Tensor"):
        D.Normal(0.0, 1.0).log_prob(0.5)
    with pytest.raises(ValueError, match="Value is not broadcastable with batch_shape"):
        D.Normal(_t([0.0, 1.0], device), 1.0).log_prob(_t([0.0, 1.0, 2.0], device))
    with pytest.raises(ValueError, match="The right-most size of value must match event_shape"):
        D.Dirichlet(_t([1.0, 1.0], device)).log_prob(_t([0.2, 0.3, 0.5], device))
    with pytest.raises(ValueError, match="loc must be at least one-dimensional"):
        D.MultivariateNormal(_t(0.0, device), _t(np.eye(1), device))
    with pytest.raises(ValueError, match="Exactly one of covariance_matrix or precision_matrix"):
        D.MultivariateNormal(_t([0.0], device))
    with pytest.raises(ValueError, match="Expected parameter covariance_matrix"):
        D.MultivariateNormal(_t([0.0, 0.0], device), _t([[1.0, 2.0], [2.0, 1.0]], device))
    with pytest.raises(ValueError, match="Expected reinterpreted_batch_ndims <= len"):
        D.Independent(D.Normal(_t([0.0], device), 1.0), 2)
    with pytest.raises(NotImplementedError):
        D.Bernoulli(_t([0.5], device)).rsample()


def test_constraints():
    C = D.constraints
    x = df.tensor([-1.0, 0.0, 0.5, 1.0, float("nan")])
    assert C.real.check(x).tolist() == [True, True, True, True, False]
    assert C.positive.check(x).tolist() == [False, False, True, True, False]
    assert C.unit_interval.check(x).tolist() == [False, True, True, True, False]
    assert C.boolean.check(x).tolist() == [False, True, False, True, False]
    assert C.simplex.check(df.tensor([[0.2, 0.8], [0.5, 0.6]])).tolist() == [True, False]
    assert C.integer_interval(0, 2).check(df.tensor([0.0, 2.0, 3.0, 1.5])).tolist() == [
        True,
        True,
        False,
        False,
    ]
    assert repr(C.positive) == repr(torch.distributions.constraints.positive)
    assert repr(C.interval(0.0, 1.0)) == repr(torch.distributions.constraints.interval(0.0, 1.0))
    assert C.is_dependent(C.dependent) and not C.is_dependent(C.real)
    assert C.real_vector.event_dim == 1


def test_gamma_family_rsample_gradients(device):
    from deepforge.distributions.gamma import _standard_gamma_grad

    alpha = [0.05, 0.3, 1.0, 2.5, 10.0, 50.0]
    x = [1e-5, 0.01, 0.7, 3.0, 8.0, 55.0]
    got = _standard_gamma_grad(_t(alpha, device), _t(x, device))
    _close(got, torch._standard_gamma_grad(_T(alpha), _T(x)), rtol=1e-3)
    # d/dalpha E[x] for Gamma(alpha, rate) is 1 / rate
    df.manual_seed(21)
    c = _t([0.4, 2.0, 7.0], device).requires_grad_()
    (g,) = df.autograd.grad(D.Gamma(c, 2.0).rsample((20000,)).mean(0).sum(), c)
    np.testing.assert_allclose(g.cpu().numpy(), 0.5, rtol=0.03)
    # Dirichlet: d E[x_0] / d alpha_j = (delta_0j alpha0 - alpha_0) / alpha0^2
    conc = np.array([0.7, 1.5, 3.0])
    a = _t(conc, device).requires_grad_()
    (g,) = df.autograd.grad(D.Dirichlet(a).rsample((20000,))[:, 0].mean(), a)
    a0 = conc.sum()
    np.testing.assert_allclose(g.cpu().numpy(), (np.eye(3)[0] * a0 - conc[0]) / a0**2, atol=0.01)
    b1, b0 = _t(2.0, device).requires_grad_(), _t(3.0, device).requires_grad_()
    g1, g0 = df.autograd.grad(D.Beta(b1, b0).rsample((20000,)).mean(), (b1, b0))
    np.testing.assert_allclose([g1.item(), g0.item()], [3.0 / 25.0, -2.0 / 25.0], atol=0.01)
