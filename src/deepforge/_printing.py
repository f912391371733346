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
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = (
            4,
            1000,
            3,
            80,
        )
    elif profile == "short":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = (
            2,
            1000,
            2,
            80,
        )
    elif profile == "full":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = (
            4,
            float("inf"),
            3,
            80,
        )
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
    """PyTorch's ``_Formatter``: one width and style (int-like, fixed, scientific) for all
    values."""
    p = PRINT_OPTS.precision
    flat = a.reshape(-1)
    if a.dtype.kind not in "fc":
        width = max((len(str(v)) for v in flat.tolist()), default=1)
        return (lambda v: str(v).rjust(width)), width
    vals = flat.astype(np.float64)
    finite = vals[np.isfinite(vals) & (vals != 0)]
    int_mode, sci, width = True, False, 1
    if finite.size:
        mx, mn = np.abs(finite).max(), np.abs(finite).min()
        int_mode = bool(np.all(finite == np.ceil(finite)))
        if int_mode:
            sci = mx / mn > 1000.0 or mx > 1.0e8
        else:
            sci = mx / mn > 1000.0 or mx > 1.0e8 or mn < 1.0e-4
        if sci:
            width = max(len(f"{v:.{p}e}") for v in finite.tolist())
        elif int_mode:
            width = max(len(f"{v:.0f}") + 1 for v in finite.tolist())
        else:
            width = max(len(f"{v:.{p}f}") for v in finite.tolist())
    if PRINT_OPTS.sci_mode is not None:
        sci = PRINT_OPTS.sci_mode

    def fmt(v):
        if sci:
            r = f"{v:{width}.{p}e}"
        elif int_mode:
            r = f"{v:.0f}" + ("" if np.isinf(v) or np.isnan(v) else ".")
        else:
            r = f"{v:.{p}f}"
        return r.rjust(width)

    return fmt, width


def _format(a: np.ndarray, fmt, indent: int, summarize: bool, width: int) -> str:
    if a.ndim == 0:
        return fmt(a.item())
    e = PRINT_OPTS.edgeitems
    if a.ndim == 1:
        if summarize and a.shape[0] > 2 * e:
            items = [fmt(v) for v in a[:e].tolist()] + [" ..."] + [fmt(v) for v in a[-e:].tolist()]
        else:
            items = [fmt(v) for v in a.tolist()]
        per_line = max(1, int((PRINT_OPTS.linewidth - indent) // (width + 2)))
        lines = [", ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(a.shape[0])
    if summarize and a.shape[0] > 2 * e:
        rows = list(range(e)) + [None] + list(range(a.shape[0] - e, a.shape[0]))
    parts = [
        ("..." if r is None else _format(a[r], fmt, indent + 1, summarize, width)) for r in rows
    ]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def _summarized(a: np.ndarray) -> np.ndarray:
    """The values that will be printed (edge items of every dimension)."""
    e = PRINT_OPTS.edgeitems
    for d in range(a.ndim):
        if a.shape[d] > 2 * e:
            a = np.concatenate(
                [np.take(a, range(e), d), np.take(a, range(a.shape[d] - e, a.shape[d]), d)], d
            )
    return a


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
        fmt, width = _formatter(_summarized(data) if summarize else data)
        body = _format(data, fmt, len("tensor("), summarize, width)
    if t._device.type != "cpu":
        suffix.insert(0, f"device='{t._device}'")
    default_float = dt.get_default_dtype()
    if t._dtype not in (default_float, dt.int64, dt.bool_) or (
        data.size == 0 and t._dtype is not default_float
    ):
        suffix.append(f"dtype={t._dtype!r}")
    if t.grad_fn is not None:
        suffix.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._rg:
        suffix.append("requires_grad=True")
    prefix = "Parameter containing:\n" if type(t).__name__ == "Parameter" else ""
    out = "tensor(" + body
    last = len(out) - out.rfind("\n") + 1
    for sfx in suffix:  # PyTorch's _add_suffixes: wrap a suffix that would pass the line width
        if last + len(sfx) + 2 > PRINT_OPTS.linewidth:
            out += ",\n" + " " * len("tensor(") + sfx
            last = len("tensor(") + len(sfx)
        else:
            out += ", " + sfx
            last += len(sfx) + 2
    return prefix + out + ")"
