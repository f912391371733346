"""Resampling and shuffling layers: interpolate / Upsample, padding layers, PixelShuffle,
PixelUnshuffle, ChannelShuffle, Fold/Unfold modules and channel-wise dropout."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import to_np
from layer_refs import (
    TOL,
    assert_same,
    double_backward_check,
    interpolate,
    pixel_shuffle,
    run_both,
    torch_or_none,
)

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F

INTERP = [
    ((2, 3, 5), dict(size=9, mode="linear")),
    ((2, 3, 5), dict(scale_factor=1.7, mode="linear", align_corners=True)),
    ((2, 3, 5), dict(size=3, mode="nearest")),
    ((2, 2, 4, 5), dict(size=(7, 9), mode="nearest")),
    ((2, 2, 4, 5), dict(scale_factor=2, mode="nearest")),
    ((2, 2, 4, 5), dict(scale_factor=1.5, mode="nearest-exact")),
    ((2, 2, 4, 5), dict(size=(7, 3), mode="bilinear")),
    ((2, 2, 4, 5), dict(size=(7, 9), mode="bilinear", align_corners=True)),
    ((2, 2, 4, 5), dict(scale_factor=1.6, mode="bilinear")),
    ((2, 2, 4, 5), dict(scale_factor=(1.6, 0.7), mode="bilinear", recompute_scale_factor=True)),
    ((2, 2, 4, 5), dict(size=(6, 7), mode="bicubic")),
    ((2, 2, 4, 5), dict(scale_factor=1.5, mode="bicubic", align_corners=True)),
    ((1, 2, 3, 4, 2), dict(size=(5, 3, 4), mode="trilinear")),
    ((1, 2, 3, 4, 2), dict(scale_factor=2, mode="nearest")),
]


def _ref_size_scales(shape, kw):
    sp = shape[2:]
    if "size" in kw:
        size = kw["size"] if isinstance(kw["size"], tuple) else (kw["size"],) * len(sp)
        return size, None
    sf = kw["scale_factor"]
    sf = sf if isinstance(sf, tuple) else (sf,) * len(sp)
    size = tuple(int(np.floor(n * s)) for n, s in zip(sp, sf))
    return size, (None if kw.get("recompute_scale_factor") else sf)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,kw", INTERP,
                         ids=[f"{c[1]['mode']}-{i}" for i, c in enumerate(INTERP)])
def test_interpolate(device, dtype, shape, kw):
    x = np.random.default_rng(0).standard_normal(shape)
    size, scales = _ref_size_scales(shape, kw)
    ref = interpolate(x, size, kw["mode"], kw.get("align_corners", False), scales)
    y = F.interpolate(df.tensor(x.astype(dtype), device=device), **kw)
    np.testing.assert_allclose(to_np(y), ref, **TOL[dtype])
    torch = torch_or_none()
    if torch is not None:
        assert_same(*run_both(lambda t: F.interpolate(t, **kw),
                              lambda t: torch.nn.functional.interpolate(t, **kw), [x], dtype,
                              device),
                    dtype)


@pytest.mark.parametrize("kw", [dict(size=(5, 7), mode="bilinear", align_corners=False),
                                dict(scale_factor=1.5, mode="bicubic"),
                                dict(size=(3, 5), mode="nearest"), dict(size=(2, 3), mode="area")])
def test_interpolate_gradcheck(device, kw):
    x = df.tensor(np.random.default_rng(1).standard_normal((1, 2, 4, 3)), device=device,
                  requires_grad=True)
    assert df.autograd.gradcheck(lambda t: F.interpolate(t, **kw), (x,), fast_mode=device != "cpu")


@pytest.mark.parametrize("fn", [
    lambda t: F.interpolate(t, scale_factor=1.5, mode="bilinear"),
    lambda t: F.interpolate(t, size=(5, 4), mode="bicubic", align_corners=True),
    lambda t: F.pad(t, (2, 1, 1, 2), mode="reflect") ** 2,
    lambda t: F.pixel_shuffle(t, 2) ** 2,
], ids=["bilinear", "bicubic", "reflect-pad", "pixel-shuffle"])
def test_resample_double_backward(device, fn):
    x = df.tensor(np.random.default_rng(6).standard_normal((1, 4, 3, 3)), device=device,
                  requires_grad=True)
    assert double_backward_check(fn, (x,))


def test_upsample_modules(device):
    torch = torch_or_none()
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 4)).astype(np.float32)
    mods = [nn.Upsample(scale_factor=2), nn.Upsample(size=(5, 7), mode="bilinear"),
            nn.Upsample(scale_factor=(2, 1.5), mode="bicubic", align_corners=True),
            nn.UpsamplingNearest2d(scale_factor=3), nn.UpsamplingBilinear2d(size=6)]
    for m in mods:
        y = m(df.tensor(x, device=device))
        if torch is not None:
            cls = getattr(torch.nn, type(m).__name__)
            tm = cls(m.size, m.scale_factor, m.mode, m.align_corners) if cls is torch.nn.Upsample \
                else cls(m.size, m.scale_factor)
            assert repr(m) == repr(tm)
            np.testing.assert_allclose(to_np(y), tm(torch.tensor(x)).numpy(), rtol=1e-4, atol=1e-5)


PADS = [
    ("ZeroPad1d", (2, 1), (2, 3, 5)), ("ZeroPad2d", (1, 0, 2, 1), (2, 3, 4, 5)),
    ("ConstantPad1d", ((3, 1), 1.5), (2, 3, 4)), ("ConstantPad2d", (2, -1.0), (2, 2, 3, 4)),
    ("ConstantPad3d", ((1, 0, 0, 2, 1, 1), 0.5), (1, 2, 2, 3, 2)),
    ("ReflectionPad1d", (2, 3), (2, 3, 5)), ("ReflectionPad2d", (1, 2, 2, 0), (2, 2, 4, 5)),
    ("ReplicationPad1d", (3, 1), (2, 3, 4)), ("ReplicationPad2d", 2, (2, 2, 3, 4)),
    ("ReplicationPad3d", (1, 0, 2, 1, 0, 1), (1, 2, 2, 3, 2)),
    ("CircularPad2d", (1, 2, 2, 1), (2, 2, 3, 4)),
]


@pytest.mark.parametrize("name,arg,shape,dtype",
                         [(*c, np.float64 if i % 3 == 0 else np.float32)
                          for i, c in enumerate(PADS)], ids=[c[0] for c in PADS])
def test_padding_modules(device, dtype, name, arg, shape):
    torch = torch_or_none()
    if torch is None:
        pytest.skip("torch is not installed")
    args = arg if isinstance(arg, tuple) and name.startswith("Constant") else (arg,)
    m, tm = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(m) == repr(tm)
    x = np.random.default_rng(3).standard_normal(shape)
    assert_same(*run_both(m, tm, [x], dtype, device), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pixel_and_channel_shuffle(device, dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 8, 3, 4))
    y = F.pixel_shuffle(df.tensor(x.astype(dtype), device=device), 2)
    np.testing.assert_allclose(to_np(y), pixel_shuffle(x, 2), **TOL[dtype])
    back = nn.PixelUnshuffle(2)(y)
    np.testing.assert_allclose(to_np(back), x, **TOL[dtype])
    cs = nn.ChannelShuffle(4)(df.tensor(x.astype(dtype), device=device))
    shuffled = x.reshape(2, 4, 2, 3, 4).transpose(0, 2, 1, 3, 4).reshape(x.shape)
    np.testing.assert_allclose(to_np(cs), shuffled, **TOL[dtype])
    torch = torch_or_none()
    if torch is not None:
        assert_same(*run_both(nn.PixelShuffle(2), torch.nn.PixelShuffle(2), [x], dtype, device),
                    dtype)
        assert_same(*run_both(nn.PixelUnshuffle(2), torch.nn.PixelUnshuffle(2),
                              [rng.standard_normal((1, 3, 4, 6))], dtype, device), dtype)
        assert_same(*run_both(nn.ChannelShuffle(2), torch.nn.ChannelShuffle(2), [x], dtype, device,
                              grad=False), dtype)


def test_shuffle_gradcheck(device):
    x = df.tensor(np.random.default_rng(5).standard_normal((1, 4, 2, 3)), device=device,
                  requires_grad=True)
    fm = device != "cpu"
    assert df.autograd.gradcheck(lambda t: F.pixel_shuffle(t, 2), (x,), fast_mode=fm)
    assert df.autograd.gradcheck(lambda t: F.channel_shuffle(t, 2), (x,), fast_mode=fm)
    assert df.autograd.gradcheck(lambda t: F.pad(t, (1, 2, 1, 0), mode="reflect"), (x,),
                                 fast_mode=fm)


def test_fold_modules(device):
    x = df.randn(2, 3, 5, 6, device=device)
    cols = nn.Unfold((2, 3), padding=1, stride=(2, 1))(x)
    assert cols.shape == (2, 18, 3 * 6)
    assert nn.Fold((5, 6), (2, 3), padding=1, stride=(2, 1))(cols).shape == (2, 3, 5, 6)
    torch = torch_or_none()
    if torch is not None:
        assert repr(nn.Fold((4, 4), 2)) == repr(torch.nn.Fold((4, 4), 2))
        assert repr(nn.Unfold(2, stride=2)) == repr(torch.nn.Unfold(2, stride=2))


def test_dropout2d_zeroes_whole_channels(device):
    m = nn.Dropout2d(0.5)
    x = df.ones(8, 16, 5, 5, device=device)
    y = to_np(m(x))
    per_channel = y.reshape(8, 16, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    frac = (per_channel[..., 0] == 0).mean()
    assert 0.3 < frac < 0.7
    m.eval()
    np.testing.assert_array_equal(to_np(m(x)), to_np(x))
    y1 = to_np(nn.Dropout1d(0.5)(df.ones(4, 8, 6, device=device)))
    assert np.all((y1 == 0).all(-1) | (y1 == 2.0).all(-1))
    y3 = to_np(nn.Dropout3d(0.5)(df.ones(2, 8, 2, 3, 2, device=device))).reshape(2, 8, -1)
    assert np.all((y3 == 0).all(-1) | (y3 == 2.0).all(-1))
    x = df.ones(4, 8, 3, 3, device=device, requires_grad=True)
    out = F.dropout2d(x, 0.5, training=True)
    out.sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), to_np(out))


def test_resample_errors():
    x = df.randn(1, 2, 3, 3)
    with pytest.raises(ValueError, match="only one of size or scale_factor should be defined"):
        F.interpolate(x, size=4, scale_factor=2.0)
    with pytest.raises(ValueError, match="either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(NotImplementedError, match="Got 3D input, but bilinear mode needs 4D input"):
        F.interpolate(df.randn(1, 2, 3), size=4, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners option can only be set with the "
                                         "interpolating modes"):
        F.interpolate(x, size=4, align_corners=True)
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful with an "
                                         "explicit"):
        F.interpolate(x, size=4, recompute_scale_factor=True)
    with pytest.raises(RuntimeError, match=r"pixel_shuffle expects its input's 'channel' "
                                           r"dimension to "
                                           r"be divisible by the square of upscale_factor, but "
                                           r"input\.size\(-3\)=3 is not divisible by 4"):
        F.pixel_shuffle(df.randn(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match=r"pixel_unshuffle expects height to be divisible"):
        F.pixel_unshuffle(df.randn(1, 3, 5, 4), 2)
    with pytest.raises(RuntimeError, match=r"Number of channels must be divisible by groups\. Got "
                                           r"3 "
                                           r"channels and 2 groups\."):
        F.channel_shuffle(df.randn(1, 3, 5, 4), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            F.dropout2d(x, 1.5)
