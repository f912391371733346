"""OpenCL GEMM vs numpy's BLAS (and torch, tinygrad, when installed) on the same machine, same run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/opencl_gemm.py

OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when it loads; the script re-executes
itself without them (unless --keep-openblas-env) so numpy's BLAS runs with its own tuning,
and sets POCL_AFFINITY=1 (as the OpenCL backend does) unless the caller set it.

Each case: GFLOP/s of ``deepforge.backends.opencl.gemm.matmul`` (timed with queue.finish()
before and after, min over at least --repeat runs after --warmup, and over as many more as fill
--min-time seconds, so that a 10 ms and a 100 ms contender are sampled over the same window of
a machine shared with other processes), of numpy's matmul on the same host arrays (likewise),
and their ratio (df/np). Each contender runs as one block after a --pause: runs
are not interleaved, because OpenBLAS's (and torch's OpenMP) threads keep spinning for a
while after a call and steal the cores from whatever runs next.

tinygrad (optional, not a dependency: ``pip install tinygrad``) runs on its own OpenCL
backend ("CL"; "GPU" in tinygrad < 0.10.3) on the same OpenCL device, for the square sizes in
--tinygrad-sizes: ``x @ y`` realized inside a ``TinyJit`` function (tinygrad's fast path for
repeated calls: the kernel is compiled on the first calls, then replayed without re-scheduling),
with the device synchronized before and after each call, min over the same runs after
max(--warmup, 2) warm-up calls (the JIT captures on the second call). Its kernels use
tinygrad's default optimizer; --tinygrad-beam N turns on its BEAM kernel search (slow).
df/tg is deepforge's GF/s over tinygrad's. The column says "not installed" when tinygrad
can't be imported; --no-tinygrad skips it.

``--per-core`` is for shared, loaded machines, where wall-clock GFLOP/s mostly measure the
neighbours: one thread each (POCL_MAX_PTHREAD_COUNT=1, OPENBLAS_NUM_THREADS=1, torch 1) and
*process CPU time* instead of wall time, i.e. GFLOP per CPU-second of one core. (Only
meaningful single-threaded: multi-threaded BLAS spin-waits, which CPU time would count.)
"""

from __future__ import annotations

import argparse
import os
import sys

_OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="256,512,1000,1024,2048", help="square sizes n (n x n x n)")
    p.add_argument("--batched", default="32x128x128x128", help="BxMxKxN batched case ('' = off)")
    p.add_argument("--transposed", type=int, default=1024, help="n of the A.mT @ B.mT case (0=off)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--variant", default=None, choices=["packed", "tiled", "naive"])
    p.add_argument("--repeat", type=int, default=7, help="timed runs per contender, at least")
    p.add_argument(
        "--min-time", type=float, default=1.0,
        help="...and more runs until their total reaches this many seconds",
    )  # fmt: skip
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--pause", type=float, default=0.3, help="seconds of rest between contenders")
    p.add_argument("--torch", action="store_true", help="also time torch.matmul on the CPU")
    p.add_argument("--no-tinygrad", action="store_true", help="skip the tinygrad column")
    p.add_argument(
        "--tinygrad-sizes", default="1024,2048", help="square sizes n timed with tinygrad"
    )
    p.add_argument("--tinygrad-beam", type=int, default=0, help="tinygrad BEAM search width")
    p.add_argument("--keep-openblas-env", action="store_true")
    p.add_argument(
        "--per-core", action="store_true", help="one thread each, timed in process CPU time"
    )
    return p.parse_args()


def _clean_env(args):
    if args.per_core:  # before numpy / pyopencl load their thread pools
        for v in ("POCL_MAX_PTHREAD_COUNT", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            os.environ[v] = "1"
    if args.keep_openblas_env or not any(v in os.environ for v in _OPENBLAS_VARS):
        return
    env = {k: v for k, v in os.environ.items() if k not in _OPENBLAS_VARS}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def _best_time(run, timed, repeat, min_time):
    """The minimum over at least ``repeat`` runs that together take at least ``min_time``
    seconds: a fast contender is sampled over as long a window as a slow one, so a burst of
    load from other processes cannot cover all of its runs while sparing the other's."""
    times = []
    while len(times) < repeat or sum(times) < min_time:
        times.append(timed(run))
    return min(times)


def _upload(rt, x, shape=None, strides=None):
    """A CLArray holding host array ``x`` (optionally viewed with other shape/strides)."""
    from deepforge.backends.opencl.array import CLArray

    arr = CLArray.empty(rt, x.shape, x.dtype)
    rt.cl.enqueue_copy(rt.queue, arr.buf, x, is_blocking=True)
    if shape is None:
        return arr
    return CLArray(rt, arr.buf, shape, strides, 0, x.dtype)


def _tinygrad(cl_device_name, beam):
    """(tinygrad module, its Device object for the OpenCL backend, description) or None + why."""
    if beam:
        os.environ["BEAM"] = str(beam)  # tinygrad reads it at import
    try:
        import tinygrad
    except ImportError:
        return None, "not installed"
    from importlib.metadata import version

    last = "no OpenCL backend"
    for name in ("CL", "GPU"):  # tinygrad >= 0.10.3 calls its OpenCL backend "CL", before "GPU"
        try:
            dev = tinygrad.Device[name]
        except Exception as e:  # backend missing in this version, or no OpenCL device
            last = f"{name}: {type(e).__name__}: {e}"
            continue
        module = type(dev).__module__
        if module.rsplit(".", 1)[-1] not in ("ops_cl", "ops_gpu"):
            last = f"{name} is {module}, not OpenCL"
            continue
        used = getattr(dev, "device_name", "?").strip()
        desc = (f"tinygrad {version('tinygrad')}: device {name!r} ({module}) on OpenCL device "
                f"{used!r}, TinyJit, BEAM={beam}")  # fmt: skip
        if used != cl_device_name:
            desc += f" -- WARNING: not the device deepforge uses ({cl_device_name!r})"
        return (tinygrad, name, dev), desc
    return None, f"unavailable ({last})"


def main():
    args = _parse()
    _clean_env(args)
    os.environ.setdefault("POCL_AFFINITY", "1")
    try:
        import deepforge  # noqa: F401
    except ImportError:  # not installed: run from the source tree
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

    import time

    import numpy as np

    from deepforge.backends.opencl import gemm
    from deepforge.backends.opencl.runtime import devices, get_runtime

    if not devices():
        sys.exit("no usable OpenCL device")
    rt, upload = get_runtime(0), _upload
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)

    torch = None
    if args.torch:
        try:
            import torch
        except ImportError:
            print("torch not installed: --torch ignored")

    try:
        import threadpoolctl

        blas = threadpoolctl.threadpool_info()
        blas = [f"{b['internal_api']} {b.get('version')} {b.get('architecture')} "
                f"threads={b['num_threads']}" for b in blas if b["user_api"] == "blas"]  # fmt: skip
    except Exception:  # pragma: no cover - optional
        blas = []
    tg, tg_desc = None, "skipped"
    if not args.no_tinygrad:
        tg, tg_desc = _tinygrad(rt.device.name.strip(), args.tinygrad_beam)
    tg_cases = {f"{n}x{n}x{n}" for n in (int(x) for x in args.tinygrad_sizes.split(",") if x)}
    env_state = ", ".join(f"{v}={os.environ.get(v, '<unset>')}" for v in _OPENBLAS_VARS)
    print("command: " + " ".join(["python", *sys.argv]))
    print(f"device: {rt.device.name.strip()} ({rt.device.platform.name.strip()})")
    print(f"numpy {np.__version__} BLAS: {'; '.join(blas) or 'unknown'}")
    print(f"tinygrad: {tg_desc}")
    print(f"env: {env_state}, POCL_AFFINITY={os.environ.get('POCL_AFFINITY')}")
    if args.per_core:
        print("per-core mode: 1 thread each, GFLOP per CPU-second (process_time)")
    else:
        print(f"load average before the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"dtype {dtype}, variant {args.variant or 'auto'}, min of >= {args.repeat} runs "
          f"filling >= {args.min_time} s, after {args.warmup} warm-up runs")  # fmt: skip

    cases = []
    for n in [int(s) for s in args.sizes.split(",") if s]:
        a, b = rng.standard_normal((n, n), dtype), rng.standard_normal((n, n), dtype)
        cases.append((f"{n}x{n}x{n}", a, b, upload(rt, a), upload(rt, b), 2 * n**3))
    if args.batched:
        bs, m, k, n = (int(x) for x in args.batched.split("x"))
        a, b = rng.standard_normal((bs, m, k), dtype), rng.standard_normal((bs, k, n), dtype)
        cases.append((f"batched {bs}x{m}x{k}x{n}", a, b, upload(rt, a), upload(rt, b),
                      2 * bs * m * n * k))  # fmt: skip
    if args.transposed:
        n = args.transposed
        at, bt = rng.standard_normal((n, n), dtype), rng.standard_normal((n, n), dtype)
        # A = at.mT, B = bt.mT: views with strides (1, n), read in place
        da = upload(rt, at, (n, n), (1, n))
        db = upload(rt, bt, (n, n), (1, n))
        cases.append((f"A.mT @ B.mT {n}", at.T, bt.T, da, db, 2 * n**3))

    clock = time.process_time if args.per_core else time.perf_counter
    if torch is not None and args.per_core:
        torch.set_num_threads(1)

    def timed(fn):
        t0 = clock()
        fn()
        return clock() - t0

    head = f"{'case':<24}{'OpenCL GF/s':>12}{'numpy GF/s':>12}{'df/np':>8}"
    if torch is not None:
        head += f"{'torch GF/s':>12}"
    if not args.no_tinygrad:
        head += f"{'tinygrad GF/s':>15}{'df/tg':>8}"
    print(head)
    print("-" * len(head))
    for name, a, b, da, db, flops in cases:

        def run_cl(da=da, db=db):
            rt.queue.finish()
            gemm.matmul(rt, da, db, dtype, variant=args.variant)
            rt.queue.finish()

        def run_np(a=a, b=b):
            np.matmul(a, b)

        runners = [run_cl, run_np]
        if torch is not None:
            ta, tb = (
                torch.from_numpy(np.ascontiguousarray(a)),
                torch.from_numpy(np.ascontiguousarray(b)),
            )
            if name.startswith("A.mT"):
                ta = torch.from_numpy(np.ascontiguousarray(a.T)).mT
                tb = torch.from_numpy(np.ascontiguousarray(b.T)).mT
            runners.append(lambda ta=ta, tb=tb: torch.matmul(ta, tb))
        warmups = [args.warmup] * len(runners)
        if tg is not None and name in tg_cases:
            tinygrad, tg_name, tg_dev = tg
            xa = tinygrad.Tensor(np.ascontiguousarray(a), device=tg_name).realize()
            xb = tinygrad.Tensor(np.ascontiguousarray(b), device=tg_name).realize()
            mm = tinygrad.TinyJit(lambda x, y: (x @ y).realize())

            def run_tg(mm=mm, xa=xa, xb=xb, sync=tg_dev.synchronize):
                sync()
                mm(xa, xb)
                sync()

            runners.append(run_tg)
            warmups.append(max(args.warmup, 2))  # 1st call runs + compiles, 2nd is captured
        else:
            mm = None
        best = []
        for r, warmup in zip(runners, warmups):
            # each contender in its own block, after a pause: BLAS and OpenMP worker threads
            # spin for a while after a call and would slow down whatever runs right after
            time.sleep(args.pause)
            for _ in range(warmup):
                r()
            best.append(_best_time(r, timed, args.repeat, args.min_time))
        if mm is not None:  # the replayed JIT computes the product (a timing of no work is no use)
            ref = np.matmul(a, b)
            err = np.abs(mm(xa, xb).numpy() - ref).max() / np.abs(ref).max()
            if not err < 1e-3:
                print(f"WARNING: tinygrad's {name} result is off by {err:.2e} (relative)")
        gf = [flops / t / 1e9 for t in best]
        line = f"{name:<24}{gf[0]:>12.1f}{gf[1]:>12.1f}{gf[0] / gf[1]:>8.2f}"
        if torch is not None:
            line += f"{gf[2]:>12.1f}"
        if args.no_tinygrad:
            pass
        elif tg is None:
            line += f"{'not installed' if tg_desc == 'not installed' else 'n/a':>15}{'-':>8}"
        elif name in tg_cases:
            line += f"{gf[-1]:>15.1f}{gf[0] / gf[-1]:>8.1f}"
        else:
            line += f"{'-':>15}{'-':>8}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
