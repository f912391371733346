"""Run PyTorch programs unchanged: ``deepforge.compat.install_torch_alias()`` makes
``import torch``, ``import torch.nn as nn``, ``from torch.utils.data import DataLoader`` ...
resolve to deepforge's modules (``sys.modules`` aliases)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
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


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of ``<alias>.X`` (``import torch.distributions`` after the alias is installed)
    resolve to the module ``deepforge.X`` itself, never a second copy of it, so classes and
    isinstance checks stay the same objects."""

    def __init__(self, alias: str):
        self.alias = alias

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(self.alias + "."):
            return None
        real = "deepforge" + fullname[len(self.alias) :]
        try:
            importlib.util.find_spec(real)
        except (ImportError, ValueError):
            return None
        if real not in sys.modules and importlib.util.find_spec(real) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=real)

    def create_module(self, spec):
        module = importlib.import_module(spec.origin)
        self._own_spec = module.__spec__
        return module

    def exec_module(self, module):
        module.__spec__ = self._own_spec  # the import system stamped the alias's spec on it


def _finders(name: str) -> list:
    return [f for f in sys.meta_path if isinstance(f, _AliasFinder) and f.alias == name]


def install_torch_alias(name: str = "torch") -> None:
    """Register deepforge and its submodules in ``sys.modules`` under ``name``; later imports
    of ``name.X`` resolve to ``deepforge.X``."""
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
    if not _finders(name):
        sys.meta_path.insert(0, _AliasFinder(name))


def uninstall_torch_alias(name: str = "torch") -> None:
    import deepforge

    for f in _finders(name):
        sys.meta_path.remove(f)
    for key in [k for k, v in sys.modules.items() if k == name or k.startswith(name + ".")]:
        mod = sys.modules[key]
        if mod is deepforge or getattr(mod, "__name__", "").startswith("deepforge"):
            del sys.modules[key]
