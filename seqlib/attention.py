"""Attention from scratch: scaled dot products, Bahdanau's and Luong's scores, multi-head attention.

Every kind of attention here does the same three things. It scores each query against each
key, turns a query's scores into weights with a softmax over the keys it may see, and returns
the weighted average of the values::

    scores  = score(q_i, k_j)                      (B, Tq, Tk)
    weights = softmax_j(scores + mask)             each row sums to 1 over the allowed keys
    output  = weights @ V                          (B, Tq, Dv)

:func:`scaled_dot_product_attention` scores with ``q . k / sqrt(d_k)`` (Vaswani et al. 2017);
:class:`AdditiveAttention` (Bahdanau et al. 2015) and :class:`MultiplicativeAttention` (Luong
et al. 2015) are the two scores of the sequence-to-sequence models; :class:`MultiHeadAttention`
runs h scaled dot-product attentions side by side on learned projections, and carries a
:class:`KVCache` for decoding one token at a time.

**Masks.** Two opposite conventions for bool masks meet here:

- The book and :func:`scaled_dot_product_attention` (like PyTorch's
  ``F.scaled_dot_product_attention``): a bool mask is True where a query **may attend**.
  :class:`AdditiveAttention` and :class:`MultiplicativeAttention` take the book's padding mask
  (B, Tk), True at **real** keys.
- :class:`MultiHeadAttention` (like PyTorch's ``nn.MultiheadAttention``): ``key_padding_mask`` is
  True at keys to **ignore**, and a bool ``attn_mask`` is True where attending is **not allowed**.
  That is the opposite of the first convention, for parity with ``nn.MultiheadAttention``;
  the module converts internally (``allowed = ~attn_mask``).
- Float masks mean the same everywhere: they are added to the scores (``-inf`` forbids).

**A query whose keys are all masked** (a padded query under a causal and a padding mask, say)
gets zero weights and a zero output here, never NaN. A plain ``torch.softmax`` over a row of
-inf gives NaN (0/0), and so does ``nn.MultiheadAttention`` when it returns its weights (its
default, ``need_weights=True``); NaN then spreads through the whole network. PyTorch's
``F.scaled_dot_product_attention`` gave NaN too until PyTorch 2.5, which made it return zeros,
as here.

These modules are written to be read and verified, not to be fast; the tests check them against
``F.scaled_dot_product_attention`` and ``nn.MultiheadAttention`` (:meth:`MultiHeadAttention.from_torch`
copies the latter's weights).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import as_shape, check_int, check_sequences, check_tensor, check_probability
from .data.batch import lengths_to_mask
from .positions import ALiBi, RotaryPositions

__all__ = ["causal_mask", "padding_mask", "masked_softmax", "scaled_dot_product_attention",
           "AdditiveAttention", "MultiplicativeAttention", "KVCache", "MultiHeadAttention"]


# ---------------------------------------------------------------------------------------------
# Masks and the masked softmax
# ---------------------------------------------------------------------------------------------

def causal_mask(T: int, Tk: int | None = None, offset: int = 0, device=None) -> torch.Tensor:
    """The causal mask (T, Tk), True where query t may attend to key s, that is where s <= offset + t.

    With one length, ``causal_mask(T)`` is the square mask of self-attention. With ``Tk`` keys and
    an ``offset``, query t sits at position ``offset + t``: the mask of a block of queries that
    starts at ``offset`` (chunked attention, Chapter 8), or of new queries after ``offset`` cached
    keys (``Tk = offset + T``). In the book's convention (True = may attend), the one of
    ``F.scaled_dot_product_attention``. ``nn.MultiheadAttention`` and :class:`MultiHeadAttention`
    want the opposite, ``~causal_mask(T)``.
    """
    check_int(T, "T", minimum=1)
    Tk = T if Tk is None else check_int(Tk, "Tk", minimum=1)
    check_int(offset, "offset", minimum=0)
    return _causal(T, Tk, offset, device)  # (T, Tk)


def padding_mask(lengths: torch.Tensor, T: int | None = None) -> torch.Tensor:
    """lengths (B,) -> key mask (B, T), True at real keys (t < lengths[b]), the book's convention.

    The same as :func:`seqlib.data.lengths_to_mask`; pass ``~padding_mask(lengths, T)`` as the
    ``key_padding_mask`` of :class:`MultiHeadAttention` (True = ignore).
    """
    return lengths_to_mask(lengths, T)  # (B, T)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The softmax of ``scores`` over their last dimension, with masked keys given weight 0.

    Args:
        scores: the scores (..., Tq, Tk).
        mask: a bool mask, True where a query may attend (masked scores become -inf), or a float
            mask added to the scores; broadcastable to the scores' shape. None allows every key.

    Returns:
        the weights, of the scores' shape, summing to 1 over the allowed keys of each row; a row
        whose keys are all masked (all -inf) gets zeros, where ``torch.softmax`` gives NaN.
    """
    check_tensor(scores, "scores", dtype_kind="float")
    if scores.dim() < 1:
        raise ValueError(f"scores must have at least 1 dimension (the keys), got shape {as_shape(scores)}")
    if mask is not None:
        mask = _check_mask(mask, "mask", as_shape(scores), "scores (..., Tq, Tk)", "True = may attend")
        scores = _apply(scores, mask)
    return _safe_softmax(scores)


def _causal(Tq: int, Tk: int, offset: int, device) -> torch.Tensor:
    """(Tq, Tk) bool, True where key s <= offset + query t: query t sits at position offset + t.

    offset = 0 is PyTorch's top-left alignment (``torch.ones(Tq, Tk).tril()``); a decoder with
    ``offset`` cached keys uses offset = T_past, so its new queries see every cached key.
    """
    q_pos = torch.arange(Tq, device=device)[:, None] + offset  # (Tq, 1)
    k_pos = torch.arange(Tk, device=device)[None, :]  # (1, Tk)
    return k_pos <= q_pos  # (Tq, Tk)


def _apply(scores, mask):
    """scores with the mask applied: -inf where a bool mask is False, plus a float mask."""
    if mask.dtype == torch.bool:
        return scores.masked_fill(~mask, float("-inf"))  # (..., Tq, Tk)
    return scores + mask  # (..., Tq, Tk)


def _safe_softmax(scores):
    """Softmax over the last dimension; rows that are all -inf give zeros (and zero gradients), not NaN."""
    empty = torch.isneginf(scores).all(dim=-1, keepdim=True)  # (..., Tq, 1): no key allowed
    weights = torch.softmax(scores.masked_fill(empty, 0.0), dim=-1)  # finite everywhere
    return weights.masked_fill(empty, 0.0)  # (..., Tq, Tk)


def _merge(a, b):
    """Two masks in the may-attend convention (bool True = allowed, or float added) -> one, or None."""
    if a is None or b is None:
        return b if a is None else a
    if a.dtype == torch.bool and b.dtype == torch.bool:
        return a & b
    dtype = a.dtype if a.dtype != torch.bool else b.dtype
    return _to_float(a, dtype) + _to_float(b, dtype)


def _to_float(mask, dtype):
    """A bool may-attend mask as an additive one (0 where allowed, -inf where not); floats unchanged."""
    if mask.dtype != torch.bool:
        return mask.to(dtype)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))


def _broadcasts(shape, target):
    """Whether ``shape`` broadcasts to ``target`` without growing it."""
    try:
        return torch.broadcast_shapes(shape, target) == tuple(target)
    except RuntimeError:
        return False


def _check_mask(mask, name, target, target_name, meaning):
    """A bool or float mask that broadcasts to ``target`` (a shape), without growing it."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(f"{name} must be a bool tensor ({meaning}) or a float tensor (added to the scores), "
                        f"got dtype {mask.dtype}")
    if not _broadcasts(as_shape(mask), target):
        raise ValueError(f"{name} must broadcast to the shape of the {target_name} = {target}, "
                         f"got shape {as_shape(mask)}")
    return mask


# ---------------------------------------------------------------------------------------------
# Scaled dot-product attention
# ---------------------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------------------
# The scores of the sequence-to-sequence models: Bahdanau (additive) and Luong (multiplicative)
# ---------------------------------------------------------------------------------------------

class _Seq2SeqAttention(nn.Module):
    """What additive and multiplicative attention share: the checks, the masked softmax, the average.

    A subclass defines only ``score(query, keys)``, (B, Tq, Dq) and (B, Tk, Dk) -> scores (B, Tq, Tk).
    """

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        self.query_size = check_int(query_size, "query_size", minimum=1)
        self.key_size = check_int(key_size, "key_size", minimum=1)

    def forward(self, query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                mask: torch.Tensor | None = None) -> tuple:
        """Attend from each query to the keys, and average the values.

        Args:
            query: the queries (B, Tq, Dq), or one query per sequence (B, Dq) (a decoder state).
            keys: the keys (B, Tk, Dk) (the encoder's states).
            values: the values (B, Tk, Dv), often the keys themselves.
            mask: the book's mask (B, Tk), True at **real** keys, False at padding
                (the opposite of :class:`MultiHeadAttention`'s ``key_padding_mask``). None if no
                key is padding.

        Returns:
            the pair (context, weights), the context (B, Tq, Dv) and the weights (B, Tq, Tk), or
            (B, Dv) and (B, Tk) for a query of shape (B, Dq).
        """
        single = self._check(query, keys, values)
        if single:
            query = query.unsqueeze(1)  # (B, Dq) -> (B, 1, Dq)
        allowed = None
        if mask is not None:
            check_tensor(mask, "mask", dims=2, dtype_kind="bool")
            expected = (keys.shape[0], keys.shape[1])
            if as_shape(mask) != expected:
                raise ValueError(f"mask must have shape (batch, keys) = {expected}, "
                                 f"got {as_shape(mask)}")
            allowed = mask[:, None, :]  # (B, 1, Tk): True = real key
        scores = self.score(query, keys)  # (B, Tq, Tk)
        weights = masked_softmax(scores, allowed)  # (B, Tq, Tk)
        context = weights @ values  # (B, Tq, Dv)
        if single:
            return context.squeeze(1), weights.squeeze(1)  # (B, Dv), (B, Tk)
        return context, weights

    def _check(self, query, keys, values):
        """Raise a clear error unless the shapes fit; return whether the query is (B, Dq)."""
        check_tensor(query, "query", dims=(2, 3), dtype_kind="float")
        check_tensor(keys, "keys", dims=3, dtype_kind="float")
        check_tensor(values, "values", dims=3, dtype_kind="float")
        if query.shape[-1] != self.query_size:
            raise ValueError(f"query must have query_size={self.query_size} features in its last dimension, "
                             f"got {query.shape[-1]} (query has shape {as_shape(query)})")
        if keys.shape[-1] != self.key_size:
            raise ValueError(f"keys must have key_size={self.key_size} features in its last dimension, "
                             f"got {keys.shape[-1]} (keys has shape {as_shape(keys)})")
        if values.shape[:2] != keys.shape[:2]:
            raise ValueError(f"values must have one row per key, shape (batch, keys, ...) = "
                             f"{as_shape(keys)[:2] + ('Dv',)}, got {as_shape(values)}")
        if query.shape[0] != keys.shape[0]:
            raise ValueError(f"query and keys must hold the same number of sequences, got {query.shape[0]} "
                             f"and {keys.shape[0]}")
        return query.dim() == 2


class AdditiveAttention(_Seq2SeqAttention):
    """Additive attention (Bahdanau et al. 2015), a small network scores each query-key pair::

        score(q, k) = v^T tanh(W_q q + W_k k)

    ``W_q`` (H, Dq) and ``W_k`` (H, Dk) are ``nn.Linear`` layers without bias, and ``v`` (H,) is a
    vector. The query and the key may have different sizes.

    Args:
        query_size: Dq, the number of features of a query (the decoder's state).
        key_size: Dk, the number of features of a key (an encoder state).
        hidden_size: H, the width of the scoring network.

    Calling ``attention(query, keys, values, mask=None)`` returns ``(context, weights)``;
    see :meth:`forward`.
    """

    def __init__(self, query_size: int, key_size: int, hidden_size: int):
        super().__init__(query_size, key_size)
        self.hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        self.W_q = nn.Linear(query_size, hidden_size, bias=False)
        self.W_k = nn.Linear(key_size, hidden_size, bias=False)
        self.v = nn.Parameter(torch.empty(hidden_size))  # (H,)
        nn.init.uniform_(self.v, -1 / math.sqrt(hidden_size), 1 / math.sqrt(hidden_size))

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}, hidden_size={self.hidden_size}"

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """The scores v^T tanh(W_q q_i + W_k k_j), for queries (B, Tq, Dq) and keys (B, Tk, Dk) -> (B, Tq, Tk)."""
        q = self.W_q(query).unsqueeze(2)  # (B, Tq, 1, H)
        k = self.W_k(keys).unsqueeze(1)  # (B, 1, Tk, H)
        return torch.tanh(q + k) @ self.v  # (B, Tq, Tk, H) @ (H,) -> (B, Tq, Tk)


class MultiplicativeAttention(_Seq2SeqAttention):
    """Multiplicative attention (Luong et al. 2015), a bilinear score of each query-key pair::

        "dot":      score(q, k) = q^T k          (needs Dq = Dk)
        "general":  score(q, k) = q^T W k        W is (Dq, Dk)

    The scores are not scaled by 1 / sqrt(d), as in the paper; :func:`scaled_dot_product_attention`
    is the scaled dot product.

    Args:
        query_size: Dq, the number of features of a query (the decoder's state).
        key_size: Dk, the number of features of a key (an encoder state).
        kind: ``"general"`` (the default, with the learned matrix ``W``) or ``"dot"`` (no parameters).

    Calling ``attention(query, keys, values, mask=None)`` returns ``(context, weights)``;
    see :meth:`forward`.
    """

    def __init__(self, query_size: int, key_size: int, kind: str = "general"):
        super().__init__(query_size, key_size)
        if kind not in ("dot", "general"):
            raise ValueError(f"kind must be 'dot' or 'general', got {kind!r}")
        if kind == "dot" and query_size != key_size:
            raise ValueError(f"kind='dot' needs queries and keys of the same size, got query_size={query_size} "
                             f"and key_size={key_size}; use kind='general'")
        self.kind = kind
        if kind == "general":
            self.W = nn.Parameter(torch.empty(query_size, key_size))  # (Dq, Dk)
            nn.init.uniform_(self.W, -1 / math.sqrt(key_size), 1 / math.sqrt(key_size))
        else:
            self.register_parameter("W", None)

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}, kind={self.kind!r}"

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """The scores q_i^T k_j or q_i^T W k_j, for queries (B, Tq, Dq) and keys (B, Tk, Dk) -> (B, Tq, Tk)."""
        if self.kind == "general":
            query = query @ self.W  # (B, Tq, Dq) @ (Dq, Dk) -> (B, Tq, Dk)
        return query @ keys.transpose(1, 2)  # (B, Tq, Dk) @ (B, Dk, Tk) -> (B, Tq, Tk)


# ---------------------------------------------------------------------------------------------
# Multi-head attention, and its cache for decoding one token at a time
# ---------------------------------------------------------------------------------------------

class KVCache:
    """The keys and values a :class:`MultiHeadAttention` has seen, for decoding token by token.

    A decoder that generates one token at a time would recompute the keys and values of every
    earlier token at each step. With a cache, each call of the attention projects only the new
    tokens, appends their keys and values here, and attends over all of them.

    Args:
        static: False (the default) for self-attention, where every call appends its new keys
            and values. True for cross-attention, where the keys and values (the encoder's
            memory) are projected once, by the first call, and reused by the later ones.

    Attributes:
        keys: the projected keys so far (B, h, T_past, d_head), None before the first call.
        values: the projected values so far (B, h, T_past, d_head), None before the first call.
        queries: how many query positions have attended through this cache. A query's position
            (for ``is_causal`` and rotary positions) continues from there: for self-attention
            it equals the number of cached keys; for a static cache it is counted here, since
            the memory's length says nothing about how far the decoder has got.
    """

    def __init__(self, static: bool = False):
        self.static = bool(static)
        self.keys = None  # (B, h, T_past, d_head)
        self.values = None  # (B, h, T_past, d_head)
        self.queries = 0

    @property
    def length(self) -> int:
        """T_past, the number of positions stored (0 before the first call)."""
        return 0 if self.keys is None else self.keys.shape[-2]

    def append(self, keys: torch.Tensor, values: torch.Tensor) -> tuple:
        """Store new keys and values (B, h, T_new, d_head) after the old ones; return all of them.

        Returns:
            the pair (keys, values), each (B, h, T_past + T_new, d_head).
        """
        check_tensor(keys, "keys", dims=4)
        check_tensor(values, "values", dims=4)
        if keys.shape[:3] != values.shape[:3]:
            raise ValueError(f"keys and values must hold the same sequences, heads and positions (B, h, T_new), "
                             f"got keys {as_shape(keys)} and values {as_shape(values)}")
        if self.keys is None:
            self.keys, self.values = keys, values
        else:
            if keys.shape[:2] != self.keys.shape[:2] or keys.shape[-1] != self.keys.shape[-1]:
                raise ValueError(f"new keys must have shape (batch, heads, T_new, d_head) = "
                                 f"{as_shape(self.keys)[:2] + ('T_new',) + as_shape(self.keys)[3:]} to follow "
                                 f"the cached ones, got {as_shape(keys)}")
            self.keys = torch.cat([self.keys, keys], dim=2)  # (B, h, T_past + T_new, d_head)
            self.values = torch.cat([self.values, values], dim=2)  # (B, h, T_past + T_new, d_head)
        return self.keys, self.values

    def reset(self) -> None:
        """Forget every stored key and value, and the queries counted (before decoding a new batch)."""
        self.keys = self.values = None
        self.queries = 0

    def __repr__(self) -> str:
        shape = None if self.keys is None else as_shape(self.keys)
        return f"KVCache(static={self.static}, keys={shape})"


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017), the counterpart of ``torch.nn.MultiheadAttention``::

        head_i = Attention(Q W_q^i, K W_k^i, V W_v^i)        i = 1..h, each of d_head = E / h features
        output = Concat(head_1, ..., head_h) W_o

    ``W_q``, ``W_k``, ``W_v`` and ``W_o`` are ``nn.Linear(E, E)`` layers; the h heads are the h
    blocks of d_head rows of ``W_q``, ``W_k`` and ``W_v``. PyTorch stacks the first three into
    one ``in_proj_weight`` (3E, E); :meth:`from_torch` splits it. Only equal sizes for queries,
    keys and values are supported (``nn.MultiheadAttention``'s ``kdim = vdim = embed_dim``).

    **Masks follow nn.MultiheadAttention, not F.scaled_dot_product_attention.** A bool
    ``key_padding_mask`` is True at keys to **ignore**, and a bool ``attn_mask`` is True where
    attending is **not allowed**, the opposite of :func:`scaled_dot_product_attention`'s
    ``mask`` (True = may attend). So ``attn_mask=~causal_mask(T)`` and
    ``key_padding_mask=~padding_mask(lengths, T)``. Float masks are added to the scores.

    Args:
        embed_dim: E, the features of each query, key and value, and of the output.
        num_heads: h, the number of heads; E must be divisible by h.
        dropout: the probability of dropping an attention weight (training only).
        bias: whether the four projections have biases.
        batch_first: inputs and output are (B, T, E) if True (the default, the book's layout),
            (T, B, E) if False (the default of ``nn.MultiheadAttention``).
        rotary: rotate each head's queries and keys by their positions
            (:class:`seqlib.positions.RotaryPositions`, Su et al. 2021) after the projections,
            so that the scores depend on relative positions; for self-attention. PyTorch's
            module has no such option (``from_torch`` leaves it off).
        alibi: add each head's linear penalty on distance, ``-m_h |t - s|``, to its scores
            (:class:`seqlib.positions.ALiBi`, Press et al. 2022); for self-attention. PyTorch's
            module has no such option either.

    Calling ``mha(query, key, value, ...)`` returns ``(output, weights)``; see :meth:`forward`.
    With ``query``, ``key`` and ``value`` the same tensor it is self-attention; with ``key`` and
    ``value`` an encoder's output it is cross-attention.

    The initialisation is PyTorch's: ``W_q``, ``W_k``, ``W_v`` Xavier-uniform as one (3E, E)
    matrix, ``W_o`` as ``nn.Linear``, every bias 0.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = True, rotary: bool = False, alibi: bool = False):
        super().__init__()
        self.embed_dim = check_int(embed_dim, "embed_dim", minimum=1)
        self.num_heads = check_int(num_heads, "num_heads", minimum=1)
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}: each head gets "
                             f"embed_dim / num_heads features")
        check_probability(dropout, "dropout")
        self.head_dim = embed_dim // num_heads  # d_head
        if rotary and self.head_dim % 2:
            raise ValueError(f"rotary=True needs an even number of features per head (rotated in pairs), got "
                             f"embed_dim / num_heads = {embed_dim} / {num_heads} = {self.head_dim}")
        self.dropout = float(dropout)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.W_q = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.W_k = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.W_v = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.W_o = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.rotary = RotaryPositions(self.head_dim) if rotary else None  # no parameters
        self.alibi = ALiBi(num_heads) if alibi else None  # no parameters
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: W_q, W_k, W_v Xavier-uniform as one (3E, E) matrix, W_o as nn.Linear, biases 0."""
        E = self.embed_dim
        bound = math.sqrt(6 / (3 * E + E))  # Xavier's bound for the stacked (3E, E) in_proj_weight
        for layer in (self.W_q, self.W_k, self.W_v):
            nn.init.uniform_(layer.weight, -bound, bound)
        self.W_o.reset_parameters()
        if self.bias:
            for layer in (self.W_q, self.W_k, self.W_v, self.W_o):
                nn.init.zeros_(layer.bias)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"bias={self.bias}, batch_first={self.batch_first}" + (", rotary=True" if self.rotary else "")
                + (", alibi=True" if self.alibi else ""))

    def forward(self, query: torch.Tensor, key: torch.Tensor | None, value: torch.Tensor | None,
                key_padding_mask: torch.Tensor | None = None, attn_mask: torch.Tensor | None = None,
                is_causal: bool = False, need_weights: bool = True, average_attn_weights: bool = True,
                cache: KVCache | None = None) -> tuple:
        """Attend from every query to every (allowed) key, in each head, and mix the heads.

        Shapes are for ``batch_first=True``; with False, swap B and T in query, key, value and output.

        Args:
            query: the queries (B, Tq, E).
            key: the keys (B, Tk, E). May be None only with a static ``cache`` that is already filled.
            value: the values (B, Tk, E), the same positions as ``key``.
            key_padding_mask: (B, Tk), **True at keys to ignore** (padding), as in
                ``nn.MultiheadAttention``; or a float mask added to the scores. With a ``cache``
                it covers every key, the cached ones first.
            attn_mask: **True where attending is not allowed**, as in ``nn.MultiheadAttention``
                (the opposite of :func:`scaled_dot_product_attention`), or a float mask added to
                the scores; of shape (Tq, Tk), (B * h, Tq, Tk), or broadcastable to (B, h, Tq, Tk).
            is_causal: whether query t may only attend to keys s <= t. Unlike
                ``nn.MultiheadAttention``, where it is only a hint that ``attn_mask`` is causal,
                this builds the mask itself (an ``attn_mask`` given too also applies). With a
                ``cache`` holding T_past positions, query t stands at position T_past + t.
            need_weights: whether to return the attention weights (else None is returned).
            average_attn_weights: whether to average the weights over the heads.
            cache: a :class:`KVCache` for incremental decoding. The new keys and values are
                appended to it (or, for a static cache already filled, taken from it) and the
                queries attend over all of them.

        Returns:
            the pair (output, weights), the output (B, Tq, E) and the weights (B, Tq, Tk) averaged
            over the heads, or (B, h, Tq, Tk) per head, or None without ``need_weights``; Tk
            counts cached keys too.
        """
        query = self._check_input(query, "query")
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a seqlib.attention.KVCache or None, got {type(cache).__name__}")
        reuse = cache is not None and cache.static and cache.keys is not None  # cross-attention, memory cached
        if not reuse:
            key, value = self._check_input(key, "key"), self._check_input(value, "value")
        if not self.batch_first:
            query = query.transpose(0, 1)  # (Tq, B, E) -> (B, Tq, E)
            if not reuse:
                key, value = key.transpose(0, 1), value.transpose(0, 1)  # (Tk, B, E) -> (B, Tk, E)
        B, Tq, _ = query.shape
        if not reuse:
            if key.shape[0] != B or value.shape[0] != B:
                raise ValueError(f"query, key and value must hold the same number of sequences, got {B}, "
                                 f"{key.shape[0]} and {value.shape[0]}")
            if key.shape[1] != value.shape[1]:
                raise ValueError(f"key and value must have the same number of positions, got {key.shape[1]} "
                                 f"and {value.shape[1]}")

        q = self._split_heads(self.W_q(query))  # (B, h, Tq, d_head)
        offset = 0 if cache is None else cache.queries if cache.static else cache.length  # first query's position
        if self.rotary is not None:
            q = self.rotary(q, start=offset)  # each query rotated by its position
        if reuse:
            k, v = cache.keys, cache.values  # (B, h, Tk, d_head)
        else:
            k = self._split_heads(self.W_k(key))  # (B, h, Tk_new, d_head)
            v = self._split_heads(self.W_v(value))  # (B, h, Tk_new, d_head)
            if self.rotary is not None:
                k = self.rotary(k, start=offset)  # the new keys, rotated before they are cached
            if cache is not None:
                k, v = cache.append(k, v)  # (B, h, T_past + Tk_new, d_head)
        if k.shape[0] != B:
            raise ValueError(f"the cache holds keys for {k.shape[0]} sequences, but the query holds {B}")
        Tk = k.shape[2]

        mask = self._allowed(key_padding_mask, attn_mask, B, Tq, Tk, query.dtype)  # may-attend convention
        if is_causal:
            mask = _merge(mask, _causal(Tq, Tk, offset, query.device))  # (Tq, Tk) broadcasts
        if self.alibi is not None:
            mask = _merge(mask, self.alibi(Tq, Tk, offset, query.device, query.dtype))  # (h, Tq, Tk) added
        heads, weights = scaled_dot_product_attention(q, k, v, mask=mask, dropout_p=self.dropout,
                                                      training=self.training)  # (B, h, Tq, d_head), (B, h, Tq, Tk)
        if cache is not None:
            cache.queries += Tq
        concat = heads.transpose(1, 2).reshape(B, Tq, self.embed_dim)  # (B, h, Tq, d_head) -> (B, Tq, E)
        output = self.W_o(concat)  # (B, Tq, E)
        if not self.batch_first:
            output = output.transpose(0, 1)  # (B, Tq, E) -> (Tq, B, E)
        if not need_weights:
            return output, None
        return output, weights.mean(dim=1) if average_attn_weights else weights  # (B, Tq, Tk) or (B, h, Tq, Tk)

    def _split_heads(self, x):
        """(B, T, E) -> (B, h, T, d_head): head i gets features i*d_head .. (i+1)*d_head - 1."""
        B, T, _ = x.shape
        return x.view(B, T, self.num_heads, self.head_dim).transpose(1, 2)  # (B, T, h, d_head) -> (B, h, T, d_head)

    def _check_input(self, x, name):
        if x is None:
            raise ValueError(f"{name} is needed unless a static cache already holds the keys and values")
        check_sequences(x, name, self.embed_dim, "embed_dim", self.batch_first)
        return x

    def _allowed(self, key_padding_mask, attn_mask, B, Tq, Tk, dtype):
        """nn.MultiheadAttention's two masks (True = ignore / not allowed) -> one may-attend mask, or None.

        The result is bool (True = may attend) if both masks are bool, else float (added to the
        scores), and broadcasts to (B, h, Tq, Tk).
        """
        h = self.num_heads
        mask = None
        if key_padding_mask is not None:
            check_tensor(key_padding_mask, "key_padding_mask")
            if key_padding_mask.dtype != torch.bool and not key_padding_mask.is_floating_point():
                raise TypeError(f"key_padding_mask must be a bool tensor (True = ignore) or a float tensor "
                                f"(added to the scores), got dtype {key_padding_mask.dtype}")
            if as_shape(key_padding_mask) != (B, Tk):
                raise ValueError(f"key_padding_mask must have shape (batch, keys) = {(B, Tk)}, "
                                 f"got {as_shape(key_padding_mask)}")
            mask = key_padding_mask[:, None, None, :]  # (B, 1, 1, Tk)
            mask = ~mask if mask.dtype == torch.bool else mask  # True = ignore -> True = may attend
        if attn_mask is not None:
            check_tensor(attn_mask, "attn_mask")
            if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
                raise TypeError(f"attn_mask must be a bool tensor (True = not allowed) or a float tensor "
                                f"(added to the scores), got dtype {attn_mask.dtype}")
            if attn_mask.dim() == 3 and as_shape(attn_mask) == (B * h, Tq, Tk):
                attn_mask = attn_mask.view(B, h, Tq, Tk)  # PyTorch's (B*h, Tq, Tk) -> (B, h, Tq, Tk)
            elif attn_mask.dim() not in (2, 4) or not _broadcasts(as_shape(attn_mask), (B, h, Tq, Tk)):
                raise ValueError(f"attn_mask must have shape (Tq, Tk) = {(Tq, Tk)}, (batch * num_heads, Tq, Tk) = "
                                 f"{(B * h, Tq, Tk)} or broadcast to (batch, num_heads, Tq, Tk) = {(B, h, Tq, Tk)}, "
                                 f"got {as_shape(attn_mask)}")
            attn_mask = ~attn_mask if attn_mask.dtype == torch.bool else attn_mask  # True = may attend
            mask = _merge(mask, attn_mask)
        if mask is not None and mask.dtype != torch.bool:
            mask = mask.to(dtype)
        return mask

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> "MultiHeadAttention":
        """A :class:`MultiHeadAttention` with the configuration (``batch_first`` included) and a copy of the
        weights of ``module``, in the same training or evaluation mode.

        ``in_proj_weight`` (3E, E) is split into ``W_q``, ``W_k``, ``W_v`` and ``in_proj_bias`` likewise;
        ``out_proj`` becomes ``W_o``. Raises ValueError for ``kdim`` or ``vdim`` other than ``embed_dim``,
        ``add_bias_kv`` or ``add_zero_attn``.
        """
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(f"{cls.__name__}.from_torch expects a torch.nn.MultiheadAttention, "
                            f"got {type(module).__module__}.{type(module).__name__}")
        E = module.embed_dim
        if not module._qkv_same_embed_dim:
            raise ValueError(f"{cls.__name__}.from_torch needs kdim = vdim = embed_dim = {E}, "
                             f"got kdim={module.kdim}, vdim={module.vdim}")
        if module.bias_k is not None or module.add_zero_attn:
            raise ValueError(f"{cls.__name__}.from_torch does not support add_bias_kv or add_zero_attn, "
                             f"got add_bias_kv={module.bias_k is not None}, add_zero_attn={module.add_zero_attn}")
        bias = module.in_proj_bias is not None
        ours = cls(E, module.num_heads, dropout=module.dropout, bias=bias, batch_first=module.batch_first)
        ours = ours.to(device=module.in_proj_weight.device, dtype=module.in_proj_weight.dtype)
        with torch.no_grad():
            for layer, w in zip((ours.W_q, ours.W_k, ours.W_v), module.in_proj_weight.chunk(3)):  # 3 x (E, E)
                layer.weight.copy_(w)
            ours.W_o.weight.copy_(module.out_proj.weight)
            if bias:
                for layer, b in zip((ours.W_q, ours.W_k, ours.W_v), module.in_proj_bias.chunk(3)):  # 3 x (E,)
                    layer.bias.copy_(b)
                ours.W_o.bias.copy_(module.out_proj.bias)
        return ours.train(module.training)
