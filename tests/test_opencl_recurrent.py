"""LSTM and GRU layers on OpenCL through the backend's sequence kernels (one GEMM and one
pointwise kernel per step, ``backends/opencl/recurrent.py``): they are the path taken, they
match the CPU backend on packed sequences of uneven lengths in both directions, and a
training step never waits for the device; both kernel layouts."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
import deepforge.nn.functional as F
from deepforge import nn
from deepforge.backends import opencl_device_count
from deepforge.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

if opencl_device_count() == 0:  # conftest fails the run instead under DEEPFORGE_REQUIRE_OPENCL=1
    pytest.skip("no usable OpenCL device", allow_module_level=True)

DEV = "opencl:0"


@pytest.fixture
def be(opencl_layouts):
    return opencl_layouts


def _count(monkeypatch, rt):
    names = []
    real = type(rt).launch
    monkeypatch.setattr(type(rt), "launch", lambda self, k, *a: names.append(
        k.function_name) or real(self, k, *a))  # fmt: skip
    return names


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_packed_bidirectional_matches_cpu(be, monkeypatch, cls):
    df.manual_seed(0)
    cpu_m = cls(4, 6, num_layers=2, bidirectional=True, batch_first=True).double()
    dev_m = cls(4, 6, num_layers=2, bidirectional=True, batch_first=True).double()
    dev_m.load_state_dict(cpu_m.state_dict())
    dev_m = dev_m.to(DEV)
    x = np.random.default_rng(0).standard_normal((3, 5, 4))
    lengths = [5, 3, 2]
    names = _count(monkeypatch, be.rt)
    results = []
    for m, dev in ((cpu_m, "cpu"), (dev_m, DEV)):
        xt = df.tensor(x, device=dev, requires_grad=True)
        out, _ = m(pack_padded_sequence(xt, lengths, batch_first=True))
        padded, _ = pad_packed_sequence(out, batch_first=True)
        padded.pow(2).sum().backward()
        grads = [p.grad.cpu().numpy() for p in m.parameters()]
        results.append((padded.detach().cpu().numpy(), xt.grad.cpu().numpy(), grads))
    step = "lstm" if cls is nn.LSTM else "gru"
    # 2 layers x 2 directions x 5 steps, forward and backward
    assert names.count(f"{step}_fwd_step") == 20 and names.count(f"{step}_bwd_step") == 20
    (o1, g1, p1), (o2, g2, p2) = results
    np.testing.assert_allclose(o2, o1, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g2, g1, rtol=1e-10, atol=1e-12)
    for a, b in zip(p2, p1):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_training_step_never_waits(be, waits, cls):
    df.manual_seed(0)
    emb, rnn, head = nn.Embedding(20, 8).to(DEV), cls(8, 16, batch_first=True).to(DEV), None
    head = nn.Linear(16, 20).to(DEV)
    params = [*emb.parameters(), *rnn.parameters(), *head.parameters()]
    opt = df.optim.Adam(params, lr=1e-2)
    tokens = df.randint(0, 20, (4, 6), device=DEV)
    target = df.randint(0, 20, (24,), device=DEV)

    def step():
        out, _ = rnn(emb(tokens))
        loss = F.cross_entropy(head(out).reshape(-1, 20), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    first = step().item()
    df.opencl.synchronize()
    before = waits[0]
    for _ in range(5):
        loss = step()
    assert waits[0] == before
    assert loss.item() < first  # it learns
