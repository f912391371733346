"""Transformer layers, stacks and the full model against PyTorch with the same weights
(outputs, gradients of inputs and of every parameter) over norm_first, activation
(relu / gelu / callable), batch_first and masks; state_dict layout; train/eval; errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, to_np
from seq_refs import DTYPES, compare_results, copy_to_torch, torch_or_skip

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:torch")  # PyTorch's own notes

D, H, FF, L, S, N = 8, 2, 16, 5, 4, 3
ACTS = ["relu", "gelu", "callable"]


def _act(lib, name):
    return lib.nn.functional.silu if name == "callable" else name


def _layer(lib, kind, norm_first, act, batch_first, dtype):
    cls = lib.nn.TransformerEncoderLayer if kind == "encoder" else lib.nn.TransformerDecoderLayer
    return cls(D, H, FF, dropout=0.0, activation=_act(lib, act), batch_first=batch_first,
               norm_first=norm_first).to(dtype)


def _seq(rng, n, batch_first, np_dtype):
    return rng.standard_normal((N, n, D) if batch_first else (n, N, D)).astype(np_dtype)


def _masks(rng, n_q, n_k, np_dtype, bool_masks):
    attn = np.triu(np.ones((n_q, n_k), bool), 1) if bool_masks else \
        rng.standard_normal((n_q, n_k)).astype(np_dtype)
    kpm = np.zeros((N, n_k), bool)
    kpm[1, -1] = True
    return attn, kpm


def _run(lib, mod, kind, arrays, masks, dev):
    """Call an encoder/decoder layer or stack; returns (leaves, output)."""
    leaves = [lib.tensor(a, **dev).requires_grad_(True) for a in arrays]
    m = [None if a is None else lib.tensor(a, **dev) for a in masks]
    if kind == "encoder":
        return leaves, mod(leaves[0], m[0], m[1])
    return leaves, mod(leaves[0], leaves[1], m[0], m[2], m[1], m[3])


@pytest.mark.parametrize("np_dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("act", ACTS)
def test_layer_matches_torch(device, np_dtype, kind, norm_first, act):
    torch = torch_or_skip()
    rng = np.random.default_rng(0)
    batch_first = norm_first  # both layouts covered across the matrix
    dt, tdt = DTYPES[np_dtype], getattr(torch, np.dtype(np_dtype).name)
    m = _layer(df, kind, norm_first, act, batch_first, dt).to(device)
    tm = copy_to_torch(m, _layer(torch, kind, norm_first, act, batch_first, tdt))
    arrays = [_seq(rng, L, batch_first, np_dtype)]
    bool_masks = act != "gelu"
    masks = list(_masks(rng, L, L, np_dtype, bool_masks))
    if kind == "decoder":
        arrays.append(_seq(rng, S, batch_first, np_dtype))
        masks += list(_masks(rng, L, S, np_dtype, bool_masks))
        masks[2] = None if act == "relu" else masks[2]
    leaves, out = _run(df, m, kind, arrays, masks, {"device": device})
    tleaves, tout = _run(torch, tm, kind, arrays, masks, {})
    compare_results(m, tm, out, tout, leaves, tleaves, np_dtype)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_stack_with_norm_matches_torch(device, kind):
    torch = torch_or_skip()
    rng = np.random.default_rng(1)

    def build(lib):
        layer = _layer(lib, kind, False, "relu", False, lib.float64)
        stack = lib.nn.TransformerEncoder if kind == "encoder" else lib.nn.TransformerDecoder
        kw = {"enable_nested_tensor": False} if kind == "encoder" else {}
        return stack(layer, 2, norm=lib.nn.LayerNorm(D, dtype=lib.float64), **kw)

    m = build(df).to(device)
    tm = copy_to_torch(m, build(torch))
    assert list(m.state_dict()) == list(tm.state_dict())
    arrays = [_seq(rng, L, False, np.float64)] + \
        ([_seq(rng, S, False, np.float64)] if kind == "decoder" else [])
    masks = list(_masks(rng, L, L, np.float64, True)) + [None, None]
    leaves, out = _run(df, m, kind, arrays, masks, {"device": device})
    tleaves, tout = _run(torch, tm, kind, arrays, masks, {})
    compare_results(m, tm, out, tout, leaves, tleaves, np.float64)


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(device, batch_first):
    torch = torch_or_skip()
    rng = np.random.default_rng(2)

    def build(lib):
        return lib.nn.Transformer(D, H, 2, 1, FF, dropout=0.0, batch_first=batch_first,
                                  dtype=lib.float64)

    m = build(df).to(device)
    tm = copy_to_torch(m, build(torch))
    src, tgt = _seq(rng, S, batch_first, np.float64), _seq(rng, L, batch_first, np.float64)
    mask = nn.Transformer.generate_square_subsequent_mask(L, dtype=df.float64)
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64)
    assert_close(mask, tmask.numpy())
    kpm = np.zeros((N, S), bool)
    kpm[0, -1] = True
    x, y = (df.tensor(a, device=device, requires_grad=True) for a in (src, tgt))
    tx, ty = (torch.tensor(a, requires_grad=True) for a in (src, tgt))
    out = m(x, y, tgt_mask=mask.to(device), src_key_padding_mask=df.tensor(kpm, device=device),
            memory_key_padding_mask=df.tensor(kpm, device=device), tgt_is_causal=True)
    tout = tm(tx, ty, tgt_mask=tmask, src_key_padding_mask=torch.tensor(kpm),
              memory_key_padding_mask=torch.tensor(kpm), tgt_is_causal=True)
    compare_results(m, tm, out, tout, [x, y], [tx, ty], np.float64)


def test_transformer_state_dict_matches_torch():
    torch = torch_or_skip()
    ours = nn.Transformer(D, H, 2, 2, FF).state_dict()
    theirs = torch.nn.Transformer(D, H, 2, 2, FF).state_dict()
    assert list(ours) == list(theirs)
    assert [tuple(v.shape) for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]


def test_generate_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(3)
    assert m.dtype == df.float32
    np.testing.assert_array_equal(to_np(m), [[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]])
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=df.float64).dtype == df.float64


def test_encoder_gradcheck(device):
    layer = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0).to(device=device, dtype=df.float64)
    x = df.randn(3, 2, 4, dtype=df.float64, device=device, requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(3, device=device, dtype=df.float64)
    assert df.autograd.gradcheck(lambda x: layer(x, mask), (x,), fast_mode=device != "cpu")


def test_dropout_train_eval(device):
    layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.5).to(device)
    x = df.randn(L, N, D, device=device)
    layer.eval()
    a, b = to_np(layer(x)), to_np(layer(x))
    np.testing.assert_array_equal(a, b)
    ref = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0).to(device)
    ref.load_state_dict(layer.state_dict())
    assert_close(a, ref(x), atol=1e-5)
    layer.train()
    assert not np.allclose(to_np(layer(x)), a, atol=1e-3)


def test_unbatched_encoder_layer(device):
    layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0).to(device)
    x = df.randn(L, D, device=device)
    assert_close(layer(x), layer(x.unsqueeze(1))[:, 0], atol=1e-6)


def test_errors():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(D, H, activation="tanh")
    t = nn.Transformer(D, H, 1, 1, FF)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        t(df.randn(5, 3, D), df.randn(5, 2, D))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal to "
                                           "d_model"):
        t(df.randn(5, 3, D), df.randn(5, 3, D - 1))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        nn.TransformerEncoderLayer(D, H)(df.randn(5, 3, D), is_causal=True)


def test_activation_callable_is_used():
    layer = nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, activation=F.gelu)
    assert layer.activation is F.gelu
