"""``nn.parallel``: ``DataParallel`` and ``DistributedDataParallel`` wrappers.

deepforge runs a model on one device; both wrappers forward to the wrapped module, keep
PyTorch's ``module.`` state_dict prefix, and expose ``.module``, so scripts that wrap their
model run unchanged.
"""

from __future__ import annotations

from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
