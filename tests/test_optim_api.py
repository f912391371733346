"""deepforge.optim.Optimizer API: param groups, state_dict layout and round trips, hooks,
zero_grad, repr and error messages (compared with torch.optim where installed)."""

from __future__ import annotations

import copy
import io
import warnings

import numpy as np
import pytest

import deepforge as df
from deepforge import optim

ALL = {
    "SGD": {"lr": 0.1, "momentum": 0.9},
    "Adam": {"lr": 0.01, "amsgrad": True},
    "AdamW": {"lr": 0.01},
    "NAdam": {"lr": 0.01},
    "RAdam": {"lr": 0.01},
    "Adamax": {"lr": 0.01},
    "RMSprop": {"lr": 0.01, "momentum": 0.5, "centered": True},
    "Adagrad": {"lr": 0.1},
    "Adadelta": {"lr": 1.0},
    "Rprop": {"lr": 0.01},
    "ASGD": {"lr": 0.01, "t0": 2},
    "LBFGS": {"lr": 0.1, "max_iter": 3},
}


def _model(lib, seed=0):
    r = np.random.default_rng(seed)
    w = lib.tensor(r.standard_normal((4, 3)), dtype=lib.float64, requires_grad=True)
    b = lib.tensor(r.standard_normal(3), dtype=lib.float64, requires_grad=True)
    x = lib.tensor(r.standard_normal((6, 4)), dtype=lib.float64)
    return w, b, x


def _train(opt, w, b, x, steps):
    def closure():
        opt.zero_grad()
        loss = ((x @ w + b).tanh() ** 2).mean()
        loss.backward()
        return loss

    for _ in range(steps):
        if type(opt).__name__ == "LBFGS":
            opt.step(closure)
        else:
            closure()
            opt.step()
    return np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()])


# -- state_dict ------------------------------------------------------------------------------


def _structure(v):
    """A comparable skeleton of a state dict: tensors become (shape, dtype name)."""
    if isinstance(v, dict):
        return {k: _structure(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_structure(x) for x in v)
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return ("tensor", tuple(v.shape), str(v.dtype).split(".")[-1])
    return v


@pytest.mark.parametrize("name", list(ALL))
def test_state_dict_layout_matches_torch(name):
    torch = pytest.importorskip("torch")
    sds = []
    for lib, O in ((df, optim), (torch, torch.optim)):
        w, b, x = _model(lib)
        opt = getattr(O, name)([{"params": [w]}, {"params": [b], "lr": 0.05}], **ALL[name]) \
            if name != "LBFGS" else O.LBFGS([w, b], **ALL[name])
        _train(opt, w, b, x, 2)
        sds.append(opt.state_dict())
    ours, ref = sds
    assert _structure(ours) == _structure(ref)
    if "step" in ours["state"][0]:
        step = ours["state"][0]["step"]
        assert isinstance(step, df.Tensor) and step.ndim == 0 and step.dtype == df.float32


@pytest.mark.parametrize("name", list(ALL))
def test_state_dict_round_trip_through_save(name):
    w, b, x = _model(df)
    opt = getattr(optim, name)([w, b], **ALL[name])
    _train(opt, w, b, x, 3)
    buf = io.BytesIO()
    df.save({"optim": opt.state_dict(), "w": w.detach(), "b": b.detach()}, buf)
    expected = _train(opt, w, b, x, 4)

    buf.seek(0)
    ckpt = df.load(buf)
    w2 = ckpt["w"].clone().requires_grad_()
    b2 = ckpt["b"].clone().requires_grad_()
    opt2 = getattr(optim, name)([w2, b2], **ALL[name])
    opt2.load_state_dict(ckpt["optim"])
    got = _train(opt2, w2, b2, x, 4)
    if name in ("NAdam", "ASGD"):
        # loading casts the float32 scalars (mu_product; eta, mu) to the parameters' dtype, as
        # PyTorch does (only "step" keeps its dtype), so the continuation rounds differently
        key = "mu_product" if name == "NAdam" else "eta"
        assert opt2.state[w2][key].dtype == df.float64
        np.testing.assert_allclose(got, expected, rtol=1e-8)
    else:
        np.testing.assert_array_equal(got, expected)


def test_load_state_dict_copies_and_casts_state():
    w = df.ones(3, dtype=df.float64, requires_grad=True)
    w.grad = df.ones(3, dtype=df.float64)
    opt = optim.Adam([w])
    opt.step()
    sd = opt.state_dict()
    assert sd["state"][0]["exp_avg"] is opt.state[w]["exp_avg"]  # no copy, as in PyTorch
    v = df.ones(3, dtype=df.float32, requires_grad=True)
    opt2 = optim.Adam([v])
    opt2.load_state_dict(sd)
    st = opt2.state[v]
    assert st["exp_avg"].dtype == df.float32  # cast to the parameter's dtype
    assert st["step"].dtype == df.float32 and st["step"].item() == 1.0
    assert st["exp_avg"] is not sd["state"][0]["exp_avg"]
    assert opt2.param_groups[0]["params"] == [v]


def test_load_state_dict_old_python_step():
    w = df.ones(2, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    sd = {"state": {0: {"step": 3, "exp_avg": df.zeros(2), "exp_avg_sq": df.zeros(2)}},
          "param_groups": [dict(opt.state_dict()["param_groups"][0])]}
    opt.load_state_dict(sd)
    assert isinstance(opt.state[w]["step"], df.Tensor) and opt.state[w]["step"].item() == 3.0


def test_load_state_dict_errors():
    a, b = df.zeros(2, requires_grad=True), df.zeros(2, requires_grad=True)
    sd = optim.SGD([a, b]).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        optim.SGD([a]).load_state_dict(sd)


def test_load_state_dict_restores_hyperparameters():
    a = df.zeros(2, requires_grad=True)
    src = optim.SGD([a], lr=0.5, momentum=0.3)
    dst = optim.SGD([a], lr=0.1)
    dst.load_state_dict(src.state_dict())
    assert dst.param_groups[0]["lr"] == 0.5 and dst.param_groups[0]["momentum"] == 0.3
    assert dst.param_groups[0]["params"][0] is a


def test_named_parameters_are_saved():
    a, b = df.zeros(2, requires_grad=True), df.zeros(3, requires_grad=True)
    opt = optim.SGD([("a", a), ("b", b)], lr=0.1)
    g = opt.state_dict()["param_groups"][0]
    assert g["param_names"] == ["a", "b"] and g["params"] == [0, 1]
    with pytest.raises(ValueError, match="should be with/without names"):
        opt.add_param_group({"params": [df.zeros(1, requires_grad=True)]})


# -- param groups ----------------------------------------------------------------------------


def test_param_groups_filled_with_defaults_like_torch():
    torch = pytest.importorskip("torch")
    for name, kw in ALL.items():
        if name == "LBFGS":
            continue
        ours = getattr(optim, name)([df.zeros(2, requires_grad=True)], **kw).param_groups[0]
        ref = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw).param_groups[0]
        assert {k: v for k, v in ours.items() if k != "params"} == \
            {k: v for k, v in ref.items() if k != "params"}, name


def test_defaults_like_torch():
    torch = pytest.importorskip("torch")
    for name in ALL:
        ours = getattr(optim, name)([df.zeros(2, requires_grad=True)]).defaults
        ref = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
        assert ours == ref, name


def test_add_param_group():
    a, b = df.zeros(2, requires_grad=True), df.zeros(2, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    g = opt.param_groups[1]
    assert g["params"] == [b] and g["lr"] == 0.01 and g["momentum"] == 0.9
    assert set(g) == set(opt.param_groups[0])
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([a])
    with pytest.raises(TypeError, match="ordered collections"):
        opt.add_param_group({"params": {df.zeros(1, requires_grad=True)}})


def test_duplicate_params_in_one_group_warn():
    a = df.zeros(2, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        optim.SGD([a, a], lr=0.1)


def test_constructor_errors_match_torch():
    leaf = df.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="^can't optimize a non-leaf Tensor$"):
        optim.SGD([leaf * 2], lr=0.1)
    with pytest.raises(TypeError, match="^optimizer can only optimize Tensors, but one of the "
                                        "params is int$"):
        optim.SGD([1], lr=0.1)
    with pytest.raises(ValueError, match="^some parameters appear in more than one parameter "
                                         "group$"):
        optim.SGD([{"params": [leaf]}, {"params": [leaf]}])
    with pytest.raises(ValueError, match="^Invalid learning rate: -1$"):
        optim.SGD([leaf], lr=-1)
    with pytest.raises(ValueError, match="^Invalid learning rate: -0.5$"):
        optim.Adam([leaf], lr=-0.5)
    with pytest.raises(ValueError, match="^optimizer got an empty parameter list$"):
        optim.Adam([])
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts, but got "
                                        "deepforge.FloatTensor"):
        optim.SGD(leaf)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero"):
        optim.SGD([leaf], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid momentum value: -0.1"):
        optim.SGD([leaf], momentum=-0.1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        optim.Adam([leaf], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Invalid epsilon value: -1"):
        optim.RMSprop([leaf], eps=-1)
    with pytest.raises(ValueError, match="Invalid rho value: 1.5"):
        optim.Adadelta([leaf], rho=1.5)
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
        optim.Adam([leaf], fused=True, foreach=True)
    optim.Adam([leaf], fused=True)  # accepted: deepforge picks the kernel itself
    optim.SGD([leaf], foreach=True)


def test_error_messages_equal_torch():
    torch = pytest.importorskip("torch")
    cases = [
        lambda lib, O: O.SGD([lib.zeros(2, requires_grad=True) * 2]),
        lambda lib, O: O.SGD([3.5]),
        lambda lib, O: O.SGD([lib.zeros(2, requires_grad=True)], lr=-1),
        lambda lib, O: O.Adam([lib.zeros(2, requires_grad=True)], betas=(1.0, 0.9)),
        lambda lib, O: O.Adagrad([lib.zeros(2, requires_grad=True)], lr_decay=-1),
        lambda lib, O: O.NAdam([lib.zeros(2, requires_grad=True)], momentum_decay=-1),
        lambda lib, O: O.RMSprop([lib.zeros(2, requires_grad=True)], alpha=-1),
    ]
    for case in cases:
        with pytest.raises(Exception) as ours:
            case(df, optim)
        with pytest.raises(Exception) as ref:
            case(torch, torch.optim)
        assert (type(ours.value), str(ours.value)) == (type(ref.value), str(ref.value))


# -- zero_grad, repr, copies -----------------------------------------------------------------


def test_zero_grad():
    a = df.ones(3, requires_grad=True)
    a.grad = df.ones(3)
    opt = optim.SGD([a], lr=0.1)
    g = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is g and np.all(g.numpy() == 0)
    opt.zero_grad()
    assert a.grad is None
    opt.zero_grad()  # no grads: nothing to do


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    for name, kw in ALL.items():
        ours = repr(getattr(optim, name)([df.zeros(2, requires_grad=True)], **kw))
        ref = repr(getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw))
        assert ours == ref


def test_deepcopy_keeps_working():
    a = df.ones(3, dtype=df.float64, requires_grad=True)
    a.grad = df.ones(3, dtype=df.float64)
    opt = optim.Adam([a], lr=0.1)
    opt.step()
    c = copy.deepcopy(opt)
    assert c.state_dict()["state"][0]["step"].item() == 1.0
    assert c.param_groups[0]["params"][0] is not a


# -- hooks -----------------------------------------------------------------------------------


def test_step_hooks():
    a = df.ones(2, requires_grad=True)
    a.grad = df.ones(2)
    opt = optim.SGD([a], lr=0.1)
    log = []
    h1 = opt.register_step_pre_hook(lambda o, args, kw: log.append(("pre", o is opt, len(args))))
    h2 = opt.register_step_post_hook(
        lambda o, args, kw: log.append(("post", a.detach().numpy()[0])))
    opt.step()
    assert log[0] == ("pre", True, 1) and log[1][0] == "post"
    np.testing.assert_allclose(log[1][1], 0.9)
    h1.remove()
    h2.remove()
    opt.step()
    assert len(log) == 2


def test_step_pre_hook_can_replace_arguments():
    a = df.ones(2, dtype=df.float64, requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        (a * a).sum().backward()
        return 0.0

    opt.register_step_pre_hook(lambda o, args, kw: (args, {"closure": closure}))
    opt.step()
    assert calls == [1]
    opt.register_step_pre_hook(lambda o, args, kw: 42)
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


def test_global_step_hooks():
    from deepforge.optim.optimizer import (
        register_optimizer_step_post_hook,
        register_optimizer_step_pre_hook,
    )

    a = df.ones(2, requires_grad=True)
    a.grad = df.ones(2)
    seen = []
    h1 = register_optimizer_step_pre_hook(lambda o, args, kw: seen.append(type(o).__name__))
    h2 = register_optimizer_step_post_hook(lambda o, args, kw: seen.append("post"))
    try:
        optim.Adam([a]).step()
        optim.RMSprop([a]).step()
    finally:
        h1.remove()
        h2.remove()
    optim.SGD([a]).step()
    assert seen == ["Adam", "post", "RMSprop", "post"]


def test_state_dict_hooks():
    a = df.ones(2, requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    log = []
    opt.register_state_dict_pre_hook(lambda o: log.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    sd = opt.state_dict()
    assert log == ["pre"] and sd["extra"] == 1
    opt.register_load_state_dict_pre_hook(
        lambda o, sd: {k: v for k, v in sd.items() if k != "extra"})
    opt.register_load_state_dict_post_hook(lambda o: log.append("loaded"))
    opt.load_state_dict(sd)
    assert log[-1] == "loaded"


def test_subclass_step_is_hooked_once():
    class MySGD(optim.SGD):
        pass

    a = df.ones(2, requires_grad=True)
    a.grad = df.ones(2)
    opt = MySGD([a], lr=0.1)
    n = []
    opt.register_step_pre_hook(lambda *args: n.append(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
    assert n == [1]


def test_custom_optimizer_subclass_works_with_hooks_and_schedulers():
    class SignSGD(optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, {"lr": lr})

        @df.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.add_(p.grad.sign(), alpha=-group["lr"])

    p = df.ones(3, dtype=df.float64, requires_grad=True)
    p.grad = df.tensor([1.0, -1.0, 0.0], dtype=df.float64)
    opt = SignSGD([p])
    sched = optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
    posts = []
    opt.register_step_post_hook(lambda *a: posts.append(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "scheduler before optimizer" warning
        opt.step()
        sched.step()
        opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.85, 1.15, 1.0])
    assert posts == [1, 1]


def test_optim_never_imports_backends():
    import ast
    import pathlib

    root = pathlib.Path(optim.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any("backends" in n or n == "_core" for n in names), (path.name, names)
