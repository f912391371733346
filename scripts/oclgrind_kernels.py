"""Exercise every OpenCL kernel family of deepforge at tiny sizes, checking results against
numpy. Run under Oclgrind by scripts/oclgrind_check.sh (which looks for its error reports);
it runs with any OpenCL device too: python scripts/oclgrind_kernels.py

A false positive of Oclgrind 21.10 (Debian's), worked around in the kernels rather than
filtered here: its uninitialised-value checker marks every lane of a shufflevector result
that reads element 11 of a 16-wide source as uninitialised, whatever the element type; all
other elements, and single-element reads such as ``a.sb`` (an extractelement), are clean.
Minimal kernel (input: 16 floats written from the host; --uninitialized -cl-opt-disable):

    __kernel void k(__global float* out, __global const float* x) {
        const float16 a = vload16(0, x);
        const float8 h = a.hi;
        const float16 id = a.s0123456789abcdef;
        out[0] = h.s3;   // reported: "Uninitialized value written to global memory"
        out[1] = h.s2;   // clean (element 10)
        out[2] = a.sb;   // clean (element 11, no shuffle)
        out[3] = id.sb;  // reported (an identity shuffle)
        out[4] = ((float8)(a.s8, a.s9, a.sa, a.sb, a.sc, a.sd, a.se, a.sf)).s3;  // clean
    }

The reduction and softmax kernels fold 16 lanes pairwise; they take the upper half with
HI16 (reduce_common.h) / HI16_ (softmax.cl), lane by lane, instead of ``.hi``, which
compilers fold back into the same shuffle.
"""

from __future__ import annotations

import numpy as np

import deepforge as df
from deepforge.backends import get_backend
from deepforge.backends.opencl import gemm, indexing, reduce

RNG = np.random.default_rng(0)
be = get_backend(df.device("opencl:0"))
cpu = get_backend(df.device("cpu"))
print(f"device: {be.device_name} ({'cpu' if be.rt.is_cpu else 'gpu'} layout)", flush=True)


def close(a, b, tol=1e-5):
    a = be.to_numpy(a) if not isinstance(a, np.ndarray) else a
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=tol,
                               atol=tol, equal_nan=True)


def section(name):
    print(f"-- {name}", flush=True)


f32 = np.dtype(np.float32)
x = RNG.standard_normal((5, 7)).astype(np.float32)
y = RNG.standard_normal((5, 7)).astype(np.float32)
X, Y = be.from_numpy(x), be.from_numpy(y)
Xt = be.permute(X, (1, 0))

section("copy / cast / fill")
close(be.clone(Xt), x.T)
close(be.astype(X, np.float16), x.astype(np.float16), 1e-3)
close(be.astype(be.astype(X, np.int8), np.int64), x.astype(np.int8))
z = be.zeros((3, 4), np.float32)
be.copy_(be.getitem_basic(z, (slice(None), slice(None, None, 2))), 2.0)
close(z, np.array([[2, 0, 2, 0]] * 3))

section("elementwise")
close(be.unary("exp", X, f32), np.exp(x))
close(be.unary("tanh", Xt, f32), np.tanh(x.T))
close(be.unary("isnan", X, np.bool_), np.isnan(x))
close(be.binary("add", X, Y, f32), x + y)
close(be.binary("mul", X, 2.0, f32), x * 2)
close(be.binary("atan2", X, be.getitem_basic(Y, 0), f32), np.arctan2(x, y[0]))
close(be.binary("lt", Xt, 0.0, f32), x.T < 0)
close(be.where(be.binary("gt", X, 0, f32), X, 0.5, f32), np.where(x > 0, x, 0.5))
close(be.clamp(X, -0.5, Y, f32), np.clip(x, -0.5, y))
close(be.lerp(X, Y, 0.25, f32), x + 0.25 * (y - x))
with np.errstate(invalid="ignore", divide="ignore"):
    close(be.nan_to_num(be.unary("log", X, f32), 0.0, None, None),
          np.nan_to_num(np.log(x), nan=0.0, posinf=np.finfo(np.float32).max,
                        neginf=np.finfo(np.float32).min))
xi = RNG.integers(-9, 9, (6,)).astype(np.int16)
close(be.binary("floordiv", be.from_numpy(xi), 4, np.int16), xi // 4)

section("recorded small ops (ew_batch)")
rec = be.rt.recorder
if rec is None:
    print("ops are not recorded on this device", flush=True)
else:
    xi64 = RNG.integers(-9, 9, (5,))
    I64 = be.from_numpy(xi64)
    V = type(X)(be.rt, X.buf, (9,), (1,), 4, f32)  # a view that starts inside its buffer
    v = x.ravel()[4:13]
    be.synchronize()
    be.unary("neg", X, f32)  # the first small op after a wait goes out at once
    cases = [(be.unary("exp", V, f32), np.exp(v)), (be.unary("neg", V, f32), -v),
             (be.unary("erf", X, f32), None), (be.binary("mul", V, V, f32), v * v),
             (be.binary("sub", V, 2.5, f32), v - 2.5), (be.binary("div", 2.5, V, f32), 2.5 / v),
             (be.binary("add", I64, 3, I64.dtype), xi64 + 3),
             (be.binary("mul", I64, I64, I64.dtype), xi64 * xi64)]
    assert rec.count >= 2, rec.count  # a dtype change ends a batch; the int64 ones wait
    for got, ref in cases:
        if ref is not None:
            close(got, ref, 1e-5)

section("reductions")
for axes in (None, (0,), (1,)):
    close(be.reduce("sum", X, axes, False, f32), x.sum(axis=axes))
    close(be.reduce("max", Xt, axes, True, f32), x.T.max(axis=axes, keepdims=True))
close(be.var(X, (1,), 1, False, f32), x.var(1, ddof=1))
close(be.logsumexp(X, (0,), False), np.log(np.exp(x).sum(0)))
close(be.argreduce("argmax", X, 1, False), x.argmax(1))


def reduce_cases():
    """Every reduction kernel (lines, cols, wg, arg_*) at small sizes: sum-like and
    extremum-like ops, contiguous, outer-axis and multi-axis layouts."""
    big = RNG.standard_normal((3, 700)).astype(np.float32)  # inner axis: lines / wg
    col = RNG.standard_normal((200, 40)).astype(np.float32)  # outer axis: cols on CPUs
    cube = RNG.standard_normal((4, 5, 6)).astype(np.float32)  # two reduced axes (nr == 2)
    B, C = be.from_numpy(big), be.from_numpy(col)
    for A, a, ax in ((B, big, 1), (C, col, 0)):
        close(be.reduce("sum", A, (ax,), False, f32), a.sum(ax), 1e-4)
        close(be.reduce("mean", A, (ax,), False, f32), a.mean(ax), 1e-4)
        close(be.reduce("max", A, (ax,), False, f32), a.max(ax))
        p = 1 + a / 64
        close(be.reduce("prod", be.from_numpy(p), (ax,), False, f32), np.prod(p, ax, np.float64),
              1e-4)
        close(be.reduce("any", be.from_numpy(a > 2), (ax,), False, np.bool_), (a > 2).any(ax))
        close(be.var(A, (ax,), 1, False, f32), a.var(ax, ddof=1), 1e-4)
        close(be.logsumexp(A, (ax,), False), np.log(np.exp(a).sum(ax)), 1e-4)
        close(be.argreduce("argmin", A, ax, False), a.argmin(ax))
        v, i = be.max_min_dim("max", A, ax, False)
        close(v, a.max(ax))
        close(i, a.argmax(ax))
    close(be.reduce("sum", B, None, False, f32), big.sum(), 1e-3)
    close(be.argreduce("argmax", B, None, False), big.argmax())
    ib = (big * 10).astype(np.int32)
    close(be.reduce("sum", be.from_numpy(ib), (1,), False, np.int64), ib.sum(1))
    close(be.reduce("sum", be.from_numpy(big.astype(np.float16)), (1,), False, np.float16),
          big.astype(np.float16).astype(np.float32).sum(1), 2e-2)
    close(be.reduce("sum", be.from_numpy(cube), (0, 2), False, f32), cube.sum((0, 2)), 1e-4)


class Patched:
    """Temporarily replace attributes of reduce.ReduceOps / the reduce module."""

    def __init__(self, **attrs):
        self.attrs, self.saved = attrs, {}

    def __enter__(self):
        for k, v in self.attrs.items():
            obj = reduce.ReduceOps if hasattr(reduce.ReduceOps, k) else reduce
            self.saved[k] = (obj, getattr(obj, k))
            setattr(obj, k, v)

    def __exit__(self, *exc):
        for k, (obj, v) in self.saved.items():
            setattr(obj, k, v)


# the geometry the device would choose (few outputs: one pass on CPUs, partly work-groups on
# GPUs), then forced: reductions split into 3 parts (partials + second pass) for lines, cols
# and arg_*; a work-group per output, in one part and in 3
_wg_geo = reduce.ReduceOps._wg_geometry
three_parts = {"_parts": lambda self, units, R: 3, "_SMALL": 0,
               "_wg_geometry": lambda self, M, R: (_wg_geo(self, M, R)[0], 3)}
with_wg = {"_use_wg": lambda self, M, R, outer=False: True}
for name, attrs in (("natural", {}), ("parts", three_parts), ("wg", with_wg),
                    ("wg + parts", {**with_wg, **three_parts})):
    print(f"   {name}", flush=True)
    with Patched(**attrs):
        reduce_cases()

section("scans / sort")
close(be.cumulative("cumsum", X, 1, f32), np.cumsum(x, 1))
v, i = be.cum_extreme("cummin", X, 0)
rv, ri = cpu.cum_extreme("cummin", x, 0)
close(v, rv)
close(i, ri)
v, i = be.sort(Xt, 1, True, True)
close(i, np.argsort(-x.T, 1, kind="stable"))
close(be.topk(X, 2, 1, False, True)[0], np.sort(x, 1)[:, :2])
# blocks of 2 and 4 slots: these short lines then take sort_step launches and sort_block
# launches that finish a stage, as long lines do with the real block size
saved = type(be).sort_block_slots
for slots in (2, 4):
    type(be).sort_block_slots = {"cpu": slots, "gpu": slots}
    v, i = be.sort(Xt, 1, False, True)
    close(i, np.argsort(x.T, 1, kind="stable"))
type(be).sort_block_slots = saved

section("indexing")
idx = np.array([4, 0, -1, 2], np.int64)
I = be.from_numpy(idx)
close(be.index_select(X, 0, I), x[idx])
g = RNG.integers(0, 7, (5, 3)).astype(np.int64)
close(be.gather(X, 1, be.from_numpy(g)), np.take_along_axis(x, g, 1))
close(be.getitem_advanced(X, (I, slice(1, 3))), x[idx, 1:3])
close(be.getitem_advanced(X, (be.from_numpy(x > 0),)), x[x > 0])
close(be.nonzero(be.from_numpy(x > 0)), np.argwhere(x > 0))
for serial in (True, False):
    if not serial:
        indexing._SERIAL_ASSIGN = indexing._SERIAL_REDUCE = 0  # force the atomic paths
    for dt in (np.float32, np.float64, np.int32, np.int64, np.int8, np.float16):
        # 8 elements: 1- and 2-byte atomics update whole 32-bit words, and Oclgrind would
        # flag the never-written padding bytes of a shorter array as uninitialised
        base = np.zeros(8, dt)
        B = be.from_numpy(base)
        src = np.arange(1, 9).astype(dt)
        tgt = np.array([0, 1, 1, 3, 3, 3, 4, 0], np.int64)
        be.scatter_(B, 0, be.from_numpy(tgt), be.from_numpy(src), "add")
        np.add.at(base, tgt, src)
        close(B, base, 1e-3)
    Z = be.from_numpy(np.zeros((4, 3), np.float32))
    be.index_put_(Z, (be.from_numpy(np.array([1, 1, 2], np.int64)),), 1.5, True)
    close(Z, np.array([[0] * 3, [3.0] * 3, [1.5] * 3, [0] * 3]))
    Z = be.from_numpy(np.zeros((4, 3), np.float32))
    be.setitem(Z, (be.from_numpy(np.array([3, 0], np.int64)), 1), 7.0)
    close(Z, np.array([[0, 7, 0], [0] * 3, [0] * 3, [0, 7, 0]]))
# whole-row kernels (CPU layout): a strided source, and an index_add_ big enough to be split
# over several work-items (disjoint row blocks) with duplicate targets
close(be.index_select(Xt, 1, I), x.T[:, idx])
rows = RNG.standard_normal((300, 16)).astype(np.float32)
tgt = RNG.integers(0, 10, 300).astype(np.int64)
acc = np.zeros((10, 16), np.float32)
A = be.from_numpy(acc)
be.index_add_(A, 0, be.from_numpy(tgt), be.from_numpy(rows), 2)
np.add.at(acc, tgt, rows * 2)
close(A, acc, 1e-4)
# deferred index checks: bad indices are recorded by idx_check and skipped by the indexing
# kernels, which must touch nothing outside their tensors meanwhile (X is 5 x 7)
bad = be.from_numpy(np.array([[4], [70], [-90], [2**40], [0]], np.int64))
be.check_index(bad, 0, 5, IndexError, "{index}")
gathered = be.gather(X, 1, bad)
picked = be.index_select(X, 0, be.reshape(bad, (5,)))
picked_t = be.index_select(Xt, 1, be.reshape(bad, (5,)))
S = be.from_numpy(np.zeros((5, 7), np.float32))
be.scatter_(S, 1, bad, 1.0)
be.setitem(S, (be.reshape(bad, (5,)),), 2.0)
# two index arrays, folded into offsets with a floor remainder: in bounds whatever they hold
rows5 = be.from_numpy(np.array([0, 1, 2, 3, 4], np.int64))
two = be.getitem_advanced(X, (rows5, be.reshape(bad, (5,))))
S2 = be.from_numpy(np.zeros((5, 7), np.float32))
be.setitem(S2, (rows5, be.reshape(bad, (5,))), 3.0)
be.check_index(be.from_numpy(np.array([1, 3], np.int32)), 0, 5, IndexError, "{index}")
try:
    be.rt.finish()
    raise AssertionError("the deferred index check raised nothing")
except IndexError as e:
    assert str(e).startswith(str(2**40)), "the check named the wrong index"
close(gathered, np.array([[x[0, 4]], [0], [0], [0], [x[4, 0]]]))
zero_row, zero_col = np.zeros((1, 7), np.float32), np.zeros((7, 1), np.float32)
close(picked, np.concatenate([x[4:5], zero_row, zero_row, zero_row, x[0:1]]))
close(picked_t, np.concatenate([x.T[:, 4:5], zero_col, zero_col, zero_col, x.T[:, 0:1]], 1))
want = np.zeros((5, 7), np.float32)
want[0] = want[4] = 2.0
close(S, want)
assert be.to_numpy(two)[[0, 4]].tolist() == [x[0, 4], x[4, 0]]
assert int((be.to_numpy(S2) == 3.0).sum()) == 5  # one write per row, all inside S2
close(be.embedding_backward(be.from_numpy(np.array([[1, 2], [2, 0]], np.int64)),
                            be.from_numpy(np.ones((2, 2, 3), np.float32)), 4, 0),
      np.array([[0] * 3, [1] * 3, [2] * 3, [0] * 3]))

section("softmax")
for axis in (0, 1):
    close(be.softmax(X, axis), cpu.softmax(x, axis))
    close(be.log_softmax_backward(X, Y, axis), cpu.log_softmax_backward(x, y, axis))
wide = RNG.standard_normal((1, 1100)).astype(np.float32)
close(be.softmax(be.from_numpy(wide), 1), cpu.softmax(wide, 1))

section("random / optim / matmul")
np.testing.assert_array_equal(be.to_numpy(be.random_uniform((9,), f32, 1, 2)),
                              cpu.random_uniform((9,), f32, 1, 2))
close(be.random_normal((9,), f32, 1, 2), cpu.random_normal((9,), f32, 1, 2))
np.testing.assert_array_equal(be.to_numpy(be.random_bits((9,), 1, 2)), cpu.random_bits((9,), 1, 2))
for dt_, ut_ in ((f32, f32), (np.dtype(np.float64), f32), (f32, np.dtype(np.float64))):
    u_ = cpu.random_uniform((19,), ut_, 1, 2)  # 19: blocks of eight and a tail
    want_ = np.where(u_ < ut_.type(0.6), dt_.type(1 / 0.6), 0).astype(dt_)
    np.testing.assert_array_equal(be.to_numpy(be.random_keep_scale((19,), dt_, ut_, 1, 2, 0.6,
                                                                   1 / 0.6)), want_)
P, G, M = (be.from_numpy(a.copy()) for a in (x, y, y))
be.sgd_momentum_step(P, G, M, 0.1, 0.9, 0.0, 0.0, False, False, False)
close(P, x - 0.1 * (0.9 * y + y))
P, M, V = be.from_numpy(x.copy()), be.zeros(x.shape, f32), be.zeros(x.shape, f32)
be.adam_step(P, G, M, V, None, 0.1, 0.9, 0.999, 1e-8, 0.0, False, False, False, 1)
close(P, x - 0.1 * np.sign(y), 1e-4)
# 6 classes: a 5-float weight leaves the last word of its 24-byte pool block unwritten, and
# when layer_norm's row statistics reuse that block below, Oclgrind (GPU layout) reports
# ln_apply's last row as computed from uninitialised memory although its values are right
lp = RNG.standard_normal((6, 6)).astype(np.float32)
tg = np.array([0, 4, -100, 2, 3, 5], np.int64)
cw = RNG.random(6).astype(np.float32)
for red in ("none", "sum", "mean"):
    got, tot = be.nll_forward(be.from_numpy(lp), be.from_numpy(tg), be.from_numpy(cw), -100, red)
    want, wtot = cpu.nll_forward(lp, tg, cw, -100, red)
    close(got, want, 1e-5)
    gl = be.from_numpy(np.ones(6, np.float32) if red == "none" else np.float32(1.5))
    close(be.nll_backward(gl, be.from_numpy(tg), be.from_numpy(cw), -100, red, tot, 6, 6, f32),
          cpu.nll_backward(be.to_numpy(gl), tg, cw, -100, red, wtot, 6, 6, f32), 1e-5)
close(be._matmul_simple(X, Xt, f32), x @ x.T, 1e-4)
close(be.matmul(X, Xt, f32), x @ x.T, 1e-4)
a3 = RNG.standard_normal((2, 9, 17)).astype(np.float32)
b3 = RNG.standard_normal((17, 33)).astype(np.float32)
for variant in gemm.VARIANTS:
    close(gemm.matmul(be.rt, be.from_numpy(a3), be.from_numpy(b3), f32, variant=variant),
          a3 @ b3, 1e-4)
# gemm_direct's fast path with a bottom edge (13 rows), gemm_dot (x @ W.T) with K and M/N tails
a13 = RNG.standard_normal((13, 20)).astype(np.float32)
b64 = RNG.standard_normal((20, 64)).astype(np.float32)
close(gemm.matmul(be.rt, be.from_numpy(a13), be.from_numpy(b64), f32, variant="direct"),
      a13 @ b64, 1e-4)
w = RNG.standard_normal((7, 20)).astype(np.float32)
Wt = be.from_numpy(w)
Wt = type(Wt)(be.rt, Wt.buf, (20, 7), (1, 20), Wt.offset, Wt.dtype)  # w.T, in place
close(gemm.matmul(be.rt, be.from_numpy(a13), Wt, f32, variant="direct"), a13 @ w.T, 1e-4)
bias64, bias7 = (RNG.standard_normal(n).astype(np.float32) for n in (64, 8))  # 8: whole words
close(gemm.matmul(be.rt, be.from_numpy(a13), be.from_numpy(b64), f32, variant="direct",
                  bias=be.from_numpy(bias64)), a13 @ b64 + bias64, 1e-4)
B7 = be.from_numpy(bias7)
close(gemm.matmul(be.rt, be.from_numpy(a13), Wt, f32, variant="direct",
                  bias=type(B7)(be.rt, B7.buf, (7,), (1,), B7.offset, B7.dtype)),
      a13 @ w.T + bias7[:7], 1e-4)
section("convolution / pooling / normalization")
img = RNG.standard_normal((2, 3, 5, 6)).astype(np.float32)
IMG = be.from_numpy(img)
geo = ((5, 6), (2, 3), (1, 1), (1, 0), (2, 1), (3, 4))  # in, kernel, dilation, pad, stride, out
cols = cpu.im2col(img, *geo)
close(be.im2col(IMG, *geo), cols)
close(be.col2im(be.from_numpy(cols), 3, *geo), cpu.col2im(cols, 3, *geo), 1e-4)
v, i = be.max_pool(IMG, *geo)
rv, ri = cpu.max_pool(img, *geo)
close(v, rv)
close(i, ri)
close(be.max_pool_backward(v, i, (5, 6)), cpu.max_pool_backward(rv, ri, (5, 6)))
# 2x2 windows of stride 2 inside the plane: the row kernel's 16-wide loads (a block and a tail)
wide = RNG.standard_normal((1, 2, 4, 18)).astype(np.float32)
wgeo = ((4, 18), (2, 2), (1, 1), (0, 0), (2, 2), (2, 9))
for got, want in zip(be.max_pool(be.from_numpy(wide), *wgeo), cpu.max_pool(wide, *wgeo)):
    close(got, want)
pgeo = ((5, 6), (2, 3), (1, 0), (2, 1), (3, 4), True, None)
ap = cpu.avg_pool(img, *pgeo)
close(be.avg_pool(IMG, *pgeo), ap)
close(be.avg_pool_backward(be.from_numpy(ap), *pgeo), cpu.avg_pool_backward(ap, *pgeo))
w3 = RNG.standard_normal(3).astype(np.float32)
for got, ref in zip(be.batch_norm_train(IMG, be.from_numpy(w3), be.from_numpy(w3), 1e-5),
                    cpu.batch_norm_train(img, w3, w3, 1e-5)):
    close(got, ref, 1e-4)
rows = img.reshape(6, 30)
for got, ref in zip(be.layer_norm(be.from_numpy(rows), None, None, 1e-5),
                    cpu.layer_norm(rows, None, None, 1e-5)):
    close(got, ref, 1e-4)
section("recurrent (lstm steps)")
# packed-sequence steps of 3, 2, 2 rows (the state's last row idles in the shorter steps)
xs, h0s, c0s = (RNG.standard_normal(s).astype(np.float32) for s in ((7, 4), (3, 5), (3, 5)))
wi, wh, bb = (RNG.standard_normal(s).astype(np.float32) for s in ((20, 4), (20, 5), (20,)))
args = [(xs, wi, bb, wh, None, h0s, c0s), ((3, 2, 2), False)]
got = be.lstm_layer_forward(*(be.from_numpy(a) if a is not None else None for a in args[0]),
                            *args[1])
want = cpu.lstm_layer_forward(*args[0], *args[1])
for g_, w_ in zip(got[:3], want[:3]):
    close(g_, w_, 1e-4)
go, gh, gc = (RNG.standard_normal(s).astype(np.float32) for s in ((7, 5), (3, 5), (3, 5)))
gb = be.lstm_layer_backward(be.from_numpy(go), be.from_numpy(gh), be.from_numpy(gc),
                            be.from_numpy(xs), be.from_numpy(wi), be.from_numpy(wh), None,
                            got[3], (3, 2, 2), False, True)
wb = cpu.lstm_layer_backward(go, gh, gc, xs, wi, wh, None, want[3], (3, 2, 2), False, True)
for g_, w_ in zip(gb, wb):
    if w_ is not None:
        close(g_, w_, 1e-4)
wi3, wh3, b3i, b3h = (RNG.standard_normal(s).astype(np.float32)
                      for s in ((15, 4), (15, 5), (15,), (15,)))  # fmt: skip
gargs = (xs, wi3, b3i, wh3, b3h, h0s)
got = be.gru_layer_forward(*(be.from_numpy(a) for a in gargs), (3, 2, 2), True)
want = cpu.gru_layer_forward(*gargs, (3, 2, 2), True)
for g_, w_ in zip(got[:2], want[:2]):
    close(g_, w_, 1e-4)
gb = be.gru_layer_backward(be.from_numpy(go), be.from_numpy(gh), be.from_numpy(xs),
                           be.from_numpy(wi3), be.from_numpy(wh3), got[2], (3, 2, 2), True, True)
wb = cpu.gru_layer_backward(go, gh, xs, wi3, wh3, want[2], (3, 2, 2), True, True)
for g_, w_ in zip(gb, wb):
    close(g_, w_, 1e-4)
be.synchronize()
print("all kernel families ok", flush=True)
