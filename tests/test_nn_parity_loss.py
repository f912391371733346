"""PyTorch's less common losses and deprecated aliases: NLLLoss2d, Container,
MultiLabelMarginLoss and LinearCrossEntropyLoss, against PyTorch on every device, with float64
gradcheck and PyTorch's exception types."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import assert_close, noncontig

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.autograd import gradcheck

torch = pytest.importorskip("torch")

R = np.random.default_rng


def _df(a, device, requires_grad=False):
    return df.tensor(a, device=device, requires_grad=requires_grad)


def _th(a, requires_grad=False):
    return torch.tensor(a, requires_grad=requires_grad)


def _copy_into_torch(df_module, th_module):
    state = {k: torch.tensor(v.detach().cpu().numpy()) for k, v in df_module.state_dict().items()}
    th_module.load_state_dict(state)


# -- losses ---------------------------------------------------------------------------------------
def test_nllloss2d_is_deprecated_nllloss(device):
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
        m = nn.NLLLoss2d(ignore_index=1)
    assert isinstance(m, nn.NLLLoss) and repr(m) == "NLLLoss2d()"
    x = R(0).standard_normal((2, 3, 4, 4))
    t = R(1).integers(0, 3, (2, 4, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        th = torch.nn.NLLLoss2d(ignore_index=1)
    xd, xt = _df(x, device, True), _th(x, True)
    out, th_out = m(xd, _df(t, device)), th(xt, _th(t))
    assert_close(out, th_out.detach().numpy(), rtol=1e-7, atol=1e-9)
    out.backward()
    th_out.backward()
    assert_close(xd.grad, xt.grad.numpy(), rtol=1e-7, atol=1e-9)


def test_container_is_deprecated_module():
    with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):
        c = nn.Container(a=nn.Linear(2, 2), b=nn.ReLU())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        th = torch.nn.Container(a=torch.nn.Linear(2, 2), b=torch.nn.ReLU())
    assert repr(c) == repr(th)
    assert list(c.state_dict()) == list(th.state_dict())
    with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):

        class Sub(nn.Container):
            pass


_ML_TARGET = [[3, 0, -1, 1, 2], [0, 1, 2, 3, 4], [1, 1, -1, 2, 2], [-1, 0, 0, 0, 0]]


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multilabel_margin_loss_matches_torch(reduction, device):
    x = R(0).standard_normal((4, 5))
    t = np.array(_ML_TARGET)
    m, th = (
        nn.MultiLabelMarginLoss(reduction=reduction),
        torch.nn.MultiLabelMarginLoss(reduction=reduction),
    )
    assert repr(m) == repr(th)
    xd, xt = _df(x, device, True), _th(x, True)
    out, th_out = m(xd, _df(t, device)), th(xt, _th(t))
    assert_close(out, th_out.detach().numpy(), rtol=1e-7, atol=1e-9)
    out.sum().backward()
    th_out.sum().backward()
    assert_close(xd.grad, xt.grad.numpy(), rtol=1e-7, atol=1e-9)
    unbatched = F.multilabel_margin_loss(_df(x[0], device), _df(t[0], device), reduction=reduction)
    th_unbatched = torch.nn.functional.multilabel_margin_loss(
        _th(x[0]), _th(t[0]), reduction=reduction
    )
    assert tuple(unbatched.shape) == tuple(th_unbatched.shape)
    assert_close(unbatched, th_unbatched.numpy(), rtol=1e-7, atol=1e-9)


def test_multilabel_margin_loss_gradcheck(device):
    x = _df(R(1).standard_normal((3, 4)), device, True)
    t = _df(np.array([[2, 0, -1, 1], [3, -1, 0, 0], [1, 2, 3, 0]]), device)
    assert gradcheck(lambda a: F.multilabel_margin_loss(a, t), (x,))
    assert gradcheck(
        lambda a: F.multilabel_margin_loss(a, t, reduction="none"),
        (noncontig(x.detach()).requires_grad_(),),
    )


def test_multilabel_margin_loss_errors_match_torch():
    for lib, fn in (
        (df, F.multilabel_margin_loss),
        (torch, torch.nn.functional.multilabel_margin_loss),
    ):
        x = lib.randn(2, 4)
        for bad in ([[0, 5, -1, 0], [1, -1, 0, 0]], [[0, -1, -2, 0], [1, -1, 0, 0]]):
            with pytest.raises(RuntimeError, match="'target' is out of range"):
                fn(x, lib.tensor(bad))
        with pytest.raises(RuntimeError, match="inconsistent target size"):
            fn(x, lib.tensor([[0, 1, -1]]))
        with pytest.raises(RuntimeError, match="expected scalar type Long but found Int"):
            fn(x, lib.tensor([[0, 1, -1, 0], [1, -1, 0, 0]], dtype=lib.int32))
        with pytest.raises(RuntimeError, match="Expected non-empty vector or matrix"):
            fn(lib.randn(2, 3, 4), lib.zeros(2, 3, 4, dtype=lib.int64))


_LCE_CASES = [
    ({}, (3, 5), "class"),
    ({"bias": True, "label_smoothing": 0.1}, (4, 5), "class"),
    ({"out_features": (2,), "bias": True, "reduction": "sum"}, (3, 5), "class"),
    ({"reduction": "none", "ignore_index": 1}, (5,), "class"),
    ({"reduction": "mean"}, (3, 5), "prob"),
]


@pytest.mark.parametrize("kwargs,in_shape,target_kind", _LCE_CASES)
def test_linear_cross_entropy_loss_matches_torch(kwargs, in_shape, target_kind, device):
    in_features, num_classes = in_shape[-1], 4
    class_weight = R(7).uniform(0.5, 1.5, num_classes)
    m = nn.LinearCrossEntropyLoss(
        in_features, num_classes, dtype=df.float64, weight=df.tensor(class_weight), **kwargs
    ).to(device)
    th = torch.nn.LinearCrossEntropyLoss(
        in_features, num_classes, dtype=torch.float64, weight=torch.tensor(class_weight), **kwargs
    )
    assert repr(m) == repr(th)
    assert list(m.state_dict()) == list(th.state_dict())
    _copy_into_torch(m, th)
    out_features = kwargs.get("out_features", ())
    logits_shape = (*in_shape[:-1], num_classes, *out_features)
    if target_kind == "class":
        target = R(2).integers(0, num_classes, (*in_shape[:-1], *out_features))
    else:
        target = R(2).dirichlet(np.ones(num_classes), in_shape[:-1])
        assert target.shape == logits_shape
    x = R(3).standard_normal(in_shape)
    xd, xt = _df(x, device, True), _th(x, True)
    out, th_out = m(xd, _df(target, device)), th(xt, _th(target))
    assert_close(out, th_out.detach().numpy(), rtol=1e-7, atol=1e-9)
    out.sum().backward()
    th_out.sum().backward()
    assert_close(xd.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-9)
    assert_close(m.linear.weight.grad, th.linear.weight.grad.numpy(), rtol=1e-6, atol=1e-9)


def test_linear_cross_entropy_gradcheck(device):
    x = _df(R(0).standard_normal((3, 4)), device, True)
    w = _df(R(1).standard_normal((5, 2, 4)), device, True)
    b = _df(R(2).standard_normal((5, 2)), device, True)
    t = _df(R(3).integers(0, 5, (3, 2)), device)
    assert gradcheck(lambda a, c, d: F.linear_cross_entropy(a, c, t, linear_bias=d), (x, w, b))
    t1 = _df(R(4).integers(0, 5, (3,)), device)
    w1 = _df(R(5).standard_normal((4, 5)), device, True).t()
    assert gradcheck(lambda a, c: F.linear_cross_entropy(a, c, t1, label_smoothing=0.2), (x, w1))


def test_linear_cross_entropy_errors_match_torch():
    for lib, fn in (
        (df, F.linear_cross_entropy),
        (torch, torch.nn.functional.linear_cross_entropy),
    ):
        x, w, t = lib.randn(3, 4), lib.randn(5, 4), lib.zeros(3, dtype=lib.int64)
        with pytest.raises(RuntimeError, match="expected input with dimensionality 1 or 2"):
            fn(lib.randn(2, 3, 4), w, t)
        with pytest.raises(RuntimeError, match="expected linear_weight with dimensionality"):
            fn(x, lib.randn(4), t)
        with pytest.raises(RuntimeError, match="expected equal input and linear_weight"):
            fn(x, lib.randn(5, 3), t)
        with pytest.raises(RuntimeError, match="expected linear_bias shape"):
            fn(x, w, t, linear_bias=lib.randn(4))
        with pytest.raises(RuntimeError, match="requires batched input"):
            fn(lib.randn(4), lib.randn(5, 2, 4), lib.zeros(2, dtype=lib.int64))
        with pytest.raises(RuntimeError, match="ignore_index cannot be specified"):
            fn(x, w, lib.rand(3, 5), ignore_index=0)
    for lib in (nn, torch.nn):
        with pytest.raises(RuntimeError, match="expected weight shape"):
            lib.LinearCrossEntropyLoss(3, 4, weight=(df if lib is nn else torch).ones(3))
        with pytest.raises(RuntimeError, match="expected label_smoothing to be in range"):
            lib.LinearCrossEntropyLoss(3, 4, label_smoothing=1.5)
        with pytest.raises(ValueError, match="invalid acc_policy"):
            lib.LinearCrossEntropyOptions(acc_policy="fast")
        with pytest.raises(ValueError, match="batch_chunk_size must be positive"):
            lib.LinearCrossEntropyOptions(batch_chunk_size=0)


def test_linear_cross_entropy_options_give_the_same_loss():
    opts = nn.LinearCrossEntropyOptions(batch_chunk_size=2)
    x, w, t = df.randn(5, 4), df.randn(6, 4), df.tensor([0, 1, 2, 3, 4])
    assert_close(F.linear_cross_entropy(x, w, t, options=opts), F.linear_cross_entropy(x, w, t))
    with pytest.warns(UserWarning, match="``options`` ignored"):
        F.linear_cross_entropy(x, w, t, label_smoothing=0.1, options=opts)
