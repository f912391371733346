"""nn.init distributions and helpers, nn.utils (gradient clipping, parameter vectors), and the
norm-based functionals (normalize, cosine_similarity, pairwise_distance, pdist)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, to_np

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.autograd import gradcheck, gradgradcheck
from deepforge.nn import init


def _np(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


# -- init -------------------------------------------------------------------------------------
def test_calculate_gain_and_fans_match_torch():
    torch = pytest.importorskip("torch")
    tinit = torch.nn.init
    for nl, p in [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ]:
        assert init.calculate_gain(nl, p) == tinit.calculate_gain(nl, p)
    for shape in [(3, 4), (8, 4, 3, 3), (5, 2, 7)]:
        assert init._calculate_fan_in_and_fan_out(
            df.empty(shape)
        ) == tinit._calculate_fan_in_and_fan_out(torch.empty(shape))
    with pytest.raises(ValueError, match="Unsupported nonlinearity foo"):
        init.calculate_gain("foo")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)
    with pytest.raises(
        ValueError, match="Fan in and fan out can not be computed for tensor with fewer than 2"
    ):
        init.xavier_uniform_(df.empty(3))
    with pytest.raises(
        ValueError, match=r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]"
    ):
        init.kaiming_uniform_(df.empty(3, 3), mode="fan_avg")


def _uniform_ok(t, bound):
    a = to_np(t)
    return (
        np.abs(a).max() <= bound * (1 + 1e-6)
        and np.abs(a).max() > 0.98 * bound
        and abs(a.mean()) < 0.05 * bound
    )


def test_uniform_family_bounds(device):
    t = df.empty(300, 200, device=device)
    assert init.uniform_(t, -2, 3) is t and to_np(t).min() >= -2 and to_np(t).max() <= 3
    assert _uniform_ok(init.xavier_uniform_(t, gain=2.0), 2.0 * math.sqrt(6 / 500))
    assert _uniform_ok(init.kaiming_uniform_(t, a=math.sqrt(5)), math.sqrt(6 / 6) / math.sqrt(200))
    assert _uniform_ok(
        init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(6 / 300)
    )


def test_normal_family_std():
    t = df.empty(400, 300)
    for fn, std in [
        (lambda: init.normal_(t, 1.0, 0.5), 0.5),
        (lambda: init.xavier_normal_(t), math.sqrt(2 / 700)),
        (lambda: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / 300)),
    ]:
        a = to_np(fn())
        assert abs(a.std() - std) < 0.03 * std


def test_trunc_normal():
    t = init.trunc_normal_(df.empty(100000), mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = to_np(t)
    assert a.min() >= -1.0 and a.max() <= 1.5
    # the mean of N(0.5, 1) truncated to [-1, 1.5]
    from math import erf, exp, pi, sqrt

    def pdf(z):
        return exp(-z * z / 2) / sqrt(2 * pi)

    def cdf(z):
        return (1 + erf(z / sqrt(2))) / 2

    al, be = -1.5, 1.0
    assert abs(a.mean() - (0.5 + (pdf(al) - pdf(be)) / (cdf(be) - cdf(al)))) < 0.01


def test_constant_eye_dirac_orthogonal_sparse(device):
    t = df.empty(3, 4, device=device)
    assert_close(init.constant_(t, 0.3), np.full((3, 4), 0.3))
    assert_close(init.ones_(t), np.ones((3, 4)))
    assert_close(init.zeros_(t), np.zeros((3, 4)))
    assert_close(init.eye_(t), np.eye(3, 4))
    w = init.dirac_(df.empty(4, 2, 3, 3, device=device), groups=2)
    ref = np.zeros((4, 2, 3, 3))
    for g in range(2):
        for d in range(2):
            ref[g * 2 + d, d, 1, 1] = 1
    assert_close(w, ref)
    for shape in [(6, 4), (4, 6), (5, 2, 3)]:
        q = to_np(init.orthogonal_(df.empty(shape, device=device), gain=2.0)).reshape(shape[0], -1)
        small = q @ q.T if shape[0] <= q.shape[1] else q.T @ q
        assert_close(small, 4 * np.eye(small.shape[0]), atol=1e-5)
    s = to_np(init.sparse_(df.empty(10, 5, device=device), sparsity=0.3))
    assert ((s == 0).sum(0) >= 3).all()
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(df.empty(2, 2, 2))
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        init.dirac_(df.empty(2, 2))


def test_init_on_parameters_runs_without_grad():
    p = nn.Parameter(df.empty(3, 3))
    init.kaiming_normal_(p)
    init.trunc_normal_(p, std=0.02)
    init.orthogonal_(p)
    assert p.requires_grad and p.grad_fn is None and p.is_leaf
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(df.empty(0, 3))


def test_init_uses_deepforge_rng():
    df.manual_seed(5)
    a = to_np(init.xavier_uniform_(df.empty(4, 4)))
    df.manual_seed(5)
    assert_close(init.xavier_uniform_(df.empty(4, 4)), a)
    g = df.Generator().manual_seed(1)
    b = to_np(init.uniform_(df.empty(5), generator=g))
    assert_close(init.uniform_(df.empty(5), generator=df.Generator().manual_seed(1)), b)


def test_deprecated_aliases_warn():
    with pytest.warns(FutureWarning, match="nn.init.xavier_uniform` is now deprecated"):
        init.xavier_uniform(df.empty(2, 2))


# -- utils ------------------------------------------------------------------------------------
def _params_with_grads(lib, scale=1.0):
    ps = []
    for i, shape in enumerate([(3, 4), (4,), (2, 2)]):
        p = lib.nn.Parameter(lib.tensor(_np(i, shape)))
        p.grad = lib.tensor(_np(10 + i, shape) * scale)
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_matches_torch(norm_type):
    torch = pytest.importorskip("torch")
    for max_norm in (0.5, 100.0):
        pd, pt = _params_with_grads(df), _params_with_grads(torch)
        nd = nn.utils.clip_grad_norm_(pd, max_norm, norm_type=norm_type)
        nt = torch.nn.utils.clip_grad_norm_(pt, max_norm, norm_type=norm_type)
        assert isinstance(nd, df.Tensor) and nd.ndim == 0
        assert_close(nd, nt.numpy(), rtol=1e-10)
        for a, b in zip(pd, pt):
            assert_close(a.grad, b.grad.numpy(), rtol=1e-10)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_clip_grad_norm_edge_cases(device):
    p = nn.Parameter(df.ones(3, device=device))
    assert float(nn.utils.clip_grad_norm_([p], 1.0)) == 0.0  # no gradients
    p.grad = df.tensor([3.0, 4.0, 0.0], device=device)
    total = nn.utils.clip_grad_norm_(p, 1.0)
    assert_close(total, 5.0)
    assert_close(p.grad, [0.6, 0.8, 0.0], rtol=1e-5)
    p.grad = df.tensor([float("inf"), 1.0, 0.0], device=device)
    with pytest.raises(
        RuntimeError,
        match="The total norm of order 2.0 for gradients from `parameters` is non-finite",
    ):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    nn.utils.clip_grad_norm_([p], 1.0, foreach=True)


def test_clip_grad_value(device):
    ps = _params_with_grads(df, scale=3.0)
    nn.utils.clip_grad_value_(ps, 1.5)
    for i, p in enumerate(ps):
        assert_close(p.grad, np.clip(_np(10 + i, tuple(p.shape)) * 3.0, -1.5, 1.5))


def test_parameters_vector_roundtrip(device):
    m = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1)).to(device)
    v = nn.utils.parameters_to_vector(m.parameters())
    assert tuple(v.shape) == (3 * 2 + 2 + 2 + 1,)
    assert_close(v[:6], to_np(m[0].weight).ravel())
    new = df.arange(11, dtype=df.float32, device=device)
    w0 = m[0].weight
    nn.utils.vector_to_parameters(new, m.parameters())
    assert m[0].weight is w0 and isinstance(w0, nn.Parameter)
    assert_close(m[1].bias, [10.0])
    assert_close(m[0].weight, np.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: list"):
        nn.utils.vector_to_parameters([1], m.parameters())
    x = df.randn(2, 3, device=device, requires_grad=True)
    p = nn.utils.parameters_to_vector([x, x * 2])
    p.sum().backward()
    assert_close(x.grad, np.full((2, 3), 3.0))


# -- norm-based functionals -------------------------------------------------------------------
DIST = [
    ("normalize", lambda F, a, b: F.normalize(a, p=2.0, dim=1)),
    ("normalize_p1_dim0", lambda F, a, b: F.normalize(a, p=1.0, dim=0)),
    ("normalize_p3", lambda F, a, b: F.normalize(a, p=3.0, dim=-1)),
    ("cosine_similarity", lambda F, a, b: F.cosine_similarity(a, b)),
    ("cosine_similarity_dim0_bcast", lambda F, a, b: F.cosine_similarity(a, b[:1], dim=0)),
    ("pairwise_distance", lambda F, a, b: F.pairwise_distance(a, b)),
    (
        "pairwise_distance_p1_keepdim",
        lambda F, a, b: F.pairwise_distance(a, b, p=1.0, keepdim=True),
    ),
    ("pairwise_distance_inf", lambda F, a, b: F.pairwise_distance(a, b, p=math.inf)),
    ("pdist", lambda F, a, b: F.pdist(a)),
]


@pytest.mark.parametrize("name,fn", DIST, ids=[d[0] for d in DIST])
def test_distance_functions(name, fn, device):
    a, b = _np(0, (4, 3)), _np(1, (4, 3))
    ad = df.tensor(a, device=device, requires_grad=True)
    bd = df.tensor(b, device=device, requires_grad=True)
    assert gradcheck(lambda x, y: fn(F, x, y), (ad, bd))
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    yd, yt = (
        fn(F, ad.detach().cpu().requires_grad_(), bd.detach().cpu().requires_grad_()),
        fn(TF, at, bt),
    )
    assert_close(yd, yt.detach().numpy(), rtol=1e-10)


def test_norm_gradients_at_zero_match_torch():
    torch = pytest.importorskip("torch")
    z = np.zeros((2, 3))
    z[1] = [1.0, 2.0, 2.0]
    for fn in (
        lambda F, x: F.normalize(x, dim=1),
        lambda F, x: F.cosine_similarity(x, x + 1.0),
        lambda F, x: F.pairwise_distance(x, x, eps=0.0),
    ):
        xd, xt = df.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
        fn(F, xd).sum().backward()
        fn(torch.nn.functional, xt).sum().backward()
        assert np.isfinite(to_np(xd.grad)).all()
        assert_close(xd.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_distance_modules_and_double_backward():
    a, b = (
        df.tensor(_np(2, (3, 4)), requires_grad=True),
        df.tensor(_np(3, (3, 4)), requires_grad=True),
    )
    assert_close(nn.CosineSimilarity(dim=1)(a, b), F.cosine_similarity(a, b))
    assert_close(nn.PairwiseDistance(p=1.0)(a, b), F.pairwise_distance(a, b, p=1.0))
    assert (
        repr(nn.CosineSimilarity()) == "CosineSimilarity()"
        and repr(nn.PairwiseDistance()) == "PairwiseDistance()"
    )
    assert gradgradcheck(lambda x, y: F.cosine_similarity(x, y), (a, b))
    assert gradgradcheck(lambda x: F.normalize(x), (a,))
