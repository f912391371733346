"""deepforge.utils.checkpoint: recomputed gradients equal the plain ones, dropout included."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deepforge as df
from deepforge.utils.checkpoint import checkpoint, checkpoint_sequential


def _model(device: str):
    df.manual_seed(0)
    return df.nn.Sequential(
        df.nn.Linear(4, 8), df.nn.ReLU(), df.nn.Dropout(0.5), df.nn.Linear(8, 8), df.nn.Tanh(),
        df.nn.Dropout(0.3), df.nn.Linear(8, 3),
    ).to(device)  # fmt: skip


def _grads(model, x):
    out = [p.grad.cpu().numpy().copy() for p in model.parameters()]
    return out + ([x.grad.cpu().numpy().copy()] if x.grad is not None else [])


def _reference(model, x, seed: int):
    df.manual_seed(seed)
    out = model(x)
    (out * out).sum().backward()
    grads = _grads(model, x)
    model.zero_grad()
    x.grad = None
    return out.detach().cpu().numpy(), grads


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpoint_gradients_equal_plain_with_dropout(device, use_reentrant):
    model = _model(device)
    x = df.randn(6, 4, device=device, requires_grad=True)
    ref_out, ref_grads = _reference(model, x, seed=7)
    df.manual_seed(7)
    out = checkpoint(model, x, use_reentrant=use_reentrant)
    np.testing.assert_array_equal(out.detach().cpu().numpy(), ref_out)
    (out * out).sum().backward()
    grads = _grads(model, x)
    assert len(grads) == len(ref_grads)
    for got, ref in zip(grads, ref_grads):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)
    # the recompute restored the RNG afterwards: the stream continues as without checkpoint
    df.manual_seed(7)
    model(x)
    after_plain = df.rand(3).numpy()
    df.manual_seed(7)
    checkpoint(model, x, use_reentrant=use_reentrant).sum().backward()
    np.testing.assert_array_equal(df.rand(3).numpy(), after_plain)


def test_checkpoint_without_preserved_rng_uses_other_masks(device):
    model = _model(device)
    x = df.randn(64, 4, device=device, requires_grad=True)
    _, ref_grads = _reference(model, x, seed=3)
    df.manual_seed(3)
    out = checkpoint(model, x, use_reentrant=True, preserve_rng_state=False)
    (out * out).sum().backward()
    grads = _grads(model, x)
    assert any(not np.allclose(g, r) for g, r in zip(grads, ref_grads))


def test_checkpoint_non_reentrant_reaches_parameters_without_input_grad(device):
    model = _model(device)
    x = df.randn(5, 4, device=device)
    _, ref_grads = _reference(model, x, seed=11)
    df.manual_seed(11)
    out = checkpoint(model, x, use_reentrant=False)
    (out * out).sum().backward()
    for got, ref in zip(_grads(model, x), ref_grads):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)


def test_checkpoint_reentrant_without_input_grad_warns(device):
    model = _model(device)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        out = checkpoint(model, df.randn(2, 4, device=device), use_reentrant=True)
    assert not out.requires_grad


def test_checkpoint_multiple_inputs_outputs_and_kwargs(device):
    a = df.randn(3, 4, device=device, requires_grad=True)
    b = df.randn(3, 4, device=device, requires_grad=True)

    def fn(x, y, scale=2.0):
        return (x * y).tanh() * scale, x.exp()

    def loss_of(outs):
        return (outs[0] * outs[1]).sum()

    loss_of(fn(a, b, scale=3.0)).backward()
    ref = [a.grad.cpu().numpy().copy(), b.grad.cpu().numpy().copy()]
    a.grad = b.grad = None
    loss_of(checkpoint(fn, a, b, use_reentrant=False, scale=3.0)).backward()
    np.testing.assert_allclose(a.grad.cpu().numpy(), ref[0], rtol=1e-6)
    np.testing.assert_allclose(b.grad.cpu().numpy(), ref[1], rtol=1e-6)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(fn, a, b, use_reentrant=True, scale=3.0)


def test_checkpoint_gradcheck(device):
    x = df.randn(2, 3, dtype=df.float64, device=device, requires_grad=True)
    w = df.randn(3, 3, dtype=df.float64, device=device, requires_grad=True)

    def f(x, w):
        return checkpoint(lambda u, v: (u @ v).sin(), x, w, use_reentrant=True)

    assert df.autograd.gradcheck(f, (x, w))


@pytest.mark.parametrize("segments", [1, 2, 3])
def test_checkpoint_sequential_matches_plain(device, segments):
    model = _model(device)
    x = df.randn(6, 4, device=device, requires_grad=True)
    ref_out, ref_grads = _reference(model, x, seed=5)
    df.manual_seed(5)
    out = checkpoint_sequential(model, segments, x, use_reentrant=True)
    np.testing.assert_array_equal(out.detach().cpu().numpy(), ref_out)
    (out * out).sum().backward()
    for got, ref in zip(_grads(model, x), ref_grads):
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7)


def test_use_reentrant_default_warns():
    x = df.ones(2, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda t: t * 2, x)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint_sequential([df.nn.Identity(), df.nn.Identity()], 2, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lambda t: t * 2, x, use_reentrant=False)


def test_recompute_runs_under_the_forward_autocast_state():
    seen = []

    def fn(t):
        seen.append((df.is_autocast_enabled("cpu"), df.get_autocast_dtype("cpu")))
        return t * 3

    x = df.ones(2, requires_grad=True)
    df.set_autocast_enabled("cpu", True)
    df.set_autocast_dtype("cpu", df.float32)
    try:
        out = checkpoint(fn, x, use_reentrant=False)
    finally:
        df.set_autocast_enabled("cpu", False)
        df.set_autocast_dtype("cpu", df.float16)
    out.sum().backward()
    assert seen == [(True, df.float32), (True, df.float32)]
    assert not df.is_autocast_enabled("cpu") and df.get_autocast_dtype("cpu") == df.float16
    assert x.grad.tolist() == [3.0, 3.0]
