"""Recorded small ops on CPU OpenCL devices (``backends/opencl/op_batch.py``): small
contiguous unary and binary ops are recorded and run many per launch by ``ew_batch``. They
must give the bits a launch per op gives, keep their place among all other commands, and
survive their buffers going back to the pool (or being freed) before the batch runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import deepforge as df
from deepforge.backends import get_backend, opencl_device_count

if opencl_device_count() == 0:
    if os.environ.get("DEEPFORGE_REQUIRE_OPENCL") == "1":
        raise RuntimeError("DEEPFORGE_REQUIRE_OPENCL=1 but no usable OpenCL device was found")
    pytest.skip("no usable OpenCL device", allow_module_level=True)

from deepforge.backends.opencl.elementwise import (  # noqa: E402
    _COMPARE,
    _PRED,
    op_codes,
)

DEV = "opencl:0"
BE = get_backend(df.device(DEV))
RT = BE.rt


@pytest.fixture
def rec():
    if RT.recorder is None:
        pytest.skip("ops are not recorded on this device (GPU, or batching/recording off)")
    return RT.recorder


def _start_recording():
    """After a wait the first small op goes out at once; the ones after it are recorded."""
    df.opencl.synchronize()
    df.ones(1, device=DEV) + 1


def _recording_off(monkeypatch):
    RT.recorder.flush()
    monkeypatch.setattr(RT, "recorder", None)
    monkeypatch.setattr(RT.batch, "recorder", None)
    monkeypatch.setattr(RT.batch, "log", None)


# the tensor dtypes of the public API
DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8,
          np.bool_]


def _inputs(dtype, rng):
    """Arrays of 1 and 37 elements and a 19-element view that starts inside its buffer."""
    kind = np.dtype(dtype).kind
    if kind == "f":
        base = rng.uniform(-3, 3, 64)
        base[[5, 9]] = [0.5, -0.25]
    elif kind == "b":
        base = rng.integers(0, 2, 64)
    else:
        base = rng.integers(-9 if kind == "i" else 0, 9, 64)
    host = base.astype(dtype)
    whole = BE.from_numpy(host)
    view = type(whole)(RT, whole.buf, (19,), (1,), 7, whole.dtype)
    return [BE.from_numpy(host[:1]), BE.from_numpy(host[:37]), view]


def _run_all(dtype, seed):
    """Every fast-path unary and binary op on ``dtype`` (modes: two arrays, array and number,
    number and array), issued back to back and read at the end; an op the fast path does
    not take, or that raises, is recorded by its error."""
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    xs, ys = _inputs(dtype, rng), _inputs(dtype, rng)
    number = {"f": 2.5, "b": True}.get(dtype.kind, 3)
    results = []
    _start_recording()
    for (family, op), _code in sorted(op_codes().items()):
        if op in _PRED or op in _COMPARE:
            continue
        for x, y in zip(xs, ys):
            if family == "unary":
                calls = [(BE.unary, (op, x, dtype))]
            else:
                calls = [(BE.binary, (op, a, b, dtype)) for a, b in ((x, y), (x, number),
                                                                     (number, y))]
            for fn, args in calls:
                try:
                    results.append(fn(*args))
                except (TypeError, RuntimeError, ValueError, NotImplementedError) as e:
                    results.append(type(e).__name__)
    pending = 0 if RT.recorder is None else RT.recorder.count  # records not yet run
    return pending, [r if isinstance(r, str) else BE.to_numpy(r).view(np.uint8) for r in results]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_recorded_ops_give_the_bits_of_launched_ops(rec, monkeypatch, dtype):
    if dtype == np.float64 and not RT.has_fp64:
        pytest.skip("no fp64 on this device")
    pending, recorded = _run_all(dtype, 0)
    assert pending > 0  # the ops did go through the recorder
    _recording_off(monkeypatch)
    _, launched = _run_all(dtype, 0)
    assert len(recorded) == len(launched) > 0
    for i, (r, ref) in enumerate(zip(recorded, launched)):
        if isinstance(ref, str):
            assert r == ref, f"op {i}"
        else:
            np.testing.assert_array_equal(r, ref, err_msg=f"op {i} ({np.dtype(dtype)})")


def test_ops_are_recorded(rec):
    _start_recording()
    x = df.arange(5, dtype=df.float32, device=DEV)
    y = ((x + 1) * 2).exp()
    assert rec.count == 3
    np.testing.assert_allclose(y.cpu().numpy(), np.exp((np.arange(5) + 1) * 2), rtol=1e-6)
    assert rec.count == 0


def test_a_buffer_back_in_the_pool_before_the_batch_runs(rec):
    # t dies right after the record that reads it; a fresh tensor of its size may get its
    # buffer and an upload or a kernel write it, all before the batch runs
    rng = np.random.default_rng(1)
    x = df.tensor(rng.standard_normal(24), dtype=df.float32, device=DEV)
    want, got = [], []
    _start_recording()
    for i in range(200):
        t = x + float(i)
        got.append(t * 2.0)
        del t
        z = df.tensor(rng.standard_normal(24).astype(np.float32), device=DEV)
        got.append((z > 0).float())
        want += [(x.cpu().numpy() + np.float32(i)) * np.float32(2), None]
    for w, g in zip(want, got):
        if w is not None:
            np.testing.assert_array_equal(g.cpu().numpy(), w)


def test_more_buffers_than_slots_and_more_ops_than_a_batch(rec):
    rng = np.random.default_rng(2)
    hosts = [rng.standard_normal(3).astype(np.float32) for _ in range(150)]
    parts = [df.tensor(h, device=DEV) for h in hosts]
    _start_recording()
    acc = parts[0] * 1.0
    for p in parts[1:]:  # a new buffer per op: batches end at the slot limit
        acc = acc + p
    y = df.zeros(3, device=DEV)
    for _ in range(700):  # one buffer pair: batches end at the record limit
        y = y + 1.0
    want = hosts[0].copy()
    for h in hosts[1:]:
        want = want + h
    np.testing.assert_array_equal(acc.cpu().numpy(), want)
    np.testing.assert_array_equal(y.cpu().numpy(), np.full(3, 700, np.float32))


def test_dtypes_alternating(rec):
    f = df.ones(4, device=DEV)
    i = df.ones(4, dtype=df.int64, device=DEV)
    _start_recording()
    for _ in range(20):
        f = f * 2.0
        i = i + 3
    np.testing.assert_array_equal(f.cpu().numpy(), np.full(4, 2.0**20, np.float32))
    np.testing.assert_array_equal(i.cpu().numpy(), np.full(4, 61))


def test_freeing_the_pool_with_records_pending(rec):
    x = df.full((6,), 2.0, device=DEV)
    _start_recording()
    t = x + 1
    y = t * 3
    del t  # back to the pool, which the next line frees: the record holds the buffer
    df.opencl.empty_cache()
    np.testing.assert_array_equal(y.cpu().numpy(), np.full(6, 9, np.float32))


def test_an_in_place_write_after_a_recorded_read(rec):
    x = df.full((5,), 4.0, device=DEV)
    _start_recording()
    y = x + 1
    x.add_(10)  # launched: the record that reads x goes first
    x.mul_(2)
    np.testing.assert_array_equal(y.cpu().numpy(), np.full(5, 5, np.float32))
    np.testing.assert_array_equal(x.cpu().numpy(), np.full(5, 28, np.float32))


def test_threads_recording_and_reading(rec):
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        for _ in range(100):
            a = rng.standard_normal(int(rng.integers(1, 30))).astype(np.float32)
            t = df.tensor(a, device=DEV)
            r = (((t + 1) * 3) - t).abs()
            s = r.sum().item()
            if not np.isclose(s, np.abs((a + 1) * 3 - a).sum(), rtol=1e-5):
                errors.append(seed)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        ts = [threading.Thread(target=work, args=(s,)) for s in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
    finally:
        sys.setswitchinterval(old)
    assert errors == []


def test_recording_can_be_turned_off():
    code = (
        "import deepforge as df; from deepforge.backends import get_backend;"
        "rt = get_backend(df.device('opencl:0')).rt; print(rt.recorder is None)"
    )
    env = dict(os.environ, DEEPFORGE_OPENCL_RECORD="0")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "True"
