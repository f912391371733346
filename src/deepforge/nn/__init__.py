"""``deepforge.nn``: modules, parameters, ``functional``, ``init`` and ``utils`` (``torch.nn``)."""

from __future__ import annotations

from . import functional, init, modules, parallel, parameter, utils
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .modules.module import (
    register_module_forward_hook,
    register_module_forward_pre_hook,
    register_module_full_backward_hook,
    register_module_full_backward_pre_hook,
)
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter

__all__ = list(_modules_all) + [
    "Parameter",
    "UninitializedParameter",
    "UninitializedBuffer",
    "Buffer",
    "functional",
    "init",
    "utils",
    "modules",
    "parameter",
    "parallel",
    "register_module_forward_hook",
    "register_module_forward_pre_hook",
    "register_module_full_backward_hook",
    "register_module_full_backward_pre_hook",
]
