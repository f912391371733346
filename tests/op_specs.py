# ruff: noqa: E501 - a declarative table reads best one row per line
"""The op-spec table: one row per op drives forward vs numpy, float64 gradcheck and
gradgradcheck, broadcast/empty/odd shapes, non-contiguous inputs, and comparison with torch
(see test_op_specs.py). Adding an op is one line here.

A row's ``op(m, *tensors)`` is written against the module ``m``, which is ``deepforge`` or
``torch``; ``ref(*arrays)`` is the numpy reference (float inputs arrive as float64) or SAME
to evaluate ``op`` itself on numpy arrays (indexing expressions). Row helpers: ``U`` unary,
``B`` binary (both look the op up by name), ``C`` any callable; ``Arg`` a fixed input.
"""

from __future__ import annotations

import numpy as np
import op_refs as R
import op_spec_lib as L

FH, FHI, FI, INT, INTB, NG, NUM, NUMB, S1, S2, S3, SAME, SD, SN, SR, Arg, B, C, F, Spec, U, _set, _shape_of, const, index_for, mask = (
    L.FH, L.FHI, L.FI, L.INT, L.INTB, L.NG, L.NUM, L.NUMB, L.S1, L.S2, L.S3, L.SAME, L.SD, L.SN, L.SR, L.Arg, L.B, L.C, L.F, L.Spec, L.U, L._set, L._shape_of, L.const, L.index_for, L.mask)

UNARY = [
    U("neg", np.negative, dtypes=NUM),
    U("abs", np.abs, "away0", NUM),
    U("sign", np.sign, "away0", NUM),
    U("exp", np.exp), U("exp2", np.exp2), U("expm1", np.expm1),
    U("log", np.log, "pos"), U("log2", np.log2, "pos"), U("log10", np.log10, "pos"),
    U("log1p", np.log1p, "pos"),
    U("sqrt", np.sqrt, "pos"), U("rsqrt", lambda x: 1 / np.sqrt(x), "pos"),
    U("sin", np.sin), U("cos", np.cos), U("tan", np.tan, "unit"),
    U("asin", np.arcsin, "unit"), U("acos", np.arccos, "unit"), U("atan", np.arctan),
    U("sinh", np.sinh), U("cosh", np.cosh), U("tanh", np.tanh),
    U("asinh", np.arcsinh), U("acosh", np.arccosh, "gt1"), U("atanh", np.arctanh, "unit"),
    U("sigmoid", R.sigmoid), U("relu", lambda x: np.maximum(x, 0), "away0", FHI),
    U("gelu", R.gelu, dtypes=FH), U("silu", lambda x: x * R.sigmoid(x), dtypes=FH),
    U("softplus", lambda x: np.logaddexp(x, 0), dtypes=FH),
    U("erf", R.erf), U("erfinv", R.erfinv, "unit", rtol=1e-4),
    U("floor", np.floor), U("ceil", np.ceil), U("round", R.torch_round), U("trunc", np.trunc),
    U("frac", R.frac, dtypes=FH), U("reciprocal", lambda x: 1.0 / x, "nonzero"),
    U("square", np.square), U("deg2rad", np.deg2rad, dtypes=FH), U("rad2deg", np.rad2deg, dtypes=FH),
    C("round_decimals", lambda m, x: m.round(x, decimals=1), lambda x: np.round(x, 1), S1, **NG),
    C("nan_to_num", lambda m, x: m.nan_to_num(x), lambda x: np.nan_to_num(x, nan=0.0, posinf=np.finfo(
        np.float64).max, neginf=np.finfo(np.float64).min), S1, ("special",), FHI, **NG),
    C("nan_to_num_args", lambda m, x: m.nan_to_num(x, nan=1.5, posinf=9.0, neginf=-9.0),
      lambda x: np.nan_to_num(x, nan=1.5, posinf=9.0, neginf=-9.0), S1, ("special",), FH, **NG),
    C("nan_to_num_grad", lambda m, x: m.nan_to_num(x), lambda x: x, S1),
]
# nan_to_num's default posinf depends on the dtype: compared with torch, numpy row skipped there
UNARY[-3].ref = None

PREDICATES = [
    U("isnan", np.isnan, "special", NUM, **NG), U("isinf", np.isinf, "special", NUM, **NG),
    U("isfinite", np.isfinite, "special", NUM, **NG),
    U("logical_not", np.logical_not, "zeros", NUMB, **NG),
    U("bitwise_not", np.invert, dtypes=INTB, **NG),
    C("isclose", lambda m, a, b: m.isclose(a, b, rtol=0.2, atol=0.3),
      lambda a, b: R.isclose(a, b, 0.2, 0.3), S2, ("real", "real"), FHI, **NG),
    C("isclose_nan", lambda m, a, b: m.isclose(a, b, equal_nan=True), lambda a, b: R.isclose(
        a, b, equal_nan=True), [((3, 4), (3, 4)), ((7,), (1,))], ("special", "special"), FH, **NG),
    C("allclose", lambda m, a, b: m.allclose(a, b, rtol=0.5, atol=1.0),
      lambda a, b: np.allclose(a, b, rtol=0.5, atol=1.0), S2, ("real", "real"), F, **NG),
    C("equal", lambda m, a, b: m.equal(a, b), lambda a, b: a.shape == b.shape and bool(np.all(a == b)),
      [((3, 4), (3, 4)), ((3,), (4,)), ((), ())], ("small", "small"), INTB, **NG),
    C("equal_self", lambda m, a: m.equal(a, a.clone()), lambda a: True, S1, dtypes=NUMB, **NG),
    C("isin", lambda m, a, b: m.isin(a, b), np.isin, [((3, 4), (5,)), ((7,), (2, 2)), ((0,), (3,)),
      ((4,), (0,))], ("real", "real"), INT, **NG),
    C("isin_invert", lambda m, a, b: m.isin(a, b, invert=True), lambda a, b: ~np.isin(a, b),
      [((3, 4), (5,))], ("real", "real"), ("int64",), **NG),
]

BINARY = [
    B("add", np.add, dtypes=NUMB), B("sub", np.subtract, dtypes=NUM), B("mul", np.multiply, dtypes=NUMB),
    B("div", np.true_divide, ("real", "nonzero")),
    C("add_alpha", lambda m, a, b: m.add(a, b, alpha=2), lambda a, b: a + 2 * b, S2, ("real", "real"), FHI),
    C("sub_alpha", lambda m, a, b: m.sub(a, b, alpha=0.5), lambda a, b: a - 0.5 * b, S2, ("real", "real")),
    C("div_trunc", lambda m, a, b: m.div(a, b, rounding_mode="trunc"), lambda a, b: np.trunc(a / b),
      S2, ("real", "nonzero"), FHI),
    C("div_floor", lambda m, a, b: m.div(a, b, rounding_mode="floor"), np.floor_divide, S2,
      ("real", "nonzero"), FHI),
    B("floor_divide", np.floor_divide, ("real", "nonzero"), FI),
    B("remainder", np.remainder, ("real", "nonzero"), FI), B("fmod", np.fmod, ("real", "nonzero"), FI),
    B("pow", np.power, ("pos", "real"), FH),
    C("pow_int", lambda m, a, b: m.pow(a, b), np.power, S2, ("small", "shift"), ("int32", "int64"), **NG),
    B("atan2", np.arctan2), B("hypot", np.hypot, dtypes=FH),
    B("maximum", np.maximum, dtypes=NUMB), B("minimum", np.minimum, dtypes=NUMB),
    B("fmax", np.fmax, dtypes=FHI), B("fmin", np.fmin, dtypes=FHI),
    B("logaddexp", np.logaddexp, dtypes=FH), B("copysign", np.copysign, ("real", "nonzero"), FH),
    C("fmax_nan", lambda m, a, b: m.fmax(a, b), np.fmax, S2, ("nanreal", "nanreal"), F, **NG),
    C("maximum_nan", lambda m, a, b: m.maximum(a, b), np.maximum, S2, ("nanreal", "real"), F, **NG),
    C("xlogy", lambda m, a, b: m.xlogy(a, b), lambda a, b: np.where(a == 0, 0.0, a * np.log(b)), S2,
      ("zeros", "pos"), F, torch_op=lambda t, a, b: t.xlogy(a, b)),
]
for _n, _f in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less), ("le", np.less_equal),
               ("gt", np.greater), ("ge", np.greater_equal), ("logical_and", np.logical_and),
               ("logical_or", np.logical_or), ("logical_xor", np.logical_xor)]:
    BINARY.append(B(_n, _f, ("small", "small"), NUMB, **NG))
for _n, _f in [("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
               ("bitwise_xor", np.bitwise_xor)]:
    BINARY.append(B(_n, _f, dtypes=INTB, **NG))
BINARY += [
    B("bitwise_left_shift", np.left_shift, ("real", "shift"), ("int32", "int64"), **NG),
    B("bitwise_right_shift", np.right_shift, ("real", "shift"), ("int32", "int64"), **NG),
]

OPERATORS = [
    C("op_add", lambda m, a, b: a + b, SAME, S2, ("real", "real"), NUMB),
    C("op_sub", lambda m, a, b: a - b, SAME, S2, ("real", "real"), NUM),
    C("op_mul", lambda m, a, b: a * b, SAME, S2, ("real", "real"), NUMB),
    C("op_truediv", lambda m, a, b: a / b, SAME, S2, ("real", "nonzero"), FHI),
    C("op_floordiv", lambda m, a, b: a // b, SAME, S2, ("real", "nonzero"), FI),
    C("op_mod", lambda m, a, b: a % b, SAME, S2, ("real", "nonzero"), FI),
    C("op_pow", lambda m, a, b: a ** b, SAME, S2, ("pos", "real"), FH),
    C("op_neg", lambda m, a: -a, SAME, S1, dtypes=NUM),
    C("op_abs", lambda m, a: abs(a), SAME, S1, ("away0",), NUM),
    C("op_pos", lambda m, a: +a, SAME, S1, dtypes=NUM),
    C("op_radd", lambda m, a: 2.5 + a, SAME, S1, dtypes=NUMB),
    C("op_add_int", lambda m, a: a + 3, SAME, S1, dtypes=NUM),
    C("op_add_bool", lambda m, a: a + True, SAME, S1, dtypes=NUMB),
    C("op_rsub", lambda m, a: 1.5 - a, SAME, S1, dtypes=NUM),
    C("op_rmul", lambda m, a: 3 * a, SAME, S1, dtypes=NUMB),
    C("op_rtruediv", lambda m, a: 2 / a, SAME, S1, ("nonzero",), FHI),
    C("op_rfloordiv", lambda m, a: 5 // a, SAME, S1, ("nonzero",), FI),
    C("op_rmod", lambda m, a: 5.5 % a, SAME, S1, ("nonzero",), FI),
    C("op_rpow", lambda m, a: 2 ** a, SAME, S1, ("real",), F),
    C("op_pow2", lambda m, a: a ** 2, SAME, S1, ("real",), FHI),
    C("op_pow3", lambda m, a: a ** 3, SAME, S1, ("real",), FHI),
    C("op_pow_half", lambda m, a: a ** 0.5, SAME, S1, ("pos",), FH),
    C("op_pow_neg", lambda m, a: a ** -1.5, SAME, S1, ("pos",), FH),
    C("op_pow0", lambda m, a: a ** 0, SAME, S1, ("real",), FHI),
    C("op_and", lambda m, a, b: a & b, SAME, S2, ("real", "real"), INTB, **NG),
    C("op_or", lambda m, a, b: a | b, SAME, S2, ("real", "real"), INTB, **NG),
    C("op_xor", lambda m, a, b: a ^ b, SAME, S2, ("real", "real"), INTB, **NG),
    C("op_invert", lambda m, a: ~a, SAME, S1, ("real",), INTB, **NG),
    C("op_lshift", lambda m, a, b: a << b, SAME, S2, ("real", "shift"), ("int64",), **NG),
    C("op_rshift", lambda m, a, b: a >> b, SAME, S2, ("real", "shift"), ("int64",), **NG),
    C("op_lt", lambda m, a, b: a < b, SAME, S2, ("small", "small"), NUMB, **NG),
    C("op_le", lambda m, a, b: a <= b, SAME, S2, ("small", "small"), NUMB, **NG),
    C("op_gt", lambda m, a, b: a > b, SAME, S2, ("small", "small"), NUMB, **NG),
    C("op_ge", lambda m, a, b: a >= b, SAME, S2, ("small", "small"), NUMB, **NG),
    C("op_eq", lambda m, a, b: a == b, SAME, S2, ("small", "small"), NUMB, **NG),
    C("op_ne", lambda m, a, b: a != b, SAME, S2, ("small", "small"), NUMB, **NG),
    C("op_eq_scalar", lambda m, a: a == 1, SAME, S1, ("small",), NUMB, **NG),
    C("op_lt_float", lambda m, a: a < 0.5, SAME, S1, ("small",), NUM, **NG),
    C("op_and_scalar", lambda m, a: a & 3, SAME, S1, ("real",), INT, **NG),
]

TERNARY = [
    C("where", lambda m, c, a, b: m.where(c, a, b), np.where, S3, (Arg(mask), "real", "real"), NUMB),
    C("where_scalar", lambda m, c, a: m.where(c, a, 0.5), lambda c, a: np.where(c, a, 0.5),
      [((3, 4), (3, 4)), ((3, 1), (4,)), ((), ())], (Arg(mask), "real"), FI),
    C("where_method", lambda m, c, a, b: a.where(c, b), lambda c, a, b: np.where(c, a, b), S3,
      (Arg(mask), "real", "real")),
    C("clamp", lambda m, x: m.clamp(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), S1, dtypes=FHI),
    C("clamp_int", lambda m, x: m.clamp(x, -1, 2), lambda x: np.clip(x, -1, 2), S1, dtypes=FHI + ("int8", "int16")),
    C("clamp_min", lambda m, x: m.clamp(x, min=0.3), lambda x: np.maximum(x, 0.3), S1, dtypes=FHI),
    C("clamp_max", lambda m, x: m.clamp(x, max=0.3), lambda x: np.minimum(x, 0.3), S1, dtypes=FHI),
    C("clip", lambda m, x: m.clip(x, -1, 1), lambda x: np.clip(x, -1, 1), S1),
    C("clamp_tensor", lambda m, x, lo, hi: m.clamp(x, lo, hi), lambda x, lo, hi: np.minimum(
        np.maximum(x, lo), hi), S3, ("real", "real", "real"), dtypes=FI),
    C("lerp", lambda m, a, b: m.lerp(a, b, 0.3), lambda a, b: a + 0.3 * (b - a), S2, ("real", "real"), FH),
    C("lerp_tensor", lambda m, a, b, w: m.lerp(a, b, w), lambda a, b, w: a + w * (b - a), S3,
      ("real", "real", "real")),
    C("addcmul", lambda m, a, b, c: m.addcmul(a, b, c, value=2), lambda a, b, c: a + 2 * b * c,
      S3, ("real", "real", "real"), FHI),
    C("addcdiv", lambda m, a, b, c: m.addcdiv(a, b, c, value=2), lambda a, b, c: a + 2 * b / c, S3,
      ("real", "real", "nonzero"), FH),
]

REDUCTIONS = [
    C("sum", lambda m, x: m.sum(x), np.sum, SR, dtypes=NUMB),
    C("sum_dim", lambda m, x: m.sum(x, 1), lambda x: np.sum(x, 1), SD, dtypes=NUMB),
    C("sum_dims_keepdim", lambda m, x: x.sum((0, -1), keepdim=True), lambda x: np.sum(
        x, (0, -1), keepdims=True), SD, dtypes=FHI),
    C("sum_neg_dim", lambda m, x: x.sum(-1), lambda x: np.sum(x, -1), SR[1:], dtypes=FI),
    C("sum_dtype", lambda m, x: m.sum(x, 0, dtype=m.float64), lambda x: np.sum(x, 0), SD, dtypes=INT, **NG),
    C("nansum", lambda m, x: m.nansum(x, 1), lambda x: np.nansum(x, 1), SD, ("nanreal",), **NG),
    C("nansum_grad", lambda m, x: m.nansum(x), np.nansum, SR),
    C("mean", lambda m, x: m.mean(x), np.mean, SR, dtypes=FH),
    C("mean_dim", lambda m, x: x.mean(1), lambda x: np.mean(x, 1), SD),
    C("mean_dims", lambda m, x: x.mean((0, 1), keepdim=True), lambda x: np.mean(
        x, (0, 1), keepdims=True), SN),
    C("prod", lambda m, x: m.prod(x), np.prod, SR[:-1], ("small",), FI),
    C("prod_dim", lambda m, x: m.prod(x, 1), lambda x: np.prod(x, 1), SD[:-1], ("small",), FI),
    C("prod_zeros", lambda m, x: x.prod(), np.prod, [(7,), (3, 4)], ("zeros",)),
    C("prod_dim_zeros", lambda m, x: x.prod(0, keepdim=True), lambda x: np.prod(x, 0, keepdims=True),
      [(3, 4), (5,)], ("zeros",)),
    C("max", lambda m, x: m.max(x), np.max, SR[:4] + SR[-1:], ("distinct",), NUM),
    C("max_dim", lambda m, x: m.max(x, 1), lambda x: (np.max(x, 1), np.argmax(x, 1)), SN, ("distinct",), FI),
    C("max_dim_keepdim", lambda m, x: x.max(-1, keepdim=True), lambda x: (np.max(
        x, -1, keepdims=True), np.argmax(x, -1)[..., None]), SN, ("distinct",)),
    C("min", lambda m, x: m.min(x), np.min, SR[:4], ("distinct",), NUM),
    C("min_dim", lambda m, x: m.min(x, 0), lambda x: (np.min(x, 0), np.argmin(x, 0)), SN, ("distinct",), FI),
    C("max_binary", lambda m, a, b: m.max(a, b), np.maximum, S2[:5], ("real", "real"), FI),
    C("amax", lambda m, x: m.amax(x, (0, 1)), lambda x: np.max(x, (0, 1)), SN, ("distinct",), FI),
    C("amin", lambda m, x: m.amin(x, -1, keepdim=True), lambda x: np.min(x, -1, keepdims=True), SN,
      ("distinct",), FI),
    C("amax_ties", lambda m, x: m.amax(x, 1), lambda x: np.max(x, 1), [(3, 4)], ("small",), ("float64",),
      grad_shapes=[], gradgrad=False),
    C("argmax", lambda m, x: m.argmax(x), np.argmax, SR[1:4], ("distinct",), NUM, **NG),
    C("argmax_dim", lambda m, x: x.argmax(1), lambda x: np.argmax(x, 1), SN, ("distinct",), FI, **NG),
    C("argmin_dim", lambda m, x: m.argmin(x, 0, keepdim=True), lambda x: np.argmin(x, 0)[None],
      SN, ("distinct",), FI, **NG),
    C("var", lambda m, x: m.var(x), lambda x: np.var(x, ddof=1), SR[1:4] + SR[-1:]),
    C("var_dim", lambda m, x: x.var(1), lambda x: np.var(x, 1, ddof=1), SN),
    C("var_corr0", lambda m, x: m.var(x, 0, correction=0), lambda x: np.var(x, 0), SN),
    C("var_unbiased", lambda m, x: m.var(x, 1, unbiased=False, keepdim=True),
      lambda x: np.var(x, 1, keepdims=True), SN),
    C("std", lambda m, x: m.std(x), lambda x: np.std(x, ddof=1), SR[1:4]),
    C("std_dim", lambda m, x: m.std(x, -1, keepdim=True), lambda x: np.std(x, -1, ddof=1, keepdims=True), SN),
    C("var_mean", lambda m, x: m.var_mean(x, 1), lambda x: (np.var(x, 1, ddof=1), np.mean(x, 1)), SN),
    C("std_mean", lambda m, x: m.std_mean(x, 0, correction=0), lambda x: (np.std(x, 0), np.mean(x, 0)), SN),
    C("logsumexp", lambda m, x: m.logsumexp(x, 1), lambda x: R.logsumexp(x, 1), SN),
    C("logsumexp_dims", lambda m, x: m.logsumexp(x, (0, -1), keepdim=True), lambda x: R.logsumexp(
        x, (0, -1), True), SN),
    C("norm", lambda m, x: x.norm(), lambda x: np.sqrt(np.sum(x * x)), SR[1:4]),
    C("norm_p1", lambda m, x: x.norm(1, dim=1), lambda x: R.norm(x, 1, 1), SN, ("away0",)),
    C("norm_p3", lambda m, x: m.norm(x, 3, dim=-1, keepdim=True), lambda x: R.norm(x, 3, -1, True), SN,
      ("away0",)),
    C("norm_inf", lambda m, x: x.norm(float("inf")), lambda x: R.norm(x, np.inf), SR[1:4], ("distinct",)),
    C("all", lambda m, x: m.all(x), np.all, SR, ("zeros",), NUMB, **NG),
    C("any", lambda m, x: m.any(x), np.any, SR, ("zeros",), NUMB, **NG),
    C("all_dim", lambda m, x: x.all(1), lambda x: np.all(x, 1), SD, ("zeros",), ("float32", "int64", "bool"), **NG),
    C("any_dim", lambda m, x: x.any(0, keepdim=True), lambda x: np.any(x, 0, keepdims=True), SD,
      ("zeros",), ("float32", "int64", "bool"), **NG),
    C("count_nonzero", lambda m, x: m.count_nonzero(x), np.count_nonzero, SR, ("zeros",), NUMB, **NG),
    C("count_nonzero_dim", lambda m, x: m.count_nonzero(x, 1), lambda x: np.count_nonzero(x, 1), SD,
      ("zeros",), FI, **NG),
    C("median", lambda m, x: m.median(x), lambda x: np.sort(x.reshape(-1))[(x.size - 1) // 2],
      SR[1:4] + SR[-1:], ("distinct",), FI),
    C("median_dim", lambda m, x: m.median(x, 1), lambda x: R.median_dim(x, 1), SN, ("distinct",), FI),
    C("mode", lambda m, x: m.mode(x, -1).values, lambda x: R.mode(x, -1), [(3, 8), (5,), (2, 3, 9)],
      ("small",), ("int64", "int32", "float32"), **NG),
    C("cumsum", lambda m, x: m.cumsum(x, 0), lambda x: np.cumsum(x, 0), SR[1:], dtypes=FHI),
    C("cumsum_last", lambda m, x: x.cumsum(-1), lambda x: np.cumsum(x, -1), SD, dtypes=FI),
    C("cumprod", lambda m, x: m.cumprod(x, 1), lambda x: np.cumprod(x, 1), SD[:-1], ("real",), FI),
    C("cumprod_zeros", lambda m, x: m.cumprod(x, -1), lambda x: np.cumprod(x, -1), [(5,), (2, 4)],
      ("zeros",)),
    C("cummax", lambda m, x: m.cummax(x, 1), lambda x: R.cummax(x, 1), SN, ("distinct",), FI),
    C("cummin", lambda m, x: m.cummin(x, 0), lambda x: tuple(-v if i == 0 else v for i, v in enumerate(
        R.cummax(-x, 0))), SN, ("distinct",), F),
    C("sort", lambda m, x: m.sort(x), lambda x: (np.sort(x, -1), np.argsort(x, -1)), SR[1:],
      ("distinct",), FI),
    C("sort_desc", lambda m, x: x.sort(0, descending=True), lambda x: (-np.sort(-x, 0), np.argsort(
        -x, 0)), SD[:-1], ("distinct",), FI),
    C("argsort", lambda m, x: m.argsort(x, 1), lambda x: np.argsort(x, 1), SN, ("distinct",), FI, **NG),
    C("topk", lambda m, x: m.topk(x, 2), lambda x: R.topk(x, 2, -1), SN, ("distinct",), FI),
    C("topk_smallest", lambda m, x: x.topk(1, 0, largest=False), lambda x: R.topk(x, 1, 0, False),
      SN, ("distinct",), FI),
    C("kthvalue", lambda m, x: m.kthvalue(x, 2, 1), lambda x: R.kth(x, 1, 1), SN, ("distinct",), FI),
    C("unique", lambda m, x: m.unique(x), np.unique, SR, ("small",), FI + ("bool",), **NG),
    C("unique_counts", lambda m, x: m.unique(x, return_inverse=True, return_counts=True),
      lambda x: tuple(np.unique(x, return_inverse=True, return_counts=True)), SR[1:4], ("small",),
      ("int64",), **NG),
    C("softmax", lambda m, x: m.softmax(x, -1), lambda x: R.softmax(x, -1), SR[1:4] + SR[-1:], dtypes=FH),
    C("softmax_dim0", lambda m, x: x.softmax(0), lambda x: R.softmax(x, 0), SN),
    C("log_softmax", lambda m, x: m.log_softmax(x, 1), lambda x: R.log_softmax(x, 1), SD),
    C("logcumsumexp", lambda m, x: m.logcumsumexp(x, 0), lambda x: np.log(np.cumsum(np.exp(x), 0)),
      SR[1:4]),
]


SHAPE = [
    C("reshape", lambda m, x: x.reshape(-1), lambda x: x.reshape(-1), S1, dtypes=NUMB),
    C("reshape_infer", lambda m, x: m.reshape(x, (4, -1)), lambda x: x.reshape(4, -1),
      [(2, 3, 4), (4,), (8, 3), (0, 4)], dtypes=FI),
    C("view", lambda m, x: x.view(2, -1), lambda x: x.reshape(2, -1), [(2, 3, 4), (4,), (2, 0)],
      dtypes=FI, noncontig=False),
    C("view_as", lambda m, x, o: x.view_as(o), lambda x, o: x.reshape(o.shape), [((2, 6), (3, 4)),
      ((7,), (7, 1))], ("real", _shape_of(0)), noncontig=False),
    C("flatten", lambda m, x: m.flatten(x), lambda x: x.reshape(-1), S1, dtypes=FI),
    C("flatten_range", lambda m, x: x.flatten(1, 2), lambda x: x.reshape(x.shape[0], -1, *x.shape[3:]),
      [(2, 3, 4), (2, 3, 4, 2), (2, 0, 3)]),
    C("unflatten", lambda m, x: x.unflatten(1, (2, -1)), lambda x: x.reshape(x.shape[0], 2, -1,
      *x.shape[2:]), [(3, 4), (2, 6, 5)]),
    C("squeeze", lambda m, x: x.squeeze(), lambda x: np.squeeze(x), [(1, 3, 1, 4), (1,), (), (1, 0)]),
    C("squeeze_dim", lambda m, x: m.squeeze(x, 0), lambda x: x[0] if x.shape[0] == 1 else x,
      [(1, 3), (3, 1), (1,)]),
    C("squeeze_dims", lambda m, x: x.squeeze((0, 2)), lambda x: x.reshape(
        [n for i, n in enumerate(x.shape) if not (i in (0, 2) and n == 1)]), [(1, 3, 1, 4), (2, 3, 1)]),
    C("unsqueeze", lambda m, x: m.unsqueeze(x, 0), lambda x: x[None], S1, dtypes=FI),
    C("unsqueeze_last", lambda m, x: x.unsqueeze(-1), lambda x: x[..., None], S1),
    C("permute", lambda m, x: x.permute(2, 0, 1), lambda x: x.transpose(2, 0, 1), [(2, 3, 4), (1, 0, 2)],
      dtypes=FI),
    C("permute_fn", lambda m, x: m.permute(x, (1, 0)), lambda x: x.T, [(3, 4)]),
    C("transpose", lambda m, x: m.transpose(x, 0, -1), lambda x: np.swapaxes(x, 0, -1), [(3, 4), (2, 3, 4)],
      dtypes=FI),
    C("swapaxes", lambda m, x: m.swapaxes(x, 0, 1), lambda x: np.swapaxes(x, 0, 1), [(3, 4), (2, 3, 4)]),
    C("t", lambda m, x: m.t(x), lambda x: x.T, [(3, 4), (5,), ()]),
    C("T", lambda m, x: x.T, lambda x: x.T, [(3, 4), (5,)]),
    C("mT", lambda m, x: x.mT, lambda x: np.swapaxes(x, -1, -2), [(3, 4), (2, 3, 4)]),
    C("movedim", lambda m, x: m.movedim(x, 0, -1), lambda x: np.moveaxis(x, 0, -1), [(2, 3, 4), (3,)]),
    C("movedim_multi", lambda m, x: m.movedim(x, (0, 1), (2, 0)), lambda x: np.moveaxis(
        x, (0, 1), (2, 0)), [(2, 3, 4)]),
    C("expand", lambda m, x: x.expand(3, -1, 4), lambda x: np.broadcast_to(x, (3, x.shape[0], 4)),
      [(2, 1), (1, 1), (0, 4)], noncontig=True),
    C("expand_as", lambda m, x, o: x.expand_as(o), lambda x, o: np.broadcast_to(x, o.shape),
      [((3, 1), (3, 4)), ((), (2, 2)), ((4,), (2, 3, 4))], ("real", _shape_of(1))),
    C("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), lambda x: np.broadcast_to(x, (2, 3, 4)),
      [(3, 1), (4,), (), (2, 1, 1)]),
    C("broadcast_tensors", lambda m, a, b: m.broadcast_tensors(a, b), lambda a, b: tuple(
        np.broadcast_arrays(a, b)), S2[:9], ("real", "real")),
    C("repeat", lambda m, x: x.repeat(2, 1, 3), lambda x: np.tile(x, (2, 1, 3)), [(2, 3), (3,), ()]),
    C("repeat_interleave", lambda m, x: m.repeat_interleave(x, 2), lambda x: np.repeat(x, 2), S1[:5],
      dtypes=FI),
    C("repeat_interleave_dim", lambda m, x: x.repeat_interleave(3, dim=1), lambda x: np.repeat(
        x, 3, 1), [(2, 3), (2, 0)]),
    C("repeat_interleave_t", lambda m, x, r: m.repeat_interleave(x, r, dim=0), lambda x, r: np.repeat(
        x, r, 0), [((3, 2), (3,)), ((4,), (4,))], ("real", Arg(lambda rng, s, ss: rng.integers(0, 3, s)))),
    C("tile", lambda m, x: m.tile(x, (2, 2)), lambda x: np.tile(x, (2, 2)), [(2, 3), (3,), (2, 1, 2)]),
    C("flip", lambda m, x: m.flip(x, (0,)), lambda x: np.flip(x, 0), S1[1:], dtypes=FI),
    C("flip_dims", lambda m, x: x.flip((0, -1)), lambda x: np.flip(x, (0, -1)), [(3, 4), (2, 3, 4)]),
    C("roll", lambda m, x: m.roll(x, 1, 0), lambda x: np.roll(x, 1, 0), S1[1:]),
    C("roll_dims", lambda m, x: x.roll((1, -2), (0, 1)), lambda x: np.roll(x, (1, -2), (0, 1)),
      [(3, 4), (2, 3, 4)]),
    C("roll_flat", lambda m, x: m.roll(x, 3), lambda x: np.roll(x, 3), [(3, 4), (7,)]),
    C("narrow", lambda m, x: x.narrow(1, 1, 2), lambda x: x[:, 1:3], [(3, 4), (2, 3, 4)], dtypes=FI),
    C("narrow_neg", lambda m, x: m.narrow(x, -1, -3, 2), lambda x: x[..., -3:-1], [(3, 4), (7,)]),
    C("select", lambda m, x: x.select(1, -1), lambda x: x[:, -1], [(3, 4), (2, 3, 4)]),
    C("cat", lambda m, a, b: m.cat([a, b]), lambda a, b: np.concatenate([a, b]), [((2, 3), (4, 3)),
      ((3,), (0,)), ((0, 2), (1, 2)), ((1025,), (7,))], ("real", "real"), FHI),
    C("cat_dim", lambda m, a, b: m.cat((a, b), dim=-1), lambda a, b: np.concatenate([a, b], -1),
      [((2, 3), (2, 1)), ((2, 2, 1), (2, 2, 3))], ("real", "real"), FI),
    C("concat", lambda m, a, b, c: m.concat([a, b, c], 1), lambda a, b, c: np.concatenate([a, b, c], 1),
      [((2, 1), (2, 3), (2, 2))], ("real", "real", "real")),
    C("cat_empty_1d", lambda m, a, b: m.cat([a, b], 1), lambda a, b: b, [((0,), (2, 3))], ("real", "real")),
    C("cat_promote", lambda m, a, b: m.cat([a, b.long()]), lambda a, b: np.concatenate(
        [a, b.astype(np.int64)]), [((2,), (3,))], ("real", "real"), ("float32",), **NG),
    C("stack", lambda m, a, b: m.stack([a, b]), lambda a, b: np.stack([a, b]), [((2, 3), (2, 3)),
      ((), ()), ((0,), (0,))], ("real", "real"), FI),
    C("stack_last", lambda m, a, b: m.stack((a, b), -1), lambda a, b: np.stack([a, b], -1),
      [((2, 3), (2, 3)), ((4,), (4,))], ("real", "real")),
    C("hstack", lambda m, a, b: m.hstack([a, b]), lambda a, b: np.hstack([a, b]), [((2, 3), (2, 1)),
      ((3,), (2,)), ((), (2,))], ("real", "real")),
    C("vstack", lambda m, a, b: m.vstack([a, b]), lambda a, b: np.vstack([a, b]), [((2, 3), (1, 3)),
      ((3,), (3,)), ((3,), (2, 3))], ("real", "real")),
    C("split", lambda m, x: m.split(x, 2), lambda x: tuple(np.split(x, range(2, x.shape[0], 2))),
      [(5, 3), (4,), (1, 2)]),
    C("split_sizes", lambda m, x: x.split([1, 3], 1), lambda x: (x[:, :1], x[:, 1:]), [(2, 4), (3, 4, 2)]),
    C("chunk", lambda m, x: m.chunk(x, 3, 1), lambda x: tuple(np.array_split(x, 3, 1)), [(2, 6), (2, 9, 2)]),
    C("chunk_uneven", lambda m, x: x.chunk(3), lambda x: tuple(np.split(x, [3, 6])), [(8,), (7, 2)]),
    C("unbind", lambda m, x: m.unbind(x, 1), lambda x: tuple(np.moveaxis(x, 1, 0)), [(2, 3), (2, 3, 4)]),
    C("tril", lambda m, x: m.tril(x), np.tril, [(3, 4), (4, 3), (2, 3, 3), (0, 2)], dtypes=FI),
    C("tril_k", lambda m, x: x.tril(-1), lambda x: np.tril(x, -1), [(3, 4), (2, 3, 3)]),
    C("triu", lambda m, x: m.triu(x, 1), lambda x: np.triu(x, 1), [(3, 4), (4, 3), (2, 3, 3)], dtypes=FI),
    C("diag_1d", lambda m, x: m.diag(x), np.diag, [(3,), (1,), (0,)], dtypes=FI),
    C("diag_1d_offset", lambda m, x: m.diag(x, -1), lambda x: np.diag(x, -1), [(3,)]),
    C("diag_2d", lambda m, x: m.diag(x, 1), lambda x: np.diag(x, 1), [(3, 4), (4, 3), (1, 1)], dtypes=FI),
    C("diagonal", lambda m, x: m.diagonal(x), lambda x: np.diagonal(x).copy(), [(3, 4), (4, 3), (2, 3, 3)]),
    C("diagonal_dims", lambda m, x: x.diagonal(1, -2, -1), lambda x: np.diagonal(x, 1, -2, -1).copy(),
      [(2, 3, 4), (3, 3)]),
]

from op_specs_extra import INDEXING, LINALG, MORE, SETITEM  # noqa: E402
from op_specs_linalg_more import SPECS as LINALG_MORE  # noqa: E402
from op_specs_math_more import SPECS as MATH_MORE  # noqa: E402
from op_specs_nn_functional_more import SPECS as NN_FUNCTIONAL_MORE  # noqa: E402
from op_specs_special import SPECS as SPECIAL  # noqa: E402

SPECS = (
    UNARY + PREDICATES + BINARY + OPERATORS + TERNARY + REDUCTIONS + SHAPE + INDEXING + SETITEM + LINALG + MORE
    + LINALG_MORE + MATH_MORE + NN_FUNCTIONAL_MORE + SPECIAL
)
_names = [s.name for s in SPECS]
assert len(_names) == len(set(_names)), sorted(n for n in _names if _names.count(n) > 1)
BY_NAME = {s.name: s for s in SPECS}
