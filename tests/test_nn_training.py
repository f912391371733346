"""A PyTorch training program with only its imports changed gives PyTorch's losses; nn keeps to
the layering rule (public deepforge ops only)."""

from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest

import deepforge


def _program(torch, nn, init_state, data, steps=100, lr=0.05):
    """Written against PyTorch's API; run with ``torch`` being PyTorch or deepforge."""
    x_np, y_np = data
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    model.load_state_dict({k: torch.tensor(v) for k, v in init_state.items()})
    loss_fn = nn.MSELoss()
    x, y = torch.tensor(x_np), torch.tensor(y_np)
    losses = []
    for _ in range(steps):
        pred = model(x)
        loss = loss_fn(pred, y)
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        losses.append(loss.item())
    return np.array(losses), {k: v.detach().numpy() for k, v in model.state_dict().items()}


def _setup():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = (np.sin(x[:, :1]) + 0.1 * x[:, 1:2] ** 2).astype(np.float32)
    init_state = {
        "0.weight": rng.uniform(-0.35, 0.35, (16, 8)).astype(np.float32),
        "0.bias": rng.uniform(-0.35, 0.35, 16).astype(np.float32),
        "2.weight": rng.uniform(-0.25, 0.25, (1, 16)).astype(np.float32),
        "2.bias": rng.uniform(-0.25, 0.25, 1).astype(np.float32),
    }
    return init_state, (x, y)


def test_mlp_training_matches_pytorch():
    torch = pytest.importorskip("torch")
    import torch.nn as tnn

    import deepforge as dtorch
    import deepforge.nn as dnn

    init_state, data = _setup()
    losses_t, final_t = _program(torch, tnn, init_state, data)
    losses_d, final_d = _program(dtorch, dnn, init_state, data)
    assert losses_d[-1] < 0.5 * losses_d[0]  # it learns
    np.testing.assert_allclose(losses_d, losses_t, rtol=1e-5, atol=1e-6)
    for k in final_t:
        np.testing.assert_allclose(final_d[k], final_t[k], rtol=1e-4, atol=1e-6)


def test_mlp_training_learns_without_torch(device):
    import deepforge.nn as nn

    init_state, (x, y) = _setup()
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)).to(device)
    model.load_state_dict({k: deepforge.tensor(v) for k, v in init_state.items()})
    xt, yt = deepforge.tensor(x, device=device), deepforge.tensor(y, device=device)
    first = None
    for _ in range(30):
        loss = nn.functional.mse_loss(model(xt), yt)
        model.zero_grad()
        loss.backward()
        with deepforge.no_grad():
            for p in model.parameters():
                p -= 0.1 * p.grad
        first = first if first is not None else loss.item()
    assert loss.item() < 0.7 * first


def test_classifier_with_cross_entropy_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 5)).astype(np.float32)
    t = rng.integers(0, 3, 32)
    w = rng.uniform(-0.4, 0.4, (3, 5)).astype(np.float32)
    out = []
    for lib in (torch, deepforge):
        model = lib.nn.Sequential(lib.nn.Linear(5, 3), lib.nn.LogSoftmax(dim=1))
        with lib.no_grad():
            model[0].weight.copy_(lib.tensor(w))
            model[0].bias.zero_()
        xs, ts = lib.tensor(x), lib.tensor(t)
        losses = []
        for _ in range(20):
            loss = lib.nn.functional.nll_loss(model(xs), ts)
            model.zero_grad()
            loss.backward()
            with lib.no_grad():
                for p in model.parameters():
                    p.add_(p.grad, alpha=-0.5)
            losses.append(loss.item())
        out.append(losses)
    np.testing.assert_allclose(out[1], out[0], rtol=1e-5)


FORBIDDEN = ("deepforge.backends", "deepforge.tensor", "numpy")
# host-side bookkeeping on Python lists of sequence lengths (never on tensor data)
NUMPY_ALLOWED = {"utils/rnn.py"}


def _forbidden(name: str) -> bool:
    """Backends, numpy, or any private deepforge module (dispatch, _core, _dtype, ...)."""
    if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
        return True
    return name.startswith("deepforge.") and any(part.startswith("_") for part in name.split("."))


def test_nn_imports_only_public_deepforge():
    """nn builds on deepforge's public ops: no backends, no private internals, no numpy."""
    root = pathlib.Path(deepforge.__file__).parent / "nn"
    bad = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: must stay inside nn
                    depth = len(path.relative_to(root).parts) - 1
                    if node.level > depth + 1:
                        bad.append(f"{path.name}: from {'.' * node.level}{node.module or ''}")
                    continue
                names = [node.module or ""]
            else:
                continue
            rel = path.relative_to(root).as_posix()
            bad += [f"{rel}: {n}" for n in names
                    if _forbidden(n) and not (n == "numpy" and rel in NUMPY_ALLOWED)]
    assert not bad, bad


def test_nn_files_stay_short():
    root = pathlib.Path(deepforge.__file__).parent / "nn"
    long = {p.name: n for p in root.rglob("*.py") if (n := len(p.read_text().splitlines())) > 500}
    assert not long, long
