"""``nn.utils.stateless.functional_call``: call a module with some of its parameters and
buffers temporarily replaced by given tensors (the module is restored afterwards)."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

from deepforge import Tensor

from ..modules.module import Module

__all__ = ["functional_call"]

# marks a name the module did not have before the swap (it is deleted again on restore)
_MISSING: Any = object()


def _swap_tensor(module: Module, name: str, tensor) -> Any:
    """Put ``tensor`` at ``module.<name>`` (directly into ``_parameters``/``_buffers`` when the
    name is registered there, so that any Tensor may stand in for a Parameter); return what
    was there."""
    if name in module._parameters:
        orig = module._parameters[name]
        if tensor is _MISSING:
            del module._parameters[name]
        else:
            module._parameters[name] = tensor
        return orig
    if name in module._buffers:
        orig = module._buffers[name]
        if tensor is _MISSING:
            del module._buffers[name]
        else:
            module._buffers[name] = tensor
        return orig
    orig = getattr(module, name) if hasattr(module, name) else _MISSING
    if orig is not _MISSING and not isinstance(orig, Tensor):
        raise TypeError(f"{module._get_name()}.{name} is {orig} but it should be a Tensor")
    if tensor is not _MISSING:
        setattr(module, name, tensor)
    elif hasattr(module, name):
        delattr(module, name)
    return orig


def _swap_tensors_dict(module: Module, named_tensors: dict[str, Any]) -> dict[str, Any]:
    originals = {}
    for name, tensor in named_tensors.items():
        prefix, _, attr = name.rpartition(".")
        if tensor is not _MISSING and not isinstance(tensor, Tensor):
            raise TypeError(f"{tensor} is not an instance of torch.Tensor")
        originals[name] = _swap_tensor(module.get_submodule(prefix), attr, tensor)
    return originals


def _untie_named_tensors_map(
    module: Module, parameters_and_buffers: dict[str, Tensor]
) -> dict[str, Tensor]:
    """Extend the given names to every name tied to them (one tensor registered under several
    names), so that a replacement replaces all of the tied uses."""
    all_named_tensors: dict[str, Tensor] = {}
    all_named_tensors.update(module.named_parameters(remove_duplicate=False))
    all_named_tensors.update(module.named_buffers(remove_duplicate=False))
    names_by_tensor: dict[int, set[str]] = {}
    for name, tensor in all_named_tensors.items():
        names_by_tensor.setdefault(id(tensor), set()).add(name)
    tied_names_map = {
        name: names for names in names_by_tensor.values() if len(names) > 1 for name in names
    }
    given_tied = {name for name in parameters_and_buffers if name in tied_names_map}
    for given_name in given_tied:
        tied_names = tied_names_map[given_name]
        values = {id(parameters_and_buffers[n]) for n in tied_names if n in parameters_and_buffers}
        if len(tied_names & given_tied) > 1 and len(values) != 1:
            raise ValueError(
                f"functional_call got multiple values for keys {sorted(tied_names)}, which are "
                "tied. Consider using tie_weights=False"
            )
    untied = dict(parameters_and_buffers)
    for given_name in given_tied:
        for tied_name in tied_names_map[given_name]:
            untied[tied_name] = parameters_and_buffers[given_name]
    return untied


@contextlib.contextmanager
def _reparametrize_module(
    module: Module,
    parameters_and_buffers: dict[str, Tensor],
    tie_weights: bool = False,
    strict: bool = False,
) -> Iterator[None]:
    if tie_weights:
        untied = _untie_named_tensors_map(module, parameters_and_buffers)
    else:
        untied = parameters_and_buffers
    if strict:
        keys = {name for name, _ in module.named_parameters(remove_duplicate=False)}
        keys |= {name for name, _ in module.named_buffers(remove_duplicate=False)}
        missing_keys = sorted(keys - set(untied))
        unexpected_keys = sorted(set(untied) - keys)
        error_msgs = []
        if unexpected_keys:
            error_msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected_keys))}.")
        if missing_keys:
            error_msgs.append(f"Missing key(s): {', '.join(map(repr, missing_keys))}.")
        if error_msgs:
            raise RuntimeError(
                "Error(s) in reparametrizing for {}:\n\t{}".format(
                    module._get_name(), "\n\t".join(error_msgs)
                )
            )
    originals: dict[str, Any] = {}
    try:
        originals = _swap_tensors_dict(module, untied)
        yield
    finally:
        current = _swap_tensors_dict(module, originals)
        # the caller's dict sees tensors the forward re-assigned (e.g. a new running_mean)
        parameters_and_buffers.update(
            {k: current[k] for k in parameters_and_buffers if k in current}
        )


def _functional_call(
    module: Module,
    parameters_and_buffers: dict[str, Tensor],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize_module(
        module, parameters_and_buffers, tie_weights=tie_weights, strict=strict
    ):
        return module(*args, **kwargs)


def functional_call(
    module: Module,
    parameters_and_buffers: dict[str, Tensor],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """Call ``module(*args, **kwargs)`` with the parameters and buffers named in
    ``parameters_and_buffers`` (dotted names, as in ``named_parameters``) replaced by the given
    tensors; the module's own tensors are put back afterwards. Deprecated in PyTorch in favour
    of ``torch.func.functional_call``."""
    warnings.warn(
        "`torch.nn.utils.stateless.functional_call` is deprecated as of PyTorch 2.0 and will be "
        "removed in a future version of PyTorch. Please use `torch.func.functional_call` "
        "instead which is a drop-in replacement.",
        FutureWarning,
        stacklevel=2,
    )
    return _functional_call(
        module, parameters_and_buffers, args, kwargs, tie_weights=tie_weights, strict=strict
    )
