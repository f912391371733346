"""PyTorch's less common nn layers: lazy layers, SyncBatchNorm, CrossMapLRN2d, fractional max
pooling and 3-d LP pooling (the losses are in test_nn_parity_loss.py).

Values and gradients are compared with PyTorch (same weights copied in) on every device, the
new functional ops pass float64 gradcheck, and bad input raises PyTorch's exception type.
"""

from __future__ import annotations

import copy
import importlib

import numpy as np
import pytest
from helpers import assert_close, noncontig

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.autograd import gradcheck
from deepforge.nn.parameter import (
    UninitializedBuffer,
    UninitializedParameter,
    UninitializedTensorMixin,
    is_lazy,
)

torch = pytest.importorskip("torch")

R = np.random.default_rng

_MODULES = ["conv", "batchnorm", "instancenorm", "normalization", "pooling", "loss", "container"]


def _df(a, device, requires_grad=False):
    return df.tensor(a, device=device, requires_grad=requires_grad)


def _th(a, requires_grad=False):
    return torch.tensor(a, requires_grad=requires_grad)


def _copy_into_torch(df_module, th_module):
    state = {k: torch.tensor(v.detach().cpu().numpy()) for k, v in df_module.state_dict().items()}
    th_module.load_state_dict(state)


@pytest.mark.parametrize("name", _MODULES)
def test_torch_module_names_exist(name):
    th_mod = importlib.import_module("torch.nn.modules." + name)
    df_mod = importlib.import_module("deepforge.nn.modules." + name)
    missing = [n for n in th_mod.__all__ if not hasattr(df_mod, n)]
    assert missing == []
    assert [n for n in th_mod.__all__ if not hasattr(nn, n)] == []


def test_parameter_names_exist():
    for name in ("UninitializedParameter", "UninitializedBuffer", "UninitializedTensorMixin"):
        assert hasattr(nn.parameter, name)
    assert nn.UninitializedBuffer is UninitializedBuffer


# -- lazy modules ---------------------------------------------------------------------------------
_LAZY_CASES = [
    ("LazyConv1d", (4, 3), {"padding": 1}, (2, 3, 7)),
    ("LazyConv2d", (4, 3), {"stride": 2, "bias": False}, (2, 3, 6, 5)),
    ("LazyConv2d", (4, 2), {"groups": 2}, (4, 5, 5)),
    ("LazyConv3d", (2, 2), {}, (1, 2, 4, 3, 4)),
    ("LazyConvTranspose1d", (3, 3), {"stride": 2}, (2, 2, 5)),
    ("LazyConvTranspose2d", (4, 2), {"groups": 2, "output_padding": 1, "stride": 2}, (1, 2, 3, 4)),
    ("LazyConvTranspose3d", (2, 2), {}, (1, 3, 3, 2, 3)),
    ("LazyBatchNorm1d", (), {}, (4, 3)),
    ("LazyBatchNorm1d", (), {"momentum": None}, (4, 3, 5)),
    ("LazyBatchNorm2d", (), {"affine": False}, (3, 2, 3, 4)),
    ("LazyBatchNorm3d", (), {"track_running_stats": False}, (2, 3, 2, 3, 2)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 6)),
    ("LazyInstanceNorm2d", (), {"affine": False}, (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), {"bias": False}, (2, 2, 3, 3, 3)),
]


@pytest.mark.parametrize("cls_name,args,kwargs,shape", _LAZY_CASES)
def test_lazy_module_matches_eager_and_torch(cls_name, args, kwargs, shape, device):
    lazy = getattr(nn, cls_name)(*args, **kwargs, device=device, dtype=df.float64)
    th_lazy = getattr(torch.nn, cls_name)(*args, **kwargs, dtype=torch.float64)
    assert repr(lazy) == repr(th_lazy)
    assert lazy.has_uninitialized_params()
    assert list(lazy.state_dict()) == list(th_lazy.state_dict())
    x = R(0).standard_normal(shape)
    xd, xt = _df(x, device, True), _th(x, True)
    out = lazy(xd)  # the first call infers the shapes and becomes the eager class
    eager_name = cls_name[len("Lazy") :]
    assert type(lazy) is getattr(nn, eager_name)
    assert not any(is_lazy(t) for t in [*lazy.parameters(), *lazy.buffers()])
    eager_args, eager_kwargs = _eager_signature(lazy, cls_name, args, kwargs)
    eager = getattr(nn, eager_name)(*eager_args, **eager_kwargs)
    assert repr(eager) == repr(lazy)
    assert list(eager.state_dict()) == list(lazy.state_dict())
    for key, value in eager.state_dict().items():
        assert tuple(value.shape) == tuple(lazy.state_dict()[key].shape)
    # PyTorch's eager layer with deepforge's weights and the initial statistics: the first
    # forward (training mode) must give the same output, gradient and updated statistics
    th = getattr(torch.nn, eager_name)(*eager_args, **eager_kwargs, dtype=torch.float64)
    _copy_into_torch(lazy, th)
    if getattr(th, "track_running_stats", False):
        th.reset_running_stats()
    th_out = th(xt)
    assert_close(out, th_out.detach().numpy(), rtol=1e-7, atol=1e-9)
    g = R(1).standard_normal(tuple(th_out.shape))
    out.backward(_df(g, device))
    th_out.backward(_th(g))
    assert_close(xd.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-8)
    for key, value in th.state_dict().items():
        assert_close(lazy.state_dict()[key], value.numpy(), rtol=1e-7, atol=1e-9)


def _eager_signature(module, cls_name, args, kwargs):
    if "Conv" in cls_name:
        return (module.in_channels,) + tuple(args), dict(kwargs)
    # the lazy norms default to affine=True, track_running_stats=True, unlike InstanceNorm
    eager_kwargs = dict(
        kwargs, affine=module.affine, track_running_stats=module.track_running_stats
    )
    return (module.num_features,), eager_kwargs


def test_lazy_conv_errors_match_torch():
    for lib in (nn, torch.nn):
        with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D"):
            lib.LazyConv2d(4, 3)(_rand(lib, (2, 5, 5, 5, 5)))
        with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
            lib.LazyConv2d(4, 3, groups=2)(_rand(lib, (2, 3, 5, 5)))
        bn = lib.LazyBatchNorm2d()
        with pytest.raises(ValueError, match="expected 4D input"):
            bn(_rand(lib, (2, 3, 4)))
        with pytest.raises(ValueError, match="to match num_features"):
            lib.LazyInstanceNorm1d()(_rand(lib, (3, 5)))


def _rand(lib, shape):
    return torch.randn(*shape) if lib is torch.nn else df.randn(*shape)


def test_lazy_load_state_dict_materialises(device):
    eager = nn.Conv2d(3, 4, 2, device=device)
    lazy = nn.LazyConv2d(4, 2, device=device)
    lazy.load_state_dict(eager.state_dict())
    assert not lazy.has_uninitialized_params()
    x = df.randn(1, 3, 4, 4, device=device)
    assert_close(lazy(x), eager(x))
    assert type(lazy) is nn.Conv2d
    bn = nn.LazyBatchNorm1d(device=device)
    bn.load_state_dict(nn.BatchNorm1d(5).to(device).state_dict())
    assert tuple(bn.running_mean.shape) == (5,)


def test_lazy_buffers_survive_conversion():
    bn = nn.LazyBatchNorm2d().double()
    assert isinstance(bn.running_mean, UninitializedBuffer)
    assert bn.running_mean.dtype == df.float64 and bn.weight.dtype == df.float64
    bn(df.randn(2, 3, 2, 2, dtype=df.float64))
    assert bn.running_mean.dtype == df.float64
    assert type(bn.running_mean) is df.Tensor
    assert tuple(bn.running_var.shape) == (3,)


def test_uninitialized_tensors_behave_like_torch():
    for cls, th_cls in (
        (UninitializedParameter, torch.nn.UninitializedParameter),
        (UninitializedBuffer, torch.nn.UninitializedBuffer),
    ):
        t, tt = cls(), th_cls()
        assert repr(t) == repr(tt)
        assert is_lazy(t) and isinstance(t, UninitializedTensorMixin)
        assert t.requires_grad == tt.requires_grad
        for obj in (t, tt):
            with pytest.raises(RuntimeError, match="Can't access the shape"):
                obj.shape  # noqa: B018
        c = copy.deepcopy(t)
        assert type(c) is cls and c is not t
        t.materialize((2, 3))
        assert not is_lazy(t) and tuple(t.shape) == (2, 3)
    assert UninitializedBuffer()._is_buffer
    assert UninitializedBuffer(persistent=False).persistent is False


# -- SyncBatchNorm --------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 2, 2, 2, 2)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_sync_batchnorm_matches_torch(shape, momentum, device):
    m = nn.SyncBatchNorm(3, momentum=momentum, device=device, dtype=df.float64)
    th = torch.nn.SyncBatchNorm(3, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        th.weight.uniform_(0.5, 1.5)
        th.bias.uniform_(-0.5, 0.5)
    m.load_state_dict({k: _df(v.numpy(), device) for k, v in th.state_dict().items()})
    assert repr(m) == repr(th)
    for step in range(2):
        x = R(step).standard_normal(shape)
        xd, xt = _df(x, device, True), _th(x, True)
        out, th_out = m(xd), th(xt)
        assert_close(out, th_out.detach().numpy(), rtol=1e-7, atol=1e-9)
        g = R(9).standard_normal(shape)
        out.backward(_df(g, device))
        th_out.backward(_th(g))
        assert_close(xd.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-8)
    for key, value in th.state_dict().items():
        assert_close(m.state_dict()[key], value.numpy(), rtol=1e-7, atol=1e-9)
    m.eval()
    th.eval()
    x = R(5).standard_normal(shape)
    assert_close(m(_df(x, device)), th(_th(x)).detach().numpy(), rtol=1e-7, atol=1e-9)


def test_sync_batchnorm_errors_match_torch():
    for lib, rand in ((nn, df.randn), (torch.nn, torch.randn)):
        with pytest.raises(ValueError, match="expected at least 2D input \\(got 1D input\\)"):
            lib.SyncBatchNorm(3)(rand(3))
        with pytest.raises(ValueError, match="number of input channels should be non-zero"):
            lib.SyncBatchNorm(3)(rand(2, 0, 4))


def test_convert_sync_batchnorm():
    net = nn.Sequential(
        nn.Linear(3, 3),
        nn.BatchNorm1d(3),
        nn.Sequential(nn.BatchNorm2d(3, affine=False), nn.ReLU()),
    )
    net[1].eval()
    bn_weight, bn_mean = net[1].weight, net[1].running_mean
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(net, process_group="group")
    th_net = torch.nn.Sequential(
        torch.nn.Linear(3, 3),
        torch.nn.BatchNorm1d(3),
        torch.nn.Sequential(torch.nn.BatchNorm2d(3, affine=False), torch.nn.ReLU()),
    )
    th_converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(th_net)
    assert repr(converted) == repr(th_converted)
    assert type(converted[1]) is nn.SyncBatchNorm and converted[1].process_group == "group"
    assert converted[1].weight is bn_weight and converted[1].running_mean is bn_mean
    assert converted[1].training is False
    assert list(converted.state_dict()) == list(th_converted.state_dict())
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm3d(2, bias=False))
    assert type(single) is nn.SyncBatchNorm and single.bias is None


# -- CrossMapLRN2d --------------------------------------------------------------------------------
@pytest.mark.parametrize("size,channels", [(1, 3), (2, 4), (3, 6), (4, 5), (5, 9)])
def test_cross_map_lrn2d_forward_matches_torch(size, channels, device):
    x = R(size).standard_normal((2, channels, 3, 2))
    m, th = nn.CrossMapLRN2d(size, 0.3, 0.7, 1.5), torch.nn.CrossMapLRN2d(size, 0.3, 0.7, 1.5)
    assert repr(m) == repr(th)
    assert_close(m(_df(x, device)), th(_th(x)).numpy(), rtol=1e-7, atol=1e-9)


def test_cross_map_lrn2d_gradcheck(device):
    m = nn.CrossMapLRN2d(3, alpha=0.5, beta=0.75, k=1.0)
    x = _df(R(2).standard_normal((1, 5, 2, 2)), device, True)
    assert gradcheck(m, (x,))
    assert gradcheck(m, (noncontig(x.detach()).requires_grad_(),))


def test_cross_map_lrn2d_rejects_non_4d():
    for lib, rand in ((nn, df.randn), (torch.nn, torch.randn)):
        with pytest.raises(ValueError, match="Expected input to be 4D, got 3D"):
            lib.CrossMapLRN2d(3)(rand(2, 3, 4))


# -- fractional max pooling -----------------------------------------------------------------------
_FRACTIONAL_CASES = [
    (2, (2, 3, 9, 8), (2, 3), {"output_size": (5, 4)}),
    (2, (3, 10, 7), 3, {"output_size": (4, 3)}),
    (2, (1, 2, 8, 8), 2, {"output_ratio": 0.5}),
    (3, (2, 2, 7, 8, 9), (2, 3, 2), {"output_size": (4, 3, 5)}),
    (3, (2, 6, 5, 7), 2, {"output_ratio": (0.5, 0.6, 0.4)}),
]


@pytest.mark.parametrize("nd,shape,kernel,size_kw", _FRACTIONAL_CASES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fractional_max_pool_matches_torch(nd, shape, kernel, size_kw, dtype, device):
    x = R(0).standard_normal(shape).astype(dtype)
    n = shape[0] if len(shape) == nd + 2 else 1
    samples = R(1).random((n, shape[-nd - 1], nd)).astype(dtype)
    xd, xt = _df(x, device, True), _th(x, True)
    m = getattr(nn, f"FractionalMaxPool{nd}d")(
        kernel, return_indices=True, _random_samples=_df(samples, device), **size_kw
    )
    th = getattr(torch.nn, f"FractionalMaxPool{nd}d")(
        kernel, return_indices=True, _random_samples=_th(samples), **size_kw
    )
    assert repr(m) == repr(th)
    assert list(m.state_dict()) == list(th.state_dict()) == ["_random_samples"]
    (out, idx), (th_out, th_idx) = m(xd), th(xt)
    assert_close(out, th_out.detach().numpy(), rtol=0, atol=0)
    assert np.array_equal(idx.cpu().numpy(), th_idx.numpy())
    g = R(2).standard_normal(tuple(th_out.shape)).astype(dtype)
    out.backward(_df(g, device))
    th_out.backward(_th(g))
    assert_close(xd.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_fractional_max_pool_random_samples_drawn(device):
    x = df.randn(2, 3, 8, 8, device=device)
    out = F.fractional_max_pool2d(x, 2, output_ratio=0.5)
    assert tuple(out.shape) == (2, 3, 4, 4)
    out, idx = F.fractional_max_pool3d_with_indices(
        df.randn(2, 5, 5, 5, device=device), 2, output_size=3
    )
    assert tuple(out.shape) == tuple(idx.shape) == (2, 3, 3, 3)
    assert idx.dtype == df.int64


@pytest.mark.parametrize("nd", [2, 3])
def test_fractional_max_pool_gradcheck(nd, device):
    shape = (1, 2, 5, 4) if nd == 2 else (2, 4, 4, 3)
    fn = F.fractional_max_pool2d if nd == 2 else F.fractional_max_pool3d
    x = _df(R(3).standard_normal(shape), device, True)
    samples = _df(R(4).random((1, shape[-nd - 1], nd)), device)

    def pool(t):
        return fn(t, 2, output_size=3 if nd == 2 else 2, _random_samples=samples)

    assert gradcheck(pool, (x,))
    assert gradcheck(pool, (noncontig(x.detach()).requires_grad_(),))


def test_fractional_max_pool_errors_match_torch():
    for fn, rand in (
        (F.fractional_max_pool2d, df.randn),
        (torch.nn.functional.fractional_max_pool2d, torch.randn),
    ):
        x = rand(2, 3, 7, 6)
        with pytest.raises(RuntimeError, match="pool height 3 too large relative to input height"):
            fn(x, 3, output_size=(6, 4))
        with pytest.raises(RuntimeError, match="same dtype as input"):
            fn(x, 3, output_size=3, _random_samples=rand(2, 3, 2).double())
        with pytest.raises(RuntimeError, match="size\\(2\\) equals to 2"):
            fn(x, 3, output_size=3, _random_samples=rand(2, 3, 3))
        with pytest.raises(RuntimeError, match="no less then input batch size"):
            fn(x, 3, output_size=3, _random_samples=rand(1, 3, 2))
        with pytest.raises(ValueError, match="requires specifying either"):
            fn(x, 3)
        with pytest.raises(IndexError):
            fn(rand(7, 6), 3, output_size=3)
    for lib in (nn, torch.nn):
        with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
            lib.FractionalMaxPool2d(2, output_ratio=1.5)
        with pytest.raises(ValueError, match="kernel_size must be greater than 0"):
            lib.FractionalMaxPool3d(0, output_ratio=0.5)
        with pytest.raises(ValueError, match="only one of output_size and output_ratio"):
            lib.FractionalMaxPool3d(2, output_ratio=0.5, output_size=2)


# -- LPPool3d -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "norm,kernel,stride,ceil", [(2, 2, None, False), (3.0, (2, 1, 2), 1, False), (1, 2, 2, True)]
)
def test_lppool3d_matches_torch(norm, kernel, stride, ceil, device):
    x = R(0).uniform(0.1, 2.0, (2, 2, 4, 3, 5))
    m, th = nn.LPPool3d(norm, kernel, stride, ceil), torch.nn.LPPool3d(norm, kernel, stride, ceil)
    assert repr(m) == repr(th)
    xd, xt = _df(x, device, True), _th(x, True)
    out, th_out = m(xd), th(xt)
    assert_close(out, th_out.detach().numpy(), rtol=1e-7, atol=1e-9)
    out.sum().backward()
    th_out.sum().backward()
    assert_close(xd.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-8)


def test_lp_pool3d_gradcheck(device):
    x = _df(R(1).uniform(0.5, 1.5, (1, 2, 3, 2, 3)), device, True)
    assert gradcheck(lambda t: F.lp_pool3d(t, 2.0, 2, 1), (x,))
    assert gradcheck(
        lambda t: F.lp_pool3d(t, 3, (1, 2, 2)), (noncontig(x.detach()).requires_grad_(),)
    )
