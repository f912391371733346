"""Vision-layer benchmarks: LeNet-5 training step and a 3x3 Conv2d vs PyTorch (CPU), the
fused CPU kernels vs the reference compositions they replace, and the OpenCL backend vs the
CPU backend.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/layers.py [--quick] [--no-opencl]

PyTorch runs with ``torch.set_num_threads(deepforge.get_num_threads())``. Times are the best
of several repeats (``_harness.timeit``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _harness import env_note, fmt_time, print_table, timeit, torch_or_none  # noqa: E402

import deepforge as df  # noqa: E402
import deepforge.nn as nn  # noqa: E402
import deepforge.nn.functional as F  # noqa: E402
from deepforge.ops._fused import reference_only  # noqa: E402


def threads() -> int:
    try:
        return df.get_num_threads()
    except TypeError:  # deepforge/__init__ shadows the builtin int with the dtype
        from deepforge import _core

        return _core.num_threads()


def lenet(m):
    """LeNet-5 for 1x28x28 inputs, built from module namespace ``m`` (deepforge.nn or torch.nn)."""
    return m.Sequential(
        m.Conv2d(1, 6, 5, padding=2), m.ReLU(), m.MaxPool2d(2),
        m.Conv2d(6, 16, 5), m.ReLU(), m.MaxPool2d(2), m.Flatten(),
        m.Linear(400, 120), m.ReLU(), m.Linear(120, 84), m.ReLU(), m.Linear(84, 10),
    )


def _train_step(lib, model, x, y):
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = lib.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def lenet_step(device="cpu", batch=64):
    df.manual_seed(0)
    x = df.randn(batch, 1, 28, 28, device=device)
    y = df.randint(0, 10, (batch,), device=device)
    return _train_step(df, lenet(nn).to(device), x, y)


def lenet_step_torch(torch, batch=64):
    torch.manual_seed(0)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    return _train_step(torch, lenet(torch.nn), x, y)


def conv_case(lib, device=None, backward=True):
    """Conv2d 3x3, 64 -> 64 channels, 56x56, batch 8: forward (+ backward)."""
    kw = {} if device is None else {"device": device}
    conv = lib.nn.Conv2d(64, 64, 3, padding=1, **kw)
    x = lib.randn(8, 64, 56, 56, **kw)
    if not backward:
        def fwd():
            with lib.no_grad():
                conv(x)
        return fwd
    x.requires_grad_(True)

    def fwd_bwd():
        x.grad = None
        conv.zero_grad()
        conv(x).sum().backward()
        if device not in (None, "cpu"):
            lib.opencl.synchronize()
    return fwd_bwd


def cpu_vs_torch(torch, quick):
    rows = []
    rep = 3 if quick else 7
    if torch:
        torch.set_num_threads(threads())
    ours = timeit(lenet_step(), repeat=rep)
    ref = timeit(lenet_step_torch(torch), repeat=rep) if torch else None
    rows.append(("LeNet-5 train step, batch 64 (1x28x28)", ours, ref, 2.0))
    for bwd in (False, True):
        name = "Conv2d 3x3 64->64 56x56 b8 " + ("fwd+bwd" if bwd else "fwd")
        ours = timeit(conv_case(df, backward=bwd), repeat=rep)
        ref = timeit(conv_case(torch, backward=bwd), repeat=rep) if torch else None
        rows.append((name, ours, ref, 2.0))
    print_table(rows, f"CPU backend vs PyTorch CPU ({threads()} threads each)")


def cputime(fn, repeat=5, number=3) -> float:
    """Best process CPU seconds per call (single-threaded runs only: on a loaded machine wall
    time also counts the time other processes hold the cores)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for _ in range(number):
            fn()
        best = min(best, (time.process_time() - t0) / number)
    return best


def single_thread(torch, quick):
    """The same cases on one thread each (deepforge kernels, BLAS, PyTorch), in CPU time."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("\n(threadpoolctl not installed: single-thread table skipped)")
        return
    rows = []
    prev = threads()
    df.set_num_threads(1)
    if torch:
        torch.set_num_threads(1)
    rep = 3 if quick else 5
    with threadpool_limits(1):
        rows.append(("LeNet-5 train step, batch 64 (1x28x28)", cputime(lenet_step(), rep),
                     cputime(lenet_step_torch(torch), rep) if torch else None, 2.0))
        for bwd in (False, True):
            name = "Conv2d 3x3 64->64 56x56 b8 " + ("fwd+bwd" if bwd else "fwd")
            rows.append((name, cputime(conv_case(df, backward=bwd), rep, 1),
                         cputime(conv_case(torch, backward=bwd), rep, 1) if torch else None, 2.0))
    df.set_num_threads(prev)
    if torch:
        torch.set_num_threads(prev)
    print_table(rows, "CPU backend vs PyTorch CPU, 1 thread each, process CPU time")


def _fused_vs_ref(label, fn, args, torch_fn=None, targs=None, repeat=5):
    fused = timeit(lambda: fn(*args), repeat=repeat)
    with reference_only():
        ref = timeit(lambda: fn(*args), repeat=repeat)
    theirs = timeit(lambda: torch_fn(*targs), repeat=repeat) if torch_fn else None
    return label, fused, ref, theirs


def kernels(torch, quick):
    """Each fused CPU kernel (forward + backward) vs the reference composition it replaces."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 32, 28, 28)).astype(np.float32)

    def fb(op):
        def run(t):
            t.grad = None
            op(t).sum().backward()
        return run

    cases = [
        ("im2col/col2im: unfold 3x3 + fold",
         lambda t: F.fold(F.unfold(t, 3, padding=1), (28, 28), 3,
                                                             padding=1),
         lambda t: TF.fold(TF.unfold(t, 3, padding=1), (28, 28), 3,
                                            padding=1)),
        ("max_pool2d 2x2", lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2)),
        ("max_pool2d 3x3 s2 p1", lambda t: F.max_pool2d(t, 3, 2, 1),
         lambda t: TF.max_pool2d(t, 3, 2, 1)),
        ("avg_pool2d 3x3 s2 p1", lambda t: F.avg_pool2d(t, 3, 2, 1),
         lambda t: TF.avg_pool2d(t, 3, 2, 1)),
        ("batch_norm (training)", lambda t: F.batch_norm(t, None, None, training=True),
         lambda t: TF.batch_norm(t, None, None, training=True)),
        ("layer_norm over (28, 28)", lambda t: F.layer_norm(t, (28, 28)),
         lambda t: TF.layer_norm(t, (28, 28))),
        ("group_norm 8 groups", lambda t: F.group_norm(t, 8), lambda t: TF.group_norm(t, 8)),
    ]
    TF = torch.nn.functional if torch else None
    print(f"\n## fused CPU kernels vs reference compositions, forward+backward, input "
          f"{list(x.shape)} float32")
    print(f"{'op':36s} {'fused':>12s} {'reference':>12s} {'speedup':>8s} {'pytorch':>12s} "
          f"{'vs torch':>8s}")
    for label, op, top in cases:
        t = df.tensor(x, requires_grad=True)
        tt = torch.tensor(x, requires_grad=True) if torch else None
        _, fused, ref, theirs = _fused_vs_ref(label, fb(op), (t,), fb(top) if torch else None,
                                              (tt,),
                                              repeat=3 if quick else 5)
        print(f"{label:36s} {fmt_time(fused):>12s} {fmt_time(ref):>12s} {ref / fused:8.2f} "
              f"{fmt_time(theirs) if theirs else '-':>12s} "
              f"{(fused / theirs) if theirs else float('nan'):8.2f}")


def opencl_vs_cpu(quick):
    try:
        from deepforge.backends import opencl_device_count

        if not opencl_device_count():
            print("\n(no OpenCL device: OpenCL rows skipped)")
            return
    except Exception as e:  # pragma: no cover
        print(f"\n(OpenCL unavailable: {e})")
        return
    rows = []
    rep = 3 if quick else 5
    for name, make in (("LeNet-5 train step, batch 64", lambda d: lenet_step(d)),
                       ("Conv2d 3x3 64->64 56x56 b8 fwd+bwd", lambda d: conv_case(df, d))):
        cpu = timeit(make("cpu"), repeat=rep)
        ocl = make("opencl")

        def run(ocl=ocl):
            ocl()
            df.opencl.synchronize()

        rows.append((name, timeit(run, repeat=rep), cpu, None))
    print_table(rows, "OpenCL backend (fused im2col/pool/norm kernels, GEMM) vs deepforge CPU "
                      "backend [the 'pytorch' column is deepforge CPU here]")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-opencl", action="store_true")
    args = p.parse_args(argv)
    torch = torch_or_none()
    print(f"deepforge {df.__version__}; torch {torch.__version__ if torch else 'not installed'}; "
          f"threads: deepforge {threads()}; {env_note()}")
    cpu_vs_torch(torch, args.quick)
    single_thread(torch, args.quick)
    kernels(torch, args.quick)
    if not args.no_opencl:
        opencl_vs_cpu(args.quick)


if __name__ == "__main__":
    main()
