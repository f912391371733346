# ruff: noqa: E501 - a declarative table reads best one row per line
"""Rows of the op table (tests/op_specs.py) for math more ops; same conventions as there:
grids and index sets, counting and binning, differences and integration, statistics,
floating-point decomposition, gcd/lcm, scatter variants, splits and aliases."""

from __future__ import annotations

import itertools

import numpy as np
import op_spec_lib as L

F, FH, FHI, FI, NG, S1, S2, Arg, C, U = L.F, L.FH, L.FHI, L.FI, L.NG, L.S1, L.S2, L.Arg, L.C, L.U

INT3 = ("int16", "int32", "int64")


def _ints(lo, hi):
    return Arg(lambda rng, shape, shapes: rng.integers(lo, hi, shape).astype(np.int64))


def _flat_index(src):
    """int64 flat indices valid for input ``src`` (negative ones included)."""

    def g(rng, shape, shapes):
        n = int(np.prod(shapes[src]))
        return rng.integers(-n, n, shape).astype(np.int64)

    return Arg(g)


def _unique_flat_index(src):
    def g(rng, shape, shapes):
        n = int(np.prod(shapes[src]))
        return rng.permutation(n)[: int(np.prod(shape))].reshape(shape).astype(np.int64)

    return Arg(g)


# -- numpy references ------------------------------------------------------------------------------


def _cartesian(*xs):
    return np.stack([g.ravel() for g in np.meshgrid(*xs, indexing="ij")], 1)


def _combinations(x, r, repl=False):
    pick = itertools.combinations_with_replacement if repl else itertools.combinations
    rows = [list(c) for c in pick(x.tolist(), r)]
    return np.array(rows, x.dtype).reshape(-1, r)


def _cumtrapz(y, x=None, dx=1.0, axis=-1):
    y = np.moveaxis(y, axis, -1)
    d = dx if x is None else np.diff(x)
    out = np.cumsum((y[..., 1:] + y[..., :-1]) * d / 2.0, -1)
    return np.moveaxis(out, -1, axis)


def _renorm(x, p, dim, maxnorm):
    others = tuple(k for k in range(x.ndim) if k != dim)
    norm = np.sum(np.abs(x) ** p, axis=others, keepdims=True) ** (1.0 / p)
    return x * np.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0)


def _pdist(x, p):
    i, j = np.triu_indices(x.shape[0], 1)
    return np.linalg.norm(x[i] - x[j], p, axis=1) if len(i) else np.zeros(0)


def _dist(a, b, p):
    return np.linalg.norm(np.ravel(a - b), p)


def _searchsorted(seq, v, side="left"):
    seq = np.sort(seq, -1)
    if seq.ndim == 1:
        return np.searchsorted(seq, v, side)
    rows = [
        np.searchsorted(s, r, side)
        for s, r in zip(seq.reshape(-1, seq.shape[-1]), v.reshape(-1, v.shape[-1]))
    ]
    return np.array(rows, np.int64).reshape(v.shape)


def _assign(x, key, src):
    y = x.copy()
    y[key] = src
    return y


def _diag_scatter(x, src, offset=0, d1=0, d2=1):
    y = np.moveaxis(x.copy(), (d1, d2), (-2, -1))
    n = np.diagonal(y, offset, -2, -1).shape[-1]
    r = np.arange(n) + max(-offset, 0)
    y[..., r, r + offset] = src
    return np.moveaxis(y, (-2, -1), (d1, d2))


def _as_strided_scatter(x, src, size, stride, offset):
    flat = x.copy().reshape(-1)
    view = np.lib.stride_tricks.as_strided(flat[offset:], size, [s * flat.itemsize for s in stride])
    view[...] = src
    return flat.reshape(x.shape)


def _torch_as_strided_scatter(x, src, size, stride, offset):
    """as_strided_scatter written with an in-place copy: PyTorch 2.13's as_strided_scatter gives
    the input a wrong gradient (nonzero exactly at the overwritten elements)."""
    y = x.clone()
    y.as_strided(size, stride, offset).copy_(src)
    return y


def _index_reduce(x, dim, idx, src, reduce, include_self=True):
    out = np.moveaxis(x.copy(), dim, 0)
    s = np.moveaxis(src, dim, 0)
    groups = {}
    for k, i in enumerate(idx):
        groups.setdefault(int(i), []).append(s[k])
    fn = {"prod": np.prod, "mean": np.mean, "amax": np.max, "amin": np.min}[reduce]
    for i, vals in groups.items():
        vals = ([out[i]] if include_self else []) + vals
        out[i] = fn(np.stack(vals), axis=0)
    return np.moveaxis(out, 0, dim)


def _put(x, idx, src, accumulate=False):
    y = x.copy().reshape(-1)
    i = np.where(idx < 0, idx + y.size, idx).reshape(-1)
    if accumulate:
        np.add.at(y, i, src.reshape(-1))
    else:
        y[i] = src.reshape(-1)
    return y.reshape(x.shape)


def _fill_diag(x, v, wrap=False):
    y = x.copy()
    np.fill_diagonal(y, v, wrap=wrap)
    return y


def _histc(x, bins, lo, hi):
    return np.histogram(x, bins, (lo, hi))[0].astype(x.dtype)


def _cov(x, correction=1, fw=None, aw=None):
    return np.cov(x, ddof=correction, fweights=fw, aweights=aw)


def _hist_edges(x, bins):
    h, e = np.histogram(x, bins)
    return h.astype(x.dtype), e


# fmt: off
GRIDS = [
    C("meshgrid_ij", lambda m, a, b: m.meshgrid(a, b, indexing="ij"), lambda a, b: np.meshgrid(a, b, indexing="ij"),
      [((3,), (4,)), ((0,), (2,)), ((), (3,)), ((1,), (1,))], ("real", "real"), FHI),
    C("meshgrid_xy", lambda m, a, b: m.meshgrid(a, b, indexing="xy"), lambda a, b: np.meshgrid(a, b, indexing="xy"),
      [((3,), (4,)), ((2,), ())], ("real", "real"), FI),
    C("meshgrid_3_list", lambda m, a, b, c: m.meshgrid([a, b, c], indexing="xy"), lambda a, b, c: np.meshgrid(a, b, c, indexing="xy"),
      [((2,), (3,), (4,))], ("real", "real", "real")),
    C("cartesian_prod", lambda m, a, b: m.cartesian_prod(a, b), _cartesian, [((3,), (4,)), ((1,), (2,)), ((0,), (2,))], ("real", "real"), FHI),
    C("cartesian_prod_3", lambda m, a, b, c: m.cartesian_prod(a, b, c), _cartesian, [((2,), (3,), (2,))], ("real", "real", "real")),
    C("cartesian_prod_1", lambda m, a: m.cartesian_prod(a), lambda a: a, [(4,)], noncontig=False),
    C("combinations", lambda m, x: m.combinations(x), lambda x: _combinations(x, 2), [(4,), (1,), (0,), (6,)], dtypes=FHI),
    C("combinations_r3_repl", lambda m, x: m.combinations(x, 3, with_replacement=True), lambda x: _combinations(x, 3, True), [(4,), (2,)], dtypes=FI),
    C("tril_indices", lambda m, x: m.tril_indices(4, 3, -1, device=x.device), lambda x: np.stack(np.tril_indices(4, -1, 3)), [(1,)], **NG),
    C("triu_indices", lambda m, x: m.triu_indices(3, 5, 1, device=x.device), lambda x: np.stack(np.triu_indices(3, 1, 5)), [(1,)], **NG),
    C("triu_indices_empty", lambda m, x: m.triu_indices(0, 3, device=x.device), lambda x: np.zeros((2, 0)), [(1,)], **NG),
    C("rot90", lambda m, x: m.rot90(x), lambda x: np.rot90(x), [(3, 4), (2, 3, 4), (1, 5)], dtypes=FHI),
    C("rot90_k2_dims", lambda m, x: m.rot90(x, 2, [1, 2]), lambda x: np.rot90(x, 2, (1, 2)), [(2, 3, 4)]),
    C("rot90_k_neg", lambda m, x: x.rot90(-1, [-1, 0]), lambda x: np.rot90(x, -1, (-1, 0)), [(3, 4), (2, 3, 4)]),
    C("rot90_k4", lambda m, x: m.rot90(x, 4), lambda x: x, [(3, 4)]),
    C("unravel_index", lambda m, i: m.unravel_index(i, (3, 4, 2)), lambda i: np.unravel_index(i, (3, 4, 2)), [(5,), (2, 3), ()], (_ints(0, 24),), ("int64",), **NG),
]

DIFFS = [
    C("diff", lambda m, x: m.diff(x), lambda x: np.diff(x), [(7,), (3, 4), (2, 3, 4), (1,), (0,)], dtypes=FHI),
    C("diff_n2_dim0", lambda m, x: x.diff(2, 0), lambda x: np.diff(x, 2, 0), [(5, 3), (4,), (2, 3)], dtypes=FI),
    C("diff_n_large", lambda m, x: m.diff(x, 5), lambda x: np.diff(x, 5), [(3,), (2, 3)]),
    C("diff_prepend_append", lambda m, x, p, a: m.diff(x, dim=1, prepend=p, append=a), lambda x, p, a: np.diff(np.concatenate([p, x, a], 1), axis=1),
      [((3, 4), (3, 2), (3, 1))], ("real", "real", "real")),
    C("diff_bool", lambda m, x: m.diff(x), lambda x: np.diff(x), [(7,), (3, 4)], dtypes=("bool",), **NG),
    C("trapezoid", lambda m, y: m.trapezoid(y), lambda y: np.trapezoid(y), [(7,), (3, 4), (1,), (0,), (2, 0)], dtypes=FI),
    C("trapezoid_dx_dim", lambda m, y: m.trapezoid(y, dx=0.5, dim=0), lambda y: np.trapezoid(y, dx=0.5, axis=0), [(5, 3), (4,)]),
    C("trapezoid_x", lambda m, y, x: m.trapezoid(y, x), lambda y, x: np.trapezoid(y, x), [((3, 4), (4,)), ((5,), (5,)), ((3, 4), (3, 4))], ("real", "real")),
    C("trapz_x_dim", lambda m, y, x: m.trapz(y, x, dim=0), lambda y, x: np.trapezoid(y, x[:, None], axis=0), [((4, 3), (4,))], ("real", "real")),
    C("cumulative_trapezoid", lambda m, y: m.cumulative_trapezoid(y), lambda y: _cumtrapz(y), [(7,), (3, 4), (1,)], dtypes=FI),
    C("cumulative_trapezoid_x", lambda m, y, x: m.cumulative_trapezoid(y, x, dim=0), lambda y, x: _cumtrapz(y, x, axis=0), [((4, 3), (4,))], ("real", "real")),
]

STATS = [
    C("cov", lambda m, x: m.cov(x), lambda x: _cov(x), [(3, 5), (5,), (1, 4), (2, 2)], dtypes=FI),
    C("cov_correction0", lambda m, x: m.cov(x, correction=0), lambda x: _cov(x, 0), [(3, 5), (4,)]),
    C("cov_aweights", lambda m, x, w: m.cov(x, aweights=w), lambda x, w: _cov(x, aw=w), [((3, 5), (5,)), ((4,), (4,))], ("real", "pos")),
    C("cov_fweights", lambda m, x, f: m.cov(x, fweights=f), lambda x, f: _cov(x, fw=f), [((3, 5), (5,))], ("real", _ints(1, 4))),
    C("cov_both_weights", lambda m, x, f, w: m.cov(x, correction=2, fweights=f, aweights=w), lambda x, f, w: _cov(x, 2, f, w),
      [((2, 6), (6,), (6,))], ("real", _ints(1, 4), "pos")),
    C("corrcoef", lambda m, x: m.corrcoef(x), np.corrcoef, [(3, 5), (2, 4), (6,)], dtypes=FI),
    C("renorm", lambda m, x: m.renorm(x, 2, 0, 1.0), lambda x: _renorm(x, 2, 0, 1.0), [(3, 4), (2, 3, 2), (4, 1)]),
    C("renorm_p1_dim1", lambda m, x: x.renorm(1, 1, 1.5), lambda x: _renorm(x, 1, 1, 1.5), [(3, 4), (2, 3, 2)], ("away0",)),
    C("dist", lambda m, a, b: m.dist(a, b), lambda a, b: _dist(a, b, 2), [((3, 4), (3, 4)), ((3, 4), (4,)), ((7,), (1,))], ("real", "real")),
    C("dist_p", lambda m, a, b: m.dist(a, b, 3), lambda a, b: _dist(a, b, 3), [((3, 4), (3, 4)), ((2, 1), (3,))], ("real", "real")),
    C("dist_inf", lambda m, a, b: a.dist(b, float("inf")), lambda a, b: _dist(a, b, np.inf), [((3, 4), (3, 4))], ("distinct", "real")),
    C("pdist", lambda m, x: m.pdist(x), lambda x: _pdist(x, 2), [(4, 3), (2, 5), (1, 3), (5, 1)]),
    C("pdist_p1", lambda m, x: m.pdist(x, 1), lambda x: _pdist(x, 1), [(4, 3)], ("distinct",)),
    C("addr", lambda m, i, a, b: m.addr(i, a, b), lambda i, a, b: i + np.outer(a, b), [((3, 4), (3,), (4,)), ((4,), (3,), (4,)), ((), (2,), (5,)), ((0, 2), (0,), (2,))],
      ("real", "real", "real"), FI),
    C("addr_alpha_beta", lambda m, i, a, b: i.addr(a, b, beta=0.5, alpha=-2), lambda i, a, b: 0.5 * i + -2 * np.outer(a, b), [((3, 4), (3,), (4,))], ("real", "real", "real")),
    C("addr_beta0", lambda m, i, a, b: m.addr(i, a, b, beta=0), lambda i, a, b: np.outer(a, b), [((3, 4), (3,), (4,))], ("special", "real", "real"), **NG),
]

BINS = [
    C("bincount", lambda m, x: m.bincount(x), np.bincount, [(7,), (0,), (20,)], (_ints(0, 6),), ("int64",), **NG),
    C("bincount_minlength", lambda m, x: x.bincount(minlength=9), lambda x: np.bincount(x, minlength=9), [(7,), (0,)], (_ints(0, 6),), ("int64",), **NG),
    C("bincount_weights", lambda m, x, w: m.bincount(x, w), lambda x, w: np.bincount(x, w), [((7,), (7,)), ((0,), (0,))], (_ints(0, 5), "real"), FHI),
    C("bincount_int32", lambda m, x: m.bincount(x.int()), np.bincount, [(9,)], (_ints(0, 4),), ("int64",), **NG),
    C("searchsorted", lambda m, s, v: m.searchsorted(s.sort(-1)[0], v), _searchsorted, [((7,), (5,)), ((6,), (2, 3)), ((4,), ()), ((0,), (3,)), ((5,), (0,))],
      ("small", "small"), FI, **NG),
    C("searchsorted_right", lambda m, s, v: m.searchsorted(s.sort(-1)[0], v, right=True), lambda s, v: _searchsorted(s, v, "right"),
      [((7,), (5,)), ((6,), (2, 3))], ("small", "small"), FI, **NG),
    C("searchsorted_side_int32", lambda m, s, v: m.searchsorted(s.sort(-1)[0], v, side="right", out_int32=True), lambda s, v: _searchsorted(s, v, "right"),
      [((7,), (5,))], ("small", "small"), ("int64",), **NG),
    C("searchsorted_batched", lambda m, s, v: m.searchsorted(s.sort(-1)[0], v), _searchsorted, [((3, 6), (3, 4)), ((2, 2, 5), (2, 2, 3))], ("small", "small"), FI, **NG),
    C("searchsorted_sorter", lambda m, s, v: m.searchsorted(s, v, sorter=s.argsort(-1, stable=True)), _searchsorted, [((8,), (6,)), ((2, 5), (2, 3))],
      ("small", "small"), FI, **NG),
    C("searchsorted_nan", lambda m, s, v: m.searchsorted(s.sort(-1)[0], v), _searchsorted, [((7,), (6,))], ("real", "nanreal"), F, **NG),
    C("bucketize", lambda m, x, b: m.bucketize(x, b.sort()[0]), lambda x, b: np.searchsorted(np.sort(b), x, "left"), [((3, 4), (5,)), ((), (3,)), ((6,), (0,))],
      ("small", "small"), FI, **NG),
    C("bucketize_right", lambda m, x, b: m.bucketize(x, b.sort()[0], right=True), lambda x, b: np.searchsorted(np.sort(b), x, "right"), [((3, 4), (5,))],
      ("small", "small"), FI, **NG),
    C("histc", lambda m, x: m.histc(x, 5, -1.0, 1.0), lambda x: _histc(x, 5, -1.0, 1.0), [(7,), (3, 4), (0,), (1025,)], ("real",), F, **NG),
    C("histc_data_range", lambda m, x: x.histc(4), lambda x: _histc(x, 4, x.min(), x.max()), [(7,), (3, 4)], ("distinct",), F, **NG),
    C("histogram", lambda m, x: m.histogram(x, 4), lambda x: _hist_edges(x, 4), [(7,), (3, 4)], ("distinct",), F, **NG),
    C("histogram_range_weight_density", lambda m, x, w: m.histogram(x, 3, range=(-1.0, 1.0), weight=w, density=True),
      lambda x, w: np.histogram(x, 3, (-1.0, 1.0), weights=w, density=True), [((9,), (9,)), ((2, 5), (2, 5))], ("real", "pos"), F, **NG),
    C("nanquantile", lambda m, x: m.nanquantile(x, 0.3), lambda x: np.nanquantile(x, 0.3), [(7,), (3, 4), (1,)], ("distinct",), F),
    C("nanquantile_nan_dim", lambda m, x: x.nanquantile(0.6, 1, keepdim=True), lambda x: np.nanquantile(x, 0.6, 1, keepdims=True),
      [(4, 5), (2, 3, 4)], ("nanreal",), F, **NG),
    C("nanquantile_q_tensor", lambda m, x, q: m.nanquantile(x, q.clamp(0, 1).sort()[0], -1, interpolation="midpoint"),
      lambda x, q: np.nanquantile(x, np.sort(np.clip(q, 0, 1)), -1, method="midpoint"), [((3, 6), (4,)), ((5,), (2,))], ("distinct", "prob"), F,
      grad=False, gradgrad=False),
    C("nanquantile_nearest_lower_higher", lambda m, x: tuple(m.nanquantile(x, 0.45, 0, interpolation=i) for i in ("nearest", "lower", "higher")),
      lambda x: tuple(np.nanquantile(x, 0.45, 0, method=i) for i in ("nearest", "lower", "higher")), [(6, 3), (7,)], ("distinct",), F),
    C("histogram_edges", lambda m, x, e: m.histogram(x, e.sort()[0]), lambda x, e: np.histogram(x, np.sort(e)), [((9,), (4,)), ((3, 4), (5,))], ("real", "real"), F, **NG),
]

FLOATS = [
    C("frexp", lambda m, x: m.frexp(x), np.frexp, S1, ("special",), FH, **NG),
    C("frexp_mantissa", lambda m, x: x.frexp()[0], lambda x: np.frexp(x)[0], S1, ("real",), F),
    C("frexp_wide", lambda m, x: m.frexp(x * 1e30), lambda x: np.frexp(x * 1e30), [(7,), (3, 4)], ("real",), ("float64",), **NG),
    # PyTorch 2.13 differentiates ldexp with 2**other in integer arithmetic (0 for other < 0),
    # so gradients are compared for non-negative integer exponents only
    C("ldexp", lambda m, x, e: m.ldexp(x, e), lambda x, e: x * 2.0 ** e, [((3, 4), (3, 4)), ((7,), (1,)), ((), (3,))], ("real", _ints(0, 5)), FH),
    C("ldexp_negative_exp", lambda m, x, e: m.ldexp(x, e), lambda x, e: x * 2.0 ** e, [((3, 4), (3, 4))], ("real", _ints(-6, 0)), FHI, **NG),
    C("ldexp_float_exp", lambda m, x, e: x.ldexp(e), lambda x, e: x * 2.0 ** e, S2, ("real", "real")),
    C("nextafter", lambda m, a, b: m.nextafter(a, b), np.nextafter, S2, ("special", "special"), ("float64",), **NG),
    C("nextafter_float32", lambda m, a, b: m.nextafter(a, b), lambda a, b: np.nextafter(a.astype(np.float32), b.astype(np.float32)), S2,
      ("special", "special"), ("float32",), **NG),
    C("nextafter_zero", lambda m, a, b: m.nextafter(a * 0, b), lambda a, b: np.nextafter(a * 0, b), [((7,), (7,))], ("real", "nonzero"), ("float64",), **NG),
    C("heaviside", lambda m, x, v: m.heaviside(x, v), np.heaviside, [((3, 4), (3, 4)), ((7,), ()), ((3, 1), (4,))], ("zeros", "real"), FHI, **NG),
    C("gcd", lambda m, a, b: m.gcd(a, b), np.gcd, S2, ("real", "zeros"), INT3, **NG),
    C("lcm", lambda m, a, b: m.lcm(a, b), np.lcm, S2, ("real", "zeros"), INT3, **NG),
]

SCATTERS = [
    C("select_scatter", lambda m, x, s: m.select_scatter(x, s, 0, 1), lambda x, s: _assign(x, 1, s), [((3, 4), (4,)), ((2, 3, 2), (3, 2))], ("real", "real"), FHI),
    C("select_scatter_neg", lambda m, x, s: x.select_scatter(s, -1, -2), lambda x, s: _assign(x, (Ellipsis, -2), s), [((3, 4), (3,)), ((4,), ())], ("real", "real")),
    C("slice_scatter", lambda m, x, s: m.slice_scatter(x, s), lambda x, s: _assign(x, slice(None), s), [((3, 4), (3, 4))], ("real", "real"), FHI),
    C("slice_scatter_step", lambda m, x, s: m.slice_scatter(x, s, 1, 1, None, 2), lambda x, s: _assign(x, (slice(None), slice(1, None, 2)), s),
      [((3, 5), (3, 2)), ((2, 4, 2), (2, 2, 2))], ("real", "real")),
    C("diagonal_scatter", lambda m, x, s: m.diagonal_scatter(x, s), lambda x, s: _diag_scatter(x, s), [((3, 3), (3,)), ((3, 5), (3,)), ((4, 2), (2,))], ("real", "real"), FHI),
    C("diagonal_scatter_offset", lambda m, x, s: x.diagonal_scatter(s, -1, 1, 2), lambda x, s: _diag_scatter(x, s, -1, 1, 2), [((2, 3, 4), (2, 2))], ("real", "real")),
    C("diagonal_scatter_dims_swapped", lambda m, x, s: m.diagonal_scatter(x, s, 1, 2, 0), lambda x, s: _diag_scatter(x, s, 1, 2, 0), [((3, 2, 4), (2, 2))], ("real", "real")),
    # strides address the input's own layout, so a transposed input gives another result (as in PyTorch)
    C("as_strided_scatter", lambda m, x, s: m.as_strided_scatter(x, s, (2, 2), (3, 1), 1), lambda x, s: _as_strided_scatter(x, s, (2, 2), (3, 1), 1),
      [((3, 3), (2, 2)), ((9,), (2, 2))], ("real", "real"), torch_op=lambda t, x, s: _torch_as_strided_scatter(x, s, (2, 2), (3, 1), 1), noncontig=False),
    C("as_strided_scatter_diag", lambda m, x, s: x.as_strided_scatter(s, (3,), (4,)), lambda x, s: _as_strided_scatter(x, s, (3,), (4,), 0), [((3, 3), (3,))],
      ("real", "real"), torch_op=lambda t, x, s: _torch_as_strided_scatter(x, s, (3,), (4,), 0)),
    C("put", lambda m, x, i, s: m.put(x, i, s), lambda x, i, s: _put(x, i, s), [((3, 4), (5,), (5,)), ((7,), (2, 2), (4,))],
      ("real", _unique_flat_index(0), "real"), FHI),
    C("put_accumulate", lambda m, x, i, s: x.put(i, s, accumulate=True), lambda x, i, s: _put(x, i, s, True), [((3, 4), (9,), (9,)), ((2,), (5,), (5,))],
      ("real", _flat_index(0), "real")),
    C("put_", lambda m, x, i, s: x.clone().put_(i, s), lambda x, i, s: _put(x, i, s), [((3, 4), (5,), (5,))], ("real", _unique_flat_index(0), "real")),
    C("fill_diagonal_", lambda m, x: x.clone().fill_diagonal_(2.5), lambda x: _fill_diag(x, 2.5), [(3, 3), (3, 5), (5, 3), (2, 2, 2)], dtypes=FHI),
    C("fill_diagonal_wrap", lambda m, x: x.clone().fill_diagonal_(-1, wrap=True), lambda x: _fill_diag(x, -1, True), [(7, 3), (4, 3), (3, 5)], dtypes=FI),
]
for _r in ("prod", "mean", "amax", "amin"):
    for _self in (True, False):
        SCATTERS.append(C(
            f"index_reduce_{_r}{'' if _self else '_exclude_self'}",
            lambda m, x, i, s, r=_r, inc=_self: m.index_reduce(x, 0, i, s, r, include_self=inc),
            lambda x, i, s, r=_r, inc=_self: _index_reduce(x, 0, i, s, r, inc),
            [((4, 3), (5,), (5, 3)), ((3,), (4,), (4,))], ("distinct", Arg(L.index_for(0, 0)), "distinct"),
            gradgrad=_r != "prod"))
SCATTERS.append(C("index_reduce_dim1_", lambda m, x, i, s: x.clone().index_reduce_(1, i, s, "amax"), lambda x, i, s: _index_reduce(x, 1, i, s, "amax"),
                  [((2, 4), (3,), (2, 3))], ("distinct", Arg(L.index_for(0, 1)), "distinct")))

SPLITS = [
    C("split_with_sizes", lambda m, x: m.split_with_sizes(x, [1, 3, 0, 1], 1), lambda x: np.split(x, [1, 4, 4], 1), [(2, 5), (3, 5, 2)], dtypes=FHI),
    C("unsafe_split", lambda m, x: m.unsafe_split(x, 2), lambda x: np.split(x, [2, 4], 0), [(5, 3), (6,)]),
    C("unsafe_split_with_sizes", lambda m, x: x.unsafe_split_with_sizes([2, 1], -1), lambda x: np.split(x, [2], -1), [(4, 3), (3,)]),
    C("unsafe_chunk", lambda m, x: m.unsafe_chunk(x, 3, 1), lambda x: np.array_split(x, 3, 1), [(2, 6), (2, 3, 2)]),
    C("hsplit", lambda m, x: m.hsplit(x, 2), lambda x: np.hsplit(x, 2), [(3, 4), (6,), (2, 4, 3)], dtypes=FHI),
    C("hsplit_indices", lambda m, x: x.hsplit([1, 3]), lambda x: np.hsplit(x, [1, 3]), [(3, 5), (4,)]),
    C("vsplit", lambda m, x: m.vsplit(x, [2]), lambda x: np.vsplit(x, [2]), [(4, 3), (3, 2, 2)]),
    C("dsplit", lambda m, x: m.dsplit(x, 2), lambda x: np.dsplit(x, 2), [(2, 3, 4)]),
]

ALIASES = [
    U("arccos", np.arccos, "unit", FH), U("arcsin", np.arcsin, "unit", FH), U("arctan", np.arctan, dtypes=FH),
    U("arccosh", np.arccosh, "gt1", FH), U("arcsinh", np.arcsinh, dtypes=FH), U("arctanh", np.arctanh, "unit", FH),
    U("absolute", np.abs, "away0", FHI), U("negative", np.negative, dtypes=FHI), U("fix", np.trunc, dtypes=FH),
    # torch's sgn gradient of a real tensor is a ZeroTensor that cannot go to numpy: sign's is compared
    U("sgn", np.sign, "away0", FHI, torch_op=lambda t, x: t.sign(x)),
    C("arccos_method", lambda m, x: x.arccos(), np.arccos, S1, ("unit",)),
    C("real", lambda m, x: m.real(x), lambda x: x, S1, dtypes=FHI),
    C("conj", lambda m, x: m.conj(x), lambda x: x, S1, dtypes=FHI),
    C("conj_physical", lambda m, x: x.conj_physical(), lambda x: x, S1),
    C("resolve_conj_neg", lambda m, x: m.resolve_neg(m.resolve_conj(x)), lambda x: x, S1),
    C("isreal", lambda m, x: m.isreal(x), np.isreal, S1, ("special",), FHI, **NG),
]

SIGNAL = [
    C("gradient", lambda m, x: m.gradient(x), lambda x: np.gradient(x) if x.ndim > 1 else (np.gradient(x),), [(5,), (3, 4), (2, 3, 4)], dtypes=FI),
    C("gradient_spacing_dim", lambda m, x: m.gradient(x, spacing=0.5, dim=1, edge_order=2), lambda x: (np.gradient(x, 0.5, axis=1, edge_order=2),), [(3, 4), (2, 3, 5)]),
    C("gradient_spacings", lambda m, x: m.gradient(x, spacing=[2.0, 0.5]), lambda x: np.gradient(x, 2.0, 0.5), [(3, 4)]),
    C("gradient_coordinates", lambda m, x, c: m.gradient(x, spacing=[c.cumsum(0)], dim=0), lambda x, c: (np.gradient(x, np.cumsum(c), axis=0),),
      [((5, 3), (5,)), ((4,), (4,))], ("real", "pos")),
    C("gradient_coordinates_edge2", lambda m, x, c: m.gradient(x, spacing=(c.cumsum(0),), dim=-1, edge_order=2),
      lambda x, c: (np.gradient(x, np.cumsum(c), axis=-1, edge_order=2),), [((2, 5), (5,)), ((3,), (3,))], ("real", "pos")),
    C("angle", lambda m, x: m.angle(x), np.angle, S1, ("special",), FHI, **NG),
    C("fill", lambda m, x: m.fill(x, 2.5), lambda x: np.full_like(x, 2.5), S1, dtypes=FI, **NG),
    C("fill_tensor_value", lambda m, x, v: m.fill(x, v), lambda x, v: np.broadcast_to(v, x.shape), [((3, 4), ()), ((0,), ())], ("real", "real")),
    C("diagonal_copy", lambda m, x: m.diagonal_copy(x, 1), lambda x: np.diagonal(x, 1).copy(), [(3, 4), (2, 3, 3)], dtypes=FHI),
    C("permute_copy", lambda m, x: m.permute_copy(x, (2, 0, 1)), lambda x: np.transpose(x, (2, 0, 1)), [(2, 3, 4)]),
    C("select_copy", lambda m, x: m.select_copy(x, 1, -1), lambda x: x[:, -1], [(3, 4), (2, 3, 4)]),
    C("slice_copy", lambda m, x: m.slice_copy(x, 0, 1, None, 2), lambda x: x[1::2], [(5, 2), (4,)]),
    C("split_copy", lambda m, x: m.split_copy(x, 2, 1), lambda x: np.split(x, [2], 1), [(3, 3)]),
    C("t_transpose_copy", lambda m, x: (m.t_copy(x), m.transpose_copy(x, 0, 1)), lambda x: (x.T, x.T), [(3, 4)]),
    C("squeeze_unsqueeze_copy", lambda m, x: m.unsqueeze_copy(m.squeeze_copy(x), 0), lambda x: np.squeeze(x)[None], [(3, 1, 4), (1,)]),
    C("expand_view_copy", lambda m, x: (m.expand_copy(x, (2, 3, 4)), m.view_copy(x, (4, 3))), lambda x: (np.broadcast_to(x, (2, 3, 4)), x.reshape(4, 3)), [(3, 4)]),
    C("unbind_copy", lambda m, x: m.unbind_copy(x, 1), lambda x: tuple(np.moveaxis(x, 1, 0)), [(3, 2), (2, 3, 2)]),
    C("hann_window", lambda m, x: m.hann_window(7, dtype=x.dtype, device=x.device), lambda x: np.hanning(8)[:-1], [(1,)], **NG),
    C("hamming_window_symmetric", lambda m, x: m.hamming_window(6, False, dtype=x.dtype, device=x.device), lambda x: np.hamming(6), [(1,)], **NG),
    C("blackman_window", lambda m, x: m.blackman_window(5, False, dtype=x.dtype, device=x.device), lambda x: np.blackman(5), [(1,)], **NG),
    C("bartlett_window", lambda m, x: m.bartlett_window(6, dtype=x.dtype, device=x.device), lambda x: np.bartlett(7)[:-1], [(1,)], **NG),
    C("kaiser_window", lambda m, x: m.kaiser_window(6, False, 5.0, dtype=x.dtype, device=x.device), lambda x: np.kaiser(6, 5.0), [(1,)], **NG),
]
# fmt: on

SPECS: list = GRIDS + DIFFS + STATS + BINS + FLOATS + SCATTERS + SPLITS + ALIASES + SIGNAL
