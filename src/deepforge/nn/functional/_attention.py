"""``scaled_dot_product_attention`` and the multi-head attention forward.

Multi-head attention keeps the heads as a strided view ``(N, heads, L, head_dim)`` of the
projected ``(L*N, E)`` (or ``(N*L, E)``) rows, so the only copies are the projections' outputs
and the merge of the heads before the output projection; self-attention projects q, k and v
with one GEMM. Masks become one additive float bias broadcast against ``(N, heads, L, S)``.
"""

from __future__ import annotations

import math

import deepforge
from deepforge import Tensor

from ._activation import softmax
from ._dropout import dropout
from ._linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]

_CAUSAL: dict = {}
_NEG_INF = float("-inf")


def _causal_bias(L: int, S: int, dtype, device) -> Tensor:
    """(L, S) float bias: 0 where j <= i, -inf above the diagonal (cached)."""
    key = (L, S, dtype, str(device))
    b = _CAUSAL.get(key)
    if b is None:
        b = deepforge.full((L, S), _NEG_INF, dtype=dtype, device=device).triu(1)
        if len(_CAUSAL) > 32:
            _CAUSAL.clear()
        _CAUSAL[key] = b
    return b


def _as_bias(mask, dtype, what: str = "attn_mask", allowed: bool = False):
    """A mask as an additive float bias (None stays None): a bool mask blocks where it is True
    (MHA's masks) or, with ``allowed``, where it is False (SDPA's); a float mask is the bias."""
    if mask is None:
        return None
    if mask.dtype is deepforge.bool:
        z = deepforge.zeros(mask.shape, dtype=dtype, device=mask.device)
        return z.masked_fill(mask.logical_not() if allowed else mask, _NEG_INF)
    if not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {what} are supported")
    return mask if mask.dtype is dtype else mask.to(dtype)


def _check_sdpa(query, key, value):
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(
            "Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
            f"{query.ndim} key.dim: {key.ndim} and value.dim: {value.ndim} instead."
        )
    batch = math.prod(query.shape[:-2])
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, "
            f"{query.shape[-1]}] but got: [{batch}, {key.shape[-1]}]."
        )
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, "
            f"{key.shape[-2]}] but got: [{batch}, {value.shape[-2]}]."
        )


def _attend(q, k, v, bias, dropout_p, scale, safe):
    """softmax(q k^T * scale + bias) v; ``safe``: rows whose bias is all -inf give zeros (and
    zero gradients) instead of NaN, as PyTorch's scaled_dot_product_attention does."""
    scores = (q * scale) @ k.transpose(-2, -1)
    empty_rows = None
    if bias is not None:
        if safe:
            full = (bias == _NEG_INF).all(-1, keepdim=True)
            # on a device, asking whether there is such a row would wait for it: fill anyway
            if full._device.type != "cpu" or bool(full.any()):
                empty_rows = full
                bias = bias.masked_fill(full, 0.0)
        scores = scores + bias
    w = softmax(scores, dim=-1)
    if empty_rows is not None:
        w = w.masked_fill(empty_rows, 0.0)
    if dropout_p > 0.0:
        w = dropout(w, dropout_p, training=True)
    return w @ v, w


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale=None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(q k^T * scale + mask) v over the last two dims; a bool ``attn_mask`` marks the
    positions that take part (True), a float one is added to the scores."""
    _check_sdpa(query, key, value)
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True"
        )
    L, S = query.shape[-2], key.shape[-2]
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, -3)
        value = value.repeat_interleave(rep, -3)
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if is_causal:
        bias = _causal_bias(L, S, query.dtype, query.device)
    else:
        bias = _as_bias(attn_mask, query.dtype, allowed=True)
    return _attend(query, key, value, bias, dropout_p, s, safe=not is_causal)[0]


def _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads):
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                f"{key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError(
                "For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                f"found {key_padding_mask.ndim}-D tensor instead"
            )
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(
                "For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                f"found {attn_mask.ndim}-D tensor instead"
            )
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                f"{key.ndim}-D and {value.ndim}-D tensors respectively"
            )
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError(
                "For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D but "
                f"found {key_padding_mask.ndim}-D tensor instead"
            )
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError(
                    "For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                    f"but found {attn_mask.ndim}-D tensor instead"
                )
            if attn_mask.ndim == 3 and tuple(attn_mask.shape) != (
                num_heads,
                query.shape[0],
                key.shape[0],
            ):
                raise AssertionError(
                    f"Expected `attn_mask` shape to be {(num_heads, query.shape[0], key.shape[0])} "
                    f"but got {tuple(attn_mask.shape)}"
                )
        return False
    raise AssertionError(
        f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query "
        "tensor"
    )


def _split_heads(rows, seq, bsz, heads, batch_first):
    """(seq*bsz or bsz*seq, E) rows -> a (bsz, heads, seq, head_dim) view."""
    hd = rows.shape[-1] // heads
    if batch_first:
        return rows.reshape(bsz, seq, heads, hd).permute(0, 2, 1, 3)
    return rows.reshape(seq, bsz, heads, hd).permute(1, 2, 0, 3)


def _pad_seq(t, extra):
    """Append ``extra`` ((N, heads, 1, hd)) along the sequence dim of t (N, heads, S, hd)."""
    return deepforge.cat([t, extra], 2)


def _pad_last(mask, n):
    """``n`` zero columns appended to the last dim of mask."""
    pad = deepforge.zeros(tuple(mask.shape[:-1]) + (n,), dtype=mask.dtype, device=mask.device)
    return deepforge.cat([mask, pad], -1)


def _merge_masks(bias, kpm, n_pad, bsz, heads, L, S):
    """The attn_mask bias ((L, S') or (bsz*heads, L, S')) and the key_padding_mask bias
    ((bsz, S')), each padded with ``n_pad`` zero columns to ``S``, as one bias broadcast
    against (bsz, heads, L, S); None when there is neither."""
    if n_pad:
        bias = _pad_last(bias, n_pad) if bias is not None else None
        kpm = _pad_last(kpm, n_pad) if kpm is not None else None
    if bias is not None and bias.ndim == 3:
        bias = bias.reshape(bsz, heads, L, S)
    if kpm is not None:
        kpm = kpm.reshape(bsz, 1, 1, S)
        bias = kpm if bias is None else bias + kpm
    return bias


def _check_masks(attn_mask, key_padding_mask, bsz, heads, L, S):
    """PyTorch's checks of MHA's masks, against the sequence lengths before any padding."""
    if attn_mask is not None:
        if attn_mask.ndim == 2 and tuple(attn_mask.shape) != (L, S):
            raise RuntimeError(
                f"The shape of the 2D attn_mask is "
                f"{deepforge.Size(attn_mask.shape)}, but should be {(L, S)}."
            )
        if attn_mask.ndim == 3 and tuple(attn_mask.shape) != (bsz * heads, L, S):
            raise RuntimeError(
                f"The shape of the 3D attn_mask is "
                f"{deepforge.Size(attn_mask.shape)}, but should be "
                f"{(bsz * heads, L, S)}."
            )
    if key_padding_mask is not None:
        for d, n in enumerate((bsz, S)):
            if key_padding_mask.shape[d] != n:
                raise AssertionError(
                    f"Expected key_padded_mask.shape[{d}] to be {n}, but got "
                    f"{key_padding_mask.shape[d]}"
                )


def _project(query, key, value, heads, w_in, b_in, separate, w_q, w_k, w_v):
    """q, k, v rows (L*N, E), (S*N, E), (S*N, E): one GEMM for self-attention, two when key is
    value, three otherwise."""
    E = query.shape[-1]
    q2 = query.reshape(-1, E)
    if separate:
        b_q, b_k, b_v = b_in.chunk(3) if b_in is not None else (None, None, None)
        return (
            linear(q2, w_q, b_q),
            linear(key.reshape(-1, key.shape[-1]), w_k, b_k),
            linear(value.reshape(-1, value.shape[-1]), w_v, b_v),
        )
    if query is key and key is value:
        return linear(q2, w_in, b_in).chunk(3, -1)
    w_q, w_kv = w_in.split([E, 2 * E])
    b_q, b_kv = b_in.split([E, 2 * E]) if b_in is not None else (None, None)
    q = linear(q2, w_q, b_q)
    if key is value:
        k, v = linear(key.reshape(-1, E), w_kv, b_kv).chunk(2, -1)
        return q, k, v
    w_k, w_v = w_kv.chunk(2)
    b_k, b_v = b_kv.chunk(2) if b_kv is not None else (None, None)
    return q, linear(key.reshape(-1, E), w_k, b_k), linear(value.reshape(-1, E), w_v, b_v)


def mha_forward(
    query,
    key,
    value,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights=True,
    is_causal=False,
    batch_first=False,
    embed_dim_to_check=None,
):
    """Multi-head attention for (L, N, E) inputs, (N, L, E) with ``batch_first``, or unbatched
    (L, E); returns (output, attention weights or None)."""
    batched = _check_mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = (t.unsqueeze(1) for t in (query, key, value))
        batch_first = False
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    b_dim, s_dim = (0, 1) if batch_first else (1, 0)
    L, bsz, E = query.shape[s_dim], query.shape[b_dim], query.shape[2]
    S = key.shape[s_dim]
    if embed_dim_to_check is not None and E != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {E}"
        )
    if tuple(key.shape[:2]) != tuple(value.shape[:2]):
        raise AssertionError(
            f"key shape {deepforge.Size(key.shape)} does not match value shape "
            f"{deepforge.Size(value.shape)}"
        )
    if E % num_heads:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
            "method `generate_square_subsequent_mask` to create this mask."
        )
    _check_masks(attn_mask, key_padding_mask, bsz, num_heads, L, S)
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint stands for the mask: SDPA's causal path
    else:
        is_causal = False
    dtype, hd = query.dtype, E // num_heads
    bias = _as_bias(attn_mask, dtype)
    kpm = _as_bias(key_padding_mask, dtype, "key_padding_mask")
    q, k, v = _project(
        query,
        key,
        value,
        num_heads,
        in_proj_weight,
        in_proj_bias,
        use_separate_proj_weight,
        q_proj_weight,
        k_proj_weight,
        v_proj_weight,
    )
    q = _split_heads(q, L, bsz, num_heads, batch_first)
    k = (
        _split_heads(k, S, bsz, num_heads, batch_first)
        if static_k is None
        else static_k.reshape(bsz, num_heads, -1, hd)
    )
    v = (
        _split_heads(v, S, bsz, num_heads, batch_first)
        if static_v is None
        else static_v.reshape(bsz, num_heads, -1, hd)
    )
    extra = []
    if bias_k is not None and bias_v is not None:
        extra.append(
            (
                bias_k.reshape(1, num_heads, 1, hd).expand(bsz, num_heads, 1, hd),
                bias_v.reshape(1, num_heads, 1, hd).expand(bsz, num_heads, 1, hd),
            )
        )
    if add_zero_attn:
        z = deepforge.zeros((bsz, num_heads, 1, hd), dtype=dtype, device=q.device)
        extra.append((z, z))
    for ek, ev in extra:
        k, v = _pad_seq(k, ek), _pad_seq(v, ev)
    S = k.shape[2]
    bias = _merge_masks(bias, kpm, len(extra), bsz, num_heads, L, S)
    if is_causal:
        bias = _causal_bias(L, S, dtype, q.device)
    p = dropout_p if training else 0.0
    out, w = _attend(q, k, v, bias, p, 1.0 / math.sqrt(hd), safe=not need_weights)
    perm = (0, 2, 1, 3) if batch_first else (2, 0, 1, 3)  # -> rows in the input's order
    out = linear(out.permute(*perm).reshape(-1, E), out_proj_weight, out_proj_bias)
    out = out.reshape(bsz, L, E) if batch_first else out.reshape(L, bsz, E)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    if average_attn_weights:
        w = w.mean(1)
    return out, (w if batched else w.squeeze(0))


def multi_head_attention_forward(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights=True,
    is_causal=False,
):
    """``torch.nn.functional.multi_head_attention_forward``: (L, N, E) or unbatched (L, E)."""
    return mha_forward(**locals())  # the parameters above, by name
