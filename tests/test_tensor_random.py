"""Random sampling: seeding, generators, shapes/dtypes, distributions, in-place samplers."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df

N = 20_000


def _np(t):
    return t.detach().cpu().numpy()


SAMPLERS = {
    "rand": lambda g, d: df.rand(3, 4, generator=g, device=d),
    "randn": lambda g, d: df.randn((3, 4), generator=g, device=d),
    "randint": lambda g, d: df.randint(0, 10, (3, 4), generator=g, device=d),
    "randperm": lambda g, d: df.randperm(10, generator=g, device=d),
    "normal": lambda g, d: df.normal(2.0, 3.0, (3, 4), generator=g, device=d),
    "normal_tensor": lambda g, d: df.normal(
        df.zeros(3, 4, device=d), df.ones(3, 4, device=d), generator=g
    ),
    "bernoulli": lambda g, d: df.bernoulli(df.full((3, 4), 0.3, device=d), generator=g),
    "multinomial": lambda g, d: df.multinomial(
        df.tensor([0.1, 0.2, 0.7], device=d), 5, True, generator=g
    ),
    "uniform_": lambda g, d: df.empty(3, 4, device=d).uniform_(-1, 1, generator=g),
    "normal_": lambda g, d: df.empty(3, 4, device=d).normal_(0, 2, generator=g),
    "bernoulli_": lambda g, d: df.empty(3, 4, device=d).bernoulli_(0.5, generator=g),
    "random_": lambda g, d: df.empty(3, 4, device=d).random_(0, 7, generator=g),
    "exponential_": lambda g, d: df.empty(3, 4, device=d).exponential_(2.0, generator=g),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_manual_seed_reproduces(name, device):
    f = SAMPLERS[name]
    df.manual_seed(123)
    a = _np(f(None, device))
    b = _np(f(None, device))
    df.manual_seed(123)
    c = _np(f(None, device))
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, b) or name in ("bernoulli", "multinomial", "bernoulli_")


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_generator_is_independent_of_global_state(name, device):
    f = SAMPLERS[name]
    g = df.Generator().manual_seed(7)
    a = _np(f(g, device))
    df.manual_seed(999)
    _ = df.rand(5)
    g.manual_seed(7)
    np.testing.assert_array_equal(a, _np(f(g, device)))


def test_rng_state_roundtrip():
    state = df.get_rng_state()
    a = df.rand(4)
    df.set_rng_state(state)
    np.testing.assert_array_equal(_np(a), _np(df.rand(4)))
    g = df.Generator().manual_seed(1)
    s = g.get_state()
    x = df.randn(3, generator=g)
    g.set_state(s)
    np.testing.assert_array_equal(_np(x), _np(df.randn(3, generator=g)))
    assert df.initial_seed() == df.default_generator.initial_seed()
    with df.random.fork_rng():
        df.rand(10)
    df.set_rng_state(state)


def test_shapes_dtypes_devices(device):
    assert df.rand(2, 3, device=device).shape == (2, 3) and df.rand(2, 3).dtype is df.float32
    assert df.randn(4, dtype=df.float64, device=device).dtype is df.float64
    assert df.rand(()).shape == () and df.rand(0, 5).shape == (0, 5)
    r = df.randint(3, 8, (100,), device=device)
    assert r.dtype is df.int64 and _np(r).min() >= 3 and _np(r).max() < 8
    assert df.randint(5, (2, 2), dtype=df.int32).dtype is df.int32
    p = df.randperm(50, device=device)
    assert p.dtype is df.int64 and sorted(_np(p).tolist()) == list(range(50))
    assert df.randperm(0).shape == (0,)
    x = df.ones(2, 3, dtype=df.float64)
    assert df.rand_like(x).dtype is df.float64 and df.randn_like(x).shape == (2, 3)
    assert df.randint_like(x, 10).dtype is df.float64
    assert df.rand(3, requires_grad=True).requires_grad


def test_distributions():
    df.manual_seed(0)
    u = _np(df.rand(N, dtype=df.float64))
    assert (
        u.min() >= 0
        and u.max() < 1
        and abs(u.mean() - 0.5) < 0.01
        and abs(u.var() - 1 / 12) < 0.005
    )
    z = _np(df.randn(N, dtype=df.float64))
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    n = _np(df.normal(2.0, 3.0, (N,)))
    assert abs(n.mean() - 2) < 0.1 and abs(n.std() - 3) < 0.1
    b = _np(df.bernoulli(df.full((N,), 0.3)))
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 0.02
    counts = np.bincount(_np(df.randint(0, 5, (N,))), minlength=5) / N
    assert np.all(np.abs(counts - 0.2) < 0.02)
    e = _np(df.empty(N).exponential_(2.0))
    assert e.min() >= 0 and abs(e.mean() - 0.5) < 0.03


def test_multinomial():
    df.manual_seed(0)
    probs = df.tensor([0.1, 0.0, 0.6, 0.3])
    s = _np(df.multinomial(probs, N, replacement=True))
    freq = np.bincount(s, minlength=4) / N
    assert np.all(np.abs(freq - [0.1, 0.0, 0.6, 0.3]) < 0.02) and freq[1] == 0
    w = _np(df.multinomial(df.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 5.0, 1.0, 1.0]]), 3))
    assert w.shape == (2, 3)
    for row, zero in zip(w, (3, 0)):
        assert (
            len(set(row.tolist())) == 3 and zero not in row
        )  # no replacement, never a 0-prob class


def test_inplace_samplers_keep_dtype_and_bump_version():
    x = df.zeros(1000, dtype=df.float64)
    v = x._version
    x.uniform_(2, 3)
    assert x.dtype is df.float64 and x._version > v and 2 <= _np(x).min() and _np(x).max() < 3
    y = df.zeros(1000, dtype=df.int32).random_(0, 4)
    assert y.dtype is df.int32 and set(np.unique(_np(y))) <= {0, 1, 2, 3}
    m = df.zeros(10, dtype=df.int64).bernoulli_(1.0)
    assert _np(m).tolist() == [1] * 10
    base = df.zeros(4, 4)
    base[1].normal_()
    assert (_np(base)[1] != 0).all() and (_np(base)[[0, 2, 3]] == 0).all()


def test_samplers_do_not_record_graph():
    w = df.zeros(3, requires_grad=True)
    with df.no_grad():
        w.normal_()
    assert w.is_leaf and w.requires_grad
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.uniform_()


def test_dropout_style_mask_is_reproducible():
    df.manual_seed(5)
    m1 = df.rand(8) > 0.5
    df.manual_seed(5)
    assert df.equal(m1, df.rand(8) > 0.5)
