"""The machinery of the op-spec table: the Spec row, dtype and shape sets, input generators.

The table itself is tests/op_specs.py; the numpy references are in tests/op_refs.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# -- input generators --------------------------------------------------------------------------
# name -> (float sampler, int sampler); each sampler is (rng, shape) -> ndarray


def _u(lo, hi):
    return lambda rng, s: rng.uniform(lo, hi, s)


def _i(lo, hi):
    return lambda rng, s: rng.integers(lo, hi, s)


def _signed(f):
    return lambda rng, s: f(rng, s) * rng.choice([-1, 1], s)


def _distinct(rng, s):
    """Values at least 4/n apart (no ties, so max/sort/kinks are well defined for gradcheck)."""
    n = math.prod(s)
    v = (rng.permutation(n) + rng.uniform(0.1, 0.4, n)) * (4.0 / max(n, 1)) - 2.0
    return v.reshape(s)


def _distinct_int(rng, s):
    n = math.prod(s)
    return (rng.permutation(n) - n // 2).reshape(s)


def _with_zeros(f):
    def g(rng, s):
        v = f(rng, s)
        return np.where(rng.random(s) < 0.3, 0, v)

    return g


def _special(rng, s):
    v = rng.uniform(-2, 2, s)
    pick = rng.random(s)
    v = np.where(pick < 0.15, np.nan, v)
    v = np.where((pick >= 0.15) & (pick < 0.25), np.inf, v)
    return np.where((pick >= 0.25) & (pick < 0.35), -np.inf, v)


def _nanreal(rng, s):
    v = rng.uniform(-2, 2, s)
    return np.where(rng.random(s) < 0.2, np.nan, v)


GENS = {
    "real": (_u(-2, 2), _i(-4, 5)),
    "pos": (_u(0.5, 2), _i(1, 5)),
    "unit": (_u(-0.9, 0.9), _i(0, 1)),
    "gt1": (_u(1.2, 3), _i(2, 5)),
    "nonzero": (_signed(_u(0.5, 2)), _signed(_i(1, 5))),
    "away0": (_signed(_u(0.1, 2)), _i(-4, 5)),
    "distinct": (_distinct, _distinct_int),
    "zeros": (_with_zeros(_u(-2, 2)), _with_zeros(_i(-4, 5))),
    "special": (_special, _i(-4, 5)),
    "nanreal": (_nanreal, _i(-4, 5)),
    "prob": (_u(0.05, 0.95), None),
    "shift": (None, _i(0, 4)),
    "small": (_u(-1, 1), _i(0, 3)),
}


def sample(gen: str, shape, dtype: str, rng) -> np.ndarray:
    return np.asarray(_sample(gen, shape, dtype, rng))


def _sample(gen, shape, dtype, rng):
    fgen, igen = GENS[gen]
    if dtype == "bool":
        return rng.random(shape) < 0.5
    np_dtype = np.dtype(dtype)
    if np_dtype.kind == "f":
        return fgen(rng, shape).astype(np_dtype)
    v = igen(rng, shape)
    if np_dtype.kind == "u":
        v = np.abs(v)
    return v.astype(np_dtype)


# generators for fixed (non-differentiable) inputs: (rng, shape, shapes) -> ndarray
def index_for(src: int, dim: int, unique: bool = False):
    """int64 indices valid for dimension ``dim`` of input ``src`` (unique along ``dim``)."""

    def g(rng, shape, shapes):
        n = shapes[src][dim] if shapes[src] else 1
        if not unique:
            return rng.integers(0, n, shape).astype(np.int64)
        d = min(dim, len(shape) - 1)
        if not shape:
            return np.array(rng.integers(0, n), np.int64)
        moved = np.moveaxis(np.empty(shape, np.int64), d, -1)
        flat = moved.reshape(-1, moved.shape[-1])
        for r in range(flat.shape[0]):
            flat[r] = rng.permutation(n)[: moved.shape[-1]]
        return np.moveaxis(flat.reshape(moved.shape), -1, d)

    return g


def mask(rng, shape, shapes):
    return rng.random(shape) < 0.5


def const(value):
    return lambda rng, shape, shapes: np.asarray(value)


F = ("float32", "float64")
FH = ("float16",) + F
FI = F + ("int32", "int64")
FHI = FH + ("int32", "int64")
NUM = FHI + ("uint8", "int8", "int16")
NUMB = NUM + ("bool",)
INT = ("int32", "int64", "uint8", "int8", "int16")
INTB = INT + ("bool",)
SAME = "same"

S1 = [(), (1,), (7,), (3, 4), (2, 3, 4), (0,), (2, 0, 3), (1025,)]
S2 = [
    ((), ()),
    ((7,), (7,)),
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 1, 4), (3, 1)),
    ((), (3, 4)),
    ((3, 4), ()),
    ((0, 4), (4,)),
    ((2, 0), (2, 1)),
    ((1025,), (1,)),
    ((1,), (1025,)),
]
S3 = [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 1), (1, 4), (4,)),
    ((), (2, 3), (3,)),
    ((0,), (0,), (1,)),
    ((7,), (7,), (7,)),
]
SR = [(), (7,), (3, 4), (2, 3, 4), (0,), (2, 0), (1025,)]  # full reductions
SD = [(3, 4), (2, 3, 4), (1, 7), (2, 0), (3, 1025)]  # reductions over dim 1
SN = [(3, 4), (2, 3, 4), (1, 7), (3, 1025)]  # non-empty, ndim >= 2


@dataclass
class Spec:
    name: str
    op: object
    ref: object
    shapes: list
    gens: tuple = ("real",)
    dtypes: tuple = F
    grad: bool = True
    gradgrad: bool = True
    grad_shapes: list | None = None
    atol: float | None = None
    rtol: float | None = None
    torch_op: object = None
    noncontig: bool = True

    def __post_init__(self):
        def norm(shapes):  # one shape per input: plain shapes for single-input ops
            return [(s,) for s in shapes] if len(self.gens) == 1 else [tuple(s) for s in shapes]

        self.shapes = norm(self.shapes)
        if self.grad_shapes is None:
            self.grad_shapes = [s for s in self.shapes if max(math.prod(x) for x in s) <= 24]
        else:
            self.grad_shapes = norm(self.grad_shapes)

    def __repr__(self):
        return self.name


@dataclass(frozen=True)
class Arg:
    """A fixed, non-differentiable input (indices, masks): ``gen(rng, shape, shapes)``."""

    gen: object


def _fn(name):
    def get(m):
        f = getattr(m, name, None)
        return f if f is not None else getattr(m.nn.functional, name)

    return get


def U(name, ref, gen="real", dtypes=FHI, shapes=S1, **kw):
    f = _fn(name)
    return Spec(name, lambda m, x: f(m)(x), ref, shapes, (gen,), dtypes, **kw)


def B(name, ref, gens=("real", "real"), dtypes=FHI, shapes=S2, **kw):
    f = _fn(name)
    return Spec(name, lambda m, a, b: f(m)(a, b), ref, shapes, gens, dtypes, **kw)


def C(name, op, ref, shapes, gens=("real",), dtypes=F, **kw):
    return Spec(name, op, ref, shapes, gens, dtypes, **kw)


def _nograd(**kw):
    return dict(grad=False, gradgrad=False, **kw)


NG = _nograd()


def _shape_of(src):
    return Arg(lambda rng, shape, shapes: np.zeros(shapes[src], np.float32))


def _set(key):
    """``y = x.clone(); y[key] = v``; ``key`` may use the extra fixed inputs."""

    def op(m, x, v, *extra):
        y = x.clone() if hasattr(x, "clone") else x.copy()
        y[key(*extra)] = v
        return y

    return op
