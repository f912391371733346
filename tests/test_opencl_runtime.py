"""The OpenCL runtime: devices, lazy initialisation, caches, errors, memory, RNG, fused steps."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import deepforge as df
from deepforge.backends import get_backend, opencl_device_count

if opencl_device_count() == 0:
    if os.environ.get("DEEPFORGE_REQUIRE_OPENCL") == "1":
        raise RuntimeError("DEEPFORGE_REQUIRE_OPENCL=1 but no usable OpenCL device was found")
    pytest.skip("no usable OpenCL device (install pyopencl and a driver, e.g. "
                "apt-get install pocl-opencl-icd)", allow_module_level=True)

from deepforge.backends.opencl import discovery  # noqa: E402
from deepforge.backends.opencl import runtime as rtmod  # noqa: E402

DEV = "opencl:0"


def _be():
    return get_backend(df.device(DEV))


def _run(code: str, **env) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=e, timeout=300)


# -- devices ---------------------------------------------------------------------------------
def test_device_strings():
    assert df.device("opencl") == df.device("opencl")
    x = df.ones(3, device="opencl")
    assert str(x.device) == "opencl:0" and x.device == df.device("opencl:0")
    assert df.ones(2, device="opencl:0").device == x.device
    assert df.opencl.is_available() and df.opencl.device_count() >= 1


def test_bad_device_index():
    with pytest.raises(RuntimeError, match="Invalid device opencl:99"):
        df.ones(2, device="opencl:99")


def test_default_device_from_env():
    r = _run("""
        import deepforge as df
        print(df.ones(1, device="opencl").device)
        """, DEEPFORGE_OPENCL_DEVICE="0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "opencl:0"
    r = _run("""
        import deepforge as df
        df.ones(1, device="opencl")
        """, DEEPFORGE_OPENCL_DEVICE="57")
    assert r.returncode != 0 and "Invalid device opencl:57" in r.stderr


def test_device_properties():
    p = df.opencl.get_device_properties(0)
    assert p.name == df.opencl.get_device_name(0) and p.total_memory > 0
    assert p.multi_processor_count >= 1 and isinstance(p.supports_fp64, bool)
    assert df.opencl.current_device() == 0


def test_import_creates_no_context():
    r = _run("""
        import sys
        import deepforge, deepforge.opencl
        from deepforge.backends.opencl import discovery, runtime
        assert "pyopencl" not in sys.modules, "pyopencl imported at import time"
        assert discovery._devices is None and not runtime._runtimes
        print("ok")
        """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_pocl_affinity_set_before_first_context():
    env = {k: v for k, v in os.environ.items() if k != "POCL_AFFINITY"}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import os
        import deepforge as df
        assert "POCL_AFFINITY" not in os.environ
        df.opencl.device_count()
        print(os.environ.get("POCL_AFFINITY"))
        """)], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1"


def test_without_pyopencl_count_is_zero_and_error_says_how_to_install():
    r = _run("""
        import sys
        sys.modules["pyopencl"] = None  # as if it were not installed
        import deepforge as df
        assert df.opencl.device_count() == 0 and not df.opencl.is_available()
        try:
            df.ones(2, device="opencl")
        except RuntimeError as e:
            print(e)
        """)
    assert r.returncode == 0, r.stderr
    assert "pip install pyopencl" in r.stdout


def test_unusable_devices_are_skipped_with_a_logged_reason(monkeypatch, caplog):
    def broken(cl, dev):
        raise RuntimeError("unknown target CPU 'generic'")

    monkeypatch.setattr(discovery, "_devices", None)
    monkeypatch.setattr(rtmod, "_runtimes", {})
    monkeypatch.setattr(discovery, "_probe", broken)
    with caplog.at_level(logging.WARNING, logger="deepforge.opencl"):
        assert rtmod.devices() == []
    assert "skipping OpenCL device" in caplog.text and "generic" in caplog.text
    with pytest.raises(RuntimeError, match="pocl-opencl-icd"):
        rtmod.get_runtime(0)


def test_platform_filter(monkeypatch):
    monkeypatch.setattr(discovery, "_devices", None)
    monkeypatch.setattr(rtmod, "_runtimes", {})
    monkeypatch.setenv("DEEPFORGE_OPENCL_PLATFORM", "no-such-platform")
    assert rtmod.devices() == []


# -- programs and kernels --------------------------------------------------------------------
def test_program_and_kernel_caches():
    rt = _be().rt
    p1 = rt.build("copy.cl", "-DSRC=U32 -DDST=U32")
    n = rt.build_count
    assert rt.build("copy.cl", "-DSRC=U32 -DDST=U32") is p1
    assert rt.build_count == n
    k1 = rt.kernel("copy.cl", "cast_c", "-DSRC=U32 -DDST=U32")
    assert rt.kernel("copy.cl", "cast_c", "-DSRC=U32 -DDST=U32") is k1
    rt.build("copy.cl", "-DSRC=U16 -DDST=U16")
    assert rt.build_count in (n, n + 1)  # built now unless an earlier test did


def test_build_error_names_file_options_and_log(tmp_path):
    src = tmp_path / "broken.cl"
    src.write_text("__kernel void f(__global float* a) { a[0] = undefined_name; }\n")
    with pytest.raises(RuntimeError) as ei:
        _be().rt.build(str(src), "-DMY_OPTION=1")
    msg = str(ei.value)
    assert str(src) in msg and "-DMY_OPTION=1" in msg and "undefined_name" in msg


def test_kernel_sources_are_found():
    dirs = rtmod.kernel_dirs()
    assert dirs and any((d / "elementwise.cl").is_file() for d in dirs)


def test_sync_mode_names_the_failing_kernel():
    r = _run("""
        import deepforge as df
        from deepforge.backends import get_backend
        x = df.arange(10, dtype=df.float32, device="opencl") * 2 + 1
        assert x.sum().item() == 100.0
        be = get_backend(df.device("opencl:0"))
        rt = be.rt
        assert rt.sync
        k = rt.kernel("copy.cl", "cast_c", "-DSRC=U32 -DDST=U32")
        try:
            rt.launch(k, (rt.max_work_group_size * 2,), (rt.max_work_group_size * 2,), 1,
                      x._data.buf, 0, x._data.buf, 0)
        except RuntimeError as e:
            print(e)
        """, DEEPFORGE_OPENCL_SYNC="1")
    assert r.returncode == 0, r.stderr
    assert "cast_c" in r.stdout


# -- memory ----------------------------------------------------------------------------------
def test_out_of_memory_message():
    with pytest.raises(RuntimeError, match=r"OpenCL out of memory: tried to allocate "
                                           r"1125899906842624 bytes on opencl:0 .*bytes in use, "
                                           r"device has \d+ bytes"):
        df.empty(2**48, dtype=df.float32, device=DEV)


def test_memory_accounting():
    df.opencl.synchronize()
    before = df.opencl.memory_allocated()
    x = df.empty(1 << 20, device=DEV)
    assert df.opencl.memory_allocated() >= before + (1 << 22)
    assert df.opencl.max_memory_allocated() >= df.opencl.memory_allocated()
    del x
    assert df.opencl.memory_allocated() <= before + 1024
    df.opencl.empty_cache()
    df.opencl.reset_peak_memory_stats()
    assert df.opencl.max_memory_allocated() == df.opencl.memory_allocated()


# -- dtypes and transfers --------------------------------------------------------------------
ALL = [df.float32, df.float64, df.float16, df.int8, df.int16, df.int32, df.int64, df.uint8,
       df.bool]


@pytest.mark.parametrize("dtype", ALL, ids=lambda d: d.name)
def test_round_trip_every_dtype(dtype):
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((4, 6)) * 50).astype(dtype.np)
    t = df.tensor(a).to(DEV)
    assert t.device == df.device(DEV) and t.dtype is dtype
    np.testing.assert_array_equal(t.cpu().numpy(), a)
    np.testing.assert_array_equal(t.mT.cpu().numpy(), a.T)
    np.testing.assert_array_equal(t[1:, ::2].cpu().numpy(), a[1:, ::2])
    np.testing.assert_array_equal(t.flip(0).cpu().numpy(), a[::-1])


def test_float64_unsupported_error(monkeypatch):
    be = _be()
    monkeypatch.setattr(be, "supports_fp64", False)
    with pytest.raises(TypeError, match=r"float64.*\.float\(\)"):
        df.zeros(2, dtype=df.float64, device=DEV)
    with pytest.raises(TypeError, match=r"\.float\(\)"):
        df.tensor([1.0, 2.0], dtype=df.float64).to(DEV)
    assert df.tensor([1.0, 2.0], dtype=df.float64).float().to(DEV).dtype is df.float32


def test_float64_override_from_env():
    r = _run("""
        import deepforge as df
        try:
            df.ones(2, dtype=df.float64, device="opencl")
        except TypeError as e:
            print(e)
        """, DEEPFORGE_OPENCL_DISABLE_FP64="1")
    assert r.returncode == 0, r.stderr
    assert "cl_khr_fp64" in r.stdout


def test_mixed_device_error_names_both():
    with pytest.raises(RuntimeError, match="cpu.*opencl:0|opencl:0.*cpu"):
        df.ones(2) + df.ones(2, device=DEV)


# -- random numbers --------------------------------------------------------------------------
def _philox_ref(seed, offset, n):
    """Philox4x32-10 as specified, in numpy (uint64 arithmetic)."""
    m32 = np.uint64(0xFFFFFFFF)
    i = np.arange(n, dtype=np.uint64)
    c = [i & m32, i >> np.uint64(32), np.full(n, offset & 0xFFFFFFFF, np.uint64),
         np.full(n, offset >> 32, np.uint64)]
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)
    for r in range(10):
        if r:
            k0 = (k0 + np.uint64(0x9E3779B9)) & m32
            k1 = (k1 + np.uint64(0xBB67AE85)) & m32
        p0 = np.uint64(0xD2511F53) * c[0]
        p1 = np.uint64(0xCD9E8D57) * c[2]
        hi0, lo0 = p0 >> np.uint64(32), p0 & m32
        hi1, lo1 = p1 >> np.uint64(32), p1 & m32
        c = [hi1 ^ c[1] ^ k0, lo1, hi0 ^ c[3] ^ k1, lo0]
    return [x.astype(np.uint32) for x in c]


@pytest.mark.parametrize("seed,offset", [(0, 0), (12345, 7), (2**64 - 1, 2**40 + 3)])
def test_philox_matches_spec_and_cpu(seed, offset):
    cpu = get_backend(df.device("cpu"))
    cl = _be()
    n = 1000
    r0, r1, r2, r3 = _philox_ref(seed, offset, n)
    bits = cl.to_numpy(cl.random_bits((n,), seed, offset))
    np.testing.assert_array_equal(bits, r0)
    u32 = cl.to_numpy(cl.random_uniform((n,), np.float32, seed, offset))
    np.testing.assert_array_equal(u32, (r0 >> 8).astype(np.float32) * np.float32(2.0**-24))
    u64 = cl.to_numpy(cl.random_uniform((n,), np.float64, seed, offset))
    ref64 = ((r0 >> 5).astype(np.float64) * 67108864.0 + (r1 >> 6)) * 2.0**-53
    np.testing.assert_array_equal(u64, ref64)
    z = cl.to_numpy(cl.random_normal((n,), np.float64, seed, offset))
    u1 = 1.0 - ref64
    u2 = ((r2 >> 5).astype(np.float64) * 67108864.0 + (r3 >> 6)) * 2.0**-53
    np.testing.assert_allclose(z, np.sqrt(-2 * np.log(u1)) * np.cos(2 * np.pi * u2), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(u32, cpu.random_uniform((n,), np.float32, seed, offset))
    np.testing.assert_array_equal(bits, cpu.random_bits((n,), seed, offset))
    np.testing.assert_allclose(cl.to_numpy(cl.random_normal((n,), np.float32, seed, offset)),
                               cpu.random_normal((n,), np.float32, seed, offset), rtol=1e-6,
                               atol=1e-6)


def test_rand_same_on_cpu_and_opencl():
    df.manual_seed(3)
    a = df.rand(64, 3)
    b = df.randn(100, dtype=df.float32)
    df.manual_seed(3)
    np.testing.assert_array_equal(df.rand(64, 3, device=DEV).cpu().numpy(), a.numpy())
    np.testing.assert_allclose(df.randn(100, device=DEV).cpu().numpy(), b.numpy(), atol=1e-6)


# -- fused optimizer steps -------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("opts", [
    dict(momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    dict(momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=False, maximize=True),
    dict(momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=True, maximize=False),
])
def test_sgd_momentum_step(dtype, opts):
    rng = np.random.default_rng(0)
    p, g, b = (rng.standard_normal(1000).astype(dtype) for _ in range(3))
    cl = _be()
    P, G, B = cl.from_numpy(p), cl.from_numpy(g), cl.from_numpy(b)
    lr = 0.1
    for first in (True, False):
        assert cl.sgd_momentum_step(P, G, B, lr, first_step=first, **opts) is True
        gg = -g if opts["maximize"] else g
        gg = gg + opts["weight_decay"] * p
        if opts["momentum"]:
            b = gg if first else opts["momentum"] * b + (1 - opts["dampening"]) * gg
            gg = gg + opts["momentum"] * b if opts["nesterov"] else b
        p = p - lr * gg
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(cl.to_numpy(P), p, rtol=tol, atol=tol)
    if opts["momentum"]:
        np.testing.assert_allclose(cl.to_numpy(B), b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoupled,amsgrad,maximize,wd", [
    (False, False, False, 0.0), (True, False, False, 0.01), (False, True, True, 0.1),
    (True, True, False, 0.0),
])
def test_adam_step(dtype, decoupled, amsgrad, maximize, wd):
    rng = np.random.default_rng(1)
    p = rng.standard_normal(500).astype(dtype)
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    cl = _be()
    P, M, V, X = (cl.from_numpy(a) for a in (p, m, v, vmax))
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    for step in range(1, 4):
        g = rng.standard_normal(500).astype(dtype)
        assert cl.adam_step(P, cl.from_numpy(g), M, V, X if amsgrad else None, lr, b1, b2, eps, wd,
                            decoupled, amsgrad, maximize, step) is True
        g = -g if maximize else g
        if wd:
            if decoupled:
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
        m = m + (1 - b1) * (g - m)
        v = b2 * v + (1 - b2) * g * g
        bc1, bc2 = 1 - b1**step, 1 - b2**step
        if amsgrad:
            vmax = np.maximum(vmax, v)
        denom = np.sqrt(vmax if amsgrad else v) / np.sqrt(bc2) + eps
        p = p - (lr / bc1) * m / denom
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(cl.to_numpy(P), p, rtol=tol, atol=tol)
    np.testing.assert_allclose(cl.to_numpy(M), m, rtol=tol, atol=tol)
    np.testing.assert_allclose(cl.to_numpy(V), v, rtol=tol, atol=tol)


def test_fused_steps_decline_strided_arrays():
    cl = _be()
    p = cl.from_numpy(np.zeros((4, 4), np.float32))
    pt = cl.permute(p, (1, 0))
    assert cl.sgd_momentum_step(pt, pt, None, 0.1) is False


# -- queue -----------------------------------------------------------------------------------
def test_synchronize_and_item():
    x = df.arange(1000, dtype=df.float32, device=DEV)
    y = (x * 2).sum()
    df.opencl.synchronize()
    assert y.item() == 999000.0


# -- launch plans (the small-op fast path) ---------------------------------------------------
_PLAN_CASES = [
    (np.float32, ["add", "sub", "mul", "div", "maximum", "pow", "atan2"], ["exp", "neg", "abs"]),
    (np.float16, ["add", "mul", "div"], ["sqrt", "neg"]),
    (np.int32, ["add", "sub", "mul", "floordiv", "remainder", "bitwise_xor"], ["neg", "abs"]),
    (np.uint8, ["add", "mul", "bitwise_and"], ["bitwise_not"]),
    (np.bool_, ["logical_and", "bitwise_or"], ["bitwise_not"]),
]


@pytest.mark.parametrize("np_dtype,binops,unops", _PLAN_CASES, ids=lambda c: str(c))
def test_fast_path_matches_general_path(np_dtype, binops, unops):
    """The plan launches give bit-identical results to the general path, call after call."""
    cl = _be()
    dt = np.dtype(np_dtype)
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((3, 5)) * 4 + 5).astype(dt)
    y = (rng.standard_normal((3, 5)) * 4 + 5).astype(dt)
    if dt.kind in "iu":
        y[y == 0] = 1
    X, Y = cl.from_numpy(x), cl.from_numpy(y)
    s = True if dt.kind == "b" else 3 if dt.kind in "iu" else -1.5
    for op in binops:
        for a, b in ((X, Y), (X, s), (s, Y)):
            for _ in range(2):  # the first call makes the plan, the second reuses it
                fast = cl.to_numpy(cl.binary(op, a, b, dt))
                slow = cl.to_numpy(cl._binary(op, a, b, dt))
                np.testing.assert_array_equal(fast, slow, err_msg=f"{op} {dt}")
    for op in unops:
        for _ in range(2):
            np.testing.assert_array_equal(cl.to_numpy(cl.unary(op, X, dt)),
                                          cl.to_numpy(cl._unary(op, X, dt)), err_msg=op)
    plans = [k for k, v in cl.rt.tls.kernels.items() if k[0] == "plan" and v and k[3] == dt]
    assert plans, "no launch plan was made"


def test_fast_path_scalars_keep_their_bits():
    x = df.ones(4, device=DEV)
    assert not np.signbit((x * 0.0).cpu().numpy()).any()
    assert np.signbit((x * -0.0).cpu().numpy()).all()  # equal to the previous scalar, other bits
    assert np.isnan((x * float("nan")).cpu().numpy()).all()
    with np.errstate(over="ignore"):  # float32 overflow, as numpy's conversion
        assert ((x * 1e39).cpu().numpy() == np.inf).all()


def test_fast_path_views_and_offsets():
    x = df.arange(12, dtype=df.float32, device=DEV)
    y = x[3:7] + x[5:9]  # contiguous views at offsets
    np.testing.assert_array_equal(y.cpu().numpy(), np.arange(3, 7) + np.arange(5, 9))
    z = x.reshape(3, 4).t() * 2  # strided: the general path
    np.testing.assert_array_equal(z.cpu().numpy(), np.arange(12).reshape(3, 4).T * 2)
    e = df.empty(0, device=DEV)
    assert (e + e).shape == (0,) and (e * 2).shape == (0,)


def test_kernel_objects_are_per_thread():
    import threading

    rt = _be().rt
    k = rt.kernel("copy.cl", "cast_c", "-DSRC=U32 -DDST=U32")
    other = []
    t = threading.Thread(target=lambda: other.append(
        rt.kernel("copy.cl", "cast_c", "-DSRC=U32 -DDST=U32")))
    t.start()
    t.join()
    assert other[0] is not k and rt.kernel("copy.cl", "cast_c", "-DSRC=U32 -DDST=U32") is k


def test_ops_from_several_threads():
    """Threads launching the same kernels at once (shared kernel objects crashed the driver)."""
    r = _run("""
        import sys, threading
        import numpy as np
        import deepforge as df
        sys.setswitchinterval(1e-6)
        bad = []
        def work(seed):
            rng = np.random.default_rng(seed)
            for i in range(150):
                n = int(rng.integers(1, 40))
                a = rng.standard_normal(n).astype(np.float32)
                b = rng.standard_normal(n).astype(np.float32)
                A, B = df.tensor(a, device="opencl"), df.tensor(b, device="opencl")
                got = ((A + B) * 2.0 - B).exp().sum(0).item()
                if not np.allclose(got, np.exp((a + b) * 2 - b).sum(), rtol=1e-4):
                    bad.append((seed, i))
        ts = [threading.Thread(target=work, args=(s,)) for s in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        print("bad", len(bad))
        """)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "bad 0" in r.stdout
