"""Run PyTorch programs unchanged: ``deepforge.compat.install_torch_alias()`` makes
``import torch``, ``import torch.nn as nn``, ``from torch.utils.data import DataLoader`` ...
resolve to deepforge's modules (``sys.modules`` aliases)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

__all__ = ["install_torch_alias", "uninstall_torch_alias"]

_SUBMODULES = (
    "nn",
    "nn.functional",
    "nn.init",
    "nn.utils",
    "nn.modules",
    "nn.parameter",
    "optim",
    "optim.lr_scheduler",
    "utils",
    "utils.data",
    "autograd",
    "backends",
    "backends.cudnn",
    "backends.mps",
    "cuda",
    "accelerator",
    "serialization",
    "linalg",
)


def install_torch_alias(name: str = "torch") -> None:
    """Register deepforge and its submodules in ``sys.modules`` under ``name``."""
    import deepforge

    existing = sys.modules.get(name)
    if existing is not None and existing is not deepforge:
        raise RuntimeError(
            f"'{name}' is already imported ({getattr(existing, '__file__', existing)}); install "
            "the alias before anything imports it"
        )
    sys.modules[name] = deepforge
    for sub in _SUBMODULES:
        try:
            mod = importlib.import_module(f"deepforge.{sub}")
        except ImportError:
            continue
        sys.modules[f"{name}.{sub}"] = mod
    # also every already-imported deepforge.* module (e.g. nn.modules.linear)
    for key, mod in list(sys.modules.items()):
        if key.startswith("deepforge."):
            sys.modules.setdefault(name + key[len("deepforge") :], mod)
    _ = pkgutil


def uninstall_torch_alias(name: str = "torch") -> None:
    import deepforge

    for key in [k for k, v in sys.modules.items() if k == name or k.startswith(name + ".")]:
        mod = sys.modules[key]
        if mod is deepforge or getattr(mod, "__name__", "").startswith("deepforge"):
            del sys.modules[key]
