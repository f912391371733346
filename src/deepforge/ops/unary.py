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
