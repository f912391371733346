"""``deepforge.utils.checkpoint``: activation checkpointing, as in ``torch.utils.checkpoint``.

The checkpointed function runs once without building a graph; its activations are dropped and
recomputed during backward, trading compute for memory. The recompute replays the random
stream: deepforge has one counter-based generator shared by every device, so restoring
``deepforge.get_rng_state()`` before the recompute gives the same dropout masks on CPU and
OpenCL alike. The recompute also runs under the autocast state the forward ran under.

Both ``use_reentrant`` modes recompute inside the backward pass. ``use_reentrant=False``
additionally accepts keyword arguments and gives parameters their gradients even when no
input requires grad (the output is tied into the graph through an internal marker tensor).
Gradients reach parameters by accumulation into ``.grad`` during the recompute's backward, so
``deepforge.autograd.grad(loss, params)`` through a checkpoint raises, as PyTorch's reentrant
checkpoint does.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import deepforge as df
from deepforge import Tensor
from deepforge.autograd import Function

__all__ = ["checkpoint", "checkpoint_sequential", "detach_variable", "check_backward_validity"]


def detach_variable(inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    """Detached copies of the tensors in ``inputs`` that keep their ``requires_grad`` flag."""
    if not isinstance(inputs, tuple):
        raise RuntimeError(
            "Only tuple of tensors is supported. Got Unsupported input type: "
            f"{type(inputs).__name__}"
        )
    out = []
    for value in inputs:
        if isinstance(value, Tensor):
            detached = value.detach()
            detached.requires_grad = value.requires_grad
            value = detached
        out.append(value)
    return tuple(out)


def check_backward_validity(inputs: Iterable[Any]) -> None:
    if not any(x.requires_grad for x in inputs if isinstance(x, Tensor)):
        warnings.warn(
            "None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2
        )


_AUTOCAST_DEVICE_TYPES = ("cpu", "opencl", "cuda")


def _autocast_state() -> list[tuple[str, bool, Any]]:
    return [
        (kind, df.is_autocast_enabled(kind), df.get_autocast_dtype(kind))
        for kind in _AUTOCAST_DEVICE_TYPES
    ]


def _set_autocast_state(state) -> None:
    for kind, enabled, dtype in state:
        df.set_autocast_enabled(kind, enabled)
        df.set_autocast_dtype(kind, dtype)


class _Recompute:
    """Context for the recompute: the forward's RNG and autocast state, restored afterwards."""

    def __init__(self, rng_state: Tensor | None, autocast_state) -> None:
        self.rng_state, self.autocast_state = rng_state, autocast_state

    def __enter__(self) -> None:
        self.saved_rng = df.get_rng_state() if self.rng_state is not None else None
        if self.rng_state is not None:
            df.set_rng_state(self.rng_state)
        self.saved_autocast = _autocast_state()
        _set_autocast_state(self.autocast_state)

    def __exit__(self, *exc) -> None:
        _set_autocast_state(self.saved_autocast)
        if self.saved_rng is not None:
            df.set_rng_state(self.saved_rng)


class CheckpointFunction(Function):
    """Run ``run_function`` without a graph; recompute it with one in backward."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, kwargs, graph_marker, *args):
        ctx.run_function = run_function
        ctx.kwargs = kwargs
        ctx.rng_state = df.get_rng_state() if preserve_rng_state else None
        ctx.autocast_state = _autocast_state()
        ctx.tensor_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.inputs = list(args)
        for i in ctx.tensor_slots:
            ctx.inputs[i] = None
        ctx.save_for_backward(*(args[i] for i in ctx.tensor_slots))
        with df.no_grad():
            return run_function(*args, **kwargs)

    @staticmethod
    def backward(ctx, *grad_outputs):
        inputs = list(ctx.inputs)
        for i, tensor in zip(ctx.tensor_slots, ctx.saved_tensors):
            inputs[i] = tensor
        detached = detach_variable(tuple(inputs))
        with _Recompute(ctx.rng_state, ctx.autocast_state), df.enable_grad():
            outputs = ctx.run_function(*detached, **ctx.kwargs)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        roots, root_grads = [], []
        for out, grad in zip(outputs, grad_outputs):
            if isinstance(out, Tensor) and out.requires_grad and grad is not None:
                roots.append(out)
                root_grads.append(grad)
        if not roots:
            raise RuntimeError(
                "none of output has requires_grad=True, this checkpoint() is not necessary"
            )
        df.autograd.backward(roots, root_grads)
        input_grads = tuple(x.grad if isinstance(x, Tensor) else None for x in detached)
        # run_function, preserve_rng_state, kwargs and graph_marker get no gradient
        return (None, None, None, None, *input_grads)


def checkpoint(
    function: Callable[..., Any],
    *args: Any,
    use_reentrant: bool | None = None,
    context_fn: Callable[[], Any] | None = None,
    determinism_check: str = "default",
    debug: bool = False,
    early_stop: bool = True,
    **kwargs: Any,
) -> Any:
    """Run ``function(*args, **kwargs)`` now and again during backward instead of storing its
    activations. ``preserve_rng_state=True`` (default) replays the same random numbers."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
            "use_reentrant=False is recommended, but if you need to preserve the current default "
            "behavior, you can pass use_reentrant=True.",
            stacklevel=2,
        )
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if determinism_check not in ("default", "none"):
        raise ValueError(
            f"determinism_check should be one of ['default', 'none'], but got {determinism_check}"
        )
    if use_reentrant:
        if context_fn is not None or debug:
            raise ValueError(
                "Passing `context_fn` or `debug` is only supported when use_reentrant=False."
            )
        if df.is_grad_enabled():
            check_backward_validity(args)
        return CheckpointFunction.apply(function, preserve, {}, None, *args)
    if context_fn is not None:
        raise NotImplementedError(
            "checkpoint: context_fn (selective activation checkpointing) is not supported by "
            "deepforge"
        )
    # A leaf that requires grad ties the output into the graph even when no input needs a
    # gradient, so the recompute still reaches the parameters used inside ``function``.
    marker = df.empty(0, requires_grad=True)
    return CheckpointFunction.apply(function, preserve, kwargs, marker, *args)


def checkpoint_sequential(
    functions, segments: int, input: Tensor, use_reentrant: bool | None = None, **kwargs: Any
) -> Any:
    """Split ``functions`` (a list or ``nn.Sequential``) into ``segments`` chunks and checkpoint
    all but the last one."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should be "
            "passed explicitly. use_reentrant=False is recommended, but if you need to preserve "
            "the current default behavior, you can pass use_reentrant=True.",
            stacklevel=2,
        )
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start: int, end: int, funcs):
        def forward(x):
            for j in range(start, end + 1):
                x = funcs[j](x)
            return x

        return forward

    if isinstance(functions, df.nn.Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(
            run_function(start, end, functions),
            input,
            use_reentrant=use_reentrant,
            preserve_rng_state=preserve,
        )
    return run_function(end + 1, len(functions) - 1, functions)(input)
