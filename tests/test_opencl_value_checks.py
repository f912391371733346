"""Value and target checks that do not make the host wait for the device (``val_check`` and
``idx_check`` in ``opencl/index.cl``): binary_cross_entropy's input, bernoulli's
probabilities, gaussian_nll_loss's variance, the margin losses' targets and ``put_``'s indices
are checked by a kernel and the error is raised at the next wait, with the CPU backend's type
and message; both kernel layouts. CPU tensors still raise at the op."""

from __future__ import annotations

import numpy as np
import pytest

import deepforge as df
import deepforge.nn.functional as F
from deepforge.backends import opencl_device_count

if opencl_device_count() == 0:  # conftest fails the run instead under DEEPFORGE_REQUIRE_OPENCL=1
    pytest.skip("no usable OpenCL device", allow_module_level=True)

DEV = "opencl:0"
LATE = "reported at the next wait for the OpenCL device"
NAN = float("nan")


@pytest.fixture
def be(opencl_layouts):
    df.opencl.synchronize()  # nothing pending from an earlier test
    return opencl_layouts


def _bce(p):
    return F.binary_cross_entropy(p, df.ones_like(p))


def _gnll(var):
    return F.gaussian_nll_loss(df.zeros_like(var), df.ones_like(var), var)


def _multi_margin(t):
    return F.multi_margin_loss(df.ones(len(t), 3, device=t.device), t)


def _multilabel_margin(t):
    return F.multilabel_margin_loss(df.ones(*t.shape, device=t.device), t)


def _searchsorted(sorter):
    seq = df.tensor([3.0, 1.0, 2.0], device=sorter.device)
    return df.searchsorted(seq, df.tensor([2.5], device=sorter.device), sorter=sorter)


def _put(i):
    return df.zeros(2, 3, device=i.device).put_(i, df.ones(len(i), device=i.device))


BAD_BCE = "all elements of input should be between 0 and 1"
BAD_P = r"bernoulli: all probabilities must be in \[0, 1\]"
# (name, op, bad input, valid input, error type, message)
CASES = [
    ("bce_above", _bce, [0.5, 1.5], [0.0, 1.0], RuntimeError, BAD_BCE),
    ("bce_below", _bce, [-0.25, 0.5], [0.25, 0.5], RuntimeError, BAD_BCE),
    ("bce_nan", _bce, [NAN, 0.5], [0.5, 0.5], RuntimeError, BAD_BCE),
    ("bernoulli", df.bernoulli, [0.5, 2.0], [0.0, 1.0], RuntimeError, BAD_P),
    ("bernoulli_nan", df.bernoulli, [NAN], [0.5], RuntimeError, BAD_P),
    ("gaussian_nll", _gnll, [1.0, -1.0], [1.0, 0.0], ValueError, "var has negative entry"),
    ("multi_margin", _multi_margin, [0, 3], [0, 2], RuntimeError, "^target out of range"),
    ("multi_margin_neg", _multi_margin, [-1, 0], [1, 2], RuntimeError, "^target out of range"),
    ("multilabel_margin", _multilabel_margin, [[0, -2, 1]], [[2, -1, 1]], RuntimeError,
     "argument #2 'target' is out of range"),
    ("put", _put, [0, 6], [-6, 5], IndexError,
     r"out of range: tried to access index 6 on a tensor of 6 elements\."),
    ("put_neg", _put, [-7, 1], [0, -1], IndexError,
     r"out of range: tried to access index -7 on a tensor of 6 elements\."),
    ("searchsorted_sorter", _searchsorted, [1, 3, 0], [1, 2, 0], RuntimeError,
     r"sorter index out of range"),
]  # fmt: skip


def _arg(values, device):
    a = np.asarray(values)
    dtype = df.float32 if a.dtype.kind == "f" else df.int64
    return df.tensor(a, dtype=dtype, device=device)


@pytest.mark.parametrize("name,op,bad,good,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_error_raised_at_next_wait(be, waits, name, op, bad, good, exc, pattern):
    x = _arg(bad, DEV)
    before = waits[0]
    y = op(x)  # queued: no wait, no error yet
    assert waits[0] == before
    with pytest.raises(exc, match=pattern) as info:
        y.cpu()
    assert LATE in str(info.value)
    # raised once; the device stays usable and a valid input raises nothing
    assert np.all(np.isfinite(op(_arg(good, DEV)).cpu().numpy()))


@pytest.mark.parametrize("name,op,bad,good,exc,pattern", CASES, ids=[c[0] for c in CASES])
def test_cpu_raises_at_the_op(name, op, bad, good, exc, pattern):
    with pytest.raises(exc, match=pattern) as info:
        op(_arg(bad, "cpu"))
    assert LATE not in str(info.value)
    op(_arg(good, "cpu"))


def test_nan_variance_passes_as_in_pytorch(be):
    """gaussian_nll_loss asks any(var < 0), which NaN passes: no error on either backend."""
    for dev in ("cpu", DEV):
        loss = _gnll(_arg([1.0, NAN], dev))
        assert np.isnan(loss.item())


@pytest.mark.parametrize("dtype", [df.float16, df.float64, df.int32, df.uint8, df.bool])
def test_value_check_every_dtype(be, dtype):
    from deepforge.ops.selection import check_value_range

    if dtype is df.float64 and not be.rt.has_fp64:
        pytest.skip("no cl_khr_fp64")
    x = df.tensor([0, 1, 1], device=DEV).to(dtype)
    check_value_range(x, 0, 1, RuntimeError, "in range")
    df.opencl.synchronize()
    check_value_range(x[1:], 0.5, 1, RuntimeError, "not raised")  # a strided view, all 1
    df.opencl.synchronize()
    check_value_range(x, 0.5, 1, RuntimeError, "raised {not formatted}")
    with pytest.raises(RuntimeError, match=r"^raised \{not formatted\}"):
        df.opencl.synchronize()


def test_bce_training_step_never_waits(be, waits):
    df.manual_seed(0)
    model = df.nn.Sequential(df.nn.Linear(4, 8), df.nn.ReLU(), df.nn.Linear(8, 1)).to(DEV)
    opt = df.optim.Adam(model.parameters())
    x, y = df.randn(16, 4, device=DEV), (df.randn(16, 1, device=DEV) > 0).float()

    def step():
        loss = F.binary_cross_entropy(model(x).sigmoid(), y)
        loss = loss + F.multi_margin_loss(model[0](x)[:, :3], (y.long() * 2).reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    step()
    df.opencl.synchronize()
    before = waits[0]
    for _ in range(3):
        loss = step()
    assert waits[0] == before
    assert np.isfinite(loss.item())


def test_backward_passes_that_had_to_ask_the_device(be, waits):
    """prod/cumprod backward (zeros or not) and integer pow with tensor exponents: no wait."""
    x = df.tensor([[1.5, 0.0, 2.0], [0.5, -1.0, 3.0]], device=DEV, requires_grad=True)
    e = df.tensor([2, -1, 3], device=DEV)
    before = waits[0]
    (df.cumprod(x, 1).sum() + x.prod(1).sum() + x.prod()).backward()
    p = df.tensor([2, 3, 1], device=DEV) ** e
    assert waits[0] == before
    # row 0 (a zero): cumprod [1, 4.5, 0] + prod(1) [0, 3, 0] + prod() [0, -4.5, 0]
    # row 1: cumprod [-3, 2, -0.5] + prod(1) [-3, 1.5, -0.5] + prod() 0 (the zero is in row 0)
    np.testing.assert_allclose(x.grad.cpu().numpy(), [[1.0, 3.0, 0.0], [-6.0, 3.5, -1.0]])
    assert p.tolist() == [4, 0, 1]


def test_fill_with_a_device_value_does_not_wait(be, waits):
    x, v = df.zeros(2, 3, device=DEV), df.tensor(2.5, device=DEV)
    before = waits[0]
    x.fill_(v)
    m = df.nanmedian(df.tensor([[1.0, NAN, 3.0]], device=DEV), 1)
    assert waits[0] == before
    assert x.tolist() == [[2.5] * 3] * 2
    assert m.values.tolist() == [1.0]


def test_mask_assignment_of_a_scalar_does_not_wait(be, waits):
    """x[mask] = scalar is a masked fill (no nonzero, as PyTorch), for a full-shape mask or a
    mask over the leading dims; Rprop's step, written with such assignments, makes no wait."""
    x = df.tensor([[1.0, -2.0, 3.0], [0.0, 5.0, -6.0]], device=DEV)
    p = df.nn.Parameter(df.randn(5, device=DEV))
    opt = df.optim.Rprop([p])
    p.grad = df.ones_like(p)
    opt.step()
    df.opencl.synchronize()
    before = waits[0]
    x[x < 0] = 9.0
    x[x > 4] = df.tensor(7.0, device=DEV)
    x[df.tensor([True, False], device=DEV)] = -1.0
    for _ in range(2):
        p.grad = df.randn(5, device=DEV)
        opt.step()
    assert waits[0] == before
    assert x.tolist() == [[-1.0, -1.0, -1.0], [0.0, 7.0, 7.0]]


def test_mask_assignment_gradcheck(be):
    """x[mask] = scalar through the masked fill: float64 gradcheck on a transposed input."""
    from deepforge.autograd import gradcheck

    x = df.tensor(np.arange(12.0).reshape(3, 4) - 5.5, device=DEV).t().requires_grad_(True)

    def f(t):
        y = t * 1.0
        y[y > 0] = 2.0
        return y

    assert gradcheck(f, (x,))
