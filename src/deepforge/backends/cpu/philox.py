"""Random numbers: counter-based Philox4x32-10, the same stream as the OpenCL kernels."""

from __future__ import annotations

import numpy as np

from ._common import _core

__all__ = ["random_uniform", "random_normal", "random_bits"]


def _philox_fallback(seed, offset, n):
    bits = np.random.Generator(np.random.Philox(key=seed, counter=offset)).integers(
        0, 2**32, size=(n, 4), dtype=np.uint64
    )
    return bits.astype(np.uint32)


def random_uniform(shape, dtype, seed, offset):
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(n, dtype if dtype in (np.float32, np.float64) else np.float64)
    if _core is not None:
        _core.philox_uniform(seed, offset, out)
    else:
        r = _philox_fallback(seed, offset, n)
        out[:] = ((r[:, 0] >> 5).astype(np.float64) * 67108864.0 + (r[:, 1] >> 6)) * 2.0**-53
    return out.astype(dtype, copy=False).reshape(shape)


def random_normal(shape, dtype, seed, offset):
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(n, dtype if dtype in (np.float32, np.float64) else np.float64)
    if _core is not None:
        _core.philox_normal(seed, offset, out)
    else:
        r = _philox_fallback(seed, offset, n).astype(np.float64)
        u1 = 1.0 - ((r[:, 0] // 32) * 67108864.0 + r[:, 1] // 64) * 2.0**-53
        u2 = ((r[:, 2] // 32) * 67108864.0 + r[:, 3] // 64) * 2.0**-53
        out[:] = np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)
    return out.astype(dtype, copy=False).reshape(shape)


def random_bits(shape, seed, offset):
    n = int(np.prod(shape, dtype=np.int64))
    out = np.empty(n, np.uint32)
    if _core is not None:
        _core.philox_bits(seed, offset, out)
    else:
        out[:] = _philox_fallback(seed, offset, n)[:, 0]
    return out.reshape(shape)
