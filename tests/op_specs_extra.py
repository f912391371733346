# ruff: noqa: E501 - a declarative table reads best one row per line
"""Rows of the op table (tests/op_specs.py) for indexing, assignment, linear algebra and
the remaining ops; same conventions as there."""

from __future__ import annotations

import math

import numpy as np
import op_refs as R
import op_spec_lib as L

FH, FHI, FI, INT, INTB, NG, NUM, NUMB, S1, S2, S3, SAME, SD, SN, SR, Arg, B, C, F, Spec, U, _set, _shape_of, const, index_for, mask = (
    L.FH, L.FHI, L.FI, L.INT, L.INTB, L.NG, L.NUM, L.NUMB, L.S1, L.S2, L.S3, L.SAME, L.SD, L.SN, L.SR, L.Arg, L.B, L.C, L.F, L.Spec, L.U, L._set, L._shape_of, L.const, L.index_for, L.mask)

_idx0 = Arg(index_for(0, 0))


def _svd_parts(r):
    """u_j v_j^T for each singular triple, and S (independent of the vectors' signs)."""
    U, S, Vh = r
    return U[..., :, :, None] * Vh[..., None, :, :], S


SG = [(5, 4), (3, 2, 4)]
INDEXING = [
    C("getitem_int", lambda m, x: x[1], SAME, [(3, 4), (5,), (2, 3, 4)], dtypes=NUMB),
    C("getitem_neg", lambda m, x: x[-1, -2], SAME, [(3, 4), (2, 3, 4)], dtypes=FI),
    C("getitem_slice", lambda m, x: x[1:3], SAME, [(5, 4), (7,), (0, 3)], dtypes=FI),
    C("getitem_step", lambda m, x: x[::2, 1::3], SAME, [(5, 7), (4, 4, 2)], dtypes=FI),
    C("getitem_neg_slice", lambda m, x: x[-3:, :-1], SAME, [(5, 7), (2, 3)]),
    C("getitem_ellipsis", lambda m, x: x[..., 1], SAME, [(3, 4), (2, 3, 4), (2,)]),
    C("getitem_none", lambda m, x: x[None, :, None], SAME, [(3, 4), (3,)]),
    C("getitem_mixed", lambda m, x: x[1:, None, ..., ::2], SAME, [(3, 4), (3, 2, 5)]),
    C("getitem_0d", lambda m, x: x[None], SAME, [()]),
    C("getitem_0d_ellipsis", lambda m, x: x[...], SAME, [()]),
    C("getitem_tensor", lambda m, x, i: x[i], SAME, [((5, 4), (3,)), ((5,), (2, 3)), ((5, 2), ())],
      ("real", _idx0), FI),
    C("getitem_dup", lambda m, x, i: x[i], SAME, [((3, 2), (6,))], ("real", Arg(const([0, 2, 0, 0, 1, 2])))),
    C("getitem_neg_index", lambda m, x, i: x[i], SAME, [((4, 2), (3,))], ("real", Arg(const([-1, 0, -4])))),
    C("getitem_list", lambda m, x: x[[0, 2, 2]], SAME, [(3, 4), (4,)]),
    C("getitem_list2d", lambda m, x: x[[0, 1], [2, 0]], SAME, [(3, 4), (2, 3, 2)]),
    C("getitem_mask", lambda m, x, k: x[k], SAME, [((3, 4), (3, 4)), ((5,), (5,)), ((2, 3, 4), (2, 3))],
      ("real", Arg(mask)), FI),
    C("getitem_mask_row", lambda m, x, k: x[k, 1:], SAME, [((4, 3), (4,))], ("real", Arg(mask))),
    C("getitem_two_idx", lambda m, x, i, j: x[i, j], SAME, [((5, 4), (3,), (3,)), ((5, 4, 2), (2, 1), (3,))],
      ("real", _idx0, Arg(index_for(0, 1)))),
    C("getitem_slice_idx", lambda m, x, i: x[:, i], SAME, [((3, 4), (5,)), ((2, 4, 3), (2, 2))],
      ("real", Arg(index_for(0, 1)))),
    C("getitem_idx_slice_idx", lambda m, x, i, j: x[i, :, j], SAME, [((4, 3, 5), (2,), (2,))],
      ("real", _idx0, Arg(index_for(0, 2)))),
    C("getitem_ellipsis_idx", lambda m, x, i: x[..., i], SAME, [((2, 3, 4), (2,))], ("real", Arg(index_for(0, 2)))),
    C("getitem_int_idx", lambda m, x, i: x[1, i], SAME, [((3, 4), (3,))], ("real", Arg(index_for(0, 1)))),
    C("getitem_none_idx", lambda m, x, i: x[None, i], SAME, [((5, 2), (3,))], ("real", _idx0)),
    C("index_select", lambda m, x, i: m.index_select(x, 0, i), lambda x, i: x[i], [((5, 4), (7,)),
      ((5,), (0,)), ((3, 2, 2), (2,))], ("real", _idx0), FI),
    C("index_select_dim1", lambda m, x, i: x.index_select(1, i), lambda x, i: x[:, i], [((3, 4), (5,))],
      ("real", Arg(index_for(0, 1)))),
    C("gather", lambda m, x, i: m.gather(x, 1, i), lambda x, i: R.gather(x, i, 1),
      [((3, 4), (3, 5)), ((3, 4), (2, 2)), ((2, 3, 2), (2, 4, 2))], ("real", Arg(index_for(0, 1))), FI),
    C("gather_dim0", lambda m, x, i: x.gather(0, i), lambda x, i: np.take_along_axis(x, i, 0),
      [((3, 4), (5, 4))], ("real", _idx0)),
    C("take_along_dim", lambda m, x, i: m.take_along_dim(x, i, 1), lambda x, i: np.take_along_axis(x, i, 1),
      [((3, 4), (3, 2)), ((3, 4), (1, 2))], ("real", Arg(index_for(0, 1)))),
    C("take", lambda m, x, i: m.take(x, i), lambda x, i: x.reshape(-1)[i], [((3, 4), (5,)), ((7,), (2, 2))],
      ("real", Arg(lambda rng, s, ss: rng.integers(0, math.prod(ss[0]), s)))),
    C("scatter", lambda m, x, i, s: m.scatter(x, 0, i, s), lambda x, i, s: R.scatter(x, 0, i, s),
      [((4, 3), (2, 3), (3, 3)), ((5,), (3,), (4,))], ("real", Arg(index_for(0, 0, True)), "real"), FI),
    C("scatter_value", lambda m, x, i: x.scatter(1, i, 2.5), lambda x, i: R.scatter(x, 1, i, 2.5),
      [((3, 4), (3, 2))], ("real", Arg(index_for(0, 1, True)))),
    C("scatter_add", lambda m, x, i, s: m.scatter_add(x, 1, i, s), lambda x, i, s: R.scatter(x, 1, i, s, "add"),
      [((3, 4), (3, 6), (3, 6)), ((3, 4), (2, 2), (3, 3))], ("real", Arg(index_for(0, 1)), "real"), FI),
    C("scatter_reduce_sum", lambda m, x, i, s: m.scatter_reduce(x, 0, i, s, "sum", include_self=False),
      lambda x, i, s: R.scatter_reduce(x, 0, i, s, "sum", False), [((4, 3), (5, 3), (5, 3))],
      ("real", _idx0, "real")),
] + [
    C(f"scatter_reduce_{r}", lambda m, x, i, s, r=r: m.scatter_reduce(x, 0, i, s, r),
      lambda x, i, s, r=r: R.scatter_reduce(x, 0, i, s, r), [((4, 3), (5, 3), (5, 3))],
      ("real", _idx0, "real"), F) for r in ("prod", "mean", "amax", "amin")
] + [
    C(f"scatter_reduce_{r}_noself", lambda m, x, i, s, r=r: m.scatter_reduce(x, 1, i, s, r, include_self=False),
      lambda x, i, s, r=r: R.scatter_reduce(x, 1, i, s, r, False),
      [((3, 4), (3, 5), (3, 5)), ((2, 4, 2), (2, 3, 2), (2, 3, 2))], ("real", Arg(index_for(0, 1)), "real"))
    for r in ("prod", "mean", "amax", "amin")
] + [
    C("index_add", lambda m, x, i, s: m.index_add(x, 0, i, s, alpha=2), lambda x, i, s: R.index_add(
        x, 0, i, s, 2), [((4, 3), (6,), (6, 3)), ((5,), (2,), (2,))], ("real", _idx0, "real"), FI),
    C("index_copy", lambda m, x, i, s: m.index_copy(x, 1, i, s), lambda x, i, s: R.index_copy(x, 1, i, s),
      [((3, 4), (2,), (3, 2))], ("real", Arg(index_for(0, 1, True)), "real")),
    C("index_fill", lambda m, x, i: x.index_fill(1, i, -1.5), lambda x, i: R.index_fill(x, 1, i, -1.5),
      [((3, 4), (2,)), ((2, 5, 2), (3,))], ("real", Arg(index_for(0, 1)))),
    C("masked_fill", lambda m, x, k: m.masked_fill(x, k, 3.0), lambda x, k: np.where(k, 3.0, x),
      [((3, 4), (3, 4)), ((3, 4), (4,)), ((5,), ())], ("real", Arg(mask)), FI),
    C("masked_fill_tensor", lambda m, x, k, v: x.masked_fill(k, v), lambda x, k, v: np.where(k, v, x),
      [((3, 4), (3, 4), ())], ("real", Arg(mask), "real")),
    C("masked_select", lambda m, x, k: m.masked_select(x, k), lambda x, k: np.broadcast_to(x, np.broadcast(
        x, k).shape)[np.broadcast_to(k, np.broadcast(x, k).shape)], [((3, 4), (3, 4)), ((3, 4), (4,))],
      ("real", Arg(mask)), FI),
    C("masked_scatter", lambda m, x, k, s: m.masked_scatter(x, k, s), R.masked_scatter,
      [((3, 4), (3, 4), (12,)), ((2, 3), (3,), (3, 3))], ("real", Arg(mask), "real")),
    C("nonzero", lambda m, x: m.nonzero(x), np.argwhere, SR[1:], ("zeros",), NUMB, **NG),
    C("nonzero_tuple", lambda m, x: m.nonzero(x, as_tuple=True), np.nonzero, SR[1:4], ("zeros",), FI, **NG),
    C("argwhere", lambda m, x: m.argwhere(x), np.argwhere, SR[1:4], ("zeros",), FI, **NG),
]


SETITEM = [
    C("setitem_int", _set(lambda: 1), SAME, [((3, 4), (4,)), ((3, 4), ()), ((2, 3, 4), (1, 4))],
      ("real", "real"), FI),
    C("setitem_slice", _set(lambda: (slice(None), slice(1, 3))), SAME, [((3, 4), (3, 2)), ((3, 4), (2,))],
      ("real", "real"), FI),
    C("setitem_step", _set(lambda: (slice(None, None, 2),)), SAME, [((5, 2), (3, 2)), ((5,), ())],
      ("real", "real")),
    C("setitem_ellipsis", _set(lambda: (Ellipsis, 0)), SAME, [((2, 3, 4), (2, 3)), ((3, 2), (1,))],
      ("real", "real")),
    C("setitem_tensor", _set(lambda i: i), SAME, [((5, 3), (2, 3), (2,)), ((5,), (), (3,))],
      ("real", "real", Arg(index_for(0, 0, True))), FI),
    C("setitem_mask", _set(lambda k: k), SAME, [((3, 4), (), (3, 4)), ((4, 2), (2,), (4,))],
      ("real", "real", Arg(mask)), FI),
    C("setitem_two_idx", _set(lambda i, j: (i, j)), SAME, [((4, 5), (), (3,), (3,))],
      ("real", "real", Arg(const([0, 1, 3])), Arg(const([4, 1, 0])))),
]

_lo = Arg(index_for(0, 0))
LINALG = [
    C("matmul", lambda m, a, b: m.matmul(a, b), np.matmul, [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 2)),
      ((3, 4), (4,)), ((2, 3, 4), (4, 2)), ((2, 1, 3, 4), (5, 4, 2)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)),
      ((0, 4), (4, 2)), ((3, 0), (0, 2)), ((65, 33), (33, 17))], ("real", "real"), FI),
    C("op_matmul", lambda m, a, b: a @ b, SAME, [((3, 4), (4, 5)), ((2, 3, 4), (2, 4, 2))], ("real", "real")),
    C("mm", lambda m, a, b: m.mm(a, b), np.matmul, [((3, 4), (4, 5)), ((1, 1), (1, 7))], ("real", "real"), FI),
    C("bmm", lambda m, a, b: m.bmm(a, b), np.matmul, [((2, 3, 4), (2, 4, 5))], ("real", "real"), FI),
    C("addmm", lambda m, c, a, b: m.addmm(c, a, b, beta=0.5, alpha=2), lambda c, a, b: 0.5 * c + 2 * a @ b,
      [((3, 5), (3, 4), (4, 5)), ((5,), (3, 4), (4, 5))], ("real", "real", "real")),
    C("baddbmm", lambda m, c, a, b: m.baddbmm(c, a, b), lambda c, a, b: c + a @ b,
      [((2, 3, 5), (2, 3, 4), (2, 4, 5)), ((3, 1), (2, 3, 4), (2, 4, 2))], ("real", "real", "real")),
    C("dot", lambda m, a, b: m.dot(a, b), np.dot, [((4,), (4,)), ((0,), (0,))], ("real", "real"), FI),
    C("vdot", lambda m, a, b: m.vdot(a, b), np.vdot, [((4,), (4,))], ("real", "real")),
    C("outer", lambda m, a, b: m.outer(a, b), np.outer, [((3,), (4,)), ((1,), (0,))], ("real", "real"), FI),
    C("mv", lambda m, a, b: m.mv(a, b), np.matmul, [((3, 4), (4,))], ("real", "real"), FI),
    C("cross", lambda m, a, b: m.cross(a, b, dim=-1), lambda a, b: np.cross(a, b),
      [((3,), (3,)), ((4, 3), (4, 3))], ("real", "real")),
    C("linalg_cross", lambda m, a, b: m.linalg.cross(a, b), lambda a, b: np.cross(a, b),
      [((4, 3), (4, 3)), ((2, 1, 3), (4, 3))], ("real", "real")),
    C("linalg_norm", lambda m, x: m.linalg.norm(x), lambda x: np.sqrt(np.sum(x * x)), SR[1:4]),
    C("linalg_norm_ord", lambda m, x: m.linalg.norm(x, 1), lambda x: np.linalg.norm(x, 1), [(3, 4), (5,)],
      ("away0",)),
    C("linalg_norm_dim", lambda m, x: m.linalg.norm(x, dim=1), lambda x: np.linalg.norm(x, axis=1), SN),
    C("linalg_norm_inf", lambda m, x: m.linalg.norm(x, float("inf")), lambda x: np.linalg.norm(x, np.inf),
      [(3, 4), (5,)], ("distinct",)),
    C("vector_norm", lambda m, x: m.linalg.vector_norm(x, 3, dim=(0, 1)), lambda x: R.norm(x, 3, (0, 1)),
      SN, ("away0",)),
    C("vector_norm_0", lambda m, x: m.linalg.vector_norm(x, 0), lambda x: R.norm(x, 0), SR, ("zeros",),
      **NG),
    C("vector_norm_zero_grad", lambda m, x: m.linalg.vector_norm(x * 0), lambda x: 0 * x.sum(), [(3,)]),
    C("matrix_norm", lambda m, x: m.linalg.matrix_norm(x), lambda x: np.linalg.norm(x, "fro", (-2, -1)),
      [(3, 4), (2, 3, 4)]),
    C("matrix_norm_1", lambda m, x: m.linalg.matrix_norm(x, 1), lambda x: np.linalg.norm(x, 1, (-2, -1)),
      [(3, 4), (2, 3, 4)], ("away0",)),
    C("matrix_norm_inf", lambda m, x: m.linalg.matrix_norm(x, -float("inf"), keepdim=True),
      lambda x: np.linalg.norm(x, -np.inf, (-2, -1), keepdims=True), [(3, 4)], ("away0",)),
] + [
    C(f"matrix_norm_{o}", lambda m, x, o=o: m.linalg.matrix_norm(x, o), lambda x, o=o: np.linalg.norm(x, o, (-2, -1)),
      [(3, 4), (2, 3, 4), (4, 2), (1, 1)]) for o in (2, -2, "nuc")
] + [
    C("matrix_norm_nuc_dims", lambda m, x: m.linalg.matrix_norm(x, "nuc", (2, 0), keepdim=True),
      lambda x: np.linalg.norm(x, "nuc", (2, 0), keepdims=True), [(3, 2, 4)]),
    C("linalg_norm_2", lambda m, x: m.linalg.norm(x, 2), lambda x: np.linalg.norm(x, 2), [(3, 4), (5, 2)]),
    C("norm_p_nuc", lambda m, x: m.norm(x, p="nuc"), lambda x: np.linalg.norm(x, "nuc"), [(3, 4), (5, 2)]),
    C("svdvals", lambda m, x: m.linalg.svdvals(x), lambda x: np.linalg.svd(x, compute_uv=False),
      [(3, 4), (2, 3, 4), (4, 2), (1, 1)]),
    # u_j v_j^T per singular triple and S: what the SVD determines (each vector's sign is not)
    C("linalg_svd", lambda m, x: _svd_parts(m.linalg.svd(x, full_matrices=False)),
      lambda x: _svd_parts(np.linalg.svd(x, full_matrices=False)), [(3, 4), (2, 3, 2), (4, 2)]),
]
for _eq, _shapes in [("ij,jk->ik", ((3, 4), (4, 5))), ("bij,bjk->bik", ((2, 3, 4), (2, 4, 5))),
                     ("i,i->", ((4,), (4,))), ("i,j->ij", ((3,), (4,))), ("ij,ij->ij", ((3, 4), (3, 4))),
                     ("ij,kj->ik", ((3, 4), (5, 4))), ("...ij,...jk->...ik", ((2, 3, 4), (2, 4, 5))),
                     ("bhqd,bhkd->bhqk", ((2, 2, 3, 4), (2, 2, 5, 4))), ("ij,jk,kl->il", ((2, 3), (3, 4), (4, 2)))]:
    _n = len(_shapes)
    LINALG.append(C(f"einsum[{_eq}]", lambda m, *xs, e=_eq: m.einsum(e, *xs), lambda *xs, e=_eq: np.einsum(e, *xs),
                    [_shapes], ("real",) * _n, FI if _n == 2 else F))
for _eq, _shape in [("ii->i", (3, 3)), ("ii", (3, 3)), ("ij->ji", (3, 4)), ("ij->", (3, 4)), ("ij->j", (3, 4)),
                    ("ij", (3, 4)), ("...i->...", (2, 3, 4)), ("iij->j", (3, 3, 2))]:
    LINALG.append(C(f"einsum[{_eq}]", lambda m, x, e=_eq: m.einsum(e, x), lambda x, e=_eq: np.einsum(e, x),
                    [_shape], ("real",), FI))

MORE = [
    C("kron", lambda m, a, b: m.kron(a, b), np.kron, [((2, 3), (3, 2)), ((2,), (3,))], ("real", "real"), FI),
    C("tensordot", lambda m, a, b: m.tensordot(a, b, dims=([1, 2], [0, 1])), lambda a, b: np.tensordot(a, b, ([1, 2], [0, 1])),
      [((2, 3, 4), (3, 4, 5))], ("real", "real")),
    C("tensordot_int", lambda m, a, b: m.tensordot(a, b, 1), lambda a, b: np.tensordot(a, b, 1), [((2, 3), (3, 4))], ("real", "real")),
    C("inner", lambda m, a, b: m.inner(a, b), np.inner, [((3,), (3,)), ((2, 3), (4, 3)), ((), (3,))], ("real", "real")),
    C("trace", lambda m, x: m.trace(x), np.trace, [(3, 3), (2, 4)], dtypes=FI),
    C("block_diag", lambda m, a, b: m.block_diag(a, b), lambda a, b: np.block([[a, np.zeros((a.shape[0], b.shape[1]))],
      [np.zeros((b.shape[0], a.shape[1])), b]]), [((2, 2), (1, 3))], ("real", "real")),
    C("cdist", lambda m, a, b: m.cdist(a, b), lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)), [((3, 2), (4, 2))],
      ("real", "real")),
    C("diag_embed", lambda m, x: m.diag_embed(x), lambda x: np.stack([np.diag(r) for r in x.reshape(-1, x.shape[-1])]).reshape(
        x.shape + x.shape[-1:]), [(2, 3), (4,)]),
    C("diagflat", lambda m, x: m.diagflat(x), lambda x: np.diagflat(x), [(2, 2), (3,)]),
    C("addmv", lambda m, c, a, b: m.addmv(c, a, b, beta=2, alpha=0.5), lambda c, a, b: 2 * c + 0.5 * a @ b, [((3,), (3, 4), (4,))],
      ("real", "real", "real")),
    C("addbmm", lambda m, c, a, b: m.addbmm(c, a, b), lambda c, a, b: c + (a @ b).sum(0), [((3, 5), (2, 3, 4), (2, 4, 5))],
      ("real", "real", "real")),
    C("tensor_split", lambda m, x: m.tensor_split(x, 3), lambda x: tuple(np.array_split(x, 3)), [(7,), (5, 2)]),
    C("tensor_split_idx", lambda m, x: m.tensor_split(x, [1, 4], 1), lambda x: tuple(np.split(x, [1, 4], 1)), [(2, 6)]),
    C("column_stack", lambda m, a, b: m.column_stack([a, b]), lambda a, b: np.column_stack([a, b]), [((3,), (3, 2)), ((2,), (2,))],
      ("real", "real")),
    C("dstack", lambda m, a, b: m.dstack([a, b]), lambda a, b: np.dstack([a, b]), [((3,), (3,)), ((2, 3), (2, 3))], ("real", "real")),
    C("atleast_3d", lambda m, x: m.atleast_3d(x), np.atleast_3d, [(), (3,), (2, 3)]),
    C("fliplr", lambda m, x: m.fliplr(x), np.fliplr, [(2, 3), (2, 3, 2)]),
    C("flipud", lambda m, x: m.flipud(x), np.flipud, [(3,), (2, 3)]),
    C("ravel", lambda m, x: m.ravel(x.t() if x.ndim == 2 else x), lambda x: (x.T if x.ndim == 2 else x).reshape(-1), [(2, 3), (4,)]),
    C("logaddexp2", lambda m, a, b: m.logaddexp2(a, b), np.logaddexp2, S2[:6], ("real", "real")),
    C("float_power", lambda m, a, b: m.float_power(a, b), np.float_power, S2[:6], ("pos", "real")),
    C("signbit", lambda m, x: m.signbit(x), np.signbit, S1, ("real",), FI, **NG),
    C("isposinf", lambda m, x: m.isposinf(x), np.isposinf, S1, ("special",), F, **NG),
    C("isneginf", lambda m, x: m.isneginf(x), np.isneginf, S1, ("special",), F, **NG),
    C("aminmax", lambda m, x: tuple(m.aminmax(x, dim=1)), lambda x: (x.min(1), x.max(1)), SN, ("distinct",), FI),
    C("msort", lambda m, x: m.msort(x), lambda x: np.sort(x, 0), [(4, 3), (5,)], ("distinct",)),
    C("nanmean", lambda m, x: m.nanmean(x, 1), lambda x: np.nanmean(x, 1), SN, ("nanreal",), **NG),
    C("quantile", lambda m, x: m.quantile(x, 0.3, dim=1), lambda x: np.quantile(x, 0.3, axis=1), SN, **NG),
    C("unique_consecutive", lambda m, x: m.unique_consecutive(x), lambda x: x[np.concatenate([[True], x[1:] != x[:-1]])],
      [(9,), (1,)], ("small",), ("int64",), **NG),
    C("select_neg", lambda m, x: m.select(x, 0, -1), lambda x: x[-1], [(3, 4), (2,)]),
    C("adjoint", lambda m, x: m.adjoint(x), lambda x: np.swapaxes(x, -1, -2), [(2, 3), (2, 3, 4)]),
    C("rsub", lambda m, a, b: m.rsub(a, b), lambda a, b: b - a, S2[:6], ("real", "real"), FI),
    C("true_divide", lambda m, a, b: m.true_divide(a, b), np.true_divide, S2[:6], ("real", "nonzero"), FI),
    C("clamp_min_fn", lambda m, x: m.clamp_min(x, 0.2), lambda x: np.maximum(x, 0.2), S1),
    C("positive", lambda m, x: m.positive(x), lambda x: x, S1, dtypes=FI),
    C("square_int", lambda m, x: m.square(x), np.square, S1, ("small",), ("int64", "int32", "uint8")),
    C("std_unbiased_false", lambda m, x: x.std(unbiased=False), np.std, SR[1:4]),
    C("var_tuple_dims", lambda m, x: x.var((0, 2)), lambda x: np.var(x, (0, 2), ddof=1), [(2, 3, 4)]),
    C("mean_dtype", lambda m, x: m.mean(x, dtype=m.float64), np.mean, SR[1:4], dtypes=("float32",), **NG),
    C("sum_bool", lambda m, x: (x > 0).sum(1), lambda x: (x > 0).sum(1), SD, dtypes=FI, **NG),
    C("prod_int_dtype", lambda m, x: m.prod(x, 0, dtype=m.float64), lambda x: np.prod(x, 0), [(3, 4)], ("small",), INT, **NG),
    C("cumsum_bool", lambda m, x: (x > 0).cumsum(0), lambda x: (x > 0).cumsum(0), SR[1:], dtypes=F, **NG),
    C("argmax_nan", lambda m, x: x.argmax(1), lambda x: np.argmax(np.where(np.isnan(x), np.inf, x), 1), SN, ("nanreal",), F, **NG),
    C("max_nan", lambda m, x: x.amax(1), lambda x: np.max(x, 1), SN, ("nanreal",), F, **NG),
    C("sort_nan", lambda m, x: m.sort(x, 1)[0], lambda x: np.sort(x, 1), SN, ("nanreal",), F, **NG),
    C("sort_nan_desc", lambda m, x: m.sort(x, 1, descending=True)[0], lambda x: np.flip(np.sort(x, 1), 1), SN, ("nanreal",), F, **NG),
    C("topk_ties", lambda m, x: m.topk(x, 3).values, lambda x: -np.sort(-x, -1)[..., :3], [(4, 8)], ("small",), ("int64",), **NG),
    C("where_int_float", lambda m, c, a: m.where(c, a, 1.5), lambda c, a: np.where(c, a, 1.5), [((3, 4), (3, 4))], (Arg(mask), "real"),
      ("int64", "int32"), **NG),
    C("matmul_int_big", lambda m, a, b: a @ b, SAME, [((5, 7), (7, 3))], ("real", "real"), ("int64", "int32"), **NG),
    C("div_int_by_zero_float", lambda m, a: a / 0.0, lambda a: np.true_divide(a, 0.0), [(3,)], ("real",), FI, **NG),
    C("pow_scalar_base_tensor_exp", lambda m, a: m.pow(2.0, a), lambda a: np.power(2.0, a), S1, ("real",), FI),
    C("pow_int_base_float_exp", lambda m, a: m.pow(a, 0.5), lambda a: np.power(a, 0.5), S1, ("pos",), ("int64",), **NG),
]
