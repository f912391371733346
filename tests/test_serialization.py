"""deepforge.save / deepforge.load: exact round trips, storage sharing, map_location and older
file formats. Untrusted and foreign files: test_serialization_untrusted.py."""

from __future__ import annotations

import collections
import copy
import io
import pickle
import zipfile

import numpy as np
import pytest
from helpers import random_bits_array, rewrite_pickle

import deepforge as df
from deepforge import serialization
from deepforge.nn.parameter import Parameter

HAVE_NN = hasattr(df.nn, "Linear") if hasattr(df, "nn") else False
needs_nn = pytest.mark.skipif(not HAVE_NN, reason="deepforge.nn.Linear not available yet")


def roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    df.save(obj, buf)
    buf.seek(0)
    return df.load(buf, **load_kwargs)


def assert_bit_exact(a, b):
    assert isinstance(a, df.Tensor) and type(a) is type(b)
    assert a.dtype == b.dtype and a.shape == b.shape and a.device == b.device
    an, bn = a.detach().cpu().numpy(), b.detach().cpu().numpy()
    assert an.tobytes() == np.ascontiguousarray(bn).tobytes()


DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8,
          np.bool_, np.complex64, np.complex128]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 0, 2), (4, 5, 3)])
def test_every_dtype_bit_exact(dtype, shape):
    t = df.from_numpy(random_bits_array(dtype, shape))
    assert_bit_exact(roundtrip(t), t)


def test_special_float_values():
    t = df.tensor([0.0, -0.0, float("inf"), -float("inf"), float("nan"), 1e-45, 3.4e38])
    r = roundtrip(t)
    assert r.numpy().view(np.uint32).tolist() == t.numpy().view(np.uint32).tolist()


def test_path_pathlike_and_file_objects(tmp_path):
    t = df.randn(3, 4)
    p = tmp_path / "t.pt"
    df.save(t, str(p))
    assert_bit_exact(df.load(str(p)), t)
    df.save(t, p)  # os.PathLike
    assert_bit_exact(df.load(p), t)
    with open(p, "wb") as fh:
        fh.write(b"HEAD")
        df.save({"t": t}, fh)
    with open(p, "rb") as fh:
        assert fh.read(4) == b"HEAD"
        assert_bit_exact(df.load(fh)["t"], t)
    with pytest.raises(TypeError, match="wrap bytes in io.BytesIO"):
        df.load(p.read_bytes())


def test_non_contiguous_and_views_share_storage_after_load():
    base = df.arange(24.0).reshape(4, 6)
    obj = {"base": base, "row": base[1], "t": base.t(), "step": base[:, ::2],
           "exp": base[0:1].expand(3, 6)}
    r = roundtrip(obj)
    for k in obj:
        assert_bit_exact(r[k], obj[k])
        assert r[k].stride() == obj[k].stride()
    r["base"][1, 0] = -1.0  # the loaded views alias the loaded base, as saved
    assert r["row"][0].item() == -1.0 and r["t"][0, 1].item() == -1.0
    assert r["step"][1, 0].item() == -1.0
    assert r["base"]._version == r["row"]._version


def test_small_view_of_big_tensor_writes_small_file():
    big = df.zeros(1000, 1000)
    buf = io.BytesIO()
    df.save(big[10:12], buf)
    assert len(buf.getvalue()) < 20_000
    buf.seek(0)
    r = df.load(buf)
    assert r.shape == (2, 1000) and r.is_contiguous()


def test_same_tensor_twice_is_one_object():
    t = df.randn(3)
    r = roundtrip({"a": t, "b": [t]})
    assert r["a"] is r["b"][0]


def test_nested_containers_and_plain_values():
    g = df.Generator().manual_seed(5)
    obj = collections.OrderedDict(
        a=[1, 2.5, "s", b"b", None, True, complex(1, 2)],
        b=(df.ones(2), {"x": df.zeros(1, dtype=df.int64)}),
        c={1, 2}, d=frozenset({3}), e=df.Size([2, 3]), f=df.float16, g=df.device("cpu"),
        h=range(3), i=slice(1, 5, 2), gen=g, empty={}, nested=[[[df.tensor(1)]]],
    )
    r = roundtrip(obj)
    assert isinstance(r, collections.OrderedDict) and list(r) == list(obj)
    assert r["a"] == obj["a"]
    assert_bit_exact(r["b"][0], obj["b"][0])
    assert_bit_exact(r["b"][1]["x"], obj["b"][1]["x"])
    assert r["c"] == {1, 2} and r["d"] == frozenset({3})
    assert r["e"] == df.Size([2, 3]) and isinstance(r["e"], df.Size)
    assert r["f"] is df.float16 and r["g"] == df.device("cpu")
    assert r["h"] == range(3) and r["i"] == slice(1, 5, 2)
    assert df.rand(3, generator=r["gen"]).tolist() == df.rand(3, generator=g).tolist()
    assert r["nested"][0][0][0].item() == 1


def test_parameter_requires_grad_and_attributes():
    p = Parameter(df.randn(2, 3))
    q = Parameter(df.randn(2), requires_grad=False)
    t = df.randn(2).requires_grad_()
    t.note = "kept"
    r = roundtrip({"p": p, "q": q, "t": t})
    assert type(r["p"]) is Parameter and r["p"].requires_grad
    assert type(r["q"]) is Parameter and not r["q"].requires_grad
    assert type(r["t"]) is df.Tensor and r["t"].requires_grad and r["t"].is_leaf
    assert r["t"].note == "kept"
    assert_bit_exact(r["p"], p)


def test_pickle_and_copy_of_tensors_and_parameters():
    p = Parameter(df.randn(3, 2))
    x = df.randn(4)[::2]
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        rp = pickle.loads(pickle.dumps(p, protocol=proto))
        assert type(rp) is Parameter and rp.requires_grad
        assert_bit_exact(rp, p)
        rx = pickle.loads(pickle.dumps(x, protocol=proto))
        assert_bit_exact(rx, x)
        rx[0] = 5.0  # writable
    assert_bit_exact(copy.deepcopy(p), p)
    assert_bit_exact(copy.copy(x), x)


def test_optimizer_state_roundtrip_resumes_exactly():
    def make():
        g = df.Generator().manual_seed(0)
        w = Parameter(df.randn(5, 3, generator=g))
        return w, df.optim.Adam([w], lr=0.05)

    def step(w, opt):
        opt.zero_grad()
        ((w * w).sum() + w.sum()).backward()
        opt.step()

    w1, opt1 = make()
    for _ in range(3):
        step(w1, opt1)
    ckpt = roundtrip({"w": w1.detach().clone(), "opt": opt1.state_dict()})
    for _ in range(2):
        step(w1, opt1)

    w2, opt2 = make()
    with df.no_grad():
        w2.copy_(ckpt["w"])
    opt2.load_state_dict(ckpt["opt"])
    for _ in range(2):
        step(w2, opt2)
    assert_bit_exact(w2, w1)


@needs_nn
def test_module_state_dict_roundtrip(tmp_path):
    nn = df.nn
    df.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    df.save(m.state_dict(), tmp_path / "m.pt")
    sd = df.load(tmp_path / "m.pt")
    assert list(sd) == list(m.state_dict())
    m2 = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    m2.load_state_dict(sd)
    x = df.randn(3, 4)
    assert_bit_exact(m2(x), m(x))


@needs_nn
def test_whole_module_needs_weights_only_false(tmp_path):
    nn = df.nn
    m = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    df.save(m, tmp_path / "model.pt")
    with pytest.raises(pickle.UnpicklingError, match="Sequential"):
        df.load(tmp_path / "model.pt")
    m2 = df.load(tmp_path / "model.pt", weights_only=False)
    x = df.randn(4, 3)
    assert type(m2) is nn.Sequential
    assert_bit_exact(m2(x), m(x))
    unsafe = serialization.get_unsafe_globals_in_checkpoint(tmp_path / "model.pt")
    assert any(name.endswith("Sequential") for name in unsafe)


# -- map_location ------------------------------------------------------------------------------
def _opencl():
    from deepforge.backends import opencl_device_count

    try:
        return opencl_device_count() > 0
    except Exception:
        return False


@pytest.mark.parametrize("loc", ["cpu", df.device("cpu"), {"cpu": "cpu"},
                                 lambda storage, location: storage,
                                 lambda storage, location: None])
def test_map_location_forms(loc):
    t = df.randn(3)
    r = roundtrip({"t": t}, map_location=loc)
    assert_bit_exact(r["t"], t)


def test_map_location_callable_sees_saved_location():
    seen = []

    def loc(storage, location):
        seen.append(location)
        return storage

    roundtrip([df.ones(1), df.zeros(2)], map_location=loc)
    assert seen == ["cpu", "cpu"]


@pytest.mark.skipif(not _opencl(), reason="no OpenCL device")
def test_map_location_to_and_from_opencl():
    t = df.randn(4, 3)
    r = roundtrip(t, map_location="opencl:0")
    assert r.device == df.device("opencl:0")
    np.testing.assert_array_equal(r.cpu().numpy(), t.numpy())
    back = roundtrip(r)  # saved on opencl:0, loaded there again
    assert back.device == df.device("opencl:0")
    home = roundtrip(r, map_location={"opencl:0": "cpu"})
    assert_bit_exact(home, t)


def test_missing_device_needs_map_location():
    buf = io.BytesIO()
    df.save(df.arange(3.0), buf)
    f = rewrite_pickle(buf.getvalue(), lambda d: d.replace(b"\x8c\x03cpu", b"\x8c\x09opencl:97"))
    with pytest.raises(RuntimeError, match="tensor on opencl:97.*map_location='cpu'"):
        df.load(f)
    f.seek(0)
    assert df.load(f, map_location="cpu").tolist() == [0.0, 1.0, 2.0]


# -- older formats, other picklers -------------------------------------------------------------
def test_reads_older_v1_files():
    t = df.arange(6.0).reshape(2, 3)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/format", b"DEEPFORGE\x00v1\n")
        zf.writestr("archive/data.pkl", pickle.dumps({"t": t}, protocol=4))
    buf.seek(0)
    assert_bit_exact(df.load(buf)["t"], t)


def test_custom_pickle_module():
    import types

    mod = types.SimpleNamespace(Pickler=pickle.Pickler)
    buf = io.BytesIO()
    df.save({"t": df.arange(4)}, buf, pickle_module=mod)
    buf.seek(0)
    assert df.load(buf)["t"].tolist() == [0, 1, 2, 3]
