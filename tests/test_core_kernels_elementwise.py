"""Tests of the Cython CPU kernels (deepforge._core) over flat arrays: elementwise activations,
the fused optimiser steps (against torch.optim) and the Philox generator (against Random123's
known answers)."""

import math

import numpy as np
import pytest
from core_kernel_helpers import DTYPES, RNG, core, rand


# ---------------------------------------------------------------- elementwise
def ref_act(name, x, gy):
    s = lambda: 1 / (1 + np.exp(-x))
    cdf = lambda: 0.5 * np.vectorize(math.erfc, otypes=[float])(-x / math.sqrt(2))
    return {
        "relu": lambda: np.maximum(x, 0),
        "sigmoid": s,
        "tanh": lambda: np.tanh(x),
        "exp": lambda: np.exp(x),
        "silu": lambda: x * s(),
        "gelu": lambda: x * cdf(),
        "relu_backward": lambda: np.where(x > 0, gy, 0),
        "silu_backward": lambda: gy * s() * (1 + x * (1 - s())),
        "gelu_backward": lambda: gy * (cdf() + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)),
    }[name]()


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [0, 1, 7, 1025, 300_001])
@pytest.mark.parametrize(
    "name", "relu sigmoid tanh exp silu gelu relu_backward silu_backward gelu_backward".split()
)
def test_elementwise(dt, n, name):
    x = rand(n, dt, 4.0)
    if n > 10:
        x[:8] = [0.0, -0.0, 1e-9, -1e-9, 30.0, -30.0, 80.0, -80.0]
    gy = rand(n, dt)
    out = np.empty_like(x)
    fn = getattr(core, name)
    fn(x, gy, out) if name.endswith("backward") else fn(x, out)
    with np.errstate(over="ignore"):
        ref = ref_act(name, x.astype(np.float64), gy.astype(np.float64))
    bwd = name.endswith("backward")  # silu'/gelu' have roots: cancellation needs an atol
    t = (
        dict(rtol=4e-6, atol=1e-6 if bwd else 1e-37)
        if dt == np.float32
        else dict(rtol=1e-12 if "gelu" in name else 1e-13, atol=1e-12 if bwd else 1e-300)
    )
    np.testing.assert_allclose(out, ref, **t)
    if not name.endswith("backward"):
        y = x.copy()
        fn(y, y)  # in place
        np.testing.assert_array_equal(y, out)


@pytest.mark.parametrize("dt", DTYPES)
def test_elementwise_specials(dt):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, 1e4, -1e4, 88.8, -104.5, -745.0], dt)
    out = np.empty_like(x)
    with np.errstate(over="ignore", invalid="ignore"):
        for name, ref in (
            ("exp", np.exp),
            ("tanh", np.tanh),
            ("relu", lambda v: np.maximum(v, 0)),
            ("sigmoid", lambda v: 1 / (1 + np.exp(-v.astype(np.float64)))),
        ):
            getattr(core, name)(x, out)
            np.testing.assert_allclose(out, ref(x).astype(dt), rtol=1e-6, atol=1e-300, err_msg=name)
    sub = np.array([-700.0, -740.0] if dt == np.float64 else [-90.0, -100.0], dt)
    core.exp(sub, out[:2])
    np.testing.assert_allclose(out[:2], np.exp(sub), rtol=1e-6)  # gradual underflow
    assert (out[:2] > 0).all()
    with pytest.raises(ValueError, match="relu: expected out"):
        core.relu(x, out[:3])


# ---------------------------------------------------------------- optimisers vs torch
def test_sgd_matches_torch():
    torch = pytest.importorskip("torch")
    cfgs = [
        dict(momentum=0.0),
        dict(momentum=0.9),
        dict(momentum=0.9, nesterov=True),
        dict(momentum=0.8, dampening=0.3, weight_decay=0.01, maximize=True),
    ]
    for cfg in cfgs:
        p0 = RNG.standard_normal(1000)
        tp = torch.tensor(p0.copy(), requires_grad=True)
        opt = torch.optim.SGD([tp], lr=0.05, foreach=False, **cfg)
        p, buf = p0.copy(), np.zeros_like(p0)
        for step in range(5):
            g = RNG.standard_normal(1000)
            tp.grad = torch.tensor(g)
            opt.step()
            core.sgd_momentum_step(
                p,
                g,
                buf,
                0.05,
                cfg.get("momentum", 0.0),
                cfg.get("dampening", 0.0),
                cfg.get("weight_decay", 0.0),
                cfg.get("nesterov", False),
                cfg.get("maximize", False),
                step == 0,
            )
            np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize(
    "amsgrad,maximize,wd",
    [(False, False, 0.0), (True, False, 0.1), (False, True, 0.05), (True, True, 0.0)],
)
def test_adam_matches_torch(decoupled, amsgrad, maximize, wd):
    torch = pytest.importorskip("torch")
    n = 50_000  # parallel path
    p0 = RNG.standard_normal(n)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = cls(
        [tp],
        lr=1e-2,
        betas=(0.9, 0.99),
        eps=1e-8,
        weight_decay=wd,
        amsgrad=amsgrad,
        maximize=maximize,
        foreach=False,
    )
    p, m, v, vmax = p0.copy(), np.zeros(n), np.zeros(n), np.zeros(n)
    for step in range(1, 8):
        g = RNG.standard_normal(n) * (0.1 if step % 2 else 2.0)
        tp.grad = torch.tensor(g)
        opt.step()
        core.adam_step(
            p,
            g,
            m,
            v,
            vmax if amsgrad else np.empty(0),
            1e-2,
            0.9,
            0.99,
            1e-8,
            wd,
            decoupled,
            amsgrad,
            maximize,
            step,
        )
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-13)
    st = opt.state[tp]
    np.testing.assert_allclose(m, st["exp_avg"].numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(v, st["exp_avg_sq"].numpy(), rtol=1e-12, atol=1e-15)
    p32 = p0.astype(np.float32)
    z = np.zeros(n, np.float32)
    core.adam_step(
        p32,
        g.astype(np.float32),
        z,
        z.copy(),
        z.copy(),
        1e-2,
        0.9,
        0.99,
        1e-8,
        wd,
        decoupled,
        amsgrad,
        maximize,
        1,
    )
    assert np.isfinite(p32).all()


# ---------------------------------------------------------------- philox
M32 = 0xFFFFFFFF


def philox_ref(c, k):
    c = list(c)
    k0, k1 = k
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c[3] ^ k1) & M32, p0 & M32]
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return c


def words(seed, offset, i):
    return philox_ref((i & M32, i >> 32, offset & M32, offset >> 32), (seed & M32, seed >> 32))


def test_philox_reference_kat():  # Random123 known-answer vectors
    assert philox_ref((0, 0, 0, 0), (0, 0)) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox_ref((M32,) * 4, (M32, M32)) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert philox_ref(
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0)
    ) == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


@pytest.mark.parametrize("seed,offset", [(0, 0), (42, 7), (0x123456789ABCDEF0, (1 << 40) + 3)])
def test_philox_bit_exact(seed, offset):
    ref = [words(seed, offset, i) for i in range(8)]
    for n in (8, 300_000):  # the parallel path must produce the same stream
        bits = np.empty(n, np.uint32)
        core.philox_bits(seed, offset, bits)
        assert bits[:8].tolist() == [r[0] for r in ref]
        u32, u64, n64 = np.empty(n, np.float32), np.empty(n, np.float64), np.empty(n)
        core.philox_uniform(seed, offset, u32)
        core.philox_uniform(seed, offset, u64)
        core.philox_normal(seed, offset, n64)
        for i, (r0, r1, r2, r3) in enumerate(ref):
            assert u32[i] == np.float32((r0 >> 8) * 2.0**-24)
            a = ((r0 >> 5) * 67108864 + (r1 >> 6)) * 2.0**-53
            assert u64[i] == a
            b = ((r2 >> 5) * 67108864 + (r3 >> 6)) * 2.0**-53
            z = math.sqrt(-2 * math.log(1 - a)) * math.cos(2 * math.pi * b)
            assert n64[i] == pytest.approx(z, rel=1e-14, abs=1e-15)
    assert 0 <= u32.min() and u32.max() < 1 and 0 <= u64.min() and u64.max() < 1


def test_philox_normal_stats():
    z = np.empty(1_000_000, np.float32)
    core.philox_normal(1234, 0, z)
    assert abs(z.mean()) < 5e-3 and abs(z.std() - 1) < 5e-3
    u = np.empty(1_000_000)
    core.philox_uniform(1234, 1, u)
    assert abs(u.mean() - 0.5) < 2e-3


def test_normal_math_helpers_and_no_ftz():
    for x, t in zip(RNG.random(3000), RNG.random(3000)):
        lg, cs = core._log_cos2pi(x, t)
        assert lg == pytest.approx(math.log(x), rel=6e-16)
        assert cs == pytest.approx(math.cos(2 * math.pi * t), abs=2e-15)
    assert core._log_cos2pi(2.0**-53, 0.25)[0] == pytest.approx(-53 * math.log(2), rel=1e-15)
    # -ffast-math must not have switched the process to flush-to-zero / denormals-are-zero
    tiny = np.array([np.finfo(np.float32).smallest_subnormal], np.float32)
    assert (tiny * np.float32(1.5))[0] > 0
