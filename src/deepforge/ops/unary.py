"""Differentiable elementwise unary ops. Each row: forward primitive and derivative, side by
side."""

from __future__ import annotations

import math

from .. import _dtype as dt
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from . import _dispatch as D
from ._common import call, check_inplace, commit_inplace, with_out

__all__: list[str] = []

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


def _erf_grad(x, y, g):
    return g * (2.0 * _INV_SQRT_PI) * (-(x * x)).exp()


def _gelu_grad(x, y, g):
    cdf = 0.5 * (1.0 + (x * _INV_SQRT_2).erf())
    pdf = (-0.5 * x * x).exp() * (_INV_SQRT_2 * _INV_SQRT_PI)
    return g * (cdf + x * pdf)


def _gelu_tanh_grad(x, y, g):
    inner = _SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
    t = inner.tanh()
    dinner = _SQRT_2_OVER_PI * (1.0 + 3 * 0.044715 * x * x)
    return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner)


def _silu_grad(x, y, g):
    s = x.sigmoid()
    return g * (s * (1.0 + x * (1.0 - s)))


def _i1_grad(x, y, g):
    # I1'(x) = I0(x) - I1(x) / x, which tends to 1/2 at 0
    from .ternary import where

    at0 = x == 0
    xs = where(at0, 1.0, x)
    return g * where(at0, 0.5, PUBLIC["i0"](x) - PUBLIC["i1"](xs) / xs)


def _i1e_grad(x, y, g):
    from .ternary import where

    at0 = x == 0
    xs = where(at0, 1.0, x)
    return g * where(at0, 0.5, PUBLIC["i0e"](x) - PUBLIC["i1e"](xs) * (x.sign() + 1.0 / xs))


# name: (save "x" or "y", d/dx as a function of (x, y, grad), float-valued result)
UNARY_GRADS = {
    "neg": (None, lambda x, y, g: -g, False),
    "abs": ("x", lambda x, y, g: g * x.sign(), False),
    "exp": ("y", lambda x, y, g: g * y, True),
    "exp2": ("y", lambda x, y, g: g * y * math.log(2.0), True),
    "expm1": ("y", lambda x, y, g: g * (y + 1.0), True),
    "log": ("x", lambda x, y, g: g / x, True),
    "log2": ("x", lambda x, y, g: g / (x * math.log(2.0)), True),
    "log10": ("x", lambda x, y, g: g / (x * math.log(10.0)), True),
    "log1p": ("x", lambda x, y, g: g / (x + 1.0), True),
    "sqrt": ("y", lambda x, y, g: g / (2.0 * y), True),
    "rsqrt": ("y", lambda x, y, g: g * (-0.5) * y * y * y, True),
    "sin": ("x", lambda x, y, g: g * x.cos(), True),
    "cos": ("x", lambda x, y, g: -g * x.sin(), True),
    "tan": ("y", lambda x, y, g: g * (1.0 + y * y), True),
    "asin": ("x", lambda x, y, g: g * (1.0 - x * x).rsqrt(), True),
    "acos": ("x", lambda x, y, g: -g * (1.0 - x * x).rsqrt(), True),
    "atan": ("x", lambda x, y, g: g / (1.0 + x * x), True),
    "sinh": ("x", lambda x, y, g: g * x.cosh(), True),
    "cosh": ("x", lambda x, y, g: g * x.sinh(), True),
    "tanh": ("y", lambda x, y, g: g * (1.0 - y * y), True),
    "asinh": ("x", lambda x, y, g: g * (x * x + 1.0).rsqrt(), True),
    "acosh": ("x", lambda x, y, g: g * (x * x - 1.0).rsqrt(), True),
    "atanh": ("x", lambda x, y, g: g / (1.0 - x * x), True),
    "sigmoid": ("y", lambda x, y, g: g * y * (1.0 - y), True),
    "relu": ("y", lambda x, y, g: g * (y > 0), False),
    "gelu": ("x", _gelu_grad, True),
    "gelu_tanh": ("x", _gelu_tanh_grad, True),
    "silu": ("x", _silu_grad, True),
    "softplus": ("x", lambda x, y, g: g * x.sigmoid(), True),
    "erf": ("x", _erf_grad, True),
    "erfinv": ("y", lambda x, y, g: g * (0.5 * math.sqrt(math.pi)) * (y * y).exp(), True),
    "erfc": ("x", lambda x, y, g: -_erf_grad(x, y, g), True),
    "lgamma": ("x", lambda x, y, g: g * PUBLIC["digamma"](x), True),
    "digamma": ("x", lambda x, y, g: g * polygamma(1, x), True),
    "i0": ("x", lambda x, y, g: g * PUBLIC["i1"](x), True),
    "i0e": ("x", lambda x, y, g: g * (PUBLIC["i1e"](x) - x.sign() * PUBLIC["i0e"](x)), True),
    "i1": ("x", _i1_grad, True),
    "i1e": ("x", _i1e_grad, True),
    "reciprocal": ("y", lambda x, y, g: -g * y * y, True),
    "square": ("x", lambda x, y, g: g * 2.0 * x, False),
    "floor": (None, lambda x, y, g: g * 0.0, False),
    "ceil": (None, lambda x, y, g: g * 0.0, False),
    "round": (None, lambda x, y, g: g * 0.0, False),
    "trunc": (None, lambda x, y, g: g * 0.0, False),
    "sign": (None, lambda x, y, g: g * 0.0, False),
    "frac": (None, lambda x, y, g: g, False),
    "positive": (None, lambda x, y, g: g, False),
    "deg2rad": (None, lambda x, y, g: g * (math.pi / 180.0), True),
    "rad2deg": (None, lambda x, y, g: g * (180.0 / math.pi), True),
}


# backward ops a backend may fuse into one kernel (``unary_grad``)
_FUSED_GRADS = frozenset(("relu", "gelu", "silu"))
_FLOAT_ONLY = frozenset(("frac", "gelu", "gelu_tanh", "silu", "softplus"))


def _make_unary(name, save, grad, float_out):
    fused_grad = name in _FUSED_GRADS
    def forward(ctx, x):
        d = x._dtype
        if name in _FLOAT_ONLY and d.category < 2:
            raise NotImplementedError(f"\"{name}\" not implemented for '{_tname(d)}'")
        if float_out and d.category < 2:
            d = dt.get_default_dtype()
        elif name == "abs" and d is dt.bool_:
            raise NotImplementedError("\"abs\" not implemented for 'Bool'")
        elif name == "neg" and d is dt.bool_:
            raise RuntimeError(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                "to invert a mask, use the `~` or `logical_not()` operator instead."
            )
        y = D.unary(name, x, d)
        if save == "x":
            ctx.save_for_backward(x)
        elif save == "y":
            ctx.save_for_backward(y)
        return y

    def backward(ctx, g):
        if fused_grad:
            (s,) = ctx.saved_tensors
            if not is_grad_enabled():  # a fused kernel has no graph: only without create_graph
                fn = getattr(D.backend_of(g), "unary_grad", None)
                r = fn(name, s._data, g._data) if fn is not None else None
                if r is not None:
                    return D.wrap(r, g._dtype, g._device)
            return grad(s, None, g) if save == "x" else grad(None, s, g)
        if save == "x":
            (x,) = ctx.saved_tensors
            return grad(x, None, g)
        if save == "y":
            (y,) = ctx.saved_tensors
            return grad(None, y, g)
        return grad(None, None, g)

    cls_name = "".join(p.capitalize() for p in name.split("_"))
    return type(
        cls_name,
        (Function,),
        {"forward": staticmethod(forward), "backward": staticmethod(backward)},
    )


FUNCTIONS = {name: _make_unary(name, *spec) for name, spec in UNARY_GRADS.items()}


def _make_public(name, fn_cls):
    def op(input, *, out=None):
        if out is not None:
            return _out_variant(name, fn_cls, input, out)
        return call(fn_cls, input)

    def op_(input):
        check_inplace(input, f"{name}_")
        if input._rg or input._base is not None:
            return commit_inplace(input, lambda: call(fn_cls, input))
        d = input._dtype
        if UNARY_GRADS[name][2] and d.category < 2:
            raise RuntimeError(
                f"result type Float can't be cast to the desired output type {_tname(d)}"
            )
        return D.unary(name, input, d, out=input)

    op.__name__ = name
    op.__qualname__ = name
    op.__doc__ = f"Elementwise ``{name}`` (differentiable); like ``torch.{name}``."
    op_.__name__ = name + "_"
    return op, op_


_tname = dt.scalar_type_name


def _out_variant(name, fn_cls, input, out):
    from ..autograd.grad_mode import STATE

    if STATE.enabled and (input._rg or out._rg):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad."
        )
    r = fn_cls.forward(__import__("deepforge.ops._common", fromlist=["NULL_CTX"]).NULL_CTX, input)
    from .shape import resize_out

    return resize_out(out, r)


PUBLIC = {}
for _name, _cls in FUNCTIONS.items():
    PUBLIC[_name], PUBLIC[_name + "_"] = _make_public(_name, _cls)
globals().update(PUBLIC)
__all__ += list(PUBLIC)
# only under torch.special (deepforge.special): no torch.i1 or Tensor.i1
for _name in ("i0e", "i1", "i1e"):
    __all__.remove(_name)
    __all__.remove(_name + "_")


# special functions built on the primitives above --------------------------------------------
class Zeta(Function):
    """Hurwitz zeta(x, q); differentiable in q only, as in PyTorch."""

    @staticmethod
    def forward(ctx, x, q):
        ctx.save_for_backward(q)
        ctx.x = x
        return D.binary("zeta", x, q)

    @staticmethod
    def backward(ctx, g):
        (q,) = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("the derivative of zeta for 'self' (x) is not implemented")
        x = ctx.x
        return None, -x * zeta(x + 1.0, q) * g


def _float_operands(op, input, other):
    from ..tensor import Tensor
    from .creation import as_tensor

    ref = input if isinstance(input, Tensor) else other
    if not isinstance(ref, Tensor):
        raise TypeError(f"{op}(): expected at least one Tensor argument")
    d = D.float_result(D.result_type_of(input, other))
    if isinstance(input, Tensor) or not isinstance(other, Tensor):
        input = as_tensor(input, dtype=d, device=ref._device)
    else:
        input = float(input)  # a Python number stays a scalar operand
    return input, as_tensor(other, dtype=d, device=ref._device)


def _finish(r, out):
    if out is None:
        return r
    from .shape import resize_out

    return resize_out(out, r)


def zeta(input, other, *, out=None):
    """Hurwitz zeta function sum_k (other + k) ** -input; like ``torch.special.zeta``."""
    x, q = _float_operands("zeta", input, other)
    return _finish(call(Zeta, x, q), out)


def polygamma(n: int, input, *, out=None):
    """n-th derivative of digamma: (-1)^(n+1) n! zeta(n + 1, x) for n >= 1."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    if n == 0:
        return PUBLIC["digamma"](input, out=out)
    sign = 1.0 if n % 2 else -1.0
    return _finish(zeta(float(n + 1), input) * (sign * math.factorial(n)), out)


def _float_input(op, input):
    d = input._dtype
    return input if d.category >= 2 else input.to(dt.get_default_dtype())


def _inplace(op, input, fn):
    check_inplace(input, op)
    if input._dtype.category < 2:
        raise RuntimeError(
            f"result type Float can't be cast to the desired output type {_tname(input._dtype)}"
        )
    return commit_inplace(input, fn)


def mvlgamma(input, p: int):
    """Multivariate log-gamma of dimension p: sum_i lgamma(x - i/2) + p(p-1)/4 log(pi)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    if input._dtype.category < 2:
        raise RuntimeError(f"mvlgamma is not implemented for {_tname(input._dtype)}")
    # no domain check (x > (p - 1) / 2): PyTorch 2.x returns inf or the finite sum there
    from .creation import arange

    shifts = arange(p, dtype=input._dtype, device=input._device) * 0.5
    terms = PUBLIC["lgamma"](input.unsqueeze(-1) - shifts)
    return terms.sum(-1) + p * (p - 1) * 0.25 * math.log(math.pi)


def sinc(input, *, out=None):
    """sin(pi x) / (pi x), 1 at 0."""
    from .ternary import where

    x = _float_input("sinc", input)
    at0 = x == 0
    px = where(at0, 1.0, x) * math.pi  # keeps the unused branch (and its gradient) finite
    return _finish(where(at0, 1.0, px.sin() / px), out)


def logit(input, eps: float | None = None, *, out=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given."""
    x = _float_input("logit", input)
    if eps is not None:
        x = x.clamp(eps, 1.0 - eps)
    return _finish((x / (1.0 - x)).log(), out)


def polygamma_(input, n: int):
    return _inplace("polygamma_", input, lambda: polygamma(n, input))


def mvlgamma_(input, p: int):
    return _inplace("mvlgamma_", input, lambda: mvlgamma(input, p))


def sinc_(input):
    return _inplace("sinc_", input, lambda: sinc(input))


def logit_(input, eps: float | None = None):
    return _inplace("logit_", input, lambda: logit(input, eps))


def xlogy_(input, other):
    from .binary import xlogy

    return _inplace("xlogy_", input, lambda: xlogy(input, other))


def igamma(input, other, *, out=None):
    """Regularized lower incomplete gamma function (``torch.special.gammainc``)."""
    from ..special import gammainc

    return gammainc(input, other, out=out)


def igammac(input, other, *, out=None):
    """Regularized upper incomplete gamma function (``torch.special.gammaincc``)."""
    from ..special import gammaincc

    return gammaincc(input, other, out=out)


def igamma_(input, other):
    return _inplace("igamma_", input, lambda: igamma(input, other))


def igammac_(input, other):
    return _inplace("igammac_", input, lambda: igammac(input, other))


def _attach_polygamma_methods():
    # Tensor.polygamma(n) takes the tensor first, the function takes n first
    from ..tensor import Tensor

    Tensor.polygamma = lambda self, n: polygamma(n, self)
    # in-place variants that PyTorch has as Tensor methods only
    Tensor.polygamma_ = polygamma_
    Tensor.mvlgamma_ = mvlgamma_
    Tensor.igamma_ = igamma_
    Tensor.igammac_ = igammac_
    Tensor.lgamma_ = PUBLIC["lgamma_"]
    Tensor.digamma_ = PUBLIC["digamma_"]


_attach_polygamma_methods()
__all__ += ["polygamma", "mvlgamma", "sinc", "sinc_", "logit", "logit_", "xlogy_"]
__all__ += ["igamma", "igammac"]
__all__.remove("lgamma_")
__all__.remove("digamma_")


# not differentiable: predicates and bit ops -------------------------------------------------
def _predicate(name):
    def op(input):
        return D.unary(name, input, dt.bool_)

    op.__name__ = name
    return op


isnan = _predicate("isnan")
isinf = _predicate("isinf")
isfinite = _predicate("isfinite")
signbit = _predicate("signbit")
logical_not = with_out(_predicate("logical_not"))


def isposinf(input):
    return isinf(input) & (input > 0)


def isneginf(input):
    return isinf(input) & (input < 0)


def isreal(input):
    return D.unary("isfinite", input, dt.bool_) | True


@with_out
def bitwise_not(input):
    if input._dtype.category > 1:
        raise NotImplementedError(
            f"\"bitwise_not\" not implemented for '{_tname(input._dtype)}' (needs an integer or "
            "bool tensor)"
        )
    return D.unary("bitwise_not", input, input._dtype)


def logical_not_(input):
    return (
        D.unary("logical_not", input, dt.bool_, out=input)
        if input._dtype is dt.bool_
        else commit_inplace(input, logical_not(input).to(input._dtype))
    )


__all__ += [
    "isnan",
    "isinf",
    "isfinite",
    "signbit",
    "logical_not",
    "logical_not_",
    "isposinf",
    "isneginf",
    "bitwise_not",
]


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """Replace NaN, +inf and -inf (defaults: 0 and the dtype's largest/lowest finite value)."""
    from .binary import where

    if not input._dtype.is_floating_point:
        r = input.clone()
    else:
        import numpy as np

        fi = np.finfo(input._dtype.np)
        posinf = float(fi.max) if posinf is None else posinf
        neginf = float(fi.min) if neginf is None else neginf
        r = where(
            isnan(input), nan, where(isposinf(input), posinf, where(isneginf(input), neginf, input))
        )
    if out is not None:
        from .shape import resize_out

        return resize_out(out, r)
    return r


def nan_to_num_(input, nan=0.0, posinf=None, neginf=None):
    check_inplace(input, "nan_to_num_")
    return commit_inplace(input, lambda: nan_to_num(input, nan, posinf, neginf))


__all__ += ["nan_to_num", "nan_to_num_"]


_round0 = PUBLIC["round"]


def round(input, *, decimals: int = 0, out=None):  # noqa: A001 - torch.round
    """Round half to even; ``decimals`` rounds to that many decimal places (negative: tens...)."""
    if decimals == 0:
        return _round0(input, out=out)
    if not input._dtype.is_floating_point:
        raise RuntimeError("round: decimals argument is only supported for floating-point tensors")
    scale = 10.0 ** (decimals if decimals > 0 else -decimals)
    r = _round0(input * scale) / scale if decimals > 0 else _round0(input / scale) * scale
    if out is not None:
        from .shape import resize_out

        return resize_out(out, r)
    return r
