"""Weight normalization and spectral normalization: ``nn.utils.parametrizations.weight_norm`` /
``spectral_norm`` and the legacy hook-based ``nn.utils.weight_norm`` / ``spectral_norm``,
checked against PyTorch (values, gradients, state_dict keys, removal, training)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import assert_close, to_np

import deepforge as df
import deepforge.nn as nn
from deepforge.nn import utils as U
from deepforge.nn.utils import parametrizations as PZ
from deepforge.nn.utils import parametrize as P


def _df_state(torch_module, device="cpu") -> dict:
    return {
        k: df.tensor(v.detach().numpy(), device=device)
        for k, v in torch_module.state_dict().items()
    }


def _pair(torch, kind):
    """The same double-precision layer in torch and deepforge, with torch's weights."""
    if kind == "linear":
        tm, dm = torch.nn.Linear(5, 4), nn.Linear(5, 4)
        shape = (3, 5)
    elif kind == "conv":
        tm, dm = torch.nn.Conv2d(2, 3, 3), nn.Conv2d(2, 3, 3)
        shape = (2, 2, 5, 5)
    else:
        tm, dm = torch.nn.ConvTranspose2d(3, 2, 3), nn.ConvTranspose2d(3, 2, 3)
        shape = (2, 3, 4, 4)
    tm, dm = tm.double(), dm.double()
    dm.load_state_dict(_df_state(tm))
    x = np.random.default_rng(0).standard_normal(shape)
    return tm, dm, x


def _check_forward_backward(torch, tm, dm, x, rtol=1e-10):
    yt, yd = tm(torch.tensor(x)), dm(df.tensor(x))
    assert_close(to_np(yd), yt.detach().numpy(), rtol=rtol, atol=1e-12)
    yt.pow(2).sum().backward()
    yd.pow(2).sum().backward()
    tparams, dparams = dict(tm.named_parameters()), dict(dm.named_parameters())
    assert list(tparams) == list(dparams)
    for k, p in tparams.items():
        assert_close(to_np(dparams[k].grad), p.grad.numpy(), rtol=rtol, atol=1e-12)


def _check_state(tm, dm, rtol=1e-12):
    tsd, dsd = tm.state_dict(), dm.state_dict()
    assert list(dsd) == list(tsd)
    for k, v in tsd.items():
        assert tuple(dsd[k].shape) == tuple(v.shape), k
        assert_close(to_np(dsd[k]), v.numpy(), rtol=rtol, atol=1e-12)


# -- parametrizations.weight_norm -------------------------------------------------------------
@pytest.mark.parametrize("kind,dim", [("linear", 0), ("linear", None), ("conv", 1), ("conv", -1)])
def test_parametrized_weight_norm_matches_torch(kind, dim):
    torch = pytest.importorskip("torch")
    tm, dm, x = _pair(torch, kind)
    torch.nn.utils.parametrizations.weight_norm(tm, dim=dim)
    PZ.weight_norm(dm, dim=dim)
    assert list(dm.state_dict())[-2:] == [
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ]
    _check_state(tm, dm)
    _check_forward_backward(torch, tm, dm, x)
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    P.remove_parametrizations(dm, "weight")
    assert type(dm).__name__ == type(tm).__name__ and not P.is_parametrized(dm)
    assert isinstance(dm.weight, nn.Parameter)
    _check_state(tm, dm, rtol=1e-10)


def test_parametrized_weight_norm_loads_legacy_checkpoint():
    m = nn.Linear(4, 3).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        U.weight_norm(m)
    legacy = m.state_dict()
    assert list(legacy) == ["bias", "weight_g", "weight_v"]
    new = PZ.weight_norm(nn.Linear(4, 3).double())
    new.load_state_dict(legacy)
    assert_close(to_np(new.parametrizations.weight.original0), to_np(legacy["weight_g"]))
    assert_close(to_np(new.weight), to_np(m.weight), rtol=1e-12)


# -- parametrizations.spectral_norm -----------------------------------------------------------
@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
def test_parametrized_spectral_norm_matches_torch(kind):
    torch = pytest.importorskip("torch")
    tm, dm, x = _pair(torch, kind)
    torch.nn.utils.parametrizations.spectral_norm(tm, n_power_iterations=2)
    PZ.spectral_norm(dm, n_power_iterations=2)
    assert list(dm.state_dict())[-3:] == [
        "parametrizations.weight.original",
        "parametrizations.weight.0._u",
        "parametrizations.weight.0._v",
    ]
    # u and v start random: take torch's, then every power step must agree
    dm.load_state_dict(_df_state(tm))
    _check_state(tm, dm)
    _check_forward_backward(torch, tm, dm, x)  # training mode: runs the power method
    _check_state(tm, dm, rtol=1e-10)  # the buffers advanced identically
    tm.eval()
    dm.eval()
    u_before = to_np(dm.parametrizations.weight[0]._u).copy()
    assert_close(to_np(dm.weight), tm.weight.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert_close(to_np(dm.parametrizations.weight[0]._u), u_before)  # eval: no power step
    # the largest singular value of the normalized matrix is about 1
    w_mat = to_np(dm.weight)
    w_mat = np.moveaxis(w_mat, 1, 0) if kind == "convT" else w_mat
    s = np.linalg.svd(w_mat.reshape(w_mat.shape[0], -1), compute_uv=False)
    assert abs(s[0] - 1.0) < 0.1
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    P.remove_parametrizations(dm, "weight")
    _check_state(tm, dm, rtol=1e-10)


def test_parametrized_spectral_norm_1d_and_errors():
    torch = pytest.importorskip("torch")
    tm, dm = torch.nn.Linear(3, 4).double(), nn.Linear(3, 4).double()
    dm.load_state_dict(_df_state(tm))
    torch.nn.utils.parametrizations.spectral_norm(tm, "bias")
    PZ.spectral_norm(dm, "bias")
    assert list(dm.state_dict()) == list(tm.state_dict())
    assert_close(to_np(dm.bias), tm.bias.detach().numpy(), rtol=1e-12)
    with pytest.raises(IndexError, match="Dimension out of range"):
        PZ.spectral_norm(nn.Linear(3, 4), dim=2)
    with pytest.raises(ValueError, match="n_power_iterations"):
        PZ.spectral_norm(nn.Linear(3, 4), n_power_iterations=0)
    with pytest.raises(ValueError, match="no parameter or buffer"):
        PZ.spectral_norm(nn.Linear(3, 4), "nope")


# -- legacy weight_norm / spectral_norm -------------------------------------------------------
@pytest.mark.parametrize("kind,dim", [("linear", 0), ("conv", None), ("conv", 2)])
def test_legacy_weight_norm_matches_torch(kind, dim):
    torch = pytest.importorskip("torch")
    tm, dm, x = _pair(torch, kind)
    with pytest.warns(FutureWarning):
        torch.nn.utils.weight_norm(tm, dim=dim)
    with pytest.warns(FutureWarning, match="deprecated"):
        U.weight_norm(dm, dim=dim)
    assert [n for n, _ in dm.named_parameters()] == ["bias", "weight_g", "weight_v"]
    assert "weight" not in dm._parameters
    _check_state(tm, dm)
    _check_forward_backward(torch, tm, dm, x)
    with pytest.warns(FutureWarning), pytest.raises(RuntimeError, match="Cannot register two"):
        U.weight_norm(dm, dim=dim)
    torch.nn.utils.remove_weight_norm(tm)
    U.remove_weight_norm(dm)
    assert not dm._forward_pre_hooks
    assert isinstance(dm.weight, nn.Parameter)
    _check_state(tm, dm, rtol=1e-10)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        U.remove_weight_norm(dm)


@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
def test_legacy_spectral_norm_matches_torch(kind):
    torch = pytest.importorskip("torch")
    tm, dm, x = _pair(torch, kind)
    torch.nn.utils.spectral_norm(tm)
    U.spectral_norm(dm)
    assert list(dm.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    dm.load_state_dict(_df_state(tm))
    _check_state(tm, dm)
    assert dm.state_dict()._metadata[""]["spectral_norm"] == {"weight.version": 1}
    _check_forward_backward(torch, tm, dm, x)
    _check_state(tm, dm, rtol=1e-10)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        U.spectral_norm(dm)
    torch.nn.utils.remove_spectral_norm(tm)
    U.remove_spectral_norm(dm)
    assert not dm._forward_pre_hooks and not dm._state_dict_hooks
    assert not dm._load_state_dict_pre_hooks
    assert isinstance(dm.weight, nn.Parameter)
    _check_state(tm, dm, rtol=1e-10)


def test_legacy_spectral_norm_loads_version0_checkpoint():
    torch = pytest.importorskip("torch")
    tm, dm, x = _pair(torch, "linear")
    torch.nn.utils.spectral_norm(tm)
    U.spectral_norm(dm)
    dm.load_state_dict(_df_state(tm))
    tm.eval()
    dm.eval()
    tm(torch.tensor(x))  # sets the plain attribute ``weight``
    # a version-0 checkpoint: weight (normalized) + weight_orig + weight_u, no weight_v
    sd = {
        "bias": tm.bias,
        "weight": tm.weight,
        "weight_orig": tm.weight_orig,
        "weight_u": tm.weight_u,
    }
    tm.load_state_dict({k: v.detach().clone() for k, v in sd.items()})
    dm.load_state_dict({k: df.tensor(v.detach().numpy()) for k, v in sd.items()})
    assert_close(to_np(dm.weight_v), tm.weight_v.numpy(), rtol=1e-8, atol=1e-10)


# -- training on every backend ----------------------------------------------------------------
def _train_steps(lib, m, x, target, steps=2):
    opt = lib.optim.SGD(m.parameters(), lr=0.1)
    for _ in range(steps):
        opt.zero_grad()
        loss = ((m(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
    return m


@pytest.mark.parametrize(
    "apply",
    [
        "parametrizations.weight_norm",
        "parametrizations.spectral_norm",
        "weight_norm",
        "spectral_norm",
    ],
)
def test_training_step_matches_torch(device, apply):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    x, target = rng.standard_normal((6, 5)), rng.standard_normal((6, 4))
    tm = torch.nn.Linear(5, 4)
    dm = nn.Linear(5, 4)

    def fn(root):
        obj = root
        for part in apply.split("."):
            obj = getattr(obj, part)
        return obj

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        fn(torch.nn.utils)(tm)
        fn(U)(dm)
    dm.load_state_dict(_df_state(tm))
    dm.to(device)
    _train_steps(torch, tm, torch.tensor(x, dtype=torch.float32), torch.tensor(target).float())
    _train_steps(
        df,
        dm,
        df.tensor(x, dtype=df.float32, device=device),
        df.tensor(target, dtype=df.float32, device=device),
    )
    tsd, dsd = tm.state_dict(), dm.state_dict()
    assert list(dsd) == list(tsd)
    for k, v in tsd.items():
        assert dsd[k].device == df.device(device)
        assert_close(to_np(dsd[k]), v.numpy(), rtol=1e-4, atol=1e-5)
    assert_close(to_np(dm.weight), tm.weight.detach().numpy(), rtol=1e-4, atol=1e-5)
