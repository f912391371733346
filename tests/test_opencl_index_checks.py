"""Index checks on OpenCL devices (``backends/opencl/index_checks.py``): an index out of range
is recorded by a kernel and raised at the host's next wait for the device, with the error type
and message of the CPU backend; ops with tensor indices never wait for the device themselves;
the indexing kernels skip a bad index meanwhile; both kernel layouts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import deepforge as df
import deepforge.nn.functional as F
from deepforge import nn
from deepforge.backends import opencl_device_count

if opencl_device_count() == 0:  # conftest fails the run instead under DEEPFORGE_REQUIRE_OPENCL=1
    pytest.skip("no usable OpenCL device", allow_module_level=True)

DEV = "opencl:0"
LATE = "reported at the next wait for the OpenCL device"


@pytest.fixture
def be(opencl_layouts):
    df.opencl.synchronize()  # nothing pending from an earlier test
    return opencl_layouts


def _t(a, dtype=None):
    return df.tensor(np.asarray(a), device=DEV, dtype=dtype)


def _x(*shape):
    return _t(np.arange(np.prod(shape), dtype=np.float32).reshape(shape))


# -- errors: type, message, where they are raised ---------------------------------------------
CASES = [
    ("gather", lambda x, i: x.gather(1, i.reshape(-1, 1)[:2]), RuntimeError,
     r"gather\(\): index {bad} is out of bounds for dimension 1 with size 4"),
    ("index_select", lambda x, i: x.index_select(0, i), IndexError,
     r"index_select\(\): index {bad} is out of bounds for dimension 0 with size 3"),
    ("scatter", lambda x, i: x.scatter(1, i.reshape(-1, 1)[:2], 1.0), RuntimeError,
     r"scatter\(\): index {bad} is out of bounds for dimension 1 with size 4"),
    ("scatter_add", lambda x, i: x.scatter_add(1, i.reshape(-1, 1)[:2], x[:2, :1]), RuntimeError,
     r"scatter_add\(\): index {bad} is out of bounds"),
    ("index_add", lambda x, i: x.index_add(0, i, df.ones(len(i), 4, device=DEV)), RuntimeError,
     r"index_add\(\): index {bad} is out of bounds for dimension 0 with size 3"),
    ("index_copy", lambda x, i: x.index_copy(0, i[:1], df.ones(1, 4, device=DEV)), IndexError,
     r"index_copy\(\): index {bad} is out of bounds"),
    ("index_fill", lambda x, i: x.index_fill(0, i, 2.0), IndexError,
     r"index_fill\(\): index {bad} is out of bounds"),
    ("take", lambda x, i: df.take(x, i * 5), IndexError,
     r"take\(\): index {bad5} is out of bounds"),
    ("getitem", lambda x, i: x[i], IndexError,
     r"index {bad} is out of bounds for dimension 0 with size 3"),
    ("setitem", lambda x, i: x.__setitem__(i, 7.0), IndexError,
     r"index {bad} is out of bounds for dimension 0 with size 3"),
    ("embedding", lambda x, i: F.embedding(i, x), IndexError, r"index out of range in self"),
    ("cross_entropy", lambda x, i: F.cross_entropy(x[:, :3], i), IndexError,
     r"Target {bad} is out of bounds\."),
]


@pytest.mark.parametrize("name,op,exc,pattern", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("bad", [4, -5, 9])
def test_error_raised_at_next_wait(be, waits, name, op, exc, pattern, bad):
    x, idx = _x(3, 4), _t([bad, 0, 1])
    before = waits[0]
    out = op(x, idx)  # returns without waiting for the device
    assert waits[0] == before, f"{name} waited for the device"
    with pytest.raises(exc, match=pattern.format(bad=bad, bad5=bad * 5)) as info:
        (out if isinstance(out, df.Tensor) else x).cpu()
    assert LATE in str(info.value)
    # raised once; the device and later ops work normally afterwards
    y = _x(3, 4)
    np.testing.assert_array_equal(y.index_select(0, _t([2, 0])).cpu().numpy()[:, 0], [8, 0])


@pytest.mark.parametrize("wait", ["item", "tolist", "cpu", "synchronize", "bool"])
def test_every_wait_reports(be, wait):
    x = _x(3, 4)
    y = x.index_select(0, _t([0, 7])).sum()
    with pytest.raises(IndexError, match="index 7 is out of bounds"):
        if wait == "synchronize":
            df.opencl.synchronize()
        elif wait == "bool":
            bool(y > 0)
        else:
            getattr(y, wait)()
    df.opencl.synchronize()  # reported once


def test_first_failed_check_is_reported_and_largest_index_named(be):
    x = _x(3, 4)
    x.gather(1, _t([[5], [9], [-2]]))  # several bad: the largest one >= size is named
    x.index_select(0, _t([4]))
    with pytest.raises(RuntimeError, match=r"gather\(\): index 9 is out of bounds"):
        df.opencl.synchronize()
    x.index_select(0, _t([-7, -4, 1]))  # only below the range: the smallest is named
    with pytest.raises(IndexError, match=r"index -7 is out of bounds"):
        df.opencl.synchronize()


def test_valid_indices_raise_nothing(be):
    x = _x(3, 4)
    for dtype in (df.int64, df.int32):
        i = _t([2, 1, 0], dtype)
        np.testing.assert_array_equal(x.index_select(0, i).cpu().numpy()[:, 0], [8, 4, 0])
        np.testing.assert_array_equal(x[i - 1].cpu().numpy()[:, 0], [4, 0, 8])  # -1 wraps
    np.testing.assert_array_equal(x.gather(1, _t([[3], [0], [2]])).cpu().numpy().ravel(),
                                  [3, 4, 10])
    np.testing.assert_array_equal(df.take(x, _t([-12, 11])).cpu().numpy(), [0, 11])
    logits = df.randn(4, 5, device=DEV)
    # ignore_index is not a bad target; uint8 targets are accepted
    loss = F.cross_entropy(logits, _t([1, -100, 4, 0]))
    ref = F.cross_entropy(logits.cpu(), df.tensor([1, -100, 4, 0]))
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    assert F.nll_loss(logits, _t([1, 2, 3, 4], df.uint8)).isfinite().item()
    df.opencl.synchronize()


def test_ignore_index_still_checks_the_others(be):
    logits = df.randn(3, 5, device=DEV)
    F.cross_entropy(logits, _t([-100, 5, 1]))
    with pytest.raises(IndexError, match=r"Target 5 is out of bounds\."):
        df.opencl.synchronize()


def test_strided_and_huge_indices(be):
    x = _x(3, 4)
    base = _t([[0, 99], [1, 99], [2, 99]])
    out = x.index_select(0, base[:, 0])  # a strided view of the index: all valid
    np.testing.assert_array_equal(out.cpu().numpy()[:, 0], [0, 4, 8])
    x.index_select(0, base[:, 1])
    with pytest.raises(IndexError, match="index 99 is out of bounds"):
        df.opencl.synchronize()
    x.index_select(0, _t([1, 2**40]))  # beyond the 32-bit range: the exact value is named
    with pytest.raises(IndexError, match=f"index {2**40} is out of bounds"):
        df.opencl.synchronize()
    x.index_select(0, _t([-(2**40)]))
    with pytest.raises(IndexError, match=f"index {-(2**40)} is out of bounds"):
        df.opencl.synchronize()


def test_bad_indices_are_skipped_meanwhile(be):
    """Until the error is raised, a bad index reads 0 and writes nothing (no memory outside
    the tensors is touched; Oclgrind checks the same kernels)."""
    x = _x(3, 4)
    g = x.gather(1, _t([[1], [40], [2]]))
    s = df.zeros(3, 4, device=DEV).scatter_(1, _t([[0], [-9], [3]]), 5.0)
    r = x.index_select(0, _t([2, 1000, 0]))
    rt = be.rt
    rt.index_checks.pending = False  # look at the data without the pending error
    try:
        np.testing.assert_array_equal(g.cpu().numpy().ravel(), [1, 0, 10])
        np.testing.assert_array_equal(s.cpu().numpy(), [[5, 0, 0, 0], [0, 0, 0, 0],
                                                        [0, 0, 0, 5]])
        np.testing.assert_array_equal(r.cpu().numpy()[:, 0], [8, 0, 0])
    finally:
        rt.index_checks.pending = True
    with pytest.raises(RuntimeError, match="index 40 is out of bounds"):
        df.opencl.synchronize()


def test_training_step_never_waits(be, waits):
    """cross_entropy, embedding, gather/scatter inside autograd, x[idx], masked attention: no
    wait in a training step."""
    df.manual_seed(0)
    emb = nn.Embedding(20, 8).to(DEV)
    head = nn.Linear(8, 5).to(DEV)
    opt = df.optim.Adam(list(emb.parameters()) + list(head.parameters()))
    tokens, target = _t([[1, 4, 19], [0, 2, 3]]), _t([4, 0, 1, 2, 3, 0])
    rows = _t([1, 0])

    causal = df.ones(3, 3, device=DEV, dtype=df.bool).triu(1)

    def step():
        e = emb(tokens)
        e = F.scaled_dot_product_attention(e, e, e, attn_mask=~causal)  # a masked softmax
        h = e[rows].reshape(-1, 8)
        loss = F.cross_entropy(head(h), target) + h.gather(1, target.unsqueeze(1) % 8).mean()
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


def test_sync_mode_raises_at_the_op():
    code = """
        import deepforge as df
        x = df.ones(3, 4, device="opencl")
        try:
            x.index_select(0, df.tensor([0, 3], device="opencl"))
        except IndexError as e:
            print("at op:", e)
        print(x.index_select(0, df.tensor([2], device="opencl")).sum().item())
    """
    env = dict(os.environ, DEEPFORGE_OPENCL_SYNC="1")
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "at op: index_select(): index 3 is out of bounds for dimension 0 with size 3" in r.stdout
    assert LATE not in r.stdout
    assert "4.0" in r.stdout


def test_cpu_tensors_raise_at_the_op():
    x = df.ones(3, 4)
    with pytest.raises(IndexError, match=r"^index_select\(\): index 3 is out of bounds"):
        x.index_select(0, df.tensor([0, 3]))
    with pytest.raises(IndexError, match=r"^Target 7 is out of bounds\.$"):
        F.cross_entropy(df.randn(3, 5), df.tensor([0, 7, 9]))  # the first bad one, as PyTorch


@pytest.mark.parametrize("bad", [4, -5, 9])
def test_several_index_tensors_do_not_wait(be, waits, bad):
    """x[i, j] and x[i, j] = v with two device index tensors: no wait at the op, the error at
    the next one naming the bad index and its dim; valid keys (negative too) give numpy's
    result; later ops work."""
    x = _x(3, 4)
    i, j = _t([0, 2, -1]), _t([1, bad, 3])
    before = waits[0]
    y = x[i, j]
    x2 = x.clone()
    x2[i, j] = -1.0
    assert waits[0] == before
    with pytest.raises(IndexError, match=rf"index {bad} is out of bounds for dimension 1 with "
                                         r"size 4") as info:  # fmt: skip
        y.cpu()
    assert LATE in str(info.value)
    ref = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(x[i, _t([1, -2, 3])].cpu().numpy(), ref[[0, 2, -1], [1, -2, 3]])
    x3 = x.clone()
    x3[_t([[0], [2]]), _t([1, -1])] = 7.0  # broadcast index arrays
    ref3 = ref.copy()
    ref3[[[0], [2]], [1, -1]] = 7.0
    np.testing.assert_array_equal(x3.cpu().numpy(), ref3)
