"""Time one optimizer step on MLP-sized parameters: deepforge's fused kernel, deepforge's
Tensor-op path (``fused=False``) and torch.optim (same thread count), float32.

    python benchmarks/optim_step.py [--steps 2] [--repeats 200] [--threads N]

Parameters: 784x256, 256, 256x128, 128, 128x10, 10 (a 784-256-128-10 MLP, 235k values).
"default path" is what the optimizers run with ``fused=None``: the fused kernel unless
``deepforge.ops.fused_optim.SLOWER_THAN_OPS`` lists it; a row whose timings disagree with that
choice says so.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import deepforge as df
from deepforge import optim
from deepforge.ops import fused_optim

SHAPES = [(784, 256), (256,), (256, 128), (128,), (128, 10), (10,)]

CASES = {
    "SGD momentum": ("SGD", {"lr": 0.01, "momentum": 0.9}),
    "SGD nesterov+wd": ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True,
                                "weight_decay": 1e-4}),
    "Adam": ("Adam", {"lr": 1e-3}),
    "AdamW amsgrad": ("AdamW", {"lr": 1e-3, "amsgrad": True}),
}


def _params(lib, arrays):
    ps = []
    for a, g in arrays:
        p = lib.tensor(a, requires_grad=True)
        p.grad = lib.tensor(g)
        ps.append(p)
    return ps


def _time(opts: dict, steps: int, repeats: int) -> dict:
    """Best mean seconds per step of each optimizer over ``repeats`` runs of ``steps`` steps,
    the optimizers taking turns (a busy machine then slows all of them alike)."""
    for opt in opts.values():
        for _ in range(5):
            opt.step()
    best = dict.fromkeys(opts, float("inf"))
    for _ in range(repeats):
        for key, opt in opts.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                opt.step()
            best[key] = min(best[key], (time.perf_counter() - t0) / steps)
    return best


def _threads(n: int | None = None) -> int:
    """Set (when ``n`` is given) and return deepforge's CPU kernel thread count."""
    try:
        if n is not None:
            df.set_num_threads(n)
        return int(df.get_num_threads())
    except TypeError:  # deepforge/__init__ shadows int (= int32) in {get,set}_num_threads
        from deepforge import _core

        if n is not None:
            _core.set_num_threads(n)
        return _core.num_threads()


def _fused_available(arrays) -> bool:
    p = _params(df, arrays[:1])[0]
    buf = df.zeros_like(p)
    with df.no_grad():
        return fused_optim.sgd_momentum_step(p, p.grad, buf, 0.0, 0.9, 0.0, 0.0, False, False, True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2, help="steps per timed run")
    ap.add_argument("--repeats", type=int, default=200, help="timed runs (the best is kept)")
    ap.add_argument("--threads", type=int, default=None, help="threads for deepforge and torch")
    args = ap.parse_args()
    _threads(args.threads)

    rng = np.random.default_rng(0)
    arrays = [(rng.standard_normal(s).astype(np.float32), rng.standard_normal(s).astype(np.float32))
              for s in SHAPES]
    try:
        import torch

        torch.set_num_threads(_threads())
    except ImportError:
        torch = None
    have_fused = _fused_available(arrays)
    print(f"deepforge threads: {_threads()}; fused kernel available: {have_fused}; "
          f"torch: {torch.__version__ if torch else 'not installed'}")
    head = (f"{'step':<18}{'fused us':>10}{'ops us':>10}{'torch us':>10}{'ops/fused':>11}"
            f"{'torch/fused':>12}{'torch/ops':>11}  default path")
    print(head)
    print("-" * len(head))
    nan = float("nan")
    for label, (name, kw) in CASES.items():
        opts = {"ops": getattr(optim, name)(_params(df, arrays), fused=False, **kw)}
        if have_fused:
            opts["fused"] = getattr(optim, name)(_params(df, arrays), fused=True, **kw)
        if torch is not None:
            opts["torch"] = getattr(torch.optim, name)(_params(torch, arrays), **kw)
        t = _time(opts, args.steps, args.repeats)
        fused, ops, ref = t.get("fused", nan), t["ops"], t.get("torch", nan)
        kernel = "adam_step" if "Adam" in name else "sgd_momentum_step"
        skipped = ("cpu", kernel) in fused_optim.SLOWER_THAN_OPS
        default = "ops" if skipped or not have_fused else "fused"
        verdict = ""
        if have_fused and (fused < ops) == skipped:
            verdict = "  (fused faster here)" if skipped else "  (Tensor ops faster here)"
        print(f"{label:<18}{fused * 1e6:>10.1f}{ops * 1e6:>10.1f}{ref * 1e6:>10.1f}"
              f"{ops / fused:>11.2f}{ref / fused:>12.2f}{ref / ops:>11.2f}  {default}{verdict}")

if __name__ == "__main__":
    main()
