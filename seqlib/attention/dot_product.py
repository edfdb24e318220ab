"""Scaled dot-product attention, softmax(Q K^T / sqrt(d_k) + mask) V, with its weights.

See :mod:`seqlib.attention`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._validate import as_shape, check_tensor, check_probability
from .masks import _causal, _check_mask, _merge, masked_softmax


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None,
                                 is_causal: bool = False, dropout_p: float = 0.0, training: bool = False,
                                 scale: float | None = None) -> tuple:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + mask) V, returning the weights too.

    The counterpart of ``torch.nn.functional.scaled_dot_product_attention`` (whose ``attn_mask``
    is our ``mask``), computed step by step, which also returns the attention weights, for
    inspection. A query row whose keys are all masked gets zero weights and a zero output, as
    in PyTorch's function since PyTorch 2.5 (before, it returned NaN there, as a plain softmax
    does). ``mask`` and ``is_causal`` may be given together (both apply); PyTorch's function
    refuses that.

    Args:
        q: the queries (..., Tq, d_k).
        k: the keys (..., Tk, d_k); its leading dimensions broadcast with q's.
        v: the values (..., Tk, d_v).
        mask: a bool mask, True where query i **may attend** to key j (PyTorch's convention for
            ``F.scaled_dot_product_attention``, the opposite of ``nn.MultiheadAttention``'s), or
            a float mask added to the scores (-inf forbids); broadcastable to (..., Tq, Tk).
        is_causal: whether query i may only attend to keys j <= i (the top-left aligned lower
            triangle when Tq != Tk, as in PyTorch).
        dropout_p: the probability of dropping an attention weight, in training only.
        training: whether dropout is active.
        scale: the factor applied to q . k; 1 / sqrt(d_k) if None.

    Returns:
        the pair (output, weights), the output (..., Tq, d_v) and the weights (..., Tq, Tk) that
        made it (after dropout, as PyTorch's modules return them).
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(t, name, dtype_kind="float")
        if t.dim() < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., positions, features), "
                             f"got shape {as_shape(t)}")
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"k must have the same last dimension d_k as q: expected {q.shape[-1]}, got {k.shape[-1]} "
                         f"(q has shape {as_shape(q)}, k has shape {as_shape(k)})")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"v must have one row per key: expected Tk={k.shape[-2]} positions, got {v.shape[-2]} "
                         f"(k has shape {as_shape(k)}, v has shape {as_shape(v)})")
    check_probability(dropout_p, "dropout_p")
    Tq, Tk = q.shape[-2], k.shape[-2]
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., Tq, Tk)
    if mask is not None:
        mask = _check_mask(mask, "mask", as_shape(scores), "scores (..., Tq, Tk)", "True = may attend")
    if is_causal:
        mask = _merge(mask, _causal(Tq, Tk, 0, q.device))  # (Tq, Tk) broadcasts
    weights = masked_softmax(scores, mask)  # (..., Tq, Tk)
    if dropout_p > 0 and training:
        weights = F.dropout(weights, p=dropout_p, training=True)
    return weights @ v, weights  # (..., Tq, d_v), (..., Tq, Tk)

