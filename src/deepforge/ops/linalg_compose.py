"""Linear-algebra functions built from the differentiable factorizations and Tensor ops:
``pinv``, ``matrix_power``, ``multi_dot``, ``matrix_rank``, ``cond``, ``lstsq``,
``matrix_exp``, ``tensorinv``, ``tensorsolve``, ``vander``, ``cholesky_solve`` /
``cholesky_inverse`` and PyTorch's legacy spellings (``torch.inverse``, ``torch.qr`` ...).

Being compositions, they run on every backend and their gradients (of any order) come from
the pieces.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor
from ._common import call
from .linalg_eig import linalg_eigh
from .linalg_factor import linalg_cholesky, linalg_lu_factor_ex, linalg_qr
from .linalg_solve import check_matrix, host, linalg_inv, linalg_solve, linalg_solve_triangular

__all__ = [
    "linalg_pinv",
    "linalg_matrix_power",
    "linalg_multi_dot",
    "linalg_matrix_rank",
    "linalg_cond",
    "linalg_lstsq",
    "linalg_matrix_exp",
    "linalg_tensorinv",
    "linalg_tensorsolve",
    "linalg_vander",
    "linalg_diagonal",
    "cholesky_solve",
    "cholesky_inverse",
    "triangular_solve",
    "vander",
    "pinverse",
]

LstsqResult = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
TriangularSolveResult = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])


def _eps(A: Tensor) -> float:
    return float(np.finfo(A._dtype.np).eps)


def _cutoff(S: Tensor, A: Tensor, atol, rtol) -> Tensor:
    """max(atol, rtol * largest singular value) per matrix, PyTorch's tolerance rule: rtol
    defaults to eps * max(m, n), or to 0 when only a positive atol is given."""
    from .binary import maximum

    if rtol is None:
        positive_atol = atol is not None and (not isinstance(atol, (int, float)) or atol > 0)
        rtol = 0.0 if positive_atol else _eps(A) * max(A.shape[-2:])
    smax = S.amax(-1, keepdim=True) if S.numel() else S.sum(-1, keepdim=True)
    cut = smax * (rtol.unsqueeze(-1) if isinstance(rtol, Tensor) else rtol)
    if atol is None:
        return cut
    atol_t = atol.unsqueeze(-1) if isinstance(atol, Tensor) else atol * (0 * cut + 1)
    return maximum(cut, atol_t)


def _pinv_values(A: Tensor, atol, rtol, hermitian: bool) -> Tensor:
    """The pseudo-inverse from the SVD (``eigh`` when ``hermitian``), singular values at or
    below the tolerance dropped."""
    from .binary import where
    from .decomposition import linalg_svd
    from .linalg import matmul

    if hermitian:
        L, V = linalg_eigh(A)
        keep = L.abs() > _cutoff(L.abs(), A, atol, rtol)
        inv = where(keep, 1 / where(keep, L, 1.0), 0.0)
        return matmul(V * inv.unsqueeze(-2), V.mT)
    U, S, Vh = linalg_svd(A, full_matrices=False)
    keep = S > _cutoff(S, A, atol, rtol)
    inv = where(keep, 1 / where(keep, S, 1.0), 0.0)
    return matmul(Vh.mT * inv.unsqueeze(-2), U.mT)


class Pinv(Function):
    """PyTorch's pseudo-inverse gradient, in terms of A and X = pinv(A) only (no division by
    differences of singular values, so repeated ones are fine); exact where A has full
    rank."""

    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian):
        X = _pinv_values(A, atol, rtol, hermitian)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        from .linalg import matmul

        A, X = ctx.saved_tensors
        m, n = A.shape[-2:]
        Xh, gh = X.mT, g.mT
        if m <= n:
            K = matmul(gh, X)
            KXh = matmul(K, Xh)
            gA = (
                -matmul(X, K).mT
                + KXh
                - matmul(matmul(A, X), KXh)
                + matmul(matmul(Xh, X), gh - matmul(K, A))
            )
        else:
            K = matmul(X, gh)
            XhK = matmul(Xh, K)
            gA = (
                -matmul(K, X).mT
                + matmul(matmul(gh - matmul(A, K), X), Xh)
                + XhK
                - matmul(matmul(XhK, X), A)
            )
        return gA, None, None, None


def linalg_pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """``torch.linalg.pinv``: the Moore-Penrose pseudo-inverse, from the SVD (or from ``eigh``
    when ``hermitian``), singular values at or below the tolerance dropped."""
    check_matrix(A, "linalg.pinv", square=hermitian)
    return call(Pinv, A, atol, rtol, bool(hermitian))


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """``torch.pinverse``: ``linalg.pinv`` with a relative tolerance ``rcond``."""
    return linalg_pinv(input, rtol=rcond)


def linalg_matrix_power(A: Tensor, n: int) -> Tensor:
    """``torch.linalg.matrix_power``: A^n by repeated squaring (n < 0: of A's inverse)."""
    check_matrix(A, "linalg.matrix_power") if A._dtype.is_floating_point else _check_square_int(A)
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    from .creation import eye
    from .linalg import matmul

    if n == 0:
        k = A.shape[-1]
        return eye(k, dtype=A._dtype, device=A._device).expand(*A.shape).clone() + 0 * A
    base = linalg_inv(A) if n < 0 else A
    n = abs(n)
    result = None
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def _check_square_int(A: Tensor) -> None:
    if A.ndim < 2:
        raise RuntimeError(
            "linalg.matrix_power: The input tensor A must have at least 2 dimensions."
        )
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(
            "linalg.matrix_power: A must be batches of square matrices, but they are "
            f"{A.shape[-2]} by {A.shape[-1]} matrices"
        )


def linalg_multi_dot(tensors) -> Tensor:
    """``torch.linalg.multi_dot``: the product of a chain of matrices; the first may be a
    row vector and the last a column vector (1-D)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    from .linalg import matmul

    first_vec, last_vec = tensors[0].ndim == 1, tensors[-1].ndim == 1
    mats = list(tensors)
    if first_vec:
        mats[0] = mats[0].unsqueeze(0)
    if last_vec:
        mats[-1] = mats[-1].unsqueeze(-1)
    for i, t in enumerate(mats):
        if t.ndim != 2:
            where = "first" if i == 0 else "last" if i == len(mats) - 1 else None
            what = f"the {where} tensor must be 1D or 2D" if where else f"tensor {i} must be 2D"
            raise RuntimeError(f"multi_dot(): {what} but got {tensors[i].ndim}D")
    for i in range(len(mats) - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(
                f"multi_dot(): tensors {i} and {i + 1} with shapes {list(mats[i].shape)} and "
                f"{list(mats[i + 1].shape)} cannot be multiplied"
            )
    out = mats[0]
    for t in mats[1:]:
        out = matmul(out, t)
    if first_vec:
        out = out.squeeze(0)
    if last_vec:
        out = out.squeeze(-1)
    return out


def linalg_matrix_rank(
    A: Tensor, tol=None, hermitian: bool = False, *, atol=None, rtol=None
) -> Tensor:
    """``torch.linalg.matrix_rank``: the number of singular values (eigenvalue magnitudes when
    ``hermitian``) above max(atol, rtol * largest); ``tol`` is the legacy absolute
    tolerance."""
    check_matrix(A, "linalg.matrix_rank", square=hermitian)
    if tol is not None:
        atol, rtol = tol, 0.0
    from .decomposition import linalg_svdvals
    from .linalg_eig import linalg_eigvalsh

    A = A.detach()
    S = linalg_eigvalsh(A).abs() if hermitian else linalg_svdvals(A)
    return (S > _cutoff(S, A, atol, rtol)).sum(-1)


def linalg_cond(A: Tensor, p=None) -> Tensor:
    """``torch.linalg.cond``: the condition number ||A|| ||A^-1|| in norm ``p`` (2 / -2: the
    ratio of the extreme singular values, for any shape)."""
    from ..linalg import matrix_norm
    from .decomposition import linalg_svdvals

    check_matrix(A, "linalg.cond", square=p not in (None, 2, -2) and f"linalg.cond(ord={p})")
    if p is None or p in (2, -2):
        S = linalg_svdvals(A)
        if S.shape[-1] == 0:  # empty matrices: condition number 0, as in PyTorch
            return S.sum(-1)
        big, small = S[..., 0], S[..., -1]
        return big / small if p != -2 else small / big
    return matrix_norm(A, p) * matrix_norm(linalg_inv(A), p)


def linalg_lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None) -> LstsqResult:
    """``torch.linalg.lstsq``: the least-squares (minimum-norm) solution of AX = B through the
    pseudo-inverse; residuals, rank and singular values filled in as PyTorch's ``driver``
    does (default 'gelsy': rank only)."""
    op = "torch.linalg.lstsq"
    check_matrix(A, op, square=False)
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"{op}: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    driver = driver or "gelsy"
    vector = B.ndim == 1
    Bm = B.unsqueeze(-1) if vector else B
    if A._dtype is not B._dtype:
        raise RuntimeError(
            f"{op}: Expected input and other to have the same dtype, but got input's dtype "
            f"{dt.scalar_type_name(A._dtype)} and other's dtype {dt.scalar_type_name(B._dtype)}"
        )
    if Bm.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"{op}: input.size(-2) should match other.size(-2)")
    from .creation import empty, zeros
    from .decomposition import linalg_svdvals
    from .linalg import matmul

    m, n = A.shape[-2:]
    rtol = _eps(A) * max(m, n) if rcond is None or rcond < 0 else rcond
    X = matmul(linalg_pinv(A, rtol=rtol), Bm)
    batch = tuple(X.shape[:-2])
    like = {"dtype": A._dtype, "device": A._device}
    S = linalg_svdvals(A.detach())
    full_rank = True
    if driver == "gels":
        rank = empty(0, dtype=dt.int64, device=A._device)
    else:
        rank = (
            (S > S.amax(-1, keepdim=True) * rtol).sum(-1)
            if S.numel()
            else zeros(A.shape[:-2], dtype=dt.int64, device=A._device)
        )
        full_rank = bool(np.all(host(rank)[1] == min(m, n)))
    residuals = empty(0, **like)
    if m > n and driver != "gelsy" and full_rank:
        residuals = ((matmul(A, X) - Bm) ** 2).sum(-2)
        if vector:
            residuals = residuals.squeeze(-1)
    sv = S if driver in ("gelsd", "gelss") else empty(0, **like)
    del batch
    return LstsqResult(X.squeeze(-1) if vector else X, residuals, rank, sv)


def linalg_matrix_exp(A: Tensor) -> Tensor:
    """``torch.linalg.matrix_exp``: scaling and squaring with a degree-18 Taylor polynomial
    (A scaled to 1-norm <= 1/2, truncation error below float64's rounding), all in Tensor
    ops, so the gradient is the exact derivative of the computed value."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.matrix_exp(): argument 'A' must be Tensor, not {type(A).__name__}")
    check_matrix(A, "linalg.matrix_exp", half=True)
    from .creation import eye
    from .linalg import matmul

    n = A.shape[-1]
    if A.numel() == 0:
        return A.clone()
    be, a = host(A.detach())
    norm1 = float(np.abs(a).sum(-2).max()) if a.size else 0.0
    squarings = max(0, math.ceil(math.log2(norm1)) + 1) if math.isfinite(norm1) and norm1 else 0
    X = A / float(2**squarings)
    identity = eye(n, dtype=A._dtype, device=A._device)
    E = identity + X / 18.0
    for k in range(17, 0, -1):
        E = identity + matmul(X, E) / float(k)
    for _ in range(squarings):
        E = matmul(E, E)
    return E


def linalg_tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """``torch.linalg.tensorinv``: the inverse of A seen as a matrix from its first ``ind``
    dims to the rest."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = math.prod(A.shape[:ind]), math.prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(self.shape[ind:]) == "
            f"prod(self.shape[:ind]), but got {cols} != {rows}"
        )
    inv = linalg_inv(A.reshape(rows, cols))
    return inv.reshape(*A.shape[ind:], *A.shape[:ind])


def linalg_tensorsolve(A: Tensor, B: Tensor, dims=None) -> Tensor:
    """``torch.linalg.tensorsolve``: X with tensordot(A, X, X.ndim) = B."""
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        rest = [d for d in range(A.ndim) if d not in dims]
        A = A.permute(*rest, *dims)
    out_shape = A.shape[B.ndim :]
    rows, cols = B.numel(), math.prod(out_shape)
    if rows != cols:
        raise RuntimeError(
            "Expected self to satisfy the requirement prod(result_shape) == prod(other.shape), "
            f"but got {cols} != {rows}"
        )
    return linalg_solve(A.reshape(rows, cols), B.reshape(rows)).reshape(*out_shape)


def _powers(x: Tensor, N: int) -> list:
    """[x^0, x^1, ..., x^(N-1)] by repeated products (no 0 * inf at x = 0 in the gradient)."""
    cols = [x * 0 + 1] if N else []
    for _ in range(1, N):
        cols.append(cols[-1] * x)
    return cols


def linalg_vander(x: Tensor, *, N: int | None = None) -> Tensor:
    """``torch.linalg.vander``: columns x^0, x^1, ..., x^(N-1) (increasing powers)."""
    N = (x.shape[-1] if x.ndim else 0) if N is None else N
    if N <= 1 or x.ndim < 1:
        raise RuntimeError("N must be greater than 1.")
    from .shape import stack

    return stack(_powers(x, N), -1)


def vander(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """``torch.vander``: columns x^(N-1), ..., x^0 (``increasing``: reversed), x 1-D."""
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    N = x.shape[0] if N is None else N
    if N < 0:
        raise RuntimeError("N must be non-negative.")
    from .creation import empty
    from .shape import stack

    if N == 0:
        return empty(x.shape[0], 0, dtype=x._dtype, device=x._device)
    cols = _powers(x, N)
    return stack(cols if increasing else cols[::-1], -1)


def linalg_diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """``torch.linalg.diagonal``: ``torch.diagonal`` with the last two dims as default."""
    from .linalg import diagonal

    return diagonal(A, offset, dim1, dim2)


def cholesky_solve(input: Tensor, input2: Tensor, upper: bool = False) -> Tensor:
    """``torch.cholesky_solve``: X with A X = B from A's Cholesky factor ``input2``."""
    B, L = input, input2
    check_matrix(L, "cholesky_solve", arg="input2")
    if upper:
        Y = linalg_solve_triangular(L.mT, B, upper=False)
        return linalg_solve_triangular(L, Y, upper=True)
    Y = linalg_solve_triangular(L, B, upper=False)
    return linalg_solve_triangular(L.mT, Y, upper=True)


def cholesky_inverse(input: Tensor, upper: bool = False) -> Tensor:
    """``torch.cholesky_inverse``: A^-1 from A's Cholesky factor."""
    from .creation import eye

    check_matrix(input, "cholesky_inverse")
    n = input.shape[-1]
    return cholesky_solve(eye(n, dtype=input._dtype, device=input._device), input, upper)


def triangular_solve(
    input: Tensor,
    A: Tensor,
    upper: bool = True,
    transpose: bool = False,
    unitriangular: bool = False,
) -> TriangularSolveResult:
    """``torch.triangular_solve`` (legacy): X with op(A) X = b, and a copy of A."""
    M = A.mT if transpose else A
    X = linalg_solve_triangular(M, input, upper=upper != transpose, unitriangular=unitriangular)
    return TriangularSolveResult(X, A.expand(*X.shape[:-2], *A.shape[-2:]).clone())


# -- legacy top-level spellings -------------------------------------------------------------------

LEGACY_SLOGDET = namedtuple("slogdet", ["sign", "logabsdet"])


def legacy_qr(input: Tensor, some: bool = True):
    """``torch.qr``: ``linalg.qr`` in mode 'reduced' (``some``) or 'complete'."""
    return namedtuple("qr", ["Q", "R"])(*linalg_qr(input, "reduced" if some else "complete"))


def legacy_cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """``torch.cholesky`` (deprecated in PyTorch): ``linalg.cholesky``."""
    return linalg_cholesky(input, upper=upper)


def legacy_lu(A: Tensor, pivot: bool = True, get_infos: bool = False):
    """``torch.lu``: packed LU and pivots (and infos)."""
    LU, piv, info = linalg_lu_factor_ex(A, pivot=pivot)
    return (LU, piv, info) if get_infos else (LU, piv)


def legacy_lu_solve(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """``torch.lu_solve``: ``linalg.lu_solve(LU_data, LU_pivots, b)``."""
    from .linalg_factor import linalg_lu_solve

    return linalg_lu_solve(LU_data, LU_pivots, b)


def attach_tensor_methods() -> None:
    """The Tensor methods PyTorch has for these functions (``x.inverse()``, ``x.det()``...)."""
    from .linalg_solve import linalg_det, linalg_slogdet, logdet

    def slogdet(self):
        return LEGACY_SLOGDET(*linalg_slogdet(self))

    methods = {
        "inverse": linalg_inv,
        "det": linalg_det,
        "logdet": logdet,
        "slogdet": slogdet,
        "cholesky": legacy_cholesky,
        "cholesky_solve": cholesky_solve,
        "cholesky_inverse": cholesky_inverse,
        "qr": legacy_qr,
        "pinverse": pinverse,
        "matrix_power": linalg_matrix_power,
        "matrix_exp": linalg_matrix_exp,
        "lu": legacy_lu,
        "lu_solve": legacy_lu_solve,
        "triangular_solve": triangular_solve,
    }
    for name, fn in methods.items():
        if not hasattr(Tensor, name):
            setattr(Tensor, name, fn)
