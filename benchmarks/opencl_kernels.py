"""Kernel-by-kernel table of the OpenCL backend: one representative call per kernel family,
its achieved GB/s (or GFLOP/s for gemm and conv) and the same op on the CPU backend.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/opencl_kernels.py \\
        [--quick] [--device opencl:N] [--only SUBSTRING] [--no-cpu]

Each row: the median wall time of one call, the OpenCL queue drained before and after every
call (so launch and wait are included, as a user sees them), after warm-up calls that build
the kernels. GB/s = the op's minimum memory traffic (every input read once, every output
written once, 4-byte floats, 8-byte indices; the "bytes" column) over that time, so on a GPU
the column compares directly with the memory bandwidth; gemm and conv give GFLOP/s
(2 * multiply-adds). "cpu" is the same op on the CPU backend, "cpu/ocl" its time over the
OpenCL time (above 1: the OpenCL device is faster). --quick uses smaller sizes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from _harness import env_note, fmt_time  # noqa: E402

import deepforge as df  # noqa: E402
import deepforge.nn.functional as F  # noqa: E402

F32 = 4


def _cases(n, q):
    """(family, kernel, size, builder(device) -> callable, work, unit) rows; n elements for the
    memory-bound ops, q = 1 (full) or 4 (quick) scales the others down."""
    cols = 2048
    rows = n // cols
    b, c, hw = 16 // q, 64 // q, 56 // (2 if q > 1 else 1)
    nconv = b * c * hw * hw
    gm = 1024 // q
    nsort = (1 << 18) // q
    kg, dg = (1 << 16) // q, 64
    ln_rows = n // 1024
    ln_b, ln_k = 64, 256 // q  # a small linear layer: one launch (gemm_dot with its bias)
    ce_rows, ce_cls = 4096 // q, 1000  # log_softmax + nll forward, and their backward
    return [
        ("elementwise", "unary exp", f"{n}", lambda d: _u(d, n), 8 * n, "GB/s"),
        ("elementwise", "binary add", f"{n}", lambda d: _b(d, n), 12 * n, "GB/s"),
        ("elementwise", "broadcast add row", f"{rows}x{cols} + {cols}",
         lambda d: _bcast(d, rows, cols), 8 * n + 4 * cols, "GB/s"),
        ("copy", "transpose copy", f"{rows}x{cols}.t()", lambda d: _tcopy(d, rows, cols), 8 * n,
         "GB/s"),
        ("reduce", "sum all", f"{n}", lambda d: _red(d, (n,), "sum", None), 4 * n, "GB/s"),
        ("reduce", "max all", f"{n}", lambda d: _red(d, (n,), "amax", None), 4 * n, "GB/s"),
        ("reduce", "sum rows (dim=1)", f"{rows}x{cols}",
         lambda d: _red(d, (rows, cols), "sum", 1), 4 * n + 4 * rows, "GB/s"),
        ("reduce", "sum cols (dim=0)", f"{rows}x{cols}",
         lambda d: _red(d, (rows, cols), "sum", 0), 4 * n + 4 * cols, "GB/s"),
        ("reduce", "argmax rows", f"{rows}x{cols}",
         lambda d: _red(d, (rows, cols), "argmax", 1), 4 * n + 8 * rows, "GB/s"),
        ("softmax", "softmax rows", f"{n // 1000}x1000", lambda d: _softmax(d, n // 1000, 1),
         8 * (n // 1000) * 1000, "GB/s"),
        ("softmax", "softmax channels", f"{b}x{c}x{hw}x{hw} dim=1",
         lambda d: _softmax4(d, (b, c, hw, hw)), 8 * nconv, "GB/s"),
        ("scan", "cumsum rows", f"{rows}x{cols}", lambda d: _cumsum(d, rows, cols), 8 * n,
         "GB/s"),
        ("sort", "sort", f"{nsort}", lambda d: _sort(d, nsort), 16 * nsort, "GB/s"),
        ("index", "gather rows (index_select)", f"{kg} of {kg}x{dg}",
         lambda d: _gather(d, kg, dg), 8 * kg * dg + 8 * kg, "GB/s"),
        ("index", "scatter rows (index_add_)", f"{kg} into {kg // 4}x{dg}",
         lambda d: _scatter(d, kg, dg), 12 * kg * dg + 8 * kg, "GB/s"),
        ("random", "rand", f"{n}", lambda d: lambda: df.rand(n, device=d), 4 * n, "GB/s"),
        ("random", "randn", f"{n}", lambda d: lambda: df.randn(n, device=d), 4 * n, "GB/s"),
        ("gemm", "matmul", f"{gm}x{gm}x{gm}", lambda d: _mm(d, gm), 2 * gm**3, "GFLOP/s"),
        ("gemm", "linear x @ W.T + b", f"{ln_b}x{ln_k} -> {ln_k}",
         lambda d: _linear(d, ln_b, ln_k), 2 * ln_b * ln_k * ln_k, "GFLOP/s"),
        ("loss", "cross_entropy fwd+bwd", f"{ce_rows}x{ce_cls}", lambda d: _ce(d, ce_rows, ce_cls),
         12 * ce_rows * ce_cls, "GB/s"),
        ("conv", "conv2d 3x3", f"{b}x{c}x{hw}x{hw}, {c} out", lambda d: _conv(d, b, c, hw),
         2 * nconv * c * 9, "GFLOP/s"),
        ("pool", "max_pool2d 2x2", f"{b}x{c}x{hw}x{hw}", lambda d: _pool(d, (b, c, hw, hw)),
         F32 * nconv * 5 // 4, "GB/s"),
        ("norm", "batch_norm (train)", f"{b}x{c}x{hw}x{hw}",
         lambda d: _bn(d, (b, c, hw, hw)), 12 * nconv, "GB/s"),
        ("norm", "layer_norm", f"{ln_rows}x1024", lambda d: _ln(d, ln_rows, 1024), 8 * n,
         "GB/s"),
        ("optim", "adam step", f"{n}", lambda d: _opt(d, n, "adam"), 28 * n, "GB/s"),
        ("optim", "sgd momentum step", f"{n}", lambda d: _opt(d, n, "sgd"), 20 * n, "GB/s"),
    ]


# -- builders: inputs made once, the returned callable runs the op -----------------------------
def _u(d, n):
    x = df.rand(n, device=d)
    return lambda: x.exp()


def _b(d, n):
    x, y = df.rand(n, device=d), df.rand(n, device=d)
    return lambda: x + y


def _bcast(d, rows, cols):
    x, r = df.rand(rows, cols, device=d), df.rand(cols, device=d)
    return lambda: x + r


def _tcopy(d, rows, cols):
    x = df.rand(rows, cols, device=d)
    return lambda: x.t().contiguous()


def _red(d, shape, op, dim):
    x = df.rand(*shape, device=d)
    if op == "amax":
        return lambda: x.amax()
    return lambda: getattr(x, op)() if dim is None else getattr(x, op)(dim)


def _softmax(d, rows, dim):
    x = df.rand(rows, 1000, device=d)
    return lambda: x.softmax(dim)


def _softmax4(d, shape):
    x = df.rand(*shape, device=d)
    return lambda: x.softmax(1)


def _cumsum(d, rows, cols):
    x = df.rand(rows, cols, device=d)
    return lambda: x.cumsum(1)


def _sort(d, n):
    x = df.rand(n, device=d)
    return lambda: x.sort()


def _gather(d, k, dim):
    x = df.rand(k, dim, device=d)
    idx = df.randint(0, k, (k,), device=d)
    return lambda: x.index_select(0, idx)


def _scatter(d, k, dim):
    out = df.zeros(k // 4, dim, device=d)
    src = df.rand(k, dim, device=d)
    idx = df.randint(0, k // 4, (k,), device=d)
    return lambda: out.index_add_(0, idx, src)


def _mm(d, n):
    a, b = df.rand(n, n, device=d), df.rand(n, n, device=d)
    return lambda: a @ b


def _linear(d, rows, k):
    x, w, b = df.rand(rows, k, device=d), df.rand(k, k, device=d), df.rand(k, device=d)
    return lambda: F.linear(x, w, b)


def _ce(d, rows, classes):
    x = df.rand(rows, classes, device=d, requires_grad=True)
    t = df.randint(0, classes, (rows,), device=d)

    def run():
        x.grad = None
        with df.enable_grad():  # the table times ops under no_grad
            F.cross_entropy(x, t).backward()
        return x.grad

    return run


def _conv(d, b, c, hw):
    x = df.rand(b, c, hw, hw, device=d)
    w = df.rand(c, c, 3, 3, device=d)
    return lambda: F.conv2d(x, w, padding=1)


def _pool(d, shape):
    x = df.rand(*shape, device=d)
    return lambda: F.max_pool2d(x, 2)


def _bn(d, shape):
    x = df.rand(*shape, device=d)
    c = shape[1]
    rm, rv = df.zeros(c, device=d), df.ones(c, device=d)
    w, b = df.ones(c, device=d), df.zeros(c, device=d)
    return lambda: F.batch_norm(x, rm, rv, w, b, training=True)


def _ln(d, rows, cols):
    x = df.rand(rows, cols, device=d)
    w, b = df.ones(cols, device=d), df.zeros(cols, device=d)
    return lambda: F.layer_norm(x, (cols,), w, b)


def _opt(d, n, kind):
    p = df.nn.Parameter(df.rand(n, device=d))
    p.grad = df.rand(n, device=d)
    if kind == "adam":
        opt = df.optim.Adam([p], lr=1e-3, fused=True)
    else:
        opt = df.optim.SGD([p], lr=1e-3, momentum=0.9, fused=True)
    opt.step()  # creates the state (first steps take other paths)
    return opt.step


# -- timing --------------------------------------------------------------------------------
def _median_time(fn, sync, budget):
    """Median seconds of one call, queue drained around each; repeats fit about `budget` s."""
    with df.no_grad():
        fn()
        sync()
        t = time.perf_counter()
        fn()
        sync()
        est = time.perf_counter() - t
        ts = []
        for _ in range(max(3, min(30, int(budget / max(est, 1e-6))))):
            t = time.perf_counter()
            fn()
            sync()
            ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, shorter timing")
    ap.add_argument("--device", default="opencl:0", help="OpenCL device (opencl:N)")
    ap.add_argument("--only", default="", help="only rows whose kernel name contains this")
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU backend column")
    args = ap.parse_args()
    if not df.opencl.is_available():
        raise SystemExit("no OpenCL device")
    dev = df.device(args.device)
    idx = dev.index or 0
    sync = df.opencl.synchronize
    n = (1 << 20) if args.quick else (1 << 22)
    budget = 0.15 if args.quick else 0.4
    print(f"OpenCL device {dev}: {df.opencl.get_device_name(idx)}; {env_note()}")
    print(f"{'family':<12}{'kernel':<28}{'size':<26}{'opencl':>11}{'achieved':>17}"
          f"{'cpu':>11}{'cpu/ocl':>9}")
    t_start = time.perf_counter()
    for family, kernel, size, make, work, unit in _cases(n, 4 if args.quick else 1):
        if args.only and args.only not in kernel:
            continue
        t_cl = _median_time(make(dev), sync, budget)
        rate = work / t_cl / 1e9
        t_cpu = None if args.no_cpu else _median_time(make("cpu"), lambda: None, budget)
        cpu = f"{fmt_time(t_cpu):>11}{t_cpu / t_cl:9.2f}" if t_cpu else ""
        print(f"{family:<12}{kernel:<28}{size:<26}{fmt_time(t_cl):>11}"
              f"{rate:10.1f} {unit:<7}{cpu}", flush=True)
    print(f"({time.perf_counter() - t_start:.1f} s)")


if __name__ == "__main__":
    main()
