"""Counting, binning and order statistics: bincount, searchsorted, bucketize, histc,
histogram, nanquantile.

Built from sort, gather, scatter and index_add, so they run on every backend. ``bincount``
with weights is differentiable in the weights (an index_add) and ``nanquantile`` in its input
(a gather from sorted values), like PyTorch's; the others return integer positions or counts
and build no graph.
"""

from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from .. import _dtype as dt
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from . import join, shape
from ._common import with_out
from .creation import arange, ones_like, tensor, zeros
from .selection import check_index_range, check_value_range

__all__ = ["bincount", "searchsorted", "bucketize", "histc", "histogram", "nanquantile"]

_Histogram = namedtuple("histogram", ["hist", "bin_edges"])


def _type_name(t: Tensor) -> str:
    return dt.scalar_type_name(t._dtype)


def bincount(input: Tensor, weights=None, minlength: int = 0) -> Tensor:
    """Occurrences of each value 0..max(input) of a 1-D non-negative integer tensor, summing
    ``weights`` instead of ones when given."""
    if input._dtype.category != dt.int64.category:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{_type_name(input)}'")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if input.ndim != 1 or (input.numel() and int(input.min().item()) < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.ndim != 1 or weights.shape[0] != input.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    n = max(int(input.max().item()) + 1 if input.numel() else 0, minlength)
    index = input.to(dt.int64)
    # PyTorch's result dtypes: int64 counts (also for an empty input, weights or not), float32
    # sums of float32 weights, float64 sums of any other weights
    if weights is None or input.numel() == 0:
        return zeros(n, dtype=dt.int64, device=input._device).index_add(
            0, index, index.new_ones(index.shape[0], dtype=dt.int64)
        )
    source = weights if weights._dtype is dt.float32 else weights.to(dt.float64)
    return zeros(n, dtype=source._dtype, device=input._device).index_add(0, index, source)


def _inverse_permutation(order: Tensor) -> Tensor:
    """pos with pos[..., order[..., k]] = k along the last dim."""
    n = order.shape[-1]
    ranks = arange(n, device=order._device).expand(*order.shape)
    return order.new_zeros(order.shape).scatter(-1, order, ranks)


def _sorted_positions(boundaries: Tensor, values: Tensor, right: bool) -> Tensor:
    """For each value (along the last dim), how many boundaries are < it (<= if ``right``).

    One stable sort of [values, boundaries] (boundaries first for ``right``) puts each value
    after exactly the boundaries it counts; subtracting its rank among the values alone leaves
    that count. Both are O((n + m) log(n + m)), with no n x m comparison matrix.
    """
    m, n = values.shape[-1], boundaries.shape[-1]
    parts = [boundaries, values] if right else [values, boundaries]
    merged = join.cat(parts, -1)
    pos = _inverse_permutation(merged.sort(-1, stable=True).indices)
    pos_of_values = pos.narrow(-1, n, m) if right else pos.narrow(-1, 0, m)
    rank = _inverse_permutation(values.sort(-1, stable=True).indices)
    return pos_of_values - rank


def _check_side(side, right: bool) -> bool:
    if side is None:
        return right
    if side not in ("left", "right"):
        raise RuntimeError(
            f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}"
        )
    if right and side == "left":
        raise RuntimeError(
            "torch.searchsorted(): side and right can't be set to opposites, got side of left "
            "while right was True"
        )
    return side == "right"


@with_out
def searchsorted(
    sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False,
    side: str | None = None, sorter=None,
) -> Tensor:  # fmt: skip
    """Indices where ``input`` would be inserted into the last dim of ``sorted_sequence`` to
    keep it sorted (``side='right'``: after equal elements)."""
    right = _check_side(side, right)
    seq = sorted_sequence
    if seq.ndim == 0:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
            "dimension"
        )
    scalar_input = not isinstance(input, Tensor)
    values = tensor(input, device=seq._device) if scalar_input else input
    if seq.ndim > 1 and (
        values.ndim != seq.ndim or tuple(values.shape[:-1]) != tuple(seq.shape[:-1])
    ):
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(seq.shape)} and input value tensor {list(values.shape)}"
        )
    with no_grad():
        if sorter is not None:
            if sorter._dtype is not dt.int64:
                raise RuntimeError(
                    "torch.searchsorted(): sorter must be a tensor of long dtype but got dtype "
                    f"{_type_name(sorter)}"
                )
            if tuple(sorter.shape) != tuple(seq.shape):
                raise RuntimeError(
                    "torch.searchsorted(): boundary and sorter must have the same size, but got "
                    f"boundary tensor {list(seq.shape)}and got sorter tensor {list(sorter.shape)}"
                )
            check_index_range(sorter, 0, seq.shape[-1], RuntimeError,
                              "torch.searchsorted(): sorter index out of range")
            seq = seq.gather(-1, sorter)
        common = dt.result_type(seq, values)
        seq, flat = seq.detach().to(common), values.detach().to(common)
        if seq.ndim == 1:
            seq, flat = seq.reshape(1, -1), flat.reshape(1, -1)
        counts = _sorted_positions(seq, flat, right).reshape(values.shape)
    return counts.to(dt.int32) if out_int32 else counts


@with_out
def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False):
    """The bucket of each element of ``input`` among the 1-D ``boundaries``."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def _float_only(op: str, input: Tensor) -> None:
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"{op}\" not implemented for '{_type_name(input)}'")


def _count_into(bins: int, pos: Tensor, valid: Tensor, weight, dtype, device) -> Tensor:
    """Per-bin totals of ``weight`` (or ones) at positions ``pos`` where ``valid``."""
    pos = shape.reshape(pos.clamp(0, bins - 1).masked_fill(~valid, bins), -1)
    ones = pos.new_ones(pos.shape[0], dtype=dtype) if weight is None else weight.reshape(-1)
    totals = zeros(bins + 1, dtype=dtype, device=device).index_add(0, pos, ones.to(dtype))
    return totals.narrow(0, 0, bins)


def histc(input: Tensor, bins: int = 100, min=0, max=0) -> Tensor:  # noqa: A002
    """Counts in ``bins`` equal-width bins over [min, max] (the data's range when both are 0);
    elements outside the range are ignored."""
    _float_only("histogram_cpu", input)
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for dimension 0")
    np_t = input._dtype.np if input._dtype is not dt.float16 else np.float32
    lo, hi = np_t.type(min), np_t.type(max)
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    with no_grad():
        x = input.detach()
        if lo == hi and x.numel():
            lo, hi = np_t.type(x.min().item()), np_t.type(x.max().item())
        if lo == hi:
            lo, hi = lo - np_t.type(1), hi + np_t.type(1)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")
        # PyTorch's linear binning, in the input's precision: ((x - lo) * bins) / (hi - lo)
        pos = ((x - float(lo)) * bins / float(hi - lo)).floor().to(dt.int64)
        valid = (x >= float(lo)) & (x <= float(hi))
        return _count_into(bins, pos, valid, None, input._dtype, input._device)


def histogram(input: Tensor, bins, *, range=None, weight=None, density: bool = False):  # noqa: A002
    """(hist, bin_edges): counts (or summed ``weight``) in ``bins`` equal bins over ``range``
    (default: the data's range), or between the given 1-D edges tensor ``bins``."""
    _float_only("histogramdd", input)
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise RuntimeError(
            "torch.histogramdd: if weight tensor is provided it should have the same shape as "
            f"the input tensor excluding its innermost dimension, but got input with shape "
            f"{list(input.reshape(-1, 1).shape)} and weight with shape {list(weight.shape)}"
        )
    with no_grad():
        x = input.detach().reshape(-1)
        if isinstance(bins, Tensor):
            if bins.ndim != 1:
                raise RuntimeError(
                    "torch.histogramdd: bins tensor should have one dimension, but got "
                    f"{bins.ndim} dimensions in the bins tensor for dimension 0"
                )
            edges = bins.detach().to(input._dtype)
        else:
            edges = _linear_edges(x, bins, range, input)
        nbins = edges.shape[0] - 1
        pos = searchsorted(edges, x, right=True) - 1
        # the last edge closes the last bin
        pos = pos.masked_fill(x == edges[-1], nbins - 1)
        valid = (x >= edges[0]) & (x <= edges[-1])
        w = None if weight is None else weight.detach().reshape(-1)
        hist = _count_into(max(nbins, 1), pos, valid, w, input._dtype, input._device)
        hist = hist.narrow(0, 0, nbins)
        if density:
            widths = edges.narrow(0, 1, nbins) - edges.narrow(0, 0, nbins)
            hist = hist / (hist.sum() * widths)
    return _Histogram(hist, edges)


def _linear_edges(x: Tensor, bins, range, input: Tensor) -> Tensor:  # noqa: A002
    from .creation import linspace

    if not isinstance(bins, numbers.Integral) or bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    if range is not None:
        lo, hi = float(range[0]), float(range[1])
    elif x.numel():
        lo, hi = float(x.min().item()), float(x.max().item())
    else:
        lo, hi = 0.0, 0.0
    if lo > hi:
        raise RuntimeError(
            f"torch.histogramdd: min should not exceed max, but got min {lo:g} max {hi:g} for "
            "dimension 0"
        )
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histogramdd: dimension 0's range [{lo:g}, {hi:g}] is not finite")
    if lo == hi:
        lo, hi = (lo - 0.5, hi + 0.5) if x.numel() or range is not None else (0.0, 1.0)
    return linspace(lo, hi, int(bins) + 1, dtype=input._dtype, device=input._device)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _check_quantile_args(input: Tensor, q, interpolation: str) -> Tensor:
    if input._dtype not in (dt.float32, dt.float64):
        raise RuntimeError(
            f"quantile() input tensor must be either float or double dtype, got {_type_name(input)}"
        )
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(
            "quantile() interpolation must be one of linear, lower, higher, midpoint or nearest. "
            f"Got {interpolation}"
        )
    qs = q if isinstance(q, Tensor) else tensor(q, dtype=input._dtype, device=input._device)
    if qs.ndim > 1:
        raise RuntimeError(f"quantile() q must be a scalar or 1D tensor, got {qs.ndim}D")
    if qs._dtype is not input._dtype:
        raise RuntimeError(
            "quantile() q tensor must be same dtype as the input tensor, got "
            f"{_type_name(qs)} and {_type_name(input)}"
        )
    if input.numel() == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    message = "quantile() q values must be in the range [0, 1]"
    if not isinstance(q, Tensor):  # a number or list: checked here, before any device
        if any(not 0 <= v <= 1 for v in np.asarray(q, dtype=np.float64).reshape(-1)):
            raise RuntimeError(message)
    else:  # on OpenCL devices reported at the next wait, as an index out of range
        check_value_range(qs, 0, 1, RuntimeError, message)
    return qs


@with_out
def nanquantile(
    input: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"
) -> Tensor:
    """The q-th quantiles along ``dim`` (all elements when None) ignoring NaNs; NaN where a
    slice has no numbers. A 1-D ``q`` adds a leading dimension of its length."""
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=True)


def quantile(
    input: Tensor, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear"
) -> Tensor:
    """The q-th quantiles along ``dim`` (all elements when None); NaN where a slice has a NaN.
    A 1-D ``q`` adds a leading dimension of its length. Sorted on the input's device, with a
    gradient (through the gather of the two neighbouring order statistics)."""
    return _quantile(input, q, dim, keepdim, interpolation, ignore_nan=False)


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    from ._common import wrap_dim

    qs = _check_quantile_args(input, q, interpolation)
    if dim is None:
        rows, d = input.reshape(1, -1), None
    else:
        d = wrap_dim(dim, max(input.ndim, 1))
        rows = input.reshape(1) if input.ndim == 0 else input.movedim(d, -1)
    flat_q = qs.detach().reshape(-1)
    ordered = rows.sort(-1).values  # NaNs sort last
    nan = rows.detach().isnan()
    if ignore_nan:
        count = (~nan).sum(-1, keepdim=True).to(input._dtype)
    else:  # every element counts; a NaN in the slice makes its quantiles NaN below
        count = ones_like(nan[..., :1], dtype=input._dtype) * rows.shape[-1]
    rank = flat_q * (count - 1)
    below, above = rank.floor(), rank.ceil()
    if interpolation == "lower":
        above = below
    elif interpolation == "higher":
        below = above
    elif interpolation == "nearest":
        below = above = rank.round()  # half to even, as PyTorch
    last = rows.shape[-1] - 1
    lo = below.clamp(0, last).to(dt.int64)
    hi = above.clamp(0, last).to(dt.int64)
    v_lo, v_hi = ordered.gather(-1, lo), ordered.gather(-1, hi)
    if interpolation == "linear":
        values = v_lo + (rank - below) * (v_hi - v_lo)
    elif interpolation == "midpoint":
        values = v_lo + 0.5 * (v_hi - v_lo)
    else:
        values = v_lo
    values = values.masked_fill(count == 0 if ignore_nan else nan.any(-1, keepdim=True),
                                float("nan"))  # fmt: skip
    values = values.movedim(-1, 0)  # (len(q), *kept dims)
    if d is None:
        values = values.reshape(-1, *([1] * input.ndim if keepdim else []))
    elif keepdim and input.ndim:
        values = values.unsqueeze(d + 1)
    return values[0] if qs.ndim == 0 else values


_METHODS = {
    "bincount": bincount,
    "histc": histc,
    "histogram": histogram,
    "nanquantile": nanquantile,
}


def _attach() -> None:
    for name, fn in _METHODS.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)


_attach()
