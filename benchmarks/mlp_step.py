"""One full MLP training step (forward, cross-entropy, backward, optimizer step) vs PyTorch.

env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/mlp_step.py [--device opencl]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
from _harness import env_note, print_table, timeit, torch_or_none  # noqa: E402

import deepforge  # noqa: E402


def build(lib, device, opt_name, x_np, y_np, weights):
    nn = lib.nn
    model = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
    )
    with lib.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(lib.tensor(w))
    model = model.to(device)
    if opt_name == "sgd":
        opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x = lib.tensor(x_np).to(device)
    y = lib.tensor(y_np).to(device)
    lossf = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    shapes = [(256, 784), (256,), (128, 256), (128,), (10, 128), (10,)]
    weights = [(rng.standard_normal(s) * 0.05).astype(np.float32) for s in shapes]
    print(
        f"deepforge on {args.device}; torch {torch.__version__ if torch else '-'} CPU with "
        f"{torch.get_num_threads() if torch else '-'} threads; {env_note()}"
    )
    rows = []
    for batch, target in ((512, 1.3), (64, 2.0)):
        x_np = rng.standard_normal((batch, 784)).astype(np.float32)
        y_np = rng.integers(0, 10, batch)
        for opt_name in ("sgd", "adam"):
            ours = build(deepforge, args.device, opt_name, x_np, y_np, weights)
            sync = (
                (lambda: deepforge.opencl.synchronize()) if args.device != "cpu" else (lambda: None)
            )
            t_ours = timeit(lambda: (ours(), sync()), repeat=7)  # noqa: B023 - called at once
            t_ref = None
            if torch:
                ref = build(torch, "cpu", opt_name, x_np, y_np, weights)
                t_ref = timeit(ref, repeat=7)
            rows.append((f"MLP step batch {batch} {opt_name}", t_ours, t_ref, target))
    print_table(rows, "MLP 784-256-128-10 training step")


if __name__ == "__main__":
    main()
