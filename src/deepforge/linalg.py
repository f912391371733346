"""``deepforge.linalg``: vector and matrix norms, singular value decomposition, cross
products, matmul (``torch.linalg``)."""

from __future__ import annotations

import math

from . import _dtype as dt
from .ops import reduction as _red
from .ops import shape as _shape
from .ops._common import wrap_dim, wrap_dims
from .ops.decomposition import LinAlgError
from .ops.decomposition import linalg_svd as svd
from .ops.decomposition import linalg_svdvals as svdvals
from .ops.linalg import cross as _cross
from .ops.linalg import matmul
from .ops.linalg_compose import linalg_cond as cond
from .ops.linalg_compose import linalg_diagonal as diagonal
from .ops.linalg_compose import linalg_lstsq as lstsq
from .ops.linalg_compose import linalg_matrix_exp as matrix_exp
from .ops.linalg_compose import linalg_matrix_power as matrix_power
from .ops.linalg_compose import linalg_matrix_rank as matrix_rank
from .ops.linalg_compose import linalg_multi_dot as multi_dot
from .ops.linalg_compose import linalg_pinv as pinv
from .ops.linalg_compose import linalg_tensorinv as tensorinv
from .ops.linalg_compose import linalg_tensorsolve as tensorsolve
from .ops.linalg_compose import linalg_vander as vander
from .ops.linalg_eig import linalg_eig as eig
from .ops.linalg_eig import linalg_eigh as eigh
from .ops.linalg_eig import linalg_eigvals as eigvals
from .ops.linalg_eig import linalg_eigvalsh as eigvalsh
from .ops.linalg_factor import householder_product
from .ops.linalg_factor import linalg_cholesky as cholesky
from .ops.linalg_factor import linalg_cholesky_ex as cholesky_ex
from .ops.linalg_factor import linalg_lu as lu
from .ops.linalg_factor import linalg_lu_factor as lu_factor
from .ops.linalg_factor import linalg_lu_factor_ex as lu_factor_ex
from .ops.linalg_factor import linalg_lu_solve as lu_solve
from .ops.linalg_factor import linalg_qr as qr
from .ops.linalg_solve import linalg_det as det
from .ops.linalg_solve import linalg_inv as inv
from .ops.linalg_solve import linalg_inv_ex as inv_ex
from .ops.linalg_solve import linalg_slogdet as slogdet
from .ops.linalg_solve import linalg_solve as solve
from .ops.linalg_solve import linalg_solve_ex as solve_ex
from .ops.linalg_solve import linalg_solve_triangular as solve_triangular
from .tensor import Tensor

__all__ = [
    "norm",
    "vector_norm",
    "matrix_norm",
    "svd",
    "svdvals",
    "cross",
    "matmul",
    "vecdot",
    "LinAlgError",
    "cholesky",
    "cholesky_ex",
    "cond",
    "det",
    "diagonal",
    "eig",
    "eigvals",
    "eigh",
    "eigvalsh",
    "householder_product",
    "inv",
    "inv_ex",
    "ldl_factor",
    "ldl_factor_ex",
    "ldl_solve",
    "lstsq",
    "lu",
    "lu_factor",
    "lu_factor_ex",
    "lu_solve",
    "matrix_exp",
    "matrix_power",
    "matrix_rank",
    "multi_dot",
    "pinv",
    "qr",
    "slogdet",
    "solve",
    "solve_ex",
    "solve_triangular",
    "tensorinv",
    "tensorsolve",
    "vander",
]


def _float_input(x: Tensor, op: str, dtype) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg.{op}(): argument 'input' must be Tensor, not {type(x).__name__}")
    if dtype is not None:
        x = x.to(dt.to_dtype(dtype))
    if not x._dtype.is_floating_point:
        raise RuntimeError(
            f"linalg.{op}: Expected a floating point or complex tensor as input. Got "
            f"{_red._pretty(x._dtype)}"
        )
    return x


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``sum(|x|^ord)^(1/ord)`` over ``dim`` (all elements when None); ord may be +-inf or 0."""
    x = _float_input(x, "vector_norm", dtype)
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.vector_norm: ord must be a number, got '{ord}'")
    ord = float(ord)
    if dim is not None and not isinstance(dim, (list, tuple)):
        dim = (dim,)
    if x.numel() == 0 and ord < 0:
        raise RuntimeError(
            f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the "
            "operation does not have an identity"
        )
    if x.ndim == 0:
        dim = None
    elif dim is not None:
        wrap_dims(dim, x.ndim)  # range and duplicate checks
    return _red.norm(x, ord, dim if dim is None else tuple(dim), keepdim)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """Matrix norms over ``dim``: ``'fro'``, ``'nuc'`` (sum of singular values), ``2`` / ``-2``
    (largest / smallest singular value), ``1`` / ``-1`` (max / min column sum of ``|A|``),
    ``inf`` / ``-inf`` (max / min row sum)."""
    A = _float_input(A, "matrix_norm", dtype)
    if A.ndim < 2:
        raise RuntimeError(
            f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions. Got {A.ndim}D"
        )
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {tuple(dim)}")
    d0, d1 = wrap_dim(dim[0], A.ndim), wrap_dim(dim[1], A.ndim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return _red.norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or (not isinstance(ord, str) and ord in (2, -2)):
        return _singular_value_norm(A, ord, d0, d1, keepdim)
    if ord not in (1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    # ord=+-1: max/min column sum (sum over d0, pick over d1); ord=+-inf: rows
    sum_dim, pick_dim = (d0, d1) if abs(ord) == 1 else (d1, d0)
    s = _red.sum(A.abs(), sum_dim, keepdim=True)
    r = _red.amax(s, pick_dim, keepdim=True) if ord > 0 else _red.amin(s, pick_dim, keepdim=True)
    return r if keepdim else _shape.squeeze(r, (d0, d1))


def _singular_value_norm(A: Tensor, ord, d0: int, d1: int, keepdim: bool) -> Tensor:
    """The nuclear / spectral norms: a reduction of the singular values of the (d0, d1)
    matrices, differentiable through ``svdvals``."""
    rest = [d for d in range(A.ndim) if d not in (d0, d1)]
    M = A.permute(*rest, d0, d1)
    sv = svdvals(M)
    if ord == -2 and sv.shape[-1] == 0:  # the smallest of no singular values: PyTorch's error
        raise IndexError("amin(): Expected reduction dim -1 to have non-zero size.")
    if ord == "nuc" or sv.numel() == 0:  # an empty matrix has norm 0
        r = _red.sum(sv, -1)
    else:
        r = _red.amax(sv, -1) if ord == 2 else _red.amin(sv, -1)
    if keepdim:
        lo, hi = sorted((d0, d1))
        r = r.unsqueeze(lo).unsqueeze(hi)
    return r


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``vector_norm`` or ``matrix_norm`` depending on ``ord`` and ``dim``, like
    ``torch.linalg.norm``."""
    if dim is not None and not isinstance(dim, (list, tuple)):
        dim = (dim,)
    if dim is not None:
        if len(dim) == 1:
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
        raise RuntimeError(
            f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dim)}"
        )
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim == 1 and not isinstance(ord, str):
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    if A.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(
        "linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
        f"{A.ndim}D."
    )


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """Cross product of 3-vectors along ``dim`` (inputs broadcast against each other)."""
    shape = _shape.broadcast_shapes(input.shape, other.shape)
    a, b = input.expand(shape), other.expand(shape)
    return _cross(a, b, dim)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    return _red.sum(x * y, dim)


def _no_ldl(name: str):
    def fn(*args, **kwargs):
        raise NotImplementedError(
            f"linalg.{name}: the LDL^T (Bunch-Kaufman) factorization is not implemented in "
            "deepforge; linalg.cholesky, linalg.lu_factor or linalg.solve cover most uses"
        )

    fn.__name__ = name
    return fn


ldl_factor = _no_ldl("ldl_factor")
ldl_factor_ex = _no_ldl("ldl_factor_ex")
ldl_solve = _no_ldl("ldl_solve")


def _give_out_arguments() -> None:
    """PyTorch's ``out=`` on the linalg functions that have it."""
    from .ops._common import with_out

    names = (
        "cholesky cholesky_ex cond det eig eigvals eigh eigvalsh householder_product inv inv_ex "
        "lstsq lu lu_factor lu_factor_ex lu_solve matrix_exp matrix_power matrix_rank "
        "multi_dot pinv qr slogdet solve solve_ex solve_triangular tensorinv tensorsolve"
    ).split()
    for name in names:
        globals()[name] = with_out(globals()[name])


_give_out_arguments()
