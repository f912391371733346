"""Legacy typed tensor classes (``FloatTensor``, ``LongTensor``, ...) as in PyTorch.

``FloatTensor(2, 3)`` makes an uninitialised float32 tensor, ``LongTensor([1, 2])`` an int64
one, and ``isinstance(t, FloatTensor)`` checks a CPU tensor's dtype.
"""

from __future__ import annotations

from . import _dtype as dt
from .tensor import Tensor

__all__ = [
    "FloatTensor",
    "DoubleTensor",
    "HalfTensor",
    "LongTensor",
    "IntTensor",
    "ShortTensor",
    "CharTensor",
    "ByteTensor",
    "BoolTensor",
]


class _LegacyMeta(type):
    def __instancecheck__(cls, obj):
        return (
            isinstance(obj, Tensor) and obj.dtype is cls._legacy_dtype and obj.device.type == "cpu"
        )

    def __call__(cls, *args, device=None):
        from .ops import creation

        d = cls._legacy_dtype
        if len(args) == 1 and not isinstance(args[0], int):
            src = args[0]
            if isinstance(src, Tensor):
                return src.to(d)
            return creation.tensor(src, dtype=d, device=device)
        shape = args[0] if len(args) == 1 and isinstance(args[0], tuple) else args
        return creation.empty(*shape, dtype=d, device=device)


def _legacy(name, d):
    return _LegacyMeta(name, (), {"_legacy_dtype": d, "__module__": "deepforge"})


FloatTensor = _legacy("FloatTensor", dt.float32)
DoubleTensor = _legacy("DoubleTensor", dt.float64)
HalfTensor = _legacy("HalfTensor", dt.float16)
LongTensor = _legacy("LongTensor", dt.int64)
IntTensor = _legacy("IntTensor", dt.int32)
ShortTensor = _legacy("ShortTensor", dt.int16)
CharTensor = _legacy("CharTensor", dt.int8)
ByteTensor = _legacy("ByteTensor", dt.uint8)
BoolTensor = _legacy("BoolTensor", dt.bool_)
