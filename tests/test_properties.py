"""Property tests (hypothesis): broadcasting, indexing and reductions agree with numpy."""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from helpers import assert_close  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import deepforge as df  # noqa: E402

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)
FLOATS = st.floats(-10, 10, allow_nan=False, width=32)


def arrays(shape, dtype=np.float64):
    return hnp.arrays(
        dtype, shape, elements=FLOATS if np.dtype(dtype).kind == "f" else st.integers(-5, 5)
    )


# -- broadcasting ------------------------------------------------------------------------------
@SETTINGS
@given(
    hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4), st.data()
)
def test_binary_broadcasting(shapes, data):
    sa, sb = shapes.input_shapes
    a = data.draw(arrays(sa))
    b = data.draw(arrays(sb))
    assert tuple(df.broadcast_shapes(sa, sb)) == np.broadcast_shapes(sa, sb)
    x = df.tensor(a, requires_grad=True)
    y = df.tensor(b, requires_grad=True)
    out = x * y + x - y
    assert_close(out, a * b + a - b, rtol=1e-12)
    out.sum().backward()
    # gradients come back in the inputs' shapes: the broadcast dims are summed out
    assert x.grad.shape == sa and y.grad.shape == sb
    assert_close(
        x.grad,
        np.broadcast_to(b + 1, out.shape).sum(axis=_bcast_axes(sa, out.shape)).reshape(sa),
        rtol=1e-10,
    )
    assert_close(
        y.grad,
        np.broadcast_to(a - 1, out.shape).sum(axis=_bcast_axes(sb, out.shape)).reshape(sb),
        rtol=1e-10,
    )


def _bcast_axes(shape, out_shape):
    lead = len(out_shape) - len(shape)
    return tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and out_shape[lead + i] != 1
    )


@SETTINGS
@given(
    hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3), st.data()
)
def test_where_and_broadcast_tensors(shapes, data):
    sc, sa, sb = shapes.input_shapes
    c = data.draw(hnp.arrays(np.bool_, sc))
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    assert_close(df.where(df.tensor(c), df.tensor(a), df.tensor(b)), np.where(c, a, b))
    outs = df.broadcast_tensors(df.tensor(a), df.tensor(b), df.tensor(c))
    for o, r in zip(outs, np.broadcast_arrays(a, b, c)):
        assert_close(o, r)


# -- indexing ----------------------------------------------------------------------------------
SHAPES = hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5)


@SETTINGS
@given(SHAPES.flatmap(lambda s: st.tuples(st.just(s), hnp.basic_indices(s, allow_newaxis=True))))
def test_basic_getitem(case):
    shape, key = case
    a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    x = df.tensor(a)
    if any(
        isinstance(k, slice) and k.step is not None and k.step < 0
        for k in (key if isinstance(key, tuple) else (key,))
    ):
        with pytest.raises(ValueError, match="step must be greater than zero"):
            x[key]
        return
    assert_close(x[key], a[key])


@SETTINGS
@given(
    SHAPES.flatmap(
        lambda s: st.tuples(
            st.just(s), hnp.integer_array_indices(s, result_shape=hnp.array_shapes(max_dims=2))
        )
    )
)
def test_integer_array_getitem(case):
    shape, key = case
    a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    x = df.tensor(a, requires_grad=True)
    r = x[tuple(df.tensor(k) for k in key)]
    assert_close(r, a[key])
    r.sum().backward()
    expected = np.zeros(shape)
    np.add.at(expected, key, 1.0)
    assert_close(x.grad, expected)


@SETTINGS
@given(SHAPES, st.data())
def test_mixed_slices_masks_and_arrays(shape, data):
    """Keys of slices, None, one boolean mask or index arrays (no integers: numpy's rule for
    mixing integers with arrays differs from PyTorch's, see test_indexing.py)."""
    a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    key = []
    for n in shape:
        kind = data.draw(st.sampled_from(["slice", "array", "none", "mask"]))
        if kind == "slice":
            key.append(
                slice(
                    data.draw(st.integers(-n, n)),
                    data.draw(st.integers(-n, n)),
                    data.draw(st.integers(1, 3)),
                )
            )
        elif kind == "array":
            key.append(
                np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=3)))
            )
        elif kind == "mask":
            key.append(np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n))))
        else:
            key += [None, slice(None)]
    arrays_ = [k for k in key if isinstance(k, np.ndarray)]
    try:
        expected = a[tuple(key)]
    except IndexError:  # index arrays that do not broadcast: torch raises too
        with pytest.raises((IndexError, RuntimeError)):
            df.tensor(a)[tuple(df.tensor(k) if isinstance(k, np.ndarray) else k for k in key)]
        return
    r = df.tensor(a)[tuple(df.tensor(k) if isinstance(k, np.ndarray) else k for k in key)]
    assert_close(r, expected)
    if not arrays_:
        assert r.shape == expected.shape


@SETTINGS
@given(
    SHAPES.flatmap(lambda s: st.tuples(st.just(s), hnp.basic_indices(s))),
    st.floats(-5, 5, width=32),
)
def test_setitem_basic(case, value):
    shape, key = case
    if any(
        isinstance(k, slice) and k.step is not None and k.step < 0
        for k in (key if isinstance(key, tuple) else (key,))
    ):
        return
    a = np.zeros(shape)
    x = df.tensor(a)
    x[key] = value
    a[key] = value
    assert_close(x, a)


# -- reductions --------------------------------------------------------------------------------
REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(d, keepdim=k), lambda a, d, k: a.sum(d, keepdims=k)),
    "mean": (lambda x, d, k: x.mean(d, keepdim=k), lambda a, d, k: a.mean(d, keepdims=k)),
    "amax": (lambda x, d, k: x.amax(d, keepdim=k), lambda a, d, k: a.max(d, keepdims=k)),
    "amin": (lambda x, d, k: x.amin(d, keepdim=k), lambda a, d, k: a.min(d, keepdims=k)),
    "prod": (lambda x, d, k: x.prod(d[0], keepdim=k), lambda a, d, k: a.prod(d[0], keepdims=k)),
    "var": (lambda x, d, k: x.var(d, keepdim=k), lambda a, d, k: a.var(d, ddof=1, keepdims=k)),
    "std0": (
        lambda x, d, k: x.std(d, correction=0, keepdim=k),
        lambda a, d, k: a.std(d, keepdims=k),
    ),
    "logsumexp": (
        lambda x, d, k: x.logsumexp(d, keepdim=k),
        lambda a, d, k: np.log(np.exp(a).sum(d, keepdims=k)),
    ),
    "norm": (
        lambda x, d, k: x.norm(dim=d, keepdim=k),
        lambda a, d, k: np.sqrt((a * a).sum(d, keepdims=k)),
    ),
    "any": (
        lambda x, d, k: (x > 0).any(d[0], keepdim=k),
        lambda a, d, k: (a > 0).any(d[0], keepdims=k),
    ),
    "all": (
        lambda x, d, k: (x > 0).all(d[0], keepdim=k),
        lambda a, d, k: (a > 0).all(d[0], keepdims=k),
    ),
    "cumsum": (lambda x, d, k: x.cumsum(d[0]), lambda a, d, k: a.cumsum(d[0])),
    "softmax": (
        lambda x, d, k: x.softmax(d[0]),
        lambda a, d, k: (
            np.exp(a - a.max(d[0], keepdims=True))
            / np.exp(a - a.max(d[0], keepdims=True)).sum(d[0], keepdims=True)
        ),
    ),
}


@SETTINGS
@given(
    hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5),
    st.sampled_from(sorted(REDUCTIONS)),
    st.booleans(),
    st.data(),
)
def test_reductions(shape, name, keepdim, data):
    a = data.draw(arrays(shape))
    ndim = len(shape)
    dims = data.draw(
        st.lists(
            st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim, unique_by=lambda d: d % ndim
        )
    )
    ours, ref = REDUCTIONS[name]
    if name == "var" and np.prod([shape[d] for d in dims]) < 2:
        return  # degrees of freedom <= 0
    expected = ref(a, tuple(dims), keepdim)
    with np.errstate(all="ignore"):
        assert_close(ours(df.tensor(a), tuple(dims), keepdim), expected, rtol=1e-9, atol=1e-9)


@SETTINGS
@given(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), st.data())
def test_full_reductions_and_argmax(shape, data):
    a = data.draw(hnp.arrays(np.float64, shape, elements=FLOATS, unique=True))
    x = df.tensor(a)
    assert_close(x.sum(), a.sum(), rtol=1e-12)
    if a.size:
        assert_close(x.max(), a.max())
        assert x.argmax().item() == int(np.argmax(a)) and x.argmin().item() == int(np.argmin(a))
        if a.ndim:
            v, i = x.max(-1)
            assert_close(v, a.max(-1))
            assert_close(i, a.argmax(-1))
