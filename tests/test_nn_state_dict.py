"""Module state_dict/load_state_dict (keys, metadata, strict errors, hooks, torch weights), reprs
and containers."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from helpers import Net, assert_close, torch_net

import deepforge as df
import deepforge.nn as nn


# -- state dict -------------------------------------------------------------------------------
def test_state_dict_contents_and_metadata():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert sd._metadata[""] == {"version": 1} and sd._metadata["block.0"] == {"version": 1}
    assert sd["fc1.weight"].requires_grad is False and not isinstance(
        sd["fc1.weight"], nn.Parameter
    )
    assert sd["fc1.weight"].data_ptr() == net.fc1.weight.data_ptr()
    kv = net.state_dict(keep_vars=True)
    assert kv["fc1.weight"] is net.fc1.weight
    assert list(net.block.state_dict(prefix="p.")) == ["p.0.weight", "p.0.bias"]
    dest = {}
    assert net.head.state_dict(destination=dest, prefix="h.") is dest and list(dest) == [
        "h.weight",
        "h.bias",
    ]


def test_load_state_dict_roundtrip_and_incompatible_keys():
    a, b = Net(), Net()
    res = b.load_state_dict(a.state_dict())
    assert repr(res) == "<All keys matched successfully>"
    assert res.missing_keys == [] and res.unexpected_keys == []
    x = df.randn(2, 4)
    assert_close(a(x), b(x))
    assert b.fc1.weight.data_ptr() != a.fc1.weight.data_ptr()  # copied, not aliased
    sd = a.state_dict()
    del sd["head.bias"]
    sd["extra.w"] = df.zeros(1)
    res = b.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["head.bias"] and res.unexpected_keys == ["extra.w"]
    assert "missing_keys=['head.bias']" in repr(res)


def test_load_state_dict_strict_error_messages():
    m = nn.Linear(4, 3)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict({"weight": df.zeros(3, 4), "foo": df.zeros(1), "bar": df.zeros(1)})
    assert str(e.value) == (
        'Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias". '
        '\n\tUnexpected key(s) in state_dict: "foo", "bar". '
    )
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict({"weight": df.zeros(3, 2), "bias": df.zeros(3)})
    assert str(e.value) == (
        "Error(s) in loading state_dict for Linear:\n\tsize mismatch for weight: copying a "
        "param with shape "
        "torch.Size([3, 2]) from checkpoint, the shape in current model is torch.Size([3, 4])."
    )
    with pytest.raises(RuntimeError, match="size mismatch for 0.bias"):
        nn.Sequential(nn.Linear(2, 2)).load_state_dict(
            {"0.weight": df.zeros(2, 2), "0.bias": df.zeros(3)}, strict=False
        )
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        m.load_state_dict([1, 2])


def test_state_dict_messages_match_torch():
    torch = pytest.importorskip("torch")
    msgs = []
    for lib, nnl in ((df, nn), (torch, torch.nn)):
        m = nnl.Sequential(nnl.Linear(4, 3), nnl.ReLU(), nnl.Linear(3, 2))
        sd = {
            "0.weight": lib.zeros(3, 5),
            "0.bias": lib.zeros(3),
            "2.weight": lib.zeros(2, 3),
            "x.y": lib.zeros(1),
        }
        with pytest.raises(RuntimeError) as e:
            m.load_state_dict(sd)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_load_state_dict_hooks_and_assign():
    m = nn.Linear(2, 2)
    seen = []
    m.register_load_state_dict_post_hook(lambda mod, keys: seen.append(list(keys.missing_keys)))
    m._register_load_state_dict_pre_hook(lambda sd, prefix, *a: seen.append(prefix))
    m.load_state_dict({"weight": df.ones(2, 2), "bias": df.ones(2)})
    assert seen == ["", []]
    w = df.full((2, 2), 3.0)
    m.load_state_dict({"weight": w, "bias": df.ones(2)}, assign=True)
    assert (
        isinstance(m.weight, nn.Parameter)
        and m.weight.data_ptr() == w.data_ptr()
        and m.weight.requires_grad
    )
    sd = {"weight": np.ones((2, 2), np.float32), "bias": np.zeros(2, np.float32)}
    m.load_state_dict(sd)  # numpy arrays load too
    assert_close(m.weight, np.ones((2, 2)))


def test_custom_load_from_state_dict_hook_point():
    class Legacy(nn.Linear):
        def _load_from_state_dict(self, state_dict, prefix, *args):
            old = prefix + "w"
            if old in state_dict:
                state_dict[prefix + "weight"] = state_dict.pop(old)
            super()._load_from_state_dict(state_dict, prefix, *args)

    m = nn.Sequential(Legacy(2, 2))
    m.load_state_dict({"0.w": df.ones(2, 2), "0.bias": df.zeros(2)})
    assert_close(m[0].weight, np.ones((2, 2)))


def test_extra_state():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.value = 1

        def get_extra_state(self):
            return {"value": self.value}

        def set_extra_state(self, state):
            self.value = state["value"]

    a = WithExtra()
    a.value = 7
    sd = a.state_dict()
    assert sd["_extra_state"] == {"value": 7}
    b = WithExtra()
    b.load_state_dict(sd)
    assert b.value == 7


def test_weights_exported_from_torch_load_and_match():
    torch = pytest.importorskip("torch")
    tnet = torch_net(torch)
    sd = {k: v.detach().numpy() for k, v in tnet.state_dict().items()}
    net = Net()
    assert list(net.state_dict()) == list(sd)
    assert all(tuple(net.state_dict()[k].shape) == v.shape for k, v in sd.items())
    net.load_state_dict({k: df.tensor(v) for k, v in sd.items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    assert_close(net(df.tensor(x)), tnet(torch.tensor(x)).detach().numpy(), rtol=1e-5)


# -- repr -------------------------------------------------------------------------------------
def test_repr_matches_torch_for_nested_model():
    torch = pytest.importorskip("torch")
    assert repr(Net()).replace("Net", "TNet") == repr(torch_net(torch))
    assert repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU())) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)"
    )

    def build(nnl):
        return nnl.Sequential(
            OrderedDict(
                [
                    ("enc", nnl.ModuleList([nnl.Linear(2, 2), nnl.Linear(2, 2), nnl.Dropout(0.1)])),
                    ("emb", nnl.Embedding(10, 3, padding_idx=0)),
                    ("heads", nnl.ModuleDict({"a": nnl.Bilinear(2, 3, 4), "b": nnl.Identity()})),
                    ("flat", nnl.Flatten()),
                    ("empty", nnl.ModuleList()),
                    ("bag", nnl.EmbeddingBag(5, 2, mode="sum")),
                ]
            )
        )

    assert repr(build(nn)) == repr(build(torch.nn))


def test_parameter_container_reprs():
    pl = nn.ParameterList([nn.Parameter(df.ones(2, 3)), df.ones(2)])
    assert repr(pl) == (
        "ParameterList(\n    (0): Parameter containing: [deepforge.float32 of size 2x3]\n"
        "    (1): Parameter containing: [deepforge.float32 of size 2]\n)"
    )
    pd = nn.ParameterDict({"a": nn.Parameter(df.ones(2, 3))})
    assert (
        repr(pd)
        == "ParameterDict(  (a): Parameter containing: [deepforge.FloatTensor of size 2x3])"
    )
    assert (
        repr(nn.Parameter(df.tensor([1.0, 2.0])))
        == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    )


# -- containers -------------------------------------------------------------------------------
def test_sequential_api():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and s[0] is layers[0] and s[-1] is layers[2]
    sub = s[1:]
    assert (
        isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"] and sub[0] is layers[1]
    )
    s.append(nn.Sigmoid())
    s.insert(1, nn.Tanh())
    assert [type(m).__name__ for m in s] == ["Linear", "Tanh", "ReLU", "Linear", "Sigmoid"]
    del s[1]
    assert list(s._modules) == ["0", "1", "2", "3"] and isinstance(s[1], nn.ReLU)
    s.extend([nn.Identity()])
    s[0] = nn.Linear(2, 2)
    assert len(s) == 5 and s.pop(4).__class__ is nn.Identity
    od = nn.Sequential(OrderedDict([("a", nn.Linear(2, 3)), ("b", nn.ReLU())]))
    assert list(od._modules) == ["a", "b"] and od.a is od[0]
    y = od(df.randn(4, 2))
    assert tuple(y.shape) == (4, 3) and float(y.min()) >= 0
    assert len(s + od) == len(s) + 2 and len(od * 2) == 4
    with pytest.raises(IndexError, match="index 9 is out of range"):
        s[9]


def test_modulelist_moduledict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.insert(0, nn.Tanh())
    assert isinstance(ml[0], nn.Tanh) and isinstance(ml[-1], nn.ReLU)
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2", "3"] and isinstance(ml[1:], nn.ModuleList)
    assert "0" not in dir(ml)
    md = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(1, 1)})
    assert list(md.keys()) == ["b", "a"] and "a" in md and len(md) == 2
    md["c"] = nn.Tanh()
    assert list(md) == ["b", "a", "c"]
    assert isinstance(md.pop("b"), nn.ReLU) and list(md) == ["a", "c"]
    md.update([("d", nn.Identity())])
    assert list(dict(md.items())) == ["a", "c", "d"]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        ml.extend(3)


def test_parameterlist_parameterdict():
    pl = nn.ParameterList([df.ones(2), nn.Parameter(df.zeros(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl) and len(pl) == 2
    pl.append(df.ones(1))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        pl(1)
    pd = nn.ParameterDict({"b": df.ones(1), "a": df.ones(2)})
    assert list(pd) == ["a", "b"]  # a plain dict is sorted, like PyTorch
    pd["c"] = df.zeros(1)
    assert isinstance(pd["c"], nn.Parameter) and list(pd.keys()) == ["a", "b", "c"]
    assert pd.get("zz") is None and "a" in pd
    assert list(dict(pd.named_parameters())) == ["a", "b", "c"]
    del pd["a"]
    assert len(pd) == 2


def test_container_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")

    def build(lib, nnl):
        return nnl.ModuleDict(
            {
                "seq": nnl.Sequential(nnl.Linear(2, 2), nnl.ReLU()),
                "lst": nnl.ModuleList([nnl.Embedding(3, 2), nnl.PReLU(2)]),
                "pl": nnl.ParameterList([lib.ones(2)]),
                "pd": nnl.ParameterDict({"x": lib.ones(1)}),
                "bil": nnl.Bilinear(2, 3, 4),
            }
        )

    a, b = build(df, nn).state_dict(), build(torch, torch.nn).state_dict()
    assert list(a) == list(b)
    assert [tuple(v.shape) for v in a.values()] == [tuple(v.shape) for v in b.values()]


def _float_in(*shape):
    return ("f", shape)


EXPORTS = [
    ("Linear", (5, 3), {}, [_float_in(4, 5)]),
    ("Linear", (5, 3), {"bias": False}, [_float_in(2, 7, 5)]),
    ("Bilinear", (3, 4, 2), {}, [_float_in(4, 3), _float_in(4, 4)]),
    ("Embedding", (10, 3), {"padding_idx": 1}, [("i", (2, 5), 10)]),
    ("EmbeddingBag", (10, 3), {"mode": "sum"}, [("i", (2, 5), 10)]),
    ("PReLU", (3,), {}, [_float_in(2, 3, 4)]),
    ("CrossEntropyLoss", (), {"weight": "w4"}, [_float_in(6, 4), ("i", (6,), 4)]),
    ("BCEWithLogitsLoss", (), {"pos_weight": "w4"}, [_float_in(6, 4), ("p", (6, 4))]),
]


@pytest.mark.parametrize("name,args,kwargs,inputs", EXPORTS, ids=[e[0] for e in EXPORTS])
def test_torch_state_dict_exports_load_by_name(name, args, kwargs, inputs):
    """Weights exported from a torch module as numpy arrays load into the deepforge module of
    the same name (same keys and shapes) and give the same outputs."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w4 = rng.uniform(0.5, 1.5, 4).astype(np.float32)

    def kw(lib):
        return {k: (lib.tensor(w4) if v == "w4" else v) for k, v in kwargs.items()}

    tmod = getattr(torch.nn, name)(*args, **kw(torch))
    exported = {k: v.detach().numpy().copy() for k, v in tmod.state_dict().items()}
    dmod = getattr(nn, name)(*args, **kw(df))
    own = dmod.state_dict()
    assert list(own) == list(exported)
    assert [tuple(v.shape) for v in own.values()] == [v.shape for v in exported.values()]
    if exported:
        dmod.load_state_dict({k: df.tensor(v) for k, v in exported.items()})
    arrays = []
    for spec in inputs:
        if spec[0] == "f":
            arrays.append(rng.standard_normal(spec[1]).astype(np.float32))
        elif spec[0] == "p":
            arrays.append(rng.uniform(0, 1, spec[1]).astype(np.float32))
        else:
            arrays.append(rng.integers(0, spec[2], spec[1]))
    yd = dmod(*[df.tensor(a) for a in arrays])
    yt = tmod(*[torch.tensor(a) for a in arrays])
    assert_close(yd, yt.detach().numpy(), rtol=1e-5)
