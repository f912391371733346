"""deepforge.load of files it cannot trust or did not write: weights_only refuses every global
it does not know before anything runs, allow-lists, damaged files (always an error, never a
wrong result), and checkpoints written by torch.save."""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
from helpers import random_bits_array, rewrite_pickle

import deepforge as df
from deepforge import serialization
from deepforge.nn.parameter import Parameter

HAVE_NN = hasattr(df.nn, "Linear") if hasattr(df, "nn") else False


# -- safe loading ------------------------------------------------------------------------------
class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class EvilEval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({self.marker!r}, 'w').close()",))


class Plain:
    def __init__(self, v=1):
        self.v = v

    def __eq__(self, other):
        return isinstance(other, Plain) and other.v == self.v


@pytest.mark.parametrize("cls,name", [(Evil, "system"), (EvilEval, "builtins.eval")])
def test_weights_only_refuses_code_and_runs_nothing(tmp_path, cls, name):
    marker = tmp_path / "pwned"
    f = tmp_path / "evil.pt"
    df.save({"w": df.ones(2), "x": cls(str(marker))}, f)
    with pytest.raises(pickle.UnpicklingError, match=name):
        df.load(f)
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):
        df.load(f, weights_only=True)
    assert not marker.exists()
    assert any(name in g for g in serialization.get_unsafe_globals_in_checkpoint(f))


def test_arbitrary_class_refused_then_allow_listed(tmp_path):
    f = tmp_path / "p.pt"
    df.save({"p": Plain(3), "t": df.ones(1)}, f)
    with pytest.raises(pickle.UnpicklingError, match=rf"{Plain.__module__}\.Plain"):
        df.load(f)
    assert serialization.get_unsafe_globals_in_checkpoint(f) == [f"{Plain.__module__}.Plain"]
    with serialization.safe_globals([Plain]):
        assert df.load(f)["p"] == Plain(3)
    with pytest.raises(pickle.UnpicklingError):
        df.load(f)  # the context manager restored the allow-list
    serialization.add_safe_globals([Plain])
    try:
        assert Plain in serialization.get_safe_globals()
        assert df.load(f)["p"] == Plain(3)
    finally:
        serialization.clear_safe_globals()
    with pytest.raises(pickle.UnpicklingError):
        df.load(f)
    assert df.load(f, weights_only=False)["p"] == Plain(3)


class MyT(df.Tensor):
    pass


def test_unsafe_globals_are_all_listed(tmp_path):
    from deepforge.tensor import make_tensor

    base = df.arange(2.0)
    f = tmp_path / "two.pt"
    df.save([Plain(1), make_tensor(base._data, base._dtype, base._device, cls=MyT), Plain(2),
             collections.Counter("ab")], f)
    assert serialization.get_unsafe_globals_in_checkpoint(f) == [
        f"{Plain.__module__}.Plain", f"{MyT.__module__}.MyT", "collections.Counter"]


def test_tensor_subclass_needs_allow_listing():
    from deepforge.tensor import make_tensor

    base = df.arange(3.0)
    t = make_tensor(base._data, base._dtype, base._device, cls=MyT)
    buf = io.BytesIO()
    df.save(t, buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="MyT"):
        df.load(buf)
    buf.seek(0)
    with serialization.safe_globals([MyT]):
        r = df.load(buf)
    assert type(r) is MyT and r.tolist() == [0.0, 1.0, 2.0]


# -- damaged files -----------------------------------------------------------------------------
def _checkpoint_bytes():
    obj = {"w": df.arange(64.0).reshape(8, 8), "b": df.arange(8), "meta": [1, "x"]}
    buf = io.BytesIO()
    df.save(obj, buf)
    return obj, buf.getvalue()


def _same(a, b):
    return (a.keys() == b.keys() and a["meta"] == b["meta"]
            and all(a[k].numpy().tobytes() == b[k].numpy().tobytes() for k in ("w", "b")))


def test_truncated_files_raise_runtime_error():
    obj, raw = _checkpoint_bytes()
    for cut in list(range(0, len(raw), 7)) + [len(raw) - 1]:
        with pytest.raises(RuntimeError, match="deepforge.load"):
            df.load(io.BytesIO(raw[:cut]))


def test_corrupted_bytes_never_give_a_wrong_result():
    obj, raw = _checkpoint_bytes()
    rng = np.random.default_rng(0)
    positions = sorted(set(rng.integers(0, len(raw), 300).tolist()))
    for pos in positions:
        bad = bytearray(raw)
        bad[pos] ^= 0xFF
        try:
            r = df.load(io.BytesIO(bytes(bad)))
        except RuntimeError as e:
            assert "deepforge.load" in str(e)
        else:
            assert _same(r, obj), f"flipping byte {pos} gave a different result"


def test_not_a_checkpoint():
    for raw in (b"", b"hello world", pickle.dumps({"a": 1})):
        with pytest.raises(RuntimeError, match="truncated, corrupt or not a deepforge checkpoint"):
            df.load(io.BytesIO(raw))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/format", b"SOMETHING ELSE")
    buf.seek(0)
    with pytest.raises(RuntimeError, match="unknown checkpoint format"):
        df.load(buf)


def test_tensor_outside_its_storage_is_refused():
    from deepforge._serialization_tensors import _LoadedStorage, _rebuild_from_storage

    st = _LoadedStorage(bytearray(16), 0)
    assert _rebuild_from_storage(st, 8, (2,), (4,), "float32", "cpu", False).shape == (2,)
    for offset, shape, strides in [(12, (2,), (4,)), (-4, (1,), (4,)), (0, (3,), (8,)),
                                   (8, (2,), (-16,))]:
        with pytest.raises(RuntimeError, match="outside its storage"):
            _rebuild_from_storage(st, offset, shape, strides, "float32", "cpu", False)
    with pytest.raises(RuntimeError, match="invalid tensor shape"):
        _rebuild_from_storage(st, 0, (-1,), (4,), "float32", "cpu", False)


def test_wrong_storage_size_is_refused():
    _, raw = _checkpoint_bytes()
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:-4] if name.endswith("data/0") else data)
    out.seek(0)
    with pytest.raises(RuntimeError, match="storage 0 has"):
        df.load(out)


# -- checkpoints written by torch.save ---------------------------------------------------------
def _torch_file(obj):
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return buf


def test_loads_torch_checkpoints():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    w = torch.arange(12.0).reshape(3, 4)
    values = {name: torch.from_numpy(random_bits_array(dtype, (3, 2), seed=i))
              for i, (name, dtype) in enumerate([("f32", np.float32), ("f64", np.float64),
                                                 ("f16", np.float16), ("i64", np.int64),
                                                 ("i8", np.int8), ("u8", np.uint8),
                                                 ("b", np.bool_), ("c64", np.complex64)])}
    obj = {"w": w, "wt": w.t(), "col": w[:, 1], **values, "dtype": torch.float16,
           "size": torch.Size([2, 3]), "dev": torch.device("cpu"), "n": 3}
    r = df.load(_torch_file(obj))
    for k, v in values.items():
        assert r[k].dtype == getattr(df, str(v.dtype).split(".")[-1])
        assert r[k].numpy().tobytes() == v.numpy().tobytes()
    np.testing.assert_array_equal(r["wt"].numpy(), w.t().numpy())
    assert r["wt"].stride() == w.t().stride()
    r["w"][0, 1] = -1.0  # views of one torch storage stay views of one storage
    assert r["wt"][1, 0].item() == -1.0 and r["col"][0].item() == -1.0
    assert r["dtype"] is df.float16 and r["size"] == df.Size([2, 3]) and r["n"] == 3
    assert r["dev"] == df.device("cpu")


def test_torch_state_dict_into_deepforge_module():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    f = _torch_file({"model": tm.state_dict(), "param": tm[0].weight})
    ckpt = df.load(f)
    assert type(ckpt["param"]) is Parameter and ckpt["param"].requires_grad
    if HAVE_NN:
        nn = df.nn
        dm = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        dm.load_state_dict(ckpt["model"])
        x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
        with torch.no_grad():
            expected = tm(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(dm(df.from_numpy(x)).detach().numpy(), expected,
                                   rtol=1e-5, atol=1e-6)


def test_torch_checkpoint_locations_and_safety(tmp_path):
    torch = pytest.importorskip("torch")
    raw = _torch_file({"t": torch.arange(3.0)}).getvalue()
    # the same file as if saved from a GPU: location "cuda:0"
    cuda = rewrite_pickle(raw, lambda d: d.replace(b"X\x03\x00\x00\x00cpu",
                                                    b"X\x06\x00\x00\x00cuda:0"))
    with pytest.raises(RuntimeError, match="tensor on cuda:0.*map_location='cpu'"):
        df.load(cuda)
    for loc in ("cpu", {"cuda:0": "cpu"}):
        cuda.seek(0)
        assert df.load(cuda, map_location=loc)["t"].tolist() == [0.0, 1.0, 2.0]
    marker = tmp_path / "pwned"
    torch.save({"x": Evil(str(marker))}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError, match="system"):
        df.load(tmp_path / "evil.pt")
    assert not marker.exists()
    if hasattr(torch, "bfloat16"):
        with pytest.raises(RuntimeError, match="bfloat16"):
            df.load(_torch_file(torch.zeros(2, dtype=torch.bfloat16)))
