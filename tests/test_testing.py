"""deepforge.testing: assert_close passes and fails where torch's does, with torch's messages."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import deepforge as df
from deepforge.testing import assert_allclose, assert_close, make_tensor

NAN, INF = float("nan"), float("inf")

# (actual, expected, actual dtype, expected dtype, options)
TENSOR_CASES = [
    ([1.0, 2.0, 3.0], [1.0, 2.5, 3.0], "float32", "float32", {}),
    ([1.0, 2.0, 3.0], [1.0, 2.0000001, 3.0], "float32", "float32", {}),
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "float32", "float64", {}),
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "float32", "float64", {"check_dtype": False}),
    ([1.0, 2.0, 3.0], [1.0, 2.00001, 3.0], "float32", "float64", {"check_dtype": False}),
    ([1.0, 2.0], [1.0, 2.0, 3.0], "float32", "float32", {}),
    ([[1.0, 2.0], [3.0, 4.0]], [[1.0, 2.0], [3.5, -4.0]], "float64", "float64", {}),
    ([1, 2, 3], [1, 2, 4], "int64", "int64", {}),
    ([1, 2, 3], [1, 2, 4], "int32", "int32", {"rtol": 0.5, "atol": 0.0}),
    ([True, False], [True, True], "bool", "bool", {}),
    (2.0, 1.0, "float32", "float32", {}),
    (1.0, 0.0, "float64", "float64", {}),
    ([[1.0, NAN]], [[1.0, NAN]], "float32", "float32", {}),
    ([[1.0, NAN]], [[1.0, NAN]], "float32", "float32", {"equal_nan": True}),
    ([1.0, INF], [1.0, INF], "float32", "float32", {}),
    ([1.0, INF], [1.0, -INF], "float32", "float32", {}),
    ([0.0, 0.0], [0.0, 1e-30], "float32", "float32", {}),
    ([1.0, 1.0009], [1.0, 1.0], "float16", "float16", {}),
    ([1.0, 1.01], [1.0, 1.0], "float16", "float16", {}),
    ([1.0, 1.1], [1.0, 1.0], "float32", "float32", {"rtol": 0.2, "atol": 0.0}),
    ([1.0, 1.1], [1.0, 1.0], "float32", "float32", {"rtol": 0.0, "atol": 0.0}),
    ([1.0, 2.0], [1.0, 2.0], "float32", "float32", {"rtol": 0.1}),
]


def _outcome(fn, *args, **kwargs) -> str:
    try:
        fn(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - the exception type is what is compared
        return f"{type(e).__name__}: " + str(e).replace("torch.", "").replace("deepforge.", "")
    return "pass"


@pytest.mark.parametrize("actual, expected, da, de, options", TENSOR_CASES)
def test_tensor_outcomes_match_torch(device, actual, expected, da, de, options):
    torch = pytest.importorskip("torch")
    ref = _outcome(
        torch.testing.assert_close,
        torch.tensor(actual, dtype=getattr(torch, da)),
        torch.tensor(expected, dtype=getattr(torch, de)),
        **options,
    )
    got = _outcome(
        assert_close,
        df.tensor(actual, dtype=getattr(df, da), device=device),
        df.tensor(expected, dtype=getattr(df, de), device=device),
        **options,
    )
    assert got == ref


NON_TENSOR_CASES = [
    (1.0, 1.5),
    (1, 1),
    (1, 2),
    (1.0, 1.0 + 1e-9),
    (True, False),
    (None, None),
    (None, 1),
    ("a", "a"),
    ((1, 2), (1, 2, 3)),
    ([1.0, 2.0], [1.0, 2.5]),
    ({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 3.0}),
    ({"a": 1.0}, {"b": 1.0}),
    (np.float32(1.0), 1.0),
    (complex(1, 1), complex(1, 2)),
    (NAN, NAN),
]


@pytest.mark.parametrize("actual, expected", NON_TENSOR_CASES)
def test_python_values_match_torch(actual, expected):
    torch = pytest.importorskip("torch")
    assert _outcome(assert_close, actual, expected) == _outcome(
        torch.testing.assert_close, actual, expected
    )


def test_nested_tensors_report_the_item(device):
    torch = pytest.importorskip("torch")

    def build(lib, dev):
        return {"w": [lib.ones(2, device=dev), lib.tensor([1.0, 3.0], device=dev)]}

    ref = _outcome(torch.testing.assert_close, build(torch, "cpu"), {"w": [torch.ones(2)] * 2})
    got = _outcome(assert_close, build(df, device), {"w": [df.ones(2, device=device)] * 2})
    assert got == ref
    assert got.endswith("The failure occurred for item ['w'][1]")


def test_type_and_device_checks(device):
    with pytest.raises(TypeError, match="No comparison pair was able to handle inputs of type"):
        assert_close(df.tensor([1.0]), [1.0])
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol' must be either specified"):
        assert_close(df.tensor([1.0]), df.tensor([1.0]), atol=1.0)
    other = "cpu" if device != "cpu" else None
    if other is not None:
        a, b = df.ones(2, device=device), df.ones(2)
        with pytest.raises(AssertionError, match="The values for attribute 'device' do not match"):
            assert_close(a, b)
        assert_close(a, b, check_device=False)


def test_msg_override_and_callable():
    with pytest.raises(AssertionError, match="^custom$"):
        assert_close(df.tensor([1.0]), df.tensor([2.0]), msg="custom")
    with pytest.raises(AssertionError, match="(?s)^Scalars are not close!.*\\nFooter$") as info:
        assert_close(df.tensor(1.0), df.tensor(2.0), msg=lambda m: m + "\nFooter")
    assert "Expected 2.0 but got 1.0." in str(info.value)


def test_assert_allclose_is_deprecated_and_looser():
    torch = pytest.importorskip("torch")
    for actual, expected in [([1.0, 1.00001], [1.0, 1.0]), ([1.0, 1.001], [1.0, 1.0])]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            ref = _outcome(torch.testing.assert_allclose, torch.tensor(actual), expected)
        with pytest.warns(FutureWarning, match="assert_allclose\\(\\)` is deprecated"):
            got = _outcome(assert_allclose, df.tensor(actual), expected)
        assert got == ref


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "uint8"])
def test_make_tensor_ranges_and_layout(device, dtype):
    d = getattr(df, dtype)
    t = make_tensor(4, 5, dtype=d, device=device)
    assert t.shape == (4, 5) and t.dtype == d and t.device == df.device(device)
    values = t.cpu().numpy().astype(np.float64)
    lo, hi = (0, 10) if dtype == "uint8" else (-9, 10 if not d.is_floating_point else 9)
    assert values.min() >= lo and values.max() < hi
    t = make_tensor((3, 4), dtype=d, device=device, low=2, high=5, noncontiguous=True)
    assert not t.is_contiguous() and t.shape == (3, 4)
    values = t.cpu().numpy().astype(np.float64)
    assert values.min() >= 2 and values.max() <= 5
    nz = make_tensor(50, dtype=d, device=device, low=-1, high=1, exclude_zero=True)
    assert (nz.cpu().numpy() != 0).all()


def test_make_tensor_bool_and_grad():
    b = make_tensor(200, dtype=df.bool, device="cpu")
    assert b.dtype == df.bool and 0 < int(b.sum()) < 200
    g = make_tensor(2, 2, dtype=df.float64, device="cpu", requires_grad=True)
    assert g.requires_grad and g.is_leaf
    with pytest.raises(ValueError, match="`requires_grad=True` is not supported for boolean"):
        make_tensor(2, dtype=df.int64, device="cpu", requires_grad=True)
    with pytest.raises(ValueError, match="`low` must be less than `high`, but got 3 >= 1"):
        make_tensor(2, dtype=df.float32, device="cpu", low=3, high=1)
    assert math.isfinite(float(make_tensor((), dtype=df.float32, device="cpu")))
