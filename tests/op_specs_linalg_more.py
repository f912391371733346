# ruff: noqa: E501 - a declarative table reads best one row per line
"""Rows of the op table (tests/op_specs.py) for the factorizations and solvers of
``linalg`` (inv, det, solve, cholesky, qr, eigh, lu, pinv, lstsq, matrix_exp ...); same
conventions as there.

The matrices are made well conditioned inside each op from its random input, so gradcheck
differentiates through the construction: ``_wc`` adds n*I to entries in (-1, 1) (strictly
diagonally dominant), ``_pd`` builds X X^T + n*I, ``_sym`` X + X^T. Outputs fixed only up to
sign (eigenvectors) are compared through sign-free products. Rows with ``ref=None`` have no
numpy reference (numpy has no LU) and are compared with torch.
"""

from __future__ import annotations

import numpy as np
import op_spec_lib as L

C, F, NG = L.C, L.F, L.NG


def _eye(m, x):
    n = x.shape[-1]
    if m is np:
        return np.eye(n, dtype=x.dtype)
    return m.eye(n, dtype=x.dtype, device=x.device)


def _wc(m, x):
    return x + x.shape[-1] * _eye(m, x)


def _pd(m, x):
    return x @ _t(x) + x.shape[-1] * _eye(m, x)


def _sym(m, x):
    return x + _t(x)


def _t(x):
    return np.swapaxes(x, -1, -2) if isinstance(x, np.ndarray) else x.mT


def _rank2(x):
    return x[..., :, :2] @ x[..., :2, :]


def _det3(a):
    """det of 3x3 matrices by cofactor expansion (differentiable everywhere)."""
    e = [[a[..., i, j] for j in range(3)] for i in range(3)]
    return (
        e[0][0] * (e[1][1] * e[2][2] - e[1][2] * e[2][1])
        - e[0][1] * (e[1][0] * e[2][2] - e[1][2] * e[2][0])
        + e[0][2] * (e[1][0] * e[2][1] - e[1][1] * e[2][0])
    )


def _eig_parts(r):
    """Eigenvalues and v_j v_j^T per eigenpair (free of the eigenvectors' signs)."""
    w, V = r
    return w, V[..., :, :, None] * _t(V)[..., None, :, :]


SQ = [(3, 3), (2, 3, 3), (1, 1), (2, 2, 2)]
SMALL = ("small",)
SMALL2 = ("small", "small")

SPECS: list = [
    C(
        "linalg_inv",
        lambda m, x: m.linalg.inv(_wc(m, x)),
        lambda x: np.linalg.inv(_wc(np, x)),
        SQ + [(0, 0)],
        SMALL,
    ),
    C(
        "inverse",
        lambda m, x: m.inverse(_wc(m, x)),
        lambda x: np.linalg.inv(_wc(np, x)),
        [(3, 3)],
        SMALL,
    ),
    C(
        "linalg_inv_ex",
        lambda m, x: m.linalg.inv_ex(_wc(m, x)).inverse,
        lambda x: np.linalg.inv(_wc(np, x)),
        [(2, 3, 3)],
        SMALL,
    ),
    C("linalg_det", lambda m, x: m.linalg.det(x), np.linalg.det, SQ + [(0, 0)]),
    C(
        "det_method",
        lambda m, x: _wc(m, x).det(),
        lambda x: np.linalg.det(_wc(np, x)),
        [(3, 3)],
        SMALL,
    ),
    # rank 2 (a 3x2 times a 2x3 block of x): the gradient goes through the SVD; torch 2.13's is
    # zero there (its gradcheck fails), so torch's side is the cofactor expansion
    C(
        "linalg_det_singular",
        lambda m, x: m.linalg.det(_rank2(x)),
        lambda x: np.linalg.det(_rank2(x)),
        [(3, 3), (2, 3, 3)],
        torch_op=lambda m, x: _det3(_rank2(x)),
    ),
    C(
        "linalg_slogdet",
        lambda m, x: m.linalg.slogdet(x),
        lambda x: tuple(np.linalg.slogdet(x)),
        SQ,
    ),
    C("slogdet", lambda m, x: m.slogdet(x), lambda x: tuple(np.linalg.slogdet(x)), [(3, 3)]),
    C("logdet", lambda m, x: m.logdet(_pd(m, x)), lambda x: np.linalg.slogdet(_pd(np, x))[1], SQ),
    C(
        "linalg_solve",
        lambda m, a, b: m.linalg.solve(_wc(m, a), b),
        lambda a, b: np.linalg.solve(_wc(np, a), b),
        [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1)), ((3, 3), (2, 3, 2)), ((2, 1, 2, 2), (3, 2, 1))],
        SMALL2,
    ),
    C(
        "linalg_solve_vec",
        lambda m, a, b: m.linalg.solve(_wc(m, a), b),
        lambda a, b: np.linalg.solve(_wc(np, a), b[..., None])[..., 0],
        [((3, 3), (3,)), ((2, 3, 3), (2, 3))],
        SMALL2,
    ),
    C(
        "linalg_solve_left_false",
        lambda m, a, b: m.linalg.solve(_wc(m, a), b, left=False),
        lambda a, b: _t(np.linalg.solve(_t(_wc(np, a)), _t(b))),
        [((3, 3), (2, 3)), ((2, 2, 2), (2, 1, 2))],
        SMALL2,
    ),
    C(
        "linalg_solve_triangular",
        lambda m, a, b: m.linalg.solve_triangular(_wc(m, a), b, upper=True),
        lambda a, b: np.linalg.solve(np.triu(_wc(np, a)), b),
        [((3, 3), (3, 2)), ((2, 3, 3), (3, 1)), ((2, 2), (2, 2, 2))],
        SMALL2,
    ),
    C(
        "linalg_solve_triangular_unit_right",
        lambda m, a, b: m.linalg.solve_triangular(
            a, b, upper=False, left=False, unitriangular=True
        ),
        lambda a, b: _t(np.linalg.solve(_t(np.tril(a, -1) + np.eye(a.shape[-1])), _t(b))),
        [((3, 3), (2, 3)), ((2, 2, 2), (2, 1, 2))],
        SMALL2,
    ),
    C(
        "triangular_solve",
        lambda m, b, a: m.triangular_solve(b, _wc(m, a), upper=False, transpose=True).solution,
        lambda b, a: np.linalg.solve(_t(np.tril(_wc(np, a))), b),
        [((3, 2), (3, 3)), ((2, 3, 1), (2, 3, 3))],
        SMALL2,
    ),
    C(
        "linalg_cholesky",
        lambda m, x: m.linalg.cholesky(_pd(m, x)),
        lambda x: np.linalg.cholesky(_pd(np, x)),
        SQ + [(0, 0)],
    ),
    C(
        "linalg_cholesky_upper",
        lambda m, x: m.linalg.cholesky(_pd(m, x), upper=True),
        lambda x: _t(np.linalg.cholesky(_pd(np, x))),
        [(3, 3), (2, 2, 2)],
    ),
    C(
        "linalg_cholesky_ex",
        lambda m, x: m.linalg.cholesky_ex(_pd(m, x)).L,
        lambda x: np.linalg.cholesky(_pd(np, x)),
        [(3, 3)],
    ),
    C(
        "cholesky_solve",
        lambda m, b, x: m.cholesky_solve(b, m.linalg.cholesky(_pd(m, x))),
        lambda b, x: np.linalg.solve(_pd(np, x), b),
        [((3, 2), (3, 3)), ((2, 2, 1), (2, 2, 2))],
        ("real", "real"),
    ),
    C(
        "cholesky_inverse",
        lambda m, x: m.cholesky_inverse(m.linalg.cholesky(_pd(m, x))),
        lambda x: np.linalg.inv(_pd(np, x)),
        [(3, 3), (2, 2, 2)],
    ),
    C(
        "linalg_qr",
        lambda m, x: m.linalg.qr(x),
        lambda x: tuple(np.linalg.qr(x)),
        [(4, 3), (3, 3), (2, 3, 2), (3, 4), (2, 2, 3)],
    ),
    C(
        "linalg_qr_complete",
        lambda m, x: m.linalg.qr(x, mode="complete"),
        lambda x: tuple(np.linalg.qr(x, "complete")),
        [(3, 3), (2, 4)],
    ),
    C(
        "linalg_qr_complete_tall",
        lambda m, x: m.linalg.qr(x, mode="complete"),
        lambda x: tuple(np.linalg.qr(x, "complete")),
        [(3, 2), (2, 4, 3)],
        **NG,
    ),
    C(
        "linalg_qr_r",
        lambda m, x: m.linalg.qr(x, mode="r")[1],
        lambda x: np.linalg.qr(x, "r"),
        [(4, 3), (3, 4)],
        **NG,
    ),
    C("qr", lambda m, x: m.qr(x), lambda x: tuple(np.linalg.qr(x)), [(4, 3), (2, 3, 3)]),
    C(
        "linalg_eigh",
        lambda m, x: _eig_parts(m.linalg.eigh(_sym(m, x))),
        lambda x: _eig_parts(np.linalg.eigh(_sym(np, x))),
        [(3, 3), (2, 3, 3), (2, 2, 2)],
    ),
    C(
        "linalg_eigh_upper",
        lambda m, x: _eig_parts(m.linalg.eigh(_sym(m, x), UPLO="U")),
        lambda x: _eig_parts(np.linalg.eigh(_sym(np, x), "U")),
        [(3, 3)],
    ),
    C(
        "linalg_eigvalsh",
        lambda m, x: m.linalg.eigvalsh(_sym(m, x)),
        lambda x: np.linalg.eigvalsh(_sym(np, x)),
        SQ,
    ),
    C(
        "linalg_pinv",
        lambda m, x: m.linalg.pinv(x),
        np.linalg.pinv,
        [(3, 4), (4, 2), (2, 3, 2), (3, 3)],
    ),
    C(
        "linalg_pinv_hermitian",
        lambda m, x: m.linalg.pinv(_pd(m, x), hermitian=True),
        lambda x: np.linalg.pinv(_pd(np, x), hermitian=True),
        [(3, 3), (2, 2, 2)],
    ),
    C("pinverse", lambda m, x: m.pinverse(x), np.linalg.pinv, [(3, 2), (2, 3)]),
    C(
        "linalg_matrix_power",
        lambda m, x: m.linalg.matrix_power(x, 3),
        lambda x: np.linalg.matrix_power(x, 3),
        SQ,
    ),
    C(
        "linalg_matrix_power_neg",
        lambda m, x: m.linalg.matrix_power(_wc(m, x), -2),
        lambda x: np.linalg.matrix_power(_wc(np, x), -2),
        [(3, 3), (2, 2, 2)],
        SMALL,
    ),
    C(
        "matrix_power_0",
        lambda m, x: x.matrix_power(0),
        lambda x: np.linalg.matrix_power(x, 0),
        [(3, 3), (2, 2, 2)],
    ),
    C(
        "matrix_power_int",
        lambda m, x: m.matrix_power(x, 2),
        lambda x: np.linalg.matrix_power(x, 2),
        [(3, 3)],
        dtypes=("int64",),
        **NG,
    ),
    C(
        "linalg_multi_dot",
        lambda m, a, b, c: m.linalg.multi_dot([a, b, c]),
        lambda a, b, c: a @ b @ c,
        [((3,), (3, 4), (4, 2)), ((2, 3), (3, 4), (4,)), ((2, 3), (3, 1), (1, 2))],
        ("real", "real", "real"),
    ),
    C(
        "linalg_lstsq",
        lambda m, a, b: m.linalg.lstsq(a, b).solution,
        lambda a, b: np.linalg.pinv(a) @ b,
        [((4, 3), (4, 2)), ((2, 4, 2), (2, 4, 1)), ((2, 3), (2, 2))],
        ("real", "real"),
    ),
    C(
        "linalg_lstsq_gelsd",
        lambda m, a, b: m.linalg.lstsq(a, b, driver="gelsd")[:2],
        lambda a, b: tuple(np.linalg.lstsq(a, b)[:2]),
        [((4, 3), (4, 2))],
        ("real", "real"),
    ),
    C(
        "linalg_matrix_rank",
        lambda m, x: m.linalg.matrix_rank(x),
        np.linalg.matrix_rank,
        [(3, 4), (2, 3, 3), (4, 2)],
        **NG,
    ),
    C(
        "linalg_matrix_rank_deficient",
        lambda m, x: m.linalg.matrix_rank(x[..., :, :1] * x[..., :1, :]),
        lambda x: np.linalg.matrix_rank(x[..., :, :1] * x[..., :1, :]),
        [(3, 4), (2, 3, 3)],
        **NG,
    ),
    C("linalg_cond", lambda m, x: m.linalg.cond(x), np.linalg.cond, [(3, 3), (2, 3, 4), (4, 2)]),
    C(
        "linalg_cond_fro",
        lambda m, x: m.linalg.cond(_wc(m, x), "fro"),
        lambda x: np.linalg.cond(_wc(np, x), "fro"),
        [(3, 3), (2, 2, 2)],
        SMALL,
    ),
    C("linalg_lu_factor", lambda m, x: m.linalg.lu_factor(x), None, SQ),
    C(
        "linalg_lu_factor_ex",
        lambda m, x: m.linalg.lu_factor_ex(x)[:2],
        None,
        [(3, 3), (3, 4), (4, 2), (2, 2, 3)],
    ),
    # P has no gradient (gradgradcheck wants every float output differentiable): L, U rows
    C(
        "linalg_lu",
        lambda m, x: m.linalg.lu(x),
        None,
        [(3, 3), (2, 3, 3), (3, 4), (4, 2)],
        gradgrad=False,
    ),
    C("linalg_lu_LU", lambda m, x: m.linalg.lu(x)[1:], None, [(3, 3), (2, 2, 2), (2, 3), (3, 2)]),
    C(
        "lu_unpack",
        lambda m, x: m.lu_unpack(*m.linalg.lu_factor(x)),
        None,
        [(3, 3), (2, 3, 3)],
        gradgrad=False,
    ),
    C(
        "lu_unpack_LU",
        lambda m, x: m.lu_unpack(*m.linalg.lu_factor_ex(x)[:2])[1:],
        None,
        [(3, 3), (2, 4), (4, 2)],
    ),
    C(
        "linalg_lu_solve",
        lambda m, a, b: m.linalg.lu_solve(*m.linalg.lu_factor(a), b),
        lambda a, b: np.linalg.solve(a, b),
        [((3, 3), (3, 2)), ((2, 3, 3), (2, 3, 1))],
        ("real", "real"),
    ),
    C(
        "linalg_lu_solve_adjoint_right",
        lambda m, a, b: m.linalg.lu_solve(*m.linalg.lu_factor(a), b, left=False, adjoint=True),
        lambda a, b: b @ np.linalg.inv(_t(a)),
        [((3, 3), (2, 3)), ((2, 2, 2), (2, 1, 2))],
        ("real", "real"),
    ),
    C(
        "lu_solve",
        lambda m, b, a: m.lu_solve(b, *m.linalg.lu_factor(a)),
        lambda b, a: np.linalg.solve(a, b),
        [((3, 2), (3, 3))],
        ("real", "real"),
    ),
    C("linalg_matrix_exp", lambda m, x: m.linalg.matrix_exp(x), None, SQ + [(0, 0)]),
    C("matrix_exp_large", lambda m, x: (3 * x).matrix_exp(), None, [(3, 3), (2, 4, 4)]),
    C(
        "linalg_householder_product",
        lambda m, a, t: m.linalg.householder_product(a, t),
        None,
        [((4, 3), (3,)), ((3, 3), (2,)), ((2, 3, 2), (2, 2))],
        ("real", "real"),
    ),
    C(
        "linalg_vander",
        lambda m, x: m.linalg.vander(x),
        lambda x: x[..., None] ** np.arange(x.shape[-1]),
        [(3,), (4,), (2, 3)],
        grad_shapes=[(3,), (2, 3)],
    ),
    C(
        "linalg_vander_n",
        lambda m, x: m.linalg.vander(x, N=2),
        lambda x: np.vander(x, 2, increasing=True),
        [(3,)],
        ("zeros",),
    ),
    C("vander", lambda m, x: m.vander(x, 4), lambda x: np.vander(x, 4), [(3,), (1,)]),
    C(
        "linalg_tensorinv",
        lambda m, x: m.linalg.tensorinv(_wc(m, x).reshape(2, 2, 4), ind=2),
        lambda x: np.linalg.tensorinv(_wc(np, x).reshape(2, 2, 4), ind=2),
        [(4, 4)],
        SMALL,
    ),
    C(
        "linalg_tensorsolve",
        lambda m, a, b: m.linalg.tensorsolve(_wc(m, a).reshape(2, 2, 4), b),
        lambda a, b: np.linalg.tensorsolve(_wc(np, a).reshape(2, 2, 4), b),
        [((4, 4), (2, 2))],
        SMALL2,
    ),
    C(
        "linalg_diagonal",
        lambda m, x: m.linalg.diagonal(x, offset=1),
        lambda x: np.diagonal(x, 1, -2, -1).copy(),
        [(3, 4), (2, 3, 3)],
    ),
]
