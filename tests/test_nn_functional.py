"""Functional ops without a layer of their own: ``pad`` (all modes, vs numpy and PyTorch, with
gradients) and ``one_hot``; plus the padding modules."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F
from deepforge.autograd import gradcheck


def _rng(seed=0):
    return np.random.default_rng(seed)


def _t(a, device="cpu", dtype=df.float64, rg=False):
    return df.tensor(np.asarray(a), dtype=dtype, device=device, requires_grad=rg)


# -- padding ----------------------------------------------------------------------------------
PADS = [
    ((1, 2), "constant", (2, 3, 4)),
    ((1, 0, 2, 1), "constant", (2, 3, 4)),
    ((-1, 2, 0, 1), "constant", (2, 3, 4)),
    ((1, 1, 1, 1, 1, 1), "constant", (1, 2, 3, 3)),
    ((2, 1), "reflect", (2, 3, 4)),
    ((1, 2, 2, 1), "reflect", (1, 2, 3, 4)),
    ((1, 1, 1, 1, 1, 1), "reflect", (1, 2, 2, 3, 3)),
    ((3, 1), "replicate", (2, 3, 4)),
    ((1, 2, 3, 0), "replicate", (2, 3, 4)),
    ((2, 1, 1, 1, 1, 2), "replicate", (1, 1, 2, 3, 2)),
    ((2, 3), "circular", (2, 3, 4)),
    ((1, 2, 2, 1), "circular", (1, 2, 3, 4)),
    ((-1, 1), "reflect", (1, 2, 4)),
]


@pytest.mark.parametrize("pad,mode,shape", PADS)
def test_pad_matches_torch_and_numpy(pad, mode, shape, device):
    x = _rng(18).standard_normal(shape)
    out = F.pad(_t(x, device), pad, mode, **({"value": 1.5} if mode == "constant" else {}))
    if all(p >= 0 for p in pad):
        npmode = {
            "constant": "constant",
            "reflect": "reflect",
            "replicate": "edge",
            "circular": "wrap",
        }[mode]
        widths = [(0, 0)] * (len(shape) - len(pad) // 2) + [
            (pad[2 * i], pad[2 * i + 1]) for i in reversed(range(len(pad) // 2))
        ]
        kw = {"constant_values": 1.5} if mode == "constant" else {}
        assert_close(out, np.pad(x, widths, mode=npmode, **kw))
    xd = _t(x[..., :3] if x.shape[-1] > 3 else x, device, rg=True)
    assert gradcheck(lambda t: F.pad(t, pad, mode), (xd,))
    torch = pytest.importorskip("torch")
    xt = torch.tensor(x, requires_grad=True)
    xg = df.tensor(x, requires_grad=True)
    yt = torch.nn.functional.pad(xt, pad, mode)
    yd = F.pad(xg, pad, mode)
    assert_close(yd, yt.detach().numpy())
    g = _rng(19).standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(g))
    yd.backward(df.tensor(g))
    assert_close(xg.grad, xt.grad.numpy(), rtol=1e-10)


def test_pad_errors():
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(df.randn(1, 1, 3), (1,))
    with pytest.raises(
        RuntimeError,
        match="Padding length should be less than or equal to two times the input dimension",
    ):
        F.pad(df.randn(3), (1, 1, 1, 1))
    with pytest.raises(
        RuntimeError,
        match=r"Argument #4: Padding size should be less than the corresponding input "
        r"dimension, but got: padding \(3, 3\) at dimension 2 of input \[1, 1, 3\]",
    ):
        F.pad(df.randn(1, 1, 3), (3, 3), mode="reflect")
    with pytest.raises(
        NotImplementedError, match="Padding size 2 is not supported for 1D input tensor"
    ):
        F.pad(df.randn(3), (1, 1), mode="reflect")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        F.pad(df.randn(1, 3), (1, 1), mode="foo")
    with pytest.raises(RuntimeError, match="Padding value causes wrapping around more than once"):
        F.pad(df.randn(1, 1, 3), (4, 0), mode="circular")


def test_padding_modules_match_torch():
    torch = pytest.importorskip("torch")
    x = _rng(20).standard_normal((1, 2, 3, 4, 5))
    specs = [
        ("ConstantPad1d", ((1, 2), 3.5)),
        ("ConstantPad2d", (1, 0.5)),
        ("ConstantPad3d", (1, 0.0)),
        ("ZeroPad1d", (1,)),
        ("ZeroPad2d", ((1, 0, 2, 1),)),
        ("ZeroPad3d", (1,)),
        ("ReflectionPad1d", (2,)),
        ("ReflectionPad2d", (1,)),
        ("ReflectionPad3d", (1,)),
        ("ReplicationPad1d", (2,)),
        ("ReplicationPad2d", ((1, 2, 0, 1),)),
        ("ReplicationPad3d", (1,)),
        ("CircularPad1d", (1,)),
        ("CircularPad2d", (1,)),
        ("CircularPad3d", (1,)),
    ]
    for name, args in specs:
        m, tm = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(m) == repr(tm)
        xi = {1: x[0, 0], 2: x[0], 3: x}[int(name[-2])]
        assert_close(m(df.tensor(xi)), tm(torch.tensor(xi)).numpy()), name


def test_one_hot(device):
    t = df.tensor([[0, 2], [3, 1]], device=device)
    oh = F.one_hot(t)
    assert oh.dtype == df.int64 and tuple(oh.shape) == (2, 2, 4)
    assert_close(oh, np.eye(4, dtype=np.int64)[[[0, 2], [3, 1]]])
    assert tuple(F.one_hot(t, 6).shape) == (2, 2, 6)
    assert tuple(F.one_hot(df.tensor([], dtype=df.int64), 3).shape) == (0, 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative."):
        F.one_hot(df.tensor([0, -1]))
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes."):
        F.one_hot(df.tensor([0, 3]), 3)
    with pytest.raises(
        RuntimeError, match="one_hot is only applicable to index tensor of type LongTensor."
    ):
        F.one_hot(df.tensor([0.0, 1.0]))
    with pytest.raises(
        RuntimeError, match="Can not infer total number of classes from empty tensor."
    ):
        F.one_hot(df.tensor([], dtype=df.int64))
