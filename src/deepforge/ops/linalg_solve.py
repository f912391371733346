"""Inverse, determinants and linear solves: ``linalg.inv``, ``det``, ``slogdet``, ``solve``,
``solve_triangular`` and their ``_ex`` variants, with PyTorch's gradients.

As for the SVD (decomposition.py), LAPACK (through numpy) factors the matrices on the host for
every backend: these are sequential pivoting algorithms that no backend offers as a
primitive. The backward passes are written with Tensor ops, so they run on the tensor's own
device and are differentiable again.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call
from .decomposition import LinAlgError

__all__ = [
    "linalg_inv",
    "linalg_inv_ex",
    "linalg_det",
    "linalg_slogdet",
    "logdet",
    "linalg_solve",
    "linalg_solve_ex",
    "linalg_solve_triangular",
    "lu_host",
]

SlogdetResult = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
InvExResult = namedtuple("linalg_inv_ex", ["inverse", "info"])
SolveExResult = namedtuple("linalg_solve_ex", ["result", "info"])


# -- host helpers shared by the linear-algebra op modules --------------------------------------


def host(A: Tensor):
    """(backend, ndarray) of A's values (waits for A's device)."""
    be = D.backend_of(A)
    return be, be.to_numpy(A._data)


def to_device(be, arr, dtype, device) -> Tensor:
    """A host result as a tensor on ``device`` (0-d results stay 0-d)."""
    arr = np.array(arr, dtype=dtype.np, order="C", copy=True)
    return make_tensor(be.from_numpy(arr), dtype, device)


# what PyTorch's CPU kernels say about float16 input: the LAPACK routine behind each op, or
# a RuntimeError of its own
_HALF_KERNELS = {
    "linalg.det": "lu_cpu",
    "linalg.solve": "lu_cpu",
    "linalg.solve_ex": "lu_cpu",
    "linalg.lu_factor": "lu_cpu",
    "linalg.lu_factor_ex": "lu_cpu",
    "linalg.lu": "lu_cpu",
    "linalg.lu_solve": "lu_cpu",
    "linalg.cholesky": "cholesky_cpu",
    "linalg.cholesky_ex": "cholesky_cpu",
    "linalg.qr": "geqrf_cpu",
    "linalg.eigh": "linalg_eigh_cpu",
    "linalg.eigvalsh": "linalg_eigh_cpu",
    "linalg.solve_triangular": "triangular_solve_cpu",
    "linalg.eig": "linalg_eig_out_cpu",
    "linalg.eigvals": "linalg_eig_out_cpu",
}


def _reject_half(op: str) -> None:
    kernel = _HALF_KERNELS.get(op)
    if kernel is not None:
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Half'")
    name = "linalg.inv" if op == "linalg.inv_ex" else op
    raise RuntimeError(f"{name}: Low precision dtypes not supported. Got Half")


# integer input reaches these LAPACK kernels in PyTorch (the others check the dtype first)
_INT_KERNELS = ("linalg.lu_factor", "linalg.lu_factor_ex", "linalg.lu", "linalg.eigh",
                "linalg.eigvalsh", "linalg.solve_triangular")  # fmt: skip


def _reject_integer(A: Tensor, op: str) -> None:
    name = dt.scalar_type_name(A._dtype)
    if op in _INT_KERNELS:
        raise NotImplementedError(f"\"{_HALF_KERNELS[op]}\" not implemented for '{name}'")
    if op in ("linalg.eig", "linalg.eigvals"):
        raise RuntimeError(f"Unknown Complex ScalarType for {name}")
    raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {name}")


def check_matrix(A, op: str, square: bool | str = True, arg: str = "A", half: bool = False) -> None:
    """PyTorch's input checks of the linalg functions: a floating tensor of (square)
    matrices (float16 only where ``half``)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}(): argument '{arg}' must be Tensor, not {type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor {arg} must have at least 2 dimensions.")
    if not A._dtype.is_floating_point:
        _reject_integer(A, op)
    if A._dtype is dt.float16 and not half:
        _reject_half(op)
    if A._dtype.is_complex:
        raise NotImplementedError(f"{op}: complex inputs are not supported by deepforge")
    if square and A.shape[-1] != A.shape[-2]:
        name = square if isinstance(square, str) else op  # a str: the name errors use
        raise RuntimeError(
            f"{name}: {arg} must be batches of square matrices, but they are "
            f"{A.shape[-2]} by {A.shape[-1]} matrices"
        )


def batch_prefix(flat_index: int, batch_shape) -> str:
    """PyTorch's ``(Batch element i): `` prefix of errors on batched input."""
    return f"(Batch element {flat_index}): " if len(batch_shape) else ""


def lu_host(a: np.ndarray):
    """LU with partial pivoting of a stack of matrices (LAPACK getrf's algorithm: the first
    entry of largest magnitude pivots). Returns the packed LU, the 1-based int32 pivots and
    the int32 info (1-based index of the first zero pivot, 0 when none)."""
    *batch, m, n = a.shape
    k = min(m, n)
    count = int(np.prod(batch, dtype=np.int64))
    lu = np.array(a, dtype=a.dtype, copy=True).reshape(count, m, n)
    piv = np.empty((count, k), np.int32)
    info = np.zeros(count, np.int32)
    rows = np.arange(count)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(lu[:, j:, j]), axis=1) if count else np.zeros(0, int)
            piv[:, j] = p + 1
            swap = p != j
            if swap.any():
                r, pr = rows[swap], p[swap]
                top = lu[r, j, :].copy()
                lu[r, j, :] = lu[r, pr, :]
                lu[r, pr, :] = top
            d = lu[:, j, j]
            zero = d == 0
            info[(info == 0) & zero] = j + 1
            below = lu[:, j + 1 :, j]
            below[...] = np.where(zero[:, None], below, below / np.where(zero, 1, d)[:, None])
            lu[:, j + 1 :, j + 1 :] -= below[:, :, None] * lu[:, j, None, j + 1 :]
    return lu.reshape(a.shape), piv.reshape(*batch, k), info.reshape(batch)


def _first_singular(a: np.ndarray):
    """(flat batch index, 1-based zero pivot) of the first singular matrix of a stack."""
    _, _, info = lu_host(a)
    flat = info.reshape(-1)
    bad = np.flatnonzero(flat)
    return (int(bad[0]), int(flat[bad[0]])) if bad.size else (None, 0)


def _singular_info(a: np.ndarray) -> np.ndarray:
    """getrf's info per matrix; LAPACK's own solve tells first whether any is singular, so
    the (slower) host LU runs only then."""
    if a.size == 0:
        return np.zeros(a.shape[:-2], np.int32)
    try:
        np.linalg.solve(a, np.zeros((*a.shape[:-1], 1), a.dtype))
        return np.zeros(a.shape[:-2], np.int32)
    except np.linalg.LinAlgError:
        return lu_host(a)[2]


def _host_inv(A: Tensor, check: bool):
    be, a = host(A)
    try:
        return be, np.linalg.inv(a) if a.size else np.array(a, copy=True), None
    except np.linalg.LinAlgError:
        pass
    idx, diag = _first_singular(a)
    if check:
        raise LinAlgError(
            f"linalg.inv: {batch_prefix(idx, a.shape[:-2])}The diagonal element {diag} is zero, "
            "the inversion could not be completed because the input matrix is singular."
        )
    _, _, info = lu_host(a)
    with np.errstate(all="ignore"):
        inv = np.linalg.pinv(a)
    inv[info != 0] = np.nan  # no inverse; PyTorch leaves LAPACK's partial result there
    return be, inv, info


class Inv(Function):
    """X = A^-1; gA = -X^T gX X^T."""

    @staticmethod
    def forward(ctx, A):
        be, x, _ = _host_inv(A, True)
        X = to_device(be, x, A._dtype, A._device)
        ctx.save_for_backward(X)
        return X

    @staticmethod
    def backward(ctx, g):
        (X,) = ctx.saved_tensors
        from .linalg import matmul

        return -matmul(X.mT, matmul(g, X.mT))


def linalg_inv(A: Tensor) -> Tensor:
    """``torch.linalg.inv``: the inverse of each square matrix of A."""
    check_matrix(A, "linalg.inv")
    return call(Inv, A)


def linalg_inv_ex(A: Tensor, *, check_errors: bool = False) -> InvExResult:
    """``torch.linalg.inv_ex``: the inverse and LAPACK's info (0 where A is invertible)."""
    check_matrix(A, "linalg.inv_ex")
    be, a = host(A)
    info = _singular_info(a)
    if check_errors or not info.any():
        inverse = linalg_inv(A)
    else:
        _, x, _ = _host_inv(A, False)
        inverse = to_device(be, x, A._dtype, A._device)
    return InvExResult(inverse, to_device(be, info, dt.int32, A._device))


# -- determinants --------------------------------------------------------------------------------


def _det_backward(g: Tensor, A: Tensor, det: Tensor) -> Tensor:
    """gA = g det A^-T; where some A is (nearly) singular, through the SVD as PyTorch does:
    det = det(U) det(Vh) prod(S), so gA = U diag(g det(U) det(Vh) prod_{j!=i} S_j) Vh."""
    be, a = host(A.detach())
    # the inverse is accurate only away from singularity: (nearly) singular stacks go through
    # the SVD, whose formula has no inverse in it
    sv = np.linalg.svd(a, compute_uv=False) if a.size else None
    if sv is None or np.all(sv[..., -1] > 1e3 * np.finfo(a.dtype).eps * sv[..., 0]):
        return (g * det).unsqueeze(-1).unsqueeze(-1) * linalg_inv(A).mT
    from .decomposition import linalg_svd
    from .linalg import matmul
    from .shape import stack

    U, S, Vh = linalg_svd(A)
    signs = np.linalg.det(host(U.detach())[1]) * np.linalg.det(host(Vh.detach())[1])
    # prod_{j != i} S_j from prefix and suffix products: no division by the zero S_i (and no
    # product's backward through zeros)
    n = S.shape[-1]
    cols = [S[..., j] for j in range(n)]
    prefix, suffix = [cols[0] * 0 + 1], [cols[0] * 0 + 1]
    for j in range(n - 1):
        prefix.append(prefix[-1] * cols[j])
        suffix.append(suffix[-1] * cols[n - 1 - j])
    others = stack([prefix[i] * suffix[n - 1 - i] for i in range(n)], -1)
    scale = (g * to_device(be, signs, A._dtype, A._device)).unsqueeze(-1) * others
    return matmul(U * scale.unsqueeze(-2), Vh)


class Det(Function):
    @staticmethod
    def forward(ctx, A):
        be, a = host(A)
        d = np.linalg.det(a) if a.shape[-1] else np.ones(a.shape[:-2], a.dtype)
        out = to_device(be, d, A._dtype, A._device)
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        A, det = ctx.saved_tensors
        return _det_backward(g, A, det)


def linalg_det(A: Tensor) -> Tensor:
    """``torch.linalg.det``: the determinant of each square matrix of A."""
    check_matrix(A, "linalg.det")
    return call(Det, A)


class Slogdet(Function):
    """(sign, log|det|); only log|det| has a gradient: g A^-T."""

    @staticmethod
    def forward(ctx, A):
        ctx.set_materialize_grads(False)
        be, a = host(A)
        if a.shape[-1]:
            sign, logabs = np.linalg.slogdet(a)
        else:
            sign, logabs = np.ones(a.shape[:-2], a.dtype), np.zeros(a.shape[:-2], a.dtype)
        sign_t = to_device(be, sign, A._dtype, A._device)  # requires grad (zero), as in torch
        ctx.save_for_backward(A)
        return sign_t, to_device(be, logabs, A._dtype, A._device)

    @staticmethod
    def backward(ctx, gsign, glogabs):
        (A,) = ctx.saved_tensors
        if glogabs is None:
            return None
        return glogabs.unsqueeze(-1).unsqueeze(-1) * linalg_inv(A).mT


def linalg_slogdet(A: Tensor) -> SlogdetResult:
    """``torch.linalg.slogdet``: sign and log of the absolute value of the determinant."""
    check_matrix(A, "linalg.slogdet")
    return SlogdetResult(*call(Slogdet, A))


def logdet(input: Tensor) -> Tensor:
    """``torch.logdet``: log(det(A)); nan where det < 0 and -inf where det = 0."""
    check_matrix(input, "logdet")
    from .binary import where

    sign, logabs = linalg_slogdet(input)
    return where(sign < 0, float("nan"), logabs)


# -- linear solves -------------------------------------------------------------------------------


def _solve_shapes(A: Tensor, B: Tensor, op: str, left: bool = True, vectors: bool = True):
    """Broadcast batch shape and whether B is a (batch of) vector(s), as PyTorch decides:
    B is a vector when it is 1-D or has exactly A's batch dims."""
    if not isinstance(B, Tensor):
        raise TypeError(f"{op}(): argument 'B' must be Tensor, not {type(B).__name__}")
    if A._dtype is not B._dtype:
        raise RuntimeError(
            f"{op}: Expected A and B to have the same dtype, but found A of type "
            f"{dt.scalar_type_name(A._dtype)} and B of type {dt.scalar_type_name(B._dtype)} "
            "instead"
        )
    D.check_same_device(op, A, B)
    vector = vectors and (
        B.ndim == 1 or (left and B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    )
    Bm = B.unsqueeze(-1) if vector else B
    n = A.shape[-1]
    rows = Bm.shape[-2] if left else Bm.shape[-1]
    if rows != n:
        eq = "AX = B" if left else "XA = B"
        shape_b = "x".join(str(s) for s in Bm.shape[-2:])
        raise RuntimeError(
            f"{op}: Incompatible shapes of A and B for the equation {eq} ({n}x{n} and {shape_b})"
        )
    from .shape import broadcast_shapes

    batch = tuple(broadcast_shapes(tuple(A.shape[:-2]), tuple(Bm.shape[:-2])))
    return batch, vector, Bm


def _host_solve(a: np.ndarray, b: np.ndarray, op: str) -> np.ndarray:
    if a.size == 0 or b.size == 0:
        return np.zeros(b.shape, a.dtype)
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        idx, _ = _first_singular(a)
        raise LinAlgError(
            f"torch.{op}: {batch_prefix(idx, a.shape[:-2])}The solver failed because the input "
            "matrix is singular."
        ) from None


class Solve(Function):
    """X = A^-1 B for A (..., n, n), B (..., n, k) with the same batch dims;
    gB = A^-T gX, gA = -gB X^T."""

    @staticmethod
    def forward(ctx, A, B):
        be, a = host(A)
        x = _host_solve(a, be.to_numpy(B._data), "linalg.solve")
        X = to_device(be, x, A._dtype, A._device)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        from .linalg import matmul

        gB = call(Solve, A.mT, g)
        gA = -matmul(gB, X.mT) if ctx.needs_input_grad[0] else None
        return gA, gB


def linalg_solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """``torch.linalg.solve``: X with AX = B (``left=False``: XA = B), batched and
    broadcast."""
    check_matrix(A, "linalg.solve")
    batch, vector, Bm = _solve_shapes(A, B, "linalg.solve", left)
    n = A.shape[-1]
    if not left:  # XA = B  <=>  A^T X^T = B^T
        k = Bm.shape[-2]
        Xt = call(Solve, A.expand(*batch, n, n).mT, Bm.expand(*batch, k, n).mT)
        return Xt.mT.squeeze(-1) if vector else Xt.mT
    X = call(Solve, A.expand(*batch, n, n), Bm.expand(*batch, n, Bm.shape[-1]))
    return X.squeeze(-1) if vector else X


def linalg_solve_ex(
    A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False
) -> SolveExResult:
    """``torch.linalg.solve_ex``: the solution and LAPACK's info (0 where A is invertible)."""
    check_matrix(A, "linalg.solve_ex")
    be, a = host(A)
    info = _singular_info(a)
    info_t = to_device(be, info, dt.int32, A._device)
    if info.any() and not check_errors:  # solve the invertible systems, nan for the others
        batch, vector, Bm = _solve_shapes(A, B, "linalg.solve_ex", left)
        n, b = a.shape[-1], be.to_numpy(Bm._data)
        if not left:
            a, b = np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)
        bad = np.broadcast_to(info != 0, batch)
        a = np.where(bad[..., None, None], np.eye(n, dtype=a.dtype), a)
        x = np.linalg.solve(a, np.broadcast_to(b, (*batch, *b.shape[-2:])))
        x[bad] = np.nan
        x = np.swapaxes(x, -1, -2) if not left else x
        result = to_device(be, x, A._dtype, A._device)
        return SolveExResult(result.squeeze(-1) if vector else result, info_t)
    return SolveExResult(linalg_solve(A, B, left=left), info_t)


# -- triangular systems --------------------------------------------------------------------------


def _triangular(a: np.ndarray, upper: bool, unit: bool) -> np.ndarray:
    t = np.triu(a) if upper else np.tril(a)
    if unit:
        n = a.shape[-1]
        t[..., np.arange(n), np.arange(n)] = 1
    return t


def _substitute(t: np.ndarray, b: np.ndarray, upper: bool) -> np.ndarray:
    """Back/forward substitution, used where a zero on the diagonal makes LAPACK's solve
    refuse: the result has inf/nan there, as LAPACK's trtrs gives."""
    n = t.shape[-1]
    x = np.zeros(np.broadcast_shapes(t.shape[:-2], b.shape[:-2]) + b.shape[-2:], t.dtype)
    order = range(n - 1, -1, -1) if upper else range(n)
    with np.errstate(all="ignore"):
        for i in order:
            acc = b[..., i, :] - np.einsum("...j,...jk->...k", t[..., i, :], x)
            x[..., i, :] = acc / t[..., i, i, None]
    return x


class SolveTriangular(Function):
    """X = A^-1 B for triangular A (left side); gB = A^-T gX, gA = tri(-gB X^T)."""

    @staticmethod
    def forward(ctx, A, B, upper, unitriangular):
        be, a = host(A)
        t = _triangular(a, upper, unitriangular)
        b = be.to_numpy(B._data)
        if t.size == 0 or b.size == 0:
            x = np.zeros(b.shape, a.dtype)
        else:
            try:
                x = np.linalg.solve(t, b)
            except np.linalg.LinAlgError:
                x = _substitute(t, b, upper)
        X = to_device(be, x, A._dtype, A._device)
        ctx.flags = (upper, unitriangular)
        ctx.save_for_backward(A, X)
        return X

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        upper, unit = ctx.flags
        from .linalg import matmul, tril, triu

        gB = call(SolveTriangular, A.mT, g, not upper, unit)
        gA = None
        if ctx.needs_input_grad[0]:
            gA = -matmul(gB, X.mT)
            offset = 1 if unit else 0  # a unit diagonal is not read from A
            gA = triu(gA, offset) if upper else tril(gA, -offset)
        return gA, gB, None, None


def linalg_solve_triangular(
    A: Tensor, B: Tensor, *, upper: bool, left: bool = True, unitriangular: bool = False
) -> Tensor:
    """``torch.linalg.solve_triangular``: X with AX = B (``left=False``: XA = B) for triangular
    A; only the triangle named by ``upper`` is read."""
    op = "linalg.solve_triangular"
    check_matrix(A, op)
    if not isinstance(B, Tensor) or B.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor B must have at least 2 dimensions.")
    batch, _, Bm = _solve_shapes(A, B, op, left, vectors=False)
    n = A.shape[-1]
    if not left:
        k = Bm.shape[-2]
        At, Bt = A.expand(*batch, n, n).mT, Bm.expand(*batch, k, n).mT
        return call(SolveTriangular, At, Bt, not upper, bool(unitriangular)).mT
    Ae, Be = A.expand(*batch, n, n), Bm.expand(*batch, n, Bm.shape[-1])
    return call(SolveTriangular, Ae, Be, bool(upper), bool(unitriangular))
