"""Plain numpy references for the vision layers (direct loops and sums, float64), and small
helpers shared by the tests/test_layers_*.py files."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import to_np

import deepforge as df

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}


# torch comparison helpers -----------------------------------------------------------------------
def torch_or_none():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is optional
        return None
    return torch


def run_both(fn, tfn, arrays, dtype, device, grad=True, seed=0):
    """Run fn on deepforge tensors and tfn on torch tensors (same values); return
    (outputs, grads) of each, the same upstream gradient for both. Skips when torch is absent."""
    torch = torch_or_none()
    if torch is None:
        pytest.skip("torch is not installed")
    xs = [np.asarray(a, dtype=dtype) for a in arrays]
    X = [df.tensor(x, device=device, requires_grad=grad) for x in xs]
    T = [torch.tensor(x, requires_grad=grad) for x in xs]
    y, ty = fn(*X), tfn(*T)
    y = y[0] if isinstance(y, tuple) else y
    ty = ty[0] if isinstance(ty, tuple) else ty
    if not grad:
        return (to_np(y), None), (ty.detach().numpy(), None)
    g = np.random.default_rng(seed).standard_normal(tuple(ty.shape)).astype(dtype)
    y.backward(df.tensor(g, device=device))
    ty.backward(torch.tensor(g))
    return ((to_np(y), [to_np(x.grad) if x.grad is not None else None for x in X]),
            (ty.detach().numpy(), [t.grad.numpy() if t.grad is not None else None for t in T]))


def assert_same(ours, theirs, dtype):
    tol = TOL[dtype]
    (y, gs), (ty, tgs) = ours, theirs
    assert y.shape == ty.shape, f"shape {y.shape} != {ty.shape}"
    np.testing.assert_allclose(y, ty, **tol)
    for g, tg in zip(gs or (), tgs or ()):
        if tg is None:
            continue
        np.testing.assert_allclose(g, tg, **tol)


def double_backward_check(fn, inputs):
    """gradgradcheck (fast mode: random projections) of ``fn`` on float64 ``inputs``."""
    return df.autograd.gradgradcheck(fn, inputs, fast_mode=True)


# convolution -------------------------------------------------------------------------------------
def conv_nd(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Direct convolution; padding: int, per-dim int, or per-dim (lo, hi)."""
    nd = x.ndim - 2
    st, dl = _t(stride, nd), _t(dilation, nd)
    pads = [(p, p) if np.isscalar(p) else tuple(p) for p in
            (padding if isinstance(padding, (list, tuple)) else [padding] * nd)]
    xp = np.pad(x, [(0, 0), (0, 0)] + pads)
    N, C = x.shape[:2]
    O, k = w.shape[0], w.shape[2:]
    out_sp = [(xp.shape[2 + i] - dl[i] * (k[i] - 1) - 1) // st[i] + 1 for i in range(nd)]
    out = np.zeros((N, O, *out_sp))
    Cg, Og = C // groups, O // groups
    for kidx in np.ndindex(*k):
        sl = tuple(slice(kk * d, kk * d + s * (o - 1) + 1, s)
                   for kk, d, s, o in zip(kidx, dl, st, out_sp))
        patch = xp[(slice(None), slice(None)) + sl]
        for g in range(groups):
            wk = w[(slice(g * Og, (g + 1) * Og), slice(None)) + kidx]
            out[:, g * Og:(g + 1) * Og] += np.einsum("oc,nc...->no...", wk,
                                                     patch[:, g * Cg:(g + 1) * Cg])
    if b is not None:
        out += b.reshape((1, -1) + (1,) * nd)
    return out


def conv_transpose_nd(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    nd = x.ndim - 2
    st, pd, op, dl = (_t(a, nd) for a in (stride, padding, output_padding, dilation))
    N, C = x.shape[:2]
    in_sp, k = x.shape[2:], w.shape[2:]
    Og, Cg = w.shape[1], C // groups
    full_sp = [(n - 1) * s + d * (kk - 1) + 1 + o for n, s, d, kk, o in zip(in_sp, st, dl, k, op)]
    full = np.zeros((N, Og * groups, *full_sp))
    for kidx in np.ndindex(*k):
        sl = tuple(slice(kk * d, kk * d + s * (n - 1) + 1, s)
                   for kk, d, s, n in zip(kidx, dl, st, in_sp))
        for g in range(groups):
            wk = w[(slice(g * Cg, (g + 1) * Cg), slice(None)) + kidx]
            full[(slice(None), slice(g * Og, (g + 1) * Og)) + sl] += np.einsum(
                "co,nc...->no...", wk, x[:, g * Cg:(g + 1) * Cg])
    out_sp = [f - 2 * p for f, p in zip(full_sp, pd)]
    out = full[(slice(None), slice(None)) + tuple(slice(p, p + o) for p, o in zip(pd, out_sp))]
    if b is not None:
        out = out + b.reshape((1, -1) + (1,) * nd)
    return out


def unfold2d(x, k, d=1, p=0, s=1):
    """(N, C, H, W) -> (N, C*kh*kw, L) by direct window copies."""
    k, d, p, s = (_t(a, 2) for a in (k, d, p, s))
    xp = np.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])])
    N, C = x.shape[:2]
    oh = (xp.shape[2] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (xp.shape[3] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    out = np.zeros((N, C, k[0], k[1], oh, ow))
    for i in range(k[0]):
        for j in range(k[1]):
            out[:, :, i, j] = xp[:, :, i * d[0]:i * d[0] + s[0] * (oh - 1) + 1:s[0],
                                 j * d[1]:j * d[1] + s[1] * (ow - 1) + 1:s[1]]
    return out.reshape(N, C * k[0] * k[1], oh * ow)


# pooling -----------------------------------------------------------------------------------------
def pool_out(n, k, s, p, d, ceil):
    o = (n + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def max_pool_nd(x, k, s=None, p=0, d=1, ceil=False):
    """Values and flat plane indices (first maximum in scan order)."""
    nd = x.ndim - 2
    k = _t(k, nd)
    s = k if s is None else _t(s, nd)
    p, d = _t(p, nd), _t(d, nd)
    in_sp = x.shape[2:]
    out_sp = [pool_out(n, kk, ss, pp, dd, ceil) for n, kk, ss, pp, dd in zip(in_sp, k, s, p, d)]
    flat = x.reshape(x.shape[:2] + (-1,))
    vals = np.zeros(x.shape[:2] + tuple(out_sp))
    idx = np.zeros(x.shape[:2] + tuple(out_sp), np.int64)
    for o in np.ndindex(*out_sp):
        ranges = [[oo * ss - pp + j * dd for j in range(kk) if 0 <= oo * ss - pp + j * dd < n]
                  for oo, ss, pp, kk, dd, n in zip(o, s, p, k, d, in_sp)]
        pos = [np.ravel_multi_index(c, in_sp) for c in np.ndindex(*[len(r) for r in ranges])
               for c in [tuple(r[i] for r, i in zip(ranges, c))]]
        win = flat[:, :, pos]
        a = np.argmax(win, -1)
        vals[(slice(None), slice(None)) + o] = np.take_along_axis(win, a[..., None], -1)[..., 0]
        idx[(slice(None), slice(None)) + o] = np.asarray(pos)[a]
    return vals, idx


def avg_pool_nd(x, k, s=None, p=0, ceil=False, count_include_pad=True, divisor_override=None):
    nd = x.ndim - 2
    k = _t(k, nd)
    s = k if s is None else _t(s, nd)
    p = _t(p, nd)
    in_sp = x.shape[2:]
    out_sp = [pool_out(n, kk, ss, pp, 1, ceil) for n, kk, ss, pp in zip(in_sp, k, s, p)]
    out = np.zeros(x.shape[:2] + tuple(out_sp))
    for o in np.ndindex(*out_sp):
        starts = [oo * ss - pp for oo, ss, pp in zip(o, s, p)]
        ends = [min(a + kk, n + pp) for a, kk, n, pp in zip(starts, k, in_sp, p)]
        size = math.prod(e - a for a, e in zip(starts, ends))
        sl = tuple(slice(max(a, 0), min(e, n)) for a, e, n in zip(starts, ends, in_sp))
        win = x[(slice(None), slice(None)) + sl]
        cnt = divisor_override or (size if count_include_pad else
                                   math.prod(v.stop - v.start for v in sl))
        out[(slice(None), slice(None)) + o] = win.sum(axis=tuple(range(2, 2 + nd))) / cnt
    return out


def _bins(n, o):
    return [((i * n) // o, -((-(i + 1) * n) // o)) for i in range(o)]


def adaptive_pool_nd(x, out, op):
    nd = x.ndim - 2
    out = _t(out, nd)
    res = np.zeros(x.shape[:2] + tuple(out))
    bins = [_bins(n, o) for n, o in zip(x.shape[2:], out)]
    for o in np.ndindex(*out):
        sl = tuple(slice(*bins[i][o[i]]) for i in range(nd))
        win = x[(slice(None), slice(None)) + sl].reshape(x.shape[:2] + (-1,))
        res[(slice(None), slice(None)) + o] = op(win, axis=-1)
    return res


# normalisation -----------------------------------------------------------------------------------
def batch_norm(x, w=None, b=None, eps=1e-5, mean=None, var=None):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    m = x.mean(axes) if mean is None else mean
    v = x.var(axes) if var is None else var
    y = (x - m.reshape(shape)) / np.sqrt(v.reshape(shape) + eps)
    if w is not None:
        y = y * w.reshape(shape)
    if b is not None:
        y = y + b.reshape(shape)
    return y


def layer_norm(x, nshape, w=None, b=None, eps=1e-5):
    axes = tuple(range(x.ndim - len(nshape), x.ndim))
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


def group_norm(x, g, w=None, b=None, eps=1e-5):
    N, C = x.shape[:2]
    xg = x.reshape(N, g, -1)
    y = (xg - xg.mean(-1, keepdims=True)) / np.sqrt(xg.var(-1, keepdims=True) + eps)
    y = y.reshape(x.shape)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return y * (1 if w is None else w.reshape(shape)) + (0 if b is None else b.reshape(shape))


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    C = x.shape[1]
    sq = x * x
    div = np.zeros_like(x)
    for c in range(C):
        lo, hi = max(c - size // 2, 0), min(c + (size - 1) // 2, C - 1)
        div[:, c] = sq[:, lo:hi + 1].sum(1)
    return x / (k + alpha / size * div) ** beta


# resampling --------------------------------------------------------------------------------------
def _interp_matrix(mode, n_in, n_out, align_corners, scale):
    """(n_out, n_in) matrix of torch's 1-D resampling weights, built position by position."""
    A = np.zeros((n_out, n_in))
    for o in range(n_out):
        if mode in ("nearest", "nearest-exact"):
            r = np.float32(1.0 / scale) if scale else np.float32(n_in / n_out)
            off = np.float32(0.5) if mode == "nearest-exact" else np.float32(0.0)
            A[o, min(int(np.floor((np.float32(o) + off) * r)), n_in - 1)] = 1
            continue
        if align_corners:
            src = o * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
        else:
            src = (1.0 / scale if scale else n_in / n_out) * (o + 0.5) - 0.5
        if mode == "linear":
            src = max(src, 0.0)
            i0 = int(src)
            lam = src - i0
            A[o, i0] += 1 - lam
            A[o, min(i0 + 1, n_in - 1)] += lam
        else:  # cubic, A = -0.75, clamped taps
            i0 = math.floor(src)
            t = src - i0
            a = -0.75
            ws = [((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
                  ((a + 2) * t - (a + 3)) * t * t + 1,
                  ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1,
                  ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a]
            for j, wgt in enumerate(ws):
                A[o, min(max(i0 - 1 + j, 0), n_in - 1)] += wgt
    return A


def interpolate(x, size, mode, align_corners=False, scales=None):
    kind = {"bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    y = x
    for i, n_out in enumerate(size):
        ax = 2 + i
        A = _interp_matrix(kind, x.shape[ax], n_out, align_corners,
                           scales[i] if scales is not None else None)
        y = np.moveaxis(np.tensordot(y, A, axes=([ax], [1])), -1, ax)
    return y


def pixel_shuffle(x, r):
    N, C, H, W = x.shape
    out = np.zeros((N, C // (r * r), H * r, W * r))
    for c in range(C // (r * r)):
        for i in range(r):
            for j in range(r):
                out[:, c, i::r, j::r] = x[:, c * r * r + i * r + j]
    return out


def _t(v, n):
    return tuple(v) if isinstance(v, (list, tuple)) else (v,) * n
