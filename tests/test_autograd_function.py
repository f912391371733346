"""The public ``deepforge.autograd.Function`` API, as PyTorch users write it."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import deepforge as df
from deepforge.autograd import Function, once_differentiable


def leaf(values, device="cpu"):
    return df.tensor(values, dtype=df.float64, device=device, requires_grad=True)


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x * x


class MulConst(Function):
    """Mixed tensor / non-tensor arguments; None gradient for the constant."""

    @staticmethod
    def forward(ctx, x, k: float):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, g):
        return g * ctx.k, None


def test_apply_forward_backward(device):
    x = leaf([1.0, 2.0], device)
    y = Cube.apply(x)
    assert y.grad_fn is not None and y.grad_fn.name() == "CubeBackward0"
    y.sum().backward()
    assert_close(x.grad, [3.0, 12.0])


def test_non_tensor_arguments(device):
    x = leaf([1.0, 2.0], device)
    MulConst.apply(x, 2.5).sum().backward()
    assert_close(x.grad, [2.5, 2.5])


def test_custom_function_gradcheck_and_double_backward(device):
    x = leaf([0.5, -1.5], device)
    assert df.autograd.gradcheck(Cube.apply, (x,))
    assert df.autograd.gradgradcheck(Cube.apply, (x,))


def test_no_graph_without_requires_grad():
    y = Cube.apply(df.tensor([2.0], dtype=df.float64))
    assert y.grad_fn is None and not y.requires_grad
    with df.no_grad():
        assert Cube.apply(leaf([2.0])).grad_fn is None


def test_needs_input_grad():
    seen = {}

    class F(Function):
        @staticmethod
        def forward(ctx, a, b, k):
            seen["fwd"] = ctx.needs_input_grad
            return a * b * k

        @staticmethod
        def backward(ctx, g):
            seen["bwd"] = ctx.needs_input_grad
            return None, g, None

    a, b = df.ones(2, dtype=df.float64), leaf([1.0, 2.0])
    F.apply(a, b, 3).sum().backward()
    assert seen["fwd"] == seen["bwd"] == (False, True, False)
    assert_close(b.grad, [1.0, 1.0])


def test_multiple_outputs_and_mark_non_differentiable():
    class SortLike(Function):
        @staticmethod
        def forward(ctx, x):
            idx = df.argsort(x)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return x[idx], idx

        @staticmethod
        def backward(ctx, g, g_idx):
            (idx,) = ctx.saved_tensors
            out = df.zeros_like(g)
            out[idx] = g
            return out

    x = leaf([3.0, 1.0, 2.0])
    vals, idx = SortLike.apply(x)
    assert vals.requires_grad and not idx.requires_grad
    (vals * df.tensor([1.0, 2.0, 3.0], dtype=df.float64)).sum().backward()
    assert_close(x.grad, [3.0, 1.0, 2.0])


def test_materialize_grads_default_and_off():
    got = {}

    class Two(Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            got["g2"] = g2
            return g1 if g2 is None else g1 + g2, None

    x = leaf([1.0])
    a, _ = Two.apply(x, True)
    a.sum().backward()
    assert_close(got["g2"], [0.0])  # unused output gets a zero gradient
    a, _ = Two.apply(x, False)
    a.sum().backward()
    assert got["g2"] is None


def test_mark_dirty_inplace_function():
    class AddOne_(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = leaf([1.0, 2.0])
    y = x * 2
    z = AddOne_.apply(y)
    assert z is y or z._vc is y._vc
    assert_close(z, [3.0, 5.0])
    z.sum().backward()
    assert_close(x.grad, [2.0, 2.0])


def test_returned_input_is_aliased_not_reused():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = leaf([1.0])
    y = Identity.apply(x)
    assert y is not x and x.is_leaf and y.grad_fn is not None
    y.sum().backward()
    assert_close(x.grad, [2.0])


def test_once_differentiable():
    class Sq(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = leaf([3.0])
    (g,) = df.autograd.grad(Sq.apply(x).sum(), x)
    assert_close(g, [6.0])
    # the incoming gradient requires grad here (it depends on x): double backward must fail
    (g,) = df.autograd.grad((Sq.apply(x) * x).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        g.sum().backward()


def test_setup_context_style():
    class Scale(Function):
        @staticmethod
        def forward(x, k):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    x = leaf([1.0, 2.0])
    Scale.apply(x, 4.0).sum().backward()
    assert_close(x.grad, [4.0, 4.0])


def test_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        Bad.apply(leaf([1.0])).sum().backward()


def test_wrong_gradient_shape():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return df.ones(5, dtype=df.float64)

    with pytest.raises(
        RuntimeError, match=r"BadBackward0 returned an invalid gradient at index 0 - got \[5\]"
    ):
        Bad.apply(leaf([1.0, 2.0])).backward()


def test_gradient_of_broadcastable_shape_is_reduced():
    class Expand(Function):
        @staticmethod
        def forward(ctx, x):
            return x.sum()

        @staticmethod
        def backward(ctx, g):
            return g.expand(3, 2)  # a broadcast of the input's (2,) shape: reduced, like torch

    x = leaf([1.0, 2.0])
    Expand.apply(x).backward()
    assert_close(x.grad, [3.0, 3.0])


def test_backward_not_implemented():
    class NoBackward(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

    with pytest.raises(NotImplementedError, match="backward"):
        NoBackward.apply(leaf([1.0])).sum().backward()


def test_saved_tensors_freed_after_backward():
    x = leaf([1.0])
    y = Cube.apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        _ = y.grad_fn.saved_tensors


def test_saved_output_supports_double_backward():
    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    x = leaf([0.3, -0.2])
    assert df.autograd.gradgradcheck(Exp.apply, (x,))
    y = Exp.apply(x)
    y.sum().backward()
    assert_close(x.grad, np.exp([0.3, -0.2]))


def test_function_subclass_is_graph_node():
    y = Cube.apply(leaf([1.0]))
    assert isinstance(y.grad_fn, df.autograd.graph.Node)
