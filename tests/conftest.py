"""Test fixtures: the ``device`` fixture runs a test on every usable backend.

``DEEPFORGE_TEST_DEVICES=cpu`` (comma-separated) restricts the list;
``DEEPFORGE_REQUIRE_OPENCL=1`` turns a missing OpenCL device into a failure, not a skip.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import deepforge as df


def _opencl_devices() -> list[str]:
    try:
        from deepforge.backends import opencl_device_count

        n = opencl_device_count()
    except Exception:
        n = 0
    return [f"opencl:{i}" for i in range(n)]


def _devices() -> list[str]:
    env = os.environ.get("DEEPFORGE_TEST_DEVICES")
    if env:
        return [d.strip() for d in env.split(",") if d.strip()]
    return ["cpu"] + _opencl_devices()


DEVICES = _devices()


def pytest_sessionstart(session):
    if os.environ.get("DEEPFORGE_REQUIRE_OPENCL") == "1" and not _opencl_devices():
        raise pytest.UsageError(
            "DEEPFORGE_REQUIRE_OPENCL=1 but no usable OpenCL device was found "
            "(install a driver, e.g. apt-get install pocl-opencl-icd)"
        )


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(params=["native", "gpu"])
def opencl_layouts(request, monkeypatch):
    """The opencl:0 backend in its own kernel layout, then forced into the GPU layout (work-group
    kernels instead of the CPU-device ones), so both code paths run on whatever device is here."""
    from deepforge.backends import get_backend

    b = get_backend(df.device("opencl:0"))
    if request.param == "gpu":
        rt = b.rt
        monkeypatch.setattr(rt, "is_cpu", False)
        monkeypatch.setattr(
            rt, "base_options", " ".join(o for o in rt.base_options.split() if o != "-DDF_CPU=1")
        )
        monkeypatch.setattr(rt, "_programs", {})
        monkeypatch.setattr(rt, "_kernels", {})
        monkeypatch.setattr(rt, "_typed", set())
    return b


@pytest.fixture
def waits(opencl_layouts, monkeypatch):
    """Counts the host's waits for opencl:0 in the test's kernel layout (every wait goes
    through ``rt.blocking()``); a test compares the count before and after what it checks."""
    rt, count = opencl_layouts.rt, [0]
    real = rt.blocking

    def blocking():
        count[0] += 1
        return real()

    monkeypatch.setattr(rt, "blocking", blocking)
    return count


@pytest.fixture(autouse=True)
def _seed():
    df.manual_seed(0)
    np.random.seed(0)
    yield


def pytest_report_header(config):
    return f"deepforge devices under test: {', '.join(DEVICES)}"
