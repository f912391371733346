"""The backward engine: iterative, dependency-counted, runs nodes in reverse creation order.

No recursion anywhere, so a chain of 100,000 ops backpropagates. Gradients for a node's
inputs are checked against the forward inputs' metadata and reduced to their shapes here,
the one place where broadcasting is undone.
"""

from __future__ import annotations

import heapq
import math
import warnings

from .function import ANOMALY
from .grad_mode import STATE

__all__ = ["run_backward", "sum_to_shape"]


def sum_to_shape(g, shape):
    """Reduce a gradient of a broadcast result back to an operand's ``shape``."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    dims = list(range(lead))
    for i, s in enumerate(shape):
        if s == 1 and gshape[lead + i] != 1:
            dims.append(lead + i)
    if dims:
        g = g.sum(dim=tuple(dims), keepdim=True)
    if lead:
        g = g.reshape(shape)
    elif g.shape != shape:
        g = g.reshape(shape)
    return g


def _validate(node, grads):
    """Check each returned gradient against the forward input it belongs to."""
    meta = getattr(node, "_input_meta", None)
    n_in = len(node.next_functions)
    if len(grads) != n_in:
        if len(grads) > n_in and all(g is None for g in grads[n_in:]):
            grads = grads[:n_in]
        else:
            raise RuntimeError(
                f"function {node.name()} returned an incorrect number of gradients "
                f"(expected {n_in}, got {len(grads)})"
            )
    if not meta:
        return grads
    out = list(grads)
    for i, g in enumerate(grads):
        if g is None or node.next_functions[i][0] is None:
            continue
        m = meta[i]
        if m is None:
            continue
        shape, dtype, device = m
        if not hasattr(g, "_dtype"):
            raise TypeError(
                f"function {node.name()} returned a gradient of type {type(g).__name__} at index "
                f"{i}, expected a Tensor"
            )
        if g._data.shape != shape:
            try:
                g = sum_to_shape(g, shape)
            except Exception:
                g = None
            if g is None or g._data.shape != shape:
                raise RuntimeError(
                    f"Function {node.name()} returned an invalid gradient at index {i} - got "
                    f"{list(grads[i].shape)} but expected shape compatible with {list(shape)}"
                )
        if g._dtype is not dtype:
            g = g.to(dtype)
        if g._device is not device and g._device != device:
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index {i} - expected "
                f"device {device} but got {g._device}"
            )
        out[i] = g
    return out


def _accumulate(buf, idx, g):
    cur = buf[idx]
    buf[idx] = g if cur is None else cur + g


def _collect(root_nodes):
    """All nodes reachable from the roots, and each node's consumer count."""
    deps = {}
    stack = list(root_nodes)
    seen = set(stack)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen, deps


def _needed_nodes(nodes, targets):
    """Nodes from which some target node can be reached (the others need not run)."""
    parents = {}
    for node in nodes:
        for nxt, _ in node.next_functions:
            if nxt is not None:
                parents.setdefault(nxt, []).append(node)
    needed = set(targets)
    stack = list(targets)
    while stack:
        n = stack.pop()
        for p in parents.get(n, ()):
            if p not in needed:
                needed.add(p)
                stack.append(p)
    return needed


def run_backward(
    roots, grad_roots, retain_graph, create_graph, targets=None, allow_unused=False, accumulate=True
):
    """Backpropagate ``grad_roots`` from ``roots``.

    ``targets``: tensors whose gradients are returned instead of accumulated (``autograd.grad``),
    or, with ``accumulate=True``, the only leaves that accumulate (``backward(inputs=...)``).
    """
    edges = []
    for i, r in enumerate(roots):
        if not r.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        edges.append(r._grad_edge())
    root_nodes = {e[0] for e in edges}
    nodes, deps = _collect(root_nodes)

    capture = None
    needed = None
    if targets is not None:
        capture = {}
        target_nodes = []
        for k, t in enumerate(targets):
            if not t.requires_grad:
                raise RuntimeError(f"element {k} of the input tensors does not require grad")
            edge = t._grad_edge()
            capture.setdefault(edge, []).append(k)
            target_nodes.append(edge[0])
        needed = _needed_nodes(nodes, target_nodes)
        # only count consumers that will actually run
        deps = {}
        for node in needed:
            for nxt, _ in node.next_functions:
                if nxt is not None and nxt in needed:
                    deps[nxt] = deps.get(nxt, 0) + 1

    buffers = {}
    for (node, nr), g in zip(edges, grad_roots):
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * _n_outputs(node)
        _accumulate(buf, nr, g)

    results = [None] * len(targets) if targets is not None else None
    heap = [(-n._seq, id(n), n) for n in root_nodes if deps.get(n, 0) == 0]
    heapq.heapify(heap)
    prev_mode = STATE.enabled
    STATE.enabled = bool(create_graph)
    try:
        while heap:
            _, _, node = heapq.heappop(heap)
            grads = buffers.pop(node, None)
            if grads is None:
                grads = [None] * _n_outputs(node)
            if node._pre_hooks:
                for nr, hooks in node._pre_hooks.items():
                    for hook in list(hooks):
                        if grads[nr] is not None:
                            new = hook(grads[nr])
                            if new is not None:
                                grads[nr] = new
            if node._retain_hooks:
                for nr, ref in node._retain_hooks.items():
                    t = ref()
                    if t is not None and grads[nr] is not None:
                        g = grads[nr] if create_graph else grads[nr].detach()
                        t.grad = g if t.grad is None else t.grad + g
            if capture is not None:
                for nr in range(len(grads)):
                    ks = capture.get((node, nr))
                    if ks:
                        for k in ks:
                            results[k] = grads[nr]
            if needed is not None and node not in needed:
                continue
            if node._is_accumulate:
                if accumulate and (capture is None or (node, 0) in capture):
                    _accumulate_leaf(node, grads[0], create_graph)
                continue
            if (
                not accumulate
                and capture is not None
                and all((nxt is None or nxt not in needed) for nxt, _ in node.next_functions)
            ):
                continue
            in_grads = _apply_node(node, grads, create_graph)
            if not retain_graph:
                node._release()
            seen_ids = set()
            for (nxt, nr), g in zip(node.next_functions, in_grads):
                if nxt is None:
                    continue
                if needed is not None and nxt not in needed:
                    continue
                if g is not None:
                    if id(g) in seen_ids:  # the same tensor sent two ways must not alias
                        g = g.clone()
                    seen_ids.add(id(g))
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * _n_outputs(nxt)
                    _accumulate(buf, nr, g)
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    heapq.heappush(heap, (-nxt._seq, id(nxt), nxt))
    finally:
        STATE.enabled = prev_mode
    if accumulate and results is not None:  # backward(inputs=[non_leaf]) fills its .grad too
        for t, g in zip(targets, results):
            if t.grad_fn is not None and g is not None:
                g = g if create_graph else g.detach()
                t._grad = g if t._grad is None else t._grad + g
    if results is not None and not allow_unused:
        for r in results:
            if r is None:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior."
                )
    return results


def _n_outputs(node) -> int:
    meta = getattr(node, "_output_meta", None)
    return len(meta) if meta else 1


def _apply_node(node, grads, create_graph):
    fn = node._fn
    if fn is None:
        raise RuntimeError(getattr(node, "_msg", f"{node.name()} cannot be differentiated"))
    if node.materialize_grads:
        from ..ops.creation import zeros

        for i, g in enumerate(grads):
            if g is None and node._output_meta[i] is not None:
                shape, dtype, device = node._output_meta[i]
                grads[i] = zeros(shape, dtype=dtype, device=device)
    if node._node_pre_hooks:
        for hook in node._node_pre_hooks:
            new = hook(tuple(grads))
            if new is not None:
                grads = list(new)
    res = fn.backward(node, *grads)
    if not isinstance(res, tuple):
        res = (res,)
    res = _validate(node, res)
    if node._node_hooks:
        for hook in node._node_hooks:
            new = hook(tuple(res), tuple(grads))
            if new is not None:
                res = list(new)
    if ANOMALY.enabled and ANOMALY.check_nan:
        _check_nan(node, res)
    return res


def _check_nan(node, res):
    for i, g in enumerate(res):
        if g is not None and g._dtype.is_floating_point and bool(g.isnan().any()):
            stack = "".join(node._stack or ["(forward traceback not recorded)\n"])
            warnings.warn(
                f"Error detected in {node.name()}. Traceback of forward call that caused the "
                f"error:\n{stack}",
                stacklevel=2,
            )
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th output.")


def _accumulate_leaf(node, g, create_graph):
    if g is None:
        return
    var = node.variable
    if node._pre_hooks:
        pass  # leaf hooks already ran as pre-hooks of this node
    if not create_graph:
        g = g.detach()
    if var.grad is None:
        var.grad = g
    else:
        var.grad = var.grad + g
    if node._post_hooks:
        for hook in list(node._post_hooks):
            hook(var)
    if node._node_hooks:
        for hook in node._node_hooks:
            hook(var)


def _is_finite(x: float) -> bool:
    return math.isfinite(x)
