"""Random numbers: a counter-based (Philox4x32-10) generator, the same stream on every backend.

A ``Generator`` is (seed, offset); each sampling call consumes one offset, and element i of
that call is a pure function of (seed, offset, i), so results never depend on threads or
work-group sizes, and CPU and OpenCL give the same numbers for the same seed.
"""

from __future__ import annotations

import os
import time

import numpy as np

from .. import _dtype as dt
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import check_inplace
from .creation import _resolve_device, _shape_arg
from .selection import check_value_range

__all__ = [
    "Generator", "manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state",
    "default_generator", "rand", "randn", "randint", "randperm", "normal", "bernoulli",
    "multinomial", "rand_like", "randn_like", "randint_like", "poisson",
    "uniform_", "normal_", "bernoulli_", "random_", "exponential_", "cauchy_", "log_normal_",
    "geometric_",
]

_MASK64 = (1 << 64) - 1


class Generator:
    """``torch.Generator``: owns a seed and a counter."""

    def __init__(self, device="cpu"):
        from .._device import device as device_cls

        self.device = device_cls(device)
        self._seed = 67280421310721
        self._offset = 0

    def manual_seed(self, seed) -> Generator:
        seed = int(seed)
        if not -(1 << 63) <= seed < (1 << 64):
            raise RuntimeError(f"Overflow when unpacking long long: {seed}")
        self._seed = seed & _MASK64
        self._offset = 0
        return self

    def seed(self) -> int:
        s = int.from_bytes(os.urandom(8), "little") ^ time.perf_counter_ns()
        self.manual_seed(s & _MASK64)
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        arr = np.array([self._seed, self._offset], dtype=np.uint64).view(np.uint8)
        return make_tensor(arr.copy(), dt.uint8, _resolve_device("cpu"))

    def set_state(self, new_state: Tensor) -> Generator:
        arr = np.ascontiguousarray(
            new_state.numpy() if isinstance(new_state, Tensor) else new_state
        )
        if arr.dtype != np.uint8 or arr.size != 16:
            raise RuntimeError("Expected a 16-byte uint8 RNG state from get_state()")
        self._seed, self._offset = (int(v) for v in arr.view(np.uint64))
        return self

    def _next(self):
        off = self._offset
        self._offset += 1
        return self._seed, off

    def __reduce__(self):
        return (_rebuild_generator, (str(self.device), self._seed, self._offset))


def _rebuild_generator(device, seed, offset):
    g = Generator(device)
    g._seed, g._offset = seed, offset
    return g


default_generator = Generator()


def manual_seed(seed) -> Generator:
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    default_generator.set_state(new_state)


def _gen(generator):
    return default_generator if generator is None else generator


def _float_dtype(dtype, op):
    d = dt.get_default_dtype() if dtype is None else dt.to_dtype(dtype)
    if not d.is_floating_point:
        raise NotImplementedError(f"\"{op}\" not implemented for '{dt.scalar_type_name(d)}'")
    return d


def _uniform_data(be, shape, d, generator):
    s, off = _gen(generator)._next()
    return be.random_uniform(shape, d.np, s, off)


def _normal_data(be, shape, d, generator):
    s, off = _gen(generator)._next()
    return be.random_normal(shape, d.np, s, off)


def _new(shape, d, device, requires_grad, sampler, generator):
    dev = _resolve_device(device)
    t = make_tensor(sampler(D.backend_for(dev), shape, d, generator), d, dev)
    if requires_grad:
        t.requires_grad = True
    return t


def rand(
    *size,
    generator=None,
    out=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    pin_memory=False,
) -> Tensor:
    return _new(
        _shape_arg(size),
        _float_dtype(dtype, "rand"),
        device,
        requires_grad,
        _uniform_data,
        generator,
    )


def randn(
    *size,
    generator=None,
    out=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    pin_memory=False,
) -> Tensor:
    return _new(
        _shape_arg(size),
        _float_dtype(dtype, "randn"),
        device,
        requires_grad,
        _normal_data,
        generator,
    )


def rand_like(
    input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    return rand(
        input._data.shape,
        dtype=dtype or input._dtype,
        device=device or input._device,
        requires_grad=requires_grad,
    )


def randn_like(
    input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    return randn(
        input._data.shape,
        dtype=dtype or input._dtype,
        device=device or input._device,
        requires_grad=requires_grad,
    )


def randint(
    low,
    high=None,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
) -> Tensor:
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    low, high = int(low), int(high)
    if high <= low:
        raise RuntimeError(
            f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        )
    d = dt.int64 if dtype is None else dt.to_dtype(dtype)
    shape = _shape_arg((tuple(size),)) if not isinstance(size, int) else (size,)
    return _randint_data(shape, low, high, d, device, generator)


def _randint_data(shape, low, high, d, device, generator):
    cpu = D.host_backend()
    dev = _resolve_device(device)
    s, off = _gen(generator)._next()
    u = cpu.random_uniform(shape, np.float64, s, off)
    vals = (low + np.floor(u * (high - low))).astype(d.np)
    data = vals if dev.type == "cpu" else D.backend_for(dev).from_numpy(np.ascontiguousarray(vals))
    return make_tensor(data, d, dev)


def randint_like(input: Tensor, low=0, high=None, *, dtype=None, device=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return _randint_data(
        input._data.shape,
        int(low),
        int(high),
        dt.to_dtype(dtype) if dtype else input._dtype,
        device or input._device,
        None,
    )


def randperm(
    n: int,
    *,
    generator=None,
    out=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    pin_memory=False,
) -> Tensor:
    cpu = D.host_backend()
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    d = dt.int64 if dtype is None else dt.to_dtype(dtype)
    dev = _resolve_device(device)
    s, off = _gen(generator)._next()
    keys = cpu.random_bits((int(n),), s, off)
    perm = np.argsort(keys, kind="stable").astype(d.np)
    data = perm if dev.type == "cpu" else D.backend_for(dev).from_numpy(perm)
    return make_tensor(data, d, dev)


def normal(
    mean=0.0,
    std=1.0,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    device=None,
    requires_grad=False,
) -> Tensor:
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        ref = mean if isinstance(mean, Tensor) else std
        shape = D.broadcast_shapes(getattr(mean, "shape", ()), getattr(std, "shape", ()))
        if isinstance(std, Tensor) and bool((std < 0).any()):
            raise RuntimeError("normal expects all elements of std >= 0.0")
        z = randn(shape, generator=generator, dtype=ref._dtype, device=ref._device)
        return (z * std + mean).detach()
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if size is None:
        raise TypeError("normal() with float mean and std needs a size")
    z = randn(
        *((size,) if isinstance(size, int) else tuple(size)),
        generator=generator,
        dtype=dtype,
        device=device,
    )
    r = z * std + mean if (std != 1.0 or mean != 0.0) else z
    if requires_grad:
        r.requires_grad = True
    return r


def bernoulli(input: Tensor, p=None, *, generator=None, out=None) -> Tensor:
    probs = input if p is None else p
    if isinstance(probs, Tensor):
        message = "bernoulli: all probabilities must be in [0, 1]"
        check_value_range(probs, 0, 1, RuntimeError, message)
        u = rand(
            input._data.shape,
            generator=generator,
            dtype=input._dtype if input._dtype.is_floating_point else None,
            device=input._device,
        )
        return (u < probs).to(input._dtype)
    if not 0 <= probs <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={probs}")
    u = rand(input._data.shape, generator=generator, device=input._device)
    return (u < probs).to(input._dtype)


def keep_scale(shape, keep: float, scale: float, *, dtype, device, generator=None) -> Tensor:
    """dropout's factor: ``(rand(shape) < keep).to(dtype) * scale``, the same draw as
    ``bernoulli(x, keep)`` (rand in the default dtype) from the same generator state; one
    kernel where the backend has ``random_keep_scale``."""
    d = dt.to_dtype(dtype)
    dev = _resolve_device(device)
    u_dtype = dt.get_default_dtype()
    fn = getattr(D.backend_for(dev), "random_keep_scale", None)
    if fn is not None and d.is_floating_point:
        s, off = _gen(generator)._next()
        arr = fn(tuple(shape), d.np, u_dtype.np, s, off, keep, scale)
        if arr is not None:
            return make_tensor(arr, d, dev)
        u = make_tensor(D.backend_for(dev).random_uniform(tuple(shape), u_dtype.np, s, off),
                        u_dtype, dev)  # fmt: skip
    else:
        u = rand(tuple(shape), generator=generator, device=dev)
    return (u < keep).to(d) * scale


def poisson(input: Tensor, generator=None) -> Tensor:
    s, off = _gen(generator)._next()
    rng = np.random.Generator(np.random.Philox(key=s, counter=off))
    vals = rng.poisson(input.detach().cpu().numpy()).astype(input._dtype.np)
    from .creation import tensor

    return tensor(vals, dtype=input._dtype, device=input._device)


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator=None, out=None
) -> Tensor:
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    probs = input.detach().cpu().numpy().astype(np.float64)
    if (probs < 0).any() or not np.isfinite(probs).all():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    p2 = probs.reshape(-1, probs.shape[-1])
    if (p2.sum(-1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and num_samples > p2.shape[-1]:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    if not replacement and num_samples > (p2 > 0).sum(-1).min():
        raise RuntimeError(
            "invalid multinomial distribution (with replacement=False, not enough non-negative "
            "category to sample)"
        )
    cpu = D.host_backend()
    s, off = _gen(generator)._next()
    u = cpu.random_uniform((p2.shape[0], max(num_samples, p2.shape[-1])), np.float64, s, off)
    if replacement:
        cdf = np.cumsum(p2, -1)
        cdf /= cdf[:, -1:]
        res = np.stack(
            [np.searchsorted(cdf[r], u[r, :num_samples], side="right") for r in range(p2.shape[0])]
        )
        res = np.minimum(res, p2.shape[-1] - 1)
    else:
        # exponential-race (Gumbel top-k): keys u^(1/p), largest first
        with np.errstate(divide="ignore"):
            keys = np.log(np.maximum(u[:, : p2.shape[-1]], 1e-300)) / p2
        res = np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples]
    res = res.astype(np.int64).reshape(probs.shape[:-1] + (num_samples,))
    from .creation import tensor

    return tensor(res, dtype=dt.int64, device=input._device)


# in-place samplers ----------------------------------------------------------------------------
def _fill_(x: Tensor, values: Tensor) -> Tensor:
    check_inplace(x, "random fill")
    D.backend_of(x).copy_(x._data, values._data)
    x._vc[0] += 1
    return x


def uniform_(input: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    d = input._dtype if input._dtype.is_floating_point else dt.float64
    u = make_tensor(
        _uniform_data(D.backend_of(input), input._data.shape, d, generator), d, input._device
    )
    if a != 0.0 or b != 1.0:
        u = u * (b - a) + a
    return _fill_(input, u)


def normal_(input: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    d = input._dtype if input._dtype.is_floating_point else dt.float64
    z = make_tensor(
        _normal_data(D.backend_of(input), input._data.shape, d, generator), d, input._device
    )
    if mean != 0.0 or std != 1.0:
        z = z * std + mean
    return _fill_(input, z)


def bernoulli_(input: Tensor, p=0.5, *, generator=None) -> Tensor:
    return _fill_(input, bernoulli(input, p, generator=generator))


def random_(input: Tensor, from_=0, to=None, *, generator=None) -> Tensor:
    if to is None:
        if from_ != 0:
            from_, to = 0, from_
        else:
            to = (
                2**24
                if input._dtype.is_floating_point
                else int(np.iinfo(input._dtype.np).max) + 1
                if input._dtype is not dt.bool_
                else 2
            )
    return _fill_(
        input, _randint_data(input._data.shape, from_, to, input._dtype, input._device, generator)
    )


def exponential_(input: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    u = rand(input._data.shape, generator=generator, dtype=input._dtype, device=input._device)
    return _fill_(input, -(1.0 - u).log() / lambd)


def geometric_(input: Tensor, p: float, *, generator=None) -> Tensor:
    u = rand(input._data.shape, generator=generator, dtype=dt.float64, device=input._device)
    return _fill_(input, ((1.0 - u).log() / np.log1p(-p)).ceil().to(input._dtype))


def cauchy_(input: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    u = rand(input._data.shape, generator=generator, dtype=input._dtype, device=input._device)
    return _fill_(input, median + sigma * (np.pi * (u - 0.5)).tan())


def log_normal_(input: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    z = randn(input._data.shape, generator=generator, dtype=input._dtype, device=input._device)
    return _fill_(input, (z * std + mean).exp())
