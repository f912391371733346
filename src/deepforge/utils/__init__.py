"""``deepforge.utils``: helpers outside the core, laid out like ``torch.utils``."""

from __future__ import annotations

import importlib as _importlib

__all__ = ["checkpoint", "data"]


def __getattr__(name):
    if name in ("checkpoint", "data"):
        mod = _importlib.import_module(f".{name}", __name__)
        globals()[name] = mod
        return mod
    raise AttributeError(f"module 'deepforge.utils' has no attribute '{name}'")
