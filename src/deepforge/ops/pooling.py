"""Pooling, written once for every backend.

Max pooling gathers each window from the flattened plane (padding points at one extra -inf
element) and takes ``max`` along the window: values, and flat plane indices as torch returns
them. Average pooling sums ``im2col`` columns and divides by torch's per-window divisor.
Adaptive average pooling is separable: one small averaging matrix per spatial dim. On a
backend with fused kernels (``max_pool``/``max_pool_backward``, ``avg_pool``/
``avg_pool_backward``) the window loops run in one pass; forward and backward kernels are
each other's adjoints (a gather and a scatter), so both paths are differentiable to any order.
"""

from __future__ import annotations

import math

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from ._common import call
from ._fused import index_tensor, kernel, ntuple, pad_const, take
from .conv import _im2col_index, im2col
from .creation import arange, tensor, zeros
from .indexing import Scatter, scatter
from .reduction import max as max_
from .unary import relu

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
    "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "max_unpool1d",
    "max_unpool2d", "max_unpool3d",
]


def _pool_out(n, k, s, p, d, ceil):
    eff = d * (k - 1) + 1
    o = (n + 2 * p - eff + ((s - 1) if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def _sizes(t):
    return "x".join(str(a) for a in t)


def _pool_args(op, x, nd, kernel_size, stride, padding, dilation, ceil_mode, avg=False):
    if x.ndim not in (nd + 1, nd + 2) or x.numel() == 0:
        if nd == 1:
            raise RuntimeError(f"{op}: Expected 2D or 3D (batch mode) tensor with optional 0 dim "
                               f"batch size for input, but got:{list(x.shape)}")
        raise RuntimeError(f"non-empty {nd + 1}D or {nd + 2}D (batch mode) tensor expected for "
                           "input")
    k = ntuple(kernel_size, nd, "kernel_size")
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else \
        ntuple(stride, nd, "stride")
    p = ntuple(padding, nd, "padding")
    d = ntuple(dilation, nd, "dilation")
    if any(a <= 0 for a in k):
        raise RuntimeError(f"{op}: kernel_size must be greater than zero, but got {list(k)}")
    if any(a <= 0 for a in s):
        raise RuntimeError(f"{op}: stride must be greater than zero, but got {list(s)}")
    for kk, pp, dd in zip(k, p, d):
        if nd == 1 and not avg and pp > kk // 2:
            raise RuntimeError(f"{op}() padding should be at most half of kernel size, but got "
                               f"padding={pp} and kernel_size={kk}")
        if pp > (dd * (kk - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pp}, kernel_size={kk} and dilation={dd}")
    unbatched = x.ndim == nd + 1
    xb = x.unsqueeze(0) if unbatched else x
    in_sp = tuple(xb._data.shape[2:])
    out_sp = tuple(_pool_out(n, kk, ss, pp, dd, ceil_mode)
                   for n, kk, ss, pp, dd in zip(in_sp, k, s, p, d))
    if any(o < 1 for o in out_sp):
        C = xb._data.shape[1]
        raise RuntimeError(f"Given input size: ({_sizes((C,) + in_sp)}). Calculated output size: "
                           f"({_sizes((C,) + out_sp)}). Output size is too small")
    return xb, unbatched, (in_sp, k, d, p, s, out_sp)


# max pooling --------------------------------------------------------------------------------------
def _window_table(geom) -> np.ndarray:
    """(L, K) flat plane index of each window element (plane size = padding)."""
    K, L = math.prod(geom[1]), math.prod(geom[5])
    return np.ascontiguousarray(_im2col_index(geom).reshape(K, L).T).reshape(-1)


def _max_by_table(x: Tensor, key, build, P: int, L: int, out_sp):
    """Max over windows given by an (L, K) plane-index table (flattened); a differentiable
    composition of primitives."""
    N, C = x._data.shape[:2]
    table = index_tensor(key, x._device, build)
    K = table.numel() // L
    win = take(pad_const(x.reshape(N, C, P), ((0, 1),), -math.inf), 2, table).reshape(N, C, L, K)
    vals, arg = max_(win, -1)
    pos = arg + arange(L, device=x._device) * K
    idx = take(table, 0, pos.reshape(-1)).reshape((N, C) + tuple(out_sp))
    return vals.reshape((N, C) + tuple(out_sp)), idx


class MaxPoolFused(Function):
    @staticmethod
    def forward(ctx, x, geom):
        in_sp, k, d, p, s, o = geom
        y, idx = kernel(x, "max_pool")(x._data, in_sp, k, d, p, s, o)
        i = make_tensor(idx, dt.int64, x._device)
        ctx.in_sp = in_sp
        ctx.save_for_backward(i)
        ctx.mark_non_differentiable(i)
        return make_tensor(y, x._dtype, x._device), i

    @staticmethod
    def backward(ctx, g, _gi):
        (idx,) = ctx.saved_tensors
        return call(PlaneScatter, g, idx, ctx.in_sp), None


class PlaneScatter(Function):
    """out[n, c, idx[n, c, l]] += g[n, c, l] into zeros (N, C, *in_sp); adjoint of a gather."""

    @staticmethod
    def forward(ctx, g, idx, in_sp):
        ctx.save_for_backward(idx)
        fn = kernel(g, "max_pool_backward")
        if fn is not None:
            return make_tensor(fn(g._data, idx._data, in_sp), g._dtype, g._device)
        N, C = g._data.shape[:2]
        z = zeros((N, C, math.prod(in_sp)), dtype=g._dtype, device=g._device)
        r = call(Scatter, z, 2, idx.reshape(N, C, -1), g.reshape(N, C, -1), "add")
        return r.reshape((N, C) + tuple(in_sp))

    @staticmethod
    def backward(ctx, gg):
        (idx,) = ctx.saved_tensors
        N, C = gg._data.shape[:2]
        r = gg.reshape(N, C, -1).gather(2, idx.reshape(N, C, -1))
        return r.reshape(idx._data.shape), None, None


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatched, geom = _pool_args(op, input, nd, kernel_size, stride, padding, dilation,
                                    ceil_mode)
    if kernel(x, "max_pool") is not None:
        y, idx = call(MaxPoolFused, x, geom)
    else:
        P, L = math.prod(geom[0]), math.prod(geom[5])
        y, idx = _max_by_table(x, ("maxpool", geom), lambda: _window_table(geom), P, L, geom[5])
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     True)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


# average pooling ----------------------------------------------------------------------------------
def _avg_divisor(geom, count_include_pad) -> np.ndarray:
    """torch's divisor of each output window: its size within the padded input, or its
    in-bounds size without count_include_pad."""
    in_sp, k, _, p, s, out_sp = geom
    div = np.ones((1,) * len(in_sp))
    for i in range(len(in_sp)):
        a = np.arange(out_sp[i]) * s[i] - p[i]
        b = np.minimum(a + k[i], in_sp[i] + p[i])
        n = (b - a) if count_include_pad else (np.minimum(b, in_sp[i]) - np.maximum(a, 0))
        shape = [1] * len(in_sp)
        shape[i] = -1
        div = div * n.reshape(shape)
    return div.reshape(-1)


class AvgPoolFused(Function):
    @staticmethod
    def forward(ctx, x, args):
        ctx.args = args
        return make_tensor(kernel(x, "avg_pool")(x._data, *args), x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        return call(AvgPoolFusedBackward, g, ctx.args), None


class AvgPoolFusedBackward(Function):
    @staticmethod
    def forward(ctx, g, args):
        ctx.args = args
        return make_tensor(kernel(g, "avg_pool_backward")(g._data, *args), g._dtype, g._device)

    @staticmethod
    def backward(ctx, gg):
        return call(AvgPoolFused, gg, ctx.args), None


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    x, unbatched, geom = _pool_args(op, input, nd, kernel_size, stride, padding, 1, ceil_mode,
                                    avg=True)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    in_sp, k, _, p, s, out_sp = geom
    if kernel(x, "avg_pool") is not None and (x.requires_grad is False or
                                              kernel(x, "avg_pool_backward") is not None):
        y = call(AvgPoolFused, x, (in_sp, k, p, s, out_sp, bool(count_include_pad),
                                   int(divisor_override or 0)))
    else:
        N, C = x._data.shape[:2]
        K, L = math.prod(k), math.prod(out_sp)
        tot = im2col(x, geom).reshape(N, C, K, L).sum(2)
        if divisor_override:
            y = tot / divisor_override
        else:
            div = _divisor_tensor(geom, bool(count_include_pad), x)
            y = tot / div
        y = y.reshape((N, C) + tuple(out_sp))
    return y.squeeze(0) if unbatched else y


def _divisor_tensor(geom, cip, x):
    arr = _avg_divisor(geom, cip)
    return tensor(arr, dtype=x._dtype, device=x._device)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    out = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    k = kernel_size if isinstance(kernel_size, int) else kernel_size[0]
    return (out.sign() * relu(out.abs())).mul(k).pow(1.0 / norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    kh, kw = ntuple(kernel_size, 2, "kernel_size")
    out = avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return (out.sign() * relu(out.abs())).mul(kh * kw).pow(1.0 / norm_type)


# adaptive pooling ---------------------------------------------------------------------------------
def _bins(n, o):
    starts = [(i * n) // o for i in range(o)]
    ends = [-((-(i + 1) * n) // o) for i in range(o)]
    return starts, ends


def _adaptive_args(op, input, nd, output_size):
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{op}(): Expected {nd + 1}D or {nd + 2}D tensor, but got"
                           f"{': ' if 'max' in op else ' '}{list(input.shape)}")
    for i in range(1, input.ndim):
        if input._data.shape[i] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(input.shape)} with "
                               f"dimension {i} being empty")
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nd:
            raise RuntimeError(f"{op}: internal error: output_size.size() must be {nd}")
        out = tuple(input._data.shape[input.ndim - nd + i] if o is None else int(o)
                    for i, o in enumerate(output_size))
    else:
        out = (int(output_size),) * nd
    if any(o < 0 for o in out):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(out)}")
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    return x, unbatched, tuple(x._data.shape[2:]), out


def _avg_matrix(n, o) -> np.ndarray:
    a = np.zeros((o, n))
    starts, ends = _bins(n, o)
    for i, (s, e) in enumerate(zip(starts, ends)):
        a[i, s:e] = 1.0 / (e - s)
    return a


def _adaptive_avg(op, nd, input, output_size):
    x, unbatched, in_sp, out = _adaptive_args(op, input, nd, output_size)
    if all(n % o == 0 for n, o in zip(in_sp, out) if o) and all(out):
        k = tuple(n // o for n, o in zip(in_sp, out))
        y = _avg_pool(op, nd, x, k, k, 0, False, True, None)
    elif all(o == 1 for o in out):
        y = x.mean(tuple(range(2, 2 + nd)), keepdim=True)
    else:
        y = x
        for i in range(nd):
            if in_sp[i] == out[i]:
                continue
            a = tensor(_avg_matrix(in_sp[i], out[i]).T, dtype=x._dtype, device=x._device)
            ax = 2 + i
            y = (y.transpose(ax, -1) @ a).transpose(ax, -1)
    return y.squeeze(0) if unbatched else y


def adaptive_avg_pool1d(input, output_size):
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_table(in_sp, out) -> np.ndarray:
    """(L, Kmax) plane indices of adaptive windows; short windows repeat their last element."""
    per_dim = []
    for n, o in zip(in_sp, out):
        starts, ends = _bins(n, o)
        km = max(e - s for s, e in zip(starts, ends))
        t = np.array([[min(s + j, e - 1) for j in range(km)] for s, e in zip(starts, ends)])
        per_dim.append(t)  # (o, km)
    nd = len(in_sp)
    flat = np.zeros(tuple(out) + tuple(t.shape[1] for t in per_dim), np.int64)
    step = 1
    for i in reversed(range(nd)):
        shape = [1] * (2 * nd)
        shape[i], shape[nd + i] = per_dim[i].shape
        flat = flat + per_dim[i].reshape(shape) * step
        step *= in_sp[i]
    return flat.reshape(-1)


def _adaptive_max(op, nd, input, output_size, return_indices):
    x, unbatched, in_sp, out = _adaptive_args(op, input, nd, output_size)
    if all(o and n % o == 0 for n, o in zip(in_sp, out)):
        k = tuple(n // o for n, o in zip(in_sp, out))
        y, idx = _max_pool(op, nd, x, k, k, 0, 1, False, True)
    else:
        P, L = math.prod(in_sp), math.prod(out)
        y, idx = _max_by_table(x, ("adaptive_max", in_sp, out), lambda: _adaptive_table(in_sp, out),
                               P, L, out)
    if unbatched:
        y, idx = y.squeeze(0), idx.squeeze(0)
    return (y, idx) if return_indices else y


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, True)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


# max unpooling ------------------------------------------------------------------------------------
def _max_unpool(op, nd, input, indices, kernel_size, stride, padding, output_size):
    k = ntuple(kernel_size, nd, "kernel_size")
    s = k if stride is None else ntuple(stride, nd, "stride")
    p = ntuple(padding, nd, "padding")
    unbatched = input.ndim == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    idx = indices.unsqueeze(0) if unbatched else indices
    if x._data.shape != idx._data.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    in_sp = tuple(x._data.shape[2:])
    default = tuple((n - 1) * ss - 2 * pp + kk for n, ss, pp, kk in zip(in_sp, s, p, k))
    if output_size is None:
        out = default
    else:
        out = tuple(int(a) for a in output_size)[-nd:]
        for i, (o, dflt) in enumerate(zip(out, default)):
            lo, hi = dflt - s[i], dflt + s[i]
            if not lo < o < hi:
                raise ValueError(f"invalid output_size \"{out}\" (dim {i} must be between "
                                 f"{lo} and {hi})")
    N, C = x._data.shape[:2]
    P = math.prod(out)
    z = zeros((N, C, P), dtype=x._dtype, device=x._device)
    y = scatter(z, 2, idx.reshape(N, C, -1), x.reshape(N, C, -1)).reshape((N, C) + out)
    return y.squeeze(0) if unbatched else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)

