"""Foundation benchmarks vs PyTorch on the same machine: per-op overhead and large ops.

env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/foundation.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _harness import env_note, print_table, timeit, torch_or_none  # noqa: E402

import deepforge as df  # noqa: E402


def overhead(torch):
    rows = []
    a, b = df.ones(1), df.ones(1)
    ref = None
    if torch:
        ta, tb = torch.ones(1), torch.ones(1)
        ref = timeit(lambda: ta + tb)
    rows.append(("a + b, 1 element, no grad", timeit(lambda: a + b), ref, 3.0))
    for name in ("sum", "mean"):  # small reductions (a loss, a bias gradient) per step
        f = getattr(a, name)
        ref = timeit(getattr(ta, name)) if torch else None
        rows.append((f"a.{name}(), 1 element, no grad", timeit(f), ref, 3.0))

    x = df.randn(16, requires_grad=True)
    w = df.randn(16, requires_grad=True)

    def step():
        y = (x * w + x).sum()
        y.backward()

    ref = None
    if torch:
        tx = torch.randn(16, requires_grad=True)
        tw = torch.randn(16, requires_grad=True)

        def tstep():
            y = (tx * tw + tx).sum()
            y.backward()

        ref = timeit(tstep)
    rows.append(("(a*b+a).sum().backward(), 16 elements", timeit(step), ref, 3.0))
    print_table(rows, "per-op overhead")


def large(torch, quick):
    rows = []
    sizes = [1024] if quick else [1024, 2048]
    for n in sizes:
        a = df.randn(n, n)
        b = df.randn(n, n)
        ref = None
        if torch:
            ta, tb = torch.from_numpy(a.numpy().copy()), torch.from_numpy(b.numpy().copy())
            ref = timeit(lambda: ta @ tb, repeat=5)  # noqa: B023 - called at once
        rows.append((f"matmul {n}x{n} float32", timeit(lambda: a @ b, repeat=5), ref, 1.2))  # noqa: B023
    x = df.randn(4096, 4096)
    tx = torch.from_numpy(x.numpy().copy()) if torch else None
    for label, f, tf in [
        ("sum 4096x4096 (all)", lambda: x.sum(), lambda: tx.sum()),
        ("sum 4096x4096 dim=0", lambda: x.sum(0), lambda: tx.sum(0)),
        ("sum 4096x4096 dim=1", lambda: x.sum(1), lambda: tx.sum(1)),
    ]:
        rows.append((label, timeit(f, repeat=5), timeit(tf, repeat=5) if torch else None, 1.2))
    v = df.randn(4 * 1024 * 1024)
    w = df.randn(4 * 1024 * 1024)
    tv = torch.from_numpy(v.numpy().copy()) if torch else None
    tw = torch.from_numpy(w.numpy().copy()) if torch else None
    for label, f, tf in [
        ("exp 4M float32", lambda: v.exp(), lambda: tv.exp()),
        ("relu 4M float32", lambda: v.relu(), lambda: tv.relu()),
        ("add 4M float32", lambda: v + w, lambda: tv + tw),
    ]:
        rows.append((label, timeit(f, repeat=5), timeit(tf, repeat=5) if torch else None, 1.2))
    print_table(rows, "large ops")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    torch = torch_or_none()
    print(
        f"deepforge {df.__version__}; torch {torch.__version__ if torch else 'not installed'}; "
        f"threads: torch {torch.get_num_threads() if torch else '-'}; {env_note()}"
    )
    overhead(torch)
    large(torch, args.quick)
    _ = np


if __name__ == "__main__":
    main()
