"""Window functions, gradient, angle, fill, the *_copy ops and addmv_/addbmm_ beyond the op
table (tests/op_specs_math_more.py): PyTorch's values for every length and flag, its errors,
and the in-place forms, on every device."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df

WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]


@pytest.mark.parametrize("name", WINDOWS)
def test_windows_vs_torch(name, device):
    torch = pytest.importorskip("torch")
    for length in (0, 1, 2, 3, 8, 33):
        for periodic in (True, False):
            got = getattr(df, name)(length, periodic, dtype=df.float64, device=device)
            want = getattr(torch, name)(length, periodic, dtype=torch.float64)
            assert got.device == df.device(device) and got.dtype == df.float64
            np.testing.assert_allclose(got.cpu().numpy(), want.numpy(), atol=1e-12)
    assert getattr(df, name)(4).dtype == df.get_default_dtype()
    assert getattr(df, name)(4, requires_grad=True).requires_grad


def test_window_parameters_vs_torch():
    torch = pytest.importorskip("torch")
    pairs = [
        (df.hamming_window(9, False, 0.5, 0.3), torch.hamming_window(9, False, 0.5, 0.3)),
        (df.kaiser_window(9, True, 3.5), torch.kaiser_window(9, True, 3.5)),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)


ERRORS = [
    ("window_int_dtype", lambda m: m.hann_window(4, dtype=m.int64), RuntimeError, "floating"),
    ("window_negative", lambda m: m.hann_window(-1), RuntimeError, "non-negative"),
    ("gradient_short", lambda m: m.gradient(m.ones(2), edge_order=2), RuntimeError, "edge_order"),
    ("gradient_order", lambda m: m.gradient(m.ones(4), edge_order=3), RuntimeError, "edge_order"),
    ("gradient_spacing_len", lambda m: m.gradient(m.ones(3, 3), spacing=[1.0, 2.0, 3.0]),
     RuntimeError, "same length"),
    ("fill_tensor_1d", lambda m: m.fill(m.ones(2), m.ones(2)), RuntimeError, "0-dimension"),
]  # fmt: skip


@pytest.mark.parametrize("make", [pytest.param(c[1:], id=c[0]) for c in ERRORS])
def test_errors_match_torch(make):
    fn, exc, match = make
    with pytest.raises(exc, match=match):
        fn(df)
    torch = pytest.importorskip("torch")
    with pytest.raises(exc):
        fn(torch)


def test_gradient_of_ints_and_quadratic(device):
    torch = pytest.importorskip("torch")
    x = np.arange(12).reshape(3, 4) ** 2
    got = df.gradient(df.tensor(x, device=device), spacing=[1.5, 2.0], edge_order=2)
    want = torch.gradient(torch.tensor(x), spacing=[1.5, 2.0], edge_order=2)
    for g, w in zip(got, want):
        assert g.dtype == df.float32
        np.testing.assert_allclose(g.cpu().numpy(), w.numpy(), rtol=1e-6)


def test_angle_and_fill_gradients(device):
    x = df.tensor([-2.0, 0.5, 3.0], dtype=df.float64, device=device, requires_grad=True)
    v = df.tensor(1.5, dtype=df.float64, device=device, requires_grad=True)
    (df.angle(x).sum() + (df.fill(x, v) * df.arange(3.0, device=device)).sum()).backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    assert v.grad.item() == 3.0


def test_copies_do_not_share_storage(device):
    x = df.arange(6.0, device=device).reshape(2, 3)
    for c in (df.t_copy(x), df.view_copy(x, (3, 2)), df.alias_copy(x), df.detach_copy(x)):
        c.fill_(-1)
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    parts = df.split_with_sizes_copy(x, [1, 2], 1)
    assert [tuple(p.shape) for p in parts] == [(2, 1), (2, 2)]


def test_addmv_addbmm_inplace_vs_torch(device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, m, v = rng.standard_normal(3), rng.standard_normal((3, 4)), rng.standard_normal(4)
    b, b1, b2 = (
        rng.standard_normal((3, 5)),
        rng.standard_normal((2, 3, 4)),
        rng.standard_normal((2, 4, 5)),
    )
    t = df.tensor(a, device=device)
    assert t.addmv_(df.tensor(m, device=device), df.tensor(v, device=device), beta=0.5) is t
    want = torch.tensor(a).addmv_(torch.tensor(m), torch.tensor(v), beta=0.5)
    np.testing.assert_allclose(t.cpu().numpy(), want.numpy(), rtol=1e-12)
    t = df.tensor(b, device=device)
    t.addbmm_(df.tensor(b1, device=device), df.tensor(b2, device=device), alpha=2)
    want = torch.tensor(b).addbmm_(torch.tensor(b1), torch.tensor(b2), alpha=2)
    np.testing.assert_allclose(t.cpu().numpy(), want.numpy(), rtol=1e-12)
