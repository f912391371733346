"""Tensor semantics: storage and views, version counters, metadata, conversions, repr."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from helpers import assert_close

import deepforge as df

# -- views share storage -----------------------------------------------------------------------
VIEWS = {
    "view": lambda x: x.view(4, 9),
    "reshape": lambda x: x.reshape(36),
    "transpose": lambda x: x.transpose(0, 1),
    "permute": lambda x: x.permute(1, 0),
    "t": lambda x: x.t(),
    "T": lambda x: x.T,
    "expand": lambda x: x[:1].expand(5, 6),
    "basic_index": lambda x: x[1:3, ::2],
    "select": lambda x: x[2],
    "narrow": lambda x: x.narrow(1, 2, 3),
    "unbind": lambda x: x.unbind(0)[1],
    "split": lambda x: x.split(2, 1)[1],
    "chunk": lambda x: x.chunk(3, 0)[2],
    "diagonal": lambda x: x.diagonal(),
    "squeeze": lambda x: x[None].squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "flatten": lambda x: x.flatten(),
    "detach": lambda x: x.detach(),
    "data": lambda x: x.data,
    "movedim": lambda x: x.movedim(0, 1),
    "mT": lambda x: x.mT,
    "view_as": lambda x: x.view_as(df.empty(2, 18)),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_views_share_storage(name, device):
    base = df.arange(36.0, device=device).reshape(6, 6)
    v = VIEWS[name](base)
    before = base.cpu().numpy().copy()
    if name == "expand":  # writing into an expanded view is refused; its reads follow the base
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            v.mul_(-1)
        base[0, 0] = 100.0
        assert v[3, 0].item() == 100.0
        return
    v.mul_(-1)
    changed = base.cpu().numpy()
    assert (changed != before).any(), f"{name}: in-place op on the view not visible in the base"
    assert np.array_equal(np.abs(changed), np.abs(before))
    assert v._version == base._version > 0


def test_view_write_through_setitem_and_reverse(device):
    x = df.zeros(3, 4, device=device)
    row = x[1]
    row[2] = 7.0
    x[:, 0] += 1
    x[x > 5] = -1.0
    expected = np.zeros((3, 4))
    expected[:, 0] = 1
    expected[1, 2] = -1
    assert_close(x, expected)
    assert_close(row, expected[1])


def test_reshape_copies_only_when_needed():
    x = df.arange(6.0).reshape(2, 3)
    y = x.t().reshape(6)  # not viewable: a copy
    y[0] = 100
    assert x[0, 0].item() == 0
    z = x.reshape(3, 2)  # viewable: shares
    z[0, 0] = 100
    assert x[0, 0].item() == 100


def test_contiguous_and_strides():
    x = df.zeros(2, 3, 4)
    assert x.is_contiguous() and x.stride() == (12, 4, 1) and x.stride(-1) == 1
    t = x.transpose(0, 2)
    assert not t.is_contiguous() and t.stride() == (1, 4, 12)
    c = t.contiguous()
    assert c.is_contiguous() and c.stride() == (6, 2, 1)
    assert x.contiguous() is x
    assert x[:, 1].storage_offset() == 4
    e = df.zeros(3, 1).expand(3, 5)
    assert e.stride() == (1, 0)


def test_numpy_and_from_numpy_share_memory():
    a = np.arange(4.0)
    t = df.from_numpy(a)
    a[0] = 10
    assert t[0].item() == 10
    t[1] = 20
    assert a[1] == 20
    n = t.numpy()
    n[2] = 30
    assert t[2].item() == 30
    assert df.as_tensor(a)._data is a or np.shares_memory(df.as_tensor(a).numpy(), a)
    assert not np.shares_memory(df.tensor(a).numpy(), a)


def test_version_counter():
    x = df.zeros(3)
    assert x._version == 0
    x.add_(1)
    x[0] = 2
    x.zero_()
    assert x._version == 3
    y = x + 1  # out of place: x unchanged
    assert x._version == 3 and y._version == 0
    d = x.detach()
    d.add_(1)
    assert x._version == 4  # detach shares the counter, like torch


# -- metadata ----------------------------------------------------------------------------------
def test_metadata(device):
    x = df.zeros(2, 3, 4, device=device)
    assert (
        x.shape == (2, 3, 4)
        and x.size() == df.Size([2, 3, 4])
        and x.size(1) == 3
        and x.size(-1) == 4
    )
    assert isinstance(x.shape, tuple) and repr(x.shape) == "deepforge.Size([2, 3, 4])"
    assert x.ndim == x.dim() == 3 and x.numel() == 24 and x.nelement() == 24
    assert x.element_size() == 4 and df.zeros(1, dtype=df.float64).element_size() == 8
    assert (
        df.zeros(1, dtype=df.int16).element_size() == 2
        and df.zeros(1, dtype=df.bool).element_size() == 1
    )
    assert len(x) == 2 and x.nbytes == 96
    assert x.device == df.device(device) and str(x.device) == (
        device if ":" in device or device == "cpu" else device
    )
    assert x.is_floating_point() and not df.zeros(1, dtype=df.int32).is_floating_point()
    assert x.shape.numel() == 24 and x.shape[1:] == df.Size([3, 4])


def test_item_tolist_float_int_bool():
    assert df.tensor(2.5).item() == 2.5 and isinstance(df.tensor(2).item(), int)
    assert isinstance(df.tensor(True).item(), bool)
    assert df.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert df.tensor(3.0).tolist() == 3.0
    assert float(df.tensor([1.5])) == 1.5 and int(df.tensor(7.9)) == 7
    assert [1, 2, 3][df.tensor(1)] == 2  # __index__
    assert f"{df.tensor(1.23456):.2f}" == "1.23"


def test_iteration_and_unbind():
    rows = list(df.arange(6).reshape(3, 2))
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]


def test_clone_and_detach():
    x = df.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.requires_grad and c.grad_fn is not None
    c.sum().backward()
    assert_close(x.grad, [1.0, 1.0])
    d = x.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), x.detach().numpy())
    y = df.tensor([1.0, 2.0])
    z = y.clone()
    z[0] = 5
    assert y[0].item() == 1.0


def test_copy_and_deepcopy_and_pickle():
    x = df.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    dc = copy.deepcopy(x)
    assert (
        dc.requires_grad and dc.is_leaf and np.array_equal(dc.detach().numpy(), x.detach().numpy())
    )
    assert not np.shares_memory(dc.detach().numpy(), x.detach().numpy())
    p = pickle.loads(pickle.dumps(x.detach()))
    assert np.array_equal(p.numpy(), x.detach().numpy()) and p.dtype == x.dtype


# -- dtypes and casts --------------------------------------------------------------------------
CASTS = {
    "float": df.float32,
    "double": df.float64,
    "half": df.float16,
    "long": df.int64,
    "int": df.int32,
    "short": df.int16,
    "char": df.int8,
    "byte": df.uint8,
    "bool": df.bool,
}


@pytest.mark.parametrize("method", list(CASTS))
def test_cast_methods(method, device):
    x = df.tensor([0.0, 1.7, -2.2], device=device)
    y = getattr(x, method)()
    assert y.dtype is CASTS[method]
    expected = np.array([0.0, 1.7, -2.2], np.float32).astype(CASTS[method].np)
    np.testing.assert_array_equal(y.cpu().numpy(), expected)


def test_to_type_as_and_type():
    x = df.tensor([1, 2])
    assert x.to(df.float64).dtype is df.float64
    assert x.to("cpu", df.float16).dtype is df.float16
    assert x.to(dtype=df.float32, device="cpu").dtype is df.float32
    assert x.type_as(df.zeros(1, dtype=df.float64)).dtype is df.float64
    assert x.type() == "deepforge.LongTensor" and x.double().type() == "deepforge.DoubleTensor"
    assert x.type(df.float32).dtype is df.float32
    assert x.to(x.dtype) is x  # no-op returns self
    assert x.to(x.dtype, copy=True) is not x


def test_default_dtypes():
    assert df.tensor([1.0]).dtype is df.float32 and df.tensor([1]).dtype is df.int64
    assert df.tensor([True]).dtype is df.bool and df.tensor([1, 2.0]).dtype is df.float32
    assert (
        df.tensor(np.float64(1.0)).dtype is df.float64 and df.tensor(np.int32(1)).dtype is df.int32
    )
    assert df.tensor(np.zeros(2, np.float16)).dtype is df.float16
    assert (
        df.zeros(2).dtype is df.float32
        and df.arange(3).dtype is df.int64
        and df.arange(3.0).dtype is df.float32
    )
    assert df.full((2,), 7).dtype is df.int64 and df.full((2,), 7.0).dtype is df.float32
    df.set_default_dtype(df.float64)
    try:
        assert df.tensor([1.0]).dtype is df.float64 and df.zeros(1).dtype is df.float64
        assert (df.tensor([1]) * 0.5).dtype is df.float64
    finally:
        df.set_default_dtype(df.float32)
    with pytest.raises(TypeError):
        df.set_default_dtype(df.int64)


DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def test_promote_types_matches_torch():
    torch = pytest.importorskip("torch")
    for a in DTYPES:
        for b in DTYPES:
            got = df.promote_types(getattr(df, a), getattr(df, b)).name
            want = str(torch.promote_types(getattr(torch, a), getattr(torch, b))).split(".")[-1]
            assert got == want, (a, b)


@pytest.mark.parametrize("scalar", [True, 2, 2.5, -3])
def test_result_type_with_scalars_and_0dim_matches_torch(scalar):
    torch = pytest.importorskip("torch")
    for a in DTYPES:
        x = df.ones(2, dtype=getattr(df, a))
        tx = torch.ones(2, dtype=getattr(torch, a))
        assert (
            df.result_type(x, scalar).name == str(torch.result_type(tx, scalar)).split(".")[-1]
        ), (a, scalar)
        for b in DTYPES:  # a 0-dim tensor only promotes across categories
            z = df.ones((), dtype=getattr(df, b))
            tz = torch.ones((), dtype=getattr(torch, b))
            assert df.result_type(x, z).name == str(torch.result_type(tx, tz)).split(".")[-1], (
                a,
                b,
            )
            assert (x + z).dtype.name == str((tx + tz).dtype).split(".")[-1], (a, b)


# -- devices -----------------------------------------------------------------------------------
def test_device_objects():
    assert (
        df.device("cpu") == "cpu"
        and df.device("cpu").type == "cpu"
        and df.device("cpu").index is None
    )
    assert repr(df.device("cpu")) == "device(type='cpu')"
    d = df.device("opencl", 1)
    assert str(d) == "opencl:1" and d == df.device("opencl:1") and d.index == 1
    assert repr(d) == "device(type='opencl', index=1)"
    assert hash(df.device("cpu")) == hash(df.device("cpu"))
    with pytest.raises(RuntimeError):
        df.device("cuda:x")


def test_to_device_roundtrip(device):
    x = df.arange(6.0).reshape(2, 3)
    y = x.to(device)
    assert y.device == df.device(device) or str(y.device).startswith(device)
    assert_close(y.cpu(), x)
    assert x.to("cpu") is x
    z = df.tensor([1.0, 2.0], requires_grad=True)
    w = z.to(device) * 3
    w.sum().backward()
    assert_close(z.grad, [3.0, 3.0])
    assert z.grad.device == z.device


# -- creation ----------------------------------------------------------------------------------
def test_creation_functions(device):
    assert_close(df.zeros(2, 3, device=device), np.zeros((2, 3)))
    assert_close(df.ones((2, 3), device=device), np.ones((2, 3)))
    assert_close(df.full((2,), 3.5, device=device), [3.5, 3.5])
    assert df.empty(2, 3).shape == (2, 3)
    assert_close(df.arange(5, device=device), np.arange(5))
    assert_close(df.arange(1, 2, 0.25), np.arange(1, 2, 0.25))
    assert_close(df.arange(5, 0, -2), [5, 3, 1])
    assert_close(df.linspace(0, 1, 5), np.linspace(0, 1, 5))
    assert_close(df.logspace(0, 2, 3), [1, 10, 100], rtol=1e-6)
    assert_close(df.eye(2, 3), np.eye(2, 3))
    x = df.ones(2, 3, dtype=df.float64, device=device)
    for f, v in [(df.zeros_like, 0), (df.ones_like, 1), (lambda t: df.full_like(t, 4), 4)]:
        y = f(x)
        assert y.dtype is df.float64 and y.shape == (2, 3) and y.device == x.device
        assert_close(y, np.full((2, 3), v))
    assert df.empty_like(x).shape == (2, 3)
    assert df.zeros(0, 3).shape == (0, 3) and df.zeros(()).shape == ()
    assert x.new_zeros(4).dtype is df.float64 and x.new_ones((1, 2)).shape == (1, 2)
    assert x.new_tensor([1, 2]).dtype is df.float64 and x.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert df.tensor([[1, 2]], dtype=df.float16, requires_grad=False).dtype is df.float16
    assert df.zeros(2, requires_grad=True).requires_grad


def test_torch_compat_creation_values():
    torch = pytest.importorskip("torch")
    for args in [(0, 1, 7), (-2.5, 3.5, 11), (0, 1, 1), (5, -5, 4)]:
        assert_close(df.linspace(*args), torch.linspace(*args).numpy())
    for args in [(0, 1, 0.1), (1, 10, 3), (-1.0, 1.0, 0.3)]:
        a, t = df.arange(*args), torch.arange(*args)
        assert a.dtype.name == str(t.dtype).split(".")[-1] and a.shape == tuple(t.shape)
        assert_close(a, t.numpy())


# -- repr --------------------------------------------------------------------------------------
def _norm(s):
    return " ".join(s.replace("torch.", "deepforge.").split())


REPR_DATA = [
    [1.0, 2.0, 3.0],
    [1.5, -2.25],
    [[1, 2], [3, 4]],
    [True, False],
    [],
    3.5,
    7,
    [1e-5, 1.0],
    [1e10, 1.0],
    [float("nan"), 1.0, float("inf")],
    [-0.0, 1.0],
    [1 / 3, 2 / 3],
    [1e8, 1.5],
    list(np.arange(2000.0)),
    list(np.linspace(-3, 3, 30)),
    np.arange(24).reshape(2, 3, 4).tolist(),
    (np.arange(1600.0).reshape(40, 40) / 7).tolist(),
    [[float("nan")] * 3] * 2,
    [0.5, 999.5],
]


@pytest.mark.parametrize("data", REPR_DATA, ids=range(len(REPR_DATA)))
@pytest.mark.parametrize("dtype", [None, "float64", "float16", "int32"])
def test_repr_matches_torch(data, dtype):
    torch = pytest.importorskip("torch")
    try:
        t = torch.tensor(data, dtype=getattr(torch, dtype) if dtype else None)
    except (RuntimeError, TypeError):
        pytest.skip("torch refuses")
    x = df.tensor(data, dtype=getattr(df, dtype) if dtype else None)
    assert _norm(repr(x)) == _norm(repr(t))
    assert all(len(line) <= 80 for line in repr(x).splitlines())


def test_repr_autograd_and_device_suffixes():
    x = df.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    assert repr(df.zeros(2, 0)) == "tensor([], size=(2, 0))"
    assert repr(df.zeros(0, dtype=df.int32)) == "tensor([], dtype=deepforge.int32)"
    df.set_printoptions(precision=2)
    try:
        assert repr(df.tensor([1.2345])) == "tensor([1.23])"
    finally:
        df.set_printoptions(profile="default")
