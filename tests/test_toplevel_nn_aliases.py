"""``deepforge.<nn op>`` (``torch.conv2d``, ``torch.layer_norm``, ...) with ATen's signatures,
and the process-wide switches (anomaly mode, matmul precision, deterministic debug mode)."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from helpers import assert_close

import deepforge as df

torch = pytest.importorskip("torch")

_rng = np.random.default_rng(7)
X = _rng.standard_normal((2, 3, 8))
W = _rng.standard_normal((4, 3, 3))
B = _rng.standard_normal(4)
IMG = _rng.standard_normal((2, 4, 4, 6))
V = _rng.standard_normal((3, 5))


class Const:
    """An input that takes no gradient (indices, targets)."""

    def __init__(self, values):
        self.values = values


# name -> (fn(lib, *inputs), inputs); float inputs get gradients compared with torch's
CASES = {
    "conv1d": (lambda L, x, w, b: L.conv1d(x, w, b, 2, 1), (X, W, B)),
    "conv2d": (lambda L, x, w: L.conv2d(x, w, None, 1, 1, 1, 2), (IMG, IMG[:2, :2, :3, :3])),
    "conv3d": (lambda L, x, w: L.conv3d(x, w, None, 1, 0), (IMG[:1, None], IMG[:2, None, :2, :2])),
    "conv_transpose1d": (lambda L, x, w: L.conv_transpose1d(x, w, None, 2, 1, 1), (X, W[:3])),
    "conv_transpose2d": (
        lambda L, x, w: L.conv_transpose2d(x, w, None, 2),
        (IMG, IMG[0, :, None, :2, :3]),
    ),
    "conv_transpose3d": (
        lambda L, x, w: L.conv_transpose3d(x, w, None, 1),
        (IMG[:1, None], IMG[None, :1, :1, :2]),
    ),
    "convolution": (
        lambda L, x, w, b: L.convolution(x, w, b, [1], [1], [2], False, [0], 1),
        (X, W, B),
    ),
    "convolution_transposed": (
        lambda L, x, w: L.convolution(x, w, None, [2], [0], [1], True, [1], 1),
        (X, W[:3]),
    ),
    "max_pool1d": (lambda L, x: L.max_pool1d(x, 3, [], 1), (X,)),
    "max_pool2d": (lambda L, x: L.max_pool2d(x, 2, 1), (IMG,)),
    "max_pool3d": (lambda L, x: L.max_pool3d(x, 2), (IMG,)),
    "max_pool1d_with_indices": (lambda L, x: L.max_pool1d_with_indices(x, 2)[0], (X,)),
    "avg_pool1d": (lambda L, x: L.avg_pool1d(x, 3, 2, 1, False, False), (X,)),
    "adaptive_avg_pool1d": (lambda L, x: L.adaptive_avg_pool1d(x, 3), (X,)),
    "adaptive_max_pool1d": (lambda L, x: L.adaptive_max_pool1d(x, 3)[0], (X,)),
    "batch_norm": (
        lambda L, x, w, b: L.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
        (X, B[:3], W[0, 0]),
    ),
    "instance_norm": (
        lambda L, x: L.instance_norm(x, None, None, None, None, True, 0.1, 1e-5, False),
        (X,),
    ),
    "layer_norm": (lambda L, x, w: L.layer_norm(x, [8], w, None, 1e-3), (X, X[0, 0])),
    "group_norm": (lambda L, x: L.group_norm(x, 3), (X,)),
    "rms_norm": (lambda L, x, w: L.rms_norm(x, [8], w), (X, X[1, 1])),
    "embedding": (lambda L, w, i: L.embedding(w, i, 1), (V, Const([[0, 2], [1, 2]]))),
    "bilinear": (lambda L, a, b, w: L.bilinear(a, b, w), (V[:, :2], V[:, 2:], IMG[0, :, :2, :3])),
    "celu": (lambda L, x: L.celu(x, 2.0), (X,)),
    "selu": (lambda L, x: L.selu(x), (X,)),
    "rrelu_eval": (lambda L, x: L.rrelu(x, 0.1, 0.3), (X,)),
    "threshold": (lambda L, x: L.threshold(x, 0.1, 9.0), (X,)),
    "hardshrink": (lambda L, x: L.hardshrink(x, 0.3), (X,)),
    "prelu": (lambda L, x, w: L.prelu(x, w), (X, B[:3])),
    "pixel_shuffle": (lambda L, x: L.pixel_shuffle(x, 2), (IMG,)),
    "pixel_unshuffle": (lambda L, x: L.pixel_unshuffle(x, 2), (IMG,)),
    "channel_shuffle": (lambda L, x: L.channel_shuffle(x, 2), (IMG,)),
    "pairwise_distance": (lambda L, a, b: L.pairwise_distance(a, b, 3.0, 1e-6, True), (V, V[::-1])),
    "cosine_similarity": (lambda L, a, b: L.cosine_similarity(a, b, 0), (V, V[::-1])),
    "kl_div": (lambda L, a, b: L.kl_div(a, b, 2, log_target=True), (X, X[::-1])),
    "bce_with_logits": (
        lambda L, x, t, w, pw: L.binary_cross_entropy_with_logits(x, t, w, pw, 1),
        (V, np.abs(V[::-1]) / 3, Const(V[0]), Const(np.abs(V[1]) + 0.5)),
    ),
    "cosine_embedding_loss": (
        lambda L, a, b, t: L.cosine_embedding_loss(a, b, t, 0.1, 0),
        (V, V[::-1], Const([1, -1, 1])),
    ),
    "hinge_embedding_loss": (
        lambda L, x, t: L.hinge_embedding_loss(x, t, 1.5, 1),
        (V, Const([1.0, -1, 1, -1, -1])),
    ),
    "margin_ranking_loss": (
        lambda L, a, b, t: L.margin_ranking_loss(a, b, t, 0.2, 2),
        (V, V[::-1], Const([1.0, -1, 1, 1, -1])),
    ),
    "triplet_margin_loss": (
        lambda L, a, p, n: L.triplet_margin_loss(a, p, n, 1.0, 2.0, 1e-6, True, 1),
        (V, V[::-1], V * 0.5),
    ),
    "poisson_nll_loss": (
        lambda L, x, t: L.poisson_nll_loss(x, t, False, True, 1e-8, 0),
        (np.abs(V) + 0.1, Const(V**2)),
    ),
    "constant_pad_nd": (lambda L, x: L.constant_pad_nd(x, [1, 2, 0, 1], 3.5), (X,)),
    "narrow_copy": (lambda L, x: L.narrow_copy(x, 2, 1, 3), (X,)),
    "detach": (lambda L, x: L.detach(x) * x, (X,)),
}


def _run(lib, fn, arrays, device=None):
    ins = []
    for a in arrays:
        const = isinstance(a, Const)
        data = np.array(a.values if const else a)  # a copy, also of negative-stride views
        if lib is torch:
            ins.append(torch.tensor(data, requires_grad=not const))
        else:
            ins.append(df.tensor(data, device=device, requires_grad=not const))
    out = fn(lib, *ins)
    weights = np.linspace(-1.0, 2.0, out.numel()).reshape(tuple(out.shape))
    w = torch.tensor(weights) if lib is torch else df.tensor(weights, device=device)
    (out * w).sum().backward()
    return out, [t.grad for t in ins]


@pytest.mark.parametrize("name", sorted(CASES))
def test_alias_matches_torch(name, device):
    fn, arrays = CASES[name]
    out_t, grads_t = _run(torch, fn, arrays)
    out_d, grads_d = _run(df, fn, arrays, device)
    assert str(out_d.device).startswith(device.split(":")[0])
    assert_close(out_d, out_t.detach().numpy(), rtol=1e-6, atol=1e-8)
    for gd, gt in zip(grads_d, grads_t):
        assert (gd is None) == (gt is None)
        if gt is not None:
            assert_close(gd, gt.numpy(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["max_pool1d_with_indices", "adaptive_max_pool1d"])
def test_pool_indices_match_torch(name, device):
    fn = getattr(df, name)
    args = (2,) if name == "max_pool1d_with_indices" else (3,)
    _, idx_d = fn(df.tensor(X, device=device), *args)
    _, idx_t = getattr(torch, name)(torch.tensor(X), *args)
    assert idx_d.dtype == df.int64
    np.testing.assert_array_equal(idx_d.cpu().numpy(), idx_t.numpy())


def test_native_channel_shuffle_matches_torch(device):
    out = df.native_channel_shuffle(df.tensor(IMG, device=device), 2)
    assert_close(out, torch.native_channel_shuffle(torch.tensor(IMG), 2).numpy())


def test_inplace_activations_match_torch(device):
    for name, args in [
        ("celu_", (1.5,)),
        ("selu_", ()),
        ("threshold_", (0.2, -3.0)),
        ("rrelu_", (0.1, 0.2)),
    ]:
        t = torch.tensor(X.copy())
        d = df.tensor(X.copy(), device=device)
        assert getattr(df, name)(d, *args) is d
        getattr(torch, name)(t, *args)
        assert_close(d, t.numpy(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "name", ["dropout", "alpha_dropout", "feature_alpha_dropout", "feature_dropout"]
)
def test_dropout_eval_is_identity_and_inplace_returns_input(name, device):
    x = df.tensor(X, device=device)
    assert_close(getattr(df, name)(x, 0.5, False), X)
    y = df.tensor(X.copy(), device=device)
    assert getattr(df, name + "_")(y, 0.5, False) is y
    assert_close(torch_out := getattr(torch, name)(torch.tensor(X), 0.5, False), X)
    assert torch_out.shape == tuple(x.shape)


def test_dropout_train_zeroes_or_scales(device):
    x = df.ones(400, 10, dtype=df.float64, device=device)
    y = df.dropout(x, 0.25, True).cpu().numpy()
    assert set(np.unique(y)) <= {0.0, 1.0 / 0.75}
    assert 0.15 < (y == 0).mean() < 0.35
    z = df.ones(400, 10, dtype=df.float64, device=device)
    df.dropout_(z, 0.25, True)
    assert set(np.unique(z.cpu().numpy())) <= {0.0, 1.0 / 0.75}


def test_feature_dropout_drops_whole_channels(device):
    x = df.ones(50, 6, 4, 3, dtype=df.float64, device=device)
    y = df.feature_dropout(x, 0.5, True).cpu().numpy()
    per_channel = y.reshape(50, 6, -1)
    assert (per_channel == per_channel[..., :1]).all()  # one draw per (sample, channel)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.7
    z = df.ones(50, 6, 4, dtype=df.float64, device=device)
    assert df.feature_dropout_(z, 0.5, True) is z
    assert set(np.unique(z.cpu().numpy())) <= {0.0, 2.0}
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        df.feature_dropout(df.ones(4, device=device), 0.5, True)
    with pytest.raises(ValueError, match="between 0 and 1"):
        df.feature_dropout(x, 1.5, True)


def test_rrelu_training_slopes_lie_in_range(device):
    x = -df.ones(1000, dtype=df.float64, device=device)
    y = -df.rrelu(x, 0.1, 0.3, True).cpu().numpy()
    assert ((y >= 0.1) & (y <= 0.3)).all() and y.std() > 0


def test_reduction_must_be_an_int_code_like_aten():
    a = df.tensor(V)
    with pytest.raises(TypeError, match=r"kl_div\(\): argument 'reduction' \(position 3\)"):
        df.kl_div(a, a, "mean")
    with pytest.raises(TypeError):
        torch.kl_div(torch.tensor(V), torch.tensor(V), "mean")
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        df.hinge_embedding_loss(a, a, 1.0, 5)


def test_convolution_rejects_a_weight_of_the_wrong_rank():
    with pytest.raises(RuntimeError, match=r"convolution: expected a 3-D, 4-D or 5-D weight"):
        df.convolution(df.ones(1, 1, 3), df.ones(3), None, [1], [0], [1], False, [0], 1)


def test_rrelu_generator_argument_is_refused():
    with pytest.raises(NotImplementedError, match="rrelu: a generator argument"):
        df.rrelu(df.ones(2), generator=object())


# -- switches ----------------------------------------------------------------------------------
def test_anomaly_switches_drive_autograd_anomaly_mode():
    assert df.is_anomaly_enabled() is torch.is_anomaly_enabled() is False
    try:
        df.set_anomaly_enabled(True, check_nan=False)
        torch.set_anomaly_enabled(True, False)
        assert df.is_anomaly_enabled() and df.autograd.is_anomaly_enabled()
        assert df.is_anomaly_check_nan_enabled() is torch.is_anomaly_check_nan_enabled() is False
        x = df.tensor([0.0], requires_grad=True)
        (x.sqrt() * 0).sum().backward()  # nan check off: no error
    finally:
        df.set_anomaly_enabled(False)
        torch.set_anomaly_enabled(False)
    assert df.is_anomaly_check_nan_enabled() is torch.is_anomaly_check_nan_enabled() is True
    with df.autograd.detect_anomaly():
        assert df.is_anomaly_enabled()
    assert not df.is_anomaly_enabled()


def test_float32_matmul_precision_round_trips_like_torch():
    assert df.get_float32_matmul_precision() == torch.get_float32_matmul_precision()
    try:
        for p in ("high", "medium", "highest"):
            df.set_float32_matmul_precision(p)
            assert df.get_float32_matmul_precision() == p
        with pytest.warns(UserWarning, match="has no effect"):
            df.set_float32_matmul_precision("fast")
        assert df.get_float32_matmul_precision() == "highest"
    finally:
        df.set_float32_matmul_precision("highest")


def test_warn_always_flag():
    assert df.is_warn_always_enabled() is torch.is_warn_always_enabled()
    try:
        df.set_warn_always(True)
        assert df.is_warn_always_enabled() is True
    finally:
        df.set_warn_always(False)
    assert df.is_warn_always_enabled() is False


@pytest.mark.parametrize("mode", ["default", "warn", "error", 0, 1, 2])
def test_deterministic_debug_mode_matches_torch(mode):
    try:
        for lib in (df, torch):
            lib.set_deterministic_debug_mode(mode)
        assert df.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode()
        assert df.are_deterministic_algorithms_enabled() == (
            torch.are_deterministic_algorithms_enabled()
        )
        assert df.is_deterministic_algorithms_warn_only_enabled() == (
            torch.is_deterministic_algorithms_warn_only_enabled()
        )
    finally:
        df.use_deterministic_algorithms(False)
        torch.use_deterministic_algorithms(False)


def test_deterministic_debug_mode_errors():
    with pytest.raises(RuntimeError, match="expected one of `default`, `warn`, `error`"):
        df.set_deterministic_debug_mode("loud")
    with pytest.raises(RuntimeError, match="expected 0, 1, or 2, but got 3"):
        df.set_deterministic_debug_mode(3)
    with pytest.raises(TypeError, match="debug_mode must be str or int"):
        df.set_deterministic_debug_mode(1.5)


def test_set_default_tensor_type_sets_the_default_dtype():
    try:
        with pytest.warns(UserWarning, match="deprecated"):
            df.set_default_tensor_type(df.DoubleTensor)
        assert df.get_default_dtype() is df.float64 and df.tensor([1.0]).dtype is df.float64
        with pytest.warns(UserWarning):
            df.set_default_tensor_type("torch.FloatTensor")
        assert df.get_default_dtype() is df.float32
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(TypeError, match="only floating-point types"):
                df.set_default_tensor_type(df.LongTensor)
            with pytest.raises(TypeError, match="invalid type"):
                df.set_default_tensor_type("torch.NoSuchTensor")
    finally:
        df.set_default_dtype(df.float32)


def test_set_flush_denormal_reports_what_is_in_effect():
    assert df.set_flush_denormal(False) is True
    assert df.set_flush_denormal(True) is False  # not supported: denormals are kept
    tiny = df.tensor([1e-310], dtype=df.float64)
    assert (tiny * 1.0).item() == 1e-310


def test_get_device_module():
    assert df.get_device_module("opencl") is df.opencl
    assert df.get_device_module(df.device("opencl:0")) is df.opencl
    assert df.get_device_module("cuda") is df.get_device_module("cuda:1") is df.cuda
    with pytest.raises(RuntimeError, match="Device 'cpu' does not have a corresponding module"):
        df.get_device_module("cpu")


def test_layout_and_memory_format_objects():
    assert repr(df.strided) == "deepforge.strided" and isinstance(df.strided, df.layout)
    assert df.ones(2).layout is df.strided
    for name in ("contiguous_format", "preserve_format", "channels_last", "channels_last_3d"):
        fmt = getattr(df, name)
        assert isinstance(fmt, df.memory_format) and repr(fmt) == f"deepforge.{name}"
        assert pickle.loads(pickle.dumps(fmt)) is fmt
    assert df.legacy_contiguous_format is df.contiguous_format
    assert pickle.loads(pickle.dumps(df.strided)) is df.strided
    x = df.tensor(IMG)
    assert_close(x.contiguous(memory_format=df.channels_last), IMG)
