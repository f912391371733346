"""CPU backend: storage is a numpy array, compute is numpy/BLAS or the Cython kernels in _core.

Every function here takes and returns numpy arrays (a tensor's ``_data`` is a strided numpy
view of its storage). Checks on shapes, dtypes and devices are done by the dispatch layer;
this package only computes. The OpenCL backend implements the same names. A fused kernel that
the build lacks (no compiled _core) is simply absent, and the ops use their reference paths.
"""

from __future__ import annotations

import re
import warnings

import numpy as np

from ._common import _core  # noqa: F401 - first: sets OMP_WAIT_POLICY before libgomp loads
from .elementwise import *  # noqa: F403
from .indexing import *  # noqa: F403
from .loss import *  # noqa: F403
from .memory import *  # noqa: F403
from .optim_steps import *  # noqa: F403
from .philox import *  # noqa: F403
from .recurrent import *  # noqa: F403
from .reduction import *  # noqa: F403
from .vision import *  # noqa: F403

name = "cpu"
asarray = np.asarray

# numpy reports float exceptions (log(0), 0/0, overflow) as RuntimeWarnings where PyTorch
# silently returns inf/nan. Ignored for calls made from this package only (np.errstate per
# op would cost more than a small op itself).
warnings.filterwarnings(
    "ignore", category=RuntimeWarning, module=re.escape(__name__) + r"(\.\w+)?$"
)


def synchronize():
    """Nothing to wait for: CPU ops complete before they return."""
    return None
