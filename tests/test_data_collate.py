"""default_collate / default_convert: the same batches, types and dtypes as PyTorch's."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import deepforge as df
from deepforge.utils.data import default_collate, default_convert
from deepforge.utils.data._utils.collate import collate, collate_tensor_fn, default_collate_fn_map

Point = collections.namedtuple("Point", ["x", "y"])


def test_tensors_are_stacked():
    out = default_collate([df.tensor([1.0, 2.0]), df.tensor([3.0, 4.0])])
    assert out.shape == (2, 2) and out.dtype == df.float32
    assert out.tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_numbers():
    ints = default_collate([1, 2, 3])
    assert ints.dtype == df.int64 and ints.tolist() == [1, 2, 3]
    floats = default_collate([1.5, 2.0])
    assert floats.dtype == df.float64 and floats.tolist() == [1.5, 2.0]
    bools = default_collate([True, False])
    assert bools.dtype == df.bool and bools.tolist() == [True, False]


def test_numpy_arrays_and_scalars():
    arr = default_collate([np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)])
    assert arr.shape == (2, 2, 3) and arr.dtype == df.float32
    s = default_collate([np.int32(1), np.int32(5)])
    assert s.dtype == df.int32 and s.tolist() == [1, 5]
    h = default_collate([np.float16(1.5)])
    assert h.dtype == df.float16
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_strings_and_bytes_stay_lists():
    assert default_collate(["a", "b"]) == ["a", "b"]
    assert default_collate([b"a", b"b"]) == [b"a", b"b"]


def test_containers():
    batch = [{"img": df.zeros(2), "label": 1, "name": "a"},
             {"img": df.ones(2), "label": 0, "name": "b"}]
    out = default_collate(batch)
    assert set(out) == {"img", "label", "name"}
    assert out["img"].shape == (2, 2) and out["label"].tolist() == [1, 0]
    assert out["name"] == ["a", "b"]
    od = default_collate([collections.OrderedDict(a=1), collections.OrderedDict(a=2)])
    assert isinstance(od, collections.OrderedDict) and od["a"].tolist() == [1, 2]
    pts = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(pts, Point) and pts.x.tolist() == [1, 3] and pts.y.dtype == df.float64
    tup = default_collate([(df.zeros(1), 1), (df.ones(1), 2)])
    assert isinstance(tup, list) and len(tup) == 2  # tuples become lists, as in torch
    lst = default_collate([[1, 2], [3, 4]])
    assert isinstance(lst, list) and [t.tolist() for t in lst] == [[1, 3], [2, 4]]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [3]])


def test_unsupported_type():
    with pytest.raises(TypeError, match="default_collate: batch must contain tensors"):
        default_collate([object(), object()])


def test_default_convert():
    out = default_convert({"a": np.arange(3), "b": (np.float32(1.0), "s")})
    assert isinstance(out["a"], df.Tensor) and out["a"].tolist() == [0, 1, 2]
    assert isinstance(out["b"], list) and isinstance(out["b"][0], df.Tensor)
    assert out["b"][1] == "s"
    t = df.zeros(2)
    assert default_convert(t) is t
    assert default_convert(5) == 5
    assert isinstance(default_convert(Point(np.zeros(1), 2)), Point)


def test_custom_collate_fn_map():
    def collate_tensor_sum(batch, *, collate_fn_map=None):
        return sum(b.sum().item() for b in batch)

    fmap = dict(default_collate_fn_map)
    fmap[df.Tensor] = collate_tensor_sum
    assert collate([df.ones(2), df.ones(3)], collate_fn_map=fmap) == 5.0
    assert collate_tensor_fn([df.ones(2), df.zeros(2)]).shape == (2, 2)


def _as_np(x):
    if hasattr(x, "detach"):
        return x.detach().numpy()
    return x


@pytest.mark.parametrize("batch", [
    [1, 2, 3],
    [1.0, 2.5],
    [True, False],
    [np.int32(1), np.int32(2)],
    [np.float32(1.5), np.float32(2.5)],
    [np.arange(6, dtype=np.uint8).reshape(2, 3)] * 2,
    [{"a": 1, "b": [1.0, 2.0]}, {"a": 2, "b": [3.0, 4.0]}],
    [(1, "x"), (2, "y")],
])
def test_matches_torch(batch):
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as t_collate

    ours, theirs = default_collate(batch), t_collate(batch)

    def check(a, b):
        if isinstance(b, torch.Tensor):
            assert isinstance(a, df.Tensor)
            assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
            np.testing.assert_array_equal(_as_np(a), b.numpy())
        elif isinstance(b, dict):
            assert type(a) is type(b) and a.keys() == b.keys()
            for k in b:
                check(a[k], b[k])
        elif isinstance(b, (list, tuple)):
            assert type(a) is type(b) and len(a) == len(b)
            for x, y in zip(a, b):
                check(x, y)
        else:
            assert a == b

    check(ours, theirs)
