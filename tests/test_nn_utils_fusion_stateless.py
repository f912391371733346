"""nn.utils conv/linear + BatchNorm fusion, skip_init, the conv weight memory-format
converters, and functional_call (nn.utils.stateless and deepforge.func)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, to_np

import deepforge as df
import deepforge.nn as nn
from deepforge.nn import utils as U
from deepforge.nn.utils import parametrize as P


def _rng(seed=0):
    return np.random.default_rng(seed)


def _randomize_bn(bn, seed):
    rng = _rng(seed)
    n = bn.num_features
    with df.no_grad():
        bn.running_mean.copy_(df.tensor(rng.standard_normal(n), dtype=bn.running_mean.dtype))
        bn.running_var.copy_(df.tensor(rng.uniform(0.5, 2.0, n), dtype=bn.running_var.dtype))
        if bn.weight is not None:
            bn.weight.copy_(df.tensor(rng.standard_normal(n), dtype=bn.weight.dtype))
            bn.bias.copy_(df.tensor(rng.standard_normal(n), dtype=bn.bias.dtype))
    return bn.eval()


# -- fusion -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "conv,bn,shape,transpose",
    [
        (lambda: nn.Conv2d(3, 4, 3, bias=False), lambda: nn.BatchNorm2d(4), (2, 3, 6, 6), False),
        (lambda: nn.Conv1d(2, 3, 2), lambda: nn.BatchNorm1d(3, affine=False), (2, 2, 5), False),
        (lambda: nn.Conv3d(2, 2, 2), lambda: nn.BatchNorm3d(2), (1, 2, 3, 3, 3), False),
        (lambda: nn.ConvTranspose2d(3, 4, 2), lambda: nn.BatchNorm2d(4), (2, 3, 4, 4), True),
    ],
)
def test_fuse_conv_bn_eval_equals_conv_then_bn(conv, bn, shape, transpose):
    c = conv().double().eval()
    b = _randomize_bn(bn().double(), 1)
    x = df.tensor(_rng(2).standard_normal(shape))
    fused = U.fuse_conv_bn_eval(c, b, transpose=transpose)
    assert type(fused) is type(c) and fused is not c
    assert isinstance(fused.weight, nn.Parameter) and isinstance(fused.bias, nn.Parameter)
    assert_close(to_np(fused(x)), to_np(b(c(x))), rtol=1e-10, atol=1e-12)
    # the original conv is untouched
    assert (c.bias is None) == (conv().bias is None)


def test_fuse_conv_bn_weights_match_torch():
    torch = pytest.importorskip("torch")
    rng = _rng(3)
    arrays = [rng.standard_normal(s) for s in [(4, 3, 3, 3), (4,), (4,), (4,), (4,), (4,)]]
    arrays[3] = np.abs(arrays[3]) + 0.5
    tw = [torch.tensor(a) for a in arrays]
    dw = [df.tensor(a) for a in arrays]
    for transpose in (False, True):
        conv_t = tw[0].transpose(0, 1).contiguous() if transpose else tw[0]
        conv_d = dw[0].transpose(0, 1).contiguous() if transpose else dw[0]
        t_w, t_b = torch.nn.utils.fuse_conv_bn_weights(
            conv_t, tw[1], tw[2], tw[3], 1e-5, tw[4], tw[5], transpose
        )
        d_w, d_b = U.fuse_conv_bn_weights(
            conv_d, dw[1], dw[2], dw[3], 1e-5, dw[4], dw[5], transpose
        )
        assert isinstance(d_w, nn.Parameter) and d_w.requires_grad is t_w.requires_grad
        assert_close(to_np(d_w), t_w.detach().numpy(), rtol=1e-12)
        assert_close(to_np(d_b), t_b.detach().numpy(), rtol=1e-12)
    d_w, d_b = U.fuse_conv_bn_weights(dw[0], None, dw[2], dw[3], 1e-5, None, None)
    t_w, t_b = torch.nn.utils.fuse_conv_bn_weights(tw[0], None, tw[2], tw[3], 1e-5, None, None)
    assert_close(to_np(d_b), t_b.detach().numpy(), rtol=1e-12)
    assert_close(to_np(d_w), t_w.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("features", [4, 1])
def test_fuse_linear_bn_eval(features):
    torch = pytest.importorskip("torch")
    lin = nn.Linear(3, 4).double().eval()
    b = _randomize_bn(nn.BatchNorm1d(features).double(), 4)
    x = df.tensor(_rng(5).standard_normal((5, 3)))
    fused = U.fuse_linear_bn_eval(lin, b)
    expected = b(lin(x)) if features == 4 else b(lin(x).unsqueeze(1)).squeeze(1)
    assert_close(to_np(fused(x)), to_np(expected), rtol=1e-10, atol=1e-12)
    tl = torch.nn.Linear(3, 4).double().eval()
    tb = torch.nn.BatchNorm1d(features).double().eval()
    tl.load_state_dict({k: torch.tensor(to_np(v)) for k, v in lin.state_dict().items()})
    tb.load_state_dict({k: torch.tensor(to_np(v)) for k, v in b.state_dict().items()})
    t_fused = torch.nn.utils.fuse_linear_bn_eval(tl, tb)
    assert_close(to_np(fused.weight), t_fused.weight.detach().numpy(), rtol=1e-12)
    assert_close(to_np(fused.bias), t_fused.bias.detach().numpy(), rtol=1e-12)


def test_fusion_errors():
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        U.fuse_conv_bn_eval(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2).eval())
    with pytest.raises(AssertionError, match="linear.out_features == bn.num_features"):
        U.fuse_linear_bn_eval(nn.Linear(2, 3).eval(), nn.BatchNorm1d(2).eval())
    with pytest.raises(AssertionError, match="running_mean"):
        U.fuse_conv_bn_eval(
            nn.Conv2d(1, 2, 1).eval(), nn.BatchNorm2d(2, track_running_stats=False).eval()
        )


# -- skip_init and memory formats -------------------------------------------------------------
def test_skip_init(device):
    m = U.skip_init(nn.Linear, 3, 5, device=device, dtype=df.float64)
    assert type(m) is nn.Linear
    assert tuple(m.weight.shape) == (5, 3) and m.weight.dtype == df.float64
    assert m.weight.device == df.device(device) and isinstance(m.weight, nn.Parameter)
    assert m(df.zeros(2, 3, dtype=df.float64, device=device)).shape == (2, 5)
    with pytest.raises(RuntimeError, match="Expected a Module"):
        U.skip_init(int)

    class NoDevice(nn.Module):
        def __init__(self):
            super().__init__()

    with pytest.raises(RuntimeError, match="must support a 'device' arg"):
        U.skip_init(NoDevice)


def test_convert_conv_weight_memory_format_keeps_values():
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Sequential(nn.ConvTranspose2d(3, 2, 2)))
    net3 = nn.Sequential(nn.Conv3d(1, 2, 2), nn.Linear(2, 2))
    x = df.randn(1, 2, 6, 6)
    before = to_np(net(x))
    weights = [m.weight for m in (net[0], net[1][0])]
    assert U.convert_conv2d_weight_memory_format(net, df.channels_last) is net
    assert U.convert_conv3d_weight_memory_format(net3, df.channels_last_3d) is net3
    assert U.convert_conv2d_weight_memory_format(net, df.contiguous_format) is net
    with pytest.raises(TypeError, match="must be torch.memory_format, not str"):
        U.convert_conv2d_weight_memory_format(net, "channels_last")
    # the same Parameter objects (an optimizer keeps working) with the same values
    assert [m.weight for m in (net[0], net[1][0])] == weights
    assert all(w.is_contiguous() for w in weights)
    assert_close(to_np(net(x)), before, rtol=0, atol=0)


# -- functional_call --------------------------------------------------------------------------
class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.register_buffer("scale", df.ones(2))

    def forward(self, x, shift=0.0):
        return self.lin(x) * self.scale + shift


def _functional_calls():
    import warnings

    def stateless_call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return U.stateless.functional_call(*args, **kwargs)

    return [df.func.functional_call, stateless_call]


@pytest.mark.parametrize("call", _functional_calls())
def test_functional_call_swaps_params_and_buffers(call):
    m = _Net()
    before = {k: to_np(v).copy() for k, v in m.state_dict().items()}
    objects = dict(m.named_parameters())
    new_w = df.randn(2, 3, requires_grad=True)
    new_scale = df.tensor([2.0, -1.0])
    x = df.randn(4, 3)
    out = call(m, {"lin.weight": new_w, "scale": new_scale}, (x,), {"shift": 1.0})
    expected = (x @ new_w.detach().T + m.lin.bias.detach()) * new_scale + 1.0
    assert_close(to_np(out), to_np(expected), rtol=1e-6)
    # gradients flow to the given tensor, not to the module's parameter
    out.sum().backward()
    assert new_w.grad is not None and m.lin.weight.grad is None
    assert m.lin.bias.grad is not None  # not replaced: the module's own bias was used
    # the module is restored: same objects, same values
    assert dict(m.named_parameters()) == objects
    assert m.scale is m._buffers["scale"] and isinstance(m.lin.weight, nn.Parameter)
    for k, v in m.state_dict().items():
        assert_close(to_np(v), before[k], rtol=0, atol=0)
    # a single non-tuple argument is passed as one positional argument
    assert_close(to_np(call(m, {}, x)), to_np(m(x)))


def test_functional_call_matches_torch_and_strict_and_tied():
    torch = pytest.importorskip("torch")
    tm = torch.nn.Linear(3, 2).double()
    dm = nn.Linear(3, 2).double()
    params_t = {"weight": torch.randn(2, 3, dtype=torch.float64), "bias": torch.zeros(2).double()}
    params_d = {k: df.tensor(v.numpy()) for k, v in params_t.items()}
    x = np.random.default_rng(0).standard_normal((4, 3))
    yt = torch.func.functional_call(tm, params_t, (torch.tensor(x),))
    yd = df.func.functional_call(dm, params_d, (df.tensor(x),))
    assert_close(to_np(yd), yt.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"Missing key\(s\): 'bias'"):
        df.func.functional_call(dm, {"weight": params_d["weight"]}, df.tensor(x), strict=True)
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\): 'extra'"):
        df.func.functional_call(dm, {**params_d, "extra": df.zeros(1)}, df.tensor(x), strict=True)
    yd2 = df.func.functional_call(
        dm, [{"weight": params_d["weight"]}, {"bias": params_d["bias"]}], df.tensor(x)
    )
    assert_close(to_np(yd2), yt.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        df.func.functional_call(dm, [params_d, params_d], df.tensor(x))

    # tied weights: replacing one name replaces both uses unless tie_weights=False
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2, bias=False)
            self.b = nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    m = Tied()
    w = df.eye(2) * 2
    z = df.ones(1, 2)
    assert_close(to_np(df.func.functional_call(m, {"a.weight": w}, z)), np.full((1, 2), 4.0))
    untied = df.func.functional_call(m, {"a.weight": w}, z, tie_weights=False)
    assert_close(to_np(untied), to_np(m.b(z * 2)), rtol=1e-6)
    assert m.b.weight is m.a.weight


def test_functional_call_on_parametrized_module():
    class Double(nn.Module):
        def forward(self, X):
            return 2 * X

    m = nn.Linear(2, 2)
    P.register_parametrization(m, "weight", Double())
    orig = df.eye(2)
    out = df.func.functional_call(m, {"parametrizations.weight.original": orig}, df.ones(1, 2))
    assert_close(to_np(out), to_np(df.ones(1, 2) * 2 + m.bias.detach()))
    assert m.parametrizations.weight.original is not orig
