"""Sequence-layer benchmarks: LSTM / GRU stacks and a Transformer encoder layer, forward +
backward, against PyTorch on the CPU; the fused recurrent kernels against deepforge's own
reference path (the per-step Tensor-op composition the other backends run).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/sequence.py \
        [--quick] [--threads N] [--rounds R]

PyTorch runs with ``torch.set_num_threads`` equal to deepforge's thread count (``--threads N``
also sets numpy's BLAS to N threads through threadpoolctl). deepforge and
PyTorch are timed alternately (``--rounds`` rounds, each the best of a few repeats) and the
best time of each is kept, so a busy machine slows both alike.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from _harness import env_note, fmt_time, print_table, timeit, torch_or_none  # noqa: E402

import deepforge as df  # noqa: E402
from deepforge.ops._fused import reference_only  # noqa: E402


def rnn_case(lib, mode="LSTM", layers=2, hidden=256, seq=35, batch=20, inp=256, backward=True):
    """A ``mode`` stack over a (seq, batch, inp) input: forward (+ backward of the sum)."""
    lib.manual_seed(0)
    m = getattr(lib.nn, mode)(inp, hidden, layers)
    x = lib.randn(seq, batch, inp, requires_grad=backward)

    def run():
        if not backward:
            with lib.no_grad():
                m(x)
            return
        x.grad = None
        m.zero_grad()
        out, _ = m(x)
        out.sum().backward()
    return run


def encoder_case(lib, d_model=256, nhead=4, seq=128, batch=16, ff=1024):
    """TransformerEncoderLayer (batch_first, dropout 0.1, training mode) forward + backward."""
    lib.manual_seed(0)
    layer = lib.nn.TransformerEncoderLayer(d_model, nhead, ff, batch_first=True)
    x = lib.randn(batch, seq, d_model, requires_grad=True)

    def run():
        x.grad = None
        layer.zero_grad()
        layer(x).sum().backward()
    return run


def paired(ours, theirs, rounds, repeat):
    """Best seconds of each, timed alternately."""
    a = b = float("inf")
    for _ in range(rounds):
        a = min(a, timeit(ours, repeat=repeat))
        if theirs is not None:
            b = min(b, timeit(theirs, repeat=repeat))
    return a, (b if theirs is not None else None)


def vs_torch(torch, rounds, repeat):
    cases = [
        ("LSTM 2x256, seq 35, batch 20, in 256 fwd+bwd", lambda lib: rnn_case(lib), 2.0),
        ("GRU 2x256, seq 35, batch 20, in 256 fwd+bwd", lambda lib: rnn_case(lib, "GRU"), None),
        ("LSTM 2x256, seq 35, batch 20 fwd (no_grad)",
         lambda lib: rnn_case(lib, backward=False), None),
        ("TransformerEncoderLayer 256/4h, seq 128, b16 f+b", encoder_case, 2.0),
    ]
    rows = []
    for name, make, target in cases:
        ours, ref = paired(make(df), make(torch) if torch else None, rounds, repeat)
        rows.append((name, ours, ref, target))
    print_table(rows, f"CPU backend vs PyTorch CPU ({df.get_num_threads()} threads each)")


def fused_vs_reference(rounds, repeat):
    print("\n## fused recurrent CPU kernels vs the reference (per-step Tensor-op) path, fwd+bwd")
    print(f"{'case':44s} {'fused':>12s} {'reference':>12s} {'speedup':>8s}")
    for mode in ("LSTM", "GRU"):
        run = rnn_case(df, mode)

        def ref(run=run):
            with reference_only():
                run()

        fused, reference = paired(run, ref, rounds, repeat)
        print(f"{mode + ' 2x256, seq 35, batch 20':44s} {fmt_time(fused):>12s} "
              f"{fmt_time(reference):>12s} {reference / fused:8.2f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer rounds")
    p.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    p.add_argument("--rounds", type=int, default=None)
    args = p.parse_args(argv)
    if args.threads:
        df.set_num_threads(args.threads)
        try:  # deepforge's BLAS is numpy's: give it the same number of threads
            from threadpoolctl import threadpool_limits

            threadpool_limits(args.threads, user_api="blas")
        except ImportError:
            print("(threadpoolctl not installed: numpy's BLAS keeps its default thread count)")
    torch = torch_or_none()
    if torch:
        torch.set_num_threads(df.get_num_threads())
    rounds = args.rounds or (2 if args.quick else 5)
    repeat = 3
    print(f"deepforge {df.__version__}; torch {torch.__version__ if torch else 'not installed'}; "
          f"threads {df.get_num_threads()}; {env_note()}")
    vs_torch(torch, rounds, repeat)
    fused_vs_reference(rounds, repeat)


if __name__ == "__main__":
    main()
