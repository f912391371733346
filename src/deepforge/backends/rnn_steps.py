"""The time steps of a recurrent layer's sequence kernels, shared by every backend."""

from __future__ import annotations

__all__ = ["rnn_steps"]


def rnn_steps(batch_sizes, reverse):
    """(row start, row end) of each step in processing order: the rows of every step are
    stacked time-major, step t holding batch_sizes[t] rows (non-increasing for packed
    sequences); ``reverse`` runs the steps from the last."""
    offs = [0]
    for bs in batch_sizes:
        offs.append(offs[-1] + bs)
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    return [(offs[t], offs[t + 1]) for t in order]
