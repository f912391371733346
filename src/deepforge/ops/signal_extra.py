"""Window functions (hann, hamming, blackman, bartlett, kaiser), numerical ``gradient``,
``angle`` of real tensors, ``fill``, and the ``*_copy`` variants of the view ops.

Windows are computed on the host from their length alone (like ``arange``); ``gradient`` and
the copies are compositions of differentiable ops (narrow, mul, clone), so they run on every
backend and have gradients.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _dtype as dt
from ..tensor import Tensor
from . import binary, join
from ._common import check_inplace, commit_inplace, wrap_dim
from .creation import _on_device, _resolve_device, full_like

__all__ = [
    "hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window",
    "gradient", "angle", "fill", "diagonal_copy", "expand_copy", "permute_copy", "select_copy",
    "slice_copy", "split_copy", "split_with_sizes_copy", "squeeze_copy", "t_copy",
    "transpose_copy", "unbind_copy", "unsqueeze_copy", "view_copy", "detach_copy", "alias_copy",
    "as_strided_copy", "unfold_copy",
]  # fmt: skip


# -- windows -------------------------------------------------------------------------------------


def _window(op: str, length: int, periodic: bool, dtype, device, requires_grad, values):
    """``values(n)`` gives a symmetric window of n points as float64 numpy; a periodic window
    is the symmetric one of length + 1 without its last point."""
    d = dt.get_default_dtype() if dtype is None else dt.to_dtype(dtype)
    if not d.is_floating_point:
        raise RuntimeError(f"{op} expects floating point dtypes, got: {d}")
    if length < 0:
        raise RuntimeError(f"{op} requires non-negative window_length, got window_length={length}")
    if length <= 1:
        w = np.ones(length)
    else:
        w = values(length + 1)[:-1] if periodic else values(length)
    t = _on_device(np.asarray(w, d.np), d, _resolve_device(device))
    return t.requires_grad_() if requires_grad else t


def _cosine_sum(coeffs):
    def values(n):
        k = 2 * np.pi * np.arange(n) / (n - 1)
        return sum(c * np.cos(j * k) for j, c in enumerate(coeffs))

    return values


def hann_window(
    window_length: int, periodic: bool = True, *, dtype=None, layout=None, device=None,
    requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum((0.5, -0.5)))  # fmt: skip


def hamming_window(
    window_length: int, periodic: bool = True, alpha: float = 0.54, beta: float = 0.46, *,
    dtype=None, layout=None, device=None, requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum((alpha, -beta)))  # fmt: skip


def blackman_window(
    window_length: int, periodic: bool = True, *, dtype=None, layout=None, device=None,
    requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   _cosine_sum((0.42, -0.5, 0.08)))  # fmt: skip


def bartlett_window(
    window_length: int, periodic: bool = True, *, dtype=None, layout=None, device=None,
    requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n: 1 - np.abs(2 * np.arange(n) / (n - 1) - 1))  # fmt: skip


def kaiser_window(
    window_length: int, periodic: bool = True, beta: float = 12.0, *, dtype=None, layout=None,
    device=None, requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n: np.kaiser(n, beta))  # fmt: skip


# -- numerical gradient --------------------------------------------------------------------------


def _spacings(spacing, dims: list, input: Tensor) -> list:
    """Per dim: a float step, or a 1-D coordinates tensor."""
    if isinstance(spacing, (numbers.Real, Tensor)) and not (
        isinstance(spacing, Tensor) and spacing.ndim == 1
    ):
        return [float(spacing)] * len(dims)
    items = list(spacing)
    if len(items) == 1 and len(dims) > 1 and not isinstance(items[0], Tensor):
        items = items * len(dims)
    if len(items) != len(dims):
        raise RuntimeError(
            f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
            f"arguments to have the same length, but got a spacing argument of length "
            f"{len(items)} and a dim argument of length {len(dims)}."
        )
    out = []
    for s, d in zip(items, dims):
        if isinstance(s, Tensor) and s.ndim == 1:
            if s.shape[0] != input.shape[d]:
                raise RuntimeError(
                    "torch.gradient expected each tensor to be on the same device and to have "
                    f"as many coordinates as the input has elements along dim {d}"
                )
            out.append(s)
        else:
            out.append(float(s))
    return out


def _along(x: Tensor, d: int, start: int, length: int) -> Tensor:
    return x.narrow(d, start, length)


def _shaped(c: Tensor, d: int, ndim: int) -> Tensor:
    shape = [1] * ndim
    shape[d] = c.shape[0]
    return c.reshape(shape)


def _gradient_1d(f: Tensor, d: int, h, edge_order: int) -> Tensor:
    n = f.shape[d]
    lo, mid, hi = _along(f, d, 0, n - 2), _along(f, d, 1, n - 2), _along(f, d, 2, n - 2)
    if isinstance(h, float):
        interior = (hi - lo) / (2 * h)
        if edge_order == 1:
            first = (_along(f, d, 1, 1) - _along(f, d, 0, 1)) / h
            last = (_along(f, d, n - 1, 1) - _along(f, d, n - 2, 1)) / h
        else:
            f0, f1, f2 = (_along(f, d, k, 1) for k in range(3))
            g0, g1, g2 = (_along(f, d, n - 3 + k, 1) for k in range(3))
            first = (-1.5 * f0 + 2 * f1 - 0.5 * f2) / h
            last = (0.5 * g0 - 2 * g1 + 1.5 * g2) / h
        return join.cat([first, interior, last], d)
    x = _shaped(h.to(f._dtype), d, f.ndim)
    dx = _along(x, d, 1, n - 1) - _along(x, d, 0, n - 1)  # numpy's non-uniform formulas
    dx1, dx2 = _along(dx, d, 0, n - 2), _along(dx, d, 1, n - 2)
    a = -dx2 / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    interior = a * lo + b * mid + c * hi
    if edge_order == 1:
        first = (_along(f, d, 1, 1) - _along(f, d, 0, 1)) / _along(dx, d, 0, 1)
        last = (_along(f, d, n - 1, 1) - _along(f, d, n - 2, 1)) / _along(dx, d, n - 2, 1)
    else:
        p, q = _along(dx, d, 0, 1), _along(dx, d, 1, 1)
        f0, f1, f2 = (_along(f, d, k, 1) for k in range(3))
        first = (
            (-(2 * p + q) / (p * (p + q))) * f0
            + ((p + q) / (p * q)) * f1
            - (p / (q * (p + q))) * f2
        )
        p, q = _along(dx, d, n - 3, 1), _along(dx, d, n - 2, 1)
        g0, g1, g2 = (_along(f, d, n - 3 + k, 1) for k in range(3))
        last = (
            (q / (p * (p + q))) * g0 - ((q + p) / (p * q)) * g1 + ((2 * q + p) / (q * (p + q))) * g2
        )
    return join.cat([first, interior, last], d)


def gradient(input: Tensor, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """Second-order accurate central differences inside, first- or second-order one-sided
    differences at the ends (``edge_order``), along each of ``dim`` (numpy.gradient)."""
    if edge_order not in (1, 2):
        raise RuntimeError(
            f"torch.gradient only supports edge_order=1 and edge_order=2, got {edge_order}"
        )
    if dim is None:
        dims = list(range(input.ndim))
    elif isinstance(dim, numbers.Integral):
        dims = [wrap_dim(dim, input.ndim)]
    else:
        dims = [wrap_dim(d, input.ndim) for d in dim]
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError(
                "torch.gradient expected each dimension size to be at least edge_order+1"
            )
    f = input if input._dtype.is_floating_point else input.to(dt.get_default_dtype())
    return tuple(
        _gradient_1d(f, d, h, edge_order) for d, h in zip(dims, _spacings(spacing, dims, input))
    )


# -- small utilities -----------------------------------------------------------------------------


def angle(input: Tensor) -> Tensor:
    """The argument of a real number: pi for negatives, 0 otherwise (NaN stays NaN)."""
    if input._dtype.is_complex:
        raise NotImplementedError("angle: complex tensors are not supported by deepforge")
    x = input if input._dtype.is_floating_point else input.to(dt.get_default_dtype())
    # x * 0 keeps the graph (PyTorch's angle of a real tensor has a zero gradient)
    phase = binary.where(x < 0, math.pi, 0.0).to(x._dtype) + (x * 0).nan_to_num(0.0, 0.0, 0.0)
    return binary.where(x.isnan(), x, phase)


def fill(input: Tensor, value) -> Tensor:
    """A tensor like ``input`` filled with ``value`` (out-of-place ``fill_``); like PyTorch's,
    it passes a zero gradient to ``input`` and the summed gradient to a tensor ``value``."""
    from .creation import ones

    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(
                f"fill only supports 0-dimension value tensor but got tensor with {value.ndim} "
                "dimensions."
            )
        filled = value.to(input._dtype).expand(*input.shape)
    else:
        filled = full_like(input, value)
    everywhere = ones(input.shape, dtype=dt.bool_, device=input._device)
    return binary.where(everywhere, filled, input)


# -- *_copy: the view ops, materialised ----------------------------------------------------------


def _copied(view):
    def op(input: Tensor, *args, **kwargs):
        result = view(input, *args, **kwargs)
        if isinstance(result, (tuple, list)):
            return tuple(r.clone() for r in result)
        return result.clone()

    return op


diagonal_copy = _copied(lambda x, offset=0, dim1=0, dim2=1: x.diagonal(offset, dim1, dim2))
expand_copy = _copied(lambda x, size, *, implicit=False: x.expand(*size))
permute_copy = _copied(lambda x, dims: x.permute(*dims))
select_copy = _copied(lambda x, dim, index: x.select(dim, index))
slice_copy = _copied(
    lambda x, dim=0, start=None, end=None, step=1: x[
        (slice(None),) * wrap_dim(dim, x.ndim) + (slice(start, end, step),)
    ]
)
split_copy = _copied(lambda x, split_size, dim=0: x.split(split_size, dim))
split_with_sizes_copy = _copied(lambda x, split_sizes, dim=0: x.split(list(split_sizes), dim))
squeeze_copy = _copied(lambda x, dim=None: x.squeeze() if dim is None else x.squeeze(dim))
t_copy = _copied(lambda x: x.t())
transpose_copy = _copied(lambda x, dim0, dim1: x.transpose(dim0, dim1))
unbind_copy = _copied(lambda x, dim=0: x.unbind(dim))
unsqueeze_copy = _copied(lambda x, dim: x.unsqueeze(dim))
view_copy = _copied(lambda x, size: x.reshape(size))
detach_copy = _copied(lambda x: x.detach())
alias_copy = _copied(lambda x: x)
as_strided_copy = _copied(
    lambda x, size, stride, storage_offset=None: x.as_strided(size, stride, storage_offset)
)
unfold_copy = _copied(lambda x, dimension, size, step: x.unfold(dimension, size, step))


def _inplace(name: str, fn):
    def op_(self: Tensor, *args, **kwargs) -> Tensor:
        check_inplace(self, name)
        return commit_inplace(self, lambda: fn(self, *args, **kwargs))

    op_.__name__ = name
    return op_


def _attach() -> None:
    from . import linalg

    methods = {
        "angle": angle,
        "addmv_": _inplace("addmv_", linalg.addmv),
        "addbmm_": _inplace("addbmm_", linalg.addbmm),
    }
    for name, fn in methods.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)


_attach()
