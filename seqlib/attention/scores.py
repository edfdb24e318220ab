"""The scores of the sequence-to-sequence models: Bahdanau's additive and Luong's multiplicative attention.

See :mod:`seqlib.attention`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .._validate import as_shape, check_int, check_tensor
from .masks import masked_softmax


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
            mask: the book's mask (B, Tk), True at **real** keys, False at padding (like
                :class:`MultiHeadAttention`'s ``key_mask``). None if no key is padding.

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

