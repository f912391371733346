"""SGD and Adam/AdamW over many parameters at once (``fused_optim.sgd_steps``/``adam_steps``;
on OpenCL the ``sgd_multi``/``adam_multi`` kernels update up to eight tensors per launch): the
same trajectory as the Tensor-op path, for every option, with more tensors than one launch
takes, mixed dtypes and steps, and tensors the kernel declines; on every backend."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
from deepforge import optim


def _params(device, dtypes=(df.float32,), n=11, strided=False):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        shape = (i % 4 + 1, 3 + i)
        t = df.tensor(rng.standard_normal(shape), dtype=dtypes[i % len(dtypes)], device=device)
        if strided and i == 3:  # a transposed view: the kernel declines it
            t = df.tensor(rng.standard_normal(shape[::-1]), dtype=t.dtype, device=device).t()
        out.append(t.requires_grad_(True))
    return out


def _run(device, opt_cls, kw, steps=3, **pkw):
    params = _params(device, **pkw)
    opt = opt_cls(params, **kw)
    rng = np.random.default_rng(1)
    for _ in range(steps):
        for p in params:
            p.grad = df.tensor(rng.standard_normal(tuple(p.shape)), dtype=p.dtype, device=device)
        opt.step()
    return [p.detach().double().cpu().numpy() for p in params], opt


OPTIONS = [
    (optim.Adam, {"lr": 0.01}),
    (optim.Adam, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    (optim.Adam, {"lr": 0.01, "maximize": True, "betas": (0.8, 0.9)}),
    (optim.AdamW, {"lr": 0.01, "weight_decay": 0.05}),
    (optim.SGD, {"lr": 0.01}),
    (optim.SGD, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}),
    (optim.SGD, {"lr": 0.01, "momentum": 0.8, "nesterov": True, "maximize": True}),
    (optim.SGD, {"lr": 0.01, "momentum": 0.8, "dampening": 0.3}),
]
IDS = ["adam", "amsgrad_wd", "maximize", "adamw", "sgd", "momentum_wd", "nesterov_max",
       "dampening"]


@pytest.mark.parametrize("opt_cls,kw", OPTIONS, ids=IDS)
@pytest.mark.parametrize("layout", ["plain", "mixed_dtypes", "strided"])
def test_multi_tensor_step_matches_tensor_ops(device, opt_cls, kw, layout):
    pkw = {"mixed_dtypes": {"dtypes": (df.float32, df.float64)},
           "strided": {"strided": True}}.get(layout, {})  # fmt: skip
    fused, _ = _run(device, opt_cls, dict(kw, fused=True), **pkw)
    ops, _ = _run(device, opt_cls, dict(kw, fused=False), **pkw)
    for a, b in zip(fused, ops):
        tol = 1e-5 if a.dtype == np.float32 else 1e-5
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_parameters_at_different_steps(device):
    """A parameter group whose tensors have taken different numbers of steps (one added to
    the optimizer later): each gets its own bias correction."""
    params = _params(device, n=10)
    ref = [p.detach().clone().requires_grad_(True) for p in params]
    results = []
    for ps, fused in ((params, True), (ref, False)):
        opt = optim.Adam(ps[:5], lr=0.05, fused=fused)
        rng = np.random.default_rng(2)
        for step in range(4):
            if step == 2:
                opt.add_param_group({"params": ps[5:]})
            for p in ps:
                p.grad = df.tensor(rng.standard_normal(tuple(p.shape)), dtype=p.dtype,
                                   device=device)  # fmt: skip
            opt.step()
        results.append([p.detach().cpu().numpy() for p in ps])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opt_cls,kw,kernel", [(optim.Adam, {}, "adam"),
                                               (optim.SGD, {"momentum": 0.9}, "sgd")])
def test_one_launch_per_eight_tensors_on_opencl(monkeypatch, opt_cls, kw, kernel):
    from deepforge.backends import get_backend, opencl_device_count

    if opencl_device_count() == 0:
        pytest.skip("no usable OpenCL device")
    rt = get_backend(df.device("opencl:0")).rt
    names = []
    real = type(rt).launch

    def launch(self, kernel, *args):
        names.append(kernel.function_name)
        return real(self, kernel, *args)

    params = _params("opencl:0", n=11)
    opt = opt_cls(params, lr=0.01, **kw)
    for p in params:
        p.grad = df.ones_like(p)
    opt.step()  # SGD's first step also fills the momentum buffers
    monkeypatch.setattr(type(rt), "launch", launch)
    before = [p._version for p in params]
    opt.step()
    single = "adam_step" if kernel == "adam" else "sgd_momentum_step"
    assert names.count(f"{kernel}_multi") == 2 and single not in names
    # in-place updates: every parameter's version moved (autograd's saved-tensor check)
    assert all(p._version > v for p, v in zip(params, before))
