# ruff: noqa: E501 - a declarative table reads best one row per line
"""Rows of the op table (tests/op_specs.py) for special ops; same conventions as there.

References are mpmath's arbitrary-precision functions (and the math module where it has them),
evaluated per element in float64."""

from __future__ import annotations

import math

import numpy as np  # noqa: F401
import op_refs as R  # noqa: F401
import op_spec_lib as L  # noqa: F401

F, FH, FHI, NG, S1, S2, C, U = L.F, L.FH, L.FHI, L.NG, L.S1, L.S2, L.C, L.U

try:
    import mpmath
except ImportError:  # pragma: no cover - the rows fall back to comparing with torch only
    mpmath = None


def _elementwise(f):
    """numpy reference from a scalar function (None without mpmath: torch is the reference)."""
    if f is None:
        return None
    vf = np.vectorize(lambda *a: float(f(*a)), otypes=[np.float64])
    return lambda *arrays: vf(*[np.asarray(a, np.float64) for a in arrays])


def _mp(name):
    return None if mpmath is None else (lambda *a: getattr(mpmath, name)(*a))


def _polygamma(n):
    return None if mpmath is None else _elementwise(lambda x: mpmath.polygamma(n, x))


def _bessel(order, scaled):
    if mpmath is None:
        return None

    def f(x):
        v = mpmath.besseli(order, x)
        return v * mpmath.exp(-abs(x)) if scaled else v

    return _elementwise(f)


def _mvlgamma(p):
    def f(x):
        return sum(math.lgamma(x - 0.5 * i) for i in range(p)) + p * (p - 1) / 4 * math.log(math.pi)

    return _elementwise(f)


def _sp(name):
    """torch.special.<name> / deepforge.special.<name> on one input."""
    return lambda m, x: getattr(m.special, name)(x)


# "gt2" keeps lgamma/digamma and the polygammas away from their poles
L.GENS.setdefault(
    "gt2", (lambda rng, s: rng.uniform(0.3, 4.0, s), lambda rng, s: rng.integers(1, 6, s))
)
L.GENS.setdefault(
    "negfrac", (lambda rng, s: rng.uniform(0.2, 0.8, s) - rng.integers(1, 4, s), None)
)
L.GENS.setdefault("prob_open", (lambda rng, s: rng.uniform(0.02, 0.98, s), None))
L.GENS.setdefault("zeta_s", (lambda rng, s: rng.uniform(1.5, 5.0, s), None))

# zeta is differentiable in q only: s is a fixed input
ZETA_S = L.Arg(lambda rng, shape, shapes: rng.uniform(1.5, 5.0, shape))

SPECS: list = [
    U("lgamma", _elementwise(math.lgamma), "gt2", FHI),
    U("erfc", _elementwise(math.erfc), "real", FHI),
    U("digamma", _elementwise(_mp("digamma")), "gt2", FHI),
    U("i0", np.i0, "real", FHI, rtol=1e-5),
    C(
        "lgamma_negative",
        lambda m, x: m.lgamma(x),
        _elementwise(math.lgamma),
        S1,
        ("negfrac",),
        F,
        grad_shapes=[(3,)],
    ),
    C(
        "digamma_negative",
        lambda m, x: m.digamma(x),
        _elementwise(_mp("digamma")),
        S1,
        ("negfrac",),
        F,
        grad_shapes=[(3,)],
    ),
    C("polygamma_1", lambda m, x: m.polygamma(1, x), _polygamma(1), S1, ("gt2",), F),
    C("polygamma_2", lambda m, x: m.polygamma(2, x), _polygamma(2), S1, ("gt2",), F),
    C("polygamma_3_method", lambda m, x: x.polygamma(3), _polygamma(3), S1, ("gt2",), F, rtol=1e-6),
    C(
        "mvlgamma_3",
        lambda m, x: m.mvlgamma(x + 1.5, 3),
        lambda x: _mvlgamma(3)(x + 1.5),
        S1,
        ("gt2",),
        F,
    ),
    C("sinc", lambda m, x: m.sinc(x), np.sinc, S1, ("real",), FH),
    C("logit", lambda m, x: m.logit(x), lambda x: np.log(x / (1 - x)), S1, ("prob_open",), FH),
    C(
        "logit_eps",
        lambda m, x: m.logit(x, eps=0.2),
        lambda x: np.log(np.clip(x, 0.2, 0.8) / (1 - np.clip(x, 0.2, 0.8))),
        S1,
        ("prob_open",),
        F,
    ),
    C("special_i0e", _sp("i0e"), _bessel(0, True), S1, ("real",), F),
    C("special_i1", _sp("i1"), _bessel(1, False), S1, ("real",), F),
    C("special_i1e", _sp("i1e"), _bessel(1, True), S1, ("real",), F),
    C("special_i0_large", _sp("i0"), np.i0, S1, ("zeta_s",), F, grad=False, gradgrad=False),
    C(
        "special_zeta",
        lambda m, s, q: m.special.zeta(s, q),
        _elementwise(_mp("zeta")),
        S2,
        (ZETA_S, "gt2"),
        F,
    ),
    C(
        "special_xlog1py",
        lambda m, x, y: m.special.xlog1py(x, y),
        lambda x, y: np.where(x == 0, 0.0, x * np.log1p(y)),
        S2,
        ("real", "gt2"),
        F,
    ),
    C(
        "special_entr",
        _sp("entr"),
        lambda x: np.where(
            x > 0, -x * np.log(np.where(x > 0, x, 1)), np.where(x == 0, 0.0, -np.inf)
        ),
        S1,
        ("gt2",),
        F,
    ),
    C(
        "special_ndtr",
        _sp("ndtr"),
        _elementwise(lambda x: 0.5 * math.erfc(-x / math.sqrt(2))),
        S1,
        ("real",),
        F,
    ),
    C(
        "special_log_ndtr",
        _sp("log_ndtr"),
        _elementwise(lambda x: math.log(0.5 * math.erfc(-x / math.sqrt(2)))),
        S1,
        ("real",),
        F,
    ),
    C(
        "special_erfcx",
        _sp("erfcx"),
        _elementwise(lambda x: math.exp(x * x) * math.erfc(x)),
        S1,
        ("real",),
        F,
    ),
    C(
        "special_ndtri",
        _sp("ndtri"),
        _elementwise(
            None
            if mpmath is None
            else (lambda p: -mpmath.sqrt(2) * mpmath.erfinv(1 - 2 * mpmath.mpf(p)))
        ),
        S1,
        ("prob_open",),
        F,
    ),
]
