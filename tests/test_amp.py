"""deepforge.amp: GradScaler against torch's CPU GradScaler, the autocast API and its state."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import deepforge as df


def _scaler_run(lib, device: str, scaler_device: str, steps: int = 10):
    """A tiny linear model where some steps see inf/NaN inputs: scales, weights and returns."""
    weight = lib.nn.Parameter(lib.tensor([[0.5, -0.25], [1.0, 2.0]], device=device))
    opt = lib.optim.SGD([weight], lr=0.1)
    scaler = lib.amp.GradScaler(
        scaler_device, init_scale=2.0**10, growth_interval=3, backoff_factor=0.25
    )
    scales, weights, returns = [], [], []
    for i in range(steps):
        opt.zero_grad()
        row = {2: [float("inf"), 1.0], 6: [float("inf"), 1.0], 7: [float("nan"), 1.0]}
        x = lib.tensor([row.get(i, [1.0, 2.0])], device=device)
        scaler.scale((x @ weight).sum()).backward()
        if i == 4:  # an explicit unscale_ (as before gradient clipping) must not unscale twice
            scaler.unscale_(opt)
        returns.append(scaler.step(opt))
        scaler.update()
        scales.append(scaler.get_scale())
        weights.append(weight.detach().cpu().numpy().copy())
    return scales, weights, scaler.state_dict(), returns


def test_grad_scaler_matches_torch_scale_sequence(device):
    torch = pytest.importorskip("torch")
    ref_scales, ref_weights, ref_state, ref_returns = _scaler_run(torch, "cpu", "cpu")
    scales, weights, state, returns = _scaler_run(df, device, "cuda")
    assert scales == ref_scales
    # skipped steps (inf/NaN) leave the weights untouched, good steps match torch bit for bit
    for got, ref in zip(weights, ref_weights):
        np.testing.assert_array_equal(got, ref)
    assert state == ref_state
    assert returns == ref_returns


def test_grad_scaler_skips_step_and_backs_off(device):
    weight = df.nn.Parameter(df.ones(3, device=device))
    opt = df.optim.SGD([weight], lr=1.0)
    scaler = df.amp.GradScaler(init_scale=8.0, backoff_factor=0.5)
    loss = (df.tensor([1.0, float("inf"), 1.0], device=device) * weight).sum()
    scaler.scale(loss).backward()
    assert scaler.step(opt) is None
    scaler.update()
    np.testing.assert_array_equal(weight.detach().cpu().numpy(), np.ones(3, np.float32))
    assert scaler.get_scale() == 4.0
    # a finite step goes through, with the gradient divided by the scale
    opt.zero_grad()
    scaler.scale((df.tensor([1.0, 2.0, 3.0], device=device) * weight).sum()).backward()
    np.testing.assert_array_equal(weight.grad.cpu().numpy(), [4.0, 8.0, 12.0])
    scaler.step(opt)
    np.testing.assert_array_equal(weight.grad.cpu().numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(weight.detach().cpu().numpy(), [0.0, -1.0, -2.0])


def test_grad_scaler_growth_and_overflow_guard():
    weight = df.nn.Parameter(df.ones(1))
    opt = df.optim.SGD([weight], lr=0.0)
    scaler = df.amp.GradScaler("cpu", init_scale=2.0**127, growth_interval=1)
    for expected in (2.0**127, 2.0**127):  # doubling would overflow float32: scale stays
        scaler.scale(weight.sum()).backward()
        scaler.step(opt)
        scaler.update()
        assert scaler.get_scale() == expected
    scaler.update(new_scale=16.0)
    assert scaler.get_scale() == 16.0
    scaler.scale(weight.sum())
    scaler.update(df.tensor(4.0))
    assert scaler.get_scale() == 4.0


def test_grad_scaler_call_order_errors():
    weight = df.nn.Parameter(df.ones(2))
    opt = df.optim.SGD([weight], lr=0.1)
    scaler = df.amp.GradScaler()
    with pytest.raises(AssertionError, match="Attempted step but _scale is None"):
        scaler.step(opt)
    scaler.scale(weight.sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: None)
    scaler.update()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        half = df.nn.Parameter(df.ones(2, dtype=df.float16))
        half_opt = df.optim.SGD([half], lr=0.1)
        half.grad = df.ones(2, dtype=df.float16)
        scaler.scale(half.sum())
        scaler.unscale_(half_opt)
    with pytest.raises(AssertionError, match="growth factor must be > 1.0"):
        df.amp.GradScaler(growth_factor=1.0)


def test_grad_scaler_disabled_and_state_dict():
    weight = df.nn.Parameter(df.ones(2))
    opt = df.optim.SGD([weight], lr=0.5)
    off = df.amp.GradScaler(enabled=False)
    loss = weight.sum()
    assert off.scale(loss) is loss
    loss.backward()
    off.step(opt)
    off.update()
    np.testing.assert_array_equal(weight.detach().numpy(), [0.5, 0.5])
    assert off.get_scale() == 1.0 and off.state_dict() == {} and not off.is_enabled()

    on = df.amp.GradScaler(init_scale=64.0, growth_interval=7)
    on.scale(weight.sum())
    state = on.state_dict()
    fresh = df.amp.GradScaler()
    fresh.load_state_dict(state)
    assert fresh.state_dict() == state
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        fresh.load_state_dict({})
    restored = pickle.loads(pickle.dumps(on))
    assert restored.get_scale() == 64.0 and restored.get_growth_interval() == 7


def test_grad_scaler_scales_nested_outputs(device):
    scaler = df.amp.GradScaler(init_scale=4.0)
    a, b = df.ones(2, device=device), df.full((1,), 2.0, device=device)
    out = scaler.scale([a, (b, a)])
    assert isinstance(out, list) and isinstance(out[1], tuple)
    np.testing.assert_array_equal(out[1][0].cpu().numpy(), [8.0])
    with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable"):
        scaler.scale(3.0)


def test_amp_training_loop_learns(device):
    """The PyTorch AMP recipe, unchanged: autocast + GradScaler around a regression model."""
    df.manual_seed(0)
    use_amp = True
    model = df.nn.Sequential(df.nn.Linear(3, 16), df.nn.Tanh(), df.nn.Linear(16, 1)).to(device)
    opt = df.optim.Adam(model.parameters(), lr=0.02)
    scaler = df.amp.GradScaler(enabled=use_amp)
    x = df.randn(64, 3, device=device)
    y = x @ df.tensor([[1.0], [-2.0], [0.5]], device=device)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # autocast disables itself, see amp docs
        for _ in range(60):
            opt.zero_grad()
            with df.autocast(device_type=df.device(device).type, enabled=use_amp):
                loss = df.nn.functional.mse_loss(model(x), y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    assert scaler.get_scale() == 2.0**16


def test_autocast_state_functions_and_nesting():
    assert not df.is_autocast_enabled("cpu")
    assert df.get_autocast_dtype("cpu") == df.float16
    with df.autocast("cpu", enabled=False) as ctx:
        assert isinstance(ctx, df.autocast)
        assert not df.is_autocast_enabled("cpu")
    df.set_autocast_enabled("opencl", True)
    try:
        assert df.is_autocast_enabled("opencl")
        with df.autocast("opencl", enabled=False):
            assert not df.is_autocast_enabled("opencl")
        assert df.is_autocast_enabled("opencl")
    finally:
        df.set_autocast_enabled("opencl", False)
    df.set_autocast_dtype("cpu", df.float32)
    assert df.get_autocast_cpu_dtype() == df.float32
    df.set_autocast_cpu_dtype(df.float16)
    assert df.get_autocast_dtype("cpu") == df.float16
    assert df.autocast_increment_nesting() == 1 and df.autocast_decrement_nesting() == 0
    assert df.is_autocast_cache_enabled()
    with df.autocast("cpu", enabled=False, cache_enabled=False):
        assert not df.is_autocast_cache_enabled()
    assert df.is_autocast_cache_enabled()
    assert df.amp.is_autocast_available("cpu") and not df.amp.is_autocast_available("xla")


def test_autocast_enabled_warns_and_keeps_dtypes(device):
    """deepforge does not lower precision yet: an enabled region says so and runs in float32."""
    x = df.randn(4, 3, device=device)
    w = df.randn(2, 3, device=device)
    with pytest.warns(UserWarning, match="Disabling autocast"):
        with df.autocast(device_type=df.device(device).type):
            assert not df.is_autocast_enabled(df.device(device).type)
            y = df.nn.functional.linear(x, w)
    assert y.dtype == df.float32
    with pytest.warns(UserWarning, match="CUDA is not available"):
        with df.autocast("cuda"):
            assert not df.is_autocast_enabled()


def test_autocast_decorator_and_errors():
    @df.autocast("cpu", enabled=False)
    def f(x):
        return df.is_autocast_enabled("cpu"), x * 2

    enabled, out = f(df.ones(2))
    assert not enabled and out.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        df.autocast("tpu")
    with pytest.raises(TypeError, match="dtype must be a deepforge.dtype"):
        df.autocast("cpu", dtype="bfloat16")


def test_device_amp_aliases():
    from deepforge.cpu.amp import autocast as cpu_autocast
    from deepforge.cuda.amp import GradScaler, autocast

    with pytest.warns(FutureWarning, match="torch.amp.GradScaler\\('cuda', args...\\)"):
        scaler = GradScaler(init_scale=8.0)
    assert scaler.get_scale() == 8.0 and scaler.is_enabled()
    with pytest.warns(FutureWarning, match="torch.cuda.amp.autocast"):
        with autocast(enabled=False):
            assert not df.is_autocast_enabled("cuda")
    with pytest.warns(FutureWarning, match="torch.cpu.amp.autocast"):
        with cpu_autocast(enabled=False):
            pass
    assert df.cuda.amp.GradScaler is GradScaler and df.cpu.amp.autocast is cpu_autocast


def test_custom_fwd_bwd_in_function():
    class Double(df.autograd.Function):
        @staticmethod
        @df.amp.custom_fwd(device_type="cpu")
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @df.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            return g * 2

    x = df.ones(3, requires_grad=True)
    Double.apply(x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_deprecated_autocast_as_decorator():
    with pytest.warns(FutureWarning):
        decorator = df.cuda.amp.autocast(enabled=False)

    @decorator
    def f():
        return df.is_autocast_enabled("cuda")

    assert f() is False
