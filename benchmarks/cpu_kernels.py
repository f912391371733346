"""Benchmark deepforge._core kernels against the NumPy compositions they replace.

    python benchmarks/cpu_kernels.py            # full sizes (e.g. 4096 x 4096 float32)
    python benchmarks/cpu_kernels.py --quick    # small sizes, few repeats
    python benchmarks/cpu_kernels.py --threads 1 --filter softmax

Prints: kernel, shape, numpy ms, cython ms, speedup (min of N runs after a warm-up).  The CPU
backend should route an op to _core only where the speedup is clearly > 1.
"""

import argparse
import importlib.util
import math
import pathlib
import time

import numpy as np


def load_core():
    try:
        from deepforge import _core

        return _core
    except Exception:  # package __init__ may be mid-edit: load the built extension directly
        pkg = pathlib.Path(__file__).resolve().parents[1] / "src" / "deepforge"
        built = sorted(pkg.glob("_core*.so")) + sorted(pkg.glob("_core*.pyd"))
        if not built:
            msg = "deepforge._core is not built: python setup.py build_ext --inplace"
            raise SystemExit(msg) from None
        spec = importlib.util.spec_from_file_location("deepforge._core", built[0])
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod


def best_ms(fn, repeat, clock=time.perf_counter):
    fn()  # warm-up (page faults, thread start-up)
    best = math.inf
    for _ in range(repeat):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best * 1e3


def cases(core, q):
    """Yield (kernel, shape, numpy_fn, cython_fn).  q: quick mode (smaller sizes)."""
    rng = np.random.default_rng(0)
    S = 1024 if q else 4096
    f32 = np.float32
    x = rng.standard_normal((S, S), dtype=f32)
    o_row, o_col = np.empty(S, f32), np.empty(S, f32)
    i_row, i_col = np.empty(S, np.int64), np.empty(S, np.int64)
    x_last, x_first = x.reshape(S, S, 1), x.reshape(1, S, S)
    shp = f"{S}x{S} f32"
    for ax, xv, o, i in ((1, x_last, o_row, i_row), (0, x_first, o_col, i_col)):
        o2, i2 = o.reshape(xv.shape[0], xv.shape[2]), i.reshape(xv.shape[0], xv.shape[2])
        yield (
            f"reduce_sum axis={ax}",
            shp,
            lambda a=ax, o=o: np.sum(x, a, out=o),
            lambda v=xv, o=o2: core.reduce_sum(v, o),
        )
        yield (
            f"reduce_max axis={ax}",
            shp,
            lambda a=ax, o=o: np.max(x, a, out=o),
            lambda v=xv, o=o2: core.reduce_max(v, o),
        )
        yield (
            f"argmax axis={ax}",
            shp,
            lambda a=ax, i=i: np.argmax(x, a, out=i),
            lambda v=xv, i=i2: core.argmax(v, i),
        )
        yield (
            f"reduce_var axis={ax}",
            shp,
            lambda a=ax: np.var(x, a, ddof=1),
            lambda v=xv, o=o2: core.reduce_var(v, o, 1.0),
        )

        def np_lse(a=ax):
            m = x.max(a, keepdims=True)
            return np.log(np.exp(x - m).sum(a)) + m.squeeze(a)

        yield f"logsumexp axis={ax}", shp, np_lse, lambda v=xv, o=o2: core.logsumexp(v, o)
    flat = x.reshape(1, -1, 1)
    o11 = np.empty((1, 1), f32)
    yield "reduce_sum all", f"{S * S} f32", x.sum, lambda: core.reduce_sum(flat, o11)
    yield "reduce_max all", f"{S * S} f32", x.max, lambda: core.reduce_max(flat, o11)
    yield "argmax all", f"{S * S} f32", x.argmax, lambda: core.argmax(flat, np.empty((1, 1), "i8"))

    # softmax family: rows (inner == 1) and columns (inner > 1)
    y, gy, gx = np.empty_like(x), rng.standard_normal((S, S), dtype=f32), np.empty_like(x)
    for ax, xv in ((1, x_last), (0, x_first)):
        yv, gyv, gxv = y.reshape(xv.shape), gy.reshape(xv.shape), gx.reshape(xv.shape)

        def np_softmax(a=ax):
            e = np.exp(x - x.max(a, keepdims=True))
            e /= e.sum(a, keepdims=True)
            return e

        def np_log_softmax(a=ax):
            z = x - x.max(a, keepdims=True)
            return z - np.log(np.exp(z).sum(a, keepdims=True))

        yield f"softmax axis={ax}", shp, np_softmax, lambda v=xv, o=yv: core.softmax(v, o)
        yield (
            f"log_softmax axis={ax}",
            shp,
            np_log_softmax,
            lambda v=xv, o=yv: core.log_softmax(v, o),
        )
        core.softmax(xv, yv)
        yield (
            f"softmax_backward axis={ax}",
            shp,
            lambda a=ax: y * (gy - (gy * y).sum(a, keepdims=True)),
            lambda yv=yv, g=gyv, o=gxv: core.softmax_backward(yv, g, o),
        )

    N, C = (1024, 1000) if q else (8192, 1000)
    logits = rng.standard_normal((N, C), dtype=f32)
    target = rng.integers(0, C, N)
    logp, loss, empty_w = np.empty((N, C), f32), np.empty(N, f32), np.empty(0, f32)

    def np_ce():
        z = logits - logits.max(1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -np.take_along_axis(lp, target[:, None], 1)[:, 0], lp

    yield (
        "log_softmax_nll",
        f"{N}x{C} f32",
        np_ce,
        lambda: core.log_softmax_nll(logits, target, empty_w, -100, logp, loss),
    )

    # scans
    c_out = np.empty_like(x)
    xi = rng.integers(-5, 5, (S, S))
    ci = np.empty_like(xi)
    for ax, xv in ((1, x_last), (0, x_first)):
        yield (
            f"cumsum axis={ax}",
            shp,
            lambda a=ax: np.cumsum(x, a, out=c_out),
            lambda v=xv: core.cumsum(v, c_out.reshape(v.shape)),
        )
        yield (
            f"cumsum int64 axis={ax}",
            f"{S}x{S} i64",
            lambda a=ax: np.cumsum(xi, a, out=ci),
            lambda a=ax: core.cumsum(
                xi.reshape(x_last.shape if a else x_first.shape),
                ci.reshape(x_last.shape if a else x_first.shape),
            ),
        )
        cidx = np.empty(xv.shape, np.int64)
        yield (
            f"cummax axis={ax} (np: values only)",
            shp,
            lambda a=ax: np.maximum.accumulate(x, a, out=c_out),
            lambda v=xv, i=cidx: core.cummax(v, c_out.reshape(v.shape), i),
        )
    yield (
        "cumsum all",
        f"{S * S} f32",
        lambda: np.cumsum(x.ravel(), out=c_out.ravel()),
        lambda: core.cumsum(flat, c_out.reshape(flat.shape)),
    )

    # index kernels
    V, D, K = (20000, 128, 20000) if q else (100000, 256, 100000)
    table = rng.standard_normal((V, D), dtype=f32)
    idx = rng.integers(0, V, K)
    sel = np.empty((K, D), f32)
    src = rng.standard_normal((K, D), dtype=f32)
    tv, sv = table.reshape(1, V, D), sel.reshape(1, K, D)
    yield (
        "index_select axis=0",
        f"{V}x{D}[{K}]",
        lambda: np.take(table, idx, 0, out=sel),
        lambda: core.index_select(tv, idx, sv),
    )
    yield (
        "index_add axis=0",
        f"{V}x{D}+{K}",
        lambda: np.add.at(table, idx, src),
        lambda: core.index_add(tv, idx, src.reshape(1, K, D), 1.0),
    )
    yield (
        "embedding_backward",
        f"{K}x{D}->{V}",
        lambda: np.add.at(table, idx, src),
        lambda: core.embedding_backward(idx, src, table, -1),
    )
    gidx = rng.integers(0, S, (S // 2, S))
    g_out = np.empty((S // 2, S), f32)
    gsrc = rng.standard_normal((S // 2, S), dtype=f32)
    gshape = f"{S}x{S} f32, idx {S // 2}x{S}"
    g3, go3, gs3 = (
        gidx.reshape(1, S // 2, S),
        g_out.reshape(1, S // 2, S),
        gsrc.reshape(1, S // 2, S),
    )
    yield (
        "gather axis=0",
        gshape,
        lambda: np.take_along_axis(x, gidx, 0),
        lambda: core.gather(x_first, g3, go3),
    )
    gT = np.ascontiguousarray(gidx.T)
    gT3, gT_out = gT.reshape(S, S // 2, 1), np.empty((S, S // 2, 1), f32)
    yield (
        "gather axis=1",
        f"{S}x{S} f32, idx {S}x{S // 2}",
        lambda: np.take_along_axis(x, gT, 1),
        lambda: core.gather(x_last, gT3, gT_out),
    )
    cols = np.arange(S)[None, :]
    yield (
        "scatter_add axis=0",
        gshape,
        lambda: np.add.at(x, (gidx, cols), gsrc),
        lambda: core.scatter_add(x_first, g3, gs3),
    )
    yield (
        "scatter axis=0",
        gshape,
        lambda: np.put_along_axis(x, gidx, gsrc, 0),
        lambda: core.scatter(x_first, g3, gs3),
    )

    # elementwise (1-D)
    n = 1 << (20 if q else 24)
    for dt in (np.float32, np.float64):
        v = (rng.standard_normal(n) * 3).astype(dt)
        g, out = rng.standard_normal(n).astype(dt), np.empty(n, dt)
        es = f"{n} {np.dtype(dt).name}"
        yield (
            "relu",
            es,
            lambda v=v, o=out: np.maximum(v, 0, out=o),
            lambda v=v, o=out: core.relu(v, o),
        )
        yield (
            "relu_backward",
            es,
            lambda v=v, g=g: np.where(v > 0, g, 0),
            lambda v=v, g=g, o=out: core.relu_backward(v, g, o),
        )
        yield "exp", es, lambda v=v, o=out: np.exp(v, out=o), lambda v=v, o=out: core.exp(v, o)
        yield "tanh", es, lambda v=v, o=out: np.tanh(v, out=o), lambda v=v, o=out: core.tanh(v, o)

        def np_sigmoid(v=v, o=out):
            np.negative(v, out=o)
            np.exp(o, out=o)
            o += 1
            return np.reciprocal(o, out=o)

        yield "sigmoid", es, np_sigmoid, lambda v=v, o=out: core.sigmoid(v, o)
        yield (
            "silu",
            es,
            lambda v=v: v * np_sigmoid(v, np.empty_like(v)),
            lambda v=v, o=out: core.silu(v, o),
        )
        yield (
            "silu_backward",
            es,
            lambda v=v, g=g: (lambda s: g * s * (1 + v * (1 - s)))(np_sigmoid(v, np.empty_like(v))),
            lambda v=v, g=g, o=out: core.silu_backward(v, g, o),
        )
        yield (
            "gelu (np: tanh approx.)",
            es,
            lambda v=v: 0.5 * v * (1 + np.tanh(0.7978845608 * (v + 0.044715 * v**3))),
            lambda v=v, o=out: core.gelu(v, o),
        )

        b = rng.standard_normal(n).astype(dt)
        yield "binary add", es, lambda v=v, b=b, o=out: np.add(v, b, out=o), \
            lambda v=v, b=b, o=out: core.binary("add", v, b, o)
        yield "binary mul scalar", es, lambda v=v, o=out, h=dt(0.5): np.multiply(v, h, out=o), \
            lambda v=v, o=out: core.binary_scalar("mul", v, 0.5, o)

    # max pooling with indices (2x2 stride 2, windows inside the plane)
    planes = (64 * 6, 28, 28) if q else (64 * 32, 56, 56)
    xp = rng.standard_normal((planes[0], 1) + planes[1:]).astype(f32)
    oh, ow = planes[1] // 2, planes[2] // 2
    yp, ip = np.empty((planes[0], oh * ow), f32), np.empty((planes[0], oh * ow), np.int64)

    def np_maxpool():
        w = xp.reshape(planes[0], oh, 2, ow, 2).transpose(0, 1, 3, 2, 4).reshape(-1, 4)
        a = w.argmax(1)
        return w[np.arange(w.shape[0]), a], a

    yield (
        "max_pool 2x2 s2 (+indices)",
        f"{planes[0]}x{planes[1]}x{planes[2]} float32",
        np_maxpool,
        lambda: core.max_pool(xp, yp, ip, (1,) + planes[1:], (1, 2, 2), (1, 1, 1), (0, 0, 0),
                              (1, 2, 2), (1, oh, ow)),
    )

    # optimiser steps (float32 params)
    P = 1 << (20 if q else 24)
    p, gr = rng.standard_normal(P, dtype=f32), rng.standard_normal(P, dtype=f32)
    m, vv, buf = np.zeros(P, f32), np.zeros(P, f32), np.zeros(P, f32)

    def np_sgd():
        gg = gr + 1e-4 * p
        buf[:] = 0.9 * buf + gg
        p[:] -= 0.01 * buf

    def np_adam(step=3, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=1e-2):
        p[:] *= 1 - lr * wd
        m[:] += (1 - b1) * (gr - m)
        vv[:] = b2 * vv + (1 - b2) * gr * gr
        denom = np.sqrt(vv) / math.sqrt(1 - b2**step) + eps
        p[:] -= lr / (1 - b1**step) * m / denom

    yield (
        "sgd_momentum_step",
        f"{P} f32",
        np_sgd,
        lambda: core.sgd_momentum_step(p, gr, buf, 0.01, 0.9, 0.0, 1e-4, False, False, False),
    )
    yield (
        "adam_step (AdamW)",
        f"{P} f32",
        np_adam,
        lambda: core.adam_step(
            p, gr, m, vv, np.empty(0, f32), 1e-3, 0.9, 0.999, 1e-8, 1e-2, True, False, False, 3
        ),
    )

    # random numbers (numpy: PCG64 Generator filling the same buffers)
    gen = np.random.default_rng(1)
    u32, u64, b32 = np.empty(n, f32), np.empty(n), np.empty(n, np.uint32)
    yield (
        "philox_uniform",
        f"{n} f32",
        lambda: gen.random(out=u32, dtype=f32),
        lambda: core.philox_uniform(1, 2, u32),
    )
    yield (
        "philox_uniform",
        f"{n} f64",
        lambda: gen.random(out=u64),
        lambda: core.philox_uniform(1, 2, u64),
    )
    yield (
        "philox_normal",
        f"{n} f32",
        lambda: gen.standard_normal(out=u32, dtype=f32),
        lambda: core.philox_normal(1, 2, u32),
    )
    yield (
        "philox_normal",
        f"{n} f64",
        lambda: gen.standard_normal(out=u64),
        lambda: core.philox_normal(1, 2, u64),
    )
    yield (
        "philox_bits",
        f"{n} u32",
        lambda: gen.integers(0, 2**32, n, dtype=np.uint32),
        lambda: core.philox_bits(1, 2, b32),
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes and 3 repeats")
    ap.add_argument("--repeat", type=int, default=None, help="timed runs per kernel (min is kept)")
    ap.add_argument("--threads", type=int, default=None, help="threads for the Cython kernels")
    ap.add_argument("--filter", default="", help="only kernels whose name contains this")
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: perf_counter; cpu: process CPU time (robust on a loaded machine, but sums the\n"
        "threads: use it with --threads 1 to compare per-core efficiency)",
    )
    args = ap.parse_args()
    core = load_core()
    if args.threads:
        core.set_num_threads(args.threads)
    repeat = args.repeat or (3 if args.quick else 10)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(
        f"deepforge._core: threads={core.num_threads()} openmp={core.have_openmp()} "
        f"simd_dispatch={core.simd_dispatch()} numpy={np.__version__} repeat={repeat} "
        f"clock={args.clock}"
    )
    hdr = f"{'kernel':<34} {'shape':<26} {'numpy ms':>10} {'cython ms':>10} {'speedup':>8}"
    print(hdr)
    print("-" * len(hdr))
    wins, losses = [], []
    for name, shape, np_fn, cy_fn in cases(core, args.quick):
        if args.filter not in name:
            continue
        with np.errstate(all="ignore"):
            t_np = best_ms(np_fn, repeat, clock)
            t_cy = best_ms(cy_fn, repeat, clock)
        sp = t_np / t_cy
        (wins if sp > 1.1 else losses).append(f"{name} [{shape}] x{sp:.2f}")
        print(f"{name:<34} {shape:<26} {t_np:>10.3f} {t_cy:>10.3f} {sp:>7.2f}x", flush=True)
    print(f"\nfaster than numpy (>1.1x): {len(wins)}; not faster: {len(losses)}")
    for line in losses:
        print("  not faster:", line)


if __name__ == "__main__":
    main()
