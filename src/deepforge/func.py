"""``deepforge.func``: ``functional_call`` (PyTorch's ``torch.func.functional_call``).

The function transforms of ``torch.func`` (``vmap``, ``grad``, ``jacrev``, ...) are not
provided."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deepforge import Tensor
from deepforge.nn import Module
from deepforge.nn.utils.stateless import _functional_call

__all__ = ["functional_call"]


def functional_call(
    module: Module,
    parameter_and_buffer_dicts: dict[str, Tensor] | Sequence[dict[str, Tensor]],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """Call ``module(*args, **kwargs)`` with its parameters and buffers replaced by those in
    ``parameter_and_buffer_dicts`` (one dict, or several with disjoint keys); the module's own
    tensors are restored afterwards. ``args`` that is not a tuple is passed as one argument."""
    if isinstance(parameter_and_buffer_dicts, dict):
        parameters_and_buffers = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, Sequence):
        if not all(isinstance(d, dict) for d in parameter_and_buffer_dicts):
            raise ValueError(
                "Expected all elements of parameter_and_buffer_dicts to be dictionaries"
            )
        counts: dict[str, int] = {}
        for d in parameter_and_buffer_dicts:
            for k in d:
                counts[k] = counts.get(k, 0) + 1
        repeated_keys = [k for k, n in counts.items() if n > 1]
        if repeated_keys:
            raise ValueError(
                f"{repeated_keys} appeared in multiple dictionaries; behavior of functional call "
                "is ambiguous"
            )
        parameters_and_buffers = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError(
            "Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
            f"{type(parameter_and_buffer_dicts)}"
        )
    return _functional_call(
        module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=strict
    )
