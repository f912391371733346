"""deepforge.autograd: the graph, the engine, ``backward``/``grad``, custom Functions, gradcheck."""

from __future__ import annotations

from .function import ANOMALY, BackwardNode, Function, FunctionCtx, once_differentiable
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "Function", "FunctionCtx", "once_differentiable", "backward", "grad", "gradcheck",
    "gradgradcheck", "GradcheckError", "no_grad", "enable_grad", "set_grad_enabled",
    "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "detect_anomaly",
    "set_detect_anomaly", "is_anomaly_enabled", "Variable", "graph", "function",
]


def _make_grads(outputs, grad_outputs, create_graph):
    from ..ops.creation import ones_like
    from ..tensor import Tensor

    grads = []
    for i, (o, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if o.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not o._dtype.is_floating_point:
                raise RuntimeError(
                    "grad can be implicitly created only for real scalar outputs but got "
                    f"{o._dtype}"
                )
            g = ones_like(o)
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradient must be a Tensor or None, got {type(g).__name__}")
        else:
            if g.shape != o.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                    f"has a shape of {o.shape}."
                )
            if g._device != o._device:
                raise RuntimeError(
                    f"invalid gradient at index {i} - expected device {o._device} but got "
                    f"{g._device}"
                )
            if not create_graph:
                g = g.detach()
        grads.append(g)
    return grads


def _seq(x):
    from ..tensor import Tensor

    if x is None:
        return None
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def backward(
    tensors,
    grad_tensors=None,
    retain_graph=None,
    create_graph=False,
    grad_variables=None,
    inputs=None,
) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves (or ``inputs``)."""
    from .engine import run_backward

    outs = _seq(tensors)
    gts = _seq(grad_tensors if grad_tensors is not None else grad_variables)
    if gts is None:
        gts = [None] * len(outs)
    if len(gts) != len(outs):
        raise RuntimeError(f"got {len(gts)} tensors and {len(outs)} gradients")
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(outs, gts, create_graph)
    targets = _seq(inputs)
    if targets is not None and len(targets) == 0:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    run_backward(
        outs, grads, retain_graph, create_graph, targets=targets, allow_unused=True, accumulate=True
    )


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    only_inputs=True,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated)."""
    from .engine import run_backward

    outs = _seq(outputs)
    ins = _seq(inputs)
    gos = _seq(grad_outputs)
    if gos is None:
        gos = [None] * len(outs)
    if len(gos) != len(outs):
        raise RuntimeError(
            f"grad requires one grad_output per output: got {len(gos)} grad_outputs and "
            f"{len(outs)} outputs"
        )
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    grads = _make_grads(outs, gos, create_graph)
    res = run_backward(
        outs,
        grads,
        retain_graph,
        create_graph,
        targets=ins,
        allow_unused=allow_unused,
        accumulate=False,
    )
    if materialize_grads:
        from ..ops.creation import zeros_like

        res = [zeros_like(t) if r is None else r for r, t in zip(res, ins)]
    return tuple(res)


class detect_anomaly:  # noqa: N801
    """Context manager: record forward tracebacks and raise on NaN gradients."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = (ANOMALY.enabled, ANOMALY.check_nan)
        ANOMALY.enabled = True
        ANOMALY.check_nan = self.check_nan
        return self

    def __exit__(self, *exc):
        ANOMALY.enabled, ANOMALY.check_nan = self._prev
        return False


class set_detect_anomaly:  # noqa: N801
    def __init__(self, mode: bool, check_nan: bool = True):
        self._prev = (ANOMALY.enabled, ANOMALY.check_nan)
        ANOMALY.enabled = bool(mode)
        ANOMALY.check_nan = check_nan

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        ANOMALY.enabled, ANOMALY.check_nan = self._prev
        return False


def is_anomaly_enabled() -> bool:
    return ANOMALY.enabled


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802 - legacy API
    t = data.detach() if requires_grad else data
    if requires_grad:
        t.requires_grad_(True)
    return t


class _GraphNS:
    """``autograd.graph``: the Node base class for isinstance checks."""

    Node = BackwardNode


graph = _GraphNS()
from . import function  # noqa: E402,F401
