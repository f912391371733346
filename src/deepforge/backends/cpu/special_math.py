"""Special functions for the CPU backend, vectorised over numpy arrays in float64: lgamma,
digamma, the Hurwitz zeta function (polygamma's kernel), erfc and the modified Bessel functions
i0, i0e, i1, i1e. The algorithms and Chebyshev coefficients are those of the Cephes Math Library
(3-clause BSD licence), the same ones PyTorch evaluates, so results agree to rounding."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["lgamma", "digamma", "zeta", "erfc", "i0", "i0e", "i1", "i1e"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_MACHEP = 1.11022302462515654042e-16
_ZETA_MAX_TERMS = 4096

_I0E_A = (
    -4.4153416464793395e-18,
    3.3307945188222384e-17,
    -2.431279846547955e-16,
    1.715391285555133e-15,
    -1.1685332877993451e-14,
    7.676185498604936e-14,
    -4.856446783111929e-13,
    2.95505266312964e-12,
    -1.726826291441556e-11,
    9.675809035373237e-11,
    -5.189795601635263e-10,
    2.6598237246823866e-09,
    -1.300025009986248e-08,
    6.046995022541919e-08,
    -2.670793853940612e-07,
    1.1173875391201037e-06,
    -4.4167383584587505e-06,
    1.6448448070728896e-05,
    -5.754195010082104e-05,
    0.00018850288509584165,
    -0.0005763755745385824,
    0.0016394756169413357,
    -0.004324309995050576,
    0.010546460394594998,
    -0.02373741480589947,
    0.04930528423967071,
    -0.09490109704804764,
    0.17162090152220877,
    -0.3046826723431984,
    0.6767952744094761,
)
_I0E_B = (
    -7.233180487874754e-18,
    -4.830504485944182e-18,
    4.46562142029676e-17,
    3.461222867697461e-17,
    -2.8276239805165836e-16,
    -3.425485619677219e-16,
    1.7725601330565263e-15,
    3.8116806693526224e-15,
    -9.554846698828307e-15,
    -4.150569347287222e-14,
    1.54008621752141e-14,
    3.8527783827421426e-13,
    7.180124451383666e-13,
    -1.7941785315068062e-12,
    -1.3215811840447713e-11,
    -3.1499165279632416e-11,
    1.1889147107846439e-11,
    4.94060238822497e-10,
    3.3962320257083865e-09,
    2.266668990498178e-08,
    2.0489185894690638e-07,
    2.8913705208347567e-06,
    6.889758346916825e-05,
    0.0033691164782556943,
    0.8044904110141088,
)
_I1E_A = (
    2.7779141127610464e-18,
    -2.111421214358166e-17,
    1.5536319577362005e-16,
    -1.1055969477353862e-15,
    7.600684294735408e-15,
    -5.042185504727912e-14,
    3.223793365945575e-13,
    -1.9839743977649436e-12,
    1.1736186298890901e-11,
    -6.663489723502027e-11,
    3.625590281552117e-10,
    -1.8872497517228294e-09,
    9.381537386495773e-09,
    -4.445059128796328e-08,
    2.0032947535521353e-07,
    -8.568720264695455e-07,
    3.4702513081376785e-06,
    -1.3273163656039436e-05,
    4.781565107550054e-05,
    -0.00016176081582589674,
    0.0005122859561685758,
    -0.0015135724506312532,
    0.004156422944312888,
    -0.010564084894626197,
    0.024726449030626516,
    -0.05294598120809499,
    0.1026436586898471,
    -0.17641651835783406,
    0.25258718644363365,
)
_I1E_B = (
    7.517296310842105e-18,
    4.414348323071708e-18,
    -4.6503053684893586e-17,
    -3.209525921993424e-17,
    2.96262899764595e-16,
    3.3082023109209285e-16,
    -1.8803547755107825e-15,
    -3.8144030724370075e-15,
    1.0420276984128802e-14,
    4.272440016711951e-14,
    -2.1015418427726643e-14,
    -4.0835511110921974e-13,
    -7.198551776245908e-13,
    2.0356285441470896e-12,
    1.4125807436613782e-11,
    3.2526035830154884e-11,
    -1.8974958123505413e-11,
    -5.589743462196584e-10,
    -3.835380385964237e-09,
    -2.6314688468895196e-08,
    -2.512236237870209e-07,
    -3.882564808877691e-06,
    -0.00011058893876262371,
    -0.009761097491361469,
    0.7785762350182801,
)

# Stirling series of lgamma: B_2k / (2k (2k - 1)), k = 1..7
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)
# asymptotic series of digamma, highest power first (Cephes psi)
_PSI_A = (
    8.33333333333333333333e-2,
    -2.10927960927960927961e-2,
    7.57575757575757575758e-3,
    -4.16666666666666666667e-3,
    3.96825396825396825397e-3,
    -8.33333333333333333333e-3,
    8.33333333333333333333e-2,
)
# Euler-Maclaurin tail of the Hurwitz zeta function: (2k)! / B_2k
_ZETA_A = (
    12.0,
    -720.0,
    30240.0,
    -1209600.0,
    47900160.0,
    -1.8924375803183791606e9,
    7.47242496e10,
    -2.950130727918164224e12,
    1.1646782814350067249e14,
    -4.5979787224074726105e15,
    1.8152105401943546773e17,
    -7.1661652561756670113e18,
)


def _f64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _shift_to(z: np.ndarray, lo: float):
    """(z + n, prod_{k<n} (z + k)) with n the smallest count that makes z + n >= lo."""
    prod = np.ones_like(z)
    for _ in range(int(lo) + 1):
        small = z < lo
        if not small.any():
            break
        prod = np.where(small, prod * z, prod)
        z = np.where(small, z + 1.0, z)
    return z, prod


def lgamma(x) -> np.ndarray:
    """log|Gamma(x)|: Stirling's series at x >= 10, the recurrence below, reflection for x < 0."""
    x = _f64(x)
    with np.errstate(all="ignore"):
        neg = x < 0
        z, prod = _shift_to(np.where(neg, 1.0 - x, x), 10.0)
        inv = 1.0 / z
        inv2 = inv * inv
        series = np.zeros_like(z)
        for c in reversed(_STIRLING):
            series = series * inv2 + c
        big = (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + series * inv
        r = np.where(np.isinf(z), np.inf, big) - np.log(np.abs(prod))
        # Gamma(x) Gamma(1 - x) = pi / sin(pi x); reducing x first keeps sin(pi x) exact
        frac = x - np.round(x)
        refl = math.log(math.pi) - np.log(np.abs(np.sin(math.pi * frac))) - r
        r = np.where(neg, np.where(np.isinf(x), np.inf, refl), r)
        return np.where((x == 1.0) | (x == 2.0), 0.0, r)  # the exact zeros, free of rounding


def digamma(x) -> np.ndarray:
    """psi(x) = d/dx lgamma(x): +-inf at +-0, NaN at negative integers, as PyTorch."""
    x = _f64(x)
    with np.errstate(all="ignore"):
        neg = x < 0
        z = np.where(neg, 1.0 - x, x)
        acc = np.zeros_like(z)
        for _ in range(11):
            small = z < 10.0
            if not small.any():
                break
            acc = np.where(small, acc - 1.0 / z, acc)
            z = np.where(small, z + 1.0, z)
        zz = 1.0 / (z * z)
        poly = np.zeros_like(z)
        for c in _PSI_A:
            poly = poly * zz + c
        tail = np.where(z < 1.0e17, zz * poly, 0.0)
        r = acc + np.log(z) - 0.5 / z - tail
        # psi(1 - x) - psi(x) = pi cot(pi x), with the fractional part for an accurate tan
        refl = r - math.pi / np.tan(math.pi * (x - np.trunc(x)))
        r = np.where(neg, np.where(x == np.trunc(x), np.nan, refl), r)
        return np.where(x == 0, np.copysign(np.inf, -x), r)


def zeta(s, q) -> np.ndarray:
    """Hurwitz zeta sum_k (q + k)^-s (Cephes): direct sum until q + k > 9, then Euler-Maclaurin.
    q below -_ZETA_MAX_TERMS gives NaN (the direct sum would need more terms than that)."""
    s, q = np.broadcast_arrays(_f64(s), _f64(q))
    s, q = s.copy(), q.copy()
    with np.errstate(all="ignore"):
        total = np.power(q, -s)
        qbad = (q <= 0) & (q == np.floor(q))
        # the domain errors, and q so negative that the direct sum would not end
        done = ~(s > 1.0) | qbad | np.isnan(q) | (q < -_ZETA_MAX_TERMS)
        a = q.copy()
        b = np.zeros_like(q)
        i = 0
        while True:
            live = ~done & ((i < 9) | (a <= 9.0))
            if not live.any():
                break
            i += 1
            a = np.where(live, a + 1.0, a)
            b = np.where(live, np.power(a, -s), b)
            total = np.where(live, total + b, total)
            done |= live & (np.abs(b) < _MACHEP * np.abs(total))
        w = a
        total = np.where(done, total, total + b * w / (s - 1.0) - 0.5 * b)
        fac = np.ones_like(q)
        k = 0.0
        for c in _ZETA_A:
            fac = fac * (s + k)
            b = b / w
            t = fac * b / c
            total = np.where(done, total, total + t)
            done |= np.abs(t / total) < _MACHEP
            k += 1.0
            fac = fac * (s + k)
            b = b / w
            k += 1.0
        r = np.where(s == 1.0, np.inf, np.where(s < 1.0, np.nan, total))
        r = np.where(qbad & (s > 1.0), np.inf, r)
        r = np.where(q < -_ZETA_MAX_TERMS, np.nan, r)
        return np.where((q <= 0) & ~qbad & (s != np.floor(s)) & (s > 1.0), np.nan, r)


def erfc(x) -> np.ndarray:
    try:
        from scipy.special import erfc as _erfc

        return _erfc(_f64(x))
    except ImportError:  # pragma: no cover - numpy has no erfc ufunc
        return np.vectorize(math.erfc, otypes=[np.float64])(_f64(x))


def _chbevl(x: np.ndarray, coefs) -> np.ndarray:
    b0 = np.full_like(x, coefs[0])
    b1 = np.zeros_like(x)
    b2 = b1
    for c in coefs[1:]:
        b2 = b1
        b1 = b0
        b0 = x * b1 - b2 + c
    return 0.5 * (b0 - b2)


def i0e(x) -> np.ndarray:
    ax = np.abs(_f64(x))
    with np.errstate(all="ignore"):
        small = _chbevl(ax / 2.0 - 2.0, _I0E_A)
        big = _chbevl(32.0 / ax - 2.0, _I0E_B) / np.sqrt(ax)
    return np.where(ax <= 8.0, small, big)


def i0(x) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        ax = np.abs(_f64(x))
        return np.exp(ax) * i0e(ax)


def i1e(x) -> np.ndarray:
    x = _f64(x)
    ax = np.abs(x)
    with np.errstate(all="ignore"):
        small = _chbevl(ax / 2.0 - 2.0, _I1E_A) * ax
        big = _chbevl(32.0 / ax - 2.0, _I1E_B) / np.sqrt(ax)
    r = np.where(ax <= 8.0, small, big)
    return np.where(x < 0, -r, r)


def i1(x) -> np.ndarray:
    x = _f64(x)
    with np.errstate(over="ignore", invalid="ignore"):
        r = np.exp(np.abs(x)) * np.abs(i1e(x))
    return np.where(x < 0, -r, r)
