"""DataLoader overhead in a training epoch: an MLP 784-256-128-10 (ReLU, cross-entropy, SGD
with momentum) on an in-memory data set, batches fetched

  * ``slices``  by contiguous slicing ``X[i:i+B]`` (no shuffling, no copy: the floor),
  * ``manual``  by indexing with a shuffled permutation ``X[perm[i:i+B]]`` (what a hand-written
                shuffling loop does),
  * ``loader``  by ``DataLoader(TensorDataset(X, Y), batch_size=B, shuffle=True)``,

and ``fetch`` / ``mfetch`` time the ``loader`` / ``manual`` batches alone (no training). The
target is ``loader`` within 10% of ``manual``. Variants run interleaved, ``--repeat`` times
each; the median is reported. ``--clock cpu`` (the default) measures the process's CPU time,
which other processes on a busy machine do not inflate; ``--clock wall`` measures wall time.

    python benchmarks/dataloader.py [--n 60000] [--batch-sizes 64 512] [--repeat 5]
    python benchmarks/dataloader.py --framework torch     # the same measurement with PyTorch
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def run(args) -> list[dict]:
    if args.framework == "torch":
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        torch.set_num_threads(args.threads)
    else:
        import deepforge as torch
        from deepforge.utils.data import DataLoader, TensorDataset

        torch.set_num_threads(args.threads)
    nn = torch.nn

    torch.manual_seed(0)
    X = torch.randn(args.n, 784)
    Y = torch.randint(0, 10, (args.n,))
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step(xb, yb):
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()

    def batches(kind, bs):
        if kind == "slices":
            for i in range(0, args.n, bs):
                yield X[i:i + bs], Y[i:i + bs]
        elif kind == "manual":
            perm = torch.randperm(args.n)
            for i in range(0, args.n, bs):
                idx = perm[i:i + bs]
                yield X[idx], Y[idx]
        else:
            yield from DataLoader(TensorDataset(X, Y), batch_size=bs, shuffle=True)

    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    def epoch(kind, bs, train=True):
        t0 = clock()
        for xb, yb in batches(kind, bs):
            if train:
                step(xb, yb)
        return clock() - t0

    rows = []
    for bs in args.batch_sizes:
        epoch("loader", bs)  # warm-up
        times = {k: [] for k in ("slices", "manual", "loader", "fetch", "mfetch")}
        for _ in range(args.repeat):
            for kind in ("slices", "manual", "loader"):
                times[kind].append(epoch(kind, bs))
            times["fetch"].append(epoch("loader", bs, train=False))
            times["mfetch"].append(epoch("manual", bs, train=False))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append({"batch": bs, **med,
                     "overhead_vs_manual": med["loader"] / med["manual"] - 1,
                     "overhead_vs_slices": med["loader"] / med["slices"] - 1})
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--framework", choices=("deepforge", "torch"), default="deepforge")
    p.add_argument("--n", type=int, default=60000, help="samples in the data set")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 512])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                   help="process CPU time (robust on a busy machine) or wall time")
    p.add_argument("--threads", type=int, default=1,
                   help="threads for the framework and BLAS (set before BLAS loads)")
    args = p.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))  # before numpy loads BLAS
    rows = run(args)
    print(f"{args.framework}: MLP 784-256-128-10, {args.n} samples, {args.threads} threads, "
          f"median of {args.repeat} epochs ({args.clock} seconds)")
    print(f"{'batch':>6} {'slices':>8} {'manual':>8} {'loader':>8} {'fetch':>8} {'mfetch':>8} "
          f"{'loader/manual':>14} {'loader/slices':>14}")
    for r in rows:
        print(f"{r['batch']:>6} {r['slices']:8.3f} {r['manual']:8.3f} {r['loader']:8.3f} "
              f"{r['fetch']:8.3f} {r['mfetch']:8.3f} {r['overhead_vs_manual']:+13.1%} "
              f"{r['overhead_vs_slices']:+13.1%}")
    return rows


if __name__ == "__main__":
    main()
