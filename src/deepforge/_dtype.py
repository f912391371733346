"""dtype objects and PyTorch's type-promotion rules."""

from __future__ import annotations

import numpy as np

__all__ = [
    "dtype",
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool_",
    "get_default_dtype",
    "set_default_dtype",
    "promote_types",
    "result_type",
    "to_dtype",
]

# categories: bool < integer < floating < complex (PyTorch's promotion categories)
_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:  # noqa: N801 - mirrors torch.dtype
    """A tensor element type, like ``torch.dtype``; ``deepforge.float32`` etc. are the instances."""

    __slots__ = (
        "name",
        "np",
        "itemsize",
        "category",
        "is_floating_point",
        "is_complex",
        "is_signed",
    )

    def __init__(self, name: str, np_dtype: str, category: int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.category = category
        self.is_floating_point = category == _FLOAT
        self.is_complex = category == _COMPLEX
        self.is_signed = self.np.kind in "fic"

    def __repr__(self) -> str:
        return f"deepforge.{self.name}"

    def __reduce__(self):
        return (to_dtype, (self.name,))

    def to_real(self) -> dtype:
        return self

    def to_complex(self) -> dtype:
        return complex128 if self is float64 else complex64


float16 = dtype("float16", "float16", _FLOAT)
float32 = dtype("float32", "float32", _FLOAT)
float64 = dtype("float64", "float64", _FLOAT)
complex64 = dtype("complex64", "complex64", _COMPLEX)
complex128 = dtype("complex128", "complex128", _COMPLEX)
int8 = dtype("int8", "int8", _INT)
int16 = dtype("int16", "int16", _INT)
int32 = dtype("int32", "int32", _INT)
int64 = dtype("int64", "int64", _INT)
uint8 = dtype("uint8", "uint8", _INT)
bool_ = dtype("bool", "bool", _BOOL)

ALL_DTYPES = (
    float16,
    float32,
    float64,
    complex64,
    complex128,
    int8,
    int16,
    int32,
    int64,
    uint8,
    bool_,
)
_BY_NP = {d.np: d for d in ALL_DTYPES}
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NAME.update(
    {
        "half": float16,
        "float": float32,
        "double": float64,
        "short": int16,
        "int": int32,
        "long": int64,
        "cfloat": complex64,
        "cdouble": complex128,
        "bool_": bool_,
    }
)

_default_dtype = float32


def get_default_dtype() -> dtype:
    return _default_dtype


def set_default_dtype(d: dtype) -> None:
    global _default_dtype
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d
    for cache in DEFAULT_DTYPE_CACHES:  # promotion results involving Python floats change
        cache.clear()


def to_dtype(d) -> dtype:
    """Accept a deepforge dtype, a numpy dtype / type, a Python type or a name."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return _default_dtype
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    try:
        return _BY_NP[np.dtype(d)]
    except (TypeError, KeyError):
        raise TypeError(f"unsupported dtype: {d!r}") from None


def from_numpy_dtype(np_dtype) -> dtype:
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
            "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, "
            "and bool."
        ) from None


def promote_types(a: dtype, b: dtype) -> dtype:
    """``torch.promote_types``: the higher category wins (int + float16 -> float16);
    within a category the wider type wins (uint8 + int8 -> int16)."""
    if a is b:
        return a
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        if hi.category == _COMPLEX and lo is float64:
            return complex128
        return hi
    return _BY_NP[np.promote_types(a.np, b.np)]


def _scalar_dtype(x) -> dtype:
    if isinstance(x, (bool, np.bool_)):
        return bool_
    if isinstance(x, (int, np.integer)):
        return int64
    if isinstance(x, complex):
        return complex64 if _default_dtype is float32 else complex128
    return _default_dtype


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    # PyTorch's combine_categories: a lower-priority class only matters when it is of a
    # higher category (a 0-dim float64 tensor makes an int tensor's result float64).
    if higher is None:
        return lower
    if lower is None or higher.category >= _FLOAT:
        if higher.category == _FLOAT and lower is not None and lower.category == _COMPLEX:
            return higher.to_complex()
        return higher
    if higher is bool_ or lower.category >= _FLOAT:
        return promote_types(higher, lower)
    return higher


_RESULT_CACHE: dict = {}
DEFAULT_DTYPE_CACHES: list = [_RESULT_CACHE]  # cleared by set_default_dtype


def result_type(*operands) -> dtype:
    """``torch.result_type`` for any mix of tensors (with ``.dtype``/``.ndim``) and scalars."""
    dim = zero = wrapped = None
    for op in operands:
        d = getattr(op, "_dtype", None)
        if d is not None:
            if op.ndim > 0:
                dim = d if dim is None else promote_types(dim, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        elif isinstance(op, dtype):
            dim = op if dim is None else promote_types(dim, op)
        else:
            s = _scalar_dtype(op)
            wrapped = s if wrapped is None else promote_types(wrapped, s)
    res = _combine(dim, _combine(zero, wrapped))
    if res is None:
        raise TypeError("result_type needs at least one operand")
    return res


def is_float_like(d: dtype) -> bool:
    return d.category >= _FLOAT


# PyTorch's ScalarType names, which its error messages use ("Float", "Long", ...)
_SCALAR_TYPE_NAMES = {
    "float32": "Float",
    "float64": "Double",
    "float16": "Half",
    "int64": "Long",
    "int32": "Int",
    "int16": "Short",
    "int8": "Char",
    "uint8": "Byte",
    "bool": "Bool",
}


def scalar_type_name(d) -> str:
    """PyTorch's name of dtype ``d`` in error messages (``float32`` -> ``Float``); a numpy dtype
    works too, and anything without a ``name`` is shown as it prints."""
    name = getattr(d, "name", None)
    return _SCALAR_TYPE_NAMES.get(name, name) if name is not None else str(d)
