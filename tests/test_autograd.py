"""The autograd engine: backward/grad arguments, higher order, deep graphs, fan-out,
graph freeing and memory, retain_grad and leaf rules, saved-tensor versioning, anomaly mode."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest
from helpers import assert_close

import deepforge as df
from deepforge.autograd.function import BackwardNode


def leaf(values, device="cpu", dtype=None):
    return df.tensor(values, dtype=dtype or df.float64, device=device, requires_grad=True)


# -- backward() and autograd.grad() ------------------------------------------------------------
def test_backward_scalar_accumulates(device):
    x = leaf([1.0, 2.0, 3.0], device)
    (x * x).sum().backward()
    assert_close(x.grad, [2.0, 4.0, 6.0])
    (x * 3).sum().backward()
    assert_close(x.grad, [5.0, 7.0, 9.0])


def test_backward_with_gradient_argument(device):
    x = leaf([1.0, 2.0], device)
    y = x * x
    y.backward(df.tensor([1.0, 0.5], dtype=df.float64, device=device))
    assert_close(x.grad, [2.0, 2.0])


def test_backward_retain_graph(device):
    x = leaf([1.0, 2.0], device)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.clone()
    y.backward()
    assert_close(x.grad, 2 * first.cpu().numpy())


def test_backward_inputs_restricts_accumulation(device):
    x, w = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    (x * w).sum().backward(inputs=[x])
    assert_close(x.grad, [3.0, 4.0])
    assert w.grad is None
    (x * w).sum().backward(inputs=w)
    assert_close(w.grad, [1.0, 2.0])


def test_backward_inputs_non_leaf_gets_grad(device):
    x = leaf([1.0, 2.0], device)
    h = x * 3
    (h * h).sum().backward(inputs=[h])
    assert_close(h._grad, [6.0, 12.0])
    assert x.grad is None


def test_grad_returns_without_accumulating(device):
    x = leaf([1.0, 2.0], device)
    (g,) = df.autograd.grad((x**3).sum(), x)
    assert_close(g, [3.0, 12.0])
    assert x.grad is None


def test_grad_allow_unused(device):
    x, z = leaf([1.0], device), leaf([2.0], device)
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        df.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = df.autograd.grad(y, [x, z], allow_unused=True)
    assert_close(gx, [2.0])
    assert gz is None
    gx, gz = df.autograd.grad((x * 2).sum(), [x, z], materialize_grads=True)
    assert_close(gz, [0.0])


def test_grad_of_non_leaf(device):
    x = leaf([1.0, 2.0], device)
    h = x * 3
    (gh,) = df.autograd.grad((h * h).sum(), h)
    assert_close(gh, [6.0, 12.0])


def test_grad_multiple_outputs_and_grad_outputs(device):
    x = leaf([1.0, 2.0], device)
    a, b = x * 2, x * x
    ones = df.ones(2, dtype=df.float64, device=device)
    (g,) = df.autograd.grad([a, b], [x], [ones, ones * 2])
    assert_close(g, [2 + 4 * 1.0, 2 + 4 * 2.0])


@pytest.mark.parametrize("order", [2, 3])
def test_higher_order_gradients(order, device):
    x = leaf([0.5, -1.5], device)
    y = (x**4).sum()
    g = x
    expected = {1: 4 * x.detach() ** 3, 2: 12 * x.detach() ** 2, 3: 24 * x.detach()}
    out = y
    for k in range(1, order + 1):
        (g,) = df.autograd.grad(out, x, create_graph=True)
        out = g.sum()
        assert_close(g, expected[k])


def test_create_graph_backward_accumulates_differentiable_grad(device):
    x = leaf([2.0], device)
    (x**3).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (gg,) = df.autograd.grad(x.grad.sum(), x)
    assert_close(gg, [12.0])


def test_double_backward_through_softmax_and_exp(device):
    x = leaf([[0.1, -0.3, 0.7]], device)
    y = (df.softmax(x, -1) * df.tensor([1.0, 2.0, 3.0], dtype=df.float64, device=device)).sum()
    (g,) = df.autograd.grad(y, x, create_graph=True)
    (gg,) = df.autograd.grad((g * g).sum(), x)
    assert df.autograd.gradgradcheck(lambda t: df.softmax(t, -1), (x,))
    assert gg.shape == x.shape


# -- graph structure ---------------------------------------------------------------------------
def test_long_chain_is_iterative(device):
    x = leaf([1.0], device)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.sum().backward()
    assert_close(x.grad, [1.0])
    assert_close(y, [100_001.0])


def test_fan_out_accumulates(device):
    x = leaf([3.0], device)
    a = x * 2
    y = a * a + a.exp() + a  # a used three times
    y.sum().backward()
    expected = 2 * (2 * 6.0 + np.exp(6.0) + 1)
    assert_close(x.grad, [expected], rtol=1e-12)


def test_diamond_graph_runs_each_node_once(device):
    calls = []

    class Count(df.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 1

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

    x = leaf([1.0], device)
    c = Count.apply(x)
    (c * 2 + c * 3).sum().backward()
    assert len(calls) == 1
    assert_close(x.grad, [5.0])


def test_same_input_twice(device):
    x = leaf([3.0], device)
    (x * x).sum().backward()
    assert_close(x.grad, [6.0])


def test_grad_fn_names_and_next_functions():
    x = leaf([1.0])
    y = (x * 2).exp()
    assert y.grad_fn.name() == "ExpBackward0"
    nxt = y.grad_fn.next_functions[0][0]
    assert nxt.name() == "MulBackward0"
    assert nxt.next_functions[0][0].name() == "AccumulateGrad"
    assert nxt.next_functions[0][0].variable is x
    assert "grad_fn=<ExpBackward0>" in repr(y)


def test_graph_freed_after_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_no_graph_nodes_leak_over_training_like_iterations():
    w = leaf(np.random.default_rng(0).standard_normal((3, 2)))
    x = df.tensor(np.random.default_rng(1).standard_normal((4, 3)), dtype=df.float64)

    def live_nodes():
        gc.collect()
        return sum(1 for o in gc.get_objects() if BackwardNode in type(o).__mro__)

    def step():
        loss = (x @ w).tanh().sum()
        loss.backward()
        with df.no_grad():
            w.sub_(0.01 * w.grad)
        w.grad = None

    for _ in range(50):
        step()
    before = live_nodes()
    for _ in range(10_000):
        step()
    assert live_nodes() <= before + 2


def test_graph_collected_without_backward():
    x = leaf([1.0])
    y = (x * 2).exp()
    import weakref

    ref = weakref.ref(y.grad_fn)
    del y
    gc.collect()
    assert ref() is None


# -- leaf / non-leaf rules ---------------------------------------------------------------------
def test_non_leaf_grad_warns_and_is_none():
    x = leaf([1.0])
    y = x * 2
    y.sum().backward()
    with pytest.warns(UserWarning, match="is not a leaf Tensor"):
        assert y.grad is None


def test_retain_grad(device):
    x = leaf([1.0, 2.0], device)
    y = x * 2
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_close(y.grad, [4.0, 8.0])


def test_leaf_properties():
    x = df.ones(2)
    assert x.is_leaf and not x.requires_grad and x.grad_fn is None
    x.requires_grad_()
    assert x.is_leaf and x.requires_grad
    y = x * 2
    assert not y.is_leaf and y.requires_grad
    z = y.detach()
    assert z.is_leaf and not z.requires_grad


def test_no_grad_outputs_are_leaves():
    x = leaf([1.0])
    with df.no_grad():
        y = x * 2
    assert y.is_leaf and not y.requires_grad


def test_requires_grad_flags_propagate():
    a, b = leaf([1.0]), df.tensor([2.0], dtype=df.float64)
    assert (a + b).requires_grad and not (b + b).requires_grad
    assert not (a > b).requires_grad  # comparisons are not differentiable
    assert not a.argmax().requires_grad


def test_detach_shares_storage_and_detach_():
    x = leaf([1.0, 2.0])
    y = x * 2
    d = y.detach()
    assert not d.requires_grad
    d[0] = 10.0
    assert y[0].item() == 10.0
    y.detach_()
    assert y.is_leaf and not y.requires_grad


def test_integer_output_of_differentiable_op_has_no_grad():
    x = leaf([1.5, -2.5])
    assert not x.round().long().requires_grad


def test_grad_assignment_checks():
    x = leaf([1.0, 2.0])
    x.grad = df.ones(2, dtype=df.float64)
    with pytest.raises(RuntimeError, match="different size"):
        x.grad = df.ones(3, dtype=df.float64)
    with pytest.raises(RuntimeError, match="different type"):
        x.grad = df.ones(2, dtype=df.float32)
    x.grad = None
    assert x.grad is None


# -- in-place and saved tensors ----------------------------------------------------------------
def test_inplace_on_saved_tensor_raises_naming_op():
    x = leaf([1.0, 2.0])
    y = x * 1
    z = y.exp()  # saves its output
    w = y * y  # saves y
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*MulBackward0"):
        w.sum().backward()
    z.add_(1)
    with pytest.raises(
        RuntimeError, match=r"output 0 of ExpBackward0.*is at version 1; expected version 0"
    ):
        z.sum().backward()


def test_inplace_ops_in_graph(device):
    x = leaf([1.0, 2.0], device)
    y = x * 2
    y.add_(1).mul_(3)
    y.sum().backward()
    assert_close(x.grad, [6.0, 6.0])
    assert y.grad_fn is not None


def test_inplace_on_leaf_requiring_grad_raises():
    x = leaf([1.0])
    with pytest.raises(
        RuntimeError,
        match="a leaf Variable that requires grad is being used in an in-place operation",
    ):
        x.add_(1)
    with df.no_grad():
        x.add_(1)  # allowed: this is how optimizers update parameters
    assert x.item() == 2.0


def test_version_counter_shared_with_views():
    x = df.zeros(4)
    v = x[1:3]
    assert x._version == v._version == 0
    v.add_(1)
    assert x._version == v._version == 1
    x[0] = 5
    assert v._version == 2


# -- anomaly detection -------------------------------------------------------------------------
def test_detect_anomaly_names_forward_op():
    x = leaf([0.0, 1.0])
    with df.autograd.detect_anomaly():
        y = x.sqrt()  # d/dx sqrt at 0 -> inf, times 0 -> nan below
        z = (y * 0).sum()
        with (
            pytest.raises(RuntimeError, match="SqrtBackward0.*returned nan"),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("always", UserWarning)
            z.backward()
    assert not df.autograd.is_anomaly_enabled()
    msgs = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    # the warning shows where the forward op that produced the nan gradient was called
    assert any("SqrtBackward0" in m and "y = x.sqrt()" in m for m in msgs), msgs


def test_set_detect_anomaly():
    with df.autograd.set_detect_anomaly(True):
        assert df.autograd.is_anomaly_enabled()
    assert not df.autograd.is_anomaly_enabled()


# -- misc --------------------------------------------------------------------------------------
def test_backward_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(
        RuntimeError, match="grad can be implicitly created only for scalar outputs"
    ):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        df.ones(1).sum().backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(df.ones(3, dtype=df.float64))


def test_gradient_dtype_follows_input():
    x = df.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 2
    y.sum().backward()
    assert x.grad.dtype == df.float32
    assert_close(x.grad, [2.0, 2.0])


def test_broadcast_gradients_reduced_to_input_shape(device):
    a = leaf(np.ones((3, 1)), device)
    b = leaf(np.ones((4,)), device)
    c = leaf(2.0, device)
    (a * b * c).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,) and c.grad.shape == ()
    assert_close(a.grad, np.full((3, 1), 8.0))
    assert_close(b.grad, np.full(4, 6.0))
    assert_close(c.grad, 12.0)


def test_views_in_graph(device):
    x = leaf(np.arange(6.0).reshape(2, 3), device)
    y = x.t()[1:].reshape(-1)
    (y * y).sum().backward()
    expected = np.zeros((2, 3))
    expected[:, 1:] = 2 * np.arange(6.0).reshape(2, 3)[:, 1:]
    assert_close(x.grad, expected)


def test_setitem_into_tensor_requiring_grad(device):
    x = leaf([1.0, 2.0, 3.0], device)
    v = leaf([10.0], device)
    y = x * 1
    y[1] = v[0] * 2
    y.sum().backward()
    assert_close(x.grad, [1.0, 0.0, 1.0])
    assert_close(v.grad, [2.0])


# -- in-place writes through views (CopySlices) ----------------------------------------------------
def _view_program(m):
    x = m.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=m.float64, requires_grad=True)
    w = m.tensor([0.5, -1.0], dtype=m.float64, requires_grad=True)
    y = x * 2
    y[:, 0] += 1  # augmented assignment through a view
    y[1].mul_(w[0])  # in-place op on a view, value needing grad
    v = y[:, 1:]
    v.sin_()
    y[0, 2] = w[1] * 3  # the base changes after v was made: v's history follows
    z = m.zeros(4, dtype=m.float64)
    z[1:3].add_(w)  # a base that did not require grad gets a history
    out = (y * y).sum() + (z * z).sum() + (v * v).sum()
    out.backward()
    return out.item(), x.grad, w.grad, y.grad_fn is not None and z.requires_grad


def test_inplace_through_views_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _view_program(df), _view_program(torch)
    assert_close(ours[0], theirs[0], rtol=1e-12)
    assert_close(ours[1], theirs[1].numpy(), rtol=1e-12)
    assert_close(ours[2], theirs[2].numpy(), rtol=1e-12)
    assert ours[3] and theirs[3]


def test_inplace_through_view_gradcheck():
    def f(x, w):
        y = x * 1.0
        y[1:, ::2].mul_(w)
        y.diagonal().add_(w.sum())
        return y

    x = leaf(np.arange(12.0).reshape(3, 4) / 10)
    w = leaf([0.3, -0.7])
    assert df.autograd.gradcheck(f, (x, w))
    assert df.autograd.gradgradcheck(f, (x, w))


def test_inplace_through_view_of_transposed_base():
    def f(x):
        y = x.t() * 1  # an elementwise result keeps the transposed (dense) layout
        y[1:].mul_(3)
        y.t()[0].add_(y[0, 0].clone())
        return y

    x = leaf(np.arange(12.0).reshape(3, 4) / 10)
    assert df.autograd.gradcheck(f, (x,))
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x.detach().numpy(), requires_grad=True)
    f(tx).sum().backward()
    f(x).sum().backward()
    assert_close(x.grad, tx.grad.numpy(), rtol=1e-12)
