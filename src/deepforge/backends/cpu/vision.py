"""Vision layers (deepforge.ops.conv / pooling / normalization): fused kernels, looked up by
name; the ops fall back to their reference compositions where a backend lacks one.
Spatial arguments are per-dim tuples of 1-3 entries; _core takes (D, H, W) triples."""

from __future__ import annotations

import threading

import numpy as np

from ._common import _core

__all__ = [
    "im2col",
    "col2im",
    "conv_forward",
    "conv_backward",
    "max_pool",
    "max_pool_backward",
    "avg_pool",
    "avg_pool_backward",
    "batch_norm_train",
    "batch_norm_backward",
    "layer_norm",
    "layer_norm_backward",
]


def _t3(t, fill):
    return (fill,) * (3 - len(t)) + tuple(t)


def _planes(x, sp):
    """(N, C, *sp) -> contiguous (N*C, D, H, W)."""
    n = x.shape[0] * x.shape[1]
    return np.ascontiguousarray(x).reshape((n,) + _t3(sp, 1))


def _vol(x, sp):
    """(N, C, *sp) -> contiguous (N, C, D, H, W)."""
    return np.ascontiguousarray(x).reshape(x.shape[:2] + _t3(sp, 1))


def _geom_args(in_sp, k, d, p, s, o):
    return _t3(in_sp, 1), _t3(k, 1), _t3(d, 1), _t3(p, 0), _t3(s, 1), _t3(o, 1)


def im2col(x, in_sp, k, d, p, s, o):
    """(N, C, *in_sp) -> cols (N, C*K, L) (torch.nn.functional.unfold's layout)."""
    N, C = x.shape[:2]
    K, L = int(np.prod(k)), int(np.prod(o))
    cols = np.empty((N, C * K, L), x.dtype)
    _core.im2col(_vol(x, in_sp), cols.reshape(-1), *_geom_args(in_sp, k, d, p, s, o))
    return cols


def col2im(cols, channels, in_sp, k, d, p, s, o):
    """cols (N, C*K, L) -> (N, C, *in_sp), overlapping columns summed."""
    N = cols.shape[0]
    out = np.empty((N, channels) + tuple(in_sp), cols.dtype)
    _core.col2im(
        np.ascontiguousarray(cols).reshape(-1), _vol(out, in_sp), *_geom_args(in_sp, k, d, p, s, o)
    )
    return out


# convolution as one GEMM per chunk of samples: the columns of a chunk are laid out (C*K, n*L)
# in a reused per-thread scratch buffer (no page faults from fresh large allocations), so
# W (O, C*K) @ cols is a single large GEMM even for few output channels.
_SCRATCH = threading.local()
_CHUNK_BYTES = 16 << 20


def _scratch(name, n, dtype):
    bufs = getattr(_SCRATCH, "bufs", None)
    if bufs is None:
        bufs = _SCRATCH.bufs = {}
    key = (name, np.dtype(dtype))
    b = bufs.get(key)
    if b is None or b.size < n:
        b = bufs[key] = np.empty(max(n, 1), dtype)
    return b[:n]


def _chunks(N, per_sample_bytes):
    nb = max(1, min(N, _CHUNK_BYTES // max(per_sample_bytes, 1)))
    return [(n0, min(N, n0 + nb)) for n0 in range(0, N, nb)]


def _identity(k, p, s):
    return all(a == 1 for a in k) and not any(p) and all(a == 1 for a in s)


def _chunk_cols(x, n0, n1, geom, ck, L, name="cols"):
    """Merged columns (C*K, n*L) of samples n0:n1."""
    nb = n1 - n0
    if _identity(geom[1], geom[3], geom[4]) and x.shape[1] == ck:
        return x[n0:n1].reshape(nb, ck, L).transpose(1, 0, 2).reshape(ck, nb * L)
    cols = _scratch(name, ck * nb * L, x.dtype)
    _core.im2col(_vol(x[n0:n1], geom[0]), cols, *_geom_args(*geom), True)
    return cols.reshape(ck, nb * L)


def conv_forward(x, w, bias, groups, in_sp, k, d, p, s, o):
    """y (N, O, *o) = conv(x (N, C, *in_sp), w (O, C/groups, *k)) + bias."""
    x = np.ascontiguousarray(x)
    N, C = x.shape[:2]
    O, G = w.shape[0], groups
    K, L = int(np.prod(k)), int(np.prod(o))
    wg = np.ascontiguousarray(w).reshape(G, O // G, C // G * K)
    y = np.empty((N, O, L), x.dtype)
    geom = (in_sp, k, d, p, s, o)
    for n0, n1 in _chunks(N, C * K * L * x.itemsize):
        nb = n1 - n0
        cols = _chunk_cols(x, n0, n1, geom, C * K, L).reshape(G, C // G * K, nb * L)
        out = _scratch("out", O * nb * L, x.dtype).reshape(G, O // G, nb * L)
        np.matmul(wg, cols, out=out)
        yv = y[n0:n1].transpose(1, 0, 2)
        if bias is not None:
            np.add(out.reshape(O, nb, L), bias.reshape(O, 1, 1), out=yv)
        else:
            np.copyto(yv, out.reshape(O, nb, L))
    return y.reshape((N, O) + tuple(o))


def conv_backward(g, x, w, groups, in_sp, k, d, p, s, o, need_x, need_w):
    """(gx or None, gw or None) of conv_forward for the output gradient g (N, O, *o)."""
    x = np.ascontiguousarray(x)
    N, C = x.shape[:2]
    O, G = w.shape[0], groups
    K, L = int(np.prod(k)), int(np.prod(o))
    CKg, Og = C // G * K, O // G
    wg = np.ascontiguousarray(w).reshape(G, Og, CKg)
    g3 = np.ascontiguousarray(g, dtype=x.dtype).reshape(N, O, L)
    gx = np.empty(x.shape, x.dtype) if need_x else None
    gw = np.zeros((G, Og, CKg), x.dtype) if need_w else None
    geom = (in_sp, k, d, p, s, o)
    ident = _identity(k, p, s)
    wt = wg.transpose(0, 2, 1)
    for n0, n1 in _chunks(N, C * K * L * x.itemsize):
        nb = n1 - n0
        gt = _scratch("gt", O * nb * L, x.dtype).reshape(O, nb, L)
        np.copyto(gt, g3[n0:n1].transpose(1, 0, 2))
        gt = gt.reshape(G, Og, nb * L)
        if need_w:
            cols = _chunk_cols(x, n0, n1, geom, C * K, L).reshape(G, CKg, nb * L)
            gw += np.matmul(gt, cols.transpose(0, 2, 1))
        if need_x:
            gcols = np.matmul(
                wt, gt, out=_scratch("gcols", C * K * nb * L, x.dtype).reshape(G, CKg, nb * L)
            )
            if ident:
                np.copyto(gx[n0:n1].reshape(nb, C, L), gcols.reshape(C, nb, L).transpose(1, 0, 2))
            else:
                _core.col2im(gcols.reshape(-1), _vol(gx[n0:n1], in_sp), *_geom_args(*geom), True)
    return gx, (gw.reshape(w.shape) if need_w else None)


def max_pool(x, in_sp, k, d, p, s, o):
    """Max pooling with indices: (N, C, *in_sp) -> values and flat plane indices (N, C, *o)."""
    N, C = x.shape[:2]
    L = int(np.prod(o))
    y = np.empty((N, C) + tuple(o), x.dtype)
    idx = np.empty((N, C) + tuple(o), np.int64)
    _core.max_pool(
        _planes(x, in_sp),
        y.reshape(N * C, L),
        idx.reshape(N * C, L),
        _t3(in_sp, 1),
        _t3(k, 1),
        _t3(d, 1),
        _t3(p, 0),
        _t3(s, 1),
        _t3(o, 1),
    )
    return y, idx


def max_pool_backward(g, idx, in_sp):
    """gx[n, c, idx[n, c, l]] += g[n, c, l] into zeros (N, C, *in_sp)."""
    N, C = g.shape[:2]
    L, P = int(np.prod(g.shape[2:])), int(np.prod(in_sp))
    out = np.empty((N, C) + tuple(in_sp), g.dtype)
    _core.plane_scatter_add(
        np.ascontiguousarray(g).reshape(N * C, L),
        np.ascontiguousarray(idx, dtype=np.int64).reshape(N * C, L),
        out.reshape(N * C, P),
    )
    return out


def avg_pool(x, in_sp, k, p, s, o, count_include_pad, divisor_override):
    N, C = x.shape[:2]
    y = np.empty((N, C) + tuple(o), x.dtype)
    _core.avg_pool(
        _planes(x, in_sp),
        y.reshape(N * C, -1),
        _t3(in_sp, 1),
        _t3(k, 1),
        _t3(p, 0),
        _t3(s, 1),
        _t3(o, 1),
        bool(count_include_pad),
        int(divisor_override or 0),
    )
    return y


def avg_pool_backward(g, in_sp, k, p, s, o, count_include_pad, divisor_override):
    N, C = g.shape[:2]
    gx = np.empty((N, C) + tuple(in_sp), g.dtype)
    _core.avg_pool_backward(
        np.ascontiguousarray(g).reshape(N * C, -1),
        gx.reshape((N * C,) + _t3(in_sp, 1)),
        _t3(in_sp, 1),
        _t3(k, 1),
        _t3(p, 0),
        _t3(s, 1),
        _t3(o, 1),
        bool(count_include_pad),
        int(divisor_override or 0),
    )
    return gx


def _vec(v, dtype):
    return np.empty(0, dtype) if v is None else np.ascontiguousarray(v, dtype=dtype).reshape(-1)


def batch_norm_train(x, weight, bias, eps):
    """Training batch norm of x (N, C, *): y, batch mean, 1/sqrt(var + eps), biased var (C,)."""
    N, C = x.shape[:2]
    x3 = np.ascontiguousarray(x).reshape(N, C, -1)
    y = np.empty(x.shape, x.dtype)
    mean, invstd, var = (np.empty(C, x.dtype) for _ in range(3))
    w = _vec(weight, x.dtype)
    b = _vec(bias, x.dtype) if weight is not None else w
    if weight is not None and bias is None:
        b = np.zeros(C, x.dtype)
    _core.batch_norm_train(x3, w, b, float(eps), y.reshape(x3.shape), mean, invstd, var)
    return y, mean, invstd, var


def batch_norm_backward(g, x, weight, mean, invstd, train, need_gx):
    """(gx or None, sum(g * xhat), sum(g)) per channel of x (N, C, *)."""
    N, C = x.shape[:2]
    x3 = np.ascontiguousarray(x).reshape(N, C, -1)
    g3 = np.ascontiguousarray(g, dtype=x.dtype).reshape(x3.shape)
    gx = np.empty(x.shape, x.dtype) if need_gx else np.empty((0, 0, 0), x.dtype)
    gw, gb = np.empty(C, x.dtype), np.empty(C, x.dtype)
    _core.batch_norm_backward(
        g3,
        x3,
        _vec(weight, x.dtype),
        _vec(mean, x.dtype),
        _vec(invstd, x.dtype),
        gx.reshape(x3.shape) if need_gx else gx,
        gw,
        gb,
        bool(train),
    )
    return (gx if need_gx else None), gw, gb


def layer_norm(x, weight, bias, eps):
    """Normalise the rows of x (M, D): y, mean (M,), rstd (M,)."""
    M, Dn = x.shape
    x2 = np.ascontiguousarray(x)
    y = np.empty((M, Dn), x.dtype)
    mean, rstd = np.empty(M, x.dtype), np.empty(M, x.dtype)
    _core.layer_norm(x2, _vec(weight, x.dtype), _vec(bias, x.dtype), float(eps), y, mean, rstd)
    return y, mean, rstd


def layer_norm_backward(g, x, weight, mean, rstd, need_gx, need_gwb):
    """(gx or None, column sums of g * xhat, column sums of g) for rows of x (M, D)."""
    M, Dn = x.shape
    gx = np.empty((M, Dn) if need_gx else (0, 0), x.dtype)
    gw = np.empty(Dn if need_gwb else 0, x.dtype)
    gb = np.empty(Dn if need_gwb else 0, x.dtype)
    _core.layer_norm_backward(
        np.ascontiguousarray(g, dtype=x.dtype),
        np.ascontiguousarray(x),
        _vec(weight, x.dtype),
        _vec(mean, x.dtype),
        _vec(rstd, x.dtype),
        gx,
        gw,
        gb,
    )
    return (gx if need_gx else None), (gw if need_gwb else None), (gb if need_gwb else None)


if _core is None or not hasattr(_core, "im2col"):  # unbuilt checkout: the ops' reference paths
    del im2col, col2im, conv_forward, conv_backward, max_pool, max_pool_backward, avg_pool
    del avg_pool_backward
    del batch_norm_train, batch_norm_backward, layer_norm, layer_norm_backward
    __all__ = []
