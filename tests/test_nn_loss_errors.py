"""Losses given bad targets: PyTorch's error types and messages (wrong dtype, shape, bounds)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close
from test_nn_loss import LOSSES, _mk

import deepforge as df
import deepforge.nn.functional as F


# -- bad inputs -------------------------------------------------------------------------------
def test_nll_and_cross_entropy_target_errors():
    x = df.randn(3, 4)
    with pytest.raises(IndexError, match=r"^Target 5 is out of bounds\.$"):
        F.nll_loss(x, df.tensor([0, 5, 1]))
    with pytest.raises(IndexError, match=r"Target -5 is out of bounds\."):
        F.cross_entropy(x, df.tensor([0, -5, 1]))
    with pytest.raises(IndexError, match=r"Target 4 is out of bounds\."):
        F.cross_entropy(x, df.tensor([0, 4, 1]))
    with pytest.raises(
        RuntimeError, match="expected target dtype to be Long or Byte, but got Float"
    ):
        F.nll_loss(x, df.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Int"):
        F.cross_entropy(x, df.tensor([0, 1, 1], dtype=df.int32))
    with pytest.raises(
        RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"
    ):
        F.cross_entropy(x, df.rand(3, 5))
    with pytest.raises(
        RuntimeError, match="0D or 1D target tensor expected, multi-target not supported"
    ):
        F.cross_entropy(x, df.zeros(3, 2, dtype=df.int64))
    with pytest.raises(
        RuntimeError,
        match="Expected floating point type for target with class probabilities, got Long",
    ):
        F.cross_entropy(x, df.zeros(3, 4, dtype=df.int64))
    with pytest.raises(
        ValueError, match=r"Expected input batch_size \(3\) to match target batch_size \(2\)\."
    ):
        F.nll_loss(x, df.tensor([0, 1]))
    with pytest.raises(RuntimeError, match=r"Expected target size \[3, 5\], got \[3, 6\]"):
        F.nll_loss(df.randn(3, 4, 5), df.zeros(3, 6, dtype=df.int64))
    with pytest.raises(ValueError, match=r"Expected 1 or more dimensions \(got 0\)"):
        F.nll_loss(df.tensor(1.0), df.tensor(0))
    with pytest.raises(
        RuntimeError, match="weight tensor should be defined either for all 4 classes"
    ):
        F.nll_loss(x, df.tensor([0, 1, 1]), weight=df.ones(3))
    with pytest.raises(
        RuntimeError, match="ignore_index is not supported for floating point target"
    ):
        F.cross_entropy(x, df.rand(3, 4), ignore_index=1)
    with pytest.raises(
        RuntimeError, match=r"label_smoothing must be between 0.0 and 1.0. Got: 1.5"
    ):
        F.cross_entropy(x, df.tensor([0, 1, 1]), label_smoothing=1.5)
    assert_close(
        F.cross_entropy(x, df.tensor([0, 1, 1], dtype=df.uint8)),
        F.cross_entropy(x, df.tensor([0, 1, 1])),
    )


def test_binary_cross_entropy_errors():
    with pytest.raises(
        ValueError,
        match=r"Using a target size \(torch.Size\(\[3\]\)\) that is different to the "
        r"input size \(torch.Size\(\[3, 1\]\)\) is deprecated",
    ):
        F.binary_cross_entropy(df.rand(3, 1), df.rand(3))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(df.tensor([1.5]), df.rand(1))
    with pytest.raises(RuntimeError, match="Found dtype Long but expected Float"):
        F.binary_cross_entropy(df.rand(3), df.tensor([0, 1, 1]))
    with pytest.raises(
        ValueError, match=r"Target size \(torch.Size\(\[3\]\)\) must be the same as input size"
    ):
        F.binary_cross_entropy_with_logits(df.rand(3, 1), df.rand(3))
    with pytest.raises(
        RuntimeError, match="result type Float can't be cast to the desired output type Long"
    ):
        F.binary_cross_entropy_with_logits(df.rand(3), df.tensor([0, 1, 1]))


def test_other_loss_errors():
    with pytest.warns(
        UserWarning, match=r"Using a target size \(torch.Size\(\[3\]\)\) that is different"
    ):
        F.mse_loss(df.rand(3, 1), df.rand(3))
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        F.mse_loss(df.rand(3), df.rand(3), reduction="foo")
    with pytest.raises(
        RuntimeError, match="margin_ranking_loss : All input tensors should have same dimension"
    ):
        F.margin_ranking_loss(df.randn(3), df.randn(3, 1), df.randn(3))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(df.randn(3, 4), df.tensor([0, 1, 2]), p=3)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        F.gaussian_nll_loss(df.randn(3, 4), df.randn(3, 4), df.rand(3, 2))
    with pytest.raises(ValueError, match="var has negative entry/entries"):
        F.gaussian_nll_loss(df.randn(3, 4), df.randn(3, 4), -df.rand(3, 4))
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D input tensors"):
        F.cosine_embedding_loss(df.randn(3, 4, 2), df.randn(3, 4, 2), df.ones(3))
    with pytest.raises(RuntimeError, match="expected to have the same number of dimensions"):
        F.triplet_margin_loss(df.randn(3, 4), df.randn(3, 4), df.randn(4))
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(df.randn(3, 4), df.randn(3, 4), df.randn(3, 4), margin=0)
    with pytest.raises(
        RuntimeError, match="smooth_l1_loss does not support negative values for beta"
    ):
        F.smooth_l1_loss(df.rand(3), df.rand(3), beta=-1.0)
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F.mse_loss(df.rand(3), df.rand(3), weight=df.rand(2))


def _corrupt(arrays, k, how):
    """``arrays`` with argument k given a wrong shape or a wrong dtype."""
    out = list(arrays)
    a, diff = out[k]
    a = np.asarray(a)
    if how == "shape":
        a = np.concatenate([a, a[..., :1]], -1) if a.ndim else np.stack([a, a])
    elif a.dtype.kind == "f":
        a = np.rint(np.abs(a)).astype(np.int64)
    else:
        a = a.astype(np.float64) + 0.5
    out[k] = (a, False)
    return out


def _outcome(lib, F_, call, arrays):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = call(F_, *_mk(lib, arrays, "float32"), "mean")
            return "ok", tuple(out.shape)
        except Exception as e:  # noqa: BLE001 - the exception type is what is compared
            return type(e).__name__, None


@pytest.mark.parametrize("how", ["shape", "dtype"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_bad_targets_raise_like_torch(name, how):
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF

    make, call = LOSSES[name]
    arrays = make()
    for k in range(1, len(arrays)):
        bad = _corrupt(arrays, k, how)
        assert _outcome(df, F, call, bad) == _outcome(torch, TF, call, bad), (name, k, how)
