"""deepforge.special: PyTorch's ``torch.special`` functions.

Elementwise primitives (lgamma, digamma, zeta, erfc, the Bessel functions i0/i0e/i1/i1e) run as
kernels on every backend; the others are compositions of differentiable Tensor ops, so they
work on every device and have gradients (of any order) for free.
"""

from __future__ import annotations

import math

from . import _dtype as _dt
from .autograd.function import Function
from .autograd.grad_mode import no_grad
from .ops import binary as _binary
from .ops import reduction as _reduction
from .ops import softmax_family as _softmax
from .ops import ternary as _ternary
from .ops import unary as _unary
from .ops.creation import as_tensor as _as_tensor
from .tensor import Tensor

__all__ = [
    "digamma",
    "entr",
    "erf",
    "erfc",
    "erfcx",
    "erfinv",
    "exp2",
    "expit",
    "expm1",
    "gammainc",
    "gammaincc",
    "gammaln",
    "i0",
    "i0e",
    "i1",
    "i1e",
    "log1p",
    "log_ndtr",
    "log_softmax",
    "logit",
    "logsumexp",
    "multigammaln",
    "ndtr",
    "ndtri",
    "polygamma",
    "psi",
    "round",
    "sinc",
    "softmax",
    "xlog1py",
    "xlogy",
    "zeta",
]

_P = _unary.PUBLIC
_where = _ternary.where
_SQRT_HALF = math.sqrt(0.5)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


def _finish(r: Tensor, out: Tensor | None) -> Tensor:
    if out is None:
        return r
    from .ops.shape import resize_out

    return resize_out(out, r)


def _wide(op: str, input: Tensor) -> Tensor:
    """input as float64, where the compositions below keep their accuracy; a float input's
    result goes back to its dtype, an integer one's to the default dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(
            f"special.{op}(): argument 'input' must be Tensor, not {type(input).__name__}"
        )
    return input.to(_dt.float64)


def _narrow(r: Tensor, input: Tensor) -> Tensor:
    d = input._dtype if input._dtype.is_floating_point else _dt.get_default_dtype()
    return r.to(d)


# aliases of the elementwise ops ----------------------------------------------------------------
erf = _P["erf"]
erfc = _P["erfc"]
erfinv = _P["erfinv"]
exp2 = _P["exp2"]
expm1 = _P["expm1"]
log1p = _P["log1p"]
expit = _P["sigmoid"]
gammaln = _P["lgamma"]
digamma = psi = _P["digamma"]
i0 = _P["i0"]
i0e = _P["i0e"]
i1 = _P["i1"]
i1e = _P["i1e"]
polygamma = _unary.polygamma
zeta = _unary.zeta
sinc = _unary.sinc
logit = _unary.logit
xlogy = _binary.xlogy


def multigammaln(input: Tensor, p: int, *, out: Tensor | None = None) -> Tensor:
    """Multivariate log-gamma function of dimension p (``torch.special.multigammaln``)."""
    return _finish(_unary.mvlgamma(input, p), out)


def round(input: Tensor, *, decimals: int = 0, out: Tensor | None = None) -> Tensor:  # noqa: A001
    return _unary.round(input, decimals=decimals, out=out)


def softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    return _softmax.softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    return _softmax.log_softmax(input, dim, dtype)


def logsumexp(input: Tensor, dim, keepdim: bool = False, *, out: Tensor | None = None) -> Tensor:
    return _finish(_reduction.logsumexp(input, dim, keepdim), out)


# compositions -------------------------------------------------------------------------------------
def _erfcx64(x: Tensor) -> Tensor:
    # exp(x^2) erfc(x) directly up to 26 (exp(26^2) is still finite in float64), then the
    # asymptotic series sum_k (-1)^k (2k-1)!! / (2x^2)^k / (x sqrt(pi)), < 2e-15 there
    cut = 26.0
    big = x > cut
    xs = _where(big, 0.0, x)
    direct = (xs * xs).exp() * erfc(xs)
    xb = _where(big, x, cut)
    r = 1.0 / (2.0 * xb * xb)
    series = 1.0
    for k in range(6, 0, -1):
        series = 1.0 - (2 * k - 1) * r * series
    return _where(big, series / xb * _INV_SQRT_PI, direct)


def erfcx(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Scaled complementary error function exp(x^2) erfc(x)."""
    return _finish(_narrow(_erfcx64(_wide("erfcx", input)), input), out)


def ndtr(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Standard normal CDF."""
    x = input if input._dtype.is_floating_point else input.to(_dt.get_default_dtype())
    return _finish(0.5 * erfc(x * -_SQRT_HALF), out)


def _log_ndtr64(x: Tensor) -> Tensor:
    # upper side: log1p of the small tail; lower side: through erfcx, so no underflow
    low = x < -1.0
    xu = _where(low, -1.0, x)
    upper = (-0.5 * erfc(xu * _SQRT_HALF)).log1p()
    xl = _where(low, x, -1.0)
    lower = (0.5 * _erfcx64(xl * -_SQRT_HALF)).log() - 0.5 * xl * xl
    return _where(low, lower, upper)


def log_ndtr(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """log of the standard normal CDF, accurate in both tails."""
    return _finish(_narrow(_log_ndtr64(_wide("log_ndtr", input)), input), out)


def ndtri(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Inverse of the standard normal CDF: a starting point (erfinv, or Abramowitz-Stegun
    26.2.23 in the far tail) refined by Newton steps on log_ndtr, on the lower half
    (ndtri(p) = -ndtri(1 - p), 1 - p exact above 1/2)."""
    p = _wide("ndtri", input)
    upper = p > 0.5
    q = _where(upper, 1.0 - p, p)
    inside = (q > 0) & (q <= 0.5)
    q = _where(inside, q, 0.25)
    logq = q.log()
    t = (-2.0 * logq).sqrt()
    tail = -(
        t
        - (2.515517 + 0.802853 * t + 0.010328 * t * t)
        / (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t)
    )
    z = _where(q < 1e-3, tail, erfinv(2.0 * q - 1.0) * math.sqrt(2.0))
    for _ in range(3):
        lc = _log_ndtr64(z)
        z = z - (lc - logq) * (lc + 0.5 * z * z + _HALF_LOG_2PI).exp()
    z = _where(upper, -z, z)
    z = _where(p == 0, -math.inf, _where(p == 1, math.inf, z))
    z = _where(inside | (p == 0) | (p == 1) | (p == 0.5), z, math.nan)
    z = _where(p == 0.5, 0.0, z)
    return _finish(_narrow(z, input), out)


def entr(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """-x log(x) for x > 0, 0 at 0, -inf for x < 0 (NaN stays NaN)."""
    x = input if input._dtype.is_floating_point else input.to(_dt.get_default_dtype())
    pos = x > 0
    xs = _where(pos, x, 1.0)
    r = _where(pos, -xs * xs.log(), _where(x == 0, 0.0, -math.inf))
    return _finish(_where(x.isnan(), x, r), out)


def xlog1py(input, other, *, out: Tensor | None = None) -> Tensor:
    """x * log1p(y), 0 where x == 0 (unless y is NaN)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("special.xlog1py(): expected at least one Tensor argument")
    ref = input if isinstance(input, Tensor) else other
    from .ops._dispatch import float_result, result_type_of

    d = float_result(result_type_of(input, other))
    x = _as_tensor(input, dtype=d, device=ref._device)
    y = _as_tensor(other, dtype=d, device=ref._device)
    r = _where((x == 0) & ~y.isnan(), 0.0, x * y.log1p())
    return _finish(r, out)


# regularized incomplete gamma functions ------------------------------------------------------
_IGAMMA_MAX_TERMS = 20000  # the series needs ~sqrt(a) terms where x is near a large a
_IGAMMA_CHECK_EVERY = 32  # convergence is read back to the host this often
_CF_BIG = 4.503599627370496e15


def _igamma_values(a: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """(P(a, x), Q(a, x)) in float64 by Cephes' igam/igamc: the power series where
    x <= max(1, a), the continued fraction (modified Lentz) elsewhere."""
    eps = 1.1102230246251565e-16
    from .ops.shape import broadcast_tensors

    a, x = broadcast_tensors(a.to(_dt.float64), x.to(_dt.float64))
    interior = (a > 0) & (x > 0) & (a < math.inf) & (x < math.inf)
    series = (x <= 1) | (x <= a)
    aa = _where(interior, a, 1.0)
    xx = _where(interior, x, 1.0)
    prefix = (aa * xx.log() - xx - gammaln(aa)).exp()
    # power series (lower tail); the other elements run it on (a, x) = (1, 1)
    sa = _where(series, aa, 1.0)
    sx = _where(series, xx, 1.0)
    r, c, total = sa, sx * 0.0 + 1.0, sx * 0.0 + 1.0
    for i in range(_IGAMMA_MAX_TERMS):
        r = r + 1.0
        c = c * sx / r
        total = total + c
        if i % _IGAMMA_CHECK_EVERY == 0 and bool((c <= eps * total).all()):
            break
    lower = total * _where(series, prefix, 0.0) / sa
    # continued fraction (upper tail); the other elements run it on (a, x) = (1, 2)
    ca = _where(series, 1.0, aa)
    cx = _where(series, 2.0, xx)
    y = 1.0 - ca
    z = cx + y + 1.0
    k = cx * 0.0
    pkm2, qkm2, pkm1, qkm1 = cx * 0.0 + 1.0, cx, cx + 1.0, z * cx
    ans = pkm1 / qkm1
    done = k != 0  # an element stops at its first converged step, as Cephes does
    for i in range(_IGAMMA_MAX_TERMS):
        k = k + 1.0
        y = y + 1.0
        z = z + 2.0
        yc = y * k
        pk = pkm1 * z - pkm2 * yc
        qk = qkm1 * z - qkm2 * yc
        update = (qk != 0) & ~done
        ratio = pk / _where(update, qk, 1.0)
        done = done | (update & (((ans - ratio) / ratio).abs() <= eps))
        ans = _where(update, ratio, ans)
        pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
        big = pk.abs() > _CF_BIG
        scale = _where(big, 1.0 / _CF_BIG, 1.0)
        pkm2, pkm1, qkm2, qkm1 = pkm2 * scale, pkm1 * scale, qkm2 * scale, qkm1 * scale
        if i % _IGAMMA_CHECK_EVERY == 0 and bool(done.all()):
            break
    upper = ans * _where(series, 0.0, prefix)
    p = _where(series, lower, 1.0 - upper)
    q = _where(series, 1.0 - lower, upper)
    # the boundary: P = 0 at x = 0 or a = inf, P = 1 at a = 0 or x = inf; NaN outside
    zero_p = ((x == 0) & (a > 0)) | ((a == math.inf) & (x < math.inf))
    one_p = ((a == 0) & (x > 0)) | ((x == math.inf) & (a < math.inf))
    p = _where(zero_p, 0.0, _where(one_p, 1.0, p))
    q = _where(zero_p, 1.0, _where(one_p, 0.0, q))
    bad = ~(interior | zero_p | one_p)
    return _where(bad, math.nan, p), _where(bad, math.nan, q)


class _IncompleteGamma(Function):
    """P(a, x) (upper=False) or Q(a, x); differentiable in x only, as in PyTorch."""

    @staticmethod
    def forward(ctx, a, x, upper):
        ctx.save_for_backward(a, x)
        ctx.upper = upper
        with no_grad():
            p, q = _igamma_values(a, x)
        d = a._dtype if a._dtype is x._dtype else _dt.promote_types(a._dtype, x._dtype)
        return (q if upper else p).to(d)

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(
                "the derivative of gammainc/gammaincc for 'input' (a) is not implemented"
            )
        density = (-x + xlogy(a - 1.0, x) - gammaln(a)).exp()
        return None, (-g if ctx.upper else g) * density, None


def _igamma(op: str, input, other, upper: bool, out):
    for pos, (name, v) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(v, Tensor):
            raise TypeError(
                f"special.{op}(): argument '{name}' (position {pos}) must be Tensor, not "
                f"{type(v).__name__}"
            )
    ref = input
    from .ops._dispatch import float_result, result_type_of

    d = float_result(result_type_of(input, other))
    a = _as_tensor(input, dtype=d, device=ref._device)
    x = _as_tensor(other, dtype=d, device=ref._device)
    from .ops._common import call

    return _finish(call(_IncompleteGamma, a, x, upper), out)


def gammainc(input, other, *, out: Tensor | None = None) -> Tensor:
    """Regularized lower incomplete gamma function P(input, other)."""
    return _igamma("gammainc", input, other, False, out)


def gammaincc(input, other, *, out: Tensor | None = None) -> Tensor:
    """Regularized upper incomplete gamma function Q(input, other) = 1 - P."""
    return _igamma("gammaincc", input, other, True, out)
