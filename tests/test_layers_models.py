"""Small CNNs end to end: a LeNet-style network learns the bundled Digits data on every
device, and LeNet-5 training steps match PyTorch's with the same weights."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from helpers import to_np
from layer_refs import torch_or_none

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F


def _digits_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128, 10),
    )


def _one_blas_thread():
    """Tests run two workers on two cores (-n 2): a threaded BLAS per worker only adds
    oversubscription, which costs several times the run time with small GEMMs."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def test_cnn_learns_digits(device):
    """>= 98% test accuracy on the 360 held-out Digits images (8x8) in a few seconds."""
    with _one_blas_thread():
        _train_digits(device)


def _train_digits(device):
    df.manual_seed(0)
    train, test = df.datasets.Digits(train=True), df.datasets.Digits(train=False)
    x_train = (train.data.float() / 16).unsqueeze(1).to(device)
    y_train = train.targets.to(device)
    x_test = (test.data.float() / 16).unsqueeze(1).to(device)
    y_test = test.targets.to(device)
    model = _digits_cnn().to(device)
    epochs, batch, n = 5, 48, len(train)
    opt = df.optim.Adam(model.parameters(), lr=1e-2)
    sched = df.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-2,
                                             total_steps=epochs * ((n + batch - 1) // batch))
    for _ in range(epochs):
        model.train()
        perm = df.randperm(n, device=device)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with df.no_grad():
        acc = (model(x_test).argmax(1) == y_test).float().mean().item()
    assert acc >= 0.98, f"test accuracy {acc:.4f}"


def _lenet5(m):
    return m.Sequential(
        m.Conv2d(1, 6, 5, padding=2), m.ReLU(), m.MaxPool2d(2),
        m.Conv2d(6, 16, 5), m.ReLU(), m.AvgPool2d(2), m.Flatten(),
        m.Linear(400, 120), m.ReLU(), m.Linear(120, 84), m.ReLU(), m.Linear(84, 10),
    )


def test_lenet5_training_steps_match_torch(device):
    torch = torch_or_none()
    if torch is None:
        pytest.skip("torch is not installed")
    model, tmodel = _lenet5(nn).to(device).double(), _lenet5(torch.nn).double()
    tmodel.load_state_dict({k: torch.tensor(to_np(v)) for k, v in model.state_dict().items()})
    opt = df.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = rng.standard_normal((8, 1, 28, 28)), rng.integers(0, 10, 8)
        loss = F.cross_entropy(model(df.tensor(x, device=device)), df.tensor(y, device=device))
        tloss = torch.nn.functional.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(y))
        np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10)
        opt.zero_grad()
        topt.zero_grad()
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
    for k, v in tmodel.state_dict().items():
        np.testing.assert_allclose(to_np(model.state_dict()[k]), v.numpy(), rtol=1e-9, atol=1e-11)
