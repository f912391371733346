"""Autograd for in-place writes through views (PyTorch's CopySlices).

After ``v = y[:, 0]; v.add_(1)`` with ``y`` in a graph, ``y`` holds new values in the region
``v`` covers. The base gets a ``CopySlices`` node (gradient: zeros in that region for the old
base, the region itself for the new values) and the view is re-derived from the new base with
``AsStrided``, a view described by (size, stride, offset) in the base's index space. Bases
must be dense (any permutation of a contiguous layout); anything else raises.
"""

from __future__ import annotations

from ..autograd.function import Function
from ..tensor import Tensor, make_tensor
from . import _dispatch as D

__all__: list[str] = []


def view_geometry(v: Tensor, base: Tensor, op: str):
    """(size, stride, offset) of ``v`` in the index space of ``base`` as if base were
    C-contiguous (how its gradient is laid out). The base may be any dense permutation of a
    contiguous layout (an elementwise result of a transposed input is one)."""
    be = D.backend_of(base)
    shape = base._data.shape
    bstr = be.strides(base._data)
    order = sorted((d for d in range(len(shape)) if shape[d] > 1), key=lambda d: -bstr[d])
    expect = 1
    for d in reversed(order):  # dense: the strides tile the elements exactly
        if bstr[d] != expect:
            raise RuntimeError(
                f"{op}: in-place modification of a view of a tensor with overlapping or gapped "
                "memory that requires grad is not supported; call .contiguous() on it first"
            )
        expect *= shape[d]
    cstr = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        cstr[d] = cstr[d + 1] * shape[d + 1]

    def index_delta(delta):
        out = 0
        for d in order:
            k, delta = divmod(delta, bstr[d])
            out += k * cstr[d]
        if delta:
            raise RuntimeError(f"{op}: the view does not line up with its base's elements")
        return out

    offset = be.storage_offset(v._data) - be.storage_offset(base._data)
    strides = tuple(index_delta(s) for s in be.strides(v._data))
    return tuple(v._data.shape), strides, index_delta(offset)


def _strided(be, data, size, stride, offset):
    return be.as_strided(data, size, stride, be.storage_offset(data) + offset)


class AsStrided(Function):
    """A view of a contiguous tensor given by (size, stride, offset) in its elements."""

    @staticmethod
    def forward(ctx, x, size, stride, offset):
        from .shape import _view_of

        ctx.in_shape = x._data.shape
        ctx.geom = (size, stride, offset)
        be = D.backend_of(x)
        data = x._data if be.is_contiguous(x._data) else be.contiguous(x._data)
        v = _strided(be, data, size, stride, offset)
        return _view_of(x, v) if data is x._data else make_tensor(v, x._dtype, x._device)

    @staticmethod
    def backward(ctx, g):
        return call_scatter(g, ctx.in_shape, ctx.geom), None, None, None


class AsStridedScatter(Function):
    """zeros(shape) with the strided region set to ``g`` (the gradient of AsStrided)."""

    @staticmethod
    def forward(ctx, g, shape, geom):
        ctx.geom = geom
        be = D.backend_of(g)
        z = be.zeros(shape, g._dtype.np)
        be.copy_(_strided(be, z, *geom), g._data)
        return make_tensor(z, g._dtype, g._device)

    @staticmethod
    def backward(ctx, gg):
        from ._common import call

        return call(AsStrided, gg, *ctx.geom), None, None


def call_scatter(g, shape, geom):
    from ._common import call

    return call(AsStridedScatter, g, shape, geom)


class CopySlices(Function):
    """``base[region] = value`` in place, recorded as a node of ``base``."""

    @staticmethod
    def forward(ctx, base, value, target, size, stride, offset):
        ctx.geom = (size, stride, offset)  # in base's index space; target: the view's storage
        be = D.backend_of(base)
        be.copy_(target, value._data)
        base._vc[0] += 1
        ctx.mark_dirty(base)
        return base

    @staticmethod
    def backward(ctx, g):
        from ._common import call
        from .creation import ones_like

        nb, nv = ctx.needs_input_grad[:2]
        gb = gv = None
        if nb:
            keep = ones_like(g)
            be = D.backend_of(keep)
            be.copy_(_strided(be, keep._data, *ctx.geom), 0)
            gb = g * keep
        if nv:
            gv = call(AsStrided, g, *ctx.geom)
        return gb, gv, None, None, None, None


def commit_to_view(v: Tensor, result: Tensor, op: str) -> Tensor:
    """Write ``result`` into the view ``v`` and rebase the histories of its base and of ``v``."""
    from ._common import call

    base = v._base
    geom = view_geometry(v, base, op)
    CopySlices.apply(base, result, v._data, *geom)
    _rebase(v, call(AsStrided, base, *geom))
    return v


def _rebase(v: Tensor, nv: Tensor) -> None:
    v.grad_fn, v._output_nr, v._rg = nv.grad_fn, nv._output_nr, nv._rg
    v._view_vc = v._vc[0]


def refresh_view(v: Tensor):
    """Re-derive a view's history from its base after the base changed in place."""
    from ..autograd.grad_mode import STATE
    from ._common import call

    base = v._base
    prev, STATE.enabled = STATE.enabled, True
    try:
        _rebase(v, call(AsStrided, base, *view_geometry(v, base, "view")))
    finally:
        STATE.enabled = prev
    return v.grad_fn
