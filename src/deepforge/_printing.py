"""``repr`` of tensors in PyTorch's layout (``tensor([[1., 2.], ...], dtype=..., grad_fn=...)``)."""

from __future__ import annotations

import numpy as np

__all__ = ["tensor_repr", "set_printoptions", "PRINT_OPTS"]


class _PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


PRINT_OPTS = _PrintOptions


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None) -> None:
    if profile == "default":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, 1000, 3, 80
    elif profile == "short":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 2, 1000, 2, 80
    elif profile == "full":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 4, float("inf"), 3, 80
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def _formatter(a: np.ndarray):
    p = PRINT_OPTS.precision
    if a.dtype == np.bool_:
        return lambda v: "True" if v else "False"
    if a.dtype.kind in "iu":
        width = max((len(str(v)) for v in a.reshape(-1)), default=1)
        return lambda v: str(v).rjust(width)
    finite = a[np.isfinite(a)].astype(np.float64)
    nonzero = np.abs(finite[finite != 0])
    int_mode = finite.size == 0 or np.all(finite == np.round(finite))
    sci = False
    if nonzero.size:
        mx, mn = nonzero.max(), nonzero.min()
        if PRINT_OPTS.sci_mode is not None:
            sci = PRINT_OPTS.sci_mode
        elif int_mode:
            sci = mx > 1e8
        else:
            sci = mx / mn > 1000.0 or mx > 1e8 or mn < 1e-4
    if sci:
        def fmt(v):
            return f"{v:.{p}e}" if np.isfinite(v) else str(v)
    elif int_mode:
        def fmt(v):
            return f"{v:.0f}." if np.isfinite(v) else str(v)
    else:
        def fmt(v):
            return f"{v:.{p}f}" if np.isfinite(v) else str(v)
    width = max((len(fmt(v)) for v in a.reshape(-1)), default=1)
    return lambda v: fmt(v).rjust(width)


def _format(a: np.ndarray, fmt, indent: int, summarize: bool) -> str:
    if a.ndim == 0:
        return fmt(a.item())
    e = PRINT_OPTS.edgeitems
    if a.ndim == 1:
        if summarize and a.shape[0] > 2 * e:
            items = [fmt(v) for v in a[:e]] + ["..."] + [fmt(v) for v in a[-e:]]
        else:
            items = [fmt(v) for v in a]
        # wrap like PyTorch at linewidth
        lines, cur = [], ""
        for i, s in enumerate(items):
            piece = s + ("," if i < len(items) - 1 else "")
            if cur and len(cur) + 1 + len(piece) + indent > PRINT_OPTS.linewidth:
                lines.append(cur)
                cur = piece
            else:
                cur = piece if not cur else cur + " " + piece
        lines.append(cur)
        return "[" + ("\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(a.shape[0])
    if summarize and a.shape[0] > 2 * e:
        rows = list(range(e)) + [None] + list(range(a.shape[0] - e, a.shape[0]))
    parts = [("..." if r is None else _format(a[r], fmt, indent + 1, summarize)) for r in rows]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def tensor_repr(t) -> str:
    from . import _dtype as dt

    data = t._backend().to_numpy(t._data)
    suffix = []
    summarize = data.size > PRINT_OPTS.threshold
    if data.size == 0:
        body = "[]"
        if data.shape != (0,):
            suffix.append(f"size={tuple(data.shape)}")
    else:
        fmt = _formatter(data)
        body = _format(data, fmt, len("tensor("), summarize)
    if t._device.type != "cpu":
        suffix.insert(0, f"device='{t._device}'")
    default_float = dt.get_default_dtype()
    if t._dtype not in (default_float, dt.int64, dt.bool_) or (data.size == 0 and t._dtype is not default_float):
        suffix.append(f"dtype={t._dtype!r}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._rg:
        suffix.append("requires_grad=True")
    prefix = "Parameter containing:\n" if type(t).__name__ == "Parameter" else ""
    return prefix + "tensor(" + body + ("" if not suffix else ", " + ", ".join(suffix)) + ")"
