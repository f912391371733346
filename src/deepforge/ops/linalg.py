"""Matrix products and friends: matmul (1-D, 2-D, batched with broadcasting), einsum,
tril/triu, diag."""

from __future__ import annotations

import numpy as np

from .. import _dtype as dt
from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D
from ._common import call, with_out, wrap_dim

__all__ = [
    "matmul",
    "mm",
    "bmm",
    "addmm",
    "addmv",
    "baddbmm",
    "addbmm",
    "dot",
    "vdot",
    "inner",
    "outer",
    "ger",
    "mv",
    "cross",
    "tril",
    "triu",
    "diag",
    "diagonal",
    "diag_embed",
    "diagflat",
    "trace",
    "kron",
    "tensordot",
    "cdist",
    "chain_matmul",
    "block_diag",
    "svd",
]


def _fmt(shape):
    return "x".join(str(s) for s in shape)


class MatMul(Function):
    """a @ b for a (..., n, k) and b (..., k, m) with broadcast batch dims."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        d = a._dtype if a._dtype is b._dtype else dt.promote_types(a._dtype, b._dtype)
        return make_tensor(D.backend_of(a).matmul(a._data, b._data, d.np), d, a._device)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = matmul(g, b.mT) if na else None
        gb = matmul(a.mT, g) if nb else None
        return ga, gb


def _cname(d) -> str:
    from .indexing import _np_name

    return _np_name(d)


def _check_mm(op, a, b):
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):
        raise TypeError(
            f"{op}(): argument must be Tensor, got "
            f"{type(a if not isinstance(a, Tensor) else b).__name__}"
        )
    D.check_same_device(op, a, b)
    if a._dtype is not b._dtype:
        raise RuntimeError(
            f"expected m1 and m2 to have the same dtype, but got: {_cname(a._dtype)} != "
            f"{_cname(b._dtype)}"
            if op in ("mm", "matmul", "addmm")
            else f"{op}: expected both arguments to have the same dtype, but got {a._dtype.name} "
            f"and {b._dtype.name}"
        )
    if a._dtype is dt.bool_:
        raise NotImplementedError(f"\"{op}\" not implemented for 'Bool'")


def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    _check_mm("matmul", input, other)
    a, b = input, other
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D"
        )
    sa, sb = a._data.shape, b._data.shape
    if a.ndim == 1 and b.ndim == 1:
        if sa[0] != sb[0]:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to have "
                "the "
                "same number of elements, but got "
                f"{sa[0]} and {sb[0]} elements respectively"
            )
        r = call(MatMul, a.reshape(1, -1), b.reshape(-1, 1)).reshape(())
    else:
        k_a = sa[-1]
        k_b = sb[0] if b.ndim == 1 else sb[-2]
        if k_a != k_b:
            if a.ndim <= 2 and b.ndim <= 2:
                raise RuntimeError(
                    "mat1 and mat2 shapes cannot be multiplied "
                    f"({_fmt(sa if a.ndim == 2 else (1,) + sa)} "
                    f"and {_fmt(sb if b.ndim == 2 else sb + (1,))})"
                )
            batch = 1
            for n in D.broadcast_shapes(sa[:-2], sb[:-2] if b.ndim > 1 else ()):
                batch *= n
            raise RuntimeError(
                f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, "
                f"{k_a}] but "
                f"got: [{batch}, {k_b}]."
            )
        if b.ndim == 1:
            r = call(MatMul, a, b.reshape(-1, 1)).squeeze(-1)
        elif a.ndim == 1:
            r = call(MatMul, a.reshape(1, -1), b).squeeze(-2)
        else:
            if a.ndim > 2 and b.ndim > 2:
                D.broadcast_shapes(sa[:-2], sb[:-2])
            r = call(MatMul, a, b)
    if out is not None:
        from .shape import resize_out

        return resize_out(out, r)
    return r


def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    _check_mm("mm", input, mat2)
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    return matmul(input, mat2, out=out)


def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    _check_mm("bmm", input, mat2)
    if input.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if input._data.shape[0] != mat2._data.shape[0] or input._data.shape[2] != mat2._data.shape[1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: "
            f"[{input._data.shape[0]}, {input._data.shape[2]}] but got: "
            f"[{mat2._data.shape[0]}, {mat2._data.shape[1]}]."
        )
    return matmul(input, mat2, out=out)


class AddMMBias(Function):
    """bias + a @ b for 2-D a, b and a bias of b's column count: one backend call
    (``matmul_bias``; the OpenCL GEMM adds the bias in its kernel), a linear layer's forward."""

    @staticmethod
    def forward(ctx, bias, a, b):
        ctx.save_for_backward(a, b)
        be = D.backend_of(a)
        return make_tensor(be.matmul_bias(a._data, b._data, bias._data, a._dtype.np), a._dtype,
                           a._device)  # fmt: skip

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        nbias, na, nb = ctx.needs_input_grad
        return (g.sum(0) if nbias else None, matmul(g, b.mT) if na else None,
                matmul(a.mT, g) if nb else None)


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    if (beta == 1 and alpha == 1 and out is None and isinstance(input, Tensor)
            and isinstance(mat1, Tensor) and isinstance(mat2, Tensor) and input.ndim == 1
            and mat1.ndim == 2 and mat2.ndim == 2 and mat1._dtype.is_floating_point
            and input._dtype is mat1._dtype and input._device is mat1._device
            and input._data.shape[0] == mat2._data.shape[1] and mat1._data.shape[0] > 0):
        _check_mm("addmm", mat1, mat2)
        if mat1._data.shape[1] == mat2._data.shape[0]:
            return call(AddMMBias, input, mat1, mat2)
    p = mm(mat1, mat2)
    if alpha != 1:
        p = p * alpha
    r = p + (input if beta == 1 else input * beta) if beta != 0 else p
    if out is not None:
        from .shape import resize_out

        return resize_out(out, r)
    return r


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    p = mv(mat, vec) * alpha if alpha != 1 else mv(mat, vec)
    return p + input * beta if beta != 0 else p


@with_out
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    p = bmm(batch1, batch2)
    if alpha != 1:
        p = p * alpha
    return p + (input if beta == 1 else input * beta) if beta != 0 else p


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    p = bmm(batch1, batch2).sum(0)
    if alpha != 1:
        p = p * alpha
    return p + (input if beta == 1 else input * beta) if beta != 0 else p


@with_out
def dot(input: Tensor, other: Tensor) -> Tensor:
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return matmul(input, other)


vdot = dot


def inner(input: Tensor, other: Tensor) -> Tensor:
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    return (
        matmul(input, other.mT if other.ndim > 1 else other)
        if other.ndim <= 2
        else tensordot(input, other, dims=([-1], [-1]))
    )


@with_out
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


@with_out
def mv(input: Tensor, vec: Tensor) -> Tensor:
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}, {vec.ndim}")
    if input._data.shape[1] != vec._data.shape[0]:
        raise RuntimeError(
            f"size mismatch, got input ({input._data.shape[0]}), mat ({_fmt(input._data.shape)}), "
            f"vec ({vec._data.shape[0]})"
        )
    return matmul(input, vec)


def chain_matmul(*matrices):
    r = matrices[0]
    for m in matrices[1:]:
        r = mm(r, m)
    return r


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    if isinstance(dims, int):
        da = list(range(a.ndim - dims, a.ndim))
        db = list(range(dims))
    else:
        da, db = (
            [dims[0]] if isinstance(dims[0], int) else list(dims[0]),
            [dims[1]] if isinstance(dims[1], int) else list(dims[1]),
        )
    da = [wrap_dim(d, a.ndim) for d in da]
    db = [wrap_dim(d, b.ndim) for d in db]
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    k = 1
    for d in da:
        k *= a._data.shape[d]
    am = a.permute(*(fa + da)).reshape(-1, k)
    bm = b.permute(*(db + fb)).reshape(k, -1)
    return (am @ bm).reshape(
        tuple(a._data.shape[d] for d in fa) + tuple(b._data.shape[d] for d in fb)
    )


def kron(a: Tensor, b: Tensor) -> Tensor:
    nd = max(a.ndim, b.ndim)
    a = a.reshape((1,) * (nd - a.ndim) + a._data.shape)
    b = b.reshape((1,) * (nd - b.ndim) + b._data.shape)
    ai = []
    bi = []
    for i in range(nd):
        ai += [a._data.shape[i], 1]
        bi += [1, b._data.shape[i]]
    r = a.reshape(tuple(ai)) * b.reshape(tuple(bi))
    return r.reshape(tuple(a._data.shape[i] * b._data.shape[i] for i in range(nd)))


@with_out
def cross(input: Tensor, other: Tensor, dim=None) -> Tensor:
    if dim is None:
        dim = next(
            (
                i
                for i, s in enumerate(D.broadcast_shapes(input._data.shape, other._data.shape))
                if s == 3
            ),
            None,
        )
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    d = wrap_dim(dim, input.ndim)
    if input._data.shape[d] != 3 or other._data.shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got "
            f"{input._data.shape[d]} and {other._data.shape[d]}"
        )
    a0, a1, a2 = input.unbind(d)
    b0, b1, b2 = other.unbind(d)
    from .shape import stack

    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def _tri_mask(x, diagonal, upper):
    n, m = x._data.shape[-2], x._data.shape[-1]
    rows = np.arange(n)[:, None]
    cols = np.arange(m)[None, :]
    mask = (cols - rows >= diagonal) if upper else (cols - rows <= diagonal)
    from .creation import tensor

    return tensor(mask, device=x._device)


def _zero_of(x):
    """A Python zero that keeps ``x``'s dtype through ``where``'s type promotion."""
    return False if x._dtype is dt.bool_ else 0 if x._dtype.category == 1 else 0.0


@with_out
def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    from .binary import where

    return where(_tri_mask(input, diagonal, False), input, _zero_of(input))


@with_out
def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    from .binary import where

    return where(_tri_mask(input, diagonal, True), input, _zero_of(input))


class Diagonal(Function):
    @staticmethod
    def forward(ctx, x, offset, d1, d2):
        from .shape import _view_of

        ctx.args = (offset, d1, d2)
        ctx.in_shape = x._data.shape
        return _view_of(x, D.backend_of(x).diagonal(x._data, offset, d1, d2))

    @staticmethod
    def backward(ctx, g):
        return call(DiagonalBackward, g, ctx.in_shape, *ctx.args), None, None, None


class DiagonalBackward(Function):
    @staticmethod
    def forward(ctx, g, shape, offset, d1, d2):
        ctx.args = (offset, d1, d2)
        be = D.backend_of(g)
        z = be.zeros(shape, g._dtype.np)
        be.copy_(be.diagonal(z, offset, d1, d2), g._data)
        return make_tensor(z, g._dtype, g._device)

    @staticmethod
    def backward(ctx, gg):
        return call(Diagonal, gg, *ctx.args), None, None, None, None


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    d1, d2 = wrap_dim(dim1, input.ndim), wrap_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return call(Diagonal, input, offset, d1, d2)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    n = input._data.shape[-1] + abs(offset)
    from .creation import zeros

    out_shape = input._data.shape[:-1] + (n, n)
    z = zeros(out_shape, dtype=input._dtype, device=input._device)
    return (
        call(DiagonalBackward, input, out_shape, offset, len(out_shape) - 2, len(out_shape) - 1)
        if (dim1, dim2) in ((-2, -1),)
        else _diag_embed_general(z, input, offset, dim1, dim2)
    )


def _diag_embed_general(z, input, offset, dim1, dim2):
    raise NotImplementedError("diag_embed with custom dims is not supported by deepforge yet")


@with_out
def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    if input.ndim == 1:
        n = input._data.shape[0] + abs(diagonal)
        return call(DiagonalBackward, input, (n, n), diagonal, 0, 1)
    if input.ndim == 2:
        return globals()["diagonal"](input, diagonal, 0, 1).clone()
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input.ndim}D")


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    return diag(input.reshape(-1), offset)


def trace(input: Tensor) -> Tensor:
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return diagonal(input).sum()


def block_diag(*tensors) -> Tensor:
    from .creation import zeros

    mats = [
        t.reshape(1, -1) if t.ndim == 1 else t.reshape(1, 1) if t.ndim == 0 else t for t in tensors
    ]
    n = sum(m._data.shape[0] for m in mats)
    m_ = sum(m._data.shape[1] for m in mats)
    d = mats[0]._dtype
    for m in mats[1:]:
        d = dt.promote_types(d, m._dtype)
    from .shape import cat

    rows = []
    c = 0
    for m in mats:
        r, k = m._data.shape
        parts = []
        if c:
            parts.append(zeros(r, c, dtype=d, device=m._device))
        parts.append(m.to(d))
        if m_ - c - k:
            parts.append(zeros(r, m_ - c - k, dtype=d, device=m._device))
        rows.append(cat(parts, 1))
        c += k
    return cat(rows, 0) if n else zeros(0, m_, dtype=d)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0) -> Tensor:
    from .reduction import Root  # a root whose gradient at 0 is 0, like PyTorch's cdist

    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    if p == 2.0:
        return call(Root, (diff * diff).sum(-1), 2)
    if p == 1.0:
        return diff.abs().sum(-1)
    if p == float("inf"):
        return diff.abs().amax(-1)
    return call(Root, (diff.abs() ** p).sum(-1), p)


from .contraction import einsum  # noqa: E402,F401 - contraction.py; importable from here too
from .decomposition import svd  # noqa: E402 - decomposition.py; torch.svd / Tensor.svd
