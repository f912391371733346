"""Eigendecompositions: ``linalg.eigh`` / ``eigvalsh`` (symmetric, with PyTorch's gradient)
and ``linalg.eig`` / ``eigvals`` (general, complex results, forward only).

LAPACK (numpy's syevd / geev) runs on the host as for the other factorizations
(decomposition.py); the backward pass is Tensor ops on the input's device.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor
from ._common import call, needs_grad
from .decomposition import LinAlgError
from .linalg_solve import check_matrix, host, to_device

__all__ = ["linalg_eigh", "linalg_eigvalsh", "linalg_eig", "linalg_eigvals"]

EighResult = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
EigResult = namedtuple("linalg_eig", ["eigenvalues", "eigenvectors"])


# -- symmetric eigendecomposition ---------------------------------------------------------------


def _check_uplo(UPLO: str) -> None:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def _host_eigh(A: Tensor, UPLO: str, op: str, vectors: bool):
    be, a = host(A)
    if not np.isfinite(a).all():
        raise LinAlgError(
            f"{op}: The algorithm failed to converge because the input matrix is "
            "ill-conditioned or has too many repeated eigenvalues."
        )
    n = a.shape[-1]
    if a.size == 0:
        w = np.zeros(a.shape[:-1], a.dtype)
        v = np.broadcast_to(np.eye(n, dtype=a.dtype), a.shape)
        return be, (w, v) if vectors else (w,)
    if vectors:
        return be, tuple(np.linalg.eigh(a, UPLO=UPLO))
    return be, (np.linalg.eigvalsh(a, UPLO=UPLO),)


class Eigh(Function):
    """A = V diag(L) V^T; gA = V (diag(gL) + skew(V^T gV) / E) V^T, E_ij = L_j - L_i."""

    @staticmethod
    def forward(ctx, A, UPLO):
        ctx.set_materialize_grads(False)
        be, (w, v) = _host_eigh(A, UPLO, "linalg.eigh", True)
        L, V = to_device(be, w, A._dtype, A._device), to_device(be, v, A._dtype, A._device)
        ctx.save_for_backward(L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        L, V = ctx.saved_tensors
        if gL is None and gV is None:
            return None, None
        from .creation import eye
        from .linalg import diag_embed, matmul

        if gV is not None:
            VhgV = matmul(V.mT, gV)
            E = (
                L.unsqueeze(-2)
                - L.unsqueeze(-1)
                + eye(L.shape[-1], dtype=L._dtype, device=L._device)
            )
            inner = 0.5 * (VhgV - VhgV.mT) / E
            if gL is not None:
                inner = inner + diag_embed(gL)
        else:
            inner = diag_embed(gL)
        return matmul(V, matmul(inner, V.mT)), None


def linalg_eigh(A: Tensor, UPLO: str = "L") -> EighResult:
    """``torch.linalg.eigh``: eigenvalues (ascending) and orthonormal eigenvectors of symmetric
    matrices; only the triangle named by ``UPLO`` is read."""
    check_matrix(A, "linalg.eigh")
    _check_uplo(UPLO)
    return EighResult(*call(Eigh, A, UPLO))


def linalg_eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """``torch.linalg.eigvalsh``: the eigenvalues of symmetric matrices, ascending."""
    check_matrix(A, "linalg.eigvalsh")
    _check_uplo(UPLO)
    if needs_grad(A):  # the gradient needs the eigenvectors
        return call(Eigh, A, UPLO)[0]
    be, (w,) = _host_eigh(A, UPLO, "linalg.eigvalsh", False)
    return to_device(be, w, A._dtype, A._device)


# -- general eigendecomposition (complex results) -----------------------------------------------


def _complex_result(A: Tensor, op: str, vectors: bool):
    check_matrix(A, op)
    if needs_grad(A):
        raise NotImplementedError(
            f"{op}: gradients are not supported by deepforge (its complex tensors have no "
            "autograd support); call it on a detached tensor"
        )
    be, a = host(A)
    cdtype = dt.complex128 if A._dtype is dt.float64 else dt.complex64
    if not np.isfinite(a).all():
        raise LinAlgError(
            f"{op}: The algorithm failed to converge because the input matrix "
            "contained non-finite values."
        )
    if a.size == 0:
        w = np.zeros(a.shape[:-1], cdtype.np)
        v = np.zeros(a.shape, cdtype.np)
    else:
        w, v = np.linalg.eig(a)
    try:
        w_t = to_device(be, w, cdtype, A._device)
        v_t = to_device(be, v, cdtype, A._device) if vectors else None
    except Exception as e:  # a backend without complex storage
        raise NotImplementedError(
            f"{op}: complex results are not supported on device {A._device}"
        ) from e
    return w_t, v_t


def linalg_eig(A: Tensor) -> EigResult:
    """``torch.linalg.eig``: complex eigenvalues and eigenvectors (forward only)."""
    w, v = _complex_result(A, "linalg.eig", True)
    return EigResult(w, v)


def linalg_eigvals(A: Tensor) -> Tensor:
    """``torch.linalg.eigvals``: complex eigenvalues (forward only)."""
    return _complex_result(A, "linalg.eigvals", False)[0]
