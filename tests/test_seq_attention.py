"""scaled_dot_product_attention and MultiheadAttention: against numpy and PyTorch (outputs,
attention weights, gradients of inputs and parameters) over masks, causal, scale, batch_first,
kdim/vdim, add_bias_kv, add_zero_attn, unbatched input; gradcheck; dropout; errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, to_np
from seq_refs import DTYPES, compare_results, copy_to_torch, sdpa_np, torch_or_skip

import deepforge as df
import deepforge.nn as nn
import deepforge.nn.functional as F

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:torch")  # PyTorch's own notes

Q, K, V = (2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)
SDPA_CASES = {
    "plain": {},
    "bool_mask": {"mask": "bool"},
    "float_mask": {"mask": "float"},
    "bcast_mask": {"mask": "bool", "mask_shape": (3, 1, 6)},
    "causal": {"is_causal": True},
    "scale": {"scale": 0.3},
}


def _mask(case, rng):
    shape = case.get("mask_shape", (Q[-2], K[-2]))
    if case.get("mask") == "bool":
        m = rng.random(shape) < 0.7
        m[..., 0] = True  # no row fully masked (see test_sdpa_fully_masked_rows)
        return m
    if case.get("mask") == "float":
        return rng.standard_normal(shape)
    return None


@pytest.mark.parametrize("name", list(SDPA_CASES))
def test_sdpa_matches_numpy(device, name):
    case = SDPA_CASES[name]
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s) for s in (Q, K, V))
    mask = _mask(case, rng)
    t = (lambda a: df.tensor(a, device=device))
    out = F.scaled_dot_product_attention(t(q), t(k), t(v),
                                         attn_mask=None if mask is None else t(mask),
                                         is_causal=case.get("is_causal", False),
                                         scale=case.get("scale"))
    assert_close(out, sdpa_np(q, k, v, mask, case.get("scale"), case.get("is_causal", False)),
                 rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("np_dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name", list(SDPA_CASES))
def test_sdpa_matches_torch(device, np_dtype, name):
    torch = torch_or_skip()
    case = SDPA_CASES[name]
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s).astype(np_dtype) for s in (Q, K, V)]
    mask = _mask(case, rng)
    if mask is not None and mask.dtype != bool:
        mask = mask.astype(np_dtype)
    ours = [df.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    kw = dict(is_causal=case.get("is_causal", False), scale=case.get("scale"))
    out = F.scaled_dot_product_attention(
        *ours, attn_mask=None if mask is None else df.tensor(mask, device=device), **kw)
    tout = torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=None if mask is None else torch.tensor(mask), **kw)
    compare_results(nn.Module(), torch.nn.Module(), out, tout, ours, theirs, np_dtype)


def test_sdpa_fully_masked_rows(device):
    """A query row that may attend to nothing gives zeros (and zero, finite gradients)."""
    torch = torch_or_skip()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 3, 4))
    mask = np.array([[False] * 3, [True] * 3, [True, False, True]])
    ours = df.tensor(x, device=device, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out = F.scaled_dot_product_attention(ours, ours, ours, attn_mask=df.tensor(mask, device=device))
    tout = torch.nn.functional.scaled_dot_product_attention(theirs, theirs, theirs,
                                                            attn_mask=torch.tensor(mask))
    assert not to_np(out)[:, :, 0].any()
    compare_results(nn.Module(), torch.nn.Module(), out, tout, [ours], [theirs], np.float64)


@pytest.mark.parametrize("name", ["plain", "float_mask", "causal"])
def test_sdpa_gradcheck(device, name):
    case = SDPA_CASES[name]
    rng = np.random.default_rng(3)
    shapes = [(1, 2, 3, 2), (1, 2, 4, 2), (1, 2, 4, 3)]
    ins = [df.tensor(rng.standard_normal(s), device=device, requires_grad=True) for s in shapes]
    mask = df.tensor(rng.standard_normal((3, 4)), device=device) if case.get("mask") else None

    def f(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                              is_causal=case.get("is_causal", False))

    assert df.autograd.gradcheck(f, tuple(ins), fast_mode=device != "cpu")


def test_sdpa_dropout(device):
    rng = np.random.default_rng(4)
    q, k, v = (df.tensor(rng.standard_normal(s), device=device) for s in ((2, 3, 4), (2, 5, 4),
                                                                         (2, 5, 3)))
    plain = to_np(F.scaled_dot_product_attention(q, k, v))
    assert not to_np(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)).any()
    df.manual_seed(7)
    a = to_np(F.scaled_dot_product_attention(q, k, v, dropout_p=0.5))
    df.manual_seed(7)
    b = to_np(F.scaled_dot_product_attention(q, k, v, dropout_p=0.5))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain)
    mean = np.mean([to_np(F.scaled_dot_product_attention(q, k, v, dropout_p=0.5))
                    for _ in range(300)], 0)
    np.testing.assert_allclose(mean, plain, atol=0.2)  # unbiased: E[dropout(w)] = w


def test_sdpa_errors():
    x = df.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when "
                                           "is_causal=True"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=df.ones(3, 3, dtype=df.bool),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="at least 2 dimensional, but got query.dim: 1"):
        F.scaled_dot_product_attention(df.randn(4), df.randn(4), df.randn(4))
    with pytest.raises(RuntimeError, match=r"batch2 tensor to be: \[2, 4\] but got: \[2, 5\]"):
        F.scaled_dot_product_attention(x, df.randn(2, 3, 5), x)
    with pytest.raises(RuntimeError, match=r"batch2 tensor to be: \[2, 3\] but got: \[2, 6\]"):
        F.scaled_dot_product_attention(x, x, df.randn(2, 6, 4))
    with pytest.raises(RuntimeError, match="must match the size of tensor"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=df.zeros(4, 4))


# MultiheadAttention -------------------------------------------------------------------------------
E, HEADS, L, S, N = 8, 2, 4, 5, 3
MHA_CASES = [
    ("self", {}, {"self": True}),
    ("cross_masks", {}, {"attn_mask": "bool", "kpm": "bool"}),
    ("float_masks_weights_per_head", {}, {"attn_mask": "float", "kpm": "float",
                                          "average_attn_weights": False}),
    ("mask3d", {}, {"attn_mask": "3d"}),
    ("batch_first_self_masks", {"batch_first": True}, {"self": True, "attn_mask": "bool",
                                                        "kpm": "bool"}),
    ("kdim_vdim", {"kdim": 6, "vdim": 3}, {"kpm": "bool"}),
    ("bias_kv_zero_attn", {"add_bias_kv": True, "add_zero_attn": True},
     {"attn_mask": "float", "kpm": "bool"}),
    ("no_bias_no_weights", {"bias": False}, {"need_weights": False, "attn_mask": "bool"}),
    ("no_weights_self", {"batch_first": True}, {"self": True, "need_weights": False,
                                                 "kpm": "bool"}),
    ("key_is_value", {}, {"kv_same": True}),
    ("unbatched", {}, {"unbatched": True, "attn_mask": "bool", "kpm": "bool"}),
    ("causal_hint", {}, {"self": True, "causal": True, "need_weights": False}),
]


def mha_inputs(opts, iopts, rng, np_dtype):
    kd, vd = opts.get("kdim", E), opts.get("vdim", E)
    unb = iopts.get("unbatched")
    lead = (lambda n: (n,) if unb else ((N, n) if opts.get("batch_first") else (n, N)))
    q = rng.standard_normal(lead(L) + (E,)).astype(np_dtype)
    k = rng.standard_normal(lead(S) + (kd,)).astype(np_dtype)
    v = rng.standard_normal(lead(S) + (vd,)).astype(np_dtype)
    s = L if iopts.get("self") else S
    am = iopts.get("attn_mask")
    mask = None
    if am == "bool" or iopts.get("causal"):
        mask = rng.random((L, s)) < 0.3
        mask[:, 0] = False
        if iopts.get("causal"):
            mask = np.triu(np.ones((L, L), bool), 1)
    elif am == "float":
        mask = rng.standard_normal((L, s)).astype(np_dtype)
    elif am == "3d":
        mask = rng.standard_normal((N * HEADS, L, s)).astype(np_dtype)
    kpm = None
    if iopts.get("kpm"):
        kpm = np.zeros((s,) if unb else (N, s), bool)
        kpm[..., -1] = True
        if iopts["kpm"] == "float":
            kpm = np.where(kpm, -1.5, 0.0).astype(np_dtype)
    return q, k, v, mask, kpm


@pytest.mark.parametrize("np_dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name,opts,iopts", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_mha_matches_torch(device, np_dtype, name, opts, iopts):
    torch = torch_or_skip()
    rng = np.random.default_rng(5)
    m = nn.MultiheadAttention(E, HEADS, **opts).to(device=device, dtype=DTYPES[np_dtype])
    if opts.get("bias", True):  # non-zero biases, so that their gradients are checked
        with df.no_grad():
            m.in_proj_bias.copy_(df.randn(3 * E, dtype=m.in_proj_bias.dtype, device=device))
    tm = copy_to_torch(m, torch.nn.MultiheadAttention(E, HEADS, **opts).to(
        getattr(torch, np.dtype(np_dtype).name)))
    q, k, v, mask, kpm = mha_inputs(opts, iopts, rng, np_dtype)
    if iopts.get("self"):
        k = v = q
    if iopts.get("kv_same"):
        v = k
    kw = {kk: iopts[kk] for kk in ("need_weights", "average_attn_weights") if kk in iopts}
    if iopts.get("causal"):
        kw["is_causal"] = True

    def run(lib, mod, dev):
        t = (lambda a: lib.tensor(a, **dev).requires_grad_(a.dtype != bool and a.ndim > 1))
        qt = t(q)
        kt = qt if k is q else t(k)
        vt = kt if v is k else (qt if v is q else t(v))
        leaves = [x for x in {id(x): x for x in (qt, kt, vt)}.values()]
        mt = None if mask is None else lib.tensor(mask, **dev)
        kp = None if kpm is None else lib.tensor(kpm, **dev)
        return leaves, mod(qt, kt, vt, attn_mask=mt, key_padding_mask=kp, **kw)

    leaves, out = run(df, m, {"device": device})
    tleaves, tout = run(torch, tm, {})
    compare_results(m, tm, out, tout, leaves, tleaves, np_dtype)


def test_mha_gradcheck(device):
    m = nn.MultiheadAttention(4, 2, add_bias_kv=True).to(device=device, dtype=df.float64)
    x = df.randn(3, 2, 4, dtype=df.float64, device=device, requires_grad=True)
    kpm = df.tensor([[False, False, True], [False, False, False]], device=device)

    def f(x, *params):
        return m(x, x, x, key_padding_mask=kpm)[0]

    assert df.autograd.gradcheck(f, (x, *m.parameters()), fast_mode=device != "cpu")


def test_mha_dropout_train_eval(device):
    m = nn.MultiheadAttention(8, 2, dropout=0.5).to(device)
    ref = nn.MultiheadAttention(8, 2).to(device)
    ref.load_state_dict(m.state_dict())
    x = df.randn(4, 3, 8, device=device)
    m.eval()
    out, w = m(x, x, x)
    rout, rw = ref(x, x, x)
    assert_close(out, rout)
    assert_close(to_np(w).sum(-1), np.ones((3, 4)), atol=1e-5)
    m.train()
    out2, w2 = m(x, x, x, average_attn_weights=False)
    w2 = to_np(w2)
    assert (w2 == 0).any() and not np.allclose(to_np(out2), to_np(rout))
    kept = w2[w2 != 0]
    assert kept.max() > to_np(rw).max()  # kept weights are scaled by 1 / (1 - p)


def test_mha_state_dict_matches_torch():
    torch = torch_or_skip()
    for kw in ({}, {"kdim": 3, "vdim": 5}, {"add_bias_kv": True}, {"bias": False}):
        ours = nn.MultiheadAttention(8, 2, **kw).state_dict()
        theirs = torch.nn.MultiheadAttention(8, 2, **kw).state_dict()
        assert list(ours) == list(theirs)
        assert [tuple(v.shape) for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]


def test_mha_errors():
    m = nn.MultiheadAttention(8, 2)
    q, k = df.randn(5, 3, 8), df.randn(6, 3, 8)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is .*\[4, 6\]\), but "
                                           r"should be \(5, 6\)\."):
        m(q, k, k, attn_mask=df.zeros(4, 6))
    with pytest.raises(RuntimeError, match=r"The shape of the 3D attn_mask is .*\[2, 5, 6\]\), "
                                           r"but should be \(6, 5, 6\)\."):
        m(q, k, k, attn_mask=df.zeros(2, 5, 6))
    with pytest.raises(AssertionError, match="expected `attn_mask` to be `None`, 2-D or 3-D but "
                                             "found 4-D"):
        m(q, k, k, attn_mask=df.zeros(1, 2, 5, 6))
    with pytest.raises(AssertionError, match=r"Expected key_padded_mask.shape\[1\] to be 6, but "
                                             "got 5"):
        m(q, k, k, key_padding_mask=df.zeros(3, 5, dtype=df.bool))
    with pytest.raises(AssertionError, match="only bool and floating types of key_padding_mask"):
        m(q, k, k, key_padding_mask=df.zeros(3, 6, dtype=df.int64))
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        nn.MultiheadAttention(8, 0)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8, but got 7"):
        m(df.randn(5, 3, 7), k, k)
    with pytest.raises(AssertionError, match="does not match value shape"):
        m(q, k, df.randn(7, 3, 8))
    with pytest.raises(AssertionError, match="expected `key` and `value` to be 3-D but found 2-D"):
        m(q, df.randn(6, 8), df.randn(6, 8))
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D tensor "
                                             "but received 4-D"):
        m(df.randn(1, 5, 3, 8), k, k)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(q, q, q, is_causal=True)


def test_sdpa_enable_gqa_matches_torch(device):
    torch = torch_or_skip()
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s) for s in ((2, 4, 3, 5), (2, 2, 6, 5), (2, 2, 6, 3))]
    ours = [df.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = F.scaled_dot_product_attention(*ours, enable_gqa=True)
    tout = torch.nn.functional.scaled_dot_product_attention(*theirs, enable_gqa=True)
    compare_results(nn.Module(), torch.nn.Module(), out, tout, ours, theirs, np.float64)


@pytest.mark.parametrize("separate", [False, True])
def test_functional_mha_matches_torch(device, separate):
    torch = torch_or_skip()
    rng = np.random.default_rng(7)
    shapes = [(L, N, E), (S, N, E), (S, N, E), (3 * E, E), (3 * E,), (E, E), (E,), (E, E),
              (E, E), (E, E)]
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [df.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    kpm = np.zeros((N, S), bool)
    kpm[2, 0] = True

    def call(lib, t, dev):
        q, k, v, w_in, b_in, w_out, b_out, wq, wk, wv = t
        return lib.nn.functional.multi_head_attention_forward(
            q, k, v, E, HEADS, None if separate else w_in, b_in, None, None, False, 0.0, w_out,
            b_out, training=True, key_padding_mask=lib.tensor(kpm, **dev),
            use_separate_proj_weight=separate, q_proj_weight=wq, k_proj_weight=wk,
            v_proj_weight=wv)

    keep = [i for i in range(10) if (i >= 7) == separate or i in (0, 1, 2, 4, 5, 6)]
    compare_results(nn.Module(), torch.nn.Module(), call(df, ours, {"device": device}),
                    call(torch, theirs, {}), [ours[i] for i in keep], [theirs[i] for i in keep],
                    np.float64)
