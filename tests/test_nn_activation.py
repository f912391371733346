"""Activations of deepforge.nn: forward vs numpy, float64 gradcheck on every device, values and
gradients vs PyTorch, in-place variants, module reprs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import assert_close, noncontig, to_np

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.autograd import gradcheck, gradgradcheck

SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def _erf(x):
    return np.vectorize(math.erf)(x)


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(x, 0)


# name: (call with a functional module F, numpy reference, kinks to keep away from)
ACTS = {
    "relu": (lambda F, x: F.relu(x), lambda x: np.maximum(x, 0), [0]),
    "relu6": (lambda F, x: F.relu6(x), lambda x: np.clip(x, 0, 6), [0, 6]),
    "leaky_relu": (lambda F, x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x), [0]),
    "elu": (lambda F, x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)), [0]),
    "selu": (
        lambda F, x: F.selu(x),
        lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(x)),
        [0],
    ),
    "celu": (
        lambda F, x: F.celu(x, 1.5),
        lambda x: np.where(x > 0, x, 1.5 * np.expm1(x / 1.5)),
        [0],
    ),
    "gelu": (lambda F, x: F.gelu(x), lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), []),
    "gelu_tanh": (
        lambda F, x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
        [],
    ),
    "silu": (lambda F, x: F.silu(x), lambda x: x * _sig(x), []),
    "mish": (lambda F, x: F.mish(x), lambda x: x * np.tanh(_softplus(x)), []),
    "sigmoid": (lambda F, x: F.sigmoid(x), _sig, []),
    "tanh": (lambda F, x: F.tanh(x), np.tanh, []),
    "hardtanh": (
        lambda F, x: F.hardtanh(x, -1.5, 2.0),
        lambda x: np.clip(x, -1.5, 2.0),
        [-1.5, 2.0],
    ),
    "hardsigmoid": (lambda F, x: F.hardsigmoid(x), lambda x: np.clip(x / 6 + 0.5, 0, 1), [-3, 3]),
    "hardswish": (lambda F, x: F.hardswish(x), lambda x: x * np.clip(x + 3, 0, 6) / 6, [-3, 3]),
    "softplus": (lambda F, x: F.softplus(x), _softplus, []),
    "softplus_beta": (
        lambda F, x: F.softplus(x, beta=2.0, threshold=3.0),
        lambda x: np.where(2 * x > 3, x, _softplus(2 * x) / 2),
        [1.5],
    ),
    "softsign": (lambda F, x: F.softsign(x), lambda x: x / (1 + np.abs(x)), [0]),
    "tanhshrink": (lambda F, x: F.tanhshrink(x), lambda x: x - np.tanh(x), []),
    "threshold": (
        lambda F, x: F.threshold(x, 0.5, -2.0),
        lambda x: np.where(x > 0.5, x, -2.0),
        [0.5],
    ),
    "logsigmoid": (lambda F, x: F.logsigmoid(x), lambda x: -_softplus(-x), []),
    "softshrink": (
        lambda F, x: F.softshrink(x, 0.5),
        lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)),
        [-0.5, 0.5],
    ),
    "hardshrink": (
        lambda F, x: F.hardshrink(x, 0.5),
        lambda x: np.where(np.abs(x) > 0.5, x, 0),
        [-0.5, 0.5],
    ),
    "rrelu_eval": (lambda F, x: F.rrelu(x, 0.1, 0.3), lambda x: np.where(x >= 0, x, 0.2 * x), [0]),
    "softmax": (
        lambda F, x: F.softmax(x, dim=1),
        lambda x: (
            np.exp(x - x.max(1, keepdims=True))
            / np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True)
        ),
        [],
    ),
    "log_softmax": (
        lambda F, x: F.log_softmax(x, dim=0),
        lambda x: x - x.max(0) - np.log(np.exp(x - x.max(0)).sum(0)),
        [],
    ),
    "softmin": (
        lambda F, x: F.softmin(x, dim=1),
        lambda x: (
            np.exp(-x - (-x).max(1, keepdims=True))
            / np.exp(-x - (-x).max(1, keepdims=True)).sum(1, keepdims=True)
        ),
        [],
    ),
    "glu": (lambda F, x: F.glu(x, dim=1), lambda x: x[:, :2] * _sig(x[:, 2:]), []),
}


def _input(kinks, shape=(3, 4), seed=0, scale=4.0):
    x = np.random.default_rng(seed).uniform(-scale, scale, shape)
    for k in kinks:
        near = np.abs(x - k) < 0.05
        x[near] = k + 0.1
    return x


@pytest.mark.parametrize("name", sorted(ACTS))
def test_forward_matches_numpy(name, device):
    fn, ref, kinks = ACTS[name]
    x = _input(kinks).astype(np.float32)
    out = fn(F, df.tensor(x, device=device))
    assert out.device == df.device(device)
    assert_close(out, ref(x.astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_gradcheck(name, device):
    fn, _, kinks = ACTS[name]
    x = df.tensor(_input(kinks, seed=1), dtype=df.float64, device=device)
    assert gradcheck(lambda t: fn(F, t), (x.requires_grad_(),))
    xn = noncontig(
        df.tensor(_input(kinks, seed=2), dtype=df.float64, device=device)
    ).requires_grad_()
    assert not xn.is_contiguous()
    assert gradcheck(lambda t: fn(F, t), (xn,))


@pytest.mark.parametrize(
    "name", ["elu", "selu", "mish", "softplus", "hardswish", "gelu", "glu", "leaky_relu"]
)
def test_gradgradcheck(name, device):
    fn, _, kinks = ACTS[name]
    x = df.tensor(
        _input(kinks, (2, 4), seed=3), dtype=df.float64, device=device, requires_grad=True
    )
    assert gradgradcheck(lambda t: fn(F, t), (x,))


@pytest.mark.parametrize("dtype,rtol", [("float32", 1e-5), ("float64", 1e-10)])
@pytest.mark.parametrize("name", sorted(ACTS))
def test_matches_torch(name, dtype, rtol):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    fn, _, kinks = ACTS[name]
    x = _input(kinks, (5, 4), seed=4).astype(dtype)
    g = np.random.default_rng(5).standard_normal(x.shape).astype(dtype)
    g = g[:, :2] if name == "glu" else g
    xd = df.tensor(x, requires_grad=True)
    yd = fn(F, xd)
    yd.backward(df.tensor(g))
    xt = torch.tensor(x, requires_grad=True)
    yt = fn(TF, xt)
    yt.backward(torch.tensor(g))
    assert_close(yd, yt.detach().numpy(), rtol=rtol, atol=rtol)
    # PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32, also for float64
    grtol = max(rtol, 1e-7) if name == "hardsigmoid" else rtol
    assert_close(xd.grad, xt.grad.numpy(), rtol=grtol, atol=grtol)


def test_gradient_at_kinks_matches_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    x = np.array([-3.0, -1.5, -0.5, 0.0, 0.5, 2.0, 3.0, 6.0])
    for name in (
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "selu",
        "celu",
        "hardtanh",
        "hardsigmoid",
        "hardswish",
        "softsign",
        "threshold",
        "softshrink",
        "hardshrink",
    ):
        fn = ACTS[name][0]
        xd = df.tensor(x, requires_grad=True)
        fn(F, xd).sum().backward()
        xt = torch.tensor(x, requires_grad=True)
        fn(TF, xt).sum().backward()
        tol = 1e-7 if name == "hardsigmoid" else 1e-12
        assert_close(xd.grad, xt.grad.numpy(), rtol=tol, atol=tol), name


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy's expm1 overflow in the CPU backend
def test_large_inputs_stay_finite():
    x = df.tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], requires_grad=True)
    for f in (F.softplus, F.logsigmoid, F.elu, F.selu, F.celu, F.mish, F.silu, F.sigmoid):
        y = f(x)
        y.sum().backward()
        assert np.isfinite(to_np(y)).all() or f is F.logsigmoid, f
        assert np.isfinite(to_np(x.grad)).all(), f
        x.grad = None
    assert_close(F.logsigmoid(x)[:2], [-1000.0, -50.0])


INPLACE = [
    ("relu", lambda x: F.relu(x, inplace=True), lambda F_, x: F_.relu(x)),
    ("relu_", lambda x: F.relu_(x), lambda F_, x: F_.relu(x)),
    ("relu6", lambda x: F.relu6(x, inplace=True), lambda F_, x: F_.relu6(x)),
    ("leaky_relu_", lambda x: F.leaky_relu_(x, 0.1), lambda F_, x: F_.leaky_relu(x, 0.1)),
    ("elu_", lambda x: F.elu_(x), lambda F_, x: F_.elu(x)),
    ("selu", lambda x: F.selu(x, inplace=True), lambda F_, x: F_.selu(x)),
    ("celu_", lambda x: F.celu_(x, 2.0), lambda F_, x: F_.celu(x, 2.0)),
    ("hardtanh_", lambda x: F.hardtanh_(x), lambda F_, x: F_.hardtanh(x)),
    ("threshold_", lambda x: F.threshold_(x, 0.1, 3.0), lambda F_, x: F_.threshold(x, 0.1, 3.0)),
    ("silu", lambda x: F.silu(x, inplace=True), lambda F_, x: F_.silu(x)),
    ("mish", lambda x: F.mish(x, inplace=True), lambda F_, x: F_.mish(x)),
    ("hardswish", lambda x: F.hardswish(x, inplace=True), lambda F_, x: F_.hardswish(x)),
    ("hardsigmoid", lambda x: F.hardsigmoid(x, inplace=True), lambda F_, x: F_.hardsigmoid(x)),
]


@pytest.mark.parametrize("name,inplace,ref", INPLACE, ids=[n for n, _, _ in INPLACE])
def test_inplace_variants(name, inplace, ref, device):
    x0 = _input([0, 0.1], (3, 4), seed=6)
    x = df.tensor(x0, dtype=df.float64, device=device)
    out = inplace(x)
    assert out is x
    assert_close(x, ref(F, df.tensor(x0, dtype=df.float64)), rtol=1e-12)
    # through autograd: the in-place op on a non-leaf gives the out-of-place gradient
    leaf = df.tensor(x0, dtype=df.float64, device=device, requires_grad=True)
    h = leaf * 1.0
    inplace(h).sum().backward()
    leaf2 = df.tensor(x0, dtype=df.float64, requires_grad=True)
    ref(F, leaf2).sum().backward()
    assert_close(leaf.grad, leaf2.grad, rtol=1e-12)


def test_inplace_on_leaf_requiring_grad_raises():
    x = df.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.relu(x, inplace=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        nn.ELU(inplace=True)(x)


def test_module_forward_equals_functional(device):
    x = df.tensor(_input([0], (2, 6), seed=7), dtype=df.float32, device=device)
    pairs = [
        (nn.ReLU(), F.relu(x)),
        (nn.ReLU6(), F.relu6(x)),
        (nn.LeakyReLU(0.3), F.leaky_relu(x, 0.3)),
        (nn.ELU(0.5), F.elu(x, 0.5)),
        (nn.SELU(), F.selu(x)),
        (nn.CELU(0.8), F.celu(x, 0.8)),
        (nn.GELU("tanh"), F.gelu(x, approximate="tanh")),
        (nn.SiLU(), F.silu(x)),
        (nn.Mish(), F.mish(x)),
        (nn.Sigmoid(), F.sigmoid(x)),
        (nn.Tanh(), F.tanh(x)),
        (nn.Hardtanh(-2, 2), F.hardtanh(x, -2, 2)),
        (nn.Hardsigmoid(), F.hardsigmoid(x)),
        (nn.Hardswish(), F.hardswish(x)),
        (nn.Softplus(2, 5), F.softplus(x, 2, 5)),
        (nn.Softsign(), F.softsign(x)),
        (nn.Tanhshrink(), F.tanhshrink(x)),
        (nn.Threshold(0.2, 9), F.threshold(x, 0.2, 9)),
        (nn.Softmax(dim=1), F.softmax(x, 1)),
        (nn.LogSoftmax(1), F.log_softmax(x, 1)),
        (nn.Softmin(0), F.softmin(x, 0)),
        (nn.GLU(), F.glu(x)),
        (nn.LogSigmoid(), F.logsigmoid(x)),
        (nn.Softshrink(0.3), F.softshrink(x, 0.3)),
        (nn.Hardshrink(0.3), F.hardshrink(x, 0.3)),
        (nn.RReLU().eval(), F.rrelu(x)),
    ]
    for m, expected in pairs:
        assert_close(m(x), expected, rtol=1e-6), m


def test_prelu_matches_torch():
    torch = pytest.importorskip("torch")
    x = _input([0], (2, 3, 4), seed=8)
    for n in (1, 3):
        m = nn.PReLU(n).double()
        mt = torch.nn.PReLU(n).double()
        assert_close(m.weight, mt.weight.detach().numpy())
        xd = df.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        m(xd).square().sum().backward()
        mt(xt).square().sum().backward()
        assert_close(xd.grad, xt.grad.numpy(), rtol=1e-10)
        assert_close(m.weight.grad, mt.weight.grad.numpy(), rtol=1e-10)
    w = df.tensor([0.1, 0.2, 0.3], dtype=df.float64, requires_grad=True)
    assert gradcheck(F.prelu, (df.tensor(x[:, :, :2], requires_grad=True), w))
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        F.prelu(df.randn(2, 3), df.randn(4))


def test_rrelu_training_uses_random_slopes_in_range():
    df.manual_seed(3)
    x = -df.rand(1000) - 0.1
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slope = to_np(y / x)
    assert slope.min() >= 0.1 - 1e-6 and slope.max() <= 0.3 + 1e-6 and slope.std() > 0.03
    df.manual_seed(4)
    y1 = F.rrelu(x, 0.1, 0.3, training=True)
    df.manual_seed(4)
    assert_close(F.rrelu(x, 0.1, 0.3, training=True), y1)


def test_bad_arguments():
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(df.randn(2), approximate="foo")
    with pytest.raises(
        RuntimeError, match="Halving dimension must be even, but dimension 1 is size 3"
    ):
        F.glu(df.randn(2, 3))
    with pytest.raises(RuntimeError, match="glu does not support scalars"):
        F.glu(df.tensor(1.0))


def test_softmax_implicit_dim_warns():
    x = df.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(x)
    assert_close(y, F.softmax(x, 1))
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        nn.LogSoftmax()(df.randn(3))


def test_module_reprs_match_torch():
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    specs = [
        ("ReLU", (), {}),
        ("ReLU", (True,), {}),
        ("ReLU6", (), {}),
        ("ReLU6", (True,), {}),
        ("LeakyReLU", (), {}),
        ("LeakyReLU", (0.2, True), {}),
        ("PReLU", (), {}),
        ("PReLU", (3,), {}),
        ("ELU", (), {}),
        ("ELU", (0.5, True), {}),
        ("SELU", (), {}),
        ("SELU", (True,), {}),
        ("CELU", (), {}),
        ("GELU", (), {}),
        ("GELU", ("tanh",), {}),
        ("SiLU", (True,), {}),
        ("Mish", (), {}),
        ("Sigmoid", (), {}),
        ("Tanh", (), {}),
        ("Hardtanh", (), {}),
        ("Hardtanh", (-2, 2, True), {}),
        ("Hardsigmoid", (True,), {}),
        ("Hardswish", (), {}),
        ("Softplus", (), {}),
        ("Softplus", (2, 10), {}),
        ("Softsign", (), {}),
        ("Tanhshrink", (), {}),
        ("Threshold", (0.1, 20), {}),
        ("Threshold", (0.1, 20, True), {}),
        ("Softmax", (), {}),
        ("Softmax", (1,), {}),
        ("LogSoftmax", (), {"dim": 1}),
        ("Softmin", (0,), {}),
        ("Softmax2d", (), {}),
        ("GLU", (), {}),
        ("LogSigmoid", (), {}),
        ("Softshrink", (), {}),
        ("Hardshrink", (0.3,), {}),
        ("RReLU", (), {}),
        ("RReLU", (0.1, 0.3, True), {}),
    ]
    for name, args, kwargs in specs:
        assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(tnn, name)(*args, **kwargs))
    assert nn.modules.activation.ReLU is nn.ReLU


def test_gumbel_softmax():
    logits = df.tensor(np.log([[0.7, 0.2, 0.1]] * 2000), requires_grad=True)
    df.manual_seed(0)
    soft = F.gumbel_softmax(logits, tau=0.5)
    assert_close(soft.sum(1), np.ones(2000), rtol=1e-5)
    df.manual_seed(0)
    hard = F.gumbel_softmax(logits, tau=0.5, hard=True)
    h = to_np(hard)
    assert set(np.unique(h)) == {0.0, 1.0} and (h.sum(1) == 1).all()
    assert (h.argmax(1) == to_np(soft).argmax(1)).all()
    assert abs(h[:, 0].mean() - 0.7) < 0.04  # samples follow softmax(logits)
    (hard * df.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert logits.grad is not None and np.isfinite(to_np(logits.grad)).all()
