"""Helpers shared by the op modules: the no-grad fast path, in-place rules, dim wrapping."""

from __future__ import annotations

from ..autograd.grad_mode import STATE
from ..tensor import Tensor, _wrap_dim

__all__ = [
    "call",
    "NULL_CTX",
    "needs_grad",
    "wrap_dim",
    "wrap_dims",
    "check_inplace",
    "commit_inplace",
    "with_out",
]


class _NullCtx:
    """Stands in for ctx when no graph is recorded: saving is a no-op."""

    needs_input_grad = ()

    def save_for_backward(self, *tensors):
        pass

    def mark_non_differentiable(self, *tensors):
        pass

    def mark_dirty(self, *tensors):
        pass

    def set_materialize_grads(self, value):
        pass

    def __setattr__(self, name, value):
        pass  # builtin forwards may stash metadata on ctx; nothing needs it without a graph


NULL_CTX = _NullCtx()


def needs_grad(*args) -> bool:
    if not STATE.enabled:
        return False
    for a in args:
        if isinstance(a, Tensor) and a._rg:
            return True
    return False


def call(fn, *args):
    """Run a builtin Function: record a graph node only when some input requires grad."""
    if STATE.enabled:
        for a in args:
            if isinstance(a, Tensor) and a._rg:
                return fn.apply(*args)
    return fn.forward(NULL_CTX, *args)


def with_out(fn):
    """Give ``fn`` PyTorch's ``out=`` argument: a tensor, or a tuple for tuple results."""
    import functools

    @functools.wraps(fn)
    def op(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if STATE.enabled and any(isinstance(a, Tensor) and a._rg for a in args):
            raise RuntimeError(
                f"{fn.__name__}(): functions with out=... arguments don't support automatic "
                "differentiation, but one of the arguments requires grad."
            )
        from .shape import resize_out

        r = fn(*args, **kwargs)
        if not isinstance(r, tuple):
            return resize_out(out, r)
        if not isinstance(out, (tuple, list)) or len(out) != len(r):
            raise TypeError(f"{fn.__name__}(): argument 'out' must be a tuple of {len(r)} Tensors")
        for o, v in zip(out, r):
            resize_out(o, v)
        return type(r)(*out) if hasattr(r, "_fields") else tuple(out)

    return op


def wrap_dim(dim: int, ndim: int) -> int:
    return _wrap_dim(dim, ndim)


def wrap_dims(dim, ndim: int) -> tuple:
    """Normalise an int / sequence / None ``dim`` argument to a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (list, tuple)):
        axes = tuple(sorted(_wrap_dim(d, ndim) for d in dim))
        for a, b in zip(axes, axes[1:]):
            if a == b:
                raise RuntimeError(f"dim {a} appears multiple times in the list of dims")
        return axes
    return (_wrap_dim(dim, ndim),)


def check_inplace(x: Tensor, op: str) -> None:
    """Refuse in-place changes autograd could not track correctly, and writes into tensors
    whose elements share memory (expanded views)."""
    if x._base is not None:
        _check_no_internal_overlap(x, op)
    if not STATE.enabled:
        return
    if x.grad_fn is None and x._rg:
        raise RuntimeError(
            f"{op}: a leaf Variable that requires grad is being used in an in-place operation."
        )
    base = x._base
    if base is not None and base._rg and base.grad_fn is None:
        raise RuntimeError(
            f"{op}: a view of a leaf Variable that requires grad is being used in an in-place "
            "operation."
        )


def _check_no_internal_overlap(x: Tensor, op: str) -> None:
    from ._dispatch import backend_of

    for n, s in zip(x._data.shape, backend_of(x).strides(x._data)):
        if s == 0 and n > 1:
            raise RuntimeError(
                f"{op}: unsupported operation: more than one element of the written-to tensor "
                "refers "
                "to a single memory location. Please clone() the tensor before performing the "
                "operation."
            )


def commit_inplace(x: Tensor, result) -> Tensor:
    """Write ``result`` (computed out of place) into ``x`` and move x's history to it.

    ``result`` may be a callable computing it: then graph nodes it creates that saved ``x``
    for backward get a copy of x's old value, so ``y.sin_()`` / ``y.pow_(2)`` on a tensor in a
    graph differentiate like PyTorch's in-place ops instead of failing the version check.
    """
    from ._dispatch import backend_of

    if callable(result):
        from ..autograd.function import _seq

        start = next(_seq)
        result = result()
        if result.grad_fn is not None:
            _snapshot_saved(x, result.grad_fn, start)
    if result._data.shape != x._data.shape:
        raise RuntimeError(
            f"output with shape {list(x.shape)} doesn't match the broadcast shape "
            f"{list(result.shape)}"
        )
    if STATE.enabled and x._rg and not result._rg:
        result = result + x * 0  # a non-differentiable result (x.gt_(y)): x's history gets zeros
    if x._base is not None and STATE.enabled and (result._rg or x._base._rg):
        from .views import commit_to_view  # the base's history changes too (CopySlices)

        return commit_to_view(x, result, "in-place operation")
    backend_of(x).copy_(x._data, result._data)
    x._vc[0] += 1
    if result._rg and STATE.enabled:
        x.grad_fn = result.grad_fn
        x._output_nr = result._output_nr
        x._rg = True
    return x


def _snapshot_saved(x: Tensor, node, start: int) -> None:
    """In nodes newer than ``start`` reachable from ``node``, replace saved tensors sharing
    x's storage by a copy of their current value (with the same autograd identity)."""
    from ._dispatch import backend_of

    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen or getattr(n, "_seq", -1) <= start:
            continue
        seen.add(id(n))
        saved = getattr(n, "_saved", None)
        if saved:
            for k, rec in enumerate(saved):
                if rec is None or rec[0]._vc is not x._vc or rec[2] >= 0:
                    continue
                t, version, nr = rec
                saved[k] = (_copy_like(t, backend_of(t).clone(t._data)), version, nr)
        stack.extend(nxt for nxt, _ in n.next_functions)


def _copy_like(t: Tensor, data) -> Tensor:
    """A tensor over ``data`` that stands for ``t`` in autograd (same grad_fn or leaf node)."""
    from ..tensor import make_tensor

    c = make_tensor(data, t._dtype, t._device, [t._vc[0]])
    if t._rg:
        c._rg = True
        if t.grad_fn is not None:
            c.grad_fn, c._output_nr = t.grad_fn, t._output_nr
        else:
            import weakref

            c._accum = weakref.ref(t._grad_edge()[0])
    return c
