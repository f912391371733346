"""Singular value decomposition: ``linalg.svd``, ``linalg.svdvals`` and the legacy ``svd``,
with PyTorch's gradients.

LAPACK (``numpy.linalg.svd``: gesdd, PyTorch's CPU default too) factors the matrices on the
host for every backend. An SVD is an iterative, mostly sequential algorithm that no backend
offers as a primitive, and the matrices models decompose are small, so for a tensor on an
OpenCL device each call downloads A (which waits for the queue) and uploads the factors.
The backward pass is written with Tensor ops and runs on the tensor's own device.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, needs_grad

__all__ = ["svd", "linalg_svd", "linalg_svdvals", "LinAlgError"]

# PyTorch's result types (torch.return_types.linalg_svd / torch.return_types.svd)
LinalgSvdResult = namedtuple("linalg_svd", ["U", "S", "Vh"])
SvdResult = namedtuple("svd", ["U", "S", "V"])


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed (``torch.linalg.LinAlgError``)."""


def _check(A, what_dims: str) -> None:
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_svd(): argument 'A' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(what_dims.format(ndim=A.ndim))
    if not A._dtype.is_floating_point:
        from .reduction import _pretty

        raise RuntimeError(
            "linalg.svd: Expected a floating point or complex tensor as input. Got "
            f"{_pretty(A._dtype)}"
        )
    if A._dtype is dt.float16:
        raise NotImplementedError("\"linalg_svd_cpu\" not implemented for 'Half'")


_LINALG_DIMS = "linalg.svd: The input tensor A must have at least 2 dimensions."
_LEGACY_DIMS = (
    "linalg.svd: input should have at least 2 dimensions, but has {ndim} dimensions instead"
)


def _host_svd(A: Tensor, full_matrices: bool, compute_uv: bool):
    """(U, S, Vh) or (S,) of A's matrices, as tensors on A's device."""
    be = D.backend_of(A)
    a = be.to_numpy(A._data)
    *batch, m, n = a.shape
    k = min(m, n)
    if a.size == 0:  # LAPACK rejects empty matrices; PyTorch returns identities for U and Vh
        s = np.zeros((*batch, k), a.dtype)
        cu = m if full_matrices else k  # columns of U
        rv = n if full_matrices else k  # rows of Vh
        u = np.broadcast_to(np.eye(m, cu, dtype=a.dtype), (*batch, m, cu)).copy()
        vh = np.broadcast_to(np.eye(rv, n, dtype=a.dtype), (*batch, rv, n)).copy()
        factors = (u, s, vh) if compute_uv else (s,)
    else:
        if not np.isfinite(a).all():
            raise LinAlgError(
                "linalg.svd: The algorithm failed to converge because the input matrix "
                "contained non-finite values."
            )
        if compute_uv:
            factors = np.linalg.svd(a, full_matrices=full_matrices)
        else:
            factors = (np.linalg.svd(a, compute_uv=False),)
    return tuple(
        make_tensor(be.from_numpy(np.ascontiguousarray(f, dtype=a.dtype)), A._dtype, A._device)
        for f in factors
    )


class LinalgSvd(Function):
    """A = U diag(S) Vh; gradients of unused outputs arrive as None (PyTorch's formulas
    skip their terms)."""

    @staticmethod
    def forward(ctx, A, full_matrices):
        ctx.set_materialize_grads(False)
        U, S, Vh = _host_svd(A, full_matrices, True)
        ctx.full_matrices = full_matrices
        ctx.save_for_backward(U, S, Vh)
        return U, S, Vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        if gU is None and gS is None and gVh is None:
            return None, None
        if ctx.full_matrices:
            # as PyTorch: the columns of U (rows of Vh) beyond min(m, n) are not determined
            # by A, so their gradients are dropped
            k = S.shape[-1]
            U, Vh = U[..., :k], Vh[..., :k, :]
            gU = gU[..., :k] if gU is not None else None
            gVh = gVh[..., :k, :] if gVh is not None else None
        return svd_backward(gU, gS, gVh, U, S, Vh), None


def _skew(X: Tensor) -> Tensor:
    return X - X.mT


def svd_backward(gU, gS, gVh, U: Tensor, S: Tensor, Vh: Tensor) -> Tensor:
    """PyTorch's SVD gradient for real A = U diag(S) Vh (reduced factors), assuming distinct
    singular values; any of gU, gS, gVh may be None."""
    from .creation import eye
    from .linalg import diag_embed, matmul

    m, n = U.shape[-2], Vh.shape[-1]
    if gU is None and gVh is None:  # only S used: gA = U diag(gS) Vh
        if m >= n:
            return matmul(U, gS.unsqueeze(-1) * Vh)
        return matmul(U * gS.unsqueeze(-2), Vh)
    S_row, S_col = S.unsqueeze(-2), S.unsqueeze(-1)
    S2 = S * S
    # E[i, j] = S_j^2 - S_i^2 off the diagonal; any nonzero on it (its numerators are 0 there)
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + eye(S.shape[-1], dtype=S.dtype, device=S.device)
    UhgU = _skew(matmul(U.mT, gU)) if gU is not None else None
    VhgV = _skew(matmul(Vh, gVh.mT)) if gVh is not None else None
    if UhgU is not None and VhgV is not None:
        inner = (UhgU * S_row + S_col * VhgV) / E
    elif UhgU is None:
        inner = S_col * VhgV / E
    else:
        inner = UhgU * S_row / E
    if gS is not None:
        inner = inner + diag_embed(gS)
    if m > n and gU is not None:
        # gA = [U inner + (I_m - U U^T) gU S^-1] Vh
        gUSinv = gU / S_row
        gA = matmul(U, inner) + gUSinv - matmul(U, matmul(U.mT, gUSinv))
        return matmul(gA, Vh)
    if m < n and gVh is not None:
        # gA = U [inner Vh + S^-1 gVh (I_n - V Vh)]
        SinvgVh = gVh / S_col
        gA = matmul(inner, Vh) + SinvgVh - matmul(matmul(SinvgVh, Vh.mT), Vh)
        return matmul(U, gA)
    return matmul(U, matmul(inner, Vh)) if m >= n else matmul(matmul(U, inner), Vh)


def linalg_svd(A: Tensor, full_matrices: bool = True, *, driver=None) -> LinalgSvdResult:
    """``torch.linalg.svd``: U, S, Vh with A = U diag(S) Vh, batched over leading dims."""
    _check(A, _LINALG_DIMS)
    return LinalgSvdResult(*call(LinalgSvd, A, bool(full_matrices)))


def linalg_svdvals(A: Tensor, *, driver=None) -> Tensor:
    """``torch.linalg.svdvals``: the singular values, in descending order."""
    _check(A, _LINALG_DIMS)
    if needs_grad(A):  # the gradient needs U and Vh
        return call(LinalgSvd, A, False)[1]
    return _host_svd(A, False, False)[0]


def svd(input: Tensor, some: bool = True, compute_uv: bool = True) -> SvdResult:
    """``torch.svd`` (legacy): U, S, V with A = U diag(S) V^T (V, not Vh)."""
    _check(input, _LEGACY_DIMS)
    if compute_uv:
        U, S, Vh = linalg_svd(input, full_matrices=not some)
        return SvdResult(U, S, Vh.mT)
    from .creation import zeros

    # PyTorch: without compute_uv, U and V are zero matrices of full size whatever ``some``
    *batch, m, n = input.shape
    z = {"dtype": input._dtype, "device": input._device}
    return SvdResult(
        zeros((*batch, m, m), **z), linalg_svdvals(input), zeros((*batch, n, n), **z)
    )
