"""``deepforge.testing``: ``assert_close``, ``make_tensor`` and ``assert_allclose``, as in
``torch.testing``.

Values are compared on host copies with numpy, in the tensors' own dtype, so the reported
differences are the ones PyTorch reports (a float32 relative difference is a float32 quotient).
The error messages follow ``torch.testing.assert_close`` line for line, so a test that matches
on them works against either library.
"""

from __future__ import annotations

import collections.abc
import contextlib
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import deepforge as df
from deepforge import Tensor

__all__ = ["assert_close", "assert_allclose", "make_tensor"]

# {dtype name: (rtol, atol)}; every other dtype (integers, bool) is compared for equality.
_DTYPE_PRECISIONS = {
    "float16": (0.001, 1e-5),
    "bfloat16": (0.016, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex32": (0.001, 1e-5),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}
# Python numbers are compared as the dtype PyTorch maps them to.
_NUMBER_DTYPE = {int: "int64", float: "float64", complex: "complex128"}


class _Mismatch(Exception):
    """A failed comparison: the exception type to raise, its message and the item path."""

    def __init__(self, exc_type: type[Exception], msg: str, path: tuple = ()) -> None:
        super().__init__(msg)
        self.exc_type, self.msg, self.path = exc_type, msg, path

    def to_error(self, msg: str | Callable[[str], str] | None = None) -> Exception:
        if isinstance(msg, str):
            return self.exc_type(msg)
        text = self.msg
        if self.path:
            text += f"\n\nThe failure occurred for item {''.join(str([i]) for i in self.path)}"
        return self.exc_type(msg(text) if callable(msg) else text)


def _dtype_name(d: Any) -> str:
    return d.name if hasattr(d, "name") else str(d).rsplit(".", 1)[-1]


def _default_tolerances(*dtypes: Any, precisions: dict | None = None) -> tuple[float, float]:
    table = precisions or _DTYPE_PRECISIONS
    rtols, atols = zip(*[table.get(_dtype_name(d), (0.0, 0.0)) for d in dtypes])
    return max(rtols), max(atols)


def _tolerances(*dtypes: Any, rtol, atol, path: tuple) -> tuple[float, float]:
    if (rtol is None) ^ (atol is None):
        raise _Mismatch(
            ValueError,
            "Both 'rtol' and 'atol' must be either specified or omitted, "
            f"but got no {'rtol' if rtol is None else 'atol'}.",
            path,
        )
    if rtol is not None:
        return rtol, atol
    return _default_tolerances(*dtypes)


def _mismatch_msg(
    *, kind: str, extra: str, abs_diff, abs_idx, atol, rel_diff, rel_idx, rtol
) -> str:
    equality = rtol == 0 and atol == 0

    def line(name: str, diff, idx, tol) -> str:
        text = (
            f"{name.title()} difference: {diff}"
            if idx is None
            else f"Greatest {name} difference: {diff} at index {idx}"
        )
        return text + ("" if equality else f" (up to {tol} allowed)") + "\n"

    msg = f"{kind} are not {'equal' if equality else 'close'}!\n\n{extra.strip()}\n"
    msg += line("absolute", abs_diff, abs_idx, atol) + line("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _scalar_mismatch_msg(actual, expected, *, rtol: float, atol: float) -> str:
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg(
        kind="Scalars",
        extra=f"Expected {expected} but got {actual}.",
        abs_diff=abs_diff,
        abs_idx=None,
        atol=atol,
        rel_diff=rel_diff,
        rel_idx=None,
        rtol=rtol,
    )


def _tensor_mismatch_msg(
    actual: np.ndarray, expected: np.ndarray, matches: np.ndarray, *, rtol: float, atol: float
) -> str:
    total = matches.size
    bad = total - int(matches.sum())
    extra = f"Mismatched elements: {bad} / {total} ({bad / total:.1%})"
    a, e, m = actual.reshape(-1), expected.reshape(-1), matches.reshape(-1)
    if a.dtype.kind not in "fc":
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(all="ignore"):
        abs_diff = np.abs(a - e)
        abs_diff[m] = 0
        rel_diff = abs_diff / np.abs(e)
        rel_diff[m] = 0

    def greatest(diff: np.ndarray):
        # argmax lands on the first NaN, as torch.max does
        idx = int(np.argmax(diff))
        return diff[idx].item(), tuple(int(i) for i in np.unravel_index(idx, matches.shape))

    abs_val, abs_idx = greatest(abs_diff)
    rel_val, rel_idx = greatest(rel_diff)
    return _mismatch_msg(
        kind="Tensor-likes",
        extra=extra,
        abs_diff=abs_val,
        abs_idx=abs_idx,
        atol=atol,
        rel_diff=rel_val,
        rel_idx=rel_idx,
        rtol=rtol,
    )


def _isclose(a: np.ndarray, e: np.ndarray, rtol: float, atol: float, equal_nan: bool) -> np.ndarray:
    if a.dtype.kind not in "fc" and rtol == 0 and atol == 0:
        return a == e
    if a.dtype.kind not in "fc":
        a, e = a.astype(np.float64), e.astype(np.float64)
    with np.errstate(all="ignore"):
        return np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)


def _host(t: Tensor) -> np.ndarray:
    return np.asarray(t.detach().cpu().numpy())


def _compare_tensors(
    actual: Tensor,
    expected: Tensor,
    path: tuple,
    *,
    rtol,
    atol,
    equal_nan,
    check_device,
    check_dtype,
    check_stride,
) -> None:
    r, a = _tolerances(actual.dtype, expected.dtype, rtol=rtol, atol=atol, path=path)

    def attribute_mismatch(name: str, x, y):
        raise _Mismatch(
            AssertionError, f"The values for attribute '{name}' do not match: {x} != {y}.", path
        )

    if actual.shape != expected.shape:
        attribute_mismatch("shape", actual.shape, expected.shape)
    if check_stride and actual.stride() != expected.stride():
        attribute_mismatch("stride()", actual.stride(), expected.stride())
    if check_device and actual.device != expected.device:
        attribute_mismatch("device", actual.device, expected.device)
    if check_dtype and actual.dtype != expected.dtype:
        attribute_mismatch("dtype", actual.dtype, expected.dtype)
    if actual.dtype != expected.dtype:
        common = df.promote_types(actual.dtype, expected.dtype)
        actual, expected = actual.to(common), expected.to(common)
    act, exp = _host(actual), _host(expected)
    matches = _isclose(act, exp, r, a, equal_nan)
    if bool(np.all(matches)):
        return
    if act.ndim == 0:
        msg = _scalar_mismatch_msg(act.item(), exp.item(), rtol=r, atol=a)
    else:
        msg = _tensor_mismatch_msg(act, exp, matches, rtol=r, atol=a)
    raise _Mismatch(AssertionError, msg, path)


def _compare_numbers(actual, expected, path: tuple, *, rtol, atol, equal_nan) -> None:
    actual, expected = (x.item() if isinstance(x, np.number) else x for x in (actual, expected))
    r, a = _tolerances(
        _NUMBER_DTYPE[type(actual)], _NUMBER_DTYPE[type(expected)], rtol=rtol, atol=atol, path=path
    )
    if actual == expected:
        return
    if equal_nan and _isnan(actual) and _isnan(expected):
        return
    abs_diff = abs(actual - expected)
    if _isfinite(abs_diff) and abs_diff <= a + r * abs(expected):
        return
    raise _Mismatch(AssertionError, _scalar_mismatch_msg(actual, expected, rtol=r, atol=a), path)


def _isnan(x) -> bool:
    return x != x


def _isfinite(x) -> bool:
    return (
        not (math.isinf(x) or math.isnan(x))
        if not isinstance(x, complex)
        else (math.isfinite(x.real) and math.isfinite(x.imag))
    )


def _is_number(x) -> bool:
    return isinstance(x, (int, float, complex, np.number)) and not isinstance(x, (bool, np.bool_))


def _compare(actual, expected, path: tuple, options: dict) -> list[_Mismatch]:
    """Walk nested sequences and mappings like torch's ``originate_pairs``, then compare leaves."""
    seq = collections.abc.Sequence
    if (
        isinstance(actual, seq)
        and not isinstance(actual, str)
        and isinstance(expected, seq)
        and not isinstance(expected, str)
    ):
        if len(actual) != len(expected):
            raise _Mismatch(
                AssertionError,
                f"The length of the sequences mismatch: {len(actual)} != {len(expected)}",
                path,
            )
        return [
            m
            for i in range(len(actual))
            for m in _compare(actual[i], expected[i], (*path, i), options)
        ]
    mapping = collections.abc.Mapping
    if isinstance(actual, mapping) and isinstance(expected, mapping):
        keys_a, keys_e = set(actual.keys()), set(expected.keys())
        if keys_a != keys_e:
            raise _Mismatch(
                AssertionError,
                "The keys of the mappings do not match:\n"
                f"Missing keys in the actual mapping: {sorted(keys_e - keys_a)}\n"
                f"Additional keys in the actual mapping: {sorted(keys_a - keys_e)}",
                path,
            )
        keys = list(keys_a)
        with contextlib.suppress(Exception):
            keys = sorted(keys)
        return [m for k in keys for m in _compare(actual[k], expected[k], (*path, k), options)]
    try:
        _compare_leaf(actual, expected, path, options)
    except _Mismatch as mismatch:
        if mismatch.exc_type is AssertionError:
            return [mismatch]
        raise
    return []


def _compare_leaf(actual, expected, path: tuple, o: dict) -> None:
    if actual is None or expected is None:
        if not (actual is None and expected is None):
            raise _Mismatch(AssertionError, f"None mismatch: {actual} is not {expected}", path)
        return
    bools = (bool, np.bool_)
    if isinstance(actual, bools) and isinstance(expected, bools):
        if bool(actual) is not bool(expected):
            raise _Mismatch(
                AssertionError, f"Booleans mismatch: {bool(actual)} is not {bool(expected)}", path
            )
        return
    if _is_number(actual) and _is_number(expected):
        _compare_numbers(
            actual, expected, path, rtol=o["rtol"], atol=o["atol"], equal_nan=o["equal_nan"]
        )
        return
    if isinstance(actual, Tensor) and isinstance(expected, Tensor):
        if not o["allow_subclasses"] and type(actual) is not type(expected):
            _unsupported(actual, expected, path)
        _compare_tensors(
            actual,
            expected,
            path,
            rtol=o["rtol"],
            atol=o["atol"],
            equal_nan=o["equal_nan"],
            check_device=o["check_device"],
            check_dtype=o["check_dtype"],
            check_stride=o["check_stride"],
        )
        return
    _unsupported(actual, expected, path)


def _unsupported(actual, expected, path: tuple):
    raise _Mismatch(
        TypeError,
        "No comparison pair was able to handle inputs of type "
        f"{type(actual)} and {type(expected)}.",
        path,
    )


def assert_close(
    actual: Any,
    expected: Any,
    *,
    allow_subclasses: bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_device: bool = True,
    check_dtype: bool = True,
    check_layout: bool = True,
    check_stride: bool = False,
    msg: str | Callable[[str], str] | None = None,
) -> None:
    """Assert that ``actual`` and ``expected`` are close: ``|a - e| <= atol + rtol * |e|``.

    Tensors, Python numbers, bools, ``None`` and (nested) sequences and mappings of them, as in
    ``torch.testing.assert_close``; the default tolerances come from the dtype (float32:
    ``rtol=1.3e-6, atol=1e-5``; float64: ``1e-7, 1e-7``; float16: ``1e-3, 1e-5``; integers and
    bool: exact). Raises ``AssertionError`` with the mismatch counts and greatest differences.
    """
    __tracebackhide__ = True
    options = dict(
        allow_subclasses=allow_subclasses,
        rtol=rtol,
        atol=atol,
        equal_nan=equal_nan,
        check_device=check_device,
        check_dtype=check_dtype,
        check_stride=check_stride,
    )
    try:
        mismatches = _compare(actual, expected, (), options)
    except _Mismatch as error:
        raise error.to_error() from None
    if mismatches:
        raise mismatches[0].to_error(msg)


def assert_allclose(
    actual: Any,
    expected: Any,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = True,
    msg: str = "",
) -> None:
    """Deprecated (as in PyTorch): use :func:`assert_close`."""
    warnings.warn(
        "`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a "
        "future release. Please use `torch.testing.assert_close()` instead.",
        FutureWarning,
        stacklevel=2,
    )
    if not isinstance(actual, Tensor):
        actual = df.tensor(actual)
    if not isinstance(expected, Tensor):
        expected = df.tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = _default_tolerances(
            actual.dtype,
            expected.dtype,
            precisions={"float16": (1e-3, 1e-3), "float32": (1e-4, 1e-5), "float64": (1e-5, 1e-8)},
        )
    assert_close(
        actual,
        expected,
        rtol=rtol,
        atol=atol,
        equal_nan=equal_nan,
        check_device=True,
        check_dtype=False,
        check_stride=False,
        msg=msg or None,
    )


def make_tensor(
    *shape: int | Sequence[int],
    dtype: Any,
    device: Any,
    low: float | None = None,
    high: float | None = None,
    requires_grad: bool = False,
    noncontiguous: bool = False,
    exclude_zero: bool = False,
    memory_format: Any = None,
) -> Tensor:
    """A tensor of ``shape`` filled with values uniformly drawn from ``[low, high)``.

    As ``torch.testing.make_tensor``: floats default to ``[-9, 9)``, integers to ``[-9, 10)``
    clamped to the dtype's range (so ``[0, 10)`` for uint8), bools are random;
    ``noncontiguous=True`` returns every other element of a tensor twice as wide;
    ``exclude_zero`` replaces zeros by 1 (integers) or the dtype's smallest normal value.
    """
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    if noncontiguous and memory_format is not None:
        raise ValueError(
            "The parameters `noncontiguous` and `memory_format` are mutually exclusive, "
            f"but got noncontiguous={noncontiguous} and memory_format={memory_format}"
        )
    if memory_format is not None:
        raise NotImplementedError("make_tensor: deepforge tensors have no memory_format")
    d = dtype if isinstance(dtype, df.dtype) else df._dtype.to_dtype(dtype)
    is_float = d.is_floating_point or d.is_complex
    if requires_grad and not is_float:
        raise ValueError(
            "`requires_grad=True` is not supported for boolean and integral dtypes, but got "
            f"dtype={d}"
        )
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])
    if d == df.bool:
        low, high = _low_high(low, high, d, 0, 2, 0, 2)
        result = df.randint(low, high, shape, device=device).to(d)
    elif not is_float:
        info = np.iinfo(d.np)
        top = int(info.max) + (1 if d != df.int64 else 0)
        low, high = _low_high(low, high, d, int(info.min), top, -9, 10)
        result = df.randint(low, high, shape, device=device, dtype=df.int64).to(d)
    else:
        info = np.finfo(d.np)
        low, high = _low_high(low, high, d, float(info.min), float(info.max), -9, 9)
        real = df.float64 if d in (df.float64, df.complex128) else df.float32

        def uniform():
            return df.rand(shape, dtype=real, device=device) * (high - low) + low

        result = (df.complex(uniform(), uniform()) if d.is_complex else uniform()).to(d)
    if noncontiguous:
        result = result[..., 1::2]
    if exclude_zero:
        result[result == 0] = 1 if not is_float else float(np.finfo(d.np).tiny)
    if is_float:
        result.requires_grad = requires_grad
    return result


def _low_high(
    low, high, d, lowest: float, highest: float, default_low: float, default_high: float
) -> tuple[float, float]:
    """torch's ``modify_low_high``: defaults, validation, clamping to the dtype's range."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and (d.is_floating_point or d.is_complex):
        warnings.warn(
            "Passing `low==high` to `torch.testing.make_tensor` for floating or complex types "
            "is deprecated since 2.1 and will be removed in 2.3. Use `torch.full(...)` instead.",
            FutureWarning,
            stacklevel=3,
        )
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest:
        raise ValueError(
            f"The value interval specified by `low` and `high` is [{low}, {high}), "
            f"but {d} only supports [{lowest}, {highest})"
        )
    low, high = min(max(low, lowest), highest), min(max(high, lowest), highest)
    if not (d.is_floating_point or d.is_complex):
        return math.ceil(low), math.ceil(high)
    return low, high
