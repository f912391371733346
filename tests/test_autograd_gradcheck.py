"""gradcheck / gradgradcheck follow PyTorch's contract (float64, eps=1e-6, atol=1e-5, rtol=1e-3)."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
from deepforge.autograd import Function, GradcheckError, gradcheck, gradgradcheck


def leaf(values, dtype=None):
    return df.tensor(values, dtype=dtype or df.float64, requires_grad=True)


class WrongSquare(Function):
    """Forward x^2, backward claims 3x (wrong)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x


class DetachedSquare(Function):
    """Correct first derivative, but written so the second derivative is wrong (detached x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 * x.detach()


class Noisy(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2 + df.rand(g.shape, dtype=g.dtype) * 1e-9


def test_defaults_match_pytorch():
    import inspect

    sig = inspect.signature(gradcheck).parameters
    assert (sig["eps"].default, sig["atol"].default, sig["rtol"].default) == (1e-6, 1e-5, 1e-3)
    assert sig["raise_exception"].default is True and sig["fast_mode"].default is False
    assert sig["nondet_tol"].default == 0.0


def test_passes_for_correct_gradients():
    x, y = leaf([[0.1, 0.2], [0.3, -0.4]]), leaf([0.5, 1.5])
    assert gradcheck(lambda a, b: (a * b).tanh().sum(0), (x, y)) is True
    assert gradcheck(lambda a: a.exp(), leaf([0.1, 0.2]))  # a bare tensor as inputs


def test_failure_reports_numerical_and_analytical():
    x = leaf([1.0, 2.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(WrongSquare.apply, (x,))
    msg = str(info.value)
    assert "Jacobian mismatch for output 0 with respect to input 0" in msg
    assert "numerical:" in msg and "analytical:" in msg
    assert "2." in msg and "3." in msg and "4." in msg and "6." in msg  # the two Jacobians
    assert isinstance(info.value, RuntimeError)


def test_raise_exception_false_returns_false():
    assert gradcheck(WrongSquare.apply, (leaf([1.0]),), raise_exception=False) is False


def test_float32_inputs_are_refused_with_a_clear_error():
    with pytest.raises(
        GradcheckError, match=r"Input #0 requires gradient and is not a double precision.*float64"
    ):
        gradcheck(lambda a: a * 2, (leaf([1.0], df.float32),))


def test_needs_an_input_requiring_grad():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda a: a * 2, (df.tensor([1.0], dtype=df.float64),))


def test_non_tensor_and_non_differentiable_inputs():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    idx = df.tensor([1, 0])
    assert gradcheck(lambda a, i, k: a[i] * k, (x, idx, 3.0))


def test_multiple_and_integer_outputs():
    x = leaf([0.3, -0.7, 1.1])
    assert gradcheck(lambda a: (a.sin(), a.argmax(), a * a), (x,))
    assert gradcheck(lambda a: a.max(0), (x,))  # (values, indices)


def test_nondet_tol():
    x = leaf([1.0, 2.0])
    with pytest.raises(GradcheckError, match="Backward is not reentrant"):
        gradcheck(Noisy.apply, (x,))
    assert gradcheck(Noisy.apply, (x,), nondet_tol=1e-6)


def test_fast_mode():
    x = leaf(np.linspace(-1, 1, 6).reshape(2, 3))
    assert gradcheck(lambda a: (a @ a.mT).exp(), (x,), fast_mode=True)
    with pytest.raises(GradcheckError, match="fast mode"):
        gradcheck(WrongSquare.apply, (leaf([1.0, 2.0]),), fast_mode=True)


def test_tolerances_are_used():
    class SlightlyOff(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2.001

    x = leaf([1.0])
    assert not gradcheck(SlightlyOff.apply, (x,), raise_exception=False, rtol=1e-4, atol=1e-6)
    assert gradcheck(SlightlyOff.apply, (x,), rtol=1e-2)


def test_gradgradcheck_passes_and_fails():
    x = leaf([0.5, -1.0])
    assert gradgradcheck(lambda a: a.sin() * a, (x,))
    assert gradcheck(DetachedSquare.apply, (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradgradcheck(DetachedSquare.apply, (x,))
    assert gradgradcheck(DetachedSquare.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_with_given_grad_outputs():
    x = leaf([0.5, -1.0])
    go = leaf([1.0, 2.0])
    assert gradgradcheck(lambda a: a**3, (x,), (go,))


def test_gradcheck_on_views_and_noncontiguous_inputs():
    base = df.tensor(np.arange(6.0).reshape(3, 2), dtype=df.float64)
    x = base.t().detach().requires_grad_()
    assert not x.is_contiguous()
    assert gradcheck(lambda a: (a * a).cumsum(1), (x,))
    assert np.array_equal(base.numpy(), np.arange(6.0).reshape(3, 2))  # inputs restored
