"""Tests of the Cython CPU kernels (deepforge._core) against NumPy / PyTorch references: the
thread API and the axis kernels (reductions, softmax family, scans, index kernels). Elementwise,
optimiser and Philox kernels: test_core_kernels_elementwise.py."""


import numpy as np
import pytest
from core_kernel_helpers import DTYPES, RNG, core, rand, tol

# (outer, n, inner): tiny, odd, >1 block, inner > 1, parallel paths (rows / chunked row / tiles)
# fmt: off
SHAPES = [(1, 3, 5000), (1, 1, 1), (3, 7, 1), (2, 1025, 1), (4, 7, 3), (2, 1025, 5), (1, 7, 1025),
          (1, 200_003, 1), (64, 1031, 1), (3, 301, 257)]
# fmt: on


def test_thread_api():
    assert core.num_threads() >= 1
    with pytest.raises(ValueError):
        core.set_num_threads(0)
    assert isinstance(core.have_openmp(), bool) and isinstance(core.simd_dispatch(), bool)


def _run_all(x, xi, idx3, src, ids):
    """Outputs of the threaded kernels on big inputs (for the thread-count invariance test)."""
    res = {}
    o2 = np.empty((x.shape[0], x.shape[2]), x.dtype)
    for name in ("reduce_sum", "reduce_max", "logsumexp", "argmax", "cumsum", "softmax"):
        if name == "argmax":
            out = np.empty(o2.shape, np.int64)
        else:
            out = np.empty_like(x) if name in ("cumsum", "softmax") else o2.copy()
        getattr(core, name)(x, out)
        res[name] = out
    o, c = np.empty((1, 1)), np.empty_like(xi)  # chunked full-row reduction and scan
    core.reduce_sum(xi, o)
    core.cumsum(xi, c)
    res["full_sum"], res["full_cumsum"] = o, c
    g = np.empty(idx3.shape, x.dtype)
    core.gather(x, idx3, g)
    y = x.copy()
    core.scatter_add(y, idx3, src)
    gw = np.zeros((50, x.shape[2]), x.dtype)
    core.embedding_backward(ids, x[0], gw, 3)
    r, u = np.empty(x.size, x.dtype), np.empty(x.size, np.float32)
    core.relu(x.ravel(), r)
    core.philox_uniform(5, 6, u)
    res.update(gather=g, scatter_add=y, emb=gw, relu=r, philox=u)
    return res


def test_thread_count_invariance():
    x = rand((4, 300, 257), np.float64)
    xi = rand((1, 400_000, 1), np.float64)
    idx3 = RNG.integers(0, 300, (4, 200, 257))
    src = rand((4, 200, 257), np.float64)
    ids = RNG.integers(0, 50, 300)
    old = core.num_threads()
    try:
        outs = []
        for nt in (1, 2, 3):
            core.set_num_threads(nt)
            outs.append(_run_all(x, xi, idx3, src, ids))
    finally:
        core.set_num_threads(old)
    for other in outs[1:]:
        for k, v in outs[0].items():  # only chunked float sums may differ (rounding)
            np.testing.assert_allclose(v, other[k], rtol=1e-12, atol=1e-9, err_msg=k)


# ---------------------------------------------------------------- reductions
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_reductions(dt, shape):
    x = rand(shape, dt)
    x64 = x.astype(np.float64)
    out = np.empty((shape[0], shape[2]), dt)
    refs = {
        "reduce_sum": x64.sum(1),
        "reduce_mean": x64.mean(1),
        "reduce_max": x64.max(1),
        "reduce_min": x64.min(1),
        "logsumexp": np.log(np.exp(x64).sum(1)),
    }
    for name, ref in refs.items():
        getattr(core, name)(x, out)
        scale = np.sqrt(shape[1]) if name == "reduce_sum" else 1.0
        np.testing.assert_allclose(
            out, ref, rtol=tol(dt)["rtol"], atol=tol(dt)["atol"] * scale, err_msg=name
        )
    for corr in (0.0, 1.0):
        if shape[1] > corr:
            core.reduce_var(x, out, corr)
            np.testing.assert_allclose(out, x64.var(1, ddof=int(corr)), **tol(dt))
    xp = (1 + 0.001 * rand(shape, dt)).astype(dt)
    core.reduce_prod(xp, out)
    np.testing.assert_allclose(out, xp.astype(np.float64).prod(1), rtol=tol(dt)["rtol"] * 10)
    idx = np.empty((shape[0], shape[2]), np.int64)
    vals = np.empty_like(out)
    xt = np.round(x * 2).astype(dt)  # many ties: first occurrence must win
    for fn, ref in ((core.argmax, np.argmax), (core.argmin, np.argmin)):
        fn(xt, idx)
        np.testing.assert_array_equal(idx, ref(xt, axis=1))
    core.max_with_indices(xt, vals, idx)
    np.testing.assert_array_equal(idx, np.argmax(xt, 1))
    np.testing.assert_array_equal(vals, xt.max(1))
    core.min_with_indices(xt, vals, idx)
    np.testing.assert_array_equal(idx, np.argmin(xt, 1))
    np.testing.assert_array_equal(vals, xt.min(1))


def test_sum_accuracy_float32_1e6():
    x = RNG.random(1_000_000).astype(np.float32).reshape(1, -1, 1)
    out = np.empty((1, 1), np.float32)
    core.reduce_sum(x, out)
    np.testing.assert_allclose(out[0, 0], np.sum(x), rtol=1e-5)
    np.testing.assert_allclose(out[0, 0], x.astype(np.float64).sum(), rtol=1e-6)
    y = RNG.random((1000, 1000), dtype=np.float32).reshape(1, 1000, 1000)
    out2 = np.empty((1, 1000), np.float32)
    core.reduce_sum(y, out2)
    np.testing.assert_allclose(out2[0], y[0].astype(np.float64).sum(0), rtol=1e-6)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(2, 5000, 1), (1, 300_000, 1), (2, 9, 3)])
def test_nan_inf_semantics(dt, shape):
    x = rand(shape, dt)
    x[0, 3, 0] = np.nan
    x[0, shape[1] - 2, 0] = np.nan
    out = np.empty((shape[0], shape[2]), dt)
    idx = np.empty(out.shape, np.int64)
    for fn in (core.reduce_max, core.reduce_min, core.reduce_sum, core.logsumexp):
        fn(x, out)
        assert np.isnan(out[0, 0]) and not np.isnan(out[1:, :]).any()
    for fn in (core.argmax, core.argmin):  # torch: the first NaN wins for both
        fn(x, idx)
        assert idx[0, 0] == 3
        np.testing.assert_array_equal(
            idx[1:], (np.argmax if fn is core.argmax else np.argmin)(x[1:], 1)
        )
    y = np.full(shape, -np.inf, dt)
    y[-1, 1, -1] = np.inf
    core.logsumexp(y, out)
    assert out[-1, -1] == np.inf and (shape[0] == 1 or out[0, 0] == -np.inf)


def test_empty_reductions():
    x = np.empty((2, 0, 3), np.float32)
    out = np.full((2, 3), 7, np.float32)
    core.reduce_sum(x, out)
    assert (out == 0).all()
    core.reduce_prod(x, out)
    assert (out == 1).all()
    core.logsumexp(x, out)
    assert (out == -np.inf).all()
    core.reduce_mean(x, out)
    assert np.isnan(out).all()
    for fn in (core.reduce_max, core.reduce_min):
        with pytest.raises(ValueError, match="empty"):
            fn(x, out)
    with pytest.raises(ValueError, match="argmax"):
        core.argmax(x, np.empty((2, 3), np.int64))
    core.reduce_sum(np.empty((0, 4, 3), np.float64), np.empty((0, 3)))
    with pytest.raises(ValueError, match=r"reduce_sum: expected out of shape \(2, 3\)"):
        core.reduce_sum(np.ones((2, 4, 3)), np.empty((3, 2)))
    with pytest.raises((TypeError, ValueError), match="dtype|signature"):
        core.reduce_sum(np.ones((2, 4, 3)), np.empty((2, 3), np.float32))


# ---------------------------------------------------------------- softmax family
def np_log_softmax(x, axis=1):
    m = x.max(axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_family(dt, shape):
    x = rand(shape, dt, 5.0)
    x64 = x.astype(np.float64)
    lsm = np_log_softmax(x64)
    y, ly, gx = np.empty_like(x), np.empty_like(x), np.empty_like(x)
    core.softmax(x, y)
    np.testing.assert_allclose(y, np.exp(lsm), **tol(dt))
    core.log_softmax(x, ly)
    np.testing.assert_allclose(ly, lsm, rtol=tol(dt)["rtol"], atol=tol(dt)["atol"] * 10)
    gy = rand(shape, dt)
    g64, y64 = gy.astype(np.float64), y.astype(np.float64)
    core.softmax_backward(y, gy, gx)
    np.testing.assert_allclose(gx, y64 * (g64 - (g64 * y64).sum(1, keepdims=True)), **tol(dt))
    core.log_softmax_backward(ly, gy, gx)
    ref = g64 - np.exp(ly.astype(np.float64)) * g64.sum(1, keepdims=True)
    np.testing.assert_allclose(gx, ref, rtol=tol(dt)["rtol"], atol=tol(dt)["atol"] * 10)
    z = x.copy()
    core.softmax(z, z)  # in place
    np.testing.assert_array_equal(z, y)


def test_softmax_extremes():
    x = np.array([[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 1.0]]).reshape(2, 3, 1)
    y = np.empty_like(x)
    core.softmax(x, y)
    np.testing.assert_allclose(y[0, :, 0], [1, 0, 0])
    np.testing.assert_allclose(y[1, :, 0], np.exp(np_log_softmax(np.array([[-np.inf, 0, 1.0]]))[0]))
    core.log_softmax(x, y)
    assert y[0, 0, 0] == 0 and y[0, 2, 0] == -2000


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("N,C", [(1, 1), (7, 5), (1025, 10), (300, 1000)])
def test_log_softmax_nll(dt, N, C):
    logits = rand((N, C), dt, 3.0)
    target = RNG.integers(0, C, N)
    target[::3] = -100
    w = RNG.random(C).astype(dt)
    for weight in (np.empty(0, dt), w):
        logp, loss = np.empty((N, C), dt), np.empty(N, dt)
        total = core.log_softmax_nll(logits, target, weight, -100, logp, loss)
        ref = np_log_softmax(logits.astype(np.float64))
        np.testing.assert_allclose(logp, ref, rtol=tol(dt)["rtol"], atol=tol(dt)["atol"] * 10)
        keep = target != -100
        wt = (weight if len(weight) else np.ones(C))[np.where(keep, target, 0)] * keep
        ref_loss = -wt * ref[np.arange(N), np.where(keep, target, 0)]
        np.testing.assert_allclose(loss, ref_loss, rtol=tol(dt)["rtol"], atol=tol(dt)["atol"] * 10)
        np.testing.assert_allclose(total, wt.sum(), rtol=1e-6)


def test_log_softmax_nll_bounds():
    logits = np.zeros((3, 4))
    logp, loss = np.full((3, 4), 9.0), np.full(3, 9.0)
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        core.log_softmax_nll(logits, np.array([0, 4, 1]), np.empty(0), -100, logp, loss)
    with pytest.raises(IndexError, match="Target -1 is out of bounds"):
        core.log_softmax_nll(logits, np.array([0, -1, 1]), np.empty(0), -100, logp, loss)
    assert (logp == 9).all() and (loss == 9).all()
    with pytest.raises(ValueError, match="weight"):
        core.log_softmax_nll(logits, np.array([0, 1, 1]), np.ones(3), -100, logp, loss)


# ---------------------------------------------------------------- scans
@pytest.mark.parametrize("dt", DTYPES + [np.int64])
@pytest.mark.parametrize("shape", SHAPES)
def test_cumsum_cumprod(dt, shape):
    if dt == np.int64:
        x = RNG.integers(-3, 4, shape).astype(dt)
    else:
        x = rand(shape, dt)
    out = np.empty_like(x)
    core.cumsum(x, out)
    if dt == np.int64:
        np.testing.assert_array_equal(out, np.cumsum(x, 1))
    else:  # float32 accumulates in double (like torch): compare with a float64 reference
        ref = np.cumsum(x.astype(np.float64), 1)
        np.testing.assert_allclose(
            out, ref, rtol=tol(dt)["rtol"], atol=tol(dt)["atol"] * np.sqrt(shape[1])
        )
    xp = x if dt == np.int64 else (1 + 1e-4 * x).astype(dt)
    core.cumprod(xp, out)
    if dt == np.int64:
        with np.errstate(over="ignore"):
            np.testing.assert_array_equal(out, np.cumprod(xp, 1))
    else:
        np.testing.assert_allclose(out, np.cumprod(xp.astype(np.float64), 1), rtol=1e-4)


def ref_cumext(x, is_max):
    """torch.cummax/cummin reference: latest index on ties, NaN sticks (latest NaN index)."""
    v = np.empty_like(x)
    ix = np.empty(x.shape, np.int64)
    best = x[:, 0].copy()
    bi = np.zeros(best.shape, np.int64)
    for j in range(x.shape[1]):
        e = x[:, j]
        cmp = (e >= best) if is_max else (e <= best)
        take = (e != e) | (cmp & (best == best)) if j else np.ones_like(cmp)
        best = np.where(take, e, best)
        bi = np.where(take, j, bi)
        v[:, j], ix[:, j] = best, bi
    return v, ix


@pytest.mark.parametrize("dt", DTYPES + [np.int64])
@pytest.mark.parametrize(
    "shape", [(1, 1, 1), (3, 7, 1), (2, 1025, 5), (300, 400, 1), (2, 300, 257)]
)
def test_cummax_cummin(dt, shape):
    x = RNG.integers(-3, 4, shape).astype(dt)  # ties everywhere
    if dt != np.int64 and shape[1] > 4:
        x[0, 2, 0] = np.nan
        x[-1, 4, -1] = np.nan
    v, ix = np.empty_like(x), np.empty(shape, np.int64)
    for fn, is_max in ((core.cummax, True), (core.cummin, False)):
        fn(x, v, ix)
        rv, rix = ref_cumext(x, is_max)
        np.testing.assert_array_equal(v, rv)
        np.testing.assert_array_equal(ix, rix)


def test_cummax_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.array([1.0, 3.0, 2.0, 3.0, np.nan, 5.0, np.nan, 7.0])
    for fn, tfn in ((core.cummax, torch.cummax), (core.cummin, torch.cummin)):
        v, ix = np.empty((1, 8, 1)), np.empty((1, 8, 1), np.int64)
        fn(x.reshape(1, 8, 1), v, ix)
        tv, tix = tfn(torch.from_numpy(x), 0)
        np.testing.assert_array_equal(v.ravel(), tv.numpy())
        np.testing.assert_array_equal(ix.ravel(), tix.numpy())


# ---------------------------------------------------------------- index kernels
@pytest.mark.parametrize("dt", DTYPES + [np.int64, np.int32, np.uint8])
@pytest.mark.parametrize(
    "shape,k",
    [
        ((1, 1, 1), 1),
        ((3, 7, 1), 11),
        ((2, 1025, 5), 300),
        ((1, 50, 1), 100_000),
        ((40, 64, 33), 50),
        ((2, 9, 300), 0),
    ],
)
def test_index_kernels(dt, shape, k):
    outer, n, inner = shape
    x = RNG.integers(0, 100, shape).astype(dt)
    idx = RNG.integers(0, n, k)
    out = np.empty((outer, k, inner), dt)
    core.index_select(x, idx, out)
    np.testing.assert_array_equal(out, np.take(x, idx, axis=1))
    gidx = RNG.integers(0, n, (outer, k, inner))
    core.gather(x, gidx, out)
    np.testing.assert_array_equal(out, np.take_along_axis(x, gidx, 1))
    src = RNG.integers(0, 100, (outer, k, inner)).astype(dt)
    y = x.copy()
    core.scatter(y, gidx, src)
    ref = x.copy()
    o_i, _, i_i = np.indices(gidx.shape)
    ref[o_i, gidx, i_i] = src  # C-order assignment: the last duplicate j wins, like the kernel
    np.testing.assert_array_equal(y, ref)
    if dt in (np.float32, np.float64, np.int64):
        y = x.copy()
        core.scatter_add(y, gidx, src)
        ref = x.copy()
        np.add.at(ref, (o_i, gidx, i_i), src)
        np.testing.assert_allclose(y, ref, rtol=1e-6)
        y = x.copy()
        alpha = 2.0 if dt == np.int64 else 0.5
        core.index_add(y, idx, src, alpha)
        ref = x.copy()
        np.add.at(ref, (slice(None), idx), (src * dt(alpha)).astype(dt))
        np.testing.assert_allclose(y, ref, rtol=1e-6)


def test_index_bounds_errors():
    x = np.arange(10.0).reshape(1, 5, 2)
    keep = x.copy()
    out = np.full((1, 2, 2), -1.0)
    with pytest.raises(IndexError, match="index_select: index 5 .* size 5"):
        core.index_select(x, np.array([1, 5]), out)
    with pytest.raises(IndexError, match="index -1"):
        core.index_select(x, np.array([-1, 0]), out)
    assert (out == -1).all()
    with pytest.raises(IndexError, match="index_add: index 7"):
        core.index_add(x, np.array([0, 7]), np.ones((1, 2, 2)))
    bad = np.array([[[0, 1], [9, 0]]])
    with pytest.raises(IndexError, match="gather: index 9"):
        core.gather(x, bad, out)
    with pytest.raises(IndexError, match="scatter_add: index 9"):
        core.scatter_add(x, bad, np.ones((1, 2, 2)))
    with pytest.raises(IndexError, match="scatter: index 9"):
        core.scatter(x, bad, np.ones((1, 2, 2)))
    big = np.zeros((1, 300_000, 1), np.int64)
    big[0, 123_456, 0] = -3
    with pytest.raises(IndexError, match="index -3 .*position 123456"):
        core.gather(np.ones((1, 4, 1)), big, np.empty((1, 300_000, 1)))
    np.testing.assert_array_equal(x, keep)
    assert (out == -1).all()
    with pytest.raises(ValueError, match="index_select: expected out"):
        core.index_select(x, np.array([1]), out)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("m,num,d", [(1, 1, 1), (7, 3, 5), (1025, 50, 64), (4000, 100, 300)])
def test_embedding_backward(dt, m, num, d):
    idx = RNG.integers(0, num, m)
    gout = rand((m, d), dt)
    for pad in (-1, 0):
        gw = np.zeros((num, d), dt)
        core.embedding_backward(idx, gout, gw, pad)
        ref = np.zeros((num, d), np.float64)
        keep = idx != pad
        np.add.at(ref, idx[keep], gout[keep].astype(np.float64))
        np.testing.assert_allclose(gw, ref, rtol=tol(dt)["rtol"], atol=1e-4)
    with pytest.raises(IndexError, match=f"embedding_backward: index {num}"):
        core.embedding_backward(np.array([num] * m), gout, np.zeros((num, d), dt))
