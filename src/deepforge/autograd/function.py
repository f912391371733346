"""``autograd.Function`` and the graph node (the ``ctx`` of a Function is its backward node)."""

from __future__ import annotations

import functools
import itertools
import traceback
import weakref

from .grad_mode import STATE

__all__ = ["Function", "FunctionCtx", "BackwardNode", "AccumulateGrad", "once_differentiable"]

_seq = itertools.count()


class _Anomaly:
    enabled = False
    check_nan = True


ANOMALY = _Anomaly


class BackwardNode:
    """Base of every node of the autograd graph (``Tensor.grad_fn``).

    ``next_functions[i]`` is the (node, output_nr) edge that receives the gradient of input i.
    """

    _is_accumulate = False

    def __init__(self):
        self._seq = next(_seq)
        self.next_functions = ()
        self._pre_hooks = None  # {output_nr: [hook]} from Tensor.register_hook on outputs
        self._retain_hooks = None  # {output_nr: weakref(tensor)} from retain_grad()
        self._node_hooks = None  # register_hook(fn(grad_inputs, grad_outputs))
        self._node_pre_hooks = None
        self._stack = traceback.format_stack()[:-3] if ANOMALY.enabled else None

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    def register_hook(self, fn):
        if self._node_hooks is None:
            self._node_hooks = []
        self._node_hooks.append(fn)
        return _RemovableHandle(self._node_hooks, fn)

    def register_prehook(self, fn):
        if self._node_pre_hooks is None:
            self._node_pre_hooks = []
        self._node_pre_hooks.append(fn)
        return _RemovableHandle(self._node_pre_hooks, fn)

    def _add_tensor_hook(self, output_nr: int, fn):
        if self._pre_hooks is None:
            self._pre_hooks = {}
        hooks = self._pre_hooks.setdefault(output_nr, [])
        hooks.append(fn)
        return _RemovableHandle(hooks, fn)


class _RemovableHandle:
    __slots__ = ("_list", "_fn")

    def __init__(self, lst, fn):
        self._list = lst
        self._fn = fn

    def remove(self) -> None:
        try:
            self._list.remove(self._fn)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class AccumulateGrad(BackwardNode):
    """The node behind a leaf that requires grad: adds incoming gradients into ``.grad``."""

    _is_accumulate = True

    def __init__(self, variable):
        super().__init__()
        self.variable = variable
        self._n_inputs = 1
        self._post_hooks = None  # Tensor.register_post_accumulate_grad_hook: fn(tensor)

    def name(self) -> str:
        return "AccumulateGrad"

    def register_post_accumulate_hook(self, fn):
        if self._post_hooks is None:
            self._post_hooks = []
        self._post_hooks.append(fn)
        return _RemovableHandle(self._post_hooks, fn)


class FunctionCtx(BackwardNode):
    """The ``ctx`` handed to ``forward``/``backward``; it is also the backward node."""

    _fn = None  # the Function subclass, set per subclass

    def __init__(self):
        super().__init__()
        self.to_save = ()
        self._saved = None
        self._non_differentiable = None
        self._dirty = None
        self.materialize_grads = True
        self.needs_input_grad = ()
        self._input_meta = ()
        self._output_meta = ()
        self._released = False

    def name(self) -> str:
        return type(self).__name__

    def save_for_backward(self, *tensors) -> None:
        self.to_save = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        self._non_differentiable = {id(t) for t in tensors}

    def mark_dirty(self, *tensors) -> None:
        self._dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = bool(value)

    def save_for_forward(self, *tensors) -> None:
        self.saved_for_forward = tensors

    @property
    def saved_tensors(self) -> tuple:
        if self._released:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or if "
                "you need to access saved tensors after calling backward."
            )
        saved = self._saved
        if saved is None:
            return tuple(self.to_save)
        out = []
        for rec in saved:
            if rec is None:
                out.append(None)
                continue
            t, version, output_nr = rec
            if t._version != version:
                if output_nr >= 0:
                    src = f", which is output {output_nr} of {self.name()},"
                elif t.grad_fn is not None:
                    src = f", which is output {t._output_nr} of {t.grad_fn.name()},"
                else:
                    src = ""
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: [{t.type()} {list(t.shape)}]{src} is at version "
                    f"{t._version}; expected version {version} instead. It was saved for the "
                    f"backward of {self.name()}."
                )
            if output_nr >= 0:  # an output of this node: re-attach it so double backward works
                t = t._alias()
                t.requires_grad = True
                t.grad_fn = self
                t._output_nr = output_nr
            out.append(t)
        return tuple(out)

    def _release(self) -> None:
        if self._saved is not None:
            self._saved = None
            self._released = True
        self.to_save = ()


def _first_param(fwd) -> tuple:
    import inspect

    if fwd is None:
        return ("ctx",)
    fn = fwd.__func__ if isinstance(fwd, staticmethod) else fwd
    try:
        return tuple(inspect.signature(fn).parameters)[:1]
    except (TypeError, ValueError):
        return ("ctx",)


class _FunctionMeta(type):
    """Gives each Function subclass its own ctx/node class named ``<Name>Backward0``."""

    def __init__(cls, name, bases, ns):
        super().__init__(name, bases, ns)
        node_name = name if name.endswith("Backward0") else f"{name}Backward0"
        cls._ctx_cls = type(node_name, (FunctionCtx,), {"_fn": cls, "__slots__": ()})
        cls._ctx_cls.__qualname__ = node_name
        # PyTorch's "forward without ctx + setup_context" style, decided once per class
        setup = ns.get("setup_context")
        cls._separate_setup = setup is not None and bases != (object,) and \
            "ctx" not in _first_param(ns.get("forward"))


class Function(metaclass=_FunctionMeta):
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``, call
    ``apply``."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    vjp = backward

    @staticmethod
    def setup_context(ctx, inputs, output):
        return None

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _tensor_cls()
        ctx = cls._ctx_cls()
        if STATE.enabled:
            needs = []
            edges = []
            meta = []
            any_needs = False
            for a in args:
                if isinstance(a, Tensor):
                    meta.append((a._data.shape, a._dtype, a._device))
                    if a._rg:
                        any_needs = True
                        needs.append(True)
                        edges.append(a._grad_edge())
                        continue
                else:
                    meta.append(None)
                needs.append(False)
                edges.append((None, 0))
            if any_needs:
                ctx.needs_input_grad = tuple(needs)
                ctx.next_functions = tuple(edges)
                ctx._input_meta = tuple(meta)
                STATE.enabled = False
                try:
                    out = cls._call_forward(ctx, args, kwargs)
                finally:
                    STATE.enabled = True
                return _wrap_outputs(ctx, args, out)
        return cls._call_forward(ctx, args, kwargs)

    @classmethod
    def _call_forward(cls, ctx, args, kwargs):
        if cls._separate_setup:
            out = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, out)
            return out
        return cls.forward(ctx, *args, **kwargs)


_TENSOR = None


def _tensor_cls():
    global _TENSOR
    if _TENSOR is None:
        from ..tensor import Tensor

        _TENSOR = Tensor
    return _TENSOR


def _wrap_outputs(ctx, args, out):
    Tensor = _TENSOR
    is_tuple = isinstance(out, tuple)
    outs = out if is_tuple else (out,)
    non_diff = ctx._non_differentiable
    dirty = ctx._dirty
    input_ids = [id(a) for a in args if isinstance(a, Tensor)]
    wrapped = []
    meta = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            wrapped.append(o)
            meta.append(None)
            continue
        meta.append((o._data.shape, o._dtype, o._device))
        if non_diff is not None and id(o) in non_diff:
            wrapped.append(o)
            continue
        if not o._dtype.is_floating_point and not o._dtype.is_complex:
            wrapped.append(o)
            continue
        if id(o) in input_ids:
            if dirty is not None and id(o) in dirty:
                if o.grad_fn is None and o.requires_grad:
                    raise RuntimeError(
                        "a leaf Variable that requires grad is being used in an in-place operation."
                    )
            else:
                o = o._alias()
        o.requires_grad = True
        o.grad_fn = ctx
        o._output_nr = i
        wrapped.append(o)
    ctx._output_meta = tuple(meta)
    if ctx.to_save:
        # differentiable outputs are saved without their grad_fn (no reference cycle) and
        # re-attached on access; others (indices) are saved like inputs
        out_pos = {
            id(o): i for i, o in enumerate(wrapped) if isinstance(o, Tensor) and o.grad_fn is ctx
        }
        saved = []
        for t in ctx.to_save:
            if t is None:
                saved.append(None)
            elif id(t) in out_pos:
                alias = t._alias()
                saved.append((alias, t._version, out_pos[id(t)]))
            else:
                saved.append((t, t._version, -1))
        ctx._saved = saved
        ctx.to_save = ()
    return tuple(wrapped) if is_tuple else wrapped[0]


def once_differentiable(fn):
    """Mark a backward as not differentiable again: it runs under no_grad and its results
    raise if a second-order graph tries to go through them."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        prev = STATE.enabled
        STATE.enabled = False
        try:
            res = fn(ctx, *args)
        finally:
            STATE.enabled = prev
        if not prev:
            return res
        from ..tensor import Tensor

        needs = any(isinstance(a, Tensor) and a.requires_grad for a in args)
        if not needs:
            return res
        results = res if isinstance(res, tuple) else (res,)
        node = _DelayedError(
            "trying to differentiate twice a function that was marked with @once_differentiable "
            f"({ctx.name()})",
            len(results),
        )
        node.next_functions = tuple(
            a._grad_edge() if isinstance(a, Tensor) and a.requires_grad else (None, 0) for a in args
        )
        marked = []
        for i, r in enumerate(results):
            if isinstance(r, Tensor) and r._dtype.is_floating_point:
                r = r._alias()
                r.requires_grad = True
                r.grad_fn = node
                r._output_nr = i
            marked.append(r)
        return tuple(marked) if isinstance(res, tuple) else marked[0]

    return wrapper


class _DelayedError(FunctionCtx):
    def __init__(self, msg, n):
        super().__init__()
        self._msg = msg

    def name(self) -> str:
        return "DelayedError"


def _weak(t):
    return weakref.ref(t)
