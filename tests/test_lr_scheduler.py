"""deepforge.optim.lr_scheduler: 30-step lr (and momentum) sequences against torch's
schedulers driving a torch optimizer with the same settings, state_dict round trips, warnings
and errors."""

from __future__ import annotations

import math
import warnings

import pytest

import deepforge as df
from deepforge import optim
from deepforge.optim import lr_scheduler as L

STEPS = 30


def _lam(e):
    return 0.95**e


def _mult(e):
    return 0.9 if e % 2 else 1.0


# (scheduler, kwargs, optimizer): kwargs may hold callables (lib -> value) for nested schedulers
CASES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}, "SGD"),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}, "SGD"),
    ("ExponentialLR", {"gamma": 0.9}, "SGD"),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.001}, "SGD"),
    ("CosineAnnealingLR", {"T_max": 10}, "Adam"),
    ("CosineAnnealingWarmRestarts", {"T_0": 4, "T_mult": 2, "eta_min": 0.01}, "SGD"),
    ("CosineAnnealingWarmRestarts", {"T_0": 5}, "SGD"),
    ("LambdaLR", {"lr_lambda": _lam}, "SGD"),
    ("MultiplicativeLR", {"lr_lambda": _mult}, "SGD"),
    ("LinearLR", {"start_factor": 0.2, "total_iters": 6}, "SGD"),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 12}, "Adam"),
    ("ConstantLR", {"factor": 0.5, "total_iters": 4}, "SGD"),
    ("PolynomialLR", {"total_iters": 10, "power": 2.0}, "SGD"),
    ("OneCycleLR", {"max_lr": 1.0, "total_steps": STEPS + 1}, "SGD"),
    ("OneCycleLR", {"max_lr": [1.0, 0.5], "epochs": 4, "steps_per_epoch": 8,
                    "anneal_strategy": "linear"}, "SGD"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": STEPS + 1, "three_phase": True}, "Adam"),
    ("OneCycleLR", {"max_lr": 0.1, "total_steps": STEPS + 1, "cycle_momentum": False,
                    "div_factor": 10.0, "final_div_factor": 100.0, "pct_start": 0.25}, "Adam"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4}, "SGD"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "mode": "triangular2"}, "SGD"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "step_size_down": 3,
                  "mode": "exp_range", "gamma": 0.9}, "SGD"),
    ("CyclicLR", {"base_lr": [0.001, 0.002], "max_lr": 0.01, "step_size_up": 5,
                  "base_momentum": 0.85, "max_momentum": 0.95}, "Adam"),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3,
                  "scale_fn": _mult, "scale_mode": "iterations", "cycle_momentum": False}, "SGD"),
    ("SequentialLR", {"schedulers": lambda LL, o: [LL.LinearLR(o, 0.1, total_iters=5),
                                                   LL.ExponentialLR(o, 0.9)],
                      "milestones": [5]}, "SGD"),
    ("SequentialLR", {"schedulers": lambda LL, o: [LL.ConstantLR(o, 0.5, total_iters=3),
                                                   LL.CosineAnnealingLR(o, T_max=8),
                                                   LL.StepLR(o, 4, 0.5)],
                      "milestones": [3, 12]}, "SGD"),
    ("ChainedScheduler", {"schedulers": lambda LL, o: [LL.ConstantLR(o, 0.25, total_iters=4),
                                                       LL.ExponentialLR(o, 0.9)]}, "SGD"),
]


def _build(lib, O, LL, name, kw, opt_name):
    a = lib.zeros(2, requires_grad=True)
    b = lib.zeros(3, requires_grad=True)
    a.grad, b.grad = lib.ones(2), lib.ones(3)
    okw = {"momentum": 0.9} if opt_name == "SGD" else {}
    opt = getattr(O, opt_name)([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, **okw)
    kw = {k: (v(LL, opt) if callable(v) and k == "schedulers" else v) for k, v in kw.items()}
    if name == "ChainedScheduler":
        return opt, LL.ChainedScheduler(kw["schedulers"])
    return opt, getattr(LL, name)(opt, **kw)


def _momenta(opt):
    return [g["momentum"] if "momentum" in g else g["betas"][0] for g in opt.param_groups]


def _run(opt, sched, steps=STEPS):
    seq = [(list(sched.get_last_lr()), _momenta(opt))]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append((list(sched.get_last_lr()), _momenta(opt)))
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
    return seq


def _close(a, b, tol=1e-12):
    assert len(a) == len(b)
    for (la, ma), (lb, mb) in zip(a, b):
        for x, y in zip(la + ma, lb + mb):
            assert math.isclose(x, y, rel_tol=tol, abs_tol=tol), (a, b)


def _ids():
    return [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_sequence_matches_torch(case):
    torch = pytest.importorskip("torch")
    name, kw, opt_name = case
    ours = _run(*_build(df, optim, L, name, kw, opt_name))
    ref = _run(*_build(torch, torch.optim, torch.optim.lr_scheduler, name, kw, opt_name))
    _close(ours, ref)


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_state_dict_round_trip(case):
    name, kw, opt_name = case
    opt, sched = _build(df, optim, L, name, kw, opt_name)
    _run(opt, sched, 10)
    osd, ssd = opt.state_dict(), sched.state_dict()
    expected = _run(opt, sched, 12)

    opt2, sched2 = _build(df, optim, L, name, kw, opt_name)
    sched2.load_state_dict(ssd)
    opt2.load_state_dict(osd)  # after the scheduler, as PyTorch's docs say
    _close(_run(opt2, sched2, 12), expected, tol=0)


@pytest.mark.parametrize("case", CASES, ids=_ids())
def test_state_dict_keys_match_torch(case):
    torch = pytest.importorskip("torch")
    name, kw, opt_name = case
    ours = _build(df, optim, L, name, kw, opt_name)[1].state_dict()
    ref = _build(torch, torch.optim, torch.optim.lr_scheduler, name, kw, opt_name)[1].state_dict()

    def keys(sd):
        ks = set(sd)
        if "_schedulers" in sd:
            return ks, [keys(s) for s in sd["_schedulers"]]
        return ks

    assert keys(ours) == keys(ref)
    for k, v in ours.items():
        if isinstance(v, (int, float, str, list)) and not k.startswith("_schedulers"):
            assert v == ref[k], k


def test_closed_form_step_with_epoch_matches_torch():
    torch = pytest.importorskip("torch")
    seqs = []
    for lib, O, LL in ((df, optim, L), (torch, torch.optim, torch.optim.lr_scheduler)):
        p = lib.zeros(1, requires_grad=True)
        p.grad = lib.ones(1)
        opt = O.SGD([p], lr=0.1)
        scheds = [LL.StepLR(opt, 3, 0.5), LL.MultiStepLR(opt, [4, 7]), LL.ExponentialLR(opt, 0.9),
                  LL.CosineAnnealingLR(opt, 10), LL.LinearLR(opt, 0.5, total_iters=6),
                  LL.ConstantLR(opt, 0.5), LL.PolynomialLR(opt, 8, 1.5)]
        opt.step()
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s in scheds:
                for epoch in (5, 2, 9, 0, 11):
                    s.step(epoch)
                    out.append(s.get_last_lr()[0])
        seqs.append(out)
    for x, y in zip(*seqs):
        assert math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-15)


def test_warm_restarts_fractional_epochs_match_torch():
    torch = pytest.importorskip("torch")
    seqs = []
    for lib, O, LL in ((df, optim, L), (torch, torch.optim, torch.optim.lr_scheduler)):
        p = lib.zeros(1, requires_grad=True)
        opt = O.SGD([p], lr=0.1)
        s = LL.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2)
        out = []
        for e in (0.5, 1.25, 3.0, 4.5, 9.75, 21.0, 2.0):
            s.step(e)
            out.append((s.get_last_lr()[0], s.T_i, s.T_cur, s.last_epoch))
        seqs.append(out)
    ours, ref = seqs
    assert len(ours) == len(ref) == 7
    for a, b in zip(ours, ref):
        assert list(a) == pytest.approx(list(b), rel=1e-12)


@pytest.mark.parametrize("kw", [
    {},
    {"mode": "max", "patience": 2, "factor": 0.5},
    {"threshold_mode": "abs", "threshold": 0.05, "patience": 1, "cooldown": 2},
    {"mode": "max", "threshold_mode": "abs", "patience": 0, "min_lr": [0.02, 0.001]},
    {"patience": 1, "min_lr": 0.03, "eps": 1e-3},
])
def test_reduce_lr_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6, 0.2, 0.25, 0.3, 0.3,
               0.3, 0.3, 0.3, 0.31, 0.32, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    seqs = []
    for lib, O, LL in ((df, optim, L), (torch, torch.optim, torch.optim.lr_scheduler)):
        a, b = lib.zeros(1, requires_grad=True), lib.zeros(1, requires_grad=True)
        opt = O.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1)
        s = LL.ReduceLROnPlateau(opt, **kw)
        out = []
        for m in metrics:
            s.step(lib.tensor(m))
            out.append((s.get_last_lr(), s.num_bad_epochs, s.cooldown_counter, s.best))
        seqs.append(out)
    assert seqs[0] == seqs[1]


def test_reduce_lr_on_plateau_state_dict():
    p = df.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    s = L.ReduceLROnPlateau(opt, patience=1)
    for m in (1.0, 1.0, 1.0):
        s.step(m)
    s2 = L.ReduceLROnPlateau(optim.SGD([df.zeros(1, requires_grad=True)], lr=0.1), mode="max")
    s2.load_state_dict(s.state_dict())
    assert s2.mode == "min" and s2.best == 1.0 and s2.num_bad_epochs == s.num_bad_epochs


def test_initial_lr_and_base_lrs():
    p = df.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    s = L.StepLR(opt, 2)
    assert opt.param_groups[0]["initial_lr"] == 0.1 and s.base_lrs == [0.1]
    assert s.last_epoch == 0 and s.get_last_lr() == [0.1]
    with pytest.raises(KeyError, match="param 'initial_lr' is not specified in param_groups"):
        L.StepLR(optim.SGD([df.zeros(1, requires_grad=True)]), 2, last_epoch=3)
    resumed = L.StepLR(opt, 2, last_epoch=3)
    assert resumed.last_epoch == 4


def test_warns_when_scheduler_steps_before_optimizer():
    p = df.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    s = L.ExponentialLR(opt, 0.5)
    msg = r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"
    with pytest.warns(UserWarning, match=msg):
        s.step()

    opt2 = optim.SGD([p], lr=0.1)
    s2 = L.ExponentialLR(opt2, 0.5)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s2.step()
        s2.step()


def test_get_lr_outside_step_warns():
    s = L.StepLR(optim.SGD([df.zeros(1, requires_grad=True)], lr=0.1), 2)
    with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
        s.get_lr()


def test_step_epoch_deprecation_warning():
    opt = optim.SGD([df.zeros(1, requires_grad=True)], lr=0.1)
    opt.step()
    s = L.StepLR(opt, 2)
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)`"):
        s.step(4)
    assert s.get_last_lr() == [pytest.approx(0.001)]


def test_lr_scheduler_alias_and_custom_subclass():
    assert L._LRScheduler is L.LRScheduler

    class Halving(L.LRScheduler):
        def get_lr(self):
            return [b * 0.5**self.last_epoch for b in self.base_lrs]

    opt = optim.SGD([df.zeros(1, requires_grad=True)], lr=1.0)
    s = Halving(opt)
    opt.step()
    s.step()
    s.step()
    assert s.get_last_lr() == [0.25]


def test_scheduler_errors():
    p = df.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        L.StepLR([], 2)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        L.LambdaLR(opt, [_lam, _lam])
    with pytest.raises(ValueError, match="Constant multiplicative factor expected to be between"):
        L.ConstantLR(opt, factor=2.0)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        L.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        L.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of total "
                                         "steps is 2"):
        s = L.OneCycleLR(opt, max_lr=1.0, total_steps=2)
        for _ in range(4):
            opt.step()
            s.step()
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        L.CyclicLR(optim.Adagrad([p]), 0.01, 0.1)
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        L.ReduceLROnPlateau(opt, factor=1.5)
    with pytest.raises(ValueError, match="expects at least one scheduler"):
        L.SequentialLR(opt, [], [])
    other = optim.SGD([df.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        L.ChainedScheduler([L.StepLR(opt, 2), L.StepLR(other, 2)])
    with pytest.raises(ValueError, match="does not support `ReduceLROnPlateau`"):
        L.SequentialLR(opt, [L.StepLR(opt, 2), L.ReduceLROnPlateau(opt)], [3])


def test_tensor_lr_is_updated_in_place_like_torch():
    torch = pytest.importorskip("torch")
    seqs = []
    for lib, O, LL in ((df, optim, L), (torch, torch.optim, torch.optim.lr_scheduler)):
        p = lib.zeros(2, requires_grad=True)
        p.grad = lib.ones(2)
        lr = lib.tensor(0.1, dtype=lib.float64)
        opt = O.SGD([p], lr=lr)
        s = LL.CosineAnnealingLR(opt, T_max=5)
        out = []
        for _ in range(8):
            opt.step()
            s.step()
            assert opt.param_groups[0]["lr"] is lr
            out.append(float(lr))
        seqs.append(out)
    ours, ref = seqs
    assert len(ours) == len(ref) == 8
    for a, b in zip(ours, ref):
        assert a == pytest.approx(b, rel=1e-12)
