"""Autograd hooks (tensor and node hooks, retain_grad) and grad modes (no_grad, enable_grad,
set_grad_enabled, inference_mode) as context managers and decorators."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import deepforge as df


def leaf(values, device="cpu", dtype=None):
    return df.tensor(values, dtype=dtype or df.float64, device=device, requires_grad=True)


# -- hooks -------------------------------------------------------------------------------------
def test_tensor_hook_observes_and_replaces_grad(device):
    x = leaf([1.0, 2.0], device)
    seen = []
    y = x * 3
    y.register_hook(lambda g: seen.append(g.clone()))
    h = x.register_hook(lambda g: g * 10)
    (y * 1).sum().backward()
    assert_close(seen[0], [1.0, 1.0])
    assert_close(x.grad, [30.0, 30.0])
    h.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert_close(x.grad, [3.0, 3.0])


def test_hook_on_intermediate_changes_upstream_grad(device):
    x = leaf([1.0], device)
    y = x * 2
    y.register_hook(lambda g: g * 0)
    (y * 5).sum().backward()
    assert_close(x.grad, [0.0])


def test_hook_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        df.ones(1).register_hook(lambda g: g)


def test_node_hooks():
    x = leaf([2.0])
    y = x.exp()
    seen = {}
    y.grad_fn.register_hook(lambda gi, go: seen.update(io=(gi, go)))
    y.grad_fn.register_prehook(lambda go: seen.update(pre=go))
    y.sum().backward()
    gi, go = seen["io"]
    assert_close(gi[0], [np.exp(2.0)])
    assert_close(seen["pre"][0], [1.0])
    # a hook's return value replaces the gradients
    z = x.exp()
    z.grad_fn.register_hook(lambda gi, go: (gi[0] * 0,))
    x.grad = None
    z.sum().backward()
    assert_close(x.grad, [0.0])


def test_post_accumulate_style_hook_on_leaf_sees_final_grad():
    x = leaf([1.0])
    grads = []
    x.register_hook(lambda g: grads.append(g.item()))
    (x * 2 + x * 3).sum().backward()
    assert grads == [5.0]


# -- grad modes --------------------------------------------------------------------------------
def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with df.no_grad():
        assert not df.is_grad_enabled()
        assert not (x * 2).requires_grad
    assert df.is_grad_enabled()

    @df.no_grad()
    def f(t):
        return t * 2

    @df.no_grad
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad
    assert df.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with df.no_grad():
        with df.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad

        @df.enable_grad()
        def f(t):
            return t * 2

        assert f(x).requires_grad


def test_set_grad_enabled_forms():
    x = leaf([1.0])
    with df.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert df.is_grad_enabled()
    df.set_grad_enabled(False)
    try:
        assert not df.is_grad_enabled()
    finally:
        df.set_grad_enabled(True)

    @df.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert not f(x).requires_grad and df.is_grad_enabled()


def test_inference_mode():
    x = leaf([1.0])
    with df.inference_mode():
        assert df.is_inference_mode_enabled()
        assert not (x * 2).requires_grad
    assert not df.is_inference_mode_enabled()
    with df.inference_mode(False):
        assert (x * 2).requires_grad

    @df.inference_mode()
    def f(t):
        return t * 2

    assert not f(x).requires_grad


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with df.no_grad():
            raise ValueError
    assert df.is_grad_enabled()
