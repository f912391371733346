"""In-place variants (``x.op_()``, ``x += y``), ``out=`` arguments and method coverage."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import deepforge as df

A = np.array([[0.5, -1.25, 2.0], [1.5, 0.75, -0.5]])
B = np.array([[1.5, 0.5, -2.0], [0.25, 2.0, 1.0]])

# name -> (in-place call, out-of-place equivalent)
INPLACE = {
    "add_": (lambda x, y: x.add_(y), lambda x, y: x + y),
    "add_alpha": (lambda x, y: x.add_(y, alpha=2), lambda x, y: x + 2 * y),
    "add_scalar": (lambda x, y: x.add_(3), lambda x, y: x + 3),
    "sub_": (lambda x, y: x.sub_(y), lambda x, y: x - y),
    "mul_": (lambda x, y: x.mul_(y), lambda x, y: x * y),
    "div_": (lambda x, y: x.div_(y), lambda x, y: x / y),
    "div_floor": (
        lambda x, y: x.div_(y, rounding_mode="floor"),
        lambda x, y: df.div(x, y, rounding_mode="floor"),
    ),
    "pow_": (lambda x, y: x.abs_().pow_(y), lambda x, y: x.abs() ** y),
    "pow_scalar": (lambda x, y: x.pow_(2), lambda x, y: x * x),
    "remainder_": (lambda x, y: x.remainder_(y), lambda x, y: x % y),
    "fmod_": (lambda x, y: x.fmod_(y), lambda x, y: df.fmod(x, y)),
    "maximum_via_clamp_": (lambda x, y: x.clamp_(min=0.0), lambda x, y: x.clamp(min=0.0)),
    "clamp_": (lambda x, y: x.clamp_(-1, 1), lambda x, y: x.clamp(-1, 1)),
    "clamp_tensor_": (lambda x, y: x.clamp_(max=y), lambda x, y: df.minimum(x, y)),
    "neg_": (lambda x, y: x.neg_(), lambda x, y: -x),
    "abs_": (lambda x, y: x.abs_(), lambda x, y: x.abs()),
    "exp_": (lambda x, y: x.exp_(), lambda x, y: x.exp()),
    "sin_": (lambda x, y: x.sin_(), lambda x, y: x.sin()),
    "tanh_": (lambda x, y: x.tanh_(), lambda x, y: x.tanh()),
    "sigmoid_": (lambda x, y: x.sigmoid_(), lambda x, y: x.sigmoid()),
    "relu_": (lambda x, y: x.relu_(), lambda x, y: x.relu()),
    "sqrt_": (lambda x, y: x.abs_().sqrt_(), lambda x, y: x.abs().sqrt()),
    "floor_": (lambda x, y: x.floor_(), lambda x, y: x.floor()),
    "reciprocal_": (lambda x, y: x.reciprocal_(), lambda x, y: 1 / x),
    "fill_": (lambda x, y: x.fill_(2.5), lambda x, y: df.full_like(x, 2.5)),
    "zero_": (lambda x, y: x.zero_(), lambda x, y: df.zeros_like(x)),
    "copy_": (lambda x, y: x.copy_(y), lambda x, y: y.clone()),
    "copy_broadcast": (lambda x, y: x.copy_(y[0]), lambda x, y: y[0].expand(2, 3).clone()),
    "lerp_": (lambda x, y: x.lerp_(y, 0.25), lambda x, y: df.lerp(x, y, 0.25)),
    "addcmul_": (lambda x, y: x.addcmul_(y, y, value=0.5), lambda x, y: x + 0.5 * y * y),
    "addcdiv_": (lambda x, y: x.addcdiv_(y, y + 3, value=2), lambda x, y: x + 2 * y / (y + 3)),
    "masked_fill_": (
        lambda x, y: x.masked_fill_(y > 0.6, -9.0),
        lambda x, y: x.masked_fill(y > 0.6, -9.0),
    ),
    "index_add_": (
        lambda x, y: x.index_add_(1, _idx(x, [0, 2, 0]), y),
        lambda x, y: x.index_add(1, _idx(x, [0, 2, 0]), y),
    ),
    "index_fill_": (
        lambda x, y: x.index_fill_(0, _idx(x, [1]), 4.0),
        lambda x, y: x.index_fill(0, _idx(x, [1]), 4.0),
    ),
    "scatter_": (
        lambda x, y: x.scatter_(1, _idx(x, [[2], [0]]), 7.0),
        lambda x, y: x.scatter(1, _idx(x, [[2], [0]]), 7.0),
    ),
    "scatter_add_": (
        lambda x, y: x.scatter_add_(0, _idx(x, [[1, 0, 1]]), y[:1]),
        lambda x, y: x.scatter_add(0, _idx(x, [[1, 0, 1]]), y[:1]),
    ),
    "nan_to_num_": (lambda x, y: x.nan_to_num_(), lambda x, y: x.clone()),
    "setitem": (
        lambda x, y: x.__setitem__((slice(None), 1), y[:, 0]) or x,
        lambda x, y: df.stack([x[:, 0], y[:, 0], x[:, 2]], 1),
    ),
    "gt_": (lambda x, y: x.gt_(y), lambda x, y: (x > y).to(x.dtype)),
    "eq_": (lambda x, y: x.eq_(0.75), lambda x, y: (x == 0.75).to(x.dtype)),
    "cumsum_": (lambda x, y: x.cumsum_(1), lambda x, y: x.cumsum(1)),
    "cumprod_": (lambda x, y: x.cumprod_(0), lambda x, y: x.cumprod(0)),
    "tril_": (lambda x, y: x.tril_(), lambda x, y: x.tril()),
    "triu_": (lambda x, y: x.triu_(1), lambda x, y: x.triu(1)),
    "addmm_": (lambda x, y: x.addmm_(y[:, :2], y, beta=0.5), lambda x, y: 0.5 * x + y[:, :2] @ y),
    "iadd": (lambda x, y: _iop(x, y, "__iadd__"), lambda x, y: x + y),
    "isub": (lambda x, y: _iop(x, y, "__isub__"), lambda x, y: x - y),
    "imul": (lambda x, y: _iop(x, y, "__imul__"), lambda x, y: x * y),
    "itruediv": (lambda x, y: _iop(x, y, "__itruediv__"), lambda x, y: x / y),
    "ifloordiv": (lambda x, y: _iop(x, y, "__ifloordiv__"), lambda x, y: x // y),
    "imod": (lambda x, y: _iop(x, y, "__imod__"), lambda x, y: x % y),
    "ipow": (lambda x, y: _iop(x.abs_(), y, "__ipow__"), lambda x, y: x.abs() ** y),
}


def _idx(x, values):
    """An index tensor made through x's own module (deepforge or torch)."""
    return x.new_tensor(values).long()


def _iop(x, y, name):
    r = getattr(x, name)(y)
    assert r is x
    return r


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_matches_out_of_place(name, device):
    inplace, ref = INPLACE[name]
    x = df.tensor(A, dtype=df.float64, device=device)
    y = df.tensor(B, dtype=df.float64, device=device)
    expected = ref(x.clone(), y)
    v = x._version
    r = inplace(x, y)
    assert r is x, f"{name} must return self"
    assert x._version > v, f"{name} must bump the version counter"
    assert_close(x, expected, rtol=1e-12)


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_through_a_view_is_visible_in_base(name, device):
    inplace, ref = INPLACE[name]
    base = df.zeros(4, 5, dtype=df.float64, device=device)
    base[1:3, 1:4] = df.tensor(A, dtype=df.float64, device=device)
    view = base[1:3, 1:4]
    y = df.tensor(B, dtype=df.float64, device=device)
    expected = ref(view.clone(), y)
    inplace(view, y)
    assert_close(base[1:3, 1:4], expected, rtol=1e-12)
    outside = base.clone()
    outside[1:3, 1:4] = 0
    assert not outside.cpu().numpy().any()
    assert base._version == view._version


@pytest.mark.parametrize(
    "name",
    [n for n in INPLACE if n not in ("fill_", "zero_", "copy_", "copy_broadcast", "setitem")],
)
def test_inplace_autograd_matches_torch(name):
    torch = pytest.importorskip("torch")
    inplace, _ = INPLACE[name]

    def run(m):
        x = m.tensor(A, dtype=m.float64, requires_grad=True)
        y = m.tensor(B, dtype=m.float64, requires_grad=True)
        h = x * 1.5  # a non-leaf: in-place is allowed on it
        out = inplace(h, y)
        (out * m.tensor(B + 2, dtype=m.float64)).sum().backward()
        return x.grad, y.grad

    try:
        tg = run(torch)
    except (RuntimeError, TypeError, AttributeError):
        pytest.skip("torch cannot run this form")
    dg = run(df)
    for a, e in zip(dg, tg):
        if e is None:
            assert a is None or not a.numpy().any()
        else:
            assert_close(a, e.numpy(), rtol=1e-10, atol=1e-12)


def test_inplace_on_non_leaf_needing_old_value():
    """Backward formulas that need the input's old value still work (like PyTorch)."""
    for op, deriv in [
        ("sin_", lambda a: np.cos(a)),
        ("pow_", lambda a: 2 * a),
        ("log_", lambda a: 1 / a),
        ("sqrt_", lambda a: 0.5 / np.sqrt(a)),
        ("mul_", lambda a: 2 * a),
        ("clamp_", lambda a: 1.0 * (a <= 1.2)),
    ]:
        a = np.array([0.5, 1.0, 2.0])
        x = df.tensor(a, dtype=df.float64, requires_grad=True)
        y = x * 1.0
        if op == "pow_":
            y.pow_(2)
        elif op == "mul_":
            y.mul_(y)
        elif op == "clamp_":
            y.clamp_(max=1.2)
        else:
            getattr(y, op)()
        y.sum().backward()
        assert_close(x.grad, deriv(a), rtol=1e-12)


def test_integer_and_bool_inplace():
    x = df.tensor([1, 2, 3])
    x += 2
    x *= 3
    x //= 2
    x %= 5
    assert x.tolist() == [4, 1, 2] and x.dtype is df.int64
    m = df.tensor([True, False, True])
    m &= df.tensor([True, True, False])
    m |= df.tensor([False, True, False])
    m ^= df.tensor([True, True, True])
    assert m.tolist() == [False, False, True]
    b = df.tensor([0b1100, 0b1010], dtype=df.int32)
    b.bitwise_and_(0b1000)
    assert b.tolist() == [8, 8]
    f = df.tensor([1.0, 2.0])
    f += df.tensor([1, 2])  # int into float: fine
    assert f.tolist() == [2.0, 4.0]


# -- out= --------------------------------------------------------------------------------------
OUT_OPS = {
    "add": lambda a, b, out: df.add(a, b, out=out),
    "mul": lambda a, b, out: df.mul(a, b, out=out),
    "sub": lambda a, b, out: df.sub(a, b, out=out),
    "div": lambda a, b, out: df.div(a, b, out=out),
    "pow": lambda a, b, out: df.pow(a.abs(), b, out=out),
    "maximum": lambda a, b, out: df.maximum(a, b, out=out),
    "atan2": lambda a, b, out: df.atan2(a, b, out=out),
    "exp": lambda a, b, out: df.exp(a, out=out),
    "sin": lambda a, b, out: df.sin(a, out=out),
    "clamp": lambda a, b, out: df.clamp(a, -1, 1, out=out),
    "where": lambda a, b, out: df.where(a > 0, a, b, out=out),
    "matmul": lambda a, b, out: df.matmul(a, b.t(), out=out),
    "sum": lambda a, b, out: df.sum(a, 1, out=out),
    "mean": lambda a, b, out: df.mean(a, 0, out=out),
    "cat": lambda a, b, out: df.cat([a, b], out=out),
    "stack": lambda a, b, out: df.stack([a, b], out=out),
    "lerp": lambda a, b, out: df.lerp(a, b, 0.5, out=out),
    "addcmul": lambda a, b, out: df.addcmul(a, a, b, out=out),
    "var": lambda a, b, out: df.var(a, 1, out=out),
    "cumsum": lambda a, b, out: df.cumsum(a, 1, out=out),
    "tril": lambda a, b, out: df.tril(a, out=out),
    "gather": lambda a, b, out: df.gather(a, 1, df.tensor([[0, 0], [2, 1]]), out=out),
    "outer": lambda a, b, out: df.outer(a[0], b[1], out=out),
    "logical_not": lambda a, b, out: df.logical_not(a, out=out),
}


@pytest.mark.parametrize("name", list(OUT_OPS))
def test_out_argument(name):
    f = OUT_OPS[name]
    a, b = df.tensor(A), df.tensor(B)
    expected = f(a, b, None)
    out = df.empty(expected.shape)
    r = f(a, b, out)
    assert r is out
    assert_close(out, expected)
    wrong = df.empty(0)  # an empty out is resized silently
    f(a, b, wrong)
    assert wrong.shape == expected.shape


def test_out_errors_and_warnings():
    a = df.tensor(A)
    with pytest.warns(UserWarning, match="was resized"):
        df.add(a, a, out=df.empty(5))
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
        df.add(a, a, out=df.empty(2, 3, dtype=df.int64))
    with pytest.raises(
        RuntimeError, match="out=... arguments don't support automatic differentiation"
    ):
        df.exp(df.tensor(A, requires_grad=True), out=df.empty(2, 3))


# -- method coverage ---------------------------------------------------------------------------
METHODS = """
abs add addcdiv addcmul all allclose amax amin any argmax argmin argsort argwhere atan2
backward bernoulli bfloat16 bitwise_and bitwise_not bitwise_or bitwise_xor bmm bool
broadcast_to byte ceil char chunk clamp clip clone contiguous copy_ cos cosh count_nonzero cpu
cross cummax cummin cumprod cumsum detach detach_ diag diagonal dim div dot double
element_size eq equal erf erfinv exp exp2 expand expand_as expm1 fill_ flatten flip float
floor floor_divide fmax fmin fmod frac gather ge gt half hypot index_add index_add_ index_copy
index_fill index_select int is_contiguous isclose isfinite isinf isnan item kthvalue le lerp
log log10 log1p log2 log_softmax logaddexp logical_and logical_not logical_or logical_xor
logsumexp long lt masked_fill masked_fill_ masked_scatter masked_select matmul max maximum
mean median min minimum mm mode movedim mul mv nan_to_num nan_to_num_ nansum narrow ndimension
ne neg nelement new_empty new_full new_ones new_tensor new_zeros nonzero norm numel numpy
outer permute pow prod reciprocal register_hook relu remainder repeat repeat_interleave
requires_grad_ reshape retain_grad roll round rsqrt scatter scatter_ scatter_add scatter_add_
scatter_reduce select short sigmoid sign sin sinh size softmax sort split sqrt square squeeze
std stride sub sum swapaxes t take take_along_dim tan tanh tile to tolist topk transpose tril
triu trunc type type_as unbind unflatten unique unsqueeze var view view_as where zero_
""".split()


def test_tensor_methods_exist():
    torch = pytest.importorskip("torch")
    missing = [
        m
        for m in METHODS
        if hasattr(torch.Tensor, m) and not hasattr(df.Tensor, m) and m != "bfloat16"
    ]
    assert not missing, missing
    x = df.tensor(A)
    assert_close(x.amax(1), A.max(1))
    assert_close(x.logsumexp(0), np.log(np.exp(A).sum(0)))
    assert x.isclose(x).all().item() and x.allclose(x) and x.equal(x.clone())
    assert_close(x.nan_to_num(), A)
    assert_close(x.repeat_interleave(2, 0), np.repeat(A, 2, 0))
