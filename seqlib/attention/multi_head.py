"""Multi-head attention, the counterpart of ``nn.MultiheadAttention``, and its cache for decoding one token at a time.

See :mod:`seqlib.attention`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .._validate import as_shape, check_int, check_sequences, check_tensor, check_probability
from ..positions import ALiBi, RotaryPositions
from .dot_product import scaled_dot_product_attention
from .masks import _causal, _check_attention_mask, _check_key_mask, _merge, _reject_torch_masks


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

    **Masks follow the book, like every mask in seqlib**: a bool ``key_mask`` (B, Tk) is True at
    the real keys, and a bool ``mask`` is True where a query **may attend**, as in
    :func:`scaled_dot_product_attention`; so ``mask=causal_mask(T)`` and
    ``key_mask=padding_mask(lengths, T)``. Float masks are added to the scores. PyTorch's
    ``nn.MultiheadAttention`` names its masks ``key_padding_mask`` and ``attn_mask`` and gives
    their bool values the opposite meaning (True = ignore, True = not allowed); passing those names
    here raises a TypeError that says so, and for parity ``key_mask=~key_padding_mask``.

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
        alibi: add each head's linear penalty on distance, ``-m_i |t - s|``, to its scores
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
                key_mask: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                is_causal: bool = False, need_weights: bool = True, average_attn_weights: bool = True,
                cache: KVCache | None = None, **torch_names) -> tuple:
        """Attend from every query to every (allowed) key, in each head, and mix the heads.

        Shapes are for ``batch_first=True``; with False, swap B and T in query, key, value and output.

        Args:
            query: the queries (B, Tq, E).
            key: the keys (B, Tk, E). May be None only with a static ``cache`` that is already filled.
            value: the values (B, Tk, E), the same positions as ``key``.
            key_mask: (B, Tk), **True at the real keys** (False at padding), or a float mask added
                to the scores. With a ``cache`` it covers every key, the cached ones first.
            mask: **True where a query may attend to a key**, as in
                :func:`scaled_dot_product_attention`, or a float mask added to the scores; of
                shape (Tq, Tk), (B * h, Tq, Tk), or broadcastable to (B, h, Tq, Tk).
            is_causal: whether query t may only attend to keys s <= t. Unlike
                ``nn.MultiheadAttention``, where it is only a hint that ``attn_mask`` is causal,
                this builds the mask itself (a ``mask`` given too also applies). With a
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
        _reject_torch_masks(torch_names, "MultiHeadAttention.forward")
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

        mask = self._allowed(key_mask, mask, B, Tq, Tk, query.dtype)  # (B, h, Tq, Tk) broadcastable, or None
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

    def _allowed(self, key_mask, mask, B, Tq, Tk, dtype):
        """The key mask and the attention mask (both True = may attend) -> one mask, or None.

        The result is bool if both masks are bool, else float (added to the scores), and
        broadcasts to (B, h, Tq, Tk).
        """
        key_mask = _check_key_mask(key_mask, "key_mask", B, Tk)
        mask = _check_attention_mask(mask, "mask", B, self.num_heads, Tq, Tk)
        if key_mask is not None:
            key_mask = key_mask[:, None, None, :]  # (B, 1, 1, Tk)
        mask = _merge(key_mask, mask)
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

