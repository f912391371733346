"""The Module API: registration, iteration, hooks, state_dict, modes, conversion, repr, pickling."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from helpers import Net, assert_close, to_np

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F


# -- registration and iteration ---------------------------------------------------------------
def test_parameters_buffers_children_and_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "scale",
        "fc1.weight",
        "fc1.bias",
        "block.0.weight",
        "block.0.bias",
        "head.weight",
        "head.bias",
    ]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_parameters(prefix="m", recurse=False)] == ["m.scale"]
    assert [n for n, _ in net.named_buffers()] == ["steps", "scratch"]
    assert [n for n, _ in net.named_children()] == ["fc1", "act", "block", "head"]
    assert [n for n, _ in net.named_modules()] == [
        "",
        "fc1",
        "act",
        "block",
        "block.0",
        "block.1",
        "head",
    ]
    assert len(list(net.modules())) == 7 and list(net.children())[2] is net.block
    assert list(net.state_dict()) == [
        "scale",
        "steps",
        "fc1.weight",
        "fc1.bias",
        "block.0.weight",
        "block.0.bias",
        "head.weight",
        "head.bias",
    ]


def test_named_modules_memo_and_shared_modules():
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in seq.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    memo = {shared}
    assert [n for n, _ in seq.named_modules(memo=memo, prefix="top")] == ["top", "top.1"]
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_setattr_getattr_delattr_semantics():
    m = nn.Module()
    m.w = nn.Parameter(df.ones(2))
    m.sub = nn.Linear(1, 1)
    m.register_buffer("b", df.zeros(1))
    m.plain = 3
    assert "w" in m._parameters and "sub" in m._modules and "b" in m._buffers and m.plain == 3
    m.b = df.ones(1)  # assigning a tensor to a buffer name keeps it a buffer
    assert_close(m._buffers["b"], [1.0])
    with pytest.raises(
        TypeError,
        match=r"cannot assign '.*' as parameter 'w' \(torch.nn.Parameter or None expected\)",
    ):
        m.w = df.ones(2)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'sub'"):
        m.sub = 3
    m.w = None
    assert m._parameters["w"] is None and m.w is None
    assert list(m.named_parameters()) == list(m.sub.named_parameters(prefix="sub"))
    m.sub = nn.Parameter(df.zeros(1))  # a Parameter replaces a module of the same name
    assert "sub" not in m._modules and "sub" in m._parameters
    del m.sub, m.b, m.plain
    assert "sub" not in m._parameters and "b" not in m._buffers and not hasattr(m, "plain")
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nothing'"):
        _ = m.nothing
    m.buf = nn.Buffer(df.ones(3), persistent=False)
    assert (
        "buf" in m._buffers
        and "buf" in m._non_persistent_buffers_set
        and not isinstance(m.buf, nn.Parameter)
    )
    assert "buf" in dir(m) and "w" in dir(m)


def test_register_errors():
    m = nn.Linear(2, 2)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        m.register_buffer("weight", df.zeros(1))
    with pytest.raises(KeyError, match="buffer name can"):
        m.register_buffer("a.b", df.zeros(1))
    with pytest.raises(TypeError, match="cannot assign 'int' object to buffer 'x'"):
        m.register_buffer("x", 3)
    with pytest.raises(TypeError, match="cannot assign .* object to parameter 'p'"):
        m.register_parameter("p", df.zeros(1))
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'p'"):
        m.register_parameter("p", _nonleaf_param())
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(KeyError, match="got: a.b"):
        m.add_module("a.b", nn.ReLU())

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(df.ones(1))

    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__"):
        Early()


def _nonleaf_param():
    p = nn.Parameter(df.ones(1))
    p.grad_fn = (df.ones(1, requires_grad=True) * 2).grad_fn
    return p


def test_get_submodule_parameter_buffer():
    net = Net()
    assert net.get_submodule("block.0") is net.block[0]
    assert net.get_parameter("block.0.bias") is net.block[0].bias
    assert net.get_buffer("steps") is net.steps
    with pytest.raises(AttributeError, match="Sequential has no attribute `7`"):
        net.get_submodule("block.7")
    with pytest.raises(AttributeError, match="`act` is not an nn.Parameter"):
        net.get_parameter("act")
    net.set_submodule("block.1", nn.ReLU())
    assert isinstance(net.block[1], nn.ReLU)


def test_train_eval_apply_requires_grad_zero_grad():
    net = Net()
    assert net.training and net.block[1].training
    assert net.eval() is net and not net.training and not net.block[0].training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Tanh", "Sequential", "Linear", "Net"]
    net.apply(lambda m: nn.init.zeros_(m.bias) if isinstance(m, nn.Linear) else None)
    assert float(net.fc1.bias.abs().sum()) == 0
    net(df.randn(2, 4)).sum().backward()
    assert net.fc1.weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert float(net.fc1.weight.grad.abs().sum()) == 0
    net.zero_grad()
    assert net.fc1.weight.grad is None
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_dtype_keeps_parameter_identity():
    net = Net()
    params = list(net.parameters())
    net(df.randn(2, 4)).sum().backward()
    assert net.double() is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == df.float64 and p.grad.dtype == df.float64 for p in net.parameters())
    assert net.steps.dtype == df.int64  # non-float buffers are left alone
    assert net.scratch.dtype == df.float64
    net.to(df.float32)
    assert net.fc1.weight.dtype == df.float32
    net.to("cpu", df.float64)
    assert net.fc1.weight.dtype == df.float64 and net.fc1.weight.device == df.device("cpu")
    net.to(df.zeros(1, dtype=df.float32))
    assert net.head.bias.dtype == df.float32
    assert net.half().fc1.weight.dtype == df.float16
    assert net.float().cpu().fc1.weight.dtype == df.float32
    with pytest.raises(
        TypeError, match="nn.Module.to only accepts floating point or complex dtypes"
    ):
        net.to(df.int64)


def test_to_device(device):
    net = Net().to(device)
    assert all(p.device == df.device(device) for p in net.parameters())
    assert net.steps.device == df.device(device)
    y = net(df.randn(3, 4, device=device))
    assert y.device == df.device(device) and tuple(y.shape) == (3, 3)


# -- hooks ------------------------------------------------------------------------------------
def test_forward_pre_and_post_hooks():
    m = nn.Linear(2, 2)
    calls = []

    def pre(mod, args):
        calls.append(("pre", mod))
        return (args[0] * 0,)

    def post(mod, args, out):
        calls.append(("post", args[0].sum().item()))
        return out + 1

    h1 = m.register_forward_pre_hook(pre)
    h2 = m.register_forward_hook(post)
    y = m(df.ones(1, 2))
    assert calls == [("pre", m), ("post", 0.0)]
    assert_close(y, (m.bias + 1).unsqueeze(0))
    h1.remove()
    h2.remove()
    assert_close(m(df.zeros(1, 2)), m.bias.unsqueeze(0))

    def pre_kw(mod, args, kwargs):
        return args, {"input": kwargs.get("input", args[0] if args else None)}

    m2 = nn.Identity()
    m2.register_forward_pre_hook(lambda mod, a, k: ((a[0] * 2,), k), with_kwargs=True)
    m2.register_forward_hook(lambda mod, a, k, out: out + 10, with_kwargs=True)
    assert_close(m2(df.ones(2)), [12.0, 12.0])
    with m2.register_forward_hook(lambda mod, a, out: out * 0, prepend=True):
        assert_close(m2(df.ones(2)), [10.0, 10.0])
    assert_close(m2(df.ones(2)), [12.0, 12.0])
    _ = pre_kw


def test_always_call_forward_hook_runs_on_error():
    m = nn.Linear(2, 2)
    seen = []
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        m(df.ones(1, 3))
    assert seen == [None]


def test_global_forward_hook():
    seen = []
    h = nn.modules.module.register_module_forward_hook(
        lambda mod, a, out: seen.append(type(mod).__name__)
    )
    try:
        nn.Sequential(nn.ReLU())(df.ones(1))
    finally:
        h.remove()
    nn.ReLU()(df.ones(1))
    assert seen == ["ReLU", "Sequential"]


def test_full_backward_hooks_match_torch():
    torch = pytest.importorskip("torch")
    results = {}
    for lib, nnl in ((df, nn), (torch, torch.nn)):
        nnl_lin = nnl.Linear(3, 2).double()
        with lib.no_grad():
            nnl_lin.weight.copy_(lib.tensor(np.arange(6.0).reshape(2, 3) / 10))
            nnl_lin.bias.copy_(lib.tensor([0.5, -0.5]))
        log = []

        def pre_hook(mod, grad_output, log=log, lib=lib):
            log.append(("pre", [g.detach().numpy().copy() for g in grad_output]))
            return (grad_output[0] * 2,)

        def hook(mod, grad_input, grad_output, log=log):
            log.append(
                (
                    "full",
                    [None if g is None else g.detach().numpy().copy() for g in grad_input],
                    [g.detach().numpy().copy() for g in grad_output],
                )
            )
            return (grad_input[0] + 1,)

        nnl_lin.register_full_backward_pre_hook(pre_hook)
        nnl_lin.register_full_backward_hook(hook)
        x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
        out = nnl_lin(x)
        (out * lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64)).sum().backward()
        results[lib.__name__] = (log, x.grad.numpy().copy(), nnl_lin.weight.grad.numpy().copy())
    (dlog, dgx, dgw), (tlog, tgx, tgw) = results["deepforge"], results["torch"]
    assert [e[0] for e in dlog] == [e[0] for e in tlog] == ["pre", "full"]
    np.testing.assert_allclose(dlog[0][1][0], tlog[0][1][0])
    np.testing.assert_allclose(dlog[1][1][0], tlog[1][1][0])
    np.testing.assert_allclose(dlog[1][2][0], tlog[1][2][0])
    np.testing.assert_allclose(dgx, tgx)
    np.testing.assert_allclose(dgw, tgw)


def test_full_backward_hook_when_no_input_requires_grad():
    m = nn.Linear(2, 2)
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, tuple(go[0].shape))))
    with pytest.warns(UserWarning, match="Full backward hook is firing"):
        m(df.ones(3, 2)).sum().backward()
    assert seen == [((None,), (3, 2))]
    with pytest.raises(
        RuntimeError, match="Cannot use both regular backward hooks and full backward hooks"
    ):
        m.register_backward_hook(lambda *a: None)


# -- pickling / copying -----------------------------------------------------------------------
def test_pickle_and_deepcopy():
    net = Net()
    net.eval()
    x = df.randn(2, 4)
    for clone in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert isinstance(clone, Net) and not clone.training
        assert_close(clone(x), net(x))
        assert isinstance(clone.fc1.weight, nn.Parameter) and clone.fc1.weight.requires_grad
        assert clone.fc1.weight.data_ptr() != net.fc1.weight.data_ptr()
        assert "scratch" in clone._non_persistent_buffers_set


def test_call_without_forward_and_bad_init_args():
    with pytest.raises(
        NotImplementedError, match='Module \\[Module\\] is missing the required "forward" function'
    ):
        nn.Module()(1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        nn.Module(foo=1)


def test_parameter_semantics():
    t = df.tensor([1.0, 2.0])
    p = nn.Parameter(t)
    assert (
        isinstance(p, df.Tensor) and isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf
    )
    assert p.data_ptr() == t.data_ptr()
    assert not isinstance(p * 2, nn.Parameter) and not isinstance(p.detach(), nn.Parameter)
    assert nn.Parameter(t, requires_grad=False).requires_grad is False
    assert tuple(nn.Parameter().shape) == (0,)
    q = copy.deepcopy(p)
    assert isinstance(q, nn.Parameter) and q.data_ptr() != p.data_ptr()
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        nn.Parameter(df.tensor([1, 2]))
    assert nn.parameter.Parameter is nn.Parameter


def test_module_paths():
    assert nn.modules.linear.Linear is nn.Linear
    assert nn.modules.sparse.Embedding is nn.Embedding
    assert nn.modules.container.Sequential is nn.Sequential
    assert nn.modules.loss.CrossEntropyLoss is nn.CrossEntropyLoss
    assert nn.modules.dropout.Dropout is nn.Dropout
    assert nn.modules.flatten.Flatten is nn.Flatten
    assert nn.modules.module.Module is nn.Module
    assert nn.modules.activation.GELU is nn.GELU
    assert (
        df.nn.functional is F
        and callable(nn.utils.clip_grad_norm_)
        and callable(nn.init.kaiming_uniform_)
    )


def test_named_parameters_follow_python_identity_after_to():
    m = nn.Linear(2, 2)
    w = m.weight
    m.to(df.float64)
    assert m.weight is w and to_np(w).dtype == np.float64
