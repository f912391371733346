"""Indexing beyond the op table: views vs copies, assignment forms, index_put, autograd."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close

import deepforge as df

BASE = np.arange(60.0).reshape(3, 4, 5)


def make(device, dtype=df.float64):
    return df.tensor(BASE, dtype=dtype, device=device)


BASIC_KEYS = [
    0,
    -1,
    (1, 2),
    slice(1, 3),
    (slice(None), 1),
    (Ellipsis, 2),
    (None, 0),
    (slice(None, None, 2), slice(1, None, 3)),
    (0, Ellipsis, None),
    (slice(-2, None), -1, slice(0, 5, 4)),
    (),
    Ellipsis,
]


@pytest.mark.parametrize("key", BASIC_KEYS, ids=repr)
def test_basic_indexing_is_a_view(key, device):
    x = make(device)
    v = x[key]
    assert_close(v, BASE[key])
    v.fill_(-1.0)
    expected = BASE.copy()
    expected[key] = -1.0
    assert_close(x, expected)


ADV_KEYS = [
    [0, 2],
    ([0, 2], [1, 3]),
    (slice(None), [3, 0, 3]),
    ([[0, 1], [2, 0]],),
    (Ellipsis, [4, 0]),
    ([0, 1], slice(None), [2, 3]),
    (1, [0, 3], slice(1, 3)),
    ([True, False, True],),
    (None, [1, 1]),
    (np.array([[True, False, True, False]] * 3),),
    (slice(1, None), [0, 0, 2]),
]


@pytest.mark.parametrize("key", ADV_KEYS, ids=repr)
def test_advanced_indexing_is_a_copy_matching_numpy(key, device):
    x = make(device)
    k = tuple(
        df.tensor(i, device=device) if isinstance(i, (list, np.ndarray)) else i
        for i in (key if isinstance(key, tuple) else (key,))
    )
    r = x[k if len(k) > 1 else k[0]]
    np_key = tuple(
        np.asarray(i) if isinstance(i, list) else i
        for i in (key if isinstance(key, tuple) else (key,))
    )
    assert_close(r, BASE[np_key if len(np_key) > 1 else np_key[0]])
    r.fill_(-1.0)
    assert_close(x, BASE)  # the source is untouched
    assert_close(
        x[key if not isinstance(key, tuple) or len(key) > 1 else key[0]],
        BASE[np_key if len(np_key) > 1 else np_key[0]],
    )


SET_CASES = [
    (1, 7.0),
    ((slice(None), 0), [1.0, 2.0, 3.0, 4.0, 5.0]),
    ((Ellipsis, 1), 0.5),
    ([0, 2], -3.0),
    (([0, 2], [1, 3]), [[10.0], [20.0]]),
    ((slice(None), [0, 3]), np.ones((3, 2, 5))),
    (BASE > 30, 0.0),
    ((BASE[:, :, 0] > 10,), 2.0),
    ((None, 1, 2), np.arange(5.0)),
    ((slice(0, 3, 2), slice(None), slice(1, 4)), np.arange(3.0)),
]


@pytest.mark.parametrize("key,value", SET_CASES, ids=range(len(SET_CASES)))
def test_setitem_matches_numpy(key, value, device):
    x = make(device)
    tkey = tuple(
        df.tensor(i, device=device) if isinstance(i, (list, np.ndarray)) else i
        for i in (key if isinstance(key, tuple) else (key,))
    )
    tval = (
        df.tensor(value, dtype=df.float64, device=device)
        if isinstance(value, (list, np.ndarray))
        else value
    )
    v0 = x._version
    x[tkey if len(tkey) > 1 else tkey[0]] = tval
    expected = BASE.copy()
    expected[
        tuple(
            np.asarray(i) if isinstance(i, list) else i
            for i in (key if isinstance(key, tuple) else (key,))
        )
    ] = value
    assert_close(x, expected)
    assert x._version > v0


def test_setitem_casts_and_accepts_python_and_numpy_values():
    x = df.zeros(4, dtype=df.int32)
    x[0] = 2.7  # truncated like torch
    x[1:3] = df.tensor([5.0, 6.0])
    x[3] = np.int64(9)
    assert x.tolist() == [2, 5, 6, 9] and x.dtype is df.int32
    m = df.zeros(3, dtype=df.bool)
    m[1] = True
    assert m.tolist() == [False, True, False]


def test_augmented_assignment_with_index():
    x = df.zeros(5)
    x[1:3] += 1
    x[[0, 4]] -= 2
    x[df.tensor([True, False, False, False, True])] *= 10
    assert x.tolist() == [-20.0, 1.0, 1.0, 0.0, -20.0]
    y = df.zeros(3)
    y[df.tensor([0, 0, 1])] += 1  # duplicates: applied once, like torch and numpy
    assert y.tolist() == [1.0, 1.0, 0.0]


def test_index_put_accumulate():
    x = df.zeros(3)
    x.index_put_((df.tensor([0, 0, 2]),), df.tensor([1.0, 2.0, 3.0]), accumulate=True)
    assert x.tolist() == [3.0, 0.0, 3.0]
    y = df.index_put(df.zeros(2, 2), (df.tensor([0, 1]), df.tensor([1, 1])), df.tensor(5.0))
    assert y.tolist() == [[0.0, 5.0], [0.0, 5.0]]


def test_index_with_int_tensor_scalars_and_bool_scalars():
    x = df.arange(6).reshape(2, 3)
    assert x[df.tensor(1)].tolist() == [3, 4, 5]
    assert x[df.tensor(1), df.tensor(2)].item() == 5
    assert x[True].shape == (1, 2, 3) and x[False].shape == (0, 2, 3)
    assert x[None].shape == (1, 2, 3) and x[..., None].shape == (2, 3, 1)
    assert df.tensor(5.0)[None].shape == (1,) and df.tensor(5.0)[...].shape == ()


def test_empty_and_zero_size_indexing():
    x = df.zeros(0, 3)
    assert x[:, 1].shape == (0,) and x[df.tensor([], dtype=df.int64)].shape == (0, 3)
    y = df.arange(4.0)
    assert y[df.tensor([], dtype=df.int64)].shape == (0,)
    assert y[y > 10].shape == (0,)
    y[y > 10] = 1.0
    assert y.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_index_tensor_on_other_device_or_cpu(device):
    x = make(device)
    idx = df.tensor([2, 0])  # CPU indices work for any device, like torch
    assert_close(x[idx], BASE[[2, 0]])


def test_indexing_autograd(device):
    x = df.tensor(BASE, dtype=df.float64, device=device, requires_grad=True)
    y = x[1:, ::2][df.tensor([0, 0, 1], device=device)].sum() + x[..., 0].pow(2).sum()
    y.backward()
    expected = np.zeros_like(BASE)
    expected[1, ::2] += 2
    expected[2, ::2] += 1
    expected[..., 0] += 2 * BASE[..., 0]
    assert_close(x.grad, expected)


def test_setitem_autograd_to_value_and_target():
    x = df.tensor(np.ones((3, 2)), requires_grad=True)
    v = df.tensor([4.0, 5.0], requires_grad=True)
    y = x * 2
    y[df.tensor([True, False, True])] = v  # v broadcast to 2 rows
    (y * df.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])).sum().backward()
    assert_close(x.grad, [[0.0, 0.0], [6.0, 8.0], [0.0, 0.0]])
    assert_close(v.grad, [6.0, 8.0])


def test_getitem_matches_torch_on_mixed_keys():
    torch = pytest.importorskip("torch")
    t = torch.arange(120).reshape(2, 3, 4, 5)
    x = df.arange(120).reshape(2, 3, 4, 5)
    keys = [
        lambda m: (m.tensor([1, 0]), slice(None), m.tensor([3, 2])),
        lambda m: (slice(None), m.tensor([[0, 2]]), m.tensor([[1], [3]])),
        lambda m: (Ellipsis, m.tensor([4, 0]), None),
        lambda m: (0, m.tensor([2, 1]), slice(1, 3), m.tensor([0, 4])),
        lambda m: (m.tensor([True, False]), 1),
        lambda m: (m.tensor([[True, False, True], [False, False, True]]), m.tensor([0, 3, 1])),
        lambda m: (None, 1, None, m.tensor([0, 0])),
    ]
    for k in keys:
        assert x[k(df)].tolist() == t[k(torch)].tolist()


def test_index_select_of_a_0d_tensor(device):
    x = df.tensor(5.0, device=device, requires_grad=True)
    y = df.index_select(x, 0, df.tensor([0], device=device))
    assert y.shape == () and y.item() == 5.0
    (3 * y).backward()
    assert x.grad.item() == 3.0
