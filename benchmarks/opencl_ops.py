"""Time common ops on the OpenCL backend against the CPU backend.

    python benchmarks/opencl_ops.py [--repeats 20] [--n 4194304] [--overhead-only]

Each row: median wall time per op (the OpenCL queue is drained before and after timing), and
for the large elementwise ops the effective bandwidth. The "1-element" rows measure the
per-op overhead (Python dispatch + kernel launch): "queued" issues batches of ops back to back
with one wait per batch (a 1-element add, and a 1-element sum: a reduction kernel with a dozen
arguments), "launch+wait" waits for the device after every op; each is the best
and the median over many batches, since a shared machine makes single batches noisy. The
"pyopencl floor" row is a bare enqueue of a one-work-item kernel whose arguments were set
once: no deepforge code, so the least any OpenCL op can cost on this device. The CPU-time
line adds up every thread of the process, so it also counts what the driver's own threads
spend per op.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import deepforge as df


def _time(fn, repeats, sync):
    fn()
    sync()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def _batch(fn, sync, batch, cpu_times=None):
    """Per-op time (us) of ``batch`` ops issued back to back, the queue drained around them;
    the per-op CPU time of the whole process (every thread, the driver's included) is
    appended to ``cpu_times`` when given."""
    sync()
    c = time.process_time()
    t = time.perf_counter()
    for _ in range(batch):
        fn()
    sync()
    wall = (time.perf_counter() - t) / batch * 1e6
    if cpu_times is not None:
        cpu_times.append((time.process_time() - c) / batch * 1e6)
    return wall


def _floor_op():
    """A bare pyopencl enqueue of a one-work-item kernel on deepforge's own queue."""
    import pyopencl as cl
    import pyopencl._cl as _cl

    from deepforge.backends import get_backend

    rt = get_backend(df.device("opencl:0")).rt
    src = "__kernel void k(__global float* x, long n) { if (get_global_id(0) < n) x[0] += 1; }"
    k = cl.Kernel(cl.Program(rt.ctx, src).build(), "k")
    buf = rt.alloc(8)
    k.set_args(buf, np.int64(1))
    enqueue, q, g = _cl.enqueue_nd_range_kernel, rt.queue, (1,)
    return lambda: enqueue(q, k, g, None)


def overhead(rounds=40, batch=500):
    """The 1-element rows. Contenders take turns batch by batch, so a burst of load from
    elsewhere on the machine hits all of them alike."""
    cl_sync = df.opencl.synchronize
    a_cpu, a_cl = df.ones(1), df.ones(1, device="opencl")
    contenders = {
        "cpu queued": (lambda: a_cpu + a_cpu, lambda: None, batch),
        "opencl queued": (lambda: a_cl + a_cl, cl_sync, batch),
        "floor": (_floor_op(), cl_sync, batch),
        "cpu sum": (lambda: a_cpu.sum(), lambda: None, batch),
        "opencl sum": (lambda: a_cl.sum(), cl_sync, batch),
        "cpu launch+wait": (lambda: a_cpu + a_cpu, lambda: None, batch // 10),
        "opencl launch+wait": (lambda: (a_cl + a_cl, cl_sync()), lambda: None, batch // 10),
    }
    floor = contenders["floor"][0]
    contenders["floor launch+wait"] = (lambda: (floor(), cl_sync()), lambda: None, batch // 10)
    ts: dict = {k: [] for k in contenders}
    cpu_ts: dict = {k: [] for k in contenders}
    for fn, sync, _ in contenders.values():
        fn()
        sync()
    for _ in range(rounds):
        for k, (fn, sync, b) in contenders.items():
            ts[k].append(_batch(fn, sync, b, cpu_ts[k]))
    med = statistics.median

    def fmt(k):
        return f"best {min(ts[k]):6.2f}, median {med(ts[k]):6.2f} us/op"

    for d in ("cpu", "opencl"):
        print(f"1-element add on {d:<7}: queued {fmt(d + ' queued')}; "
              f"launch+wait {fmt(d + ' launch+wait')}")
    print(f"1-element sum, queued: cpu {fmt('cpu sum')}; opencl {fmt('opencl sum')}")
    print(f"pyopencl floor (bare enqueue)   : queued {fmt('floor')}; "
          f"launch+wait {fmt('floor launch+wait')}")
    print(f"CPU time per queued 1-element add, all threads (median): cpu "
          f"{med(cpu_ts['cpu queued']):.2f} us, opencl {med(cpu_ts['opencl queued']):.2f} us")
    cl, cpu = ts["opencl queued"], ts["cpu queued"]
    ratios = [c / p for c, p in zip(cl, cpu)]
    print(f"opencl / cpu, 1-element add queued: {min(cl) / min(cpu):.1f}x best to best, "
          f"{med(ratios):.1f}x median of the rounds' ratios")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--n", type=int, default=4 * 1024 * 1024)
    ap.add_argument("--overhead-only", action="store_true", help="only the 1-element rows")
    args = ap.parse_args()
    if not df.opencl.is_available():
        raise SystemExit("no OpenCL device")
    if args.overhead_only:
        overhead()
        return
    n = args.n
    print(f"OpenCL device: {df.opencl.get_device_name(0)}; n = {n}")
    print(f"{'op':<34}{'cpu':>12}{'opencl':>12}   opencl GB/s")
    for label, make, nbytes in [
        ("add (contiguous)", lambda d: (lambda x, y: lambda: x + y)(*_xy(d, n)), 12 * n),
        ("mul by scalar", lambda d: (lambda x, y: lambda: x * 2.5)(*_xy(d, n)), 8 * n),
        ("exp", lambda d: (lambda x, y: lambda: x.exp())(*_xy(d, n)), 8 * n),
        ("add broadcast (2048 x n/2048) + row", lambda d: _bcast(d, n), 8 * n),
        ("transpose copy (2048 x n/2048).t()", lambda d: _tcopy(d, n), 8 * n),
        ("sum (all)", lambda d: (lambda x, y: lambda: x.sum())(*_xy(d, n)), 4 * n),
        ("sum over rows (2048 x n/2048, dim=1)", lambda d: _rowsum(d, n, 1), 4 * n),
        ("sum over cols (2048 x n/2048, dim=0)", lambda d: _rowsum(d, n, 0), 4 * n),
        ("max (all)", lambda d: (lambda x, y: lambda: x.max())(*_xy(d, n)), 4 * n),
        ("softmax (n/1000 x 1000, dim=1)", lambda d: _softmax(d, n), 8 * n),
        ("sort 1M", lambda d: _sort(d), 0),
        ("rand", lambda d: lambda: df.rand(n, device=d), 4 * n),
    ]:
        row = []
        for d in ("cpu", "opencl"):
            fn = make(d)
            sync = df.opencl.synchronize if d == "opencl" else (lambda: None)
            row.append(_time(fn, args.repeats, sync))
        gbs = f"{nbytes / row[1] / 1e9:10.1f}" if nbytes else ""
        print(f"{label:<34}{row[0] * 1e3:10.3f}ms{row[1] * 1e3:10.3f}ms {gbs}")
    overhead()


def _xy(d, n):
    return df.rand(n, device=d), df.rand(n, device=d)


def _bcast(d, n):
    x = df.rand(2048, n // 2048, device=d)
    r = df.rand(n // 2048, device=d)
    return lambda: x + r


def _tcopy(d, n):
    x = df.rand(2048, n // 2048, device=d)
    return lambda: x.t().contiguous()


def _rowsum(d, n, dim):
    x = df.rand(2048, n // 2048, device=d)
    return lambda: x.sum(dim)


def _softmax(d, n):
    x = df.rand(n // 1000, 1000, device=d)
    return lambda: x.softmax(1)


def _sort(d):
    x = df.rand(1 << 20, device=d)
    return lambda: x.sort()


if __name__ == "__main__":
    main()
