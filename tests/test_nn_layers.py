"""Layers: Linear, Bilinear, Embedding, EmbeddingBag, Dropout family, Flatten/Unflatten, padding.

Forward vs numpy, float64 gradcheck on every device, outputs and gradients vs PyTorch with the
same weights, default initialisation, and PyTorch's errors for bad inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, noncontig, to_np

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.autograd import gradcheck, gradgradcheck


def _rng(seed=0):
    return np.random.default_rng(seed)


def _t(a, device="cpu", dtype=df.float64, rg=False):
    return df.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=rg)


def _copy_to_torch(mod, tmod):
    import torch

    with torch.no_grad():
        for k, v in mod.state_dict().items():
            tmod.state_dict()[k].copy_(torch.tensor(to_np(v)))


# -- Linear -----------------------------------------------------------------------------------
def test_linear_forward_matches_numpy(device):
    m = nn.Linear(5, 3).to(device)
    x = _rng().standard_normal((4, 5)).astype(np.float32)
    w, b = to_np(m.weight), to_np(m.bias)
    assert_close(m(df.tensor(x, device=device)), x @ w.T + b, rtol=1e-5)
    x3 = _rng(1).standard_normal((2, 4, 5)).astype(np.float32)
    assert_close(m(df.tensor(x3, device=device)), x3 @ w.T + b, rtol=1e-5)
    x1 = x[0]
    assert_close(m(df.tensor(x1, device=device)), x1 @ w.T + b, rtol=1e-5)
    nob = nn.Linear(5, 3, bias=False).to(device)
    assert nob.bias is None and [n for n, _ in nob.named_parameters()] == ["weight"]
    assert_close(nob(df.tensor(x, device=device)), x @ to_np(nob.weight).T, rtol=1e-5)


def test_linear_gradcheck(device):
    r = _rng(2)
    w = _t(r.standard_normal((3, 4)), device, rg=True)
    b = _t(r.standard_normal(3), device, rg=True)
    for shape in ((2, 4), (4,), (2, 2, 4)):
        x = _t(r.standard_normal(shape), device, rg=True)
        assert gradcheck(F.linear, (x, w, b))
    xn = noncontig(_t(r.standard_normal((4, 2)), device)).mT.requires_grad_()
    assert gradcheck(F.linear, (xn, noncontig(w.detach()).requires_grad_()))
    assert gradgradcheck(F.linear, (_t(r.standard_normal((2, 4)), device, rg=True), w, b))


@pytest.mark.parametrize("dtype,rtol", [("float32", 1e-5), ("float64", 1e-10)])
def test_linear_matches_torch(dtype, rtol):
    torch = pytest.importorskip("torch")
    m, tm = nn.Linear(6, 4).to(getattr(df, dtype)), torch.nn.Linear(6, 4).to(getattr(torch, dtype))
    _copy_to_torch(m, tm)
    x = _rng(3).standard_normal((3, 5, 6)).astype(dtype)
    xd, xt = df.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = m(xd), tm(xt)
    assert_close(yd, yt.detach().numpy(), rtol=rtol, atol=rtol)
    g = _rng(4).standard_normal(yt.shape).astype(dtype)
    yd.backward(df.tensor(g))
    yt.backward(torch.tensor(g))
    assert_close(xd.grad, xt.grad.numpy(), rtol=rtol, atol=rtol)
    assert_close(m.weight.grad, tm.weight.grad.numpy(), rtol=rtol, atol=rtol)
    assert_close(m.bias.grad, tm.bias.grad.numpy(), rtol=rtol, atol=rtol)


def test_linear_default_init_distribution():
    df.manual_seed(0)
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) gives the same bound
    w, b = to_np(m.weight), to_np(m.bias)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert np.abs(b).max() <= bound and abs(b.mean()) < 0.1 * bound
    df.manual_seed(0)
    assert_close(nn.Linear(400, 300).weight, w)  # same seed, same weights


def test_linear_bad_input():
    m = nn.Linear(5, 2)
    with pytest.raises(
        RuntimeError, match=r"^mat1 and mat2 shapes cannot be multiplied \(4x3 and 5x2\)$"
    ):
        m(df.randn(4, 3))
    with pytest.raises(
        RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(24x3 and 5x2\)"
    ):
        m(df.randn(6, 4, 3))
    with pytest.raises(
        RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(1x3 and 5x2\)"
    ):
        m(df.randn(3))
    with pytest.raises(RuntimeError):
        m(df.randn(4, 5, dtype=df.float64))


def test_linear_messages_match_torch():
    torch = pytest.importorskip("torch")
    for shape in ((4, 3), (6, 4, 3), (3,)):
        with pytest.raises(RuntimeError) as ed:
            F.linear(df.randn(*shape), df.randn(2, 5))
        with pytest.raises(RuntimeError) as et:
            torch.nn.functional.linear(torch.randn(*shape), torch.randn(2, 5))
        assert str(ed.value) == str(et.value)


def test_lazy_linear(device):
    m = nn.LazyLinear(3).to(device)
    assert (
        isinstance(m.weight, nn.UninitializedParameter)
        and repr(m.weight) == "<UninitializedParameter>"
    )
    assert nn.parameter.is_lazy(m.weight)
    y = m(df.randn(2, 7, device=device))
    assert type(m) is nn.Linear and m.in_features == 7 and tuple(y.shape) == (2, 3)
    assert type(m.weight) is nn.Parameter and tuple(m.weight.shape) == (3, 7)
    assert float(m.weight.abs().max()) <= 1 / math.sqrt(7)
    lazy = nn.LazyLinear(3, bias=False)
    lazy.load_state_dict({"weight": df.ones(3, 7)})
    assert tuple(lazy.weight.shape) == (3, 7) and lazy.bias is None
    assert_close(lazy(df.ones(1, 7)), np.full((1, 3), 7.0))


# -- Bilinear ---------------------------------------------------------------------------------
def test_bilinear(device):
    r = _rng(5)
    x1, x2 = r.standard_normal((3, 2)), r.standard_normal((3, 4))
    w, b = r.standard_normal((5, 2, 4)), r.standard_normal(5)
    ref = np.einsum("ni,oij,nj->no", x1, w, x2) + b
    args = [_t(a, device, rg=True) for a in (x1, x2, w, b)]
    assert_close(F.bilinear(*args), ref, rtol=1e-10)
    assert gradcheck(F.bilinear, tuple(args))
    x13, x23 = r.standard_normal((2, 3, 2)), r.standard_normal((2, 3, 4))
    assert_close(
        F.bilinear(_t(x13, device), _t(x23, device), args[2], args[3]),
        np.einsum("abi,oij,abj->abo", x13, w, x23) + b,
        rtol=1e-10,
    )
    m = nn.Bilinear(2, 4, 5).to(device)
    assert tuple(m(_t(x1, device, df.float32), _t(x2, device, df.float32)).shape) == (3, 5)
    with pytest.raises(
        RuntimeError, match="input2 size does not match weight size: got 4 but expected 5"
    ):
        F.bilinear(df.randn(2, 3), df.randn(2, 4), df.randn(5, 3, 5))


def test_bilinear_matches_torch():
    torch = pytest.importorskip("torch")
    m, tm = nn.Bilinear(3, 4, 2).double(), torch.nn.Bilinear(3, 4, 2).double()
    _copy_to_torch(m, tm)
    a, b = _rng(6).standard_normal((5, 3)), _rng(7).standard_normal((5, 4))
    ad, bd = df.tensor(a, requires_grad=True), df.tensor(b, requires_grad=True)
    at, bt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    yd, yt = m(ad, bd), tm(at, bt)
    assert_close(yd, yt.detach().numpy(), rtol=1e-10)
    (yd**2).sum().backward()
    (yt**2).sum().backward()
    for x, y in (
        (ad.grad, at.grad),
        (bd.grad, bt.grad),
        (m.weight.grad, tm.weight.grad),
        (m.bias.grad, tm.bias.grad),
    ):
        assert_close(x, y.numpy(), rtol=1e-10)
    bound = 1 / math.sqrt(3)
    assert float(nn.Bilinear(3, 4, 2).weight.abs().max()) <= bound


# -- Embedding --------------------------------------------------------------------------------
def test_embedding_forward_and_padding(device):
    df.manual_seed(1)
    e = nn.Embedding(10, 3, padding_idx=2).to(device)
    w = to_np(e.weight)
    assert (w[2] == 0).all() and (w[[0, 1, 3]] != 0).all()
    idx = np.array([[1, 2, 4], [2, 9, 0]])
    out = e(df.tensor(idx, device=device))
    assert_close(out, w[idx])
    out.sum().backward()
    g = to_np(e.weight.grad)
    counts = np.bincount(idx.ravel(), minlength=10).astype(float)
    counts[2] = 0
    assert_close(g, np.repeat(counts[:, None], 3, 1))
    assert nn.Embedding(5, 2, padding_idx=-1).padding_idx == 4


def test_embedding_default_init_is_standard_normal():
    w = to_np(nn.Embedding(2000, 10).weight)
    assert abs(w.mean()) < 0.03 and abs(w.std() - 1) < 0.03
    assert abs((np.abs(w) < 1).mean() - 0.6827) < 0.02


def test_embedding_gradcheck(device):
    w = _t(_rng(8).standard_normal((6, 3)), device, rg=True)
    idx = df.tensor([[0, 5, 5], [3, 1, 0]], device=device)
    assert gradcheck(lambda w: F.embedding(idx, w, padding_idx=4), (w,))  # 4 is not looked up
    F.embedding(idx, w, padding_idx=5).sum().backward()  # 5 is: its row gets no gradient
    assert_close(w.grad[5], [0.0, 0.0, 0.0])
    assert gradgradcheck(lambda w: F.embedding(idx, w) ** 2, (w,))


def test_embedding_matches_torch():
    torch = pytest.importorskip("torch")
    w = _rng(9).standard_normal((7, 4))
    idx = np.array([[0, 3, 3, 6], [1, 1, 2, 6]])
    for kwargs in (
        {},
        {"padding_idx": 3},
        {"scale_grad_by_freq": True},
        {"max_norm": 1.0},
        {"max_norm": 1.5, "norm_type": 1.0, "padding_idx": 1},
    ):
        e = nn.Embedding.from_pretrained(df.tensor(w), freeze=False, **kwargs)
        te = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, **kwargs)
        g = _rng(10).standard_normal((2, 4, 4))
        yd, yt = e(df.tensor(idx)), te(torch.tensor(idx))
        assert_close(yd, yt.detach().numpy(), rtol=1e-10)
        yd.backward(df.tensor(g))
        yt.backward(torch.tensor(g))
        assert_close(e.weight.grad, te.weight.grad.numpy(), rtol=1e-10)
        assert_close(
            e.weight, te.weight.detach().numpy(), rtol=1e-10
        )  # max_norm renormalises in place
    frozen = nn.Embedding.from_pretrained(df.tensor(w))
    assert not frozen.weight.requires_grad


def test_embedding_bad_input():
    e = nn.Embedding(4, 2)
    with pytest.raises(IndexError, match="index out of range in self"):
        e(df.tensor([0, 5]))
    with pytest.raises(IndexError, match="index out of range in self"):
        e(df.tensor([-1]))
    with pytest.raises(
        RuntimeError,
        match="Expected tensor for argument #1 'indices' to have one of the following "
        "scalar types: Long, Int; but got deepforge.FloatTensor instead",
    ):
        e(df.tensor([0.0, 1.0]))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(4, 2, padding_idx=4)
    assert_close(e(df.tensor([1, 3], dtype=df.int32)), e(df.tensor([1, 3])))


# -- EmbeddingBag -----------------------------------------------------------------------------
BAGS = [
    ("sum", {}, "1d"),
    ("mean", {}, "1d"),
    ("max", {}, "1d"),
    ("sum", {"per_sample_weights": True}, "1d"),
    ("mean", {"padding_idx": 2}, "1d"),
    ("max", {"padding_idx": 2}, "2d"),
    ("sum", {"include_last_offset": True}, "1d"),
    ("mean", {}, "2d"),
    ("sum", {"per_sample_weights": True}, "2d"),
]


def _bag_inputs(kind, kwargs, lib):
    if kind == "2d":
        inp = lib.tensor([[0, 2, 4], [4, 3, 2]])
        offsets = None
    else:
        inp = lib.tensor([1, 2, 4, 5, 4, 3, 2, 9])
        offsets = lib.tensor([0, 2, 2, 5, 8] if kwargs.get("include_last_offset") else [0, 2, 2, 5])
    psw = None
    if kwargs.get("per_sample_weights"):
        psw = lib.tensor(_rng(11).uniform(0.5, 1.5, tuple(inp.shape)), requires_grad=True)
    return inp, offsets, psw


@pytest.mark.parametrize("mode,kwargs,kind", BAGS)
def test_embedding_bag_matches_torch(mode, kwargs, kind):
    torch = pytest.importorskip("torch")
    w = _rng(12).standard_normal((10, 3))
    opts = {k: v for k, v in kwargs.items() if k != "per_sample_weights"}
    outs = []
    for lib, nnl in ((df, nn), (torch, torch.nn)):
        bag = nnl.EmbeddingBag.from_pretrained(lib.tensor(w), freeze=False, mode=mode, **opts)
        inp, offsets, psw = _bag_inputs(kind, kwargs, lib)
        y = bag(inp, offsets, per_sample_weights=psw)
        y.backward(lib.tensor(_rng(13).standard_normal(tuple(y.shape))))
        outs.append(
            (y.detach().numpy(), bag.weight.grad.numpy(), None if psw is None else psw.grad.numpy())
        )
    (yd, gd, pd), (yt, gt, pt) = outs
    assert_close(yd, yt, rtol=1e-10)
    assert_close(gd, gt, rtol=1e-10)
    if pd is not None:
        assert_close(pd, pt, rtol=1e-10)


def test_embedding_bag_gradcheck(device):
    w = _t(_rng(14).standard_normal((6, 2)), device, rg=True)
    inp = df.tensor([0, 2, 2, 5, 1, 3], device=device)
    offsets = df.tensor([0, 3, 3], device=device)
    for mode in ("sum", "mean", "max"):
        assert gradcheck(lambda w, mode=mode: F.embedding_bag(inp, w, offsets, mode=mode), (w,))
    psw = _t(_rng(15).uniform(0.5, 1.5, 6), device, rg=True)
    assert gradcheck(
        lambda w, p: F.embedding_bag(inp, w, offsets, mode="sum", per_sample_weights=p), (w, psw)
    )


def test_embedding_bag_errors():
    w = df.randn(4, 2)
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(df.tensor([0, 1, 2]), w)
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag(df.tensor([[0, 1]]), w, df.tensor([0]))
    with pytest.raises(
        NotImplementedError, match="per_sample_weights is only supported for mode='sum'"
    ):
        F.embedding_bag(df.tensor([[0, 1, 2]]), w, per_sample_weights=df.ones(1, 3))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(df.tensor([[0, 1]]), w, mode="median")
    assert repr(nn.EmbeddingBag(10, 3)) == "EmbeddingBag(10, 3, mode='mean')"


# -- Dropout ----------------------------------------------------------------------------------
def test_dropout_mask_statistics_and_scaling(device):
    x = df.ones(20000, device=device)
    y = to_np(F.dropout(x, p=0.3))
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.02
    assert_close(y[kept], np.full(kept.sum(), 1 / 0.7), rtol=1e-6)
    assert F.dropout(x, 0.3, training=False) is x
    assert_close(F.dropout(x, 1.0), np.zeros(20000))
    assert F.dropout(x, 0.0) is x


def test_dropout_same_seed_same_mask_and_gradient(device):
    x = df.randn(4, 5, device=device, requires_grad=True)
    df.manual_seed(42)
    y1 = F.dropout(x, 0.5)
    df.manual_seed(42)
    y2 = F.dropout(x, 0.5)
    assert_close(y1, y2)
    y1.sum().backward()
    assert_close(x.grad, (to_np(y1) != 0) * 2.0)
    d = nn.Dropout(0.5)
    df.manual_seed(42)
    assert_close(d(x), y1)
    assert_close(d.eval()(x), x)


def test_dropout_inplace_and_gradcheck(device):
    x = df.ones(3, 4, device=device)
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and set(np.unique(to_np(x))) <= {0.0, 2.0}
    xd = _t(_rng(16).standard_normal((3, 4)), device, rg=True)

    def fn(t):
        df.manual_seed(7)
        return F.dropout(t, 0.4)

    assert gradcheck(fn, (xd,))


def test_feature_dropout_masks_whole_channels(device):
    x = df.ones(8, 6, 5, 5, device=device)
    y = to_np(F.dropout2d(x, 0.5))
    per_channel = y.reshape(8, 6, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    y1 = to_np(nn.Dropout1d(0.5)(df.ones(4, 6, 7, device=device))).reshape(4, 6, -1)
    assert ((y1 == 0).all(-1) | (y1 == 2).all(-1)).all()
    y3 = to_np(nn.Dropout3d(0.5)(df.ones(2, 3, 2, 2, 2, device=device))).reshape(2, 3, -1)
    assert ((y3 == 0).all(-1) | (y3 == 2).all(-1)).all()
    with pytest.raises(
        RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"
    ):
        F.dropout1d(df.ones(1, 2, 3, 4))


def test_alpha_dropout_preserves_selu_statistics(device):
    x = df.tensor(_rng(21).standard_normal(200000), device=device)
    y = to_np(F.alpha_dropout(x, 0.2, training=True))
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    assert F.alpha_dropout(x, 0.2) is x  # training defaults to False in the functional form
    z = to_np(nn.FeatureAlphaDropout(0.3)(df.randn(4, 5, 6, device=device)))
    assert z.shape == (4, 5, 6)
    xd = _t(_rng(17).standard_normal((3, 4)), device, rg=True)

    def fn(t):
        df.manual_seed(3)
        return F.alpha_dropout(t, 0.3, training=True)

    assert gradcheck(fn, (xd,))


def test_dropout_bad_p():
    with pytest.raises(
        ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"
    ):
        F.dropout(df.randn(3), p=1.5)
    with pytest.raises(
        ValueError, match="dropout probability has to be between 0 and 1, but got -0.1"
    ):
        nn.Dropout(-0.1)


# -- Flatten / Unflatten / Identity -----------------------------------------------------------
def test_flatten_unflatten_identity(device):
    x = df.randn(2, 3, 4, 5, device=device)
    assert tuple(nn.Flatten()(x).shape) == (2, 60)
    assert tuple(nn.Flatten(0, 2)(x).shape) == (24, 5)
    assert tuple(nn.Unflatten(1, (3, 1))(df.randn(2, 3)).shape) == (2, 3, 1)
    assert tuple(nn.Unflatten(-1, (5, -1))(x).shape) == (2, 3, 4, 5, 1)
    i = nn.Identity(54, unused="x")
    assert i(x) is x
    with pytest.raises(
        RuntimeError,
        match=r"unflatten: Provided sizes \[2, 2\] don't multiply up to the size of dim 1",
    ):
        nn.Unflatten(1, (2, 2))(df.randn(2, 3))
    with pytest.raises(TypeError, match="unflattened_size must be tuple of ints"):
        nn.Unflatten(1, (2, 2.0))
    y = df.randn(2, 6, device=device, requires_grad=True)
    nn.Unflatten(1, (2, 3))(y).sum().backward()
    assert_close(y.grad, np.ones((2, 6)))
