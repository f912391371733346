"""Shared setup of the deepforge._core kernel tests: the extension, dtypes, inputs, tolerances."""

import importlib.util
import pathlib

import numpy as np
import pytest


def _load_core():
    try:
        from deepforge import _core

        return _core
    except Exception:  # the package __init__ may be mid-edit; load the built extension directly
        pkg = pathlib.Path(__file__).resolve().parents[1] / "src" / "deepforge"
        built = sorted(pkg.glob("_core*.so")) + sorted(pkg.glob("_core*.pyd"))
        if not built:
            pytest.skip("deepforge._core is not built", allow_module_level=True)
        spec = importlib.util.spec_from_file_location("deepforge._core", built[0])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod


core = _load_core()
DTYPES = [np.float32, np.float64]
RNG = np.random.default_rng(0)


def tol(dt):
    return dict(rtol=2e-5, atol=2e-5) if dt == np.float32 else dict(rtol=1e-12, atol=1e-12)


def rand(shape, dt, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(dt)
