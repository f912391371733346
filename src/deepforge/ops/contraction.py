"""Tensor contraction: ``einsum`` by permuting, broadcasting and one batched matmul per pair
of operands."""

from __future__ import annotations

from ..tensor import Tensor

__all__ = ["einsum"]


def einsum(equation: str, *operands) -> Tensor:
    """``einsum`` by permuting, broadcasting and one batched matmul per operand pair."""
    from .linalg import diagonal
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs = eq
        letters = [c for c in lhs.replace(",", "").replace(".", "")]
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
        if "..." in lhs:
            rhs = "..." + rhs
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise RuntimeError(
            "einsum(): more operands were provided than specified in the equation"
            if len(operands) > len(terms)
            else "einsum(): fewer operands were provided than specified in the equation"
        )
    # expand ellipses into unused capital letters
    spare = iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    ell = None
    new_terms = []
    for t, op in zip(terms, operands):
        if "..." in t:
            n_ell = op.ndim - (len(t) - 3)
            if ell is None:
                ell = "".join(next(spare) for _ in range(max(n_ell, 0)))
            cur = ell[len(ell) - n_ell :] if n_ell else ""
            t = t.replace("...", cur)
        if len(t) != op.ndim:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({len(t)}) does not match the "
                f"number of dimensions ({op.ndim}) for operand "
                f"{terms.index(t) if t in terms else 0}"
            )
        new_terms.append(t)
    if "..." in rhs:
        rhs = rhs.replace("...", ell or "")
    sizes = {}
    for t, op in zip(new_terms, operands):
        for c, s in zip(t, op._data.shape):
            if c in sizes and sizes[c] != s and s != 1 and sizes[c] != 1:
                raise RuntimeError(
                    f"einsum(): subscript {c} has size {s} for operand {new_terms.index(t)} which "
                    f"does not broadcast with previously seen size {sizes[c]}"
                )
            sizes[c] = s if c not in sizes or sizes[c] == 1 else sizes[c]
    # reduce repeated letters within one operand (diagonals)
    ops = []
    for t, op in zip(new_terms, operands):
        while len(set(t)) != len(t):
            for c in t:
                if t.count(c) > 1:
                    i = t.index(c)
                    j = t.index(c, i + 1)
                    op = diagonal(op, 0, i, j)
                    t = t[:i] + t[i + 1 : j] + t[j + 1 :] + c
                    break
        ops.append((t, op))
    # contract pairwise left to right
    t0, acc = ops[0]
    for k in range(1, len(ops)):
        t1, op = ops[k]
        later = set(rhs) | {c for tt, _ in ops[k + 1 :] for c in tt}
        t0, acc = _contract(t0, acc, t1, op, later, sizes)
    # sum letters not in output, then order
    drop = [i for i, c in enumerate(t0) if c not in rhs]
    if drop:
        acc = acc.sum(tuple(drop))
        t0 = "".join(c for c in t0 if c in rhs)
    perm = [t0.index(c) for c in rhs]
    return acc.permute(*perm) if perm != list(range(len(perm))) else acc


def _contract(ta, a, tb, b, keep, sizes):
    from .linalg import matmul

    batch = [c for c in ta if c in tb and c in keep]
    contract = [c for c in ta if c in tb and c not in keep]
    fa = [c for c in ta if c not in tb]
    fb = [c for c in tb if c not in ta]
    # sum away letters of one operand appearing nowhere else
    sa = [c for c in fa if c not in keep]
    if sa:
        a = a.sum(tuple(ta.index(c) for c in sa))
        ta = "".join(c for c in ta if c not in sa)
        fa = [c for c in fa if c not in sa]
    sb = [c for c in fb if c not in keep]
    if sb:
        b = b.sum(tuple(tb.index(c) for c in sb))
        tb = "".join(c for c in tb if c not in sb)
        fb = [c for c in fb if c not in sb]
    A = a.permute(*[ta.index(c) for c in batch + fa + contract])
    B = b.permute(*[tb.index(c) for c in batch + contract + fb])
    bs = [builtins_max(A._data.shape[i], B._data.shape[i]) for i in range(len(batch))]
    m = 1
    for c in fa:
        m *= A._data.shape[len(batch) + fa.index(c)]
    n = 1
    for c in fb:
        n *= B._data.shape[len(batch) + len(contract) + fb.index(c)]
    k = 1
    for c in contract:
        k *= sizes[c]
    A = A.expand(*bs, *A._data.shape[len(batch) :]) if batch else A
    B = B.expand(*bs, *B._data.shape[len(batch) :]) if batch else B
    A3 = A.reshape(*bs, m, k)
    B3 = B.reshape(*bs, k, n)
    out = matmul(A3, B3)
    shape = (
        tuple(bs)
        + tuple(A._data.shape[len(batch) + i] for i in range(len(fa)))
        + tuple(B._data.shape[len(batch) + len(contract) + i] for i in range(len(fb)))
    )
    return "".join(batch + fa + fb), out.reshape(shape)


def builtins_max(a, b):
    return a if a >= b else b
