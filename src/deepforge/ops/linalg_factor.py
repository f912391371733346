"""Matrix factorizations: ``linalg.cholesky``, ``qr``, the LU family
(``lu_factor``, ``lu``, ``lu_unpack``, ``lu_solve``), ``householder_product`` and ``geqrf``, with
PyTorch's gradients (the eigendecompositions are in linalg_eig.py).

The factorizations run on the host (numpy's LAPACK, and a batched partial-pivoting LU in
linalg_solve.py since numpy has no getrf), as decomposition.py explains for the SVD; the
backward passes are Tensor ops on the input's device, differentiable again.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor
from ._common import call, needs_grad, with_out
from .decomposition import LinAlgError
from .linalg_solve import (
    batch_prefix,
    check_matrix,
    host,
    linalg_solve_triangular,
    lu_host,
    to_device,
)

__all__ = [
    "linalg_cholesky",
    "linalg_cholesky_ex",
    "linalg_qr",
    "linalg_lu_factor",
    "linalg_lu_factor_ex",
    "linalg_lu",
    "lu_unpack",
    "linalg_lu_solve",
    "householder_product",
    "geqrf",
]

CholeskyExResult = namedtuple("linalg_cholesky_ex", ["L", "info"])
QRResult = namedtuple("linalg_qr", ["Q", "R"])
LUFactorResult = namedtuple("linalg_lu_factor", ["LU", "pivots"])
LUFactorExResult = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
LUResult = namedtuple("linalg_lu", ["P", "L", "U"])
LUUnpackResult = namedtuple("lu_unpack", ["P", "L", "U"])
GeqrfResult = namedtuple("geqrf", ["a", "tau"])


def _eye_like(A: Tensor, n: int, m: int | None = None) -> Tensor:
    from .creation import eye

    return eye(n, m, dtype=A._dtype, device=A._device)


# -- Cholesky ------------------------------------------------------------------------------------


def _cholesky_info(a: np.ndarray) -> np.ndarray:
    """LAPACK potrf's info per matrix: the order of the first leading minor that is not
    positive-definite (0 when the matrix is)."""
    flat = a.reshape(-1, *a.shape[-2:])
    info = np.zeros(flat.shape[0], np.int32)
    for b, m in enumerate(flat):
        try:
            np.linalg.cholesky(m)
            continue
        except np.linalg.LinAlgError:
            pass
        for k in range(1, m.shape[-1] + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                info[b] = k
                break
    return info.reshape(a.shape[:-2])


def _host_cholesky(a: np.ndarray, op: str, check: bool):
    try:
        return np.linalg.cholesky(a) if a.size else np.array(a, copy=True), None
    except np.linalg.LinAlgError:
        pass
    info = _cholesky_info(a)
    if check:
        idx = int(np.flatnonzero(info.reshape(-1))[0])
        raise LinAlgError(
            f"{op}: {batch_prefix(idx, a.shape[:-2])}The factorization could not be completed "
            "because the input is not positive-definite (the leading minor of order "
            f"{int(info.reshape(-1)[idx])} is not positive-definite)."
        )
    L = np.zeros_like(a)
    ok = info == 0
    if ok.any():
        L[ok] = np.linalg.cholesky(a[ok])
    L[~ok] = np.nan  # no factor; PyTorch leaves LAPACK's partial result there
    return L, info


class Cholesky(Function):
    """A = L L^T (lower triangle of A read). PyTorch's gradient:
    gA = L^-T Phi(L^T gL) L^-1 symmetrized, Phi = lower triangle with half the diagonal."""

    @staticmethod
    def forward(ctx, A, op):
        be, a = host(A)
        L, _ = _host_cholesky(a, op, True)
        out = to_device(be, L, A._dtype, A._device)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, gL):
        (L,) = ctx.saved_tensors
        return cholesky_backward(gL, L), None


def cholesky_backward(gL: Tensor, L: Tensor) -> Tensor:
    from .linalg import matmul, tril

    gA = tril(matmul(L.mT, gL))
    gA = 0.5 * (gA + tril(gA, -1).mT)
    gA = linalg_solve_triangular(L.mT, gA, upper=True, left=True)
    return linalg_solve_triangular(L, gA, upper=False, left=False)


def linalg_cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """``torch.linalg.cholesky``: L with A = L L^T (``upper=True``: U = L^T)."""
    check_matrix(A, "linalg.cholesky")
    L = call(Cholesky, A, "linalg.cholesky")
    return L.mT if upper else L


def linalg_cholesky_ex(
    A: Tensor, *, upper: bool = False, check_errors: bool = False
) -> CholeskyExResult:
    """``torch.linalg.cholesky_ex``: the factor and LAPACK's info (0 where A is
    positive-definite)."""
    check_matrix(A, "linalg.cholesky_ex")
    be, a = host(A)
    info = _cholesky_info(a) if a.size else np.zeros(a.shape[:-2], np.int32)
    info_t = to_device(be, info, dt.int32, A._device)
    if check_errors or not info.any():
        return CholeskyExResult(linalg_cholesky(A, upper=upper), info_t)
    L, _ = _host_cholesky(a, "linalg.cholesky_ex", False)
    Lt = to_device(be, L, A._dtype, A._device)
    return CholeskyExResult(Lt.mT if upper else Lt, info_t)


# -- QR ------------------------------------------------------------------------------------------


class QR(Function):
    @staticmethod
    def forward(ctx, A, mode):
        ctx.set_materialize_grads(False)
        be, a = host(A)
        m, n = a.shape[-2:]
        if a.size == 0:
            cols = m if mode == "complete" else min(m, n)
            q = np.broadcast_to(np.eye(m, cols, dtype=a.dtype), (*a.shape[:-2], m, cols))
            r = np.zeros((*a.shape[:-2], cols, n), a.dtype)
        else:
            q, r = np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
        Q, R = to_device(be, q, A._dtype, A._device), to_device(be, r, A._dtype, A._device)
        ctx.mode = mode
        ctx.save_for_backward(Q, R)
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = ctx.saved_tensors
        if gQ is None and gR is None:
            return None, None
        m, n = Q.shape[-2], R.shape[-1]
        if ctx.mode == "complete" and m > n:
            raise NotImplementedError(
                "The QR decomposition is not differentiable when mode='complete' and nrows > ncols."
            )
        return qr_backward(gQ, gR, Q, R), None


def qr_backward(gQ, gR, Q: Tensor, R: Tensor) -> Tensor:
    """The QR gradient for m >= n (Walter and Lehmann; PyTorch's); a wide A = [X | Y] is
    reduced to the square case: X = Q U, Y = Q V, so gY = Q gV and Q also collects Y gV^T."""
    from .linalg import matmul
    from .shape import cat

    m, n = Q.shape[-2], R.shape[-1]
    if m < n:
        U, V = R[..., :m], R[..., m:]
        gU = gR[..., :m] if gR is not None else None
        gV = gR[..., m:] if gR is not None else None
        if gV is None:
            return cat([qr_backward(gQ, gU, Q, U), matmul(Q, 0 * V)], -1)
        Y = matmul(Q, V)
        gQ2 = matmul(Y, gV.mT) if gQ is None else gQ + matmul(Y, gV.mT)
        return cat([qr_backward(gQ2, gU, Q, U), matmul(Q, gV)], -1)
    from .linalg import tril

    # gA = (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q, copyltu(M) the symmetric matrix
    # with M's lower triangle
    if gQ is None:
        M = matmul(R, gR.mT)
    elif gR is None:
        M = -matmul(gQ.mT, Q)
    else:
        M = matmul(R, gR.mT) - matmul(gQ.mT, Q)
    inner = matmul(Q, tril(M) + tril(M, -1).mT)
    if gQ is not None:
        inner = inner + gQ
    return linalg_solve_triangular(R.mT, inner, upper=False, left=False)


def linalg_qr(A: Tensor, mode: str = "reduced") -> QRResult:
    """``torch.linalg.qr``: Q with orthonormal columns and upper-triangular R, A = QR;
    ``mode='r'`` returns an empty Q."""
    check_matrix(A, "linalg.qr", square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
            "'r', or 'complete'"
        )
    if mode == "r":
        from .creation import empty

        R = call(QR, A, "reduced")[1]
        if needs_grad(A):  # PyTorch: no derivative without Q
            R = R.detach()
        return QRResult(empty(0, dtype=A._dtype, device=A._device), R)
    return QRResult(*call(QR, A, mode))


# -- LU ------------------------------------------------------------------------------------------


def _permutation(piv: np.ndarray, m: int) -> np.ndarray:
    """Row permutations perm (A[perm] = L U) of 1-based LAPACK pivots, batched."""
    perm = np.broadcast_to(np.arange(m), (*piv.shape[:-1], m)).copy()
    count = int(np.prod(piv.shape[:-1], dtype=np.int64))
    flat_perm = perm.reshape(count, m)
    flat_piv = piv.reshape(count, piv.shape[-1]).astype(np.int64) - 1
    rows = np.arange(flat_perm.shape[0])
    for j in range(flat_piv.shape[1]):
        p = flat_piv[:, j]
        top = flat_perm[rows, j].copy()
        flat_perm[rows, j] = flat_perm[rows, p]
        flat_perm[rows, p] = top
    return perm


def _perm_matrix(piv: np.ndarray, m: int, dtype) -> np.ndarray:
    """P with A = P L U: P[perm[i], i] = 1."""
    perm = _permutation(piv, m)
    P = np.zeros((*perm.shape, m), dtype)
    np.put_along_axis(P, perm[..., None], 1, axis=-1)  # P^T[i, perm[i]] = 1
    return np.swapaxes(P, -1, -2)


class LUFactor(Function):
    """Packed LU with partial pivoting; the gradient reduces a wide or tall A to the square
    case (the extra block of U, resp. L, is a triangular solve with the square factors)."""

    @staticmethod
    def forward(ctx, A):
        be, a = host(A)
        lu, piv, info = lu_host(a)
        LU = to_device(be, lu, A._dtype, A._device)
        pivots = to_device(be, piv, dt.int32, A._device)
        info_t = to_device(be, info, dt.int32, A._device)
        ctx.mark_non_differentiable(pivots, info_t)
        ctx.save_for_backward(LU)
        ctx.P = _perm_matrix(piv, a.shape[-2], a.dtype)
        ctx.be = be
        return LU, pivots, info_t

    @staticmethod
    def backward(ctx, gLU, gpiv, ginfo):
        (LU,) = ctx.saved_tensors
        from .linalg import matmul, tril, triu
        from .shape import cat

        m, n = LU.shape[-2:]
        k = min(m, n)
        L = tril(LU[..., :, :k], -1) + _eye_like(LU, m, k)
        U = triu(LU[..., :k, :])
        gL, gU = tril(gLU[..., :, :k], -1), triu(gLU[..., :k, :])
        if m < n:  # A = P L [U1 | U2]: U2 = L^-1 P^T A2 feeds L too
            U1, U2, gU2 = U[..., :k], U[..., k:], gU[..., k:]
            gA2 = linalg_solve_triangular(L.mT, gU2, upper=True, unitriangular=True)
            gL = gL - tril(matmul(gA2, U2.mT), -1)
            gA = cat([_lu_square_backward(gL, gU[..., :k], L, U1), gA2], -1)
        elif m > n:  # P^T A = [L1; L2] U: L2 = A2 U^-1 feeds U too
            L1, L2, gL2 = L[..., :k, :], L[..., k:, :], gL[..., k:, :]
            gA2 = linalg_solve_triangular(U.mT, gL2, upper=False, left=False)  # gL2 U^-T
            gU = gU - triu(matmul(L2.mT, gA2))
            gA = cat([_lu_square_backward(gL[..., :k, :], gU, L1, U), gA2], -2)
        else:
            gA = _lu_square_backward(gL, gU, L, U)
        return matmul(to_device(ctx.be, ctx.P, LU._dtype, LU._device), gA)


def _lu_square_backward(gL: Tensor, gU: Tensor, L: Tensor, U: Tensor) -> Tensor:
    """PyTorch's LU gradient for square A = L U (pivots applied by the caller):
    gA = L^-T [tril(L^T gL, -1) + triu(gU U^T)] U^-T."""
    from .linalg import matmul, tril, triu

    phi = tril(matmul(L.mT, gL), -1) + triu(matmul(gU, U.mT))
    gA = linalg_solve_triangular(L.mT, phi, upper=True, unitriangular=True)
    return linalg_solve_triangular(U.mT, gA, upper=False, left=False)


def _check_pivot(pivot: bool, op: str) -> None:
    if not pivot:
        raise RuntimeError(f"{op}: LU without pivoting is not implemented on the CPU")


def linalg_lu_factor_ex(
    A: Tensor, *, pivot: bool = True, check_errors: bool = False
) -> LUFactorExResult:
    """``torch.linalg.lu_factor_ex``: packed LU, 1-based int32 pivots and LAPACK's info."""
    check_matrix(A, "linalg.lu_factor_ex", square=False)
    _check_pivot(pivot, "linalg.lu_factor_ex")
    LU, piv, info = call(LUFactor, A)
    if check_errors:
        _raise_singular(info, "torch.linalg.lu_factor_ex")
    return LUFactorExResult(LU, piv, info)


def _raise_singular(info: Tensor, op: str) -> None:
    flat = host(info)[1].reshape(-1)
    bad = np.flatnonzero(flat)
    if bad.size:
        k = int(flat[bad[0]])
        raise RuntimeError(
            f"{op}: {batch_prefix(int(bad[0]), info.shape)}U[{k},{k}] is zero and using it on "
            "lu_solve would result in a division by zero. If you still want to perform the "
            "factorization, consider calling linalg.lu(A, pivot) or "
            "linalg.lu_factor_ex(A, pivot)"
        )


def linalg_lu_factor(A: Tensor, *, pivot: bool = True) -> LUFactorResult:
    """``torch.linalg.lu_factor``: packed LU and pivots; raises where A is singular."""
    check_matrix(A, "linalg.lu_factor", square=False)
    _check_pivot(pivot, "linalg.lu_factor")
    LU, piv, info = call(LUFactor, A)
    _raise_singular(info, "torch.linalg.lu_factor")
    return LUFactorResult(LU, piv)


def lu_unpack(
    LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True, unpack_pivots: bool = True
) -> LUUnpackResult:
    """``torch.lu_unpack``: P, L, U from a packed LU and its pivots (A = P L U)."""
    from .creation import empty
    from .linalg import tril, triu

    m, n = LU_data.shape[-2:]
    k = min(m, n)
    L = U = P = empty(0, dtype=LU_data._dtype, device=LU_data._device)
    if unpack_data:
        L = tril(LU_data[..., :, :k], -1) + _eye_like(LU_data, m, k)
        U = triu(LU_data[..., :k, :])
    if unpack_pivots:
        be, piv = host(LU_pivots)
        P = to_device(be, _perm_matrix(piv, m, LU_data._dtype.np), LU_data._dtype, LU_data._device)
    return LUUnpackResult(P, L, U)


def linalg_lu(A: Tensor, *, pivot: bool = True) -> LUResult:
    """``torch.linalg.lu``: P, L, U with A = P L U."""
    check_matrix(A, "linalg.lu", square=False)
    _check_pivot(pivot, "linalg.lu")
    LU, piv, _ = call(LUFactor, A)
    return LUResult(*lu_unpack(LU, piv))


def linalg_lu_solve(
    LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False
) -> Tensor:
    """``torch.linalg.lu_solve``: X with AX = B (or A^T X = B, XA = B, X A^T = B) from A's
    packed LU; differentiable in LU and B through the triangular solves."""
    check_matrix(LU, "linalg.lu_solve", arg="LU")
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return linalg_lu_solve(LU, pivots, B.mT, left=True, adjoint=not adjoint).mT
    from .linalg import matmul

    P = lu_unpack(LU, pivots, unpack_data=False).P
    if not adjoint:  # X = U^-1 L^-1 P^T B
        Y = linalg_solve_triangular(LU, matmul(P.mT, B), upper=False, unitriangular=True)
        return linalg_solve_triangular(LU, Y, upper=True)
    Y = linalg_solve_triangular(LU.mT, B, upper=False)  # X = P L^-T U^-T B
    return matmul(P, linalg_solve_triangular(LU.mT, Y, upper=True, unitriangular=True))


# -- Householder products -------------------------------------------------------------------------


def householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """``torch.linalg.householder_product``: the first n columns of H_1 ... H_k,
    H_i = I - tau_i v_i v_i^T with v_i the i-th column of A below the diagonal and a unit
    on it (LAPACK's orgqr); a composition of Tensor ops, so differentiable."""
    op = "torch.linalg.householder_product"
    check_matrix(A, op, square=False, arg="input")
    m, n = A.shape[-2:]
    k = tau.shape[-1]
    if m < n:
        raise RuntimeError(
            f"{op}: input.shape[-2] must be greater than or equal to input.shape[-1]"
        )
    if k > n:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if A.shape[:-2] != tau.shape[:-1]:
        raise RuntimeError(
            f"{op}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
            f"{list(tau.shape[:-1])}"
        )
    from .linalg import matmul, tril

    Vs = tril(A, -1) + _eye_like(A, m, n)
    Q = _eye_like(A, m).expand(*A.shape[:-2], m, m)
    for i in range(k):
        v = Vs[..., :, i : i + 1]
        Q = Q - matmul(matmul(Q, v) * tau[..., i, None, None], v.mT)
    return Q[..., :, :n]


# -- compact QR (LAPACK geqrf) ---------------------------------------------------------------------


class Geqrf(Function):
    """Householder QR in LAPACK's compact form; like PyTorch, it records a graph node whose
    backward refuses, so asking for a gradient through it fails loudly instead of silently."""

    @staticmethod
    def forward(ctx, A):
        be, a = host(A)
        m, n = a.shape[-2:]
        if a.size == 0:
            h, tau = a, np.zeros((*a.shape[:-2], min(m, n)), a.dtype)
        else:
            h, tau = np.linalg.qr(a, mode="raw")
            h = np.swapaxes(h, -1, -2)  # numpy hands back LAPACK's column-major array
        return to_device(be, h, A._dtype, A._device), to_device(be, tau, A._dtype, A._device)

    @staticmethod
    def backward(ctx, ga, gtau):
        raise NotImplementedError("the derivative for 'geqrf' is not implemented.")


@with_out
def geqrf(input: Tensor) -> GeqrfResult:
    """``torch.geqrf``: QR by Householder reflections in LAPACK's compact form: R on and above
    the diagonal of ``a``, the reflectors' vectors below it (their unit leading entries
    implicit) and their scales in ``tau``; ``linalg.householder_product(a, tau)`` rebuilds Q.
    Not differentiable."""
    if not isinstance(input, Tensor):
        raise TypeError(
            f"geqrf(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )
    if input.ndim < 2:
        raise RuntimeError("torch.geqrf: input must have at least 2 dimensions.")
    if input._dtype.is_complex:
        raise NotImplementedError("geqrf: complex inputs are not supported by deepforge")
    if input._dtype not in (dt.float32, dt.float64):  # no LAPACK kernel for the others
        name = dt.scalar_type_name(input._dtype)
        raise NotImplementedError(f"\"geqrf_cpu\" not implemented for '{name}'")
    return GeqrfResult(*call(Geqrf, input))


def _attach() -> None:
    if not hasattr(Tensor, "geqrf"):
        Tensor.geqrf = geqrf


_attach()
