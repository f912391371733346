"""``deepforge.amp``: automatic mixed precision, laid out like ``torch.amp``.

``GradScaler`` is PyTorch's loss-scaling algorithm and works on every device; ``autocast``
keeps PyTorch's API and state but does not lower precision yet (see ``autocast_mode``).
"""

from __future__ import annotations

from . import autocast_mode, grad_scaler
from .autocast_mode import autocast, custom_bwd, custom_fwd, is_autocast_available
from .grad_scaler import GradScaler

__all__ = [
    "GradScaler",
    "autocast",
    "autocast_mode",
    "custom_bwd",
    "custom_fwd",
    "grad_scaler",
    "is_autocast_available",
]
