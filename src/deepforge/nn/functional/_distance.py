"""Norm-based functions: ``normalize``, ``cosine_similarity``, ``pairwise_distance``, ``pdist``."""

from __future__ import annotations

import math

import deepforge
from deepforge import Tensor
from deepforge.autograd import Function

__all__ = ["normalize", "cosine_similarity", "pairwise_distance", "pdist", "vector_norm"]


class _VectorNorm(Function):
    """p-norm over ``dim`` with PyTorch's subgradient (0 where the norm is 0)."""

    @staticmethod
    def forward(ctx, x, p, dim, keepdim):
        if p == 2:
            n = (x * x).sum(dim, keepdim=True).sqrt()
        elif p == math.inf:
            n = x.abs().amax(dim, keepdim=True)
        elif p == 1:
            n = x.abs().sum(dim, keepdim=True)
        else:
            n = (x.abs() ** p).sum(dim, keepdim=True) ** (1.0 / p)
        ctx.save_for_backward(x, n)
        ctx.p, ctx.dim, ctx.keepdim = p, dim, keepdim
        return n if keepdim else n.squeeze(dim)

    @staticmethod
    def backward(ctx, g):
        x, n = ctx.saved_tensors
        p, dim = ctx.p, ctx.dim
        if not ctx.keepdim:
            g = g.unsqueeze(dim)
        zero = n == 0
        safe = deepforge.where(zero, 1.0, n)
        if p == 2:
            return deepforge.where(zero, 0.0, x * (g / safe)), None, None, None
        if p == 1:
            return x.sign() * g, None, None, None
        if p == math.inf:
            hit = (x.abs() == n).to(x.dtype)
            return x.sign() * hit * (g / hit.sum(dim, keepdim=True)), None, None, None
        scale = g / safe ** (p - 1)
        return deepforge.where(zero, 0.0, x * x.abs() ** (p - 2) * scale), None, None, None


def vector_norm(x: Tensor, p: float = 2.0, dim: int = -1, keepdim: bool = False) -> Tensor:
    p = float(p)
    if p == 0:
        return (x != 0).to(x.dtype).sum(dim, keepdim=keepdim)
    return _VectorNorm.apply(x, p, dim % x.ndim if x.ndim else 0, keepdim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``."""
    denom = vector_norm(input, p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    r = input / denom
    if out is not None:
        return out.copy_(r)
    return r


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along ``dim`` (inputs broadcast).

    As in PyTorch, each input is divided by its norm clamped to ``eps``; the clamp does not
    take part in the gradient.
    """
    a, b = deepforge.broadcast_tensors(x1, x2)
    if not a.dtype.is_floating_point:
        a, b = a.float(), b.float()
    n1 = vector_norm(a, 2, dim, keepdim=True)
    n2 = vector_norm(b, 2, dim, keepdim=True)
    n1 = n1 + (n1.detach().clamp_min(eps) - n1.detach())
    n2 = n2 + (n2.detach().clamp_min(eps) - n2.detach())
    return ((a / n1) * (b / n2)).sum(dim)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dimension."""
    ndim = max(x1.ndim, x2.ndim)
    return vector_norm(x1 - x2 + eps, p, ndim - 1 if ndim else 0, keepdim)


def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """Distances between all pairs of rows (upper triangle, row-major), shape N*(N-1)/2."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    n = input.shape[0]
    rows = [i for i in range(n) for _ in range(i + 1, n)]
    cols = [j for i in range(n) for j in range(i + 1, n)]
    if not rows:
        return deepforge.zeros(0, dtype=input.dtype, device=input.device)
    ri = deepforge.tensor(rows, dtype=deepforge.int64, device=input.device)
    ci = deepforge.tensor(cols, dtype=deepforge.int64, device=input.device)
    return vector_norm(input.index_select(0, ri) - input.index_select(0, ci), p, 1)
