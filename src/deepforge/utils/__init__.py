"""``deepforge.utils``: helpers outside the core, laid out like ``torch.utils``."""

from __future__ import annotations

import importlib as _importlib

__all__ = ["data"]


def __getattr__(name):
    if name == "data":
        mod = _importlib.import_module(".data", __name__)
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'deepforge.utils' has no attribute '{name}'")
