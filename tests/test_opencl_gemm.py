"""OpenCL GEMM (``deepforge.backends.opencl.gemm.matmul``) against numpy.

Runs every kernel variant (``packed`` and ``direct``: the CPU-device kernels, ``tiled``: the
GPU kernel, ``naive``) on the first OpenCL device, so PoCL exercises the GPU kernel too. Skips
cleanly when pyopencl or an OpenCL device is missing. Operands are strided views of device buffers
(transposed, sliced, offset, negative strides, broadcast batch dims): the GEMM must read them
in place.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

cl = pytest.importorskip("pyopencl")

from deepforge.backends.opencl import gemm  # noqa: E402
from deepforge.backends.opencl.array import CLArray  # noqa: E402
from deepforge.backends.opencl.runtime import devices, get_runtime  # noqa: E402


@pytest.fixture(scope="module")
def rt():
    if not devices():
        pytest.skip("no usable OpenCL device")
    return get_runtime(0)


def to_device(rt, x, pad=0):
    """Upload ``x`` into a fresh buffer that has ``pad`` junk elements in front."""
    x = np.asarray(x)
    flat = np.concatenate([np.full(pad, 7, x.dtype), np.ascontiguousarray(x).ravel()])
    buf = cl.Buffer(rt.ctx, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR, hostbuf=flat)
    strides = [s // x.itemsize for s in np.ascontiguousarray(x).strides]
    return CLArray(rt, buf, x.shape, strides, pad, x.dtype), flat


def view(arr, flat, shape, strides, offset):
    """A strided view of a device array (and the matching numpy view of its host copy)."""
    item = flat.itemsize
    host = np.lib.stride_tricks.as_strided(
        flat[offset:], shape=shape, strides=[s * item for s in strides]
    )
    return CLArray(arr.rt, arr.buf, shape, strides, offset, arr.dtype), host


def to_host(rt, arr):
    n = arr.offset + 1 + sum((s - 1) * st for s, st in zip(arr.shape, arr.strides))
    flat = np.empty(max(n, 1), arr.dtype)
    if min(arr.shape, default=1) > 0:
        cl.enqueue_copy(rt.queue, flat, arr.buf, is_blocking=True)
    host = np.lib.stride_tricks.as_strided(
        flat[arr.offset :], shape=arr.shape, strides=[s * arr.dtype.itemsize for s in arr.strides]
    )
    return host.copy()


def run(rt, a, b, variant, out_dtype=None, pad_a=0, pad_b=0):
    da, _ = to_device(rt, a, pad_a)
    db, _ = to_device(rt, b, pad_b)
    out_dtype = out_dtype or np.result_type(a.dtype, b.dtype)
    c = gemm.matmul(rt, da, db, out_dtype, variant=variant)
    return to_host(rt, c)


def tol(dtype, k):
    dtype = np.dtype(dtype)
    if dtype == np.float64:
        return dict(rtol=1e-10, atol=1e-10 * max(k, 1))
    if dtype == np.float16:
        return dict(rtol=2e-3, atol=2e-3 * max(k, 1) ** 0.5)
    return dict(rtol=1e-4, atol=1e-5 * max(k, 1) ** 0.5)


def randn(rng, shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


VARIANTS = ["packed", "direct", "tiled", "naive"]
FLOAT_VARIANTS = ["packed", "direct", "tiled"]


# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "m,k,n",
    [(1, 1, 1), (7, 13, 5), (64, 64, 64), (65, 129, 33), (1, 300, 1), (33, 1, 47), (8, 32, 32),
     (13, 20, 64), (1, 300, 96)],  # M edges with whole column blocks (direct's fast path)
)
def test_shapes_float32(rt, variant, m, k, n):
    rng = np.random.default_rng(m * 1000 + k * 10 + n)
    a, b = randn(rng, (m, k)), randn(rng, (k, n))
    c = run(rt, a, b, variant)
    assert c.shape == (m, n) and c.dtype == np.float32
    np.testing.assert_allclose(c, a @ b, **tol(np.float32, k))


@pytest.mark.parametrize(
    "variant,m,k,n",
    [
        ("packed", 1000, 1000, 1000),
        ("direct", 700, 300, 520),
        # the GPU kernel runs ~100x slower on PoCL (barriers spill its accumulators): same K,
        # still many 64 x 64 tiles with ragged edges, fewer of them
        ("tiled", 300, 1000, 260),
    ],
)
def test_large_float32(rt, variant, m, k, n):
    rng = np.random.default_rng(0)
    a, b = randn(rng, (m, k)), randn(rng, (k, n))
    c = run(rt, a, b, variant)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(c, ref, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "sa,sb",
    [
        ((3, 7, 5), (3, 5, 9)),  # plain batch
        ((3, 7, 5), (5, 9)),  # B broadcast (folds into one GEMM when A is contiguous)
        ((5, 9), (4, 9, 6)),  # A broadcast
        ((2, 1, 7, 5), (1, 3, 5, 9)),  # both broadcast
        ((2, 3, 1, 2, 6, 4), (3, 2, 1, 4, 5)),  # > 3 batch dims after collapsing
        ((0, 3, 4), (4, 5)),  # empty batch
        ((2, 0, 4), (2, 4, 5)),  # M == 0
        ((2, 3, 0), (2, 0, 5)),  # K == 0: zeros
    ],
)
def test_batched_broadcast(rt, variant, sa, sb):
    rng = np.random.default_rng(len(sa) * 10 + len(sb))
    a, b = randn(rng, sa), randn(rng, sb)
    c = run(rt, a, b, variant, pad_a=3, pad_b=5)
    ref = np.matmul(a, b)
    assert c.shape == ref.shape
    np.testing.assert_allclose(c, ref, **tol(np.float32, sa[-1]))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strided_operands(rt, variant, dtype):
    """Transposed, sliced, offset and batch-strided operands, read in place."""
    rng = np.random.default_rng(1)
    if dtype == np.float64 and "cl_khr_fp64" not in rt.device.extensions:
        pytest.skip("no cl_khr_fp64")
    # base buffers with junk before the data
    base_a = randn(rng, (4, 50, 70), dtype)
    base_b = randn(rng, (60, 3, 45), dtype)
    da, fa = to_device(rt, base_a, pad=11)
    db, fb = to_device(rt, base_b, pad=2)
    cases = [
        # A = base_a[1:4, 3:40:2, 5:66].mT -> (3, 61, 19), strides (3500, 1, 140)
        (
            ((3, 61, 19), (3500, 1, 140), 11 + 3500 + 3 * 70 + 5),
            # B = base_b[:19, 1, 2:45:3] -> (19, 15)
            ((19, 15), (135, 3), 2 + 45 + 2),
        ),
        # A row-major slice, B transposed with a batch stride of zero (expand)
        (((2, 17, 33), (3500, 70, 1), 11 + 7), ((2, 33, 20), (0, 1, 135), 2 + 10)),
        # both transposed
        (((40, 30), (1, 70), 11 + 3500), ((30, 45), (1, 135), 2 + 1)),
        # negative strides: A = base_a[2, ::-1, 10:55], B = base_b[::-2, 0, :].mT
        (((50, 45), (-70, 1), 11 + 2 * 3500 + 49 * 70 + 10), ((45, 30), (1, -270), 2 + 59 * 135)),
    ]
    for (shape_a, st_a, off_a), (shape_b, st_b, off_b) in cases:
        va, ha = view(da, fa, shape_a, st_a, off_a)
        vb, hb = view(db, fb, shape_b, st_b, off_b)
        c = to_host(rt, gemm.matmul(rt, va, vb, dtype, variant=variant))
        ref = np.matmul(ha, hb)
        assert c.shape == ref.shape and c.dtype == dtype
        np.testing.assert_allclose(c, ref, **tol(dtype, shape_a[-1]))
    # the operands are untouched
    np.testing.assert_array_equal(to_host(rt, da), base_a)
    np.testing.assert_array_equal(to_host(rt, db), base_b)


@pytest.mark.parametrize("variant", VARIANTS)
def test_float64(rt, variant):
    if "cl_khr_fp64" not in rt.device.extensions:
        pytest.skip("no cl_khr_fp64")
    rng = np.random.default_rng(2)
    for m, k, n in [(1, 1, 1), (65, 129, 33), (2, 40, 17)]:
        a, b = randn(rng, (2, m, k), np.float64), randn(rng, (k, n), np.float64)
        c = run(rt, a, b, variant)
        assert c.dtype == np.float64
        np.testing.assert_allclose(c, a @ b, **tol(np.float64, k))


@pytest.mark.parametrize("variant", VARIANTS)
def test_float16(rt, variant):
    rng = np.random.default_rng(3)
    a, b = randn(rng, (3, 37, 70), np.float16), randn(rng, (70, 41), np.float16)
    c = run(rt, a, b, variant)
    assert c.dtype == np.float16
    ref = (a.astype(np.float32) @ b.astype(np.float32)).astype(np.float16)
    np.testing.assert_allclose(c.astype(np.float32), ref.astype(np.float32), rtol=2e-3, atol=2e-2)


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int16, np.int32, np.int64, np.bool_])
def test_integer_and_bool(rt, dtype):
    rng = np.random.default_rng(4)
    a = rng.integers(0, 4, (2, 9, 13)).astype(dtype)
    b = rng.integers(0, 4, (13, 6)).astype(dtype)
    c = run(rt, a, b, None)
    ref = np.matmul(a, b)
    assert c.dtype == ref.dtype
    np.testing.assert_array_equal(c, ref)


def test_mixed_float_inputs(rt):
    """Inputs of different float dtypes are converted while loading."""
    rng = np.random.default_rng(5)
    a, b = randn(rng, (20, 30), np.float16), randn(rng, (30, 40), np.float32)
    for variant in FLOAT_VARIANTS:
        c = run(rt, a, b, variant, out_dtype=np.float32)
        np.testing.assert_allclose(c, a.astype(np.float32) @ b, **tol(np.float32, 30))


def test_errors(rt):
    a, _ = to_device(rt, np.zeros((3, 4), np.float32))
    b, _ = to_device(rt, np.zeros((5, 6), np.float32))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        gemm.matmul(rt, a, b, np.float32)
    a, _ = to_device(rt, np.zeros((2, 3, 4), np.float32))
    b, _ = to_device(rt, np.zeros((3, 4, 6), np.float32))
    with pytest.raises(RuntimeError, match="must match"):
        gemm.matmul(rt, a, b, np.float32)
    b, _ = to_device(rt, np.zeros((4, 6), np.float32))
    with pytest.raises(ValueError, match="variant"):
        gemm.matmul(rt, a, b, np.float32, variant="bogus")


def test_env_variant(rt, monkeypatch):
    rng = np.random.default_rng(6)
    a, b = randn(rng, (40, 50)), randn(rng, (50, 60))
    for v in VARIANTS:
        monkeypatch.setenv("DEEPFORGE_OPENCL_GEMM", v)
        np.testing.assert_allclose(run(rt, a, b, None), a @ b, **tol(np.float32, 50))
    assert os.environ["DEEPFORGE_OPENCL_GEMM"] == "naive"


@pytest.mark.parametrize("variant", VARIANTS)
def test_batch_split_across_launches(rt, variant, monkeypatch):
    """Batches larger than one launch's third dimension run as several offset launches."""
    monkeypatch.setattr(gemm, "_MAX_Z", 2)
    rng = np.random.default_rng(7)
    a, b = randn(rng, (5, 9, 12)), randn(rng, (5, 12, 35))
    np.testing.assert_allclose(run(rt, a, b, variant), a @ b, **tol(np.float32, 12))


@pytest.mark.parametrize("variant", VARIANTS)
def test_vector_shapes_and_folding(rt, variant):
    """Row/column vectors (1-D operands reshaped by the caller) and batch folding into M."""
    rng = np.random.default_rng(8)
    for sa, sb in [((1, 70), (70, 40)), ((40, 70), (70, 1)), ((6, 1, 70), (70, 40))]:
        a, b = randn(rng, sa), randn(rng, sb)
        np.testing.assert_allclose(run(rt, a, b, variant), a @ b, **tol(np.float32, 70))
    # (6, 1, 70) as a strided view whose batch stride is not the row stride: folds with M == 1
    base = randn(rng, (6, 3, 70))
    da, fa = to_device(rt, base, pad=4)
    va, ha = view(da, fa, (6, 1, 70), (210, 5, 1), 4 + 70)
    b = randn(rng, (70, 40))
    db, _ = to_device(rt, b)
    c = to_host(rt, gemm.matmul(rt, va, db, np.float32, variant=variant))
    np.testing.assert_allclose(c, ha @ b, **tol(np.float32, 70))


@pytest.mark.parametrize("max_wg", [64, 16, 1])
def test_tiled_smaller_work_groups(rt, monkeypatch, max_wg):
    """Devices reporting small work-groups get a smaller tiled configuration."""
    monkeypatch.setattr(rt, "max_work_group_size", max_wg)
    monkeypatch.setattr(gemm, "_setups", gemm.weakref.WeakKeyDictionary())
    rng = np.random.default_rng(9)
    a, b = randn(rng, (2, 37, 29)), randn(rng, (29, 41))
    np.testing.assert_allclose(run(rt, a, b, "tiled"), a @ b, **tol(np.float32, 29))
    (setup,) = gemm._setups[rt].values()
    lx, ly, _ = setup["local"]
    assert lx * ly <= max_wg


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_transposed_operands(rt, variant, dtype):
    """``x.mT`` operands (unit stride along M for A, along K for B) with whole and ragged
    blocks, batched, read in place."""
    if dtype == np.float64 and "cl_khr_fp64" not in rt.device.extensions:
        pytest.skip("no cl_khr_fp64")
    rng = np.random.default_rng(10)
    at, bt = randn(rng, (2, 100, 70), dtype), randn(rng, (2, 90, 100), dtype)
    da, fa = to_device(rt, at, pad=1)
    db, fb = to_device(rt, bt, pad=2)
    va, ha = view(da, fa, (2, 70, 100), (7000, 1, 70), 1)
    vb, hb = view(db, fb, (2, 100, 90), (9000, 1, 100), 2)
    np.testing.assert_array_equal(ha, at.transpose(0, 2, 1))
    c = to_host(rt, gemm.matmul(rt, va, vb, dtype, variant=variant))
    ref = np.matmul(ha.astype(np.float64), hb.astype(np.float64))
    t = tol(dtype, 100) if dtype != np.float16 else dict(rtol=5e-3, atol=5e-2)
    np.testing.assert_allclose(c.astype(np.float64), ref, **t)


def test_auto_variant_on_cpu_devices(rt):
    """On CPU devices mid-size products with contiguous B rows take gemm_direct (one launch),
    large ones and strided B the packed kernels, matrix @ vector the naive kernel."""
    if not rt.is_cpu:
        pytest.skip("CPU-device choice")
    f32 = np.dtype(np.float32)

    def choose(m, n, k, sbn=1, b_dt=f32, sak=1, sbk=None):
        sbk = n if sbk is None else sbk
        return gemm.choose_variant(rt, None, f32, b_dt, f32, m, n, k, (sak, sbk, sbn))

    assert choose(32, 128, 64) == "direct"
    assert choose(512, 512, 512) == "direct"
    assert choose(2048, 2048, 2048) == "packed"
    assert choose(512, 784, 256) == "packed"  # a right edge block: small products only
    assert choose(64, 100, 64) == "direct"
    assert choose(512, 512, 512, sak=512) == "packed"  # A.mT: small products only
    assert choose(128, 128, 128, sak=128) == "direct"
    assert choose(512, 512, 512, sbn=512, sbk=1) == "packed"  # B.mT: rows not contiguous
    assert choose(32, 128, 64, sbn=64, sbk=1) == "direct"  # x @ W.T: gemm_dot
    assert choose(32, 256, 784, sbn=784, sbk=1) == "direct"  # long K, small output
    assert choose(256, 256, 256, sbn=256, sbk=1) == "packed"
    assert choose(2000, 64, 64, sbn=64, sbk=1) == "packed"  # short K: packing pays
    assert choose(64, 64, 64, sbn=7, sbk=3) == "packed"
    assert choose(64, 16, 64) == "packed"  # N < one block: every block on the slow edge path
    assert choose(8, 8, 8, sbn=8) == "naive"
    assert choose(64, 64, 64, b_dt=np.dtype(np.float16)) == "packed"
    assert choose(300, 1, 300) == "naive"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize(
    "sa,sw",
    [((5, 37), (7, 37)), ((33, 64), (17, 64)), ((4, 16), (4, 16)), ((9, 100), (40, 100)),
     ((3, 9, 40), (3, 11, 40)), ((2, 3, 9, 40), (11, 40))],
)  # fmt: skip
def test_dot_kernel_for_x_at_w_t(rt, monkeypatch, dtype, sa, sw):
    """``x @ W.mT`` (both operands contiguous along K) runs gemm_dot under the direct variant:
    K tails, M and N edges, batches and a broadcast W."""
    if dtype == np.float64 and "cl_khr_fp64" not in rt.device.extensions:
        pytest.skip("no cl_khr_fp64")
    names = []
    real = gemm._launch
    monkeypatch.setattr(gemm, "_launch", lambda r, k, *a: names.append(k.function_name)
                        or real(r, k, *a))  # fmt: skip
    rng = np.random.default_rng(11)
    x, w = randn(rng, sa, dtype), randn(rng, sw, dtype)
    dx, _ = to_device(rt, x, pad=3)
    dw, fw = to_device(rt, w, pad=5)
    wt_shape = sw[:-2] + (sw[-1], sw[-2])
    wt_strides = tuple(dw.strides[:-2]) + (1, sw[-1])
    vw, hw = view(dw, fw, wt_shape, wt_strides, 5)
    c = to_host(rt, gemm.matmul(rt, dx, vw, dtype, variant="direct"))
    assert names and set(names) == {"gemm_dot"}
    ref = np.matmul(x.astype(np.float64), hw.astype(np.float64))
    t = tol(dtype, sa[-1]) if dtype != np.float16 else dict(rtol=5e-3, atol=5e-2)
    np.testing.assert_allclose(c.astype(np.float64), ref, **t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("b_layout", ["rows", "w_t"])
def test_bias_added_in_the_kernel(rt, dtype, b_layout):
    """``bias``: added to every row inside gemm_direct / gemm_dot (a strided bias view too);
    other variants return None for the caller to add it."""
    if dtype == np.float64 and "cl_khr_fp64" not in rt.device.extensions:
        pytest.skip("no cl_khr_fp64")
    rng = np.random.default_rng(12)
    a = randn(rng, (13, 40), dtype)
    if b_layout == "rows":
        b = randn(rng, (40, 70), dtype)
        db, _ = to_device(rt, b)
    else:  # W.mT, read in place: gemm_dot
        w = randn(rng, (70, 40), dtype)
        dw, fw = to_device(rt, w, pad=2)
        db, b = view(dw, fw, (40, 70), (1, 40), 2)
    da, _ = to_device(rt, a, pad=1)
    bias_full = randn(rng, (140,), dtype)
    dbias, fbias = to_device(rt, bias_full, pad=3)
    vbias, hbias = view(dbias, fbias, (70,), (2,), 3)  # every other element
    c = to_host(rt, gemm.matmul(rt, da, db, dtype, variant="direct", bias=vbias))
    ref = a.astype(np.float64) @ b.astype(np.float64) + hbias.astype(np.float64)
    t = tol(dtype, 40) if dtype != np.float16 else dict(rtol=5e-3, atol=5e-2)
    np.testing.assert_allclose(c.astype(np.float64), ref, **t)
    assert gemm.matmul(rt, da, db, dtype, variant="packed", bias=vbias) is None
