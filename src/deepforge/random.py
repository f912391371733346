"""``deepforge.random``: the global generator's seed and state (``torch.random``)."""

from __future__ import annotations

import contextlib

from .ops.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)

__all__ = ["Generator", "default_generator", "get_rng_state", "set_rng_state", "manual_seed",
           "seed", "initial_seed", "fork_rng"]


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, _caller="fork_rng", _devices_kw="devices",
             device_type="cpu"):
    """Restore the global generator's state on exit, like ``torch.random.fork_rng``."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
