"""Command batching on CPU OpenCL devices (``backends/opencl/batching.py``): small commands
wait behind a user event that is opened every batch, before large kernels and before any
wait. The results must not change, and nothing may wait behind a closed gate (a hang)."""

from __future__ import annotations

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
    pytest.skip("no usable OpenCL device", allow_module_level=True)

from opencl_workload import WORKLOAD  # noqa: E402

from deepforge.backends.opencl.batching import DEFAULT_LIMIT, batch_limit  # noqa: E402

DEV = "opencl:0"


def _rt():
    return get_backend(df.device(DEV)).rt


def _run(script: str, *args: str, env: dict | None = None, timeout: int = 240):
    """Run ``script`` in a fresh process; a hang shows up as a timeout, not a stuck suite."""
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, **(env or {})),
        timeout=timeout,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_batch_limit_from_device_and_environment(monkeypatch):
    monkeypatch.delenv("DEEPFORGE_OPENCL_BATCH", raising=False)
    assert batch_limit(True, False) == DEFAULT_LIMIT
    assert batch_limit(False, False) == 0  # GPU drivers batch by themselves
    assert batch_limit(True, True) == 0  # DEEPFORGE_OPENCL_SYNC waits after every kernel
    monkeypatch.setenv("DEEPFORGE_OPENCL_BATCH", "8")
    assert batch_limit(False, False) == 8
    monkeypatch.setenv("DEEPFORGE_OPENCL_BATCH", "0")
    assert batch_limit(True, False) == 0
    monkeypatch.setenv("DEEPFORGE_OPENCL_BATCH", "many")
    with pytest.raises(ValueError, match="DEEPFORGE_OPENCL_BATCH must be an integer"):
        batch_limit(True, False)


def _batched_rt():
    rt = _rt()
    if rt.batch is None:
        pytest.skip("commands are not batched on this device (GPU, or batching turned off)")
    return rt


@pytest.fixture
def gated_only(monkeypatch):
    """The gate on its own: small elementwise ops launched, not recorded (op_batch.py)."""
    rt = _rt()
    if rt.recorder is not None:
        rt.recorder.flush()
        monkeypatch.setattr(rt, "recorder", None)
        monkeypatch.setattr(rt.batch, "recorder", None)
        monkeypatch.setattr(rt.batch, "log", None)


def test_small_ops_are_held_until_a_read(gated_only):
    rt = _batched_rt()
    df.opencl.synchronize()
    assert rt.batch.gate is None
    x = df.ones(3, device=DEV)
    y = (x + 1) * 2  # the first small op after a wait goes ungated, the next waits
    assert rt.batch.gate is not None and rt.batch.held >= 1
    np.testing.assert_array_equal(y.cpu().numpy(), [4, 4, 4])  # the read opens the gate first
    assert rt.batch.gate is None


def test_batches_rotate_and_keep_order(gated_only):
    rt = _batched_rt()
    x = df.zeros(5, device=DEV)
    steps = 3 * rt.batch.limit + 7
    for _ in range(steps):
        x = x + 1
        assert rt.batch.held <= rt.batch.limit
    np.testing.assert_array_equal(x.cpu().numpy(), np.full(5, steps, np.float32))


def test_a_multi_group_kernel_opens_the_gate(gated_only):
    rt = _batched_rt()
    small = df.ones(2, device=DEV) * 3 + 0
    assert rt.batch.gate is not None
    big = df.ones(1 << 20, device=DEV)  # several work-groups on any device
    big = big + small[0]
    assert rt.batch.gate is None
    assert float(big[-1]) == 4.0


def test_raw_queue_has_nothing_held_back(gated_only):
    rt = _batched_rt()
    x = df.ones(4, device=DEV) * 2 + 0
    assert rt.batch.gate is not None
    rt.queue.finish()  # would never return if the gate stayed closed
    assert rt.batch.gate is None
    np.testing.assert_array_equal(x.cpu().numpy(), [2, 2, 2, 2])


@pytest.mark.parametrize("limit", ["0", "3"])
def test_results_do_not_depend_on_batching(tmp_path, limit):
    ref, out = tmp_path / "default.npy", tmp_path / f"b{limit}.npy"
    _run(WORKLOAD, str(ref))
    _run(WORKLOAD, str(out), env={"DEEPFORGE_OPENCL_BATCH": limit})
    np.testing.assert_array_equal(np.load(ref), np.load(out))


def test_threads_reading_while_others_launch_do_not_hang():
    # each thread chains small ops and reads its result back; a read must never end up
    # behind a gate another thread closed after the read's own release
    out = _run(
        """
        import threading
        import deepforge as df
        errors = []
        def work(k):
            try:
                x = df.full((3,), float(k), device="opencl")
                for i in range(300):
                    x = x + 1
                    if i % 7 == 0:
                        assert float(x[0]) == k + i + 1, (k, i, float(x[0]))
            except Exception as e:
                errors.append(repr(e))
        ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print("errors", errors)
    """,
        env={"DEEPFORGE_OPENCL_BATCH": "5"},
        timeout=120,
    )
    assert "errors []" in out


def test_exit_with_commands_held_back():
    # the gates are opened at exit, before pyopencl's own exit handler waits for writes
    out = _run(
        """
        import deepforge as df
        from deepforge.backends import get_backend
        x = df.ones(2, device="opencl") + 1 + 1
        # a pending write: pyopencl waits for it when its event is dropped at exit
        y = df.tensor([1.0, 2.0], device="opencl")
        print(get_backend(df.device("opencl")).rt.batch is not None)
    """,
        env={"DEEPFORGE_OPENCL_BATCH": "64"},
        timeout=120,
    )
    assert out.strip() == "True"
