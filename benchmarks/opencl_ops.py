"""Time common ops on the OpenCL backend against the CPU backend.

    python benchmarks/opencl_ops.py [--repeats 20] [--n 4194304]

Each row: median wall time per op (the OpenCL queue is drained before and after timing), and
for the large elementwise ops the effective bandwidth. The "1-element" rows measure the
per-op overhead (Python dispatch + kernel launch); "launch+wait" adds the round trip of
waiting for the device after every op.
"""

from __future__ import annotations

import argparse
import statistics
import time

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


def _time_batch(fn, repeats, sync):
    """Per-op time of `repeats` ops issued back to back, one wait at the end."""
    fn()
    sync()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return (time.perf_counter() - t) / repeats


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--n", type=int, default=4 * 1024 * 1024)
    args = ap.parse_args()
    if not df.opencl.is_available():
        raise SystemExit("no OpenCL device")
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
    for d in ("cpu", "opencl"):
        a = df.ones(1, device=d)
        sync = df.opencl.synchronize if d == "opencl" else (lambda: None)
        t_batch = _time_batch(lambda a=a: a + a, 2000, sync)
        t_wait = _time(lambda a=a: a + a, 500, sync)
        print(f"1-element add on {d:<7}: {t_batch * 1e6:6.1f} us/op queued, "
              f"{t_wait * 1e6:6.1f} us/op launch+wait")


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
