"""Tensor.unfold, resize_, sum_to_size, new, apply_/map_, memory placement, post-accumulate
hooks and small queries, each checked against PyTorch."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
from helpers import assert_close

import deepforge as df

torch = pytest.importorskip("torch")

A = np.random.default_rng(3).standard_normal((3, 8))


# -- unfold ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dim, size, step", [(1, 3, 2), (0, 2, 1), (1, 8, 3), (-1, 1, 4), (1, 0, 1), (1, 2, 2)]
)
def test_unfold_is_the_same_strided_view_as_torch(device, dim, size, step):
    x = df.tensor(A, device=device)
    out = x.unfold(dim, size, step)
    ref = torch.tensor(A).unfold(dim, size, step)
    assert out.shape == ref.shape and out.stride() == ref.stride()
    assert_close(out, ref.numpy())
    x.add_(1.0)  # a view: the base's change shows through
    assert_close(out, ref.numpy() + 1.0)


def test_unfold_of_views_and_chained_unfolds(device):
    base = np.arange(40.0).reshape(5, 8)
    x, t = df.tensor(base, device=device), torch.tensor(base)
    cases = [
        lambda v: v[1:, 2:].unfold(0, 2, 1).unfold(1, 3, 2),
        lambda v: v.t().unfold(0, 4, 4),
        lambda v: v.unfold(1, 4, 2).unfold(2, 2, 1),
        lambda v: v[:, 1].unfold(0, 3, 1),
    ]
    for f in cases:
        out, ref = f(x), f(t)
        assert out.shape == ref.shape and out.stride() == ref.stride()
        assert_close(out, ref.numpy())


def test_unfold_of_a_0d_tensor(device):
    for size in (0, 1):
        out = df.tensor(5.0, device=device).unfold(0, size, 1)
        ref = torch.tensor(5.0).unfold(0, size, 1)
        assert out.shape == ref.shape
        assert_close(out, ref.numpy())
    x = df.tensor(2.0, dtype=df.float64, device=device, requires_grad=True)
    assert df.autograd.gradcheck(lambda v: v.unfold(0, 1, 1), (x,))


@pytest.mark.parametrize("step", [1, 2, 3])  # overlapping, touching and gapped windows
def test_unfold_gradcheck(device, step):
    x = df.tensor(A, device=device, requires_grad=True)
    assert df.autograd.gradcheck(lambda v: v.unfold(1, 3, step), (x,))
    assert df.autograd.gradcheck(lambda v: v.t().unfold(0, 3, step), (x,))  # non-contiguous
    assert df.autograd.gradgradcheck(lambda v: v.unfold(1, 3, step), (x,))


def test_unfold_gradient_matches_torch(device):
    w = np.linspace(-1, 1, 3 * 4 * 3).reshape(3, 4, 3)
    x = df.tensor(A, device=device, requires_grad=True)
    t = torch.tensor(A, requires_grad=True)
    (x.unfold(1, 3, 1)[:, ::2] * df.tensor(w[:, :3], device=device)).sum().backward()
    (t.unfold(1, 3, 1)[:, ::2] * torch.tensor(w[:, :3])).sum().backward()
    assert_close(x.grad, t.grad.numpy())


def test_unfold_errors_name_the_sizes():
    x = df.ones(6)
    with pytest.raises(
        RuntimeError, match="maximum size for tensor at dimension 0 is 6 but size is 7"
    ):
        x.unfold(0, 7, 1)
    with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
        x.unfold(0, 2, 0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.unfold(1, 2, 1)


# -- shapes ------------------------------------------------------------------------------------
def test_reshape_as_and_sum_to_size(device):
    x = df.tensor(A, device=device, requires_grad=True)
    assert x.reshape_as(df.ones(4, 6)).shape == (4, 6)
    t = torch.tensor(A, requires_grad=True)
    for size in [(1, 8), (8,), (3, 1), (1, 1), (3, 8)]:
        assert_close(x.sum_to_size(*size), t.sum_to_size(*size).detach().numpy())
        assert_close(x.sum_to_size(size), t.sum_to_size(size).detach().numpy())
    x.sum_to_size(3, 1).sum().backward()
    assert_close(x.grad, np.ones_like(A))
    with pytest.raises(
        RuntimeError, match=r"size \{\[2\]\} is not expandable to size \{\[3, 8\]\}"
    ):
        x.sum_to_size(2)


def test_narrow_copy_is_a_contiguous_copy(device):
    x = df.tensor(A, device=device)
    out = x.narrow_copy(1, 2, 3)
    ref = torch.tensor(A).narrow_copy(1, 2, 3)
    assert out.stride() == ref.stride()
    assert_close(out, ref.numpy())
    x.zero_()
    assert_close(out, ref.numpy())  # not a view
    assert_close(df.narrow_copy(df.tensor(A, device=device).t(), 0, 1, 2), A.T[1:3])


# -- resize_ -----------------------------------------------------------------------------------
_SETUPS = {
    "tensor": lambda L, dev: L.arange(6.0, **dev),
    "offset_view": lambda L, dev: L.arange(6.0, **dev)[1:3],
    "transposed": lambda L, dev: L.arange(6.0, **dev).view(2, 3).t(),
}


@pytest.mark.parametrize("setup", sorted(_SETUPS))
@pytest.mark.parametrize("shape", [(2, 2), (3, 3), (1, 2), (0,), (2, 3), (5,)])
def test_resize_matches_torch(device, setup, shape):
    x = _SETUPS[setup](df, {"device": device})
    t = _SETUPS[setup](torch, {})
    assert x.resize_(*shape) is x
    t.resize_(*shape)
    assert x.shape == t.shape and x.stride() == t.stride()
    kept = min(t.numel(), 6 - t.storage_offset())  # elements that came from the old storage
    assert_close(x.flatten()[:kept], t.flatten()[:kept].numpy())


def test_resize_shrink_shares_storage_and_grow_keeps_the_data(device):
    x = df.arange(6.0, device=device)
    y = x.view(2, 3)
    x.resize_(2, 2)
    x[0, 0] = 100.0
    assert y[0, 0].item() == 100.0  # same storage while it fits
    z = df.arange(6.0, device=device)
    z.resize_as_(df.ones(3, 4))
    assert z.shape == (3, 4)
    assert_close(z.flatten()[:6], np.arange(6.0))


def test_resize_errors():
    with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
        df.ones(2, requires_grad=True).resize_(3)
    with pytest.raises(RuntimeError, match="negative dimension -2"):
        df.ones(2).resize_(-2, 1)


# -- Python callables --------------------------------------------------------------------------
def test_apply_map_map2_match_torch():
    outs = []
    for lib in (df, torch):
        x = lib.arange(6.0).view(2, 3)
        x.apply_(lambda v: v * v - 1)
        x.map_(lib.tensor([1.0, 2.0, 3.0]), lambda a, b: a * b)
        x.map2_(lib.ones(2, 1), lib.full((3,), 0.5), lambda a, b, c: a + b - c)
        outs.append(np.asarray(x.tolist()))
    np.testing.assert_allclose(outs[0], outs[1])


def test_apply_errors():
    with pytest.raises(RuntimeError, match=r"Can't call apply_\(\) on Variable that requires grad"):
        df.ones(2, requires_grad=True).apply_(lambda v: v)
    if df.accelerator.is_available():
        with pytest.raises(TypeError, match=r"map_\(\) is only implemented on CPU tensors"):
            df.ones(2, device="opencl").map_(df.ones(2, device="opencl"), lambda a, b: a)


# -- legacy new --------------------------------------------------------------------------------
def test_new_matches_torch(device):
    x = df.arange(6.0, device=device)
    t = torch.arange(6.0)
    assert x.new(2, 3).shape == t.new(2, 3).shape and x.new(2, 3).device == x.device
    assert x.new(df.Size([4])).shape == t.new(torch.Size([4])).shape
    assert x.new().shape == t.new().shape
    assert x.new([1, 2]).tolist() == t.new([1, 2]).tolist()
    assert x.new((2, 3)).tolist() == t.new((2, 3)).tolist()  # a tuple is data
    assert x.int().new(3).dtype is df.int32
    other = df.ones(2, device=device)
    alias = x.new(other)
    alias[0] = 5.0
    assert other[0].item() == 5.0  # shares storage, as torch's does
    with pytest.raises(TypeError, match="new"):
        x.new(2.5)
    with pytest.raises(TypeError, match="dtype"):
        x.new(df.ones(2, dtype=df.int64, device=device))


# -- memory placement --------------------------------------------------------------------------
def test_pin_memory_without_an_accelerator_raises_like_torch(monkeypatch):
    monkeypatch.setattr(df.accelerator, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is"):
        df.ones(2).pin_memory()
    if not torch.accelerator.is_available():
        with pytest.raises(RuntimeError, match="Cannot access accelerator device when none is"):
            torch.ones(2).pin_memory()


def test_pin_memory_with_an_accelerator_copies():
    if not df.accelerator.is_available():
        pytest.skip("no OpenCL device")
    x = df.arange(3.0)
    p = x.pin_memory()
    assert p is not x and p.tolist() == x.tolist() and not p.is_pinned()
    with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
        df.ones(2, device="opencl").pin_memory()


def _child_writes(t):
    t[0] = 42.0


def test_share_memory_is_seen_by_a_forked_process():
    x = df.zeros(3)
    assert not x.is_shared() and not torch.zeros(3).is_shared()
    assert x.share_memory_() is x and x.is_shared()
    assert x.share_memory_() is x  # already shared: no-op
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_child_writes, args=(x,))
    p.start()
    p.join(60)
    assert p.exitcode == 0 and x[0].item() == 42.0
    with pytest.raises(NotImplementedError, match="share_memory_"):
        df.zeros(4)[1:].share_memory_()


def test_get_device(device):
    x = df.ones(2, device=device)
    expected = -1 if device == "cpu" else df.device(device).index or 0
    assert x.get_device() == df.get_device(x) == expected
    assert torch.ones(2).get_device() == -1


# -- post-accumulate-grad hooks ----------------------------------------------------------------
def test_post_accumulate_grad_hook_matches_torch(device):
    seen = {}
    for lib, kw in ((torch, {}), (df, {"device": device})):
        x = lib.ones(3, dtype=lib.float64, requires_grad=True, **kw)
        calls = seen[lib] = []
        handle = x.register_post_accumulate_grad_hook(
            lambda t, calls=calls: calls.append((t.grad.tolist(), t.grad is not None))
        )
        (x * 2 + x * 3).sum().backward()  # fan-out: one accumulation of 5
        (x * x).sum().backward()
        lib.autograd.grad((x * 4).sum(), x)  # grad() does not accumulate: no call
        handle.remove()
        (x * 1).sum().backward()
        calls.append(x.grad.tolist())
    assert seen[df] == seen[torch]
    assert len(seen[df]) == 3


def test_post_accumulate_grad_hook_can_step_the_parameter():
    x = df.ones(2, requires_grad=True)

    def sgd_step(p):
        with df.no_grad():
            p -= 0.5 * p.grad
        p.grad = None

    x.register_post_accumulate_grad_hook(sgd_step)
    (x * 2).sum().backward()
    assert x.tolist() == [0.0, 0.0] and x.grad is None


def test_post_accumulate_grad_hook_errors():
    with pytest.raises(RuntimeError, match="cannot be registered on non-leaf tensors"):
        (df.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        df.ones(2).register_post_accumulate_grad_hook(print)


# -- small queries and conversions -------------------------------------------------------------
def test_dim_order_matches_torch():
    cases = [
        lambda L: L.ones(2, 3, 4),
        lambda L: L.ones(2, 3).t(),
        lambda L: L.ones(3, 1, 2).permute(2, 1, 0),
        lambda L: L.ones(2, 1, 3),
        lambda L: L.ones(2, 3, 4, 5).permute(0, 2, 3, 1),
        lambda L: L.ones(4, 5).expand(3, 4, 5),
        lambda L: L.ones(5),
        lambda L: L.ones(()),
    ]
    for f in cases:
        assert f(df).dim_order() == f(torch).dim_order()
    with pytest.raises(RuntimeError, match="unique dim order"):
        df.ones(2, 1, 3).dim_order(ambiguity_check=True)


def test_small_queries_match_torch(device):
    x = df.ones(2, device=device, requires_grad=True)
    t = torch.ones(2, requires_grad=True)
    assert x.is_inference() is df.is_inference(x) is t.is_inference() is False
    assert x.output_nr == t.output_nr == 0
    assert x.name is t.name is None
    assert df.tensor([2.0], device=device).is_nonzero() is True
    assert df.tensor([0], device=device).is_nonzero() is False
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        x.is_nonzero()
    d = df.detach(x)
    assert not d.requires_grad and d.tolist() == [1.0, 1.0]
    y = x * 1
    assert df.detach_(y) is y and not y.requires_grad


def test_complex_conversions_and_unsupported_dtypes():
    x = df.tensor([1.0, -2.0])
    assert x.cfloat().dtype is df.complex64 and x.cdouble().dtype is df.complex128
    assert x.cdouble().tolist() == torch.tensor([1.0, -2.0]).cdouble().tolist()
    for name in ("bfloat16", "chalf"):
        with pytest.raises(NotImplementedError, match=f"{name} is not a deepforge dtype"):
            getattr(x, name)()


def test_hardshrink_and_prelu_methods(device):
    a = np.array([[-1.0, -0.2, 0.3, 2.0]])
    x = df.tensor(a, device=device)
    assert_close(x.hardshrink(0.25), torch.tensor(a).hardshrink(0.25).numpy())
    w = df.tensor([0.1], dtype=df.float64, device=device)
    assert_close(x.prelu(w), torch.tensor(a).prelu(torch.tensor([0.1], dtype=torch.float64)))
