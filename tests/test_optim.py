"""deepforge.optim numerics: closed-form first steps, 20-step trajectories against torch.optim
for every option combination, the fused kernels against the Tensor-op path, and L-BFGS."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
from deepforge import optim
from deepforge.ops import fused_optim

rng = np.random.default_rng(1234)
W0 = rng.standard_normal((5, 3))
B0 = rng.standard_normal(3)
X = rng.standard_normal((8, 5))
Y = rng.standard_normal((8, 3))


def _lsq_grads(w, b):
    """Gradients of mean((X @ w + b - Y) ** 2) (numpy, the closed-form reference)."""
    r = X @ w + b - Y
    return 2 * X.T @ r / r.size, 2 * r.sum(0) / r.size


def _trajectory(lib, opt_cls, kw, steps=20, dtype="float64", groups=None):
    """Train the tiny linear model; returns the flattened parameters after every step."""
    dt = getattr(lib, dtype)
    w = lib.tensor(W0, dtype=dt, requires_grad=True)
    b = lib.tensor(B0, dtype=dt, requires_grad=True)
    x, y = lib.tensor(X, dtype=dt), lib.tensor(Y, dtype=dt)
    params = groups(w, b) if groups else [w, b]
    opt = opt_cls(params, **kw)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        opt.step()
        out.append(np.concatenate([w.detach().numpy().ravel(), b.detach().numpy().ravel()]))
    return np.array(out), opt


# every option combination checked against torch.optim (20 steps, float64)
CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.1, "weight_decay": 0.02,
             "maximize": True}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    ("Adam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.05}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.2, "amsgrad": True}),
    ("AdamW", {"lr": 0.05, "maximize": True}),
    ("NAdam", {"lr": 0.05}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {"lr": 0.05}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.05, "betas": (0.9, 0.9), "maximize": True}),  # rho_t > 5 from step 6
    ("Adamax", {"lr": 0.05}),
    ("Adamax", {"lr": 0.05, "weight_decay": 0.1, "maximize": True}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "maximize": True}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6, "maximize": True}),
    ("Adadelta", {"lr": 1.0}),
    ("Adadelta", {"lr": 0.5, "rho": 0.7, "weight_decay": 0.1}),
    ("Adadelta", {"lr": 1.0, "eps": 1e-4, "maximize": True}),
    ("Rprop", {"lr": 0.01}),
    ("Rprop", {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.1), "maximize": True}),
    ("ASGD", {"lr": 0.05}),
    ("ASGD", {"lr": 0.05, "lambd": 1e-2, "alpha": 0.5, "t0": 5, "weight_decay": 0.1}),
]


def _id(cfg):
    name, kw = cfg
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("cfg", CONFIGS, ids=[_id(c) for c in CONFIGS])
def test_trajectory_matches_torch(cfg):
    torch = pytest.importorskip("torch")
    name, kw = cfg
    ours, _ = _trajectory(df, getattr(optim, name), kw)
    ref, _ = _trajectory(torch, getattr(torch.optim, name), kw)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_trajectory_float32_matches_torch(name):
    torch = pytest.importorskip("torch")
    kw = {"lr": 0.01, "momentum": 0.9} if name == "SGD" else {"lr": 0.01}
    ours, _ = _trajectory(df, getattr(optim, name), kw, dtype="float32")
    ref, _ = _trajectory(torch, getattr(torch.optim, name), kw, dtype="float32")
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)


def test_param_groups_with_own_options_match_torch():
    torch = pytest.importorskip("torch")

    def groups(w, b):
        return [{"params": [w]}, {"params": [b], "lr": 0.01, "momentum": 0.5}]

    kw = {"lr": 0.1, "momentum": 0.9, "nesterov": False}
    ours, opt = _trajectory(df, optim.SGD, kw, groups=groups)
    ref, _ = _trajectory(torch, torch.optim.SGD, kw, groups=groups)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[0]["lr"] == 0.1


def test_tensor_lr_matches_float_lr():
    a, _ = _trajectory(df, optim.Adam, {"lr": 0.05}, steps=5)
    b, _ = _trajectory(df, optim.Adam, {"lr": df.tensor(0.05, dtype=df.float64)}, steps=5)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# -- closed forms ---------------------------------------------------------------------------


def test_sgd_first_steps_closed_form():
    lr, mom = 0.1, 0.9
    traj, _ = _trajectory(df, optim.SGD, {"lr": lr}, steps=2)
    gw, gb = _lsq_grads(W0, B0)
    w1, b1 = W0 - lr * gw, B0 - lr * gb
    np.testing.assert_allclose(traj[0], np.concatenate([w1.ravel(), b1]), rtol=1e-12)
    gw1, gb1 = _lsq_grads(w1, b1)
    np.testing.assert_allclose(traj[1], np.concatenate([(w1 - lr * gw1).ravel(), b1 - lr * gb1]),
                               rtol=1e-12)

    traj, _ = _trajectory(df, optim.SGD, {"lr": lr, "momentum": mom}, steps=2)
    bw, bb = gw, gb  # first step: buffer = gradient
    w1, b1 = W0 - lr * bw, B0 - lr * bb
    gw1, gb1 = _lsq_grads(w1, b1)
    bw, bb = mom * bw + gw1, mom * bb + gb1
    np.testing.assert_allclose(traj[1], np.concatenate([(w1 - lr * bw).ravel(), b1 - lr * bb]),
                               rtol=1e-12)


def test_adam_first_step_closed_form():
    lr, eps = 0.05, 1e-8
    traj, opt = _trajectory(df, optim.Adam, {"lr": lr, "eps": eps}, steps=1)
    g = np.concatenate([a.ravel() for a in _lsq_grads(W0, B0)])
    p0 = np.concatenate([W0.ravel(), B0])
    # m = 0.1 g, v = 0.001 g^2; bias corrections make the step lr * g / (|g| + eps)
    np.testing.assert_allclose(traj[0], p0 - lr * g / (np.abs(g) + eps), rtol=1e-12)
    state = opt.state[opt.param_groups[0]["params"][1]]
    assert state["step"].item() == 1.0
    np.testing.assert_allclose(state["exp_avg"].numpy(), 0.1 * g[-3:], rtol=1e-12)
    np.testing.assert_allclose(state["exp_avg_sq"].numpy(), 0.001 * g[-3:] ** 2, rtol=1e-12)


def test_adamw_decay_is_decoupled():
    # zero gradient: AdamW only shrinks the weights, Adam with L2 moves them by ~lr
    p = df.ones(4, dtype=df.float64, requires_grad=True)
    p.grad = df.zeros(4, dtype=df.float64)
    optim.AdamW([p], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(p.detach().numpy(), np.full(4, 1 - 0.1 * 0.5), rtol=1e-15)


# -- behaviour ------------------------------------------------------------------------------


def test_params_without_grad_are_skipped():
    a = df.ones(3, requires_grad=True)
    b = df.ones(3, requires_grad=True)
    a.grad = df.ones(3)
    opt = optim.Adam([a, b], lr=0.1)
    opt.step()
    assert b not in opt.state and a in opt.state
    np.testing.assert_array_equal(b.detach().numpy(), np.ones(3))


def test_step_closure_runs_with_grad_and_returns_loss():
    w = df.tensor([1.0, -2.0], dtype=df.float64, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    seen = []

    def closure():
        seen.append(df.is_grad_enabled())
        opt.zero_grad()
        loss = (w**2).sum()
        loss.backward()
        return loss

    with df.no_grad():
        loss = opt.step(closure)
    assert seen == [True] and loss.item() == 5.0
    np.testing.assert_allclose(w.detach().numpy(), [0.8, -1.6])


def test_step_updates_in_place_and_bumps_version():
    w = df.ones(3, requires_grad=True)
    w.grad = df.ones(3)
    data_before = w.detach().numpy()
    v0 = w._version
    optim.SGD([w], lr=0.5, momentum=0.9).step()
    assert w._version > v0
    np.testing.assert_allclose(data_before, np.full(3, 0.5))  # numpy view shares the storage


def test_noncontiguous_param_falls_back_and_matches_torch():
    torch = pytest.importorskip("torch")
    res = []
    for lib, O in ((df, optim), (torch, torch.optim)):
        w = lib.tensor(W0.T.copy(), dtype=lib.float64).t().detach().requires_grad_()
        assert not w.is_contiguous()
        x, y = lib.tensor(X, dtype=lib.float64), lib.tensor(Y, dtype=lib.float64)
        opt = O.Adam([w], lr=0.05, amsgrad=True)
        opt2_params = []
        for _ in range(5):
            opt.zero_grad()
            ((x @ w - y) ** 2).mean().backward()
            opt.step()
            opt2_params.append(w.detach().numpy().copy())
        res.append(np.array(opt2_params))
    np.testing.assert_allclose(res[0], res[1], rtol=1e-9, atol=1e-12)


def test_nn_linear_parameters_if_available():
    nn = pytest.importorskip("deepforge.nn")
    if not hasattr(nn, "Linear"):
        pytest.skip("deepforge.nn.Linear not available yet")
    df.manual_seed(0)
    model = nn.Linear(5, 3).double()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = df.tensor(X), df.tensor(Y)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# -- fused kernels against the Tensor-op path -----------------------------------------------

FUSED_CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.3, 0.9), "weight_decay": 0.1, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "maximize": True}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.2}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "maximize": True}),
]


def _kernel_available(name: str) -> bool:
    p = df.zeros(2, dtype=df.float64)
    if name == "sgd_momentum_step":
        return fused_optim.sgd_momentum_step(p, p, df.zeros_like(p), 0.0, 0.5, 0.0, 0.0, False,
                                             False, True)
    return fused_optim.adam_step(p, p, df.zeros_like(p), df.zeros_like(p), None, 0.0, 0.9, 0.9,
                                 1e-8, 0.0, False, False, False, 1)


@pytest.mark.parametrize("cfg", FUSED_CONFIGS, ids=[_id(c) for c in FUSED_CONFIGS])
def test_fused_kernel_matches_tensor_ops(cfg, monkeypatch):
    name, kw = cfg
    kernel = "sgd_momentum_step" if name == "SGD" else "adam_step"
    if not _kernel_available(kernel):
        pytest.skip(f"the cpu backend has no {kernel} kernel in this build")
    calls = []
    real = getattr(fused_optim, kernel)

    def counting(*args, **kwargs):
        r = real(*args, **kwargs)
        calls.append(r)
        return r

    monkeypatch.setattr(fused_optim, kernel, counting)
    fused, _ = _trajectory(df, getattr(optim, name), dict(kw, fused=True))
    assert calls and all(calls), "the fused kernel did not run"
    calls.clear()
    ops, _ = _trajectory(df, getattr(optim, name), dict(kw, fused=False))
    assert not calls
    np.testing.assert_allclose(fused, ops, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_default_uses_kernel_unless_listed_slower(name, monkeypatch):
    kernel = "sgd_momentum_step" if name == "SGD" else "adam_step"
    if not _kernel_available(kernel):
        pytest.skip(f"the cpu backend has no {kernel} kernel in this build")
    results = []
    # the optimizers ask for every parameter at once (*_steps: one bool per tensor)
    steps = "sgd_steps" if name == "SGD" else "adam_steps"
    real_all = getattr(fused_optim, steps)
    monkeypatch.setattr(fused_optim, steps, lambda *a, **k: results.extend(real_all(*a, **k))
                        or results[-len(a[0]):])  # fmt: skip
    kw = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.1}
    monkeypatch.setattr(fused_optim, "SLOWER_THAN_OPS", set())
    _trajectory(df, getattr(optim, name), kw, steps=2)
    assert results == [True] * 4
    results.clear()
    monkeypatch.setattr(fused_optim, "SLOWER_THAN_OPS", {("cpu", kernel)})
    _trajectory(df, getattr(optim, name), kw, steps=2)
    assert results == [False] * 4  # declined: the Tensor ops ran
    results.clear()
    _trajectory(df, getattr(optim, name), dict(kw, fused=True), steps=2)
    assert results == [True] * 4  # fused=True asks for the kernel regardless


def test_fused_kernel_float32_close_to_tensor_ops():
    if not _kernel_available("sgd_momentum_step"):
        pytest.skip("the cpu backend has no sgd_momentum_step kernel in this build")
    kw = {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}
    fused, _ = _trajectory(df, optim.SGD, dict(kw, fused=True), dtype="float32")
    ops, _ = _trajectory(df, optim.SGD, dict(kw, fused=False), dtype="float32")
    np.testing.assert_allclose(fused, ops, rtol=1e-5, atol=1e-6)


def test_fused_dispatch_declines_mismatched_tensors():
    p = df.zeros(4, dtype=df.float64)
    g32 = df.zeros(4, dtype=df.float32)
    assert fused_optim.sgd_momentum_step(p, g32, None, 0.1, 0.0, 0.0, 0.0, False, False,
                                         False) is False
    ints = df.zeros(4, dtype=df.int64)
    assert fused_optim.sgd_momentum_step(ints, ints, None, 0.1, 0.0, 0.0, 0.0, False, False,
                                         False) is False


def test_differentiable_step_keeps_graph():
    w = df.tensor([1.0, 2.0], dtype=df.float64, requires_grad=True)
    lr = df.tensor(0.1, dtype=df.float64, requires_grad=True)
    p = w.clone()  # the optimized tensor is a non-leaf: allowed when differentiable=True
    p.retain_grad()
    opt = optim.SGD([p], lr=lr, differentiable=True)
    p.grad = df.tensor([1.0, 1.0], dtype=df.float64)
    opt.step()
    p.sum().backward()
    np.testing.assert_allclose(lr.grad.item(), -2.0)


# -- L-BFGS ---------------------------------------------------------------------------------

X0_ROSEN = np.array([-1.5, 2.0, 0.5, -0.3])


def _rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def _lbfgs_run(lib, O, kw, outer=4):
    x = lib.tensor(X0_ROSEN, dtype=lib.float64, requires_grad=True)
    opt = O.LBFGS([x], **kw)

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(x)
        loss.backward()
        return loss

    traj, losses = [], []
    for _ in range(outer):
        losses.append(opt.step(closure).detach().item())
        traj.append(x.detach().numpy().copy())
    state = opt.state[x]
    return np.array(traj), losses, state["func_evals"], state["n_iter"]


@pytest.mark.parametrize("kw", [
    {"lr": 0.05, "history_size": 5, "max_iter": 10},
    {"lr": 1.0, "history_size": 4, "max_iter": 12, "line_search_fn": "strong_wolfe"},
    {"lr": 1.0, "max_iter": 30, "max_eval": 35, "line_search_fn": "strong_wolfe",
     "tolerance_change": 1e-12},
], ids=["fixed-step", "strong-wolfe", "strong-wolfe-budget"])
def test_lbfgs_rosenbrock_matches_torch(kw):
    torch = pytest.importorskip("torch")
    ours = _lbfgs_run(df, optim, kw)
    ref = _lbfgs_run(torch, torch.optim, kw)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours[1], ref[1], rtol=1e-9)
    assert ours[2:] == ref[2:]  # same number of function evaluations and iterations


def test_lbfgs_strong_wolfe_converges():
    # from X0_ROSEN the 4-d Rosenbrock function leads to its local minimum near
    # (-0.7757, 0.6131, 0.3821, 0.1460): the end point must be stationary
    traj, losses, *_ = _lbfgs_run(df, optim, {"lr": 1.0, "max_iter": 50,
                                              "line_search_fn": "strong_wolfe"}, outer=3)
    x = df.tensor(traj[-1], requires_grad=True)
    _rosenbrock(x).backward()
    assert x.grad.abs().max().item() < 1e-3
    assert losses[-1] < losses[0]


def test_lbfgs_errors():
    a = df.zeros(2, requires_grad=True)
    b = df.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [a]}, {"params": [b]}])
    opt = optim.LBFGS([a], line_search_fn="armijo")

    def closure():
        opt.zero_grad()
        loss = ((a - 1) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


# -- every backend -------------------------------------------------------------------------

DEVICE_CONFIGS = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("Adam", {"lr": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.1}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("Rprop", {}),
]


@pytest.mark.parametrize("cfg", DEVICE_CONFIGS, ids=[_id(c) for c in DEVICE_CONFIGS])
def test_optimizer_on_device_matches_cpu(cfg, device):
    name, kw = cfg
    out = []
    for dev in ("cpu", device):
        w = df.tensor(W0, dtype=df.float32, device=dev, requires_grad=True)
        x = df.tensor(X, dtype=df.float32, device=dev)
        y = df.tensor(Y, dtype=df.float32, device=dev)
        opt = getattr(optim, name)([w], **kw)
        for _ in range(5):
            opt.zero_grad()
            ((x @ w - y) ** 2).mean().backward()
            opt.step()
        assert all(t.device == w.device for t in opt.state[w].values()
                   if isinstance(t, df.Tensor) and t.ndim > 0)
        out.append(w.detach().cpu().numpy())
    np.testing.assert_allclose(out[1], out[0], rtol=1e-5, atol=1e-6)
