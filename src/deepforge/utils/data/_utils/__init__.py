"""DataLoader internals, laid out like ``torch.utils.data._utils``."""

from __future__ import annotations

from . import collate, fetch, worker

__all__ = ["collate", "fetch", "worker", "MP_STATUS_CHECK_INTERVAL"]

# seconds between liveness checks of worker processes (and of the parent, from a worker)
MP_STATUS_CHECK_INTERVAL = 1.0
