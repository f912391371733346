"""linalg factorizations and solvers beyond the op table (tests/op_specs_linalg_more.py):
errors and their messages, singular and non-positive-definite input, the ``_ex`` variants'
info, lstsq's fields per driver, tolerances of matrix_rank / pinv, complex eig, the legacy
top-level functions and Tensor methods, all against torch."""

from __future__ import annotations

import re

import numpy as np
import pytest

import deepforge as df
from deepforge.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")


def _host(t):
    return t.detach().cpu().numpy()


def _pair(a, device, requires_grad=False):
    """The same array as a deepforge tensor on ``device`` and as a torch tensor."""
    d = df.tensor(a, device=device).requires_grad_(requires_grad)
    t = torch.from_numpy(np.array(a)).requires_grad_(requires_grad)
    return d, t


def _singular_batch():
    a = np.zeros((2, 3, 3))
    a[0] = np.eye(3)
    a[1] = [[1.0, 2, 3], [2, 4, 6], [1, 1, 1]]
    return a


def _raises_like(torch_fn, df_fn):
    """deepforge raises the exception type and message torch raises."""
    with pytest.raises(Exception) as te:
        torch_fn()
    with pytest.raises(Exception) as de:
        df_fn()
    assert isinstance(de.value, RuntimeError) == isinstance(te.value, RuntimeError)
    assert isinstance(de.value, NotImplementedError) == isinstance(te.value, NotImplementedError)
    assert str(de.value) == str(te.value)
    return de.value


@pytest.mark.parametrize(
    "name,call",
    [
        ("inv", lambda m, a: m.linalg.inv(a)),
        ("solve", lambda m, a: m.linalg.solve(a, m.ones(2, 3, 1, dtype=a.dtype, device=a.device))),
    ],
)
def test_singular_errors_are_linalg_errors(name, call, device):
    a = _singular_batch()
    d, t = _pair(a, device)
    err = _raises_like(lambda: call(torch, t), lambda: call(df, d))
    assert isinstance(err, df.linalg.LinAlgError)
    _raises_like(lambda: call(torch, t[1:]), lambda: call(df, d[1:]))


def test_singular_single_matrix_message(device):
    d, t = _pair(_singular_batch()[1], device)
    _raises_like(lambda: torch.linalg.inv(t), lambda: df.linalg.inv(d))
    _raises_like(lambda: torch.inverse(t), lambda: df.inverse(d))


def test_cholesky_not_positive_definite(device):
    a = np.stack([np.eye(3), np.diag([1.0, -1.0, 1.0])])
    d, t = _pair(a, device)
    err = _raises_like(lambda: torch.linalg.cholesky(t), lambda: df.linalg.cholesky(d))
    assert isinstance(err, df.linalg.LinAlgError)
    _raises_like(lambda: torch.linalg.cholesky(t[1]), lambda: df.linalg.cholesky(d[1]))
    r_t, r_d = torch.linalg.cholesky_ex(t), df.linalg.cholesky_ex(d)
    np.testing.assert_array_equal(_host(r_d.info), r_t.info.numpy())
    assert r_d.info.dtype == df.int32
    np.testing.assert_allclose(_host(r_d.L[0]), r_t.L[0].numpy())


def test_lu_factor_singular(device):
    d, t = _pair(_singular_batch(), device)
    _raises_like(lambda: torch.linalg.lu_factor(t), lambda: df.linalg.lu_factor(d))
    ex_t, ex_d = torch.linalg.lu_factor_ex(t), df.linalg.lu_factor_ex(d)
    for a, b in zip(ex_d, ex_t):
        assert a.dtype.name == str(b.dtype).replace("torch.", "")
        np.testing.assert_allclose(_host(a), b.numpy(), atol=1e-12)
    _raises_like(
        lambda: torch.linalg.lu_factor(t, pivot=False), lambda: df.linalg.lu_factor(d, pivot=False)
    )


def test_ex_variants_info(device):
    d, t = _pair(_singular_batch(), device)
    inv_t, inv_d = torch.linalg.inv_ex(t), df.linalg.inv_ex(d)
    np.testing.assert_array_equal(_host(inv_d.info), inv_t.info.numpy())
    np.testing.assert_allclose(_host(inv_d.inverse[0]), inv_t.inverse[0].numpy())
    b = np.ones((2, 3))
    s_t = torch.linalg.solve_ex(t, torch.from_numpy(b))
    s_d = df.linalg.solve_ex(d, df.tensor(b, device=device))
    np.testing.assert_array_equal(_host(s_d.info), s_t.info.numpy())
    np.testing.assert_allclose(_host(s_d.result[0]), s_t.result[0].numpy())
    with pytest.raises(df.linalg.LinAlgError):
        df.linalg.inv_ex(d, check_errors=True)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, a: m.linalg.inv(a),
        lambda m, a: m.linalg.det(a),
        lambda m, a: m.linalg.slogdet(a),
        lambda m, a: m.logdet(a),
        lambda m, a: m.linalg.solve(a, a),
        lambda m, a: m.linalg.cholesky(a),
        lambda m, a: m.linalg.qr(a),
        lambda m, a: m.linalg.eigh(a),
        lambda m, a: m.linalg.lu_factor(a),
        lambda m, a: m.linalg.solve_triangular(a, a, upper=True),
        lambda m, a: m.linalg.eigvals(a),
    ],
)
@pytest.mark.parametrize("dtype", ["float16", "int64"])
def test_dtype_errors(call, dtype):
    a = np.eye(3).astype(dtype)
    _raises_like(lambda: call(torch, torch.from_numpy(a)), lambda: call(df, df.tensor(a)))


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.linalg.inv(m.ones(2, 3, dtype=m.float64)),
        lambda m: m.linalg.inv(m.ones(3, dtype=m.float64)),
        lambda m: m.linalg.solve(m.eye(3, dtype=m.float64), m.ones(4, 1, dtype=m.float64)),
        lambda m: m.linalg.solve(m.eye(3, dtype=m.float64), m.ones(3, 1)),
        lambda m: m.linalg.solve_triangular(m.eye(3), m.ones(3), upper=True),
        lambda m: m.linalg.matrix_power(m.ones(2, 3), 2),
        lambda m: m.linalg.matrix_exp(m.ones(2, 3)),
        lambda m: m.linalg.multi_dot([m.ones(2, 3)]),
        lambda m: m.linalg.multi_dot([m.ones(2, 3), m.ones(2, 3)]),
        lambda m: m.linalg.multi_dot([m.ones(2, 3, 3), m.ones(3, 3)]),
        lambda m: m.linalg.lstsq(m.ones(2, 3), m.ones(3, 2)),
        lambda m: m.linalg.lstsq(m.ones(3, 2), m.ones(3, 2, dtype=m.float64)),
        lambda m: m.linalg.cond(m.ones(2, 3), 1),
        lambda m: m.linalg.eigh(m.eye(3), UPLO="X"),
        lambda m: m.linalg.qr(m.eye(3), mode="x"),
        lambda m: m.linalg.householder_product(m.ones(2, 3), m.ones(2)),
        lambda m: m.linalg.tensorinv(m.ones(2, 3), ind=1),
        lambda m: m.linalg.vander(m.tensor(1.0)),
    ],
)
def test_shape_and_argument_errors(call):
    err = _raises_like(lambda: call(torch), lambda: call(df))
    assert str(err)


def test_eigh_nan_is_linalg_error():
    with pytest.raises(df.linalg.LinAlgError, match=re.escape("linalg.eigh: The algorithm")):
        df.linalg.eigh(df.full((3, 3), float("nan"), dtype=df.float64))


def _cofactors(a):
    """The gradient of det for 3x3 matrices: the cofactor matrix (cross products of rows)."""
    r0, r1, r2 = a[..., 0, :], a[..., 1, :], a[..., 2, :]
    return np.stack([np.cross(r1, r2), np.cross(r2, r0), np.cross(r0, r1)], -2)


def test_det_singular_gradient(device):
    """Rank-1 and rank-2 matrices: the gradient goes through the SVD and is the cofactor
    matrix. (torch 2.13 returns zeros for a rank-2 matrix, which its own gradcheck rejects;
    deepforge gives the derivative.)"""
    rng = np.random.default_rng(3)
    u, v = rng.standard_normal((3, 1)), rng.standard_normal((1, 3))
    a = np.stack([u @ v, np.diag([1.0, 2.0, 0.0]) @ rng.standard_normal((3, 3))])
    d = df.tensor(a, device=device, requires_grad=True)
    df.linalg.det(d).sum().backward()
    np.testing.assert_allclose(_host(d.grad), _cofactors(a), atol=1e-10)
    x = df.tensor(a[1], device=device, requires_grad=True)
    assert gradcheck(df.linalg.det, [x])
    assert gradgradcheck(df.linalg.det, [x])


@pytest.mark.parametrize("driver", [None, "gelsy", "gelsd", "gelss", "gels"])
@pytest.mark.parametrize("shapes", [((4, 3), (4, 2)), ((2, 5, 3), (2, 5, 1)), ((2, 3), (2, 2))])
def test_lstsq_fields(driver, shapes, device):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    da, ta = _pair(a, device)
    db, tb = _pair(b, device)
    r_d, r_t = df.linalg.lstsq(da, db, driver=driver), torch.linalg.lstsq(ta, tb, driver=driver)
    for name in ("solution", "residuals", "rank", "singular_values"):
        x, y = getattr(r_d, name), getattr(r_t, name)
        assert tuple(x.shape) == tuple(y.shape), name
        assert x.dtype.name == str(y.dtype).replace("torch.", ""), name
        np.testing.assert_allclose(_host(x), y.numpy(), rtol=1e-8, atol=1e-10, err_msg=name)


def test_lstsq_vector_rhs():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((5, 3)), rng.standard_normal(5)
    expected = torch.linalg.lstsq(torch.from_numpy(a), torch.from_numpy(b)).solution
    got = df.linalg.lstsq(df.tensor(a), df.tensor(b)).solution
    np.testing.assert_allclose(_host(got), expected.numpy(), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"atol": 0.5},
        {"rtol": 0.3},
        {"atol": 0.1, "rtol": 0.2},
        {"hermitian": True},
        {"tol": 1.0},
    ],
)
def test_matrix_rank_tolerances(kwargs, device):
    rng = np.random.default_rng(2)
    q = np.linalg.qr(rng.standard_normal((2, 4, 4)))[0]
    a = q @ np.diag([3.0, 1.0, 0.4, 0.0]) @ np.swapaxes(q, -1, -2)  # symmetric, rank 3
    d, t = _pair(a, device)
    got, expected = df.linalg.matrix_rank(d, **kwargs), torch.linalg.matrix_rank(t, **kwargs)
    assert got.dtype == df.int64
    np.testing.assert_array_equal(_host(got), expected.numpy())
    if "tol" not in kwargs:
        p_d, p_t = df.linalg.pinv(d, **kwargs), torch.linalg.pinv(t, **kwargs)
        np.testing.assert_allclose(_host(p_d), p_t.numpy(), atol=1e-10)


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, -1, float("inf"), -float("inf")])
def test_cond_orders(p, device):
    a = np.random.default_rng(4).standard_normal((2, 3, 3))
    d, t = _pair(a, device)
    np.testing.assert_allclose(
        _host(df.linalg.cond(d, p)), torch.linalg.cond(t, p).numpy(), rtol=1e-10
    )


def test_eig_complex_results():
    a = np.random.default_rng(5).standard_normal((2, 3, 3))
    w, v = df.linalg.eig(df.tensor(a))
    assert w.dtype == df.complex128 and v.dtype == df.complex128
    # A v = v diag(w), whatever the eigenvectors' scaling
    wn, vn = w.numpy(), v.numpy()
    np.testing.assert_allclose(a @ vn, vn * wn[..., None, :], atol=1e-12)
    wt = torch.linalg.eigvals(torch.from_numpy(a)).numpy()
    np.testing.assert_allclose(
        np.sort_complex(df.linalg.eigvals(df.tensor(a)).numpy()), np.sort_complex(wt), atol=1e-12
    )
    assert df.linalg.eigvals(df.tensor(a, dtype=df.float32)).dtype == df.complex64
    with pytest.raises(NotImplementedError, match="gradients"):
        df.linalg.eig(df.tensor(a, requires_grad=True))


def test_ldl_is_not_implemented():
    with pytest.raises(NotImplementedError, match="ldl_factor"):
        df.linalg.ldl_factor(df.eye(3))


def test_matrix_exp_against_torch(device):
    """Large and small norms, batched, float32 and float64, and its gradient."""
    rng = np.random.default_rng(6)
    for scale in (1e-3, 1.0, 20.0):
        a = scale * rng.standard_normal((2, 4, 4))
        for dtype in ("float32", "float64"):
            x = a.astype(dtype)
            got = df.linalg.matrix_exp(df.tensor(x, device=device))
            expected = torch.linalg.matrix_exp(torch.from_numpy(x))
            rtol = 1e-3 if dtype == "float32" else 1e-9  # float32: rounding grows with squarings
            np.testing.assert_allclose(_host(got), expected.numpy(), rtol=rtol, atol=rtol)
    d, t = _pair(rng.standard_normal((3, 3)), device, True)
    g = rng.standard_normal((3, 3))
    df.linalg.matrix_exp(d).backward(df.tensor(g, device=device))
    torch.linalg.matrix_exp(t).backward(torch.from_numpy(g))
    np.testing.assert_allclose(_host(d.grad), t.grad.numpy(), rtol=1e-9)


def test_legacy_functions_and_methods_exist_like_torch():
    names = [
        "inverse", "det", "logdet", "slogdet", "cholesky", "cholesky_solve", "cholesky_inverse",
        "lu", "lu_unpack", "lu_solve", "qr", "pinverse", "matrix_power", "matrix_exp",
        "triangular_solve", "vander",
    ]  # fmt: skip
    for name in names:
        assert hasattr(torch, name) and hasattr(df, name), name
    methods = [
        "inverse", "det", "logdet", "slogdet", "cholesky", "cholesky_solve", "cholesky_inverse",
        "qr", "pinverse", "matrix_power", "matrix_exp", "lu", "lu_solve", "triangular_solve",
    ]  # fmt: skip
    for name in methods:
        assert hasattr(torch.Tensor, name) and hasattr(df.Tensor, name), name
    for name in [n for n in dir(torch.linalg) if not n.startswith("_")]:
        if not callable(getattr(torch.linalg, name)):  # common_notes: a docstring table
            continue
        assert hasattr(df.linalg, name), name


def test_legacy_calls_match_torch(device):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((3, 2))
    pd = a @ a.T
    da, ta = _pair(a, device)
    db, tb = _pair(b, device)
    dpd, tpd = _pair(pd, device)
    cases = [
        (lambda m, a, b, pd: m.slogdet(a), "slogdet"),
        (lambda m, a, b, pd: a.slogdet(), "slogdet"),
        (lambda m, a, b, pd: m.qr(a, some=False), "qr"),
        (lambda m, a, b, pd: a.qr(), "qr"),
        (lambda m, a, b, pd: m.lu(a, get_infos=True), None),
        (lambda m, a, b, pd: m.lu_solve(b, *m.lu(a)), None),
        (lambda m, a, b, pd: b.lu_solve(*a.lu()), None),
        (lambda m, a, b, pd: m.cholesky(pd, upper=True), None),
        (lambda m, a, b, pd: pd.cholesky(), None),
        (lambda m, a, b, pd: b.cholesky_solve(m.linalg.cholesky(pd)), None),
        (lambda m, a, b, pd: m.linalg.cholesky(pd, upper=True).cholesky_inverse(upper=True), None),
        (lambda m, a, b, pd: b.triangular_solve(a, unitriangular=True), "triangular_solve"),
        (lambda m, a, b, pd: a.pinverse(rcond=1e-3), None),
        (lambda m, a, b, pd: a.logdet(), None),
        (lambda m, a, b, pd: m.vander(b[:, 0], increasing=True), None),
    ]
    for call, typename in cases:
        got, expected = call(df, da, db, dpd), call(torch, ta, tb, tpd)
        if typename:
            assert type(got).__name__ == type(expected).__name__ == typename
        gl = got if isinstance(got, tuple) else (got,)
        el = expected if isinstance(expected, tuple) else (expected,)
        for x, y in zip(gl, el):
            np.testing.assert_allclose(_host(x), y.numpy(), atol=1e-10)


def test_results_stay_on_device(device):
    a = df.tensor(np.eye(3) * 2, device=device)
    for out in (
        df.linalg.inv(a),
        df.linalg.det(a),
        df.linalg.cholesky(a),
        df.linalg.qr(a).Q,
        df.linalg.eigh(a).eigenvectors,
        df.linalg.lu_factor(a).pivots,
        df.linalg.matrix_rank(a),
    ):
        assert out.device == a.device


def test_gradients_of_unused_outputs(device):
    """Only R of qr, only the eigenvalues of eigh, only log|det| of slogdet."""
    rng = np.random.default_rng(8)
    a = rng.standard_normal((4, 3))
    s = rng.standard_normal((3, 3))
    s = s + s.T
    for fn, x in [
        (lambda m, x: m.linalg.qr(x).R.sum(), a),
        (lambda m, x: m.linalg.qr(x).Q.sum(), a),
        (lambda m, x: m.linalg.eigh(x).eigenvalues.sum(), s),
        (lambda m, x: m.linalg.slogdet(x).logabsdet, s),
    ]:
        d, t = _pair(x, device, True)
        fn(df, d).backward()
        fn(torch, t).backward()
        np.testing.assert_allclose(_host(d.grad), t.grad.numpy(), atol=1e-10)


def test_pinv_gradient_with_repeated_singular_values(device):
    """An orthogonal matrix (all singular values 1) and a rank-full wide one: the gradient
    does not divide by differences of singular values."""
    rng = np.random.default_rng(9)
    q = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    for a in (q, rng.standard_normal((2, 4))):
        d, t = _pair(a, device, True)
        g = rng.standard_normal(a.shape[::-1])
        df.linalg.pinv(d).backward(df.tensor(g, device=device))
        torch.linalg.pinv(t).backward(torch.from_numpy(g))
        np.testing.assert_allclose(_host(d.grad), t.grad.numpy(), atol=1e-10)
        x = df.tensor(a, device=device, requires_grad=True)
        assert gradcheck(df.linalg.pinv, [x])
        assert gradgradcheck(df.linalg.pinv, [x])


def test_eig_on_a_device_without_complex_storage(device):
    a = df.tensor(np.random.default_rng(10).standard_normal((3, 3)), device=device)
    if device == "cpu":
        assert df.linalg.eigvals(a).device == a.device
    else:
        with pytest.raises(NotImplementedError, match="complex results are not supported"):
            df.linalg.eigvals(a)


@pytest.mark.parametrize("shape", [(0, 3, 3), (2, 0, 0), (0, 2, 3), (2, 0, 3)])
@pytest.mark.parametrize(
    "call",
    [
        lambda m, a: m.linalg.pinv(a),
        lambda m, a: m.linalg.matrix_rank(a),
        lambda m, a: m.linalg.lu_factor_ex(a),
        lambda m, a: m.linalg.lu(a),
        lambda m, a: m.linalg.qr(a),
        lambda m, a: m.linalg.lstsq(a, a).solution,
    ],
)
def test_empty_inputs(shape, call, device):
    a = np.zeros(shape)
    got, expected = call(df, df.tensor(a, device=device)), call(torch, torch.from_numpy(a))
    gl = got if isinstance(got, tuple) else (got,)
    el = expected if isinstance(expected, tuple) else (expected,)
    for x, y in zip(gl, el):
        assert tuple(x.shape) == tuple(y.shape)
        np.testing.assert_allclose(_host(x), y.numpy())


@pytest.mark.parametrize("shape", [(0, 3, 3), (2, 0, 0)])
@pytest.mark.parametrize(
    "call",
    [
        lambda m, a: m.linalg.inv(a),
        lambda m, a: m.linalg.det(a),
        lambda m, a: m.linalg.slogdet(a),
        lambda m, a: m.linalg.cholesky(a),
        lambda m, a: m.linalg.eigvalsh(a),
        lambda m, a: m.linalg.solve(a, a),
        lambda m, a: m.linalg.matrix_exp(a),
        lambda m, a: m.linalg.cond(a),
    ],
)
def test_empty_square_inputs(shape, call, device):
    test_empty_inputs(shape, call, device)
