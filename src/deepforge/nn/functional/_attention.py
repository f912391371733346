"""``scaled_dot_product_attention`` and the multi-head attention forward."""

from __future__ import annotations

import math

import deepforge
from deepforge import Tensor

from ._activation import softmax
from ._dropout import dropout
from ._linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _causal_mask(L: int, S: int, device) -> Tensor:
    return deepforge.ones(L, S, dtype=deepforge.bool, device=device).tril()


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale=None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q k^T * scale + mask) v over the last two dims; a bool mask marks allowed positions."""
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value must be at least 2-D")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(
            f"scaled_dot_product_attention: query's embedding size {query.shape[-1]} must equal "
            f"key's {key.shape[-1]}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(
            f"scaled_dot_product_attention: key has {key.shape[-2]} positions but value has {value.shape[-2]}"
        )
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True")
    L, S = query.shape[-2], key.shape[-2]
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, -3)
        value = value.repeat_interleave(rep, -3)
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.transpose(-2, -1)) * s
    if is_causal:
        attn_mask = _causal_mask(L, S, query.device)
    if attn_mask is not None:
        try:
            deepforge.broadcast_shapes(tuple(attn_mask.shape), tuple(scores.shape))
        except RuntimeError:
            raise RuntimeError(
                f"scaled_dot_product_attention: attn_mask of shape {list(attn_mask.shape)} does not "
                f"broadcast to the attention weights' shape {list(scores.shape)}"
            ) from None
        if attn_mask.dtype is deepforge.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
    weights = softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True)
    return weights @ value


def _merge_masks(attn_mask, key_padding_mask, bsz, num_heads, L, S, dtype, device):
    """One float mask (bsz*heads, L, S) or (L, S) from MHA's bool/float masks (True = blocked)."""
    mask = None
    if attn_mask is not None:
        if attn_mask.dtype is deepforge.bool:
            m = deepforge.zeros(attn_mask.shape, dtype=dtype, device=device).masked_fill(attn_mask, float("-inf"))
        else:
            m = attn_mask.to(dtype)
        if m.ndim == 2:
            if tuple(m.shape) != (L, S):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {deepforge.Size(m.shape)}, but should be {(L, S)}."
                )
            m = m.unsqueeze(0)
        elif m.ndim == 3:
            if tuple(m.shape) != (bsz * num_heads, L, S):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {deepforge.Size(m.shape)}, but should be {(bsz * num_heads, L, S)}."
                )
        else:
            raise RuntimeError(f"attn_mask's dimension {m.ndim} is not supported")
        mask = m
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, S):
            raise RuntimeError(
                f"expecting key_padding_mask shape of {(bsz, S)}, but got {deepforge.Size(key_padding_mask.shape)}"
            )
        if key_padding_mask.dtype is deepforge.bool:
            kp = deepforge.zeros((bsz, S), dtype=dtype, device=device).masked_fill(key_padding_mask, float("-inf"))
        else:
            kp = key_padding_mask.to(dtype)
        kp = kp.reshape(bsz, 1, 1, S).expand(bsz, num_heads, 1, S).reshape(bsz * num_heads, 1, S)
        mask = kp if mask is None else mask + kp
    return mask


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
                                 out_proj_weight, out_proj_bias, training=True, key_padding_mask=None,
                                 need_weights=True, attn_mask=None, use_separate_proj_weight=False,
                                 q_proj_weight=None, k_proj_weight=None, v_proj_weight=None,
                                 static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """``torch.nn.functional.multi_head_attention_forward`` for (L, N, E) inputs (or unbatched (L, E))."""
    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, bsz, E = query.shape
    if E != embed_dim_to_check:
        raise RuntimeError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {E}")
    if key.shape[0] != value.shape[0] or key.shape[1] != value.shape[1]:
        raise RuntimeError(f"key shape {list(key.shape)} does not match value shape {list(value.shape)}")
    head_dim = E // num_heads
    if head_dim * num_heads != E:
        raise RuntimeError(f"embed_dim {E} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        attn_mask = ~_causal_mask(L, key.shape[0], query.device)
    if not use_separate_proj_weight:
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    else:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    else:
        b_q = b_k = b_v = None
    q = linear(query, w_q, b_q)
    k = linear(key, w_k, b_k)
    v = linear(value, w_v, b_v)
    if bias_k is not None and bias_v is not None:
        k = deepforge.cat([k, bias_k.reshape(1, 1, E).expand(1, bsz, E)])
        v = deepforge.cat([v, bias_v.reshape(1, 1, E).expand(1, bsz, E)])
        if attn_mask is not None:
            attn_mask = _pad_last(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)
    # (L, N, E) -> (N*heads, L, head_dim)
    q = q.reshape(L, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        z = deepforge.zeros((bsz * num_heads, 1, head_dim), dtype=k.dtype, device=k.device)
        k = deepforge.cat([k, z], 1)
        v = deepforge.cat([v, z], 1)
        if attn_mask is not None:
            attn_mask = _pad_last(attn_mask)
        if key_padding_mask is not None:
            key_padding_mask = _pad_last(key_padding_mask)
    S = k.shape[1]
    mask = _merge_masks(attn_mask, key_padding_mask, bsz, num_heads, L, S, q.dtype, q.device)
    scores = (q * (1.0 / math.sqrt(head_dim))) @ k.transpose(1, 2)
    if mask is not None:
        scores = scores + mask
    weights = softmax(scores, dim=-1)
    if dropout_p > 0.0 and training:
        weights = dropout(weights, dropout_p, training=True)
    out = weights @ v  # (N*heads, L, head_dim)
    out = out.transpose(0, 1).reshape(L * bsz, E)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(L, bsz, E)
    if not batched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    w = weights.reshape(bsz, num_heads, L, S)
    if average_attn_weights:
        w = w.mean(1)
    if not batched:
        w = w.squeeze(0)
    return out, w


def _pad_last(mask):
    pad = deepforge.zeros(tuple(mask.shape[:-1]) + (1,), dtype=mask.dtype, device=mask.device)
    return deepforge.cat([mask, pad], -1)
