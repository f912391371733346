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


@pytest.fixture(autouse=True)
def _seed():
    df.manual_seed(0)
    np.random.seed(0)
    yield


def pytest_report_header(config):
    return f"deepforge devices under test: {', '.join(DEVICES)}"
