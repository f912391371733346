"""``pad``: constant, reflect, replicate and circular padding of the last 1-3 dimensions.

Constant padding writes the (cropped) input into a filled tensor; the other modes gather
along each padded dimension with a computed index (``index_select``), so the gradient
accumulates over the source positions that were read more than once.
"""

from __future__ import annotations

import deepforge
from deepforge import Tensor

__all__ = ["pad"]

_NON_CONSTANT_HELP = (
    "\nSupported combinations for non-constant padding:\n"
    "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
)


def _pairs(pad, ndim):
    """[(dim, before, after)] from PyTorch's last-dimension-first ``pad`` tuple."""
    return [(ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]


def _constant(input: Tensor, pairs, value) -> Tensor:
    x = input
    for d, lo, hi in pairs:  # negative padding crops
        if lo < 0 or hi < 0:
            n = x.shape[d]
            start, stop = max(-lo, 0), n - max(-hi, 0)
            if stop < start:
                raise RuntimeError(
                    f"The input size {n}, plus negative padding {lo} and {hi} resulted in a "
                    "negative "
                    f"output size, which is invalid. Check dimension {d} of your input."
                )
            x = x.narrow(d, start, stop - start)
    shape = list(x.shape)
    region = [slice(None)] * x.ndim
    for d, lo, hi in pairs:
        shape[d] += max(lo, 0) + max(hi, 0)
        region[d] = slice(max(lo, 0), max(lo, 0) + x.shape[d])
    out = deepforge.full(tuple(shape), value, dtype=input.dtype, device=input.device)
    if x.numel():
        out[tuple(region)] = x
    return out


def _source_index(mode: str, n: int, lo: int, hi: int, dim: int, shape) -> list:
    """For each output position along one dimension, the input position it reads."""
    idx = list(range(-lo, n + hi))
    if mode == "reflect":
        if lo >= n or hi >= n:
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input dimension, "
                f"but got: padding ({lo}, {hi}) at dimension {dim} of input {list(shape)}"
            )
        return [-i if i < 0 else (2 * (n - 1) - i if i >= n else i) for i in idx]
    if mode == "replicate":
        return [min(max(i, 0), n - 1) for i in idx]
    if lo > n or hi > n:
        raise RuntimeError("Padding value causes wrapping around more than once.")
    return [i % n for i in idx]


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad ``input``; ``pad = (left_last, right_last, left_2nd_last, right_2nd_last, ...)``."""
    if len(pad) % 2 != 0:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but got "
            f"padding length {len(pad)} and input of dimension {input.ndim}"
        )
    pairs = _pairs(pad, input.ndim)
    if mode == "constant":
        return _constant(input, pairs, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise AssertionError(f'Padding mode "{mode}" doesn\'t take in value argument')
    k = len(pad) // 2
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor."
            + _NON_CONSTANT_HELP
        )
    x = input
    for d, lo, hi in pairs:
        n = x.shape[d]
        src = _source_index(mode, n, lo, hi, d, input.shape)
        if src == list(range(n)):
            continue
        index = deepforge.tensor(src, dtype=deepforge.int64, device=input.device)
        x = x.index_select(d, index)
    return x
