"""Closeness and membership tests: ``isclose``, ``allclose``, ``equal``, ``isin``.

Composite Tensor expressions (no kernels of their own), so they run on every backend.
"""

from __future__ import annotations

from .. import _dtype as dt
from ..tensor import Tensor
from . import _dispatch as D

__all__ = ["isclose", "allclose", "equal", "isin"]


_pretty = dt.scalar_type_name


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise (infinities equal themselves)."""
    for name, x in (("input", input), ("other", other)):
        if not isinstance(x, Tensor):
            raise TypeError(f"isclose(): argument '{name}' must be Tensor, not {type(x).__name__}")
    if input._dtype is not other._dtype:
        raise RuntimeError(f"{_pretty(input._dtype)} did not match {_pretty(other._dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    D.check_same_device("isclose", input, other)
    a, b = input.detach(), other.detach()
    close = a == b
    if equal_nan and a._dtype.is_floating_point:
        close = close | (a.isnan() & b.isnan())
    if (rtol == 0 and atol == 0) or a._dtype is dt.bool_:
        return close
    if not a._dtype.is_floating_point:
        a, b = a.to(dt.get_default_dtype()), b.to(dt.get_default_dtype())
    err = (a - b).abs()
    allowed = (b * rtol).abs() + atol
    return close | (err.isfinite() & (err <= allowed))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same values."""
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        bad = other if isinstance(input, Tensor) else input
        raise TypeError(f"equal(): argument must be Tensor, not {type(bad).__name__}")
    D.check_same_device("equal", input, other)
    if input._data.shape != other._data.shape:
        return False
    return bool((input.detach() == other.detach()).all().item())


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each element of ``elements`` occurs in ``test_elements`` (either may be a scalar)."""
    from .creation import tensor

    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin(): at least one of 'elements' and 'test_elements' must be a Tensor")
    if not isinstance(elements, Tensor):
        elements = tensor(elements, device=test_elements._device)
    if not isinstance(test_elements, Tensor):
        test_elements = tensor(test_elements, device=elements._device)
    D.check_same_device("isin", elements, test_elements)
    e = elements.detach()
    t = test_elements.detach().reshape(-1)
    if t.numel() == 0 or e.numel() == 0:
        from .creation import zeros

        hit = zeros(e._data.shape, dtype=dt.bool_, device=e._device)
    else:
        hit = (e.reshape(-1, 1) == t.reshape(1, -1)).any(1).reshape(e._data.shape)
    return ~hit if invert else hit
