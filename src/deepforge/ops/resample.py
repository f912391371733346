"""Padding, interpolation, pixel and channel shuffles.

Everything here is data movement plus small weighted sums, written with differentiable ops
that every backend has: constant padding copies into a filled tensor (its backward is a
slice); reflect / replicate / circular padding and nearest interpolation are ``index_select``
with a cached index per padded dim; linear and cubic interpolation are separable, each dim a
sum of 2 or 4 weighted ``index_select`` taps with torch's source-index rules.
"""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from ._fused import index_tensor, pad_const, take
from .creation import tensor
from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d
from .shape import narrow

__all__ = ["pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
           "pixel_shuffle", "pixel_unshuffle", "channel_shuffle"]


# padding ------------------------------------------------------------------------------------------
def _pad_pairs(pad, ndim):
    """torch's flat (last_lo, last_hi, prev_lo, ...) list -> ((lo, hi), ...) for the last dims."""
    n = len(pad) // 2
    return tuple((int(pad[2 * (n - 1 - i)]), int(pad[2 * (n - 1 - i) + 1])) for i in range(n))


def _src_index(n, lo, hi, mode) -> np.ndarray:
    j = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(j, 0, n - 1)
    if mode == "circular":
        return np.mod(j, n)
    period = 2 * (n - 1)
    if period == 0:
        return np.zeros_like(j)
    j = np.mod(j, period)
    return np.where(j < n, j, period - j)


_NONCONST_MSG = (
    "Padding size {p} is not supported for {d}D input tensor.\n"
    "Supported combinations for non-constant padding:\n"
    "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
)


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """torch.nn.functional.pad: constant (negative pads crop), reflect, replicate, circular."""
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    pairs = _pad_pairs(pad, input.ndim)
    nd = len(pairs)
    lead = input.ndim - nd
    if mode == "constant":
        x = input
        for i, (lo, hi) in enumerate(pairs):  # negative pads crop first
            if lo < 0 or hi < 0:
                n = x._data.shape[lead + i]
                a, b = max(-lo, 0), n - max(-hi, 0)
                if b <= a:
                    raise RuntimeError(f"The input size {n}, plus negative padding {lo} and {hi} "
                                       f"resulted in a negative output size, which is invalid. "
                                       f"Check dimension {lead + i} of your input.")
                x = narrow(x, lead + i, a, b - a)
        pos = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pairs)
        if not any(lo or hi for lo, hi in pos):
            return x if x is not input else input.clone()
        return pad_const(x, pos, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    if input.ndim not in (nd + 1, nd + 2) or nd > 3:
        raise NotImplementedError(_NONCONST_MSG.format(p=len(pad), d=input.ndim))
    x = input
    for i, (lo, hi) in enumerate(pairs):
        ax = lead + i
        n = x._data.shape[ax]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({lo}, {hi}) at dimension {ax} "
                               f"of input {list(input.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if not lo and not hi:
            continue
        idx = index_tensor(("pad", mode, n, lo, hi), x._device,
                           lambda n=n, lo=lo, hi=hi: _src_index(n, lo, hi, mode))
        x = take(x, ax, idx)
    return x if x is not input else input.clone()


# interpolation ------------------------------------------------------------------------------------
_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_NEED = {"linear": 3, "bilinear": 4, "trilinear": 5, "bicubic": 4}


def _source(out_n, in_n, align_corners, scale, cubic=False) -> np.ndarray:
    """torch's area_pixel_compute_source_index for every output position."""
    dst = np.arange(out_n, dtype=np.float64)
    if align_corners:
        r = (in_n - 1) / (out_n - 1) if out_n > 1 else 0.0
        return r * dst
    r = 1.0 / scale if scale is not None and scale > 0 else in_n / out_n
    src = r * (dst + 0.5) - 0.5
    return src if cubic else np.maximum(src, 0.0)


def _nearest_index(out_n, in_n, scale, exact) -> np.ndarray:
    o = np.arange(out_n, dtype=np.float32)
    r = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(in_n / out_n)
    if not exact and out_n == in_n:
        return np.arange(out_n)
    if not exact and out_n == 2 * in_n:
        return np.arange(out_n) >> 1
    v = np.floor(((o + np.float32(0.5)) if exact else o) * r).astype(np.int64)
    return np.minimum(v, in_n - 1)


def _cubic_weights(t):
    A = -0.75

    def c1(x):  # |x| <= 1
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def c2(x):  # 1 < |x| < 2
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    return [c2(t + 1.0), c1(t), c1(1.0 - t), c2(2.0 - t)]


def _taps(mode, out_n, in_n, align_corners, scale):
    """[(index array, weight array or None), ...] whose weighted sum is the 1-D resample."""
    if mode in ("nearest", "nearest-exact"):
        return [(_nearest_index(out_n, in_n, scale, mode == "nearest-exact"), None)]
    if mode == "bicubic":
        src = _source(out_n, in_n, align_corners, scale, cubic=True)
        i0 = np.floor(src).astype(np.int64)
        t = src - i0
        ws = _cubic_weights(t)
        return [(np.clip(i0 - 1 + k, 0, in_n - 1), ws[k]) for k in range(4)]
    src = _source(out_n, in_n, align_corners, scale)
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < in_n - 1)
    lam = src - i0
    return [(i0, 1.0 - lam), (i1, lam)]


def _resample_dim(x: Tensor, axis: int, mode, out_n, align_corners, scale) -> Tensor:
    in_n = x._data.shape[axis]
    taps = _taps(mode, out_n, in_n, align_corners, scale)
    y = None
    wshape = [1] * x.ndim
    wshape[axis] = out_n
    for k, (idx, w) in enumerate(taps):
        it = index_tensor(("interp", mode, out_n, in_n, align_corners, scale, k), x._device,
                          lambda idx=idx: idx)
        part = take(x, axis, it)
        if w is not None:
            part = part * tensor(w.reshape(wshape), dtype=x._dtype, device=x._device)
        y = part if y is None else y + part
    return y


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners=None, recompute_scale_factor=None, antialias: bool = False) -> Tensor:
    """torch.nn.functional.interpolate (nearest, nearest-exact, (bi/tri)linear, bicubic, area)."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    if mode not in _MODES or dim not in (1, 2, 3):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: nearest | linear | bilinear | "
                                  "bicubic | trilinear | lanczos | area | nearest-exact (got "
                                  f"{mode})")
    if mode in _NEED and input.ndim != _NEED[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_NEED[mode]}D input")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by deepforge")
    in_sp = list(input._data.shape[2:])
    scales = None
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(f"Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of {in_sp} "
                                 f"and output size of {size}. Please provide input tensor in (N, "
                                 "C, "
                                 "d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                                 "format.")
            out = [int(s) for s in size]
        else:
            out = [int(size)] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(f"Input and scale_factor must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of {in_sp} "
                                 f"and scale_factor of shape {scale_factor}. Please provide input "
                                 "tensor in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, "
                                 "s2, ...,sK) format.")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        out = [int(math.floor(n * s)) for n, s in zip(in_sp, scales)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor or mode == "area":
        scales = None
    if any(o <= 0 for o in out) or any(n <= 0 for n in in_sp):
        names = ["D", "H", "W"][3 - dim:]
        raise RuntimeError("Input and output sizes should be greater than 0, but got input ("
                           + ", ".join(f"{a}: {n}" for a, n in zip(names, in_sp)) + ") output ("
                           + ", ".join(f"{a}: {n}" for a, n in zip(names, out)) + ")")
    if mode == "area":
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[dim - 1](input, out)
    kind = "bicubic" if mode == "bicubic" else "linear" if mode in _NEED else mode
    y = input
    for i in range(dim):
        s = scales[i] if scales is not None else None
        if kind in ("nearest", "nearest-exact") and out[i] == in_sp[i]:
            continue
        y = _resample_dim(y, 2 + i, kind, out[i], align_corners, s)
    return y if y is not input else input.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# shuffles -----------------------------------------------------------------------------------------
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    *b, C, H, W = input._data.shape
    if C % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible "
                           f"by the square of upscale_factor, but input.size(-3)={C} is not "
                           f"divisible by {r * r}")
    nb = len(b)
    x = input.reshape(*b, C // (r * r), r, r, H, W)
    perm = list(range(nb)) + [nb, nb + 3, nb + 1, nb + 4, nb + 2]
    return x.permute(*perm).reshape(*b, C // (r * r), H * r, W * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    *b, C, H, W = input._data.shape
    if H % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, "
                           f"but input.size(-2)={H} is not divisible by {r}")
    if W % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, "
                           f"but input.size(-1)={W} is not divisible by {r}")
    nb = len(b)
    x = input.reshape(*b, C, H // r, r, W // r, r)
    perm = list(range(nb)) + [nb, nb + 2, nb + 4, nb + 1, nb + 3]
    return x.permute(*perm).reshape(*b, C * r * r, H // r, W // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dims")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    N, C = input._data.shape[:2]
    if C % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {C} channels and "
                           f"{groups} groups.")
    rest = input._data.shape[2:]
    return input.reshape(N, groups, C // groups, *rest).transpose(1, 2).reshape(input._data.shape)
