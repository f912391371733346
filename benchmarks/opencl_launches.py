"""Kernel launches and host waits per training step on an OpenCL device, kernel by kernel.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/opencl_launches.py \\
        [--model mlp|lstm|gru] [--batch 32] [--optimizer adam|sgd] [--device opencl:N]

``mlp`` is the main job's model (``deepforge.examples.digits``): MLP 64-128-64-10 with ReLU,
cross-entropy. ``lstm``/``gru``: a language-model step, embedding 50x16, one recurrent layer
of 32 over 12 steps, a linear head and cross-entropy over every step (batch = sequences).
A small model's step on a GPU or through PoCL costs mostly launches, so their count is the
figure to watch. Launches are counted at ``Runtime.launch`` and ``Plan.run``
(every kernel enqueue of the backend; small ops recorded into one batch kernel count once,
as that kernel), waits at ``Runtime.blocking``. Then the step time: the median of 5 rounds of
50 steps, the device drained before and after each round, next to the CPU backend's.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from _harness import env_note  # noqa: E402

import deepforge as df  # noqa: E402
import deepforge.nn.functional as F  # noqa: E402
from deepforge import nn  # noqa: E402


class _LanguageModel(nn.Module):
    def __init__(self, cell):
        super().__init__()
        self.emb, self.rnn, self.head = nn.Embedding(50, 16), cell(16, 32, batch_first=True), (
            nn.Linear(32, 50))  # fmt: skip

    def forward(self, tokens):
        return self.head(self.rnn(self.emb(tokens))[0]).reshape(-1, 50)


def _setup(device, model_name, batch, optimizer):
    df.manual_seed(0)
    if model_name == "mlp":
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                              nn.Linear(64, 10)).to(device)  # fmt: skip
        x = df.randn(batch, 64, device=device)
        y = df.randint(0, 10, (batch,), device=device)
    else:
        model = _LanguageModel(nn.LSTM if model_name == "lstm" else nn.GRU).to(device)
        x = df.randint(0, 50, (batch, 12), device=device)
        y = df.randint(0, 50, (batch * 12,), device=device)
    opt = (df.optim.Adam(model.parameters(), lr=1e-3) if optimizer == "adam"
           else df.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))  # fmt: skip

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _step_time(step, sync):
    for _ in range(5):
        step()
    rounds = []
    for _ in range(5):
        sync()
        t0 = time.perf_counter()
        for _ in range(50):
            step()
        sync()
        rounds.append((time.perf_counter() - t0) / 50)
    return statistics.median(rounds)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mlp", choices=["mlp", "lstm", "gru"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    p.add_argument("--device", default="opencl")
    args = p.parse_args()
    if not df.opencl.is_available():
        sys.exit("no usable OpenCL device")
    from deepforge.backends import get_backend
    from deepforge.backends.opencl.plan import Plan

    rt = get_backend(df.device(args.device)).rt
    step = _setup(args.device, args.model, args.batch, args.optimizer)
    for _ in range(3):  # builds, optimizer state, pools
        step()
    df.opencl.synchronize()

    launches, waits = collections.Counter(), [0]
    real_launch, real_run, real_blocking = type(rt).launch, Plan.run, rt.blocking

    def launch(self, kernel, *a):
        launches[kernel.function_name] += 1
        return real_launch(self, kernel, *a)

    def run(self, *a, **k):
        launches[self.name] += 1
        return real_run(self, *a, **k)

    def blocking():
        waits[0] += 1
        return real_blocking()

    type(rt).launch, Plan.run, rt.blocking = launch, run, blocking
    try:
        step()
    finally:
        type(rt).launch, Plan.run = real_launch, real_run
        del rt.blocking
    print(f"device {args.device}: {df.opencl.get_device_name(rt.index)}; {env_note()}")
    print(f"{args.model} step, batch {args.batch}, {args.optimizer}: "
          f"{sum(launches.values())} launches, {waits[0]} waits for the device")  # fmt: skip
    for name, n in launches.most_common():
        print(f"  {name:<24}{n:>4}")
    t_cl = _step_time(step, df.opencl.synchronize)
    t_cpu = _step_time(_setup("cpu", args.model, args.batch, args.optimizer), lambda: None)
    print(f"step time: opencl {t_cl * 1e3:.3f} ms, cpu backend {t_cpu * 1e3:.3f} ms "
          f"(opencl/cpu {t_cl / t_cpu:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
