"""Grids, binning, statistics, scatter variants, splits and aliases beyond the op table
(tests/op_specs_math_more.py): PyTorch's errors for bad input, warnings, in-place forms and
methods, and larger inputs compared with torch on every device."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deepforge as df


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, df.Tensor) else t.detach().numpy()


def _same(actual, expected, rtol=1e-6, atol=1e-7):
    if isinstance(expected, (tuple, list)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            _same(a, e, rtol, atol)
        return
    assert str(actual.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1]
    np.testing.assert_allclose(_np(actual), _np(expected), rtol=rtol, atol=atol, equal_nan=True)


# -- errors: each case must raise the same exception type in deepforge and in torch -------------

ERRORS = [
    ("meshgrid_empty", lambda m: m.meshgrid([], indexing="ij"), RuntimeError, "non-empty"),
    ("meshgrid_2d", lambda m: m.meshgrid(m.ones(2, 2), indexing="ij"), RuntimeError, "0D or 1D"),
    ("meshgrid_indexing", lambda m: m.meshgrid(m.ones(2), indexing="ji"), RuntimeError, "xy"),
    (
        "meshgrid_dtypes",
        lambda m: m.meshgrid(m.ones(2), m.ones(2, dtype=m.float64), indexing="ij"),
        RuntimeError,
        "same dtype",
    ),
    (
        "tril_indices_float",
        lambda m: m.tril_indices(3, 3, dtype=m.float32),
        NotImplementedError,
        "Float",
    ),
    ("triu_indices_negative", lambda m: m.triu_indices(-1, 3), RuntimeError, "non-negative"),
    ("bincount_float", lambda m: m.bincount(m.tensor([1.0, 2.0])), NotImplementedError, "Float"),
    ("bincount_negative", lambda m: m.bincount(m.tensor([-1, 2])), RuntimeError, "non-negative"),
    ("bincount_2d", lambda m: m.bincount(m.tensor([[1, 2]])), RuntimeError, "1-d"),
    (
        "bincount_weights",
        lambda m: m.bincount(m.tensor([1, 2]), m.ones(3)),
        RuntimeError,
        "same length",
    ),
    (
        "bincount_minlength",
        lambda m: m.bincount(m.tensor([1]), minlength=-1),
        RuntimeError,
        "minlength",
    ),
    (
        "searchsorted_sides",
        lambda m: m.searchsorted(m.tensor([1, 2]), m.tensor([1]), side="left", right=True),
        RuntimeError,
        "opposites",
    ),
    (
        "searchsorted_side",
        lambda m: m.searchsorted(m.tensor([1, 2]), m.tensor([1]), side="up"),
        RuntimeError,
        "'left' or 'right'",
    ),
    (
        "searchsorted_0d",
        lambda m: m.searchsorted(m.tensor(1), m.tensor([1])),
        RuntimeError,
        "positive dimension",
    ),
    (
        "searchsorted_batch",
        lambda m: m.searchsorted(m.tensor([[1, 2]]), m.tensor([1])),
        RuntimeError,
        r"\[1, 2\]",
    ),
    (
        "searchsorted_sorter_dtype",
        lambda m: m.searchsorted(
            m.tensor([1, 3]), m.tensor([1]), sorter=m.tensor([0, 1], dtype=m.int32)
        ),
        RuntimeError,
        "long",
    ),
    (
        "searchsorted_sorter_size",
        lambda m: m.searchsorted(m.tensor([1, 3]), m.tensor([1]), sorter=m.tensor([0, 1, 2])),
        RuntimeError,
        "same size",
    ),
    (
        "searchsorted_sorter_range",
        lambda m: m.searchsorted(m.tensor([1, 3]), m.tensor([1]), sorter=m.tensor([0, 5])),
        RuntimeError,
        "out of range",
    ),
    (
        "bucketize_2d",
        lambda m: m.bucketize(m.tensor([1]), m.tensor([[1, 2]])),
        RuntimeError,
        "1 dimension",
    ),
    ("histc_int", lambda m: m.histc(m.tensor([1, 2])), NotImplementedError, "Long"),
    ("histc_bins", lambda m: m.histc(m.ones(2), 0), RuntimeError, "bins must be > 0"),
    ("histc_range", lambda m: m.histc(m.ones(2), 3, 3, 1), RuntimeError, "larger than min"),
    ("histc_inf", lambda m: m.histc(m.tensor([float("inf")])), RuntimeError, "not finite"),
    ("histogram_int", lambda m: m.histogram(m.tensor([1, 2]), 3), NotImplementedError, "Long"),
    (
        "histogram_range",
        lambda m: m.histogram(m.ones(2), 2, range=(2.0, 1.0)),
        RuntimeError,
        "exceed max",
    ),
    (
        "histogram_bins_2d",
        lambda m: m.histogram(m.ones(2), m.ones(2, 2)),
        RuntimeError,
        "one dimension",
    ),
    (
        "histogram_weight",
        lambda m: m.histogram(m.ones(2), 2, weight=m.ones(3)),
        RuntimeError,
        "weight",
    ),
    ("nanquantile_int", lambda m: m.nanquantile(m.tensor([1, 2]), 0.5), RuntimeError, "float"),
    ("nanquantile_q", lambda m: m.nanquantile(m.ones(3), 1.5), RuntimeError, r"\[0, 1\]"),
    ("nanquantile_q_2d", lambda m: m.nanquantile(m.ones(3), m.ones(1, 1) / 2), RuntimeError, "1D"),
    (
        "nanquantile_mode",
        lambda m: m.nanquantile(m.ones(3), 0.5, interpolation="cubic"),
        RuntimeError,
        "interpolation",
    ),
    ("nanquantile_empty", lambda m: m.nanquantile(m.ones(0), 0.5), RuntimeError, "non-empty"),
    ("diff_0d", lambda m: m.diff(m.tensor(1.0)), RuntimeError, "one-dimensional"),
    ("diff_order", lambda m: m.diff(m.ones(3), -1), RuntimeError, "non-negative"),
    (
        "diff_prepend_ndim",
        lambda m: m.diff(m.ones(3, 2), prepend=m.ones(2)),
        RuntimeError,
        "same dimension",
    ),
    ("cov_3d", lambda m: m.cov(m.ones(2, 2, 2)), RuntimeError, "two or fewer"),
    ("cov_bool", lambda m: m.cov(m.ones(2, 2, dtype=m.bool)), RuntimeError, "bool"),
    (
        "cov_fweights_float",
        lambda m: m.cov(m.ones(2, 3), fweights=m.ones(3)),
        RuntimeError,
        "integral",
    ),
    (
        "cov_aweights_int",
        lambda m: m.cov(m.ones(2, 3), aweights=m.ones(3, dtype=m.int64)),
        RuntimeError,
        "floating point",
    ),
    (
        "cov_aweights_numel",
        lambda m: m.cov(m.ones(2, 3), aweights=m.ones(2)),
        RuntimeError,
        "same numel",
    ),
    (
        "cov_negative_weights",
        lambda m: m.cov(m.ones(2, 3), fweights=m.tensor([1, -1, 1])),
        RuntimeError,
        "negative",
    ),
    (
        "cov_zero_weights",
        lambda m: m.cov(m.ones(2, 3), aweights=m.zeros(3)),
        RuntimeError,
        "sum to zero",
    ),
    ("rot90_same_dims", lambda m: m.rot90(m.ones(2, 2), 1, [0, 0]), RuntimeError, "different"),
    ("rot90_1d", lambda m: m.rot90(m.ones(2)), RuntimeError, "total dims"),
    (
        "rot90_three_dims",
        lambda m: m.rot90(m.ones(2, 2, 2), 1, [0, 1, 2]),
        RuntimeError,
        "rotation dims == 2",
    ),
    ("combinations_2d", lambda m: m.combinations(m.ones(2, 2)), RuntimeError, "1D vector"),
    ("combinations_r", lambda m: m.combinations(m.arange(3), -1), RuntimeError, "non-negative"),
    (
        "cartesian_prod_2d",
        lambda m: m.cartesian_prod(m.ones(2), m.ones(2, 2)),
        RuntimeError,
        "1D vector",
    ),
    (
        "split_with_sizes_sum",
        lambda m: m.split_with_sizes(m.ones(3), [1, 1]),
        RuntimeError,
        "sum exactly",
    ),
    ("hsplit_divisible", lambda m: m.hsplit(m.ones(3), 2), RuntimeError, "divisible"),
    ("vsplit_1d", lambda m: m.vsplit(m.ones(3), [1]), RuntimeError, "at least 2"),
    ("dsplit_2d", lambda m: m.dsplit(m.ones(3, 2), 1), RuntimeError, "at least 3"),
    ("unravel_float", lambda m: m.unravel_index(m.tensor([1.0]), (2, 2)), TypeError, "integer"),
    (
        "unravel_negative_shape",
        lambda m: m.unravel_index(m.tensor([1]), (2, -2)),
        ValueError,
        "negative",
    ),
    ("frexp_int", lambda m: m.frexp(m.tensor([1])), RuntimeError, "floating-point"),
    (
        "nextafter_int",
        lambda m: m.nextafter(m.tensor([1]), m.tensor([2])),
        NotImplementedError,
        "Long",
    ),
    ("gcd_float", lambda m: m.gcd(m.tensor([1.0]), m.tensor([2.0])), NotImplementedError, "Float"),
    ("lcm_float", lambda m: m.lcm(m.tensor([1]), m.tensor([2.0])), NotImplementedError, "Float"),
    (
        "heaviside_dtypes",
        lambda m: m.heaviside(m.tensor([1.0]), m.tensor([1])),
        RuntimeError,
        "different dtypes",
    ),
    ("addr_2d", lambda m: m.addr(m.ones(2, 2), m.ones(2, 1), m.ones(2)), RuntimeError, "1-D"),
    ("renorm_1d", lambda m: m.renorm(m.ones(3), 2, 0, 1), RuntimeError, "at least 2 dimensions"),
    ("renorm_maxnorm", lambda m: m.renorm(m.ones(2, 2), 2, 0, -1), RuntimeError, "maxnorm"),
    ("pdist_1d", lambda m: m.pdist(m.ones(2)), RuntimeError, "2D"),
    ("pdist_p", lambda m: m.pdist(m.ones(2, 2), -1), RuntimeError, "non-negative"),
    ("dist_shapes", lambda m: m.dist(m.ones(2), m.ones(3)), RuntimeError, "size"),
    ("imag_real", lambda m: m.imag(m.ones(2)), RuntimeError, "non-complex"),
    ("imag_property", lambda m: m.ones(2).imag, RuntimeError, "non-complex"),
    ("float_power_float32", lambda m: m.ones(2).float_power_(2), RuntimeError, "Double"),
    (
        "index_reduce_sum",
        lambda m: m.index_reduce(m.ones(3), 0, m.tensor([0]), m.ones(1), "sum"),
        RuntimeError,
        "prod, mean, amax or amin",
    ),
    (
        "select_scatter_size",
        lambda m: m.select_scatter(m.ones(3, 4), m.ones(3), 0, 0),
        RuntimeError,
        "size equal to the slice",
    ),
    (
        "slice_scatter_size",
        lambda m: m.slice_scatter(m.ones(3, 4), m.ones(3, 3)),
        RuntimeError,
        "size equal to the slice",
    ),
    (
        "diagonal_scatter_size",
        lambda m: m.diagonal_scatter(m.ones(3, 4), m.ones(4)),
        RuntimeError,
        "size equal to the slice",
    ),
    ("put_range", lambda m: m.ones(4).put(m.tensor([5]), m.ones(1)), IndexError, "out of range"),
    (
        "put_negative_range",
        lambda m: m.ones(4).put(m.tensor([-5]), m.ones(1)),
        IndexError,
        "out of range",
    ),
    ("fill_diagonal_1d", lambda m: m.ones(3).fill_diagonal_(1), RuntimeError, "larger than 1"),
    (
        "fill_diagonal_unequal",
        lambda m: m.ones(3, 4, 3).fill_diagonal_(1),
        RuntimeError,
        "equal length",
    ),
]


@pytest.mark.parametrize("make", [pytest.param(c[1:], id=c[0]) for c in ERRORS])
def test_errors_match_torch(make):
    fn, exc, match = make
    with pytest.raises(exc, match=match):
        fn(df)
    torch = pytest.importorskip("torch")
    with pytest.raises(exc):
        fn(torch)


def test_meshgrid_warns_without_indexing_like_torch(device):
    a, b = df.arange(3, device=device), df.arange(2, device=device)
    with pytest.warns(UserWarning, match="indexing argument"):
        grids = df.meshgrid(a, b)
    assert [tuple(g.shape) for g in grids] == [(3, 2), (3, 2)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        df.meshgrid(a, b, indexing="xy")


def test_meshgrid_outputs_are_views(device):
    a = df.arange(3.0, device=device)
    g, _ = df.meshgrid(a, df.arange(2.0, device=device), indexing="ij")
    assert g.stride() == (1, 0)


@pytest.mark.parametrize("row,col,offset", [(4, 3, 0), (3, 5, 2), (5, 5, -2), (3, 3, 7), (0, 4, 0)])
def test_tril_triu_indices_vs_torch(row, col, offset, device):
    torch = pytest.importorskip("torch")
    for name in ("tril_indices", "triu_indices"):
        got = getattr(df, name)(row, col, offset, device=device, dtype=df.int32)
        assert got.device == df.device(device)
        _same(got, getattr(torch, name)(row, col, offset, dtype=torch.int32))


def test_searchsorted_large_with_ties_vs_torch(device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    seq = np.sort(rng.integers(0, 50, (3, 200)), -1)
    vals = rng.integers(-5, 55, (3, 1025))
    for right in (False, True):
        got = df.searchsorted(
            df.tensor(seq, device=device), df.tensor(vals, device=device), right=right
        )
        _same(got, torch.searchsorted(torch.tensor(seq), torch.tensor(vals), right=right))
    flat = df.tensor(seq[0].astype(np.float32), device=device)
    got = df.bucketize(df.tensor(vals.astype(np.float32), device=device), flat, out_int32=True)
    want = torch.bucketize(
        torch.tensor(vals.astype(np.float32)), torch.tensor(seq[0]).float(), out_int32=True
    )
    _same(got, want)


def test_searchsorted_scalar_and_out(device):
    seq = df.tensor([1.0, 3.0, 5.0], device=device)
    r = df.searchsorted(seq, 3.0)
    assert r.ndim == 0 and r.item() == 1 and r.dtype == df.int64
    out = df.empty(2, dtype=df.int64, device=device)
    res = df.searchsorted(seq, df.tensor([0.0, 9.0], device=device), out=out)
    assert res is out and out.tolist() == [0, 3]


def test_bincount_result_dtypes_like_torch(device):
    torch = pytest.importorskip("torch")
    x = [0, 3, 3, 1]
    for wd in ("float32", "float64", "float16", "int32"):
        w = np.arange(4).astype(wd)
        got = df.bincount(df.tensor(x, device=device), df.tensor(w, device=device), minlength=6)
        _same(got, torch.bincount(torch.tensor(x), torch.tensor(w), minlength=6))
    empty = df.bincount(df.tensor([], dtype=df.int64, device=device), df.ones(0, device=device))
    _same(empty, torch.bincount(torch.tensor([], dtype=torch.long), torch.ones(0)))


def test_histc_and_histogram_vs_torch(device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal(3000).astype(np.float32)
    x[:20] = np.linspace(-1, 1, 20)  # values on bin edges
    dx, tx = df.tensor(x, device=device), torch.tensor(x)
    _same(df.histc(dx, 40, -1, 1), torch.histc(tx, 40, -1, 1), 0, 0)
    _same(df.histc(dx, 7), torch.histc(tx, 7), 0, 0)
    _same(df.histc(df.ones(3, device=device)), torch.histc(torch.ones(3)), 0, 0)
    _same(df.histc(df.ones(0, device=device), 4), torch.histc(torch.ones(0), 4), 0, 0)
    for args in ((dx, 13), (df.ones(3, device=device), 2), (df.ones(0, device=device), 2)):
        t_args = (torch.tensor(_np(args[0])), args[1])
        got, want = df.histogram(*args), torch.histogram(*t_args)
        assert got.hist is got[0] and got.bin_edges is got[1]
        _same(tuple(got), tuple(want), 1e-6, 1e-6)


def test_cov_degenerate_warns_like_torch(device):
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 2.0, 4.0]])
    with pytest.warns(UserWarning, match="degrees of freedom"):
        got = df.cov(df.tensor(x, device=device), correction=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = torch.cov(torch.tensor(x), correction=3)
    _same(got, want)


def test_as_strided_scatter_on_transposed_input_vs_torch(device):
    torch = pytest.importorskip("torch")
    base = np.arange(12.0).reshape(3, 4)
    src = -np.arange(1.0, 5.0).reshape(2, 2)
    got = df.as_strided_scatter(
        df.tensor(base, device=device).t(), df.tensor(src, device=device), (2, 2), (1, 4), 1
    )
    want = torch.as_strided_scatter(torch.tensor(base).t(), torch.tensor(src), (2, 2), (1, 4), 1)
    _same(got, want)


def test_fill_diagonal_wrap_vs_torch(device):
    torch = pytest.importorskip("torch")
    for shape in ((7, 3), (8, 2), (3, 7), (4, 4, 4)):
        for wrap in (False, True):
            got = df.zeros(*shape, device=device).fill_diagonal_(5, wrap=wrap)
            _same(got, torch.zeros(*shape).fill_diagonal_(5, wrap=wrap))


def test_unravel_index_negative_like_torch(device):
    torch = pytest.importorskip("torch")
    idx = [-7, -1, 0, 5, 30]
    got = df.unravel_index(df.tensor(idx, device=device), (2, 3))
    _same(got, torch.unravel_index(torch.tensor(idx), (2, 3)))
    _same(df.unravel_index(df.tensor(4, device=device), 3), torch.unravel_index(torch.tensor(4), 3))


# -- in-place forms and methods ------------------------------------------------------------------

INPLACE = [
    ("greater_", "gt"),
    ("greater_equal_", "ge"),
    ("less_", "lt"),
    ("less_equal_", "le"),
    ("not_equal_", "ne"),
]


@pytest.mark.parametrize("name,op", INPLACE)
def test_comparison_inplace_aliases(name, op, device):
    a = df.tensor([1.0, 2.0, 3.0], device=device)
    b = df.tensor([2.0, 2.0, 2.0], device=device)
    r = getattr(a, name)(b)
    assert r is a
    assert a.tolist() == getattr(df.tensor([1.0, 2.0, 3.0]), op)(df.tensor(2.0)).float().tolist()


UNARY_INPLACE = [
    ("arccos_", "acos", (-0.9, 0.9)),
    ("arcsin_", "asin", (-0.9, 0.9)),
    ("arctan_", "atan", (-2, 2)),
    ("arccosh_", "acosh", (1.1, 3)),
    ("arcsinh_", "asinh", (-2, 2)),
    ("arctanh_", "atanh", (-0.9, 0.9)),
    ("negative_", "neg", (-2, 2)),
    ("fix_", "trunc", (-3, 3)),
    ("absolute_", "abs", (-2, 2)),
    ("sgn_", "sign", (-2, 2)),
]


@pytest.mark.parametrize("name,ref,bounds", UNARY_INPLACE)
def test_unary_inplace_aliases(name, ref, bounds, device):
    x = np.random.default_rng(2).uniform(*bounds, 7)
    t = df.tensor(x, device=device)
    assert getattr(t, name)() is t
    _same(t, getattr(df, ref)(df.tensor(x)))
    leaf = df.tensor(x, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(leaf, name)()


def test_binary_inplace_methods_vs_torch(device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 2, (3, 4)), rng.uniform(0.5, 2, (4,))
    ia, ib = rng.integers(-20, 20, (3, 4)), rng.integers(0, 20, (4,))
    cases = [
        ("ldexp_", a, ib),
        ("copysign_", a, -b),
        ("arctan2_", a, b),
        ("heaviside_", a - 1, b),
        ("nextafter_", a, b),
        ("gcd_", ia, ib),
        ("lcm_", ia, ib),
        ("bitwise_left_shift_", ia, ib % 4),
        ("bitwise_right_shift_", ia, ib % 4),
    ]
    for name, x, y in cases:
        t = df.tensor(x, device=device)
        assert getattr(t, name)(df.tensor(y, device=device)) is t, name
        tt = torch.tensor(x)
        getattr(tt, name)(torch.tensor(y))
        _same(t, tt)
    t = df.tensor(a, device=device)
    t.float_power_(2)
    _same(t, torch.tensor(a).float_power_(2))
    t = df.tensor(a, device=device)
    t.renorm_(2, 0, 1.0)
    _same(t, torch.tensor(a).renorm_(2, 0, 1.0))
    t = df.tensor(a, device=device)
    t.addr_(df.tensor(a[:, 0], device=device), df.tensor(b, device=device), alpha=2)
    _same(t, torch.tensor(a).addr_(torch.tensor(a[:, 0]), torch.tensor(b), alpha=2))


def test_inplace_scatter_methods_keep_graph(device):
    x = df.arange(6.0, device=device).requires_grad_()
    y = x * 1
    y.put_(df.tensor([0, 5], device=device), df.tensor([7.0, 8.0], device=device))
    y.index_reduce_(0, df.tensor([1], device=device), df.tensor([3.0], device=device), "amax")
    (y * df.arange(6.0, device=device)).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 2.0, 3.0, 4.0, 0.0]
    assert y.tolist() == [7.0, 3.0, 2.0, 3.0, 4.0, 8.0]


def test_complex_views_of_real_tensors(device):
    x = df.tensor([1.0, -2.0], device=device)
    for name in ("real", "conj", "conj_physical", "resolve_conj", "resolve_neg"):
        assert getattr(df, name)(x) is x
    assert x.conj() is x and x.conj_physical_() is x and x.real is x
    assert not x.is_conj() and not df.is_neg(x)
    assert df.isreal(x).tolist() == [True, True]
    assert df.is_signed(x) and not df.is_signed(df.tensor([1], dtype=df.uint8, device=device))
    assert df.is_same_size(x, df.ones(2)) and not x.is_same_size(df.ones(2, 1))


def test_aliases_are_exported():
    torch = pytest.importorskip("torch")
    names = [
        "absolute",
        "negative",
        "negative_",
        "fix",
        "fix_",
        "sgn",
        "arccos",
        "arccos_",
        "arcsinh_",
        "arctanh_",
        "gcd_",
        "lcm_",
        "ldexp_",
    ]
    for n in names:
        assert callable(getattr(df, n)) and hasattr(torch, n), n


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8"])
def test_gcd_lcm_one_kernel_vs_torch(device, dtype):
    """gcd is one elementwise kernel (no loop asking the device whether pairs are left); lcm
    takes |a / g * b| before narrowing to the dtype, as PyTorch (int8 wraps the same way)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    low = 0 if dtype == "uint8" else -50
    a = rng.integers(low, 50, (5, 6)).astype(dtype)
    b = rng.integers(low, 50, (6,)).astype(dtype)
    a[0, 0] = b[0] = 0
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    da, db = df.tensor(a, device=device), df.tensor(b, device=device)
    np.testing.assert_array_equal(df.gcd(da, db).cpu().numpy(), torch.gcd(ta, tb).numpy())
    np.testing.assert_array_equal(df.lcm(da, db).cpu().numpy(), torch.lcm(ta, tb).numpy())
