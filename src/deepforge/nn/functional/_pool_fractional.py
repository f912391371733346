"""Fractional max pooling (Graham, 2014) and 3-d power-average pooling.

Fractional max pooling draws one pseudo-random sample in [0, 1) per plane and spatial dim and
turns it into the start offsets of overlapping windows, exactly as PyTorch does, so passing the
same ``_random_samples`` gives PyTorch's output and indices. The window starts are computed on
the CPU (they are a handful of integers per plane); the pooling itself is a ``gather`` of every
window followed by ``max``, so it runs on every backend and gets its gradient from those ops.
"""

from __future__ import annotations

import math

import deepforge
from deepforge import Tensor

from ._activation import relu

__all__ = [
    "fractional_max_pool2d",
    "fractional_max_pool2d_with_indices",
    "fractional_max_pool3d",
    "fractional_max_pool3d_with_indices",
    "lp_pool3d",
]

_DIM_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}
_OP_NAMES = {2: "fractional_max_pool2d()", 3: "fractional_max_pool3d_out()"}


def _ntuple(value, n: int) -> tuple:
    if isinstance(value, (list, tuple)):
        return tuple(value) if len(value) != 1 else tuple(value) * n
    return (value,) * n


def _window_starts(samples: Tensor, in_size: int, out_size: int, pool: int) -> Tensor:
    """Start of each of ``out_size`` windows for every plane's sample, as int64 (planes,
    out_size). This is PyTorch's ``generate_intervals``: every step is one CPU tensor op in the
    samples' floating type, so each intermediate is rounded to that type as PyTorch rounds it,
    and the float-to-int casts truncate as its ``static_cast<int>`` does."""
    planes = samples.shape[0]
    last = deepforge.full((planes, 1), in_size - pool, dtype=deepforge.int64)
    if out_size <= 1:
        return last[:, :out_size]
    alpha = deepforge.tensor(in_size - pool, dtype=samples.dtype) / deepforge.tensor(
        out_size - 1, dtype=samples.dtype
    )
    steps = deepforge.arange(out_size - 1, dtype=samples.dtype)
    scaled = (steps.unsqueeze(0) + samples.unsqueeze(1)) * alpha
    first = (samples * alpha).to(deepforge.int64).unsqueeze(1)
    return deepforge.cat([scaled.to(deepforge.int64) - first, last], dim=1)


def _window_index(samples: Tensor, in_sp, out_sp, kernel) -> Tensor:
    """Flat input index (within a plane) of every window element: (planes, prod(out), prod(k)),
    from the (planes, nd) CPU samples."""
    nd = len(in_sp)
    planes = samples.shape[0]
    plane_strides = [math.prod(in_sp[d + 1 :]) for d in range(nd)]
    index = deepforge.zeros((planes,) + tuple(out_sp) + tuple(kernel), dtype=deepforge.int64)
    for d in range(nd):
        starts = _window_starts(samples[:, d], in_sp[d], out_sp[d], kernel[d])
        offsets = deepforge.arange(kernel[d], dtype=deepforge.int64)
        pos = starts.unsqueeze(2) + offsets.view(1, 1, -1)  # (planes, out_d, k_d)
        shape = [planes] + [1] * (2 * nd)
        shape[1 + d] = out_sp[d]
        shape[1 + nd + d] = kernel[d]
        index = index + (pos * plane_strides[d]).reshape(shape)
    return index.reshape(planes, math.prod(out_sp), math.prod(kernel))


def _fractional_max_pool(
    nd: int, input: Tensor, kernel_size, output_size, output_ratio, _random_samples
) -> tuple[Tensor, Tensor]:
    name = f"fractional_max_pool{nd}d"
    if input.ndim < nd + 1:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-input.ndim}, "
            f"{input.ndim - 1}], but got {-(nd + 1)})"
        )
    if input.ndim > nd + 2:
        raise RuntimeError(
            f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: {list(input.shape)}"
        )
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    if output_size is None:
        if nd == 2 and isinstance(output_ratio, (list, tuple)) and len(output_ratio) > 2:
            raise ValueError(
                f"{name} requires output_ratio to either be a single Int or tuple of Ints."
            )
        ratio = _ntuple(output_ratio, nd)
        output_size = [int(input.shape[d - nd] * ratio[d]) for d in range(nd)]
    kernel = tuple(int(k) for k in _ntuple(kernel_size, nd))
    out_sp = tuple(int(o) for o in _ntuple(output_size, nd))
    for arg, value in (("kernel_size", kernel), ("output_size", out_sp)):
        if len(value) != nd:
            raise RuntimeError(f"{name}: {arg} must either be a single Int or tuple of Ints")
    batched = input.ndim == nd + 2
    x = input if batched else input.unsqueeze(0)
    n, c = x.shape[0], x.shape[1]
    in_sp = tuple(x.shape[2:])
    for d in range(nd):
        if out_sp[d] + kernel[d] - 1 > in_sp[d]:
            dim = _DIM_NAMES[nd][d]
            raise RuntimeError(
                f"{_OP_NAMES[nd]}: pool {dim} {kernel[d]} too large relative to input {dim} "
                f"{in_sp[d]}"
            )
    if _random_samples is None:
        _random_samples = deepforge.rand(n, c, nd, dtype=input.dtype, device=input.device)
    samples = _random_samples
    if samples.dtype != input.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.ndim != 3:
        raise RuntimeError(f"Expect _random_samples to be 3D, got {samples.ndim}D.")
    if samples.shape[2] != nd:
        raise RuntimeError(
            f"Expect _random_samples.size(2) equals to {nd}; got {samples.shape[2]}."
        )
    if samples.shape[1] != c:
        raise RuntimeError(
            f"Expect _random_samples.size(1) equals to input channel size; got "
            f"{samples.shape[1]} and {c}."
        )
    if samples.shape[0] < n:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    # the window bookkeeping runs on the CPU, whose float arithmetic is PyTorch's bit for bit
    host = samples.detach()[:n].cpu().reshape(n * c, nd)
    if nd == 2:  # PyTorch stores the 2-d samples as (width, height)
        host = host.flip(1)
    index = _window_index(host, in_sp, out_sp, kernel)
    n_out, n_win = index.shape[1], index.shape[2]
    index_t = index.reshape(n, c, n_out, n_win).to(input.device)
    windows = x.reshape(n, c, -1).gather(2, index_t.reshape(n, c, n_out * n_win))
    if n_win == 0 or n_out == 0:
        out = windows.reshape(n, c, n_out, n_win).sum(3)
        indices = deepforge.zeros((n, c, n_out), dtype=deepforge.int64, device=input.device)
    else:
        out, best = windows.reshape(n, c, n_out, n_win).max(3)
        indices = index_t.gather(3, best.unsqueeze(3)).squeeze(3)
    out = out.reshape((n, c) + out_sp)
    indices = indices.reshape((n, c) + out_sp)
    if not batched:
        out, indices = out.squeeze(0), indices.squeeze(0)
    return out, indices


def fractional_max_pool2d_with_indices(
    input: Tensor,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """2-d fractional max pooling over (N, C, H, W) or (C, H, W); returns (output, indices)."""
    return _fractional_max_pool(2, input, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool2d(
    input: Tensor,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
):
    """2-d fractional max pooling; ``(output, indices)`` when ``return_indices``."""
    out, indices = fractional_max_pool2d_with_indices(
        input, kernel_size, output_size, output_ratio, return_indices, _random_samples
    )
    return (out, indices) if return_indices else out


def fractional_max_pool3d_with_indices(
    input: Tensor,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """3-d fractional max pooling over (N, C, T, H, W) or (C, T, H, W): (output, indices)."""
    return _fractional_max_pool(3, input, kernel_size, output_size, output_ratio, _random_samples)


def fractional_max_pool3d(
    input: Tensor,
    kernel_size,
    output_size=None,
    output_ratio=None,
    return_indices: bool = False,
    _random_samples: Tensor | None = None,
):
    """3-d fractional max pooling; ``(output, indices)`` when ``return_indices``."""
    out, indices = fractional_max_pool3d_with_indices(
        input, kernel_size, output_size, output_ratio, return_indices, _random_samples
    )
    return (out, indices) if return_indices else out


def lp_pool3d(
    input: Tensor, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False
) -> Tensor:
    """3-d power-average pooling: ``(sum over the window of x**p) ** (1/p)``."""
    from deepforge.nn.functional import avg_pool3d, max_pool3d

    kd, kh, kw = _ntuple(kernel_size, 3)
    if isinstance(norm_type, (int, float)):
        if norm_type == float("inf"):
            return max_pool3d(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        if norm_type == -float("inf"):
            return -max_pool3d(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    out = avg_pool3d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (out.sign() * relu(out.abs())).mul(kd * kh * kw).pow(1.0 / norm_type)
