"""Losses of deepforge.nn: values and gradients vs PyTorch for every reduction, float64
gradcheck on every device, numpy formulas, module forms, and PyTorch's errors for bad targets."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.autograd import gradcheck, gradgradcheck

R = np.random.default_rng


def _f(shape, seed, lo=-2.0, hi=2.0):
    return R(seed).uniform(lo, hi, shape)


def _prob(shape, seed):
    return R(seed).uniform(0.05, 0.95, shape)


def _idx(shape, n, seed):
    return R(seed).integers(0, n, shape)


def _pm1(shape, seed):
    return R(seed).choice([-1.0, 1.0], shape)


def _simplex(shape, seed, axis=1):
    p = R(seed).uniform(0.1, 1.0, shape)
    return p / p.sum(axis, keepdims=True)


# name: (make inputs -> list of (numpy array, differentiable?), call(F, *inputs, reduction))
LOSSES = {
    "mse": (
        lambda: [(_f((3, 4), 0), True), (_f((3, 4), 1), True)],
        lambda F, x, y, r: F.mse_loss(x, y, reduction=r),
    ),
    "mse_weight": (
        lambda: [(_f((3, 4), 0), True), (_f((3, 4), 1), True), (_prob((3, 4), 2), False)],
        lambda F, x, y, w, r: F.mse_loss(x, y, reduction=r, weight=w),
    ),
    "l1": (
        lambda: [(_f((3, 4), 0), True), (_f((3, 4), 1), True)],
        lambda F, x, y, r: F.l1_loss(x, y, reduction=r),
    ),
    "smooth_l1": (
        lambda: [(_f((3, 4), 0), True), (_f((3, 4), 1), True)],
        lambda F, x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.7),
    ),
    "smooth_l1_beta0": (
        lambda: [(_f((3, 4), 0), True), (_f((3, 4), 1), True)],
        lambda F, x, y, r: F.smooth_l1_loss(x, y, reduction=r, beta=0.0),
    ),
    "huber": (
        lambda: [(_f((3, 4), 0), True), (_f((3, 4), 1), True)],
        lambda F, x, y, r: F.huber_loss(x, y, reduction=r, delta=0.8),
    ),
    "cross_entropy": (
        lambda: [(_f((4, 5), 0), True), (_idx(4, 5, 1), False)],
        lambda F, x, t, r: F.cross_entropy(x, t, reduction=r),
    ),
    "cross_entropy_full": (
        lambda: [(_f((4, 5), 0), True), (np.array([0, 4, -100, 2]), False), (_prob(5, 2), False)],
        lambda F, x, t, w, r: F.cross_entropy(
            x, t, w, ignore_index=-100, reduction=r, label_smoothing=0.2
        ),
    ),
    "cross_entropy_ignore": (
        lambda: [(_f((4, 5), 0), True), (np.array([1, 3, 3, 0]), False)],
        lambda F, x, t, r: F.cross_entropy(x, t, ignore_index=3, reduction=r),
    ),
    "cross_entropy_nd": (
        lambda: [(_f((2, 3, 2, 2), 0), True), (_idx((2, 2, 2), 3, 1), False), (_prob(3, 2), False)],
        lambda F, x, t, w, r: F.cross_entropy(x, t, w, reduction=r),
    ),
    "cross_entropy_unbatched": (
        lambda: [(_f(5, 0), True), (np.array(3), False)],
        lambda F, x, t, r: F.cross_entropy(x, t, reduction=r, label_smoothing=0.1),
    ),
    "cross_entropy_probs": (
        lambda: [(_f((4, 5), 0), True), (_simplex((4, 5), 1), True), (_prob(5, 2), False)],
        lambda F, x, t, w, r: F.cross_entropy(x, t, w, reduction=r, label_smoothing=0.1),
    ),
    "nll": (
        lambda: [(_f((4, 5), 0), True), (_idx(4, 5, 1), False), (_prob(5, 2), False)],
        lambda F, x, t, w, r: F.nll_loss(x, t, w, reduction=r),
    ),
    "nll_nd_ignore": (
        lambda: [(_f((2, 4, 3), 0), True), (np.array([[0, 1, 3], [2, -1, 1]]), False)],
        lambda F, x, t, r: F.nll_loss(x, t, ignore_index=-1, reduction=r),
    ),
    "bce": (
        lambda: [(_prob((3, 4), 0), True), (_prob((3, 4), 1), True), (_prob(4, 2), False)],
        lambda F, x, y, w, r: F.binary_cross_entropy(x, y, w, reduction=r),
    ),
    "bce_logits": (
        lambda: [
            (_f((3, 4), 0, -4, 4), True),
            (_prob((3, 4), 1), True),
            (_prob(4, 2), False),
            (_prob(4, 3) * 3, False),
        ],
        lambda F, x, y, w, pw, r: F.binary_cross_entropy_with_logits(
            x, y, w, reduction=r, pos_weight=pw
        ),
    ),
    "kl_div": (
        lambda: [(np.log(_simplex((3, 4), 0)), True), (_simplex((3, 4), 1), True)],
        lambda F, x, t, r: F.kl_div(x, t, reduction=r),
    ),
    "kl_div_log_target": (
        lambda: [(np.log(_simplex((3, 4), 0)), True), (np.log(_simplex((3, 4), 1)), True)],
        lambda F, x, t, r: F.kl_div(x, t, reduction=r, log_target=True),
    ),
    "poisson_nll": (
        lambda: [(_f((3, 4), 0), True), (_prob((3, 4), 1) * 4, False)],
        lambda F, x, t, r: F.poisson_nll_loss(x, t, reduction=r),
    ),
    "poisson_nll_full": (
        lambda: [(_prob((3, 4), 0) * 3, True), (_prob((3, 4), 1) * 4, False)],
        lambda F, x, t, r: F.poisson_nll_loss(x, t, log_input=False, full=True, reduction=r),
    ),
    "gaussian_nll": (
        lambda: [(_f((3, 4), 0), True), (_f((3, 4), 1), True), (_prob((3, 1), 2), True)],
        lambda F, x, t, v, r: F.gaussian_nll_loss(x, t, v, full=True, reduction=r),
    ),
    "margin_ranking": (
        lambda: [(_f(6, 0), True), (_f(6, 1), True), (_pm1(6, 2), False)],
        lambda F, a, b, y, r: F.margin_ranking_loss(a, b, y, margin=0.3, reduction=r),
    ),
    "hinge_embedding": (
        lambda: [(_f((3, 4), 0), True), (_pm1((3, 4), 1), False)],
        lambda F, x, y, r: F.hinge_embedding_loss(x, y, margin=1.5, reduction=r),
    ),
    "cosine_embedding": (
        lambda: [(_f((4, 3), 0), True), (_f((4, 3), 1), True), (_pm1(4, 2), False)],
        lambda F, a, b, y, r: F.cosine_embedding_loss(a, b, y, margin=0.1, reduction=r),
    ),
    "triplet": (
        lambda: [(_f((4, 3), 0), True), (_f((4, 3), 1), True), (_f((4, 3), 2), True)],
        lambda F, a, p, n, r: F.triplet_margin_loss(a, p, n, margin=1.5, reduction=r),
    ),
    "triplet_swap_p1": (
        lambda: [(_f((4, 3), 0), True), (_f((4, 3), 1), True), (_f((4, 3), 2), True)],
        lambda F, a, p, n, r: F.triplet_margin_loss(a, p, n, p=1, swap=True, reduction=r),
    ),
    "multi_margin": (
        lambda: [(_f((4, 5), 0), True), (_idx(4, 5, 1), False), (_prob(5, 2), False)],
        lambda F, x, t, w, r: F.multi_margin_loss(x, t, margin=0.8, weight=w, reduction=r),
    ),
    "multi_margin_p2": (
        lambda: [(_f((4, 5), 0), True), (_idx(4, 5, 1), False)],
        lambda F, x, t, r: F.multi_margin_loss(x, t, p=2, reduction=r),
    ),
    "soft_margin": (
        lambda: [(_f((3, 4), 0), True), (_pm1((3, 4), 1), False)],
        lambda F, x, y, r: F.soft_margin_loss(x, y, reduction=r),
    ),
    "multilabel_soft_margin": (
        lambda: [
            (_f((3, 4), 0), True),
            (R(1).integers(0, 2, (3, 4)) * 1.0, False),
            (_prob(4, 2), False),
        ],
        lambda F, x, y, w, r: F.multilabel_soft_margin_loss(x, y, w, reduction=r),
    ),
}

REDUCTIONS = ["mean", "sum", "none"]


def _mk(lib, arrays, dtype, requires_grad=True):
    out = []
    for a, diff in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            t = lib.tensor(a.astype(dtype))
            if diff and requires_grad:
                t.requires_grad_(True)
        else:
            t = lib.tensor(a.astype(np.int64))
        out.append(t)
    return out


def _float64_case(name, device):
    """``LOSSES[name]``'s call and its float64 inputs on ``device`` (differentiable ones with
    requires_grad set after the move, so they are leaves)."""
    make, call = LOSSES[name]
    arrays = make()
    ins = [t.to(device) for t in _mk(df, arrays, "float64", requires_grad=False)]
    for t, (_, diff) in zip(ins, arrays):
        if diff:
            t.requires_grad_(True)
    return call, ins


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("dtype,rtol", [("float32", 2e-5), ("float64", 1e-10)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_matches_torch(name, reduction, dtype, rtol):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    make, call = LOSSES[name]
    arrays = make()
    ins_d = _mk(df, arrays, dtype)
    ins_t = _mk(torch, arrays, dtype)
    out_d = call(F, *ins_d, reduction)
    out_t = call(TF, *ins_t, reduction)
    assert tuple(out_d.shape) == tuple(out_t.shape)
    assert_close(out_d, out_t.detach().numpy(), rtol=rtol, atol=rtol)
    g = np.random.default_rng(9).standard_normal(tuple(out_t.shape)).astype(dtype)
    out_d.backward(df.tensor(g))
    out_t.backward(torch.tensor(g))
    for a, b in zip(ins_d, ins_t):
        if b.requires_grad:
            assert_close(a.grad, b.grad.numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradcheck(name, device):
    call, ins = _float64_case(name, device)
    for reduction in ("sum", "none"):
        assert gradcheck(lambda *a, r=reduction: call(F, *a, r), tuple(ins))


def test_numpy_formulas(device):
    x = _f((3, 4), 0).astype(np.float32)
    y = _f((3, 4), 1).astype(np.float32)
    xd, yd = df.tensor(x, device=device), df.tensor(y, device=device)
    assert_close(F.mse_loss(xd, yd), ((x - y) ** 2).mean())
    assert_close(F.l1_loss(xd, yd, reduction="sum"), np.abs(x - y).sum(), rtol=1e-5)
    d = np.abs(x - y)
    assert_close(F.smooth_l1_loss(xd, yd, reduction="none"), np.where(d < 1, 0.5 * d * d, d - 0.5))
    assert_close(
        F.huber_loss(xd, yd, delta=0.5, reduction="none"),
        np.where(d < 0.5, 0.5 * d * d, 0.5 * (d - 0.25)),
    )
    logits, t = _f((4, 5), 2), _idx(4, 5, 3)
    lsm = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert_close(
        F.cross_entropy(df.tensor(logits, device=device), df.tensor(t, device=device)),
        -lsm[np.arange(4), t].mean(),
        rtol=1e-10,
    )
    p = _prob((3, 4), 4)
    bce = -1.0 * (y > 0) * np.log(p) - (y <= 0) * np.log(1 - p)
    assert_close(
        F.binary_cross_entropy(
            df.tensor(p, device=device), df.tensor((y > 0) * 1.0, device=device)
        ),
        bce.mean(),
        rtol=1e-10,
    )
    z = 3 * x.astype(np.float64)
    tgt = (y > 0) * 1.0
    ref = np.maximum(z, 0) - z * tgt + np.log1p(np.exp(-np.abs(z)))
    assert_close(
        F.binary_cross_entropy_with_logits(
            df.tensor(z, device=device), df.tensor(tgt, device=device), reduction="none"
        ),
        ref,
        rtol=1e-10,
    )


def test_bce_with_logits_is_stable_for_huge_logits():
    x = df.tensor([-1000.0, -30.0, 0.0, 30.0, 1000.0], requires_grad=True)
    y = df.tensor([1.0, 0.0, 1.0, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert_close(loss, [1000.0, 0.0, math.log(2), 0.0, 1000.0], atol=1e-6)
    loss.sum().backward()
    assert_close(x.grad, [-1.0, 0.0, -0.5, 0.0, 1.0], atol=1e-6)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's log(0) warning in the CPU backend
def test_bce_clamps_log_at_minus_100():
    loss = F.binary_cross_entropy(df.tensor([0.0, 1.0]), df.tensor([1.0, 0.0]), reduction="none")
    assert_close(loss, [100.0, 100.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's 0/0 warning in the CPU backend
def test_cross_entropy_all_ignored_is_nan():
    loss = F.cross_entropy(df.randn(2, 3), df.tensor([-100, -100]))
    assert math.isnan(loss.item())


def test_kl_div_batchmean_and_mean_warning():
    x = df.tensor(np.log(_simplex((3, 4), 0)))
    t = df.tensor(_simplex((3, 4), 1))
    assert_close(F.kl_div(x, t, reduction="batchmean"), F.kl_div(x, t, reduction="sum") / 3)
    with pytest.warns(UserWarning, match="'mean' divides the total loss by both the batch size"):
        F.kl_div(x, t)


def test_legacy_size_average_and_reduce():
    x, y = df.tensor(_f((3, 4), 0)), df.tensor(_f((3, 4), 1))
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        m = nn.MSELoss(size_average=False)
    assert m.reduction == "sum"
    assert_close(m(x, y), F.mse_loss(x, y, reduction="sum"))
    with pytest.warns(UserWarning):
        assert nn.L1Loss(reduce=False).reduction == "none"
    with pytest.warns(UserWarning):
        assert_close(F.l1_loss(x, y, size_average=False), F.l1_loss(x, y, reduction="sum"))


MODULES = [
    ("MSELoss", {}, lambda F, x, y: F.mse_loss(x, y)),
    ("L1Loss", {"reduction": "sum"}, lambda F, x, y: F.l1_loss(x, y, reduction="sum")),
    ("SmoothL1Loss", {"beta": 0.5}, lambda F, x, y: F.smooth_l1_loss(x, y, beta=0.5)),
    ("HuberLoss", {"delta": 0.5}, lambda F, x, y: F.huber_loss(x, y, delta=0.5)),
    ("SoftMarginLoss", {}, lambda F, x, y: F.soft_margin_loss(x, y)),
    ("HingeEmbeddingLoss", {"margin": 2.0}, lambda F, x, y: F.hinge_embedding_loss(x, y, 2.0)),
    (
        "KLDivLoss",
        {"reduction": "batchmean", "log_target": True},
        lambda F, x, y: F.kl_div(x, y, reduction="batchmean", log_target=True),
    ),
    ("PoissonNLLLoss", {"full": True}, lambda F, x, y: F.poisson_nll_loss(x, y.abs(), full=True)),
    ("BCEWithLogitsLoss", {}, lambda F, x, y: F.binary_cross_entropy_with_logits(x, y)),
]


@pytest.mark.parametrize("name,kwargs,fn", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_functional(name, kwargs, fn, device):
    x = df.tensor(_f((3, 4), 0), device=device)
    y = df.tensor(_f((3, 4), 1), device=device)
    assert_close(
        getattr(nn, name)(**kwargs)(x, y if name != "PoissonNLLLoss" else y.abs()), fn(F, x, y)
    )
    assert repr(getattr(nn, name)(**kwargs)) == name + "()"


def test_weighted_loss_modules_register_buffers():
    w = df.tensor([1.0, 2.0, 3.0])
    ce = nn.CrossEntropyLoss(weight=w, ignore_index=1, label_smoothing=0.1)
    assert list(ce.state_dict()) == ["weight"]
    assert ce.weight is w and ce.ignore_index == 1 and ce.label_smoothing == 0.1
    bce = nn.BCEWithLogitsLoss(pos_weight=df.tensor([2.0]))
    assert list(bce.state_dict()) == ["pos_weight"]
    assert list(dict(bce.named_buffers())) == ["pos_weight"]
    x, t = df.randn(4, 3), df.tensor([0, 1, 2, 0])
    assert_close(ce(x, t), F.cross_entropy(x, t, w, ignore_index=1, label_smoothing=0.1))
    assert_close(nn.NLLLoss(w)(x, t), F.nll_loss(x, t, w))
    assert_close(nn.MultiMarginLoss(p=2, weight=w)(x, t), F.multi_margin_loss(x, t, p=2, weight=w))
    a, b, n = df.randn(4, 3), df.randn(4, 3), df.randn(4, 3)
    assert_close(nn.TripletMarginLoss(margin=0.5)(a, b, n), F.triplet_margin_loss(a, b, n, 0.5))
    assert_close(
        nn.CosineEmbeddingLoss(0.2)(a, b, df.tensor([1.0, -1, 1, -1])),
        F.cosine_embedding_loss(a, b, df.tensor([1.0, -1, 1, -1]), 0.2),
    )
    assert_close(
        nn.MarginRankingLoss(0.1)(a[0], b[0], df.tensor([1.0, -1, 1])),
        F.margin_ranking_loss(a[0], b[0], df.tensor([1.0, -1, 1]), 0.1),
    )
    v = df.rand(4, 3) + 0.1
    assert_close(nn.GaussianNLLLoss(full=True)(a, b, v), F.gaussian_nll_loss(a, b, v, full=True))
    p = df.rand(4, 3) * 0.8 + 0.1
    assert_close(
        nn.BCELoss(weight=w)(p, (n > 0).float()), F.binary_cross_entropy(p, (n > 0).float(), w)
    )
    assert_close(
        nn.MultiLabelSoftMarginLoss(w)(a, (n > 0).float()),
        F.multilabel_soft_margin_loss(a, (n > 0).float(), w),
    )
    assert_close(
        nn.TripletMarginWithDistanceLoss(margin=0.5)(a, b, n), F.triplet_margin_loss(a, b, n, 0.5)
    )


NONCONTIG = [
    "mse",
    "l1",
    "huber",
    "cross_entropy",
    "bce_logits",
    "kl_div",
    "nll",
    "cosine_embedding",
]


@pytest.mark.parametrize("name", NONCONTIG)
def test_gradcheck_noncontiguous_inputs(name, device):
    make, call = LOSSES[name]
    ins = []
    for a, diff in make():
        a = np.asarray(a)
        if a.dtype.kind == "f" and a.ndim == 2:
            t = df.tensor(np.ascontiguousarray(a.T), dtype=df.float64, device=device).mT
            assert not t.is_contiguous()
        else:
            t = df.tensor(a, dtype=df.float64 if a.dtype.kind == "f" else df.int64, device=device)
        ins.append(t.requires_grad_() if diff else t)
    assert gradcheck(lambda *a: call(F, *a, "sum"), tuple(ins))


def test_broadcast_target_gradcheck(device):
    x = df.tensor(_f((3, 4), 0), device=device, requires_grad=True)
    y = df.tensor(_f((1, 4), 1), device=device, requires_grad=True)
    with pytest.warns(UserWarning, match="Using a target size"):
        assert gradcheck(lambda a, b: F.mse_loss(a, b), (x, y))
    with pytest.warns(UserWarning, match="Using a target size"):
        assert gradcheck(lambda a, b: F.smooth_l1_loss(a, b, reduction="sum"), (x, y))


@pytest.mark.parametrize(
    "name",
    [
        "cross_entropy_full",
        "nll",
        "bce",
        "bce_logits",
        "mse",
        "huber",
        "kl_div",
        "gaussian_nll",
        "multi_margin",
    ],
)
def test_gradgradcheck(name, device):
    call, ins = _float64_case(name, device)
    assert gradgradcheck(lambda *a: call(F, *a, "sum"), tuple(ins))
