"""nn.utils.parametrize (register/remove/cached/ParametrizationList, class swap, state_dict
layout, right_inverse) and parametrizations.orthogonal, checked against PyTorch."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from helpers import assert_close, to_np

import deepforge as df
import deepforge.nn as nn
from deepforge.nn.utils import parametrizations as PZ
from deepforge.nn.utils import parametrize as P


def _df_state(torch_module) -> dict:
    return {k: df.tensor(v.detach().numpy()) for k, v in torch_module.state_dict().items()}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _symmetric_classes(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).mT

        def right_inverse(self, A):
            return A.triu()

    class RankOne(lib.nn.Module):
        def forward(self, x, y):
            return x.unsqueeze(-1) @ y.unsqueeze(-2)

        def right_inverse(self, Z):
            # the first row and the first column scaled: any rank-one split works
            return Z[:, 0].clone(), Z[0, :] / Z[0, 0]

    class Double(lib.nn.Module):
        def forward(self, X):
            return 2 * X

        def right_inverse(self, X):
            return X / 2

    return Symmetric, RankOne, Double


def test_register_swaps_class_and_moves_original():
    Symmetric, _, _ = _symmetric_classes(df)
    m = nn.Linear(4, 4)
    w = m.weight
    P.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear"
    assert isinstance(m, nn.Linear)
    assert P.type_before_parametrizations(m) is nn.Linear
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias")
    assert isinstance(m.parametrizations.weight, P.ParametrizationList)
    # the same Parameter object now holds right_inverse(weight) = triu(weight)
    assert m.parametrizations.weight.original is w
    assert_close(to_np(w), np.triu(to_np(w)))
    assert_close(to_np(m.weight), to_np(m.weight).T)
    assert "weight" not in m._parameters
    names = [n for n, _ in m.named_parameters()]
    assert names == ["bias", "parametrizations.weight.original"]
    # the class swap is per module
    assert type(nn.Linear(2, 2)) is nn.Linear


def test_state_dict_keys_values_and_forward_match_torch():
    torch = pytest.importorskip("torch")
    x = _rng(1).standard_normal((3, 4))
    TSym, _, TDouble = _symmetric_classes(torch)
    DSym, _, DDouble = _symmetric_classes(df)
    tm = torch.nn.Linear(4, 4).double()
    dm = nn.Linear(4, 4).double()
    dm.load_state_dict(_df_state(tm))
    libs = [(torch.nn.utils.parametrize, tm, TSym, TDouble), (P, dm, DSym, DDouble)]
    for lib_p, lib_m, sym, dbl in libs:
        lib_p.register_parametrization(lib_m, "weight", sym())
        lib_p.register_parametrization(lib_m, "weight", dbl())
        lib_p.register_parametrization(lib_m, "bias", dbl())
    tsd, dsd = tm.state_dict(), dm.state_dict()
    assert list(tsd) == list(dsd)
    assert list(dsd) == ["parametrizations.weight.original", "parametrizations.bias.original"]
    for k in tsd:
        assert_close(to_np(dsd[k]), tsd[k].numpy(), rtol=1e-12, atol=1e-12)
    yt = tm(torch.tensor(x))
    yd = dm(df.tensor(x))
    assert_close(to_np(yd), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    yt.pow(2).sum().backward()
    yd.pow(2).sum().backward()
    for (kt, pt), (kd, pd) in zip(tm.named_parameters(), dm.named_parameters()):
        assert kt == kd
        assert_close(to_np(pd.grad), pt.grad.numpy(), rtol=1e-10, atol=1e-12)
    # a state dict saved by torch loads into the deepforge module and vice versa
    dm2 = nn.Linear(4, 4).double()
    P.register_parametrization(dm2, "weight", DSym())
    P.register_parametrization(dm2, "weight", DDouble())
    P.register_parametrization(dm2, "bias", DDouble())
    dm2.load_state_dict(_df_state(tm))
    assert_close(to_np(dm2.weight), tm.weight.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_assignment_runs_right_inverse_chain():
    Symmetric, _, Double = _symmetric_classes(df)
    m = nn.Linear(3, 3).double()
    P.register_parametrization(m, "weight", Symmetric())
    P.register_parametrization(m, "weight", Double())
    A = _rng(2).standard_normal((3, 3))
    A = A + A.T
    m.weight = df.tensor(A)
    assert_close(to_np(m.weight), A, rtol=1e-12, atol=1e-12)
    assert_close(to_np(m.parametrizations.weight.original), np.triu(A) / 2, rtol=1e-12)


def test_multi_tensor_right_inverse_registers_original0_original1():
    torch = pytest.importorskip("torch")
    _, TRank, _ = _symmetric_classes(torch)
    _, DRank, _ = _symmetric_classes(df)
    v = _rng(3).standard_normal(4) + 3.0
    Z = np.outer(v, v + 1)
    tm, dm = torch.nn.Linear(4, 4).double(), nn.Linear(4, 4).double()
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(Z))
    dm.load_state_dict(_df_state(tm))
    torch.nn.utils.parametrize.register_parametrization(tm, "weight", TRank())
    P.register_parametrization(dm, "weight", DRank())
    assert list(dm.state_dict()) == list(tm.state_dict())
    o0 = dm.parametrizations.weight.original0
    assert isinstance(o0, nn.Parameter) and o0.requires_grad
    assert_close(to_np(dm.weight), Z, rtol=1e-10, atol=1e-10)
    # several originals cannot be left unparametrized; leave_parametrized=True gives a Parameter
    with pytest.raises(ValueError, match="sequence of tensors"):
        P.remove_parametrizations(dm, "weight", leave_parametrized=False)
    P.remove_parametrizations(dm, "weight")
    assert type(dm) is nn.Linear and isinstance(dm.weight, nn.Parameter)
    assert_close(to_np(dm.weight), Z, rtol=1e-10, atol=1e-10)


def test_remove_parametrizations_restores_plain_parameter():
    Symmetric, _, Double = _symmetric_classes(df)
    m = nn.Linear(3, 3).double()
    w = m.weight
    w0 = to_np(w).copy()
    P.register_parametrization(m, "weight", Double())
    P.register_parametrization(m, "bias", Double())
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    # still parametrized on bias: the class stays swapped
    assert type(m).__name__ == "ParametrizedLinear" and not P.is_parametrized(m, "weight")
    assert m.weight is w and isinstance(m._parameters["weight"], nn.Parameter)
    assert_close(to_np(m.weight), w0 / 2)  # original = right_inverse(weight)
    b = to_np(m.bias).copy()
    P.remove_parametrizations(m, "bias", leave_parametrized=True)
    assert type(m) is nn.Linear and not hasattr(m, "parametrizations")
    assert_close(to_np(m.bias), b)
    assert list(m.state_dict()) == ["weight", "bias"]
    with pytest.raises(ValueError, match="does not have a parametrization"):
        P.remove_parametrizations(m, "weight")


def test_parametrized_module_trains_like_torch():
    torch = pytest.importorskip("torch")
    TSym, _, _ = _symmetric_classes(torch)
    DSym, _, _ = _symmetric_classes(df)
    rng = _rng(4)
    x, target = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    tm, dm = torch.nn.Linear(4, 4).double(), nn.Linear(4, 4).double()
    dm.load_state_dict(_df_state(tm))
    # the optimizer is built first: it must keep updating the same Parameter objects
    topt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    dopt = df.optim.SGD(dm.parameters(), lr=0.1, momentum=0.9)
    torch.nn.utils.parametrize.register_parametrization(tm, "weight", TSym())
    P.register_parametrization(dm, "weight", DSym())
    for _ in range(3):
        for m, opt, lib in [(tm, topt, torch), (dm, dopt, df)]:
            opt.zero_grad()
            loss = ((m(lib.tensor(x)) - lib.tensor(target)) ** 2).mean()
            loss.backward()
            opt.step()
    assert_close(to_np(dm.weight), tm.weight.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert_close(to_np(dm.weight), to_np(dm.weight).T, rtol=1e-12, atol=1e-12)


def test_cached_computes_once():
    calls = []

    class Counting(nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 1.0

    m = nn.Linear(2, 2)
    P.register_parametrization(m, "weight", Counting())
    calls.clear()
    assert m.weight is not m.weight
    assert len(calls) == 2
    calls.clear()
    with P.cached():
        a = m.weight
        with P.cached():
            b = m.weight
        assert m.weight is a is b
    assert len(calls) == 1
    assert m.weight is not a
    assert len(calls) == 2  # the cache is gone after the outermost block


def test_registration_errors_match_torch():
    m = nn.Linear(3, 3)

    class ChangesShape(nn.Module):
        def forward(self, X):
            return X[:2]

    class ReturnsInt(nn.Module):
        def forward(self, X):
            return X.long()

    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        P.register_parametrization(m, "nope", ChangesShape())
    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(m, "weight", ChangesShape())
    with pytest.raises(ValueError, match="may not change the dtype"):
        P.register_parametrization(m, "weight", ReturnsInt())
    # a failed registration leaves the module untouched
    assert type(m) is nn.Linear and isinstance(m._parameters["weight"], nn.Parameter)
    P.register_parametrization(m, "weight", ChangesShape(), unsafe=True)
    assert tuple(m.weight.shape) == (2, 3)
    with pytest.raises(ValueError, match="requires one or more modules"):
        P.ParametrizationList([], df.zeros(2))


def test_buffer_parametrization_train_mode_and_deepcopy():
    _, _, Double = _symmetric_classes(df)
    bn = nn.BatchNorm1d(3)
    bn.eval()
    p = Double()
    P.register_parametrization(bn, "running_var", p)
    assert p.training is False  # follows the host module
    assert "parametrizations.running_var.original" in bn.state_dict()
    assert_close(to_np(bn.running_var), np.full(3, 1.0))
    clone = copy.deepcopy(bn)
    assert type(clone) is type(bn)
    assert (
        clone.parametrizations.running_var.original is not bn.parametrizations.running_var.original
    )
    assert_close(to_np(clone.running_var), to_np(bn.running_var))
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(bn)


def test_transfer_parametrizations_and_params():
    Symmetric, _, _ = _symmetric_classes(df)
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    P.register_parametrization(a, "weight", Symmetric())
    P.transfer_parametrizations_and_params(a, b)
    assert b.parametrizations.weight.original is a.parametrizations.weight.original
    assert_close(to_np(b.weight), to_np(a.weight))


# -- orthogonal -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape,orthogonal_map",
    [
        ((4, 4), None),
        ((3, 5), None),
        ((5, 3), "householder"),
        ((4, 4), "householder"),
        ((4, 4), "cayley"),
        ((2, 4), "cayley"),
    ],
)
def test_orthogonal_matches_torch(shape, orthogonal_map):
    torch = pytest.importorskip("torch")
    x = _rng(5).standard_normal((2, shape[1]))
    tm, dm = torch.nn.Linear(*shape[::-1]).double(), nn.Linear(*shape[::-1]).double()
    dm.load_state_dict(_df_state(tm))
    torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map=orthogonal_map)
    PZ.orthogonal(dm, orthogonal_map=orthogonal_map)
    assert list(dm.state_dict()) == list(tm.state_dict())
    # the base of a non-square matrix is completed with random columns: take torch's
    dm.load_state_dict(_df_state(tm))
    W = to_np(dm.weight)
    assert_close(W, tm.weight.detach().numpy(), rtol=1e-9, atol=1e-10)
    small = W if W.shape[0] <= W.shape[1] else W.T
    assert_close(small @ small.T, np.eye(min(shape)), atol=1e-10)
    # a step away from the initial point, then forward and gradients
    with torch.no_grad():
        tm.parametrizations.weight.original.add_(0.1)
    dm.load_state_dict(_df_state(tm))
    yt, yd = tm(torch.tensor(x)), dm(df.tensor(x))
    assert_close(to_np(yd), yt.detach().numpy(), rtol=1e-9, atol=1e-10)
    yt.pow(2).sum().backward()
    yd.pow(2).sum().backward()
    g_t = tm.parametrizations.weight.original.grad.numpy()
    assert_close(to_np(dm.parametrizations.weight.original.grad), g_t, rtol=1e-7, atol=1e-9)


def test_orthogonal_without_trivialization_and_errors():
    torch = pytest.importorskip("torch")
    tm, dm = torch.nn.Linear(3, 5).double(), nn.Linear(3, 5).double()
    dm.load_state_dict(_df_state(tm))
    torch.nn.utils.parametrizations.orthogonal(tm, use_trivialization=False)
    PZ.orthogonal(dm, use_trivialization=False)
    assert list(dm.state_dict()) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert_close(to_np(dm.state_dict()[k]), v.numpy(), rtol=1e-9, atol=1e-10)
    assert_close(to_np(dm.weight), tm.weight.detach().numpy(), rtol=1e-9, atol=1e-10)
    # registering keeps the weight as the original; only assigning needs the inverse map
    pairs = [
        (torch.nn.Linear(3, 3), torch.nn.utils.parametrizations.orthogonal),
        (nn.Linear(3, 3), PZ.orthogonal),
    ]
    for lib_m, orth in pairs:
        orth(lib_m, orthogonal_map="cayley", use_trivialization=False)
        assert not hasattr(lib_m.parametrizations.weight[0], "base")
        with pytest.raises(NotImplementedError, match="use_trivialization=False"):
            lib_m.weight = lib_m.weight.detach()
    with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
        PZ.orthogonal(nn.Linear(3, 3), orthogonal_map="qr")
    with pytest.raises(ValueError, match="Expected a matrix"):
        PZ.orthogonal(nn.Linear(3, 3), name="bias")


@pytest.mark.parametrize("orthogonal_map", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_training_step_matches_torch(device, orthogonal_map):
    torch = pytest.importorskip("torch")
    rng = _rng(6)
    x, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 5))
    tm, dm = torch.nn.Linear(3, 5), nn.Linear(3, 5)
    torch.nn.utils.parametrizations.orthogonal(tm, orthogonal_map=orthogonal_map)
    PZ.orthogonal(dm, orthogonal_map=orthogonal_map)
    dm.load_state_dict(_df_state(tm))
    dm.to(device)
    for m, lib, dev in [(tm, torch, "cpu"), (dm, df, device)]:
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            out = m(lib.tensor(x, dtype=lib.float32, device=dev))
            ((out - lib.tensor(target, dtype=lib.float32, device=dev)) ** 2).mean().backward()
            opt.step()
    assert dm.weight.device == df.device(device)
    W = to_np(dm.weight)
    assert_close(W, tm.weight.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert_close(W.T @ W, np.eye(3), atol=1e-5)
