"""The OpenCL backend's direct launch path (``deepforge._cl_launch``): same results as
pyopencl's launches, OpenCL status codes turned into errors that name the kernel."""

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

from opencl_workload import WORKLOAD as _WORKLOAD  # noqa: E402

from deepforge.backends.opencl.fast_launch import launcher, status_name  # noqa: E402

DEV = "opencl:0"



def test_direct_launch_is_in_use():
    rt = get_backend(df.device(DEV)).rt
    assert launcher() is not None and launcher().is_bound()
    assert rt.direct is launcher()


@pytest.mark.parametrize("sync", ["0", "1"])
def test_direct_and_pyopencl_launches_agree(tmp_path, sync):
    results = []
    for direct in ("1", "0"):
        out = tmp_path / f"r{direct}.npy"
        env = dict(os.environ, DEEPFORGE_OPENCL_DIRECT_LAUNCH=direct, DEEPFORGE_OPENCL_SYNC=sync)
        r = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(_WORKLOAD), str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        results.append(np.load(out))
    np.testing.assert_array_equal(results[0], results[1])


def test_launch_failure_names_kernel_and_status():
    rt = get_backend(df.device(DEV)).rt
    x = df.ones(12, device=DEV)
    x.neg()  # makes the unary fast path's plan (its buffers are arguments 1 and 3)
    plan = rt.tls.kernels[("plan", "ew_unary_c", "neg", np.dtype(np.float32))]
    # a work-group size that does not divide the global size is invalid in OpenCL 1.2
    plan.sizes[13] = ((13,), (4,))
    try:
        with pytest.raises(
            RuntimeError,
            match=rf"OpenCL kernel {plan.name} failed to launch "
            r"on .*\(global size \(13,\), local size \(4,\)\): CL_INVALID",
        ):
            plan.run(13, (1, x._data.buf, 3, x._data.buf), plan.last or ())
    finally:
        del plan.sizes[13]
    assert launcher().enqueue(rt.queue_ptr, plan._kernel_ptr, (13,), (4,)) == -54
    assert launcher().enqueue(rt.queue_ptr, plan._kernel_ptr, (13, 1, 1, 1), None) == -53
    np.testing.assert_array_equal((x + 1).cpu().numpy(), np.full(12, 2.0))  # queue still fine
    # the failed launch may have left arguments half set, the constant ones included: the
    # plan is no longer handed out, and the next neg gets a fresh one
    assert rt.tls.kernels.get(("plan", "ew_unary_c", "neg", np.dtype(np.float32))) is not plan
    np.testing.assert_array_equal((-x).cpu().numpy(), np.full(12, -1.0))


def test_status_names():
    assert status_name(-54) == "CL_INVALID_WORK_GROUP_SIZE (-54)"
    assert status_name(-12345).startswith("CL_UNKNOWN")


def test_scalar_packing_rejects_unknown_type():
    rt = get_backend(df.device(DEV)).rt
    df.ones(3, device=DEV) + 1.0
    plan = next(p for k, p in rt.tls.kernels.items() if k and k[0] == "plan" and p)
    assert launcher().set_scalars(plan._kernel_ptr, (0, b"q", 1)) == -50


def test_typed_launch_hands_back_what_it_cannot_pass():
    rt = get_backend(df.device(DEV)).rt
    df.ones(3, 4, device=DEV).sum(0)  # a typed reduction kernel (a whole-tensor sum of a
    # small input would take a launch plan instead)
    kernel, codes = next(iter(rt.tls.arg_codes.items()))
    fl = launcher()
    args = (object(),) * len(codes)  # neither a buffer nor a number: nothing is enqueued
    q, k = rt.queue_ptr, kernel.int_ptr
    assert fl.launch(q, k, (8,), (8,), args, codes) == fl.NOT_HANDLED
    assert fl.launch(q, k, (8,), (8,), args[:-1], codes) == fl.NOT_HANDLED  # count mismatch
    np.testing.assert_allclose(df.ones(5, device=DEV).sum().item(), 5.0)
