"""Shared by the CPU backend's modules: the optional compiled kernels (_core) and the axis
helpers that hand them (outer, n, inner) views."""

from __future__ import annotations

import os

import numpy as np

# OpenMP threads that spin between parallel regions fight numpy's OpenBLAS threads (which
# spin too) for the cores: a training step mixing GEMMs and Cython kernels ran 3-5x slower on
# 2 cores. Passive waiting fixes it; it must be set before libgomp loads with _core, and a
# user's own setting wins. (Measured with benchmarks/mlp_step.py.)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    from ... import _core
except ImportError:  # source checkout without a build: numpy fallbacks keep it usable
    _core = None

from .memory import contiguous  # noqa: E402


def _as_3d(x, axis):
    """Contiguous (outer, n, inner) view of ``x`` for an axis kernel."""
    x = contiguous(x)
    shape = x.shape
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1 :], dtype=np.int64))
    return x.reshape(outer, shape[axis], inner)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_NUMERIC = _FLOATS + (np.dtype(np.int64),)


def _use_core(x, kinds=_FLOATS) -> bool:
    """Whether a Cython axis kernel applies (built, supported dtype, non-empty)."""
    return _core is not None and x.dtype in kinds and x.size > 0


def _axis3(x, axis):
    """(outer, n, inner) contiguous view and the output shape without ``axis``."""
    x3 = _as_3d(x, axis)
    return x3, x.shape[:axis] + x.shape[axis + 1 :]


def _keep(r, axis, keepdim):
    return np.expand_dims(r, axis) if keepdim else r
