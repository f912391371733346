"""Convolutions, written once for every backend.

``im2col`` (torch's ``unfold``) gathers the receptive fields of a (N, C, *spatial) input into
columns (N, C*K, L); ``col2im`` (``fold``) is its adjoint: it adds the columns back. Both are
linear, each is the other's backward, so they are differentiable to any order. On a backend
with fused ``im2col``/``col2im`` kernels (Cython on the CPU, ``opencl/conv.cl``) they run in
one pass; else the reference path is ``index_select`` / ``index_add`` on the flattened input
with a cached int64 index (padding points at one extra zero element per plane).

A convolution is ``W (O, C*K) @ cols (N, C*K, L)`` (per group), its input gradient is
``col2im(W^T @ g)``, its weight gradient ``sum_n g_n @ cols_n^T`` (a batched GEMM), all
written with differentiable ops. A backend may instead offer ``conv_forward`` /
``conv_backward`` (the CPU's: chunks of samples as one GEMM over columns in a reused scratch
buffer, and a weight gradient accumulated by GEMM per chunk). A transposed convolution is
``col2im(W^T @ x)``.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import STATE
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call
from ._fused import index_tensor, kernel, ntuple, pad_const, take, take_add
from .reduction import _pretty

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "unfold", "fold", "im2col", "col2im", "conv_output_size",
]


# geometry ---------------------------------------------------------------------------------------
# geom = (in_sp, kernel, dilation, pad_lo, stride, out_sp): tuples with one int per spatial dim.


def conv_output_size(n, k, s, p_total, d):
    return (n + p_total - d * (k - 1) - 1) // s + 1


def _im2col_index(geom) -> np.ndarray:
    """Flat plane index of every (kernel offset, output position); padding -> plane size."""
    in_sp, k, d, p, s, out_sp = geom
    nd = len(in_sp)
    shape = tuple(k) + tuple(out_sp)
    flat = np.zeros(shape, np.int64)
    valid = np.ones(shape, bool)
    step = 1
    for i in reversed(range(nd)):
        pos = np.arange(out_sp[i])[None, :] * s[i] - p[i] + np.arange(k[i])[:, None] * d[i]
        bshape = [1] * (2 * nd)
        bshape[i], bshape[nd + i] = k[i], out_sp[i]
        pos = pos.reshape(bshape)
        valid = valid & (pos >= 0) & (pos < in_sp[i])
        flat = flat + pos * step
        step *= in_sp[i]
    return np.where(valid, flat, step).reshape(-1)


def _ktotal(geom) -> int:
    return math.prod(geom[1])


def _im2col(x: Tensor, geom) -> Tensor:
    """(N, C, *in_sp) -> (N, C*K, L), no graph."""
    N, C = x._data.shape[:2]
    K, L = _ktotal(geom), math.prod(geom[5])
    fn = kernel(x, "im2col")
    if fn is not None:
        return make_tensor(fn(x._data, *geom), x._dtype, x._device)
    P = math.prod(geom[0])
    xf = pad_const(x.reshape(N, C, P), ((0, 1),))
    idx = index_tensor(("im2col", geom), x._device, lambda: _im2col_index(geom))
    return take(xf, 2, idx).reshape(N, C * K, L)


def _col2im(cols: Tensor, geom) -> Tensor:
    """(N, C*K, L) -> (N, C, *in_sp) summing overlaps, no graph."""
    N, CK, L = cols._data.shape
    K = _ktotal(geom)
    C = CK // K
    fn = kernel(cols, "col2im")
    if fn is not None:
        return make_tensor(fn(cols._data, C, *geom), cols._dtype, cols._device)
    P = math.prod(geom[0])
    idx = index_tensor(("im2col", geom), cols._device, lambda: _im2col_index(geom))
    r = take_add(cols.reshape(N, C, K * L), 2, idx, P + 1)
    return r[:, :, :P].reshape((N, C) + tuple(geom[0]))


class Im2Col(Function):
    @staticmethod
    def forward(ctx, x, geom):
        ctx.geom = geom
        return _im2col(x, geom)

    @staticmethod
    def backward(ctx, g):
        return call(Col2Im, g, ctx.geom), None


class Col2Im(Function):
    @staticmethod
    def forward(ctx, cols, geom):
        ctx.geom = geom
        return _col2im(cols, geom)

    @staticmethod
    def backward(ctx, g):
        return call(Im2Col, g, ctx.geom), None


def im2col(x: Tensor, geom) -> Tensor:
    return call(Im2Col, x, geom)


def col2im(cols: Tensor, geom) -> Tensor:
    return call(Col2Im, cols, geom)


def _is_identity(geom) -> bool:
    in_sp, k, d, p, s, out_sp = geom
    return all(a == 1 for a in k) and all(a == 1 for a in s) and not any(p) and in_sp == out_sp


# convolution ------------------------------------------------------------------------------------
def _weight_grad(g3: Tensor, cols: Tensor, groups: int) -> Tensor:
    """sum_n g_n @ cols_n^T per group: (N, O, L), (N, CK, L) -> (O, CK // groups)."""
    N, O, L = g3._data.shape
    CK = cols._data.shape[1]
    if groups == 1:
        return (g3 @ cols.mT).sum(0)
    G = groups
    gw = g3.reshape(N, G, O // G, L) @ cols.reshape(N, G, CK // G, L).mT
    return gw.sum(0).reshape(O, CK // G)


def _fused_conv(x, w, b):
    fn = kernel(x, "conv_forward")
    ok = fn is not None and w._dtype is x._dtype and (b is None or b._dtype is x._dtype)
    return fn if ok else None


class ConvNd(Function):
    """y = conv(x, w) + b for x (N, C, *in_sp), w (O, C/groups, *k); geom from _conv_geom.

    Fused path (a backend with ``conv_forward``/``conv_backward``): one call each way; when a
    graph of the gradient itself is requested (create_graph), the backward falls back to the
    differentiable formula below, so double backward works on every path.
    """

    @staticmethod
    def forward(ctx, x, w, b, geom, groups):
        N, C = x._data.shape[:2]
        O = w._data.shape[0]
        L = math.prod(geom[5])
        ctx.geom, ctx.groups = geom, groups
        fn = _fused_conv(x, w, b)
        if fn is not None:
            ctx.save_for_backward(x, w, None)
            y = fn(x._data, w._data, None if b is None else b._data, groups, *geom)
            return make_tensor(y, x._dtype, x._device)
        G = groups
        cols = x.reshape(N, C, L) if _is_identity(geom) else _im2col(x, geom)
        if G == 1:
            y = w.reshape(O, -1) @ cols
        else:
            y = (w.reshape(G, O // G, -1) @ cols.reshape(N, G, -1, L)).reshape(N, O, L)
        if b is not None:
            D.binary("add", y, b.reshape(1, O, 1), out=y)
        ctx.save_for_backward(x, w, cols)
        return y.reshape((N, O) + tuple(geom[5]))

    @staticmethod
    def backward(ctx, g):
        x, w, cols = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad[:3]
        geom, G = ctx.geom, ctx.groups
        N, C = x._data.shape[:2]
        O = w._data.shape[0]
        L = math.prod(geom[5])
        g3 = g.reshape(N, O, L)
        gb = g3.sum((0, 2)) if nb else None
        fn = kernel(x, "conv_backward") if cols is None and not STATE.enabled else None
        if fn is not None and (nx or nw):
            gx, gw = fn(g._data, x._data, w._data, G, *geom, nx, nw)
            dev, d = x._device, x._dtype
            return (make_tensor(gx, d, dev) if nx else None,
                    make_tensor(gw, d, dev) if nw else None, gb, None, None)
        gx = gw = None
        if nx:
            if G == 1:
                gcols = w.reshape(O, -1).mT @ g3
            else:
                wt = w.reshape(G, O // G, -1).mT
                gcols = (wt @ g3.reshape(N, G, O // G, L)).reshape(N, -1, L)
            gx = gcols.reshape(x._data.shape) if _is_identity(geom) else col2im(gcols, geom)
        if nw:
            if cols is None or (STATE.enabled and x.requires_grad):  # a function of x
                cols = x.reshape(N, C, L) if _is_identity(geom) else im2col(x, geom)
            gw = _weight_grad(g3, cols, G).reshape(w._data.shape)
        return gx, gw, gb, None, None


def _conv_args(op, input, weight, bias, stride, padding, dilation, groups, nd, transposed=False,
               output_padding=0):
    """Check torch's conditions; return (batched input, squeeze?, stride, pads, dilation)."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{op}(): argument 'input' and 'weight' must be Tensor")
    D.check_same_device(op, input, weight, bias)
    unbatched = input.ndim == nd + 1
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, "
                           f"but got input of size: {list(input.shape)}")
    if unbatched:
        input = input.unsqueeze(0)
    if weight.ndim != nd + 2:
        raise RuntimeError("weight should have at least three dimensions" if weight.ndim < 3 else
                           f"Expected {weight.ndim}-dimensional input for "
                           f"{weight.ndim}-dimensional "
                           f"weight {list(weight.shape)}, but got {input.ndim}-dimensional input "
                           "of "
                           f"size {list(input.shape)} instead")
    if input._dtype is not weight._dtype:
        raise RuntimeError(f"Input type ({_tname(input)}) and weight type ({_tname(weight)}) "
                           "should be the same")
    stride = ntuple(stride, nd, "stride")
    dilation = ntuple(dilation, nd, "dilation")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero, but got dilation: "
                           f"{list(dilation)}")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    ksp = tuple(weight._data.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                         for k, d in zip(ksp, dilation))
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = ntuple(padding, nd, "padding")
        if any(a < 0 for a in p):
            raise RuntimeError("negative padding is not supported")
        pads = tuple((a, a) for a in p)
    C = input._data.shape[1]
    O = weight._data.shape[0]
    if not transposed:
        if O % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                               f"{groups} at "
                               f"dimension 0, but got weight of size [{list(weight.shape)}] "
                               "instead")
        if C != weight._data.shape[1] * groups:
            raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                               "expected "
                               f"input{list(input.shape)} to have {weight._data.shape[1] * groups} "
                               f"channels, but got {C} channels instead")
        nout = O
    else:
        if C != O:
            raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                               f"input{list(input.shape)} to have {O} channels, but got {C} "
                               "channels "
                               "instead")
        if O % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                               f"{groups} at "
                               f"dimension 0, but got weight of size [{list(weight.shape)}] "
                               "instead")
        nout = weight._data.shape[1] * groups
    if bias is not None and (bias.ndim != 1 or bias._data.shape[0] != nout):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {nout} elements, but got bias of size "
                           f"{list(bias.shape)} instead")
    return input, unbatched, stride, pads, dilation


def _tname(t):
    prefix = "torch." if t.device.type == "cpu" else f"{t.device.type}."
    return f"{prefix}{_pretty(t.dtype)}Tensor"


def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    x, unbatched, stride, pads, dilation = _conv_args(op, input, weight, bias, stride, padding,
                                                      dilation, groups, nd)
    in_sp = tuple(x._data.shape[2:])
    ksp = tuple(weight._data.shape[2:])
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(in_sp, pads))
    eff = tuple(d * (k - 1) + 1 for k, d in zip(ksp, dilation))
    if any(e > n for e, n in zip(eff, padded)):
        raise RuntimeError("Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). "
                           f"Kernel size: ({' x '.join(map(str, eff))}). Kernel size can't be "
                           "greater than actual input size")
    out_sp = tuple(conv_output_size(n, k, s, lo + hi, d)
                   for n, k, s, (lo, hi), d in zip(in_sp, ksp, stride, pads, dilation))
    geom = (in_sp, ksp, dilation, tuple(lo for lo, _ in pads), stride, out_sp)
    y = call(ConvNd, x, weight, bias, geom, groups)
    return y.squeeze(0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


# transposed convolution --------------------------------------------------------------------------
def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    if isinstance(padding, str):
        raise RuntimeError(f"{op}: padding must be an int or a tuple of ints, got '{padding}'")
    x, unbatched, stride, pads, dilation = _conv_args(op, input, weight, bias, stride, padding,
                                                      dilation, groups, nd, transposed=True)
    opad = ntuple(output_padding, nd, "output_padding")
    for i in range(nd):
        if opad[i] >= stride[i] and opad[i] >= dilation[i]:
            raise RuntimeError("output padding must be smaller than either stride or dilation, "
                               "but got "
                               + _opad_msg(opad, stride, dilation))
    N, C = x._data.shape[:2]
    in_sp = tuple(x._data.shape[2:])
    ksp = tuple(weight._data.shape[2:])
    out_sp = tuple((n - 1) * s - 2 * p + d * (k - 1) + op_ + 1
                   for n, s, (p, _), d, k, op_ in zip(in_sp, stride, pads, dilation, ksp, opad))
    if any(o <= 0 for o in out_sp):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, in_sp))}). "
                           "Calculated "
                           f"output size per channel: ({' x '.join(map(str, out_sp))}). Output "
                           "size is "
                           "too small")
    geom = (out_sp, ksp, dilation, tuple(p for p, _ in pads), stride, in_sp)
    G = groups
    Og = weight._data.shape[1]
    K, L = math.prod(ksp), math.prod(in_sp)
    wt = weight.reshape(G, C // G, Og * K).mT  # (G, Og*K, Cg)
    x3 = x.reshape(N, G, C // G, L)
    cols = (wt @ x3).reshape(N, G * Og * K, L)
    y = cols.reshape((N, G * Og) + in_sp) if _is_identity(geom) else col2im(cols, geom)
    if bias is not None:
        y = y + bias.reshape((1, -1) + (1,) * nd)
    return y.squeeze(0) if unbatched else y


def _opad_msg(opad, stride, dilation):
    names = {1: ["width"], 2: ["height", "width"], 3: ["depth", "height", "width"]}[len(opad)]
    parts = [f"output_padding_{n}: {v}" for n, v in zip(names, opad)]
    parts += [f"stride_{n}: {v}" for n, v in zip(names, stride)]
    parts += [f"dilation_{n}: {v}" for n, v in zip(names, dilation)]
    return " ".join(parts)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


# unfold / fold ------------------------------------------------------------------------------------
def _fmt(t):
    return "(" + ", ".join(str(a) for a in t) + ")"


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """torch.nn.functional.unfold: (N, C, H, W) -> (N, C*kh*kw, L)."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported "
                                  f"(got {input.ndim}D)")
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    k, d, p, s = (ntuple(a, 2, n) for a, n in ((kernel_size, "kernel_size"), (dilation, "dilation"),
                                                (padding, "padding"), (stride, "stride")))
    in_sp = tuple(x._data.shape[2:])
    out_sp = tuple(conv_output_size(n, kk, ss, 2 * pp, dd)
                   for n, kk, ss, pp, dd in zip(in_sp, k, s, p, d))
    if any(o < 1 for o in out_sp):
        raise RuntimeError(f"Given input with spatial size {_fmt(in_sp)}, kernel_size={_fmt(k)}, "
                           f"dilation={_fmt(d)}, padding={_fmt(p)}, calculated shape of the array "
                           "of "
                           f"sliding blocks as {_fmt(out_sp)}, but its components must be at "
                           "least one.")
    r = im2col(x, (in_sp, k, d, p, s, out_sp))
    return r.squeeze(0) if unbatched else r


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """torch.nn.functional.fold: (N, C*kh*kw, L) -> (N, C, *output_size), summing overlaps."""
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors "
                                  f"are supported (got {input.ndim}D)")
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    o, k, d, p, s = (ntuple(a, 2, n) for a, n in ((output_size, "output_size"),
                                                   (kernel_size, "kernel_size"),
                                                   (dilation, "dilation"), (padding, "padding"),
                                                   (stride, "stride")))
    K = k[0] * k[1]
    if x._data.shape[1] % K:
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product "
                           "of "
                           f"kernel_size, but got input.size(1)={x._data.shape[1]} and "
                           f"kernel_size={_fmt(k)}")
    blocks = tuple(conv_output_size(n, kk, ss, 2 * pp, dd)
                   for n, kk, ss, pp, dd in zip(o, k, s, p, d))
    if x._data.shape[2] != blocks[0] * blocks[1]:
        raise RuntimeError(f"Given output_size={_fmt(o)}, kernel_size={_fmt(k)}, "
                           f"dilation={_fmt(d)}, "
                           f"padding={_fmt(p)}, stride={_fmt(s)}, expected size of input's "
                           "dimension 2 "
                           f"to match the calculated number of sliding blocks {blocks[0]} * "
                           f"{blocks[1]} "
                           f"= {blocks[0] * blocks[1]}, but got input.size(2)={x._data.shape[2]}.")
    r = col2im(x, (o, k, d, p, s, blocks))
    return r.squeeze(0) if unbatched else r
