"""Differentiable binary and ternary elementwise ops (broadcasting; scalars allowed).

Backward formulas return gradients of the broadcast shape; the engine reduces them to each
input's shape (``autograd.engine.sum_to_shape``), the one place broadcasting is undone.
"""

from __future__ import annotations

from .. import _dtype as dt
from ..autograd.function import Function
from ..autograd.grad_mode import STATE
from ..tensor import Tensor
from . import _dispatch as D
from ._common import NULL_CTX, call

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "pow", "float_power", "atan2", "arctan2", "hypot", "maximum", "minimum", "fmax", "fmin",
    "fmod", "remainder", "logaddexp", "logaddexp2", "copysign", "rsub",
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
    "not_equal", "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift", "xlogy", "squared_difference",
]


_tname = dt.scalar_type_name


def _is_t(x) -> bool:
    return isinstance(x, Tensor)


def _check_bool_sub(a, b):
    if (getattr(a, "_dtype", None) is dt.bool_ or isinstance(a, bool)) and \
            (getattr(b, "_dtype", None) is dt.bool_ or isinstance(b, bool)):
        raise RuntimeError(
            "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` "
            "or `logical_xor()` operator instead."
        )


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return D.binary("add", a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        _check_bool_sub(a, b)
        return D.binary("sub", a, b)

    @staticmethod
    def backward(ctx, g):
        return g, -g


def _needs(ctx, i) -> bool:
    nig = ctx.needs_input_grad
    return bool(nig[i]) if nig else False


def _save_operands(ctx, a, b, need_a, need_b, *extra):
    """Save only the operands the backward will read (what ``x.mul_(3)`` can overwrite
    safely); Python scalars are kept on ctx."""
    ctx.save_for_backward(
        a if need_a and _is_t(a) else None, b if need_b and _is_t(b) else None, *extra
    )
    ctx.a = None if _is_t(a) else a
    ctx.b = None if _is_t(b) else b


def _operands(ctx):
    a, b, *extra = ctx.saved_tensors
    return (ctx.a if a is None else a, ctx.b if b is None else b, *extra)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b, need_a=_needs(ctx, 1), need_b=_needs(ctx, 0))
        return D.binary("mul", a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = _operands(ctx)
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        d = D.float_result(D.result_type_of(a, b))
        _save_operands(ctx, a, b, need_a=_needs(ctx, 1), need_b=True)
        return D.binary("div", a, b, dtype=d)

    @staticmethod
    def backward(ctx, g):
        a, b = _operands(ctx)
        na, nb = ctx.needs_input_grad
        return (g / b if na else None), (-g * a / (b * b) if nb else None)


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        d = D.result_type_of(a, b)
        if d.category < 2 and not _is_t(b) and isinstance(b, int) and b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        y = D.binary("pow", a, b, dtype=d)
        _save_operands(ctx, a, b, True, True, y if _needs(ctx, 1) else None)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = _operands(ctx)
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            if not _is_t(b) and b == 0:
                ga = g * 0.0
            elif not _is_t(b):
                ga = g * b * a ** (b - 1)
            else:
                ga = where(b == 0, 0.0, g * b * a ** (b - 1.0))
        if nb:
            if _is_t(a):
                ga_log = where((a == 0) & (b >= 0), 0.0, g * y * a.log())
            else:
                import math

                ga_log = g * y * (math.log(a) if a > 0 else float("nan") if a < 0 else 0.0)
            gb = ga_log
        return ga, gb


def _binary_fn(name, grad_a, grad_b, float_out=False, save_out=False):
    """A Function for a binary op whose derivatives are expressions of (a, b, y, g)."""

    def forward(ctx, a, b):
        d = D.result_type_of(a, b)
        if float_out:
            d = D.float_result(d)
        y = D.binary(name, a, b, dtype=d)
        ctx.save_for_backward(
            a if _is_t(a) else None, b if _is_t(b) else None, y if save_out else None
        )
        if not _is_t(a):
            ctx.a = a
        if not _is_t(b):
            ctx.b = b
        return y

    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        a = ctx.a if a is None else a
        b = ctx.b if b is None else b
        na, nb = ctx.needs_input_grad
        return (grad_a(a, b, y, g) if na else None), (grad_b(a, b, y, g) if nb else None)

    cls_name = "".join(p.capitalize() for p in name.split("_"))
    return type(
        cls_name,
        (Function,),
        {"forward": staticmethod(forward), "backward": staticmethod(backward)},
    )


def _tie_split(mask_win, eq, g):
    return where(eq, g * 0.5, where(mask_win, g, 0.0))


def _atan2_denominator(a, b):
    """a^2 + b^2, with 1 where it is 0: the gradient at the origin is 0, as in PyTorch."""
    d = a * a + b * b
    return where(d == 0, 1.0, d) if _is_t(d) else (d or 1.0)


Atan2 = _binary_fn(
    "atan2",
    lambda a, b, y, g: g * b / _atan2_denominator(a, b),
    lambda a, b, y, g: -g * a / _atan2_denominator(a, b),
    float_out=True,
)
Hypot = _binary_fn(
    "hypot",
    lambda a, b, y, g: g * a / y,
    lambda a, b, y, g: g * b / y,
    float_out=True,
    save_out=True,
)
Maximum = _binary_fn(
    "maximum",
    lambda a, b, y, g: _tie_split(a > b, a == b, g),
    lambda a, b, y, g: _tie_split(b > a, a == b, g),
)
Minimum = _binary_fn(
    "minimum",
    lambda a, b, y, g: _tie_split(a < b, a == b, g),
    lambda a, b, y, g: _tie_split(b < a, a == b, g),
)
Fmax = _binary_fn(
    "fmax",
    lambda a, b, y, g: where((a >= b) | b.isnan(), g, 0.0),
    lambda a, b, y, g: where(~((a >= b) | b.isnan()), g, 0.0),
)
Fmin = _binary_fn(
    "fmin",
    lambda a, b, y, g: where((a <= b) | b.isnan(), g, 0.0),
    lambda a, b, y, g: where(~((a <= b) | b.isnan()), g, 0.0),
)
Fmod = _binary_fn("fmod", lambda a, b, y, g: g, lambda a, b, y, g: -g * (a / b).trunc())
Remainder = _binary_fn("remainder", lambda a, b, y, g: g, lambda a, b, y, g: -g * (a / b).floor())
Logaddexp = _binary_fn(
    "logaddexp",
    lambda a, b, y, g: g * (a - y).exp(),
    lambda a, b, y, g: g * (b - y).exp(),
    float_out=True,
    save_out=True,
)
Copysign = _binary_fn(
    "copysign",
    lambda a, b, y, g: g * a.sign() * y.sign(),
    lambda a, b, y, g: g * 0.0,
    float_out=True,
    save_out=True,
)


class FloorDivide(Function):
    @staticmethod
    def forward(ctx, a, b):
        return D.binary("floordiv", a, b)

    @staticmethod
    def backward(ctx, g):
        return g * 0.0, g * 0.0


def _scalar_or(x):
    return x


def add(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = mul(other, alpha)
    if out is not None:
        return _out(Add, out, input, other)
    if STATE.enabled and ((_is_t(input) and input._rg) or (_is_t(other) and other._rg)):
        return Add.apply(input, other)
    return D.binary("add", input, other)


def sub(input, other, *, alpha=1, out=None):
    if alpha != 1:
        other = mul(other, alpha)
    if out is not None:
        return _out(Sub, out, input, other)
    return call(Sub, input, other)


def rsub(input, other, *, alpha=1):
    return sub(other, input, alpha=alpha)


def mul(input, other, *, out=None):
    if out is not None:
        return _out(Mul, out, input, other)
    if STATE.enabled and ((_is_t(input) and input._rg) or (_is_t(other) and other._rg)):
        return Mul.apply(input, other)
    return D.binary("mul", input, other)


def div(input, other, *, rounding_mode=None, out=None):
    if rounding_mode is None:
        fn = Div
    elif rounding_mode == "trunc":
        r = call(Div, input, other)
        d = D.result_type_of(input, other)
        r = r.trunc()
        return r if d.category >= 2 else r.to(d)
    elif rounding_mode == "floor":
        fn = FloorDivide
    else:
        raise RuntimeError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'"
        )
    if out is not None:
        return _out(fn, out, input, other)
    return call(fn, input, other)


def floor_divide(input, other, *, out=None):
    if out is not None:
        return _out(FloorDivide, out, input, other)
    return call(FloorDivide, input, other)


def pow(input, exponent, *, out=None):
    if out is not None:
        return _out(Pow, out, input, exponent)
    if not _is_t(exponent) and exponent == 2 and _is_t(input):
        return input.square() if input._dtype.category >= 1 else call(Pow, input, exponent)
    return call(Pow, input, exponent)


def float_power(input, exponent):
    a = input.double() if _is_t(input) else float(input)
    b = exponent.double() if _is_t(exponent) else exponent
    return pow(a, b)


def _out(fn, out, *args):
    if STATE.enabled and (out._rg or any(_is_t(a) and a._rg for a in args)):
        raise RuntimeError(
            f"{fn.__name__.lower()}(): functions with out=... arguments don't support automatic "
            "differentiation, but one of the arguments requires grad."
        )
    from .shape import resize_out

    return resize_out(out, fn.forward(NULL_CTX, *args))


def _public(fn_cls, name):
    def op(input, other, *, out=None):
        if out is not None:
            return _out(fn_cls, out, input, other)
        return call(fn_cls, input, other)

    op.__name__ = name
    return op


atan2 = arctan2 = _public(Atan2, "atan2")
hypot = _public(Hypot, "hypot")
maximum = _public(Maximum, "maximum")
minimum = _public(Minimum, "minimum")
fmax = _public(Fmax, "fmax")
fmin = _public(Fmin, "fmin")
fmod = _public(Fmod, "fmod")
remainder = _public(Remainder, "remainder")
logaddexp = _public(Logaddexp, "logaddexp")
copysign = _public(Copysign, "copysign")
subtract = sub
multiply = mul
divide = div
true_divide = div


def logaddexp2(input, other):
    import math

    ln2 = math.log(2.0)
    return logaddexp(input * ln2, other * ln2) / ln2


class Xlogy(Function):
    """x * log(y), defined as 0 where x == 0 (even for y == 0); d/dx = log(y), d/dy = x / y."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return where(x == 0, 0.0, x * y.log())

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g * y.log() if na else None), (g * x / y if nb else None)


def xlogy(input, other, *, out=None):
    if not _is_t(input) and not _is_t(other):
        raise TypeError("xlogy(): expected at least one Tensor argument")
    ref = input if _is_t(input) else other
    d = D.float_result(D.result_type_of(input, other))
    from .creation import as_tensor

    x = as_tensor(input, dtype=d, device=ref._device)
    y = as_tensor(other, dtype=d, device=ref._device)
    r = call(Xlogy, x, y)
    if out is not None:
        from .shape import resize_out

        return resize_out(out, r)
    return r


def squared_difference(input, other):
    d = input - other
    return d * d


# comparisons and logic (not differentiable) ---------------------------------------------------
def _compare(name, pyname=None):
    def op(input, other, *, out=None):
        if not _is_t(input):
            raise TypeError(
                f"{pyname or name}(): argument 'input' must be Tensor, not {type(input).__name__}"
            )
        if _is_t(other) or isinstance(other, (int, float, bool)):
            return D.binary(name, input, other, out_dtype=dt.bool_, out=out)
        from .creation import as_tensor

        return D.binary(
            name, input, as_tensor(other, device=input._device), out_dtype=dt.bool_, out=out
        )

    op.__name__ = pyname or name
    return op


eq = _compare("eq")
ne = not_equal = _compare("ne")
lt = less = _compare("lt")
le = less_equal = _compare("le")
gt = greater = _compare("gt")
ge = greater_equal = _compare("ge")


def _logical(name):
    def op(input, other, *, out=None):
        return D.binary(name, input, other, out_dtype=dt.bool_, out=out)

    op.__name__ = name
    return op


logical_and = _logical("logical_and")
logical_or = _logical("logical_or")
logical_xor = _logical("logical_xor")


def _bitwise(name, prim):
    def op(input, other, *, out=None):
        for x in (input, other):
            if (_is_t(x) and x._dtype.category > 1) or isinstance(x, float):
                raise NotImplementedError(
                    f"\"{name}\" not implemented for '{_tname(x._dtype) if _is_t(x) else 'Float'}' "
                    "(needs integer or bool tensors)"
                )
        return D.binary(prim, input, other, out=out)

    op.__name__ = name
    return op


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")
bitwise_left_shift = _bitwise("bitwise_left_shift", "left_shift")
bitwise_right_shift = _bitwise("bitwise_right_shift", "right_shift")


# the ternary ops live in ternary.py; importable from here too (and used by backward formulas)
from .ternary import (  # noqa: E402,F401
    addcdiv,
    addcmul,
    clamp,
    clamp_,
    clamp_max,
    clamp_min,
    clip,
    lerp,
    where,
)
