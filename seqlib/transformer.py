"""The Transformer from its parts: feed-forward blocks, encoder and decoder layers, stacks, two models.

A Transformer layer (Vaswani et al. 2017) is a few sub-layers, each wrapped in a residual path
and a layer normalisation. The sub-layers are :class:`seqlib.attention.MultiHeadAttention` (not
re-implemented here) and a position-wise :class:`FeedForward` network::

    FFN(x) = W_2 activation(W_1 x + b_1) + b_2                     applied at every position alone

    post-norm (the 2017 original):   x = LayerNorm(x + Sublayer(x))
    pre-norm (GPT-2 and later):      x = x + Sublayer(LayerNorm(x))

An :class:`EncoderLayer` has two sub-layers, self-attention then the feed-forward network. A
:class:`DecoderLayer` has three: (usually causal) self-attention over the target, cross-attention
from the target to the encoder's output (the *memory*), then the feed-forward network. Pre-norm
(``norm_first=True``) keeps an un-normalised residual stream from input to output, which Xiong
et al. (2020) found to train stably without the learning-rate warm-up that post-norm needs; such
a stack then needs a final LayerNorm, which :class:`Encoder` and :class:`Decoder` add by default.

The layers mirror ``nn.TransformerEncoderLayer`` and ``nn.TransformerDecoderLayer`` operation for
operation (dropouts included), and ``from_torch`` copies their weights; the tests check the outputs
and the gradients.

**Masks.** The layers and stacks take PyTorch's masks, with PyTorch's meaning, so that the same
masks can be passed to both: a bool ``*_key_padding_mask`` (B, T) is True at positions to
**ignore**, and a bool ``*_mask`` (an attention mask) is True where attending is **not allowed**;
float masks are added to the scores. ``is_causal=True`` builds the causal mask itself (in PyTorch
it is only a hint that the mask passed is causal). The two models, :class:`Transformer` and
:class:`DecoderOnlyLM`, take token ids and the book's real **lengths** instead, and build the
masks internally.

**Decoding one token at a time.** Generating a sequence calls the decoder once per new token.
Without a cache each call recomputes the keys and values of every earlier token; with a
:class:`TransformerCache` each self-attention stores them (a :class:`seqlib.attention.KVCache` per
layer) and each cross-attention projects the encoder's memory once (a static cache). The
tests check that decoding with the cache gives the same logits, and the same tokens, as
recomputing the whole prefix.

Two models are assembled from these parts:

- :class:`Transformer`, the encoder-decoder of Vaswani et al. (2017) for sequence-to-sequence
  tasks, with token embeddings scaled by sqrt(d_model), sinusoidal (or learned) positions, and
  :meth:`Transformer.greedy_decode`.
- :class:`DecoderOnlyLM`, a GPT-style language model: a causal stack of pre-norm layers with no
  encoder, and :meth:`DecoderOnlyLM.generate`. Without a memory to attend to, its layer is an
  :class:`EncoderLayer` under a causal mask (PyTorch users build it from
  ``nn.TransformerEncoderLayer`` in the same way).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import (as_shape, check_int, check_lengths, check_probability, check_sequences, check_tensor,
                        check_token_ids)
from .attention import KVCache, MultiHeadAttention
from .data.batch import lengths_to_mask
from .positions import LearnedPositions, SinusoidalPositions

__all__ = ["FeedForward", "EncoderLayer", "DecoderLayer", "TransformerCache", "Encoder", "Decoder",
           "Transformer", "DecoderOnlyLM"]

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}
POSITIONS = ("sinusoidal", "learned", "rotary", "alibi", "none")  # the position encodings the two models offer


# ---------------------------------------------------------------------------------------------
# The position-wise feed-forward network
# ---------------------------------------------------------------------------------------------

class FeedForward(nn.Module):
    """The position-wise feed-forward network of a Transformer layer::

        FFN(x) = W_2 dropout(activation(W_1 x + b_1)) + b_2

    Every position is transformed alone, by the same two layers: ``W_1`` widens d_model features
    to d_ff (2048 for d_model = 512 in the paper), ``W_2`` narrows them back. The dropout inside
    is the one of ``nn.TransformerEncoderLayer``; the layers apply a second one to the output,
    before the residual sum.

    Args:
        d_model: the number of features at each position, in and out.
        d_ff: the width of the hidden layer.
        dropout: the probability of dropping a hidden unit (training only).
        activation: ``"relu"`` (the paper's) or ``"gelu"`` (GPT's, exact rather than the tanh approximation).
        bias: whether ``W_1`` and ``W_2`` have biases.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.1, activation: str = "relu", bias: bool = True):
        super().__init__()
        self.d_model = check_int(d_model, "d_model", minimum=1)
        self.d_ff = check_int(d_ff, "d_ff", minimum=1)
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be 'relu' or 'gelu', got {activation!r}")
        self.activation = activation
        self.W_1 = nn.Linear(d_model, d_ff, bias=bias)
        self.dropout = nn.Dropout(_check_dropout(dropout))
        self.W_2 = nn.Linear(d_ff, d_model, bias=bias)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, d_ff={self.d_ff}, activation={self.activation!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., d_model) -> FFN(x) (..., d_model), position by position.

        Args:
            x: the inputs, any leading shape, d_model features last.

        Returns:
            the outputs, of x's shape.
        """
        check_tensor(x, "x", dtype_kind="float")
        if x.dim() < 1 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have d_model={self.d_model} features in its last dimension, "
                             f"got shape {as_shape(x)}")
        hidden = ACTIVATIONS[self.activation](self.W_1(x))  # (..., d_ff)
        return self.W_2(self.dropout(hidden))  # (..., d_model)

    @classmethod
    def from_torch(cls, module: nn.TransformerEncoderLayer | nn.TransformerDecoderLayer) -> "FeedForward":
        """The feed-forward network of a PyTorch Transformer layer, its ``linear1`` and ``linear2``
        copied into ``W_1`` and ``W_2``, in the same training or evaluation mode."""
        _expect(module, (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer), cls.__name__)
        ours = cls(module.linear1.in_features, module.linear1.out_features, module.dropout.p,
                   _activation_name(module, cls.__name__), bias=module.linear1.bias is not None)
        ours = ours.to(device=module.linear1.weight.device, dtype=module.linear1.weight.dtype)
        with torch.no_grad():
            for ours_layer, theirs in ((ours.W_1, module.linear1), (ours.W_2, module.linear2)):
                ours_layer.weight.copy_(theirs.weight)
                if theirs.bias is not None:
                    ours_layer.bias.copy_(theirs.bias)
        return ours.train(module.training)


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------

class _Layer(nn.Module):
    """What the encoder and decoder layers share: their parts, built in PyTorch's order (so that the
    same seed gives the same initial weights), the self-attention sub-layer, and loading from PyTorch.

    A layer has ``sublayers`` sub-layers (2 for the encoder, 3 for the decoder, whose second is
    cross-attention), each with its LayerNorm ``norm{i}`` and its output dropout ``dropout{i}``.
    """

    sublayers, torch_class = 2, nn.TransformerEncoderLayer

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 batch_first: bool = True, bias: bool = True, rotary: bool = False, alibi: bool = False):
        super().__init__()
        _check_heads(d_model, nhead)
        self.d_model, self.nhead = d_model, nhead
        self.norm_first, self.batch_first = bool(norm_first), bool(batch_first)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=_check_dropout(dropout), bias=bias,
                                            batch_first=batch_first, rotary=rotary, alibi=alibi)
        if self.sublayers == 3:  # the decoder's cross-attention, never rotary nor ALiBi
            self.cross_attn = MultiHeadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.feed_forward = FeedForward(d_model, dim_feedforward, dropout, activation, bias=bias)
        for i in range(1, self.sublayers + 1):
            setattr(self, f"norm{i}", nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        for i in range(1, self.sublayers + 1):
            setattr(self, f"dropout{i}", nn.Dropout(dropout))

    def extra_repr(self) -> str:
        return f"norm_first={self.norm_first}, batch_first={self.batch_first}"

    def _self_attention(self, x, attn_mask, key_padding_mask, is_causal, cache):
        out, _ = self.self_attn(x, x, x, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                                is_causal=is_causal, need_weights=False, cache=cache)
        return self.dropout1(out)

    @classmethod
    def _from_torch(cls, module):
        _expect(module, cls.torch_class, cls.__name__)
        ours = cls(**_layer_config(module, cls.__name__))
        if cls.sublayers == 3:
            ours.cross_attn = MultiHeadAttention.from_torch(module.multihead_attn)
        return _load_layer(ours, module, norms=cls.sublayers)


class EncoderLayer(_Layer):
    """One encoder layer, self-attention then a feed-forward network, the counterpart of
    ``torch.nn.TransformerEncoderLayer``::

        post-norm:  x = LayerNorm_1(x + dropout(SelfAttention(x)))
                    x = LayerNorm_2(x + dropout(FFN(x)))
        pre-norm:   x = x + dropout(SelfAttention(LayerNorm_1(x)))
                    x = x + dropout(FFN(LayerNorm_2(x)))

    The arguments are ``nn.TransformerEncoderLayer``'s, except that ``activation`` is a name and
    ``batch_first`` defaults to True (the book's layout).

    Args:
        d_model: the number of features at each position.
        nhead: h, the number of attention heads; d_model must be divisible by it.
        dim_feedforward: the width of the feed-forward network's hidden layer.
        dropout: the probability of every dropout (attention weights, feed-forward hidden units,
            each sub-layer's output), in training only.
        activation: ``"relu"`` or ``"gelu"``, the feed-forward network's.
        norm_first: False for post-norm (the 2017 original), True for pre-norm.
        layer_norm_eps: the epsilon of the LayerNorms.
        batch_first: inputs and output are (B, T, d_model) if True, (T, B, d_model) if False.
        bias: whether the projections and the LayerNorms have biases.
        rotary: whether the self-attention rotates its queries and keys by their positions
            (rotary positions; PyTorch's layer has no such option).
        alibi: whether the self-attention adds ALiBi's linear penalty on distance to its scores
            (:class:`seqlib.positions.ALiBi`; PyTorch's layer has no such option either).

    Attributes:
        self_attn: the :class:`seqlib.attention.MultiHeadAttention`.
        feed_forward: the :class:`FeedForward` network.
        norm1, norm2: the ``nn.LayerNorm`` of each sub-layer.
    """

    sublayers, torch_class = 2, nn.TransformerEncoderLayer

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor | None = None,
                src_key_padding_mask: torch.Tensor | None = None, is_causal: bool = False,
                cache: KVCache | None = None) -> torch.Tensor:
        """Run the layer over a sequence (shapes for ``batch_first=True``; else swap B and S).

        Args:
            src: the input (B, S, d_model).
            src_mask: the attention mask, **True where attending is not allowed** (PyTorch's
                convention) or a float mask added to the scores; (S, S) or (B * nhead, S, S).
                With a ``cache`` the keys are the cached positions and then the new ones.
            src_key_padding_mask: (B, S), **True at padding** (keys to ignore), or a float mask;
                with a ``cache``, (B, T_past + S).
            is_causal: whether position t may attend only to positions s <= t. Unlike PyTorch's
                layer, where it is a hint that ``src_mask`` is causal, this builds the causal mask.
            cache: a :class:`seqlib.attention.KVCache` for the self-attention, for decoding one
                token at a time (in :class:`DecoderOnlyLM`): src holds the new positions only.

        Returns:
            the output (B, S, d_model).
        """
        B, S = _check_input(src, "src", self.d_model, self.batch_first)
        T_past = _check_cache(cache, "cache", static=False)
        _check_padding(src_key_padding_mask, "src_key_padding_mask", B, T_past + S)
        _check_attn_mask(src_mask, "src_mask", B, self.nhead, S, T_past + S, "S", "T_past + S" if cache else "S")
        x = src
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal, cache)
            x = x + self.dropout2(self.feed_forward(self.norm2(x)))
        else:
            x = self.norm1(x + self._self_attention(x, src_mask, src_key_padding_mask, is_causal, cache))
            x = self.norm2(x + self.dropout2(self.feed_forward(x)))
        return x

    @classmethod
    def from_torch(cls, module: nn.TransformerEncoderLayer) -> "EncoderLayer":
        """An :class:`EncoderLayer` with the configuration (``norm_first`` and ``batch_first`` included) and
        a copy of the weights of ``module``, in the same training or evaluation mode.

        ``self_attn`` becomes a :class:`seqlib.attention.MultiHeadAttention`, ``linear1`` and
        ``linear2`` the :class:`FeedForward`'s ``W_1`` and ``W_2``; ``norm1`` and ``norm2`` are
        copied. Raises ValueError for an activation other than ReLU or (exact) GELU.
        """
        return cls._from_torch(module)


class DecoderLayer(_Layer):
    """One decoder layer, self-attention, cross-attention to the memory, then a feed-forward network,
    the counterpart of ``torch.nn.TransformerDecoderLayer``::

        post-norm:  x = LayerNorm_1(x + dropout(SelfAttention(x)))
                    x = LayerNorm_2(x + dropout(CrossAttention(x, memory)))
                    x = LayerNorm_3(x + dropout(FFN(x)))
        pre-norm:   x = x + dropout(SelfAttention(LayerNorm_1(x)))
                    x = x + dropout(CrossAttention(LayerNorm_2(x), memory))
                    x = x + dropout(FFN(LayerNorm_3(x)))

    In the cross-attention the queries come from the target and the keys and values from the
    memory (the encoder's output), which is not normalised again. The arguments are those of
    :class:`EncoderLayer`.

    Attributes:
        self_attn: the self-attention, a :class:`seqlib.attention.MultiHeadAttention`.
        cross_attn: the cross-attention (PyTorch's ``multihead_attn``).
        feed_forward: the :class:`FeedForward` network.
        norm1, norm2, norm3: the ``nn.LayerNorm`` of each sub-layer.
    """

    sublayers, torch_class = 3, nn.TransformerDecoderLayer

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor | None, tgt_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None, tgt_key_padding_mask: torch.Tensor | None = None,
                memory_key_padding_mask: torch.Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False, cache: KVCache | None = None,
                memory_cache: KVCache | None = None) -> torch.Tensor:
        """Run the layer over the target, attending to the memory (shapes for ``batch_first=True``).

        Args:
            tgt: the target (B, T, d_model).
            memory: the encoder's output (B, S, d_model). May be None only when ``memory_cache``
                already holds its keys and values.
            tgt_mask: the self-attention mask, **True where not allowed** (PyTorch's convention)
                or float; (T, T) or (B * nhead, T, T), (T, T_past + T) with a ``cache``.
            memory_mask: the cross-attention mask, the same convention; (T, S) or (B * nhead, T, S).
            tgt_key_padding_mask: (B, T), **True at padded target positions**; (B, T_past + T)
                with a ``cache``.
            memory_key_padding_mask: (B, S), **True at padded memory positions** (the source's padding).
            tgt_is_causal: whether target position t may attend only to positions s <= t (this
                builds the causal mask; with a ``cache``, the new positions follow the cached ones).
            memory_is_causal: the same for the cross-attention (rarely wanted).
            cache: a :class:`seqlib.attention.KVCache` for the self-attention: tgt holds the new
                positions only, their keys and values are appended.
            memory_cache: a static :class:`seqlib.attention.KVCache` (``static=True``) for the
                cross-attention: the first call projects the memory, later calls reuse it.

        Returns:
            the output (B, T, d_model).
        """
        B, T = _check_input(tgt, "tgt", self.d_model, self.batch_first)
        T_past = _check_cache(cache, "cache", static=False)
        S = _check_cache(memory_cache, "memory_cache", static=True)
        if memory is None and S == 0:
            raise ValueError("memory is needed unless memory_cache already holds its keys and values")
        if memory is not None:  # checked even when the cache has it (the cache then ignores it)
            B_memory, S = _check_input(memory, "memory", self.d_model, self.batch_first)
            if B_memory != B:
                raise ValueError(f"tgt and memory must hold the same number of sequences, got {B} and {B_memory}")
        _check_padding(tgt_key_padding_mask, "tgt_key_padding_mask", B, T_past + T)
        _check_padding(memory_key_padding_mask, "memory_key_padding_mask", B, S)
        _check_attn_mask(tgt_mask, "tgt_mask", B, self.nhead, T, T_past + T, "T", "T_past + T" if cache else "T")
        _check_attn_mask(memory_mask, "memory_mask", B, self.nhead, T, S, "T", "S")
        x = tgt
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal, cache)
            x = x + self._cross_attention(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                          memory_is_causal, memory_cache)
            x = x + self.dropout3(self.feed_forward(self.norm3(x)))
        else:
            x = self.norm1(x + self._self_attention(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal, cache))
            x = self.norm2(x + self._cross_attention(x, memory, memory_mask, memory_key_padding_mask,
                                                     memory_is_causal, memory_cache))
            x = self.norm3(x + self.dropout3(self.feed_forward(x)))
        return x

    def _cross_attention(self, x, memory, attn_mask, key_padding_mask, is_causal, cache):
        out, _ = self.cross_attn(x, memory, memory, key_padding_mask=key_padding_mask, attn_mask=attn_mask,
                                 is_causal=is_causal, need_weights=False, cache=cache)
        return self.dropout2(out)

    @classmethod
    def from_torch(cls, module: nn.TransformerDecoderLayer) -> "DecoderLayer":
        """A :class:`DecoderLayer` with the configuration (``norm_first`` and ``batch_first`` included) and
        a copy of the weights of ``module``, in the same training or evaluation mode.

        ``self_attn`` and ``multihead_attn`` become :class:`seqlib.attention.MultiHeadAttention`
        modules (``self_attn`` and ``cross_attn``), ``linear1`` and ``linear2`` the
        :class:`FeedForward`'s ``W_1`` and ``W_2``; ``norm1``, ``norm2`` and ``norm3`` are copied.
        Raises ValueError for an activation other than ReLU or (exact) GELU.
        """
        return cls._from_torch(module)


# ---------------------------------------------------------------------------------------------
# Stacks of layers, and their cache
# ---------------------------------------------------------------------------------------------

class TransformerCache:
    """The key/value caches of a stack of layers, for decoding one token at a time.

    One :class:`seqlib.attention.KVCache` per layer for the self-attention, and, for a
    :class:`Decoder`, one static cache per layer for the cross-attention (the memory is projected
    by the first call and reused by the later ones). Make a new one (or :meth:`reset` it) for
    every new batch.

    Args:
        num_layers: the number of layers of the stack.
        cross_attention: whether to hold the static caches of a decoder's cross-attention.

    Attributes:
        self_attn: the list of self-attention caches, one per layer.
        memory: the list of static cross-attention caches, one per layer, or None.
    """

    def __init__(self, num_layers: int, cross_attention: bool = False):
        self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        self.self_attn = [KVCache() for _ in range(num_layers)]
        self.memory = [KVCache(static=True) for _ in range(num_layers)] if cross_attention else None

    @property
    def length(self) -> int:
        """T_past, the number of positions decoded so far (0 before the first call)."""
        return self.self_attn[0].length

    def reset(self) -> None:
        """Forget every stored key and value (before decoding a new batch)."""
        for cache in self.self_attn + (self.memory or []):
            cache.reset()

    def __repr__(self) -> str:
        return (f"TransformerCache(num_layers={self.num_layers}, cross_attention={self.memory is not None}, "
                f"length={self.length})")


class _Stack(nn.Module):
    """What the encoder and decoder stacks share: ``num_layers`` copies of ``Layer`` and a final norm."""

    Layer = EncoderLayer  # the layer of the stack
    torch_class = nn.TransformerEncoder  # the PyTorch counterpart, for from_torch

    def __init__(self, num_layers: int, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str = "relu", norm_first: bool = False, layer_norm_eps: float = 1e-5,
                 batch_first: bool = True, bias: bool = True, final_norm: bool | None = None, rotary: bool = False,
                 alibi: bool = False):
        super().__init__()
        check_int(num_layers, "num_layers", minimum=1)
        self.layers = nn.ModuleList(
            self.Layer(d_model, nhead, dim_feedforward, dropout, activation, norm_first, layer_norm_eps, batch_first,
                       bias, rotary=rotary, alibi=alibi) for _ in range(num_layers))
        final_norm = norm_first if final_norm is None else final_norm
        self.norm = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias) if final_norm else None


class Encoder(_Stack):
    """A stack of ``num_layers`` :class:`EncoderLayer` (and a final LayerNorm), the counterpart of
    ``torch.nn.TransformerEncoder``.

    Each layer reads the previous one's output; all get the same masks. A pre-norm stack leaves
    its residual stream un-normalised, so it ends with a LayerNorm; a post-norm stack already
    ends with one (nn.Transformer adds a final norm to both).

    Args:
        num_layers: the number of layers.
        d_model, nhead, dim_feedforward, dropout, activation, norm_first, layer_norm_eps, batch_first, bias, rotary,
            alibi: those of every :class:`EncoderLayer`.
        final_norm: whether to apply a LayerNorm after the last layer; None (the default) means
            ``norm_first``.

    Attributes:
        layers: the ``nn.ModuleList`` of layers.
        norm: the final ``nn.LayerNorm``, or None.
    """

    Layer = EncoderLayer
    torch_class = nn.TransformerEncoder

    def forward(self, src: torch.Tensor, mask: torch.Tensor | None = None,
                src_key_padding_mask: torch.Tensor | None = None, is_causal: bool = False,
                cache: TransformerCache | None = None) -> torch.Tensor:
        """Run every layer, then the final norm; the arguments are :meth:`EncoderLayer.forward`'s.

        Args:
            src: the input (B, S, d_model).
            mask: the attention mask of every layer (``src_mask``), True where not allowed.
            src_key_padding_mask: (B, S), True at padding.
            is_causal: whether every layer's self-attention is causal.
            cache: a :class:`TransformerCache` (without cross-attention) for decoding one token
                at a time.

        Returns:
            the output (B, S, d_model).
        """
        _check_stack_cache(cache, len(self.layers), cross_attention=False)
        x = src
        for i, layer in enumerate(self.layers):
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal,
                      cache=None if cache is None else cache.self_attn[i])
        return x if self.norm is None else self.norm(x)

    @classmethod
    def from_torch(cls, module: nn.TransformerEncoder) -> "Encoder":
        """An :class:`Encoder` with a copy of every layer of ``module`` (see :meth:`EncoderLayer.from_torch`)
        and of its final ``norm`` (a LayerNorm, or None), in the same training or evaluation mode."""
        return _load_stack(cls, module)


class Decoder(_Stack):
    """A stack of ``num_layers`` :class:`DecoderLayer` (and a final LayerNorm), the counterpart of
    ``torch.nn.TransformerDecoder``.

    Every layer attends to the same memory, the encoder's final output. The arguments are those
    of :class:`Encoder`, for :class:`DecoderLayer`.

    Attributes:
        layers: the ``nn.ModuleList`` of layers.
        norm: the final ``nn.LayerNorm``, or None.
    """

    Layer = DecoderLayer
    torch_class = nn.TransformerDecoder

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor | None, tgt_mask: torch.Tensor | None = None,
                memory_mask: torch.Tensor | None = None, tgt_key_padding_mask: torch.Tensor | None = None,
                memory_key_padding_mask: torch.Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False, cache: TransformerCache | None = None) -> torch.Tensor:
        """Run every layer, then the final norm; the arguments are :meth:`DecoderLayer.forward`'s.

        Args:
            tgt: the target (B, T, d_model).
            memory: the encoder's output (B, S, d_model); None only when the ``cache`` holds it.
            tgt_mask, memory_mask: the attention masks of every layer, True where not allowed.
            tgt_key_padding_mask, memory_key_padding_mask: (B, T) and (B, S), True at padding.
            tgt_is_causal, memory_is_causal: whether the self- (cross-) attention is causal.
            cache: a :class:`TransformerCache` with ``cross_attention=True``, for decoding one
                token at a time: tgt holds the new positions only.

        Returns:
            the output (B, T, d_model).
        """
        _check_stack_cache(cache, len(self.layers), cross_attention=True)
        x = tgt
        for i, layer in enumerate(self.layers):
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                      memory_is_causal=memory_is_causal, cache=None if cache is None else cache.self_attn[i],
                      memory_cache=None if cache is None else cache.memory[i])
        return x if self.norm is None else self.norm(x)

    @classmethod
    def from_torch(cls, module: nn.TransformerDecoder) -> "Decoder":
        """A :class:`Decoder` with a copy of every layer of ``module`` (see :meth:`DecoderLayer.from_torch`)
        and of its final ``norm`` (a LayerNorm, or None), in the same training or evaluation mode."""
        return _load_stack(cls, module)


# ---------------------------------------------------------------------------------------------
# Models: the encoder-decoder Transformer and a decoder-only language model
# ---------------------------------------------------------------------------------------------

class _Embedding(nn.Module):
    """Token ids (B, T) -> dropout(sqrt(d_model) * E[x] + PE[start:start + T]) (B, T, d_model).

    The table is initialised N(0, 1/d_model), so that the scaled embeddings have unit variance
    (as fairseq does). Id 0 is padding: its row is zero and never trained.
    """

    def __init__(self, vocab_size, d_model, positions, max_len, dropout, nhead):
        super().__init__()
        self.vocab_size = check_int(vocab_size, "vocab_size", minimum=1)
        self.d_model = d_model
        self.table = nn.Embedding(vocab_size, d_model, padding_idx=0)
        nn.init.normal_(self.table.weight, std=d_model ** -0.5)
        with torch.no_grad():
            self.table.weight[0].zero_()
        self.positions = _make_positions(positions, d_model, max_len, nhead)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens, start=0):
        x = self.table(tokens) * math.sqrt(self.d_model)  # (B, T, d_model)
        return self.dropout(self.positions(x, start=start))  # (B, T, d_model)


class Transformer(nn.Module):
    """The encoder-decoder Transformer of Vaswani et al. (2017), from token ids to logits::

        memory = Encoder(dropout(sqrt(d_model) * E_src[src] + PE))                 (B, S, d_model)
        logits = W_out Decoder(dropout(sqrt(d_model) * E_tgt[tgt_in] + PE), memory)   (B, T, tgt_vocab)

    The decoder's self-attention is causal; padded source positions are hidden from the encoder's
    self-attention and from the decoder's cross-attention. Token id 0 is padding (its embedding is
    zero). The embeddings are initialised N(0, 1/d_model), so that scaled by sqrt(d_model) they
    have unit variance, the scale of the sinusoidal positions. Every other parameter keeps
    PyTorch's initialisation of its layer. The source and the target have embedding tables of their
    own (the paper shares one between them and the output layer, with a shared vocabulary).

    Args:
        src_vocab: the size of the source vocabulary.
        tgt_vocab: the size of the target vocabulary.
        d_model: the number of features at each position (512 in the paper).
        nhead: the number of attention heads (8).
        num_encoder_layers: the number of encoder layers (6).
        num_decoder_layers: the number of decoder layers (6).
        dim_feedforward: the width of the feed-forward networks (2048).
        dropout: the probability of every dropout (0.1), the embeddings' included.
        norm_first: post-norm (False, the paper's) or pre-norm layers; the stacks end with a
            LayerNorm when pre-norm.
        positions: ``"sinusoidal"`` (the paper's), ``"learned"`` (a table of ``max_len`` rows
            each for the source and the target), ``"rotary"`` (queries and keys of every
            self-attention rotated; cross-attention is left alone), ``"alibi"`` (every
            self-attention's scores lowered in proportion to distance, on both sides in the
            encoder) or ``"none"``.
        max_len: the longest sequence a learned table can encode (sinusoids are precomputed for
            it, and computed on the spot past it).
        activation: ``"relu"`` (the paper's) or ``"gelu"``.

    Attributes:
        src_embedding, tgt_embedding: the token embeddings with their positions.
        encoder: the :class:`Encoder`.
        decoder: the :class:`Decoder`.
        W_out: the ``nn.Linear(d_model, tgt_vocab)`` read-out of the logits.
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 norm_first: bool = False, positions: str = "sinusoidal", max_len: int = 512,
                 activation: str = "relu"):
        super().__init__()
        check_int(src_vocab, "src_vocab", minimum=1)
        check_int(tgt_vocab, "tgt_vocab", minimum=1)
        _check_heads(d_model, nhead)
        self.src_vocab, self.tgt_vocab, self.d_model = src_vocab, tgt_vocab, d_model
        self.src_embedding = _Embedding(src_vocab, d_model, positions, max_len, _check_dropout(dropout), nhead)
        self.tgt_embedding = _Embedding(tgt_vocab, d_model, positions, max_len, dropout, nhead)
        layer_args = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                          activation=activation, norm_first=norm_first, rotary=positions == "rotary",
                          alibi=positions == "alibi")
        self.encoder = Encoder(num_encoder_layers, **layer_args)
        self.decoder = Decoder(num_decoder_layers, **layer_args)
        self.W_out = nn.Linear(d_model, tgt_vocab)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor, src_lengths: torch.Tensor | None = None,
                tgt_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The logits of every next target token, given the source and the target so far (teacher forcing).

        Args:
            src: the source token ids (B, S), padded with 0.
            tgt_in: the decoder's input ids (B, T): the target shifted right, starting with BOS.
            src_lengths: the real lengths of the sources (B,) (the book's convention); None if
                none is padded.
            tgt_lengths: the real lengths of the decoder's inputs (B,); None if none is padded.
                Under the causal mask, padding at the end never reaches a real position anyway.

        Returns:
            the logits (B, T, tgt_vocab); row t scores the token that follows ``tgt_in[:, :t + 1]``.
        """
        memory = self.encode(src, src_lengths)  # (B, S, d_model)
        return self.decode(tgt_in, memory, src_lengths, tgt_lengths)  # (B, T, tgt_vocab)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder's output, the memory the decoder attends to.

        Args:
            src: the source token ids (B, S), padded with 0.
            src_lengths: their real lengths (B,), or None if none is padded.

        Returns:
            the memory (B, S, d_model); its padded positions hold values that nothing attends to.
        """
        check_token_ids(src, self.src_vocab, "src", vocab_name="src_vocab", min_len=1)
        padding = _padding_mask(src_lengths, "src_lengths", *src.shape, src.device)  # (B, S): True at padding
        return self.encoder(self.src_embedding(src), src_key_padding_mask=padding)  # (B, S, d_model)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_lengths: torch.Tensor | None = None,
               tgt_lengths: torch.Tensor | None = None, cache: TransformerCache | None = None) -> torch.Tensor:
        """The logits of the next target tokens, given the memory (causal self-attention).

        Args:
            tgt_in: the decoder's input ids (B, T); with a ``cache``, the new tokens only.
            memory: the encoder's output (B, S, d_model), from :meth:`encode`.
            src_lengths: the real lengths of the sources (B,), or None if none is padded.
            tgt_lengths: the real lengths of the decoder's inputs (B,), or None; not with a ``cache``.
            cache: a :class:`TransformerCache` with ``cross_attention=True`` (one per batch), for
                decoding one token at a time: the new tokens take positions T_past, T_past + 1, ...

        Returns:
            the logits (B, T, tgt_vocab).
        """
        check_token_ids(tgt_in, self.tgt_vocab, "tgt_in", vocab_name="tgt_vocab", min_len=1)
        check_tensor(memory, "memory", dims=3, dtype_kind="float")
        memory_padding = _padding_mask(src_lengths, "src_lengths", memory.shape[0], memory.shape[1],
                                       memory.device)  # (B, S)
        if cache is not None and tgt_lengths is not None:
            raise ValueError("tgt_lengths cannot be combined with a cache: decoding token by token has no padding")
        tgt_padding = _padding_mask(tgt_lengths, "tgt_lengths", *tgt_in.shape, tgt_in.device)  # (B, T): True at padding
        start = 0 if cache is None else cache.length
        x = self.tgt_embedding(tgt_in, start=start)  # (B, T, d_model)
        x = self.decoder(x, memory, tgt_key_padding_mask=tgt_padding, memory_key_padding_mask=memory_padding,
                         tgt_is_causal=True, cache=cache)  # (B, T, d_model)
        return self.W_out(x)  # (B, T, tgt_vocab)

    def greedy_decode(self, src: torch.Tensor, src_lengths: torch.Tensor | None, bos_id: int, eos_id: int,
                      max_len: int = 50, use_cache: bool = True) -> torch.Tensor:
        """Translate by always choosing the most likely next token, one token at a time.

        The decoder starts from BOS; each step appends the arg-max of the last logits, until every
        sequence has produced EOS or ``max_len`` tokens. Call ``model.eval()`` first (dropout
        would otherwise be active); no gradients are kept.

        Args:
            src: the source token ids (B, S), padded with 0.
            src_lengths: their real lengths (B,), or None if none is padded.
            bos_id: the id the decoder starts from.
            eos_id: the id that ends a sequence.
            max_len: the most tokens to generate per sequence, EOS included.
            use_cache: whether to keep the keys and values of earlier steps (a
                :class:`TransformerCache`) and feed only the newest token, or to recompute the
                whole prefix at every step (slower, the same tokens).

        Returns:
            the generated ids (B, L) with L <= max_len, without BOS; each row ends with its EOS and
            is padded with 0 after it (a row without EOS ran out of ``max_len``).
        """
        check_int(bos_id, "bos_id", minimum=0, maximum=self.tgt_vocab - 1)
        check_int(eos_id, "eos_id", minimum=0, maximum=self.tgt_vocab - 1)
        check_int(max_len, "max_len", minimum=1)
        _check_room(self.tgt_embedding.positions, max_len, f"greedy_decode with max_len={max_len}")
        with torch.no_grad():
            memory = self.encode(src, src_lengths)  # (B, S, d_model)
            B = src.shape[0]
            tokens = torch.full((B, 1), bos_id, dtype=torch.long, device=src.device)  # (B, 1): BOS
            finished = torch.zeros(B, dtype=torch.bool, device=src.device)  # (B,)
            cache = TransformerCache(len(self.decoder.layers), cross_attention=True) if use_cache else None
            for _ in range(max_len):
                new = tokens[:, -1:] if use_cache else tokens  # (B, 1) or (B, t + 1)
                logits = self.decode(new, memory, src_lengths, cache=cache)[:, -1]  # (B, tgt_vocab)
                next_token = logits.argmax(dim=-1).masked_fill(finished, 0)  # (B,): padding once finished
                tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (B, t + 2)
                finished |= next_token == eos_id
                if finished.all():
                    break
        return tokens[:, 1:]  # (B, L): without BOS


class DecoderOnlyLM(nn.Module):
    """A decoder-only (GPT-style) language model: every position predicts the next token::

        x      = dropout(sqrt(d_model) * E[tokens] + P)                 (B, T, d_model)
        x      = LayerNorm(Encoder(x, causal))                          pre-norm layers, then a final norm
        logits = W_out x                                                (B, T, vocab_size)

    Without an encoder there is nothing to cross-attend to, so each layer is an
    :class:`EncoderLayer` under a causal mask (self-attention and a feed-forward network), as
    in GPT. The embeddings are scaled and initialised as in :class:`Transformer`; token id 0
    has a zero embedding (the book's padding), and padding at the end of a sequence never
    changes the logits of the real positions before it.

    Args:
        vocab_size: V, the number of token ids.
        d_model: the number of features at each position.
        nhead: the number of attention heads.
        num_layers: the number of layers.
        dim_feedforward: the width of the feed-forward networks.
        dropout: the probability of every dropout, the embeddings' included.
        norm_first: pre-norm (True, the default, as GPT-2) or post-norm layers; the stack ends
            with a LayerNorm when pre-norm.
        positions: ``"learned"`` (the default, as GPT), ``"sinusoidal"``, ``"rotary"`` (each
            layer's queries and keys rotated by their positions, as in LLaMA), ``"alibi"``
            (each head's scores lowered in proportion to distance, as in BLOOM) or ``"none"``
            (only the causal mask tells positions apart).
        max_len: the number of rows of a learned position table, the longest context.
        activation: ``"gelu"`` (the default, as GPT) or ``"relu"``.

    Attributes:
        embedding: the token embedding with its positions.
        layers: the :class:`Encoder` stack, run with a causal mask.
        W_out: the ``nn.Linear(d_model, vocab_size)`` read-out of the logits.
    """

    def __init__(self, vocab_size: int, d_model: int = 512, nhead: int = 8, num_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, norm_first: bool = True,
                 positions: str = "learned", max_len: int = 512, activation: str = "gelu"):
        super().__init__()
        check_int(vocab_size, "vocab_size", minimum=1)
        _check_heads(d_model, nhead)
        self.vocab_size, self.d_model = vocab_size, d_model
        self.embedding = _Embedding(vocab_size, d_model, positions, max_len, _check_dropout(dropout), nhead)
        self.layers = Encoder(num_layers, d_model, nhead, dim_feedforward, dropout, activation, norm_first,
                              rotary=positions == "rotary", alibi=positions == "alibi")
        self.W_out = nn.Linear(d_model, vocab_size)

    def forward(self, x: torch.Tensor, cache: TransformerCache | None = None) -> torch.Tensor:
        """The logits of the next token at every position (causal: position t sees tokens 0..t only).

        Args:
            x: the token ids (B, T); with a ``cache``, the new tokens only.
            cache: a :class:`TransformerCache` (one per batch) for generating one token at a time:
                the new tokens take positions T_past, T_past + 1, ... and attend to the cached ones.

        Returns:
            the logits (B, T, vocab_size); row t scores the token that follows ``x[:, :t + 1]``.
        """
        check_token_ids(x, self.vocab_size, min_len=1)
        start = 0 if cache is None else cache.length
        h = self.embedding(x, start=start)  # (B, T, d_model)
        h = self.layers(h, is_causal=True, cache=cache)  # (B, T, d_model)
        return self.W_out(h)  # (B, T, vocab_size)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The self-attention weights of every layer and head, for inspection (the forward pass does not keep them).

        Args:
            x: the token ids (B, T).

        Returns:
            the weights, of shape (num_layers, B, nhead, T, T); entry [l, b, h, t, s] is how much
            position t attends to position s in head h of layer l, and each row sums to 1 over s <= t.
        """
        check_token_ids(x, self.vocab_size, min_len=1)
        weights = []
        with torch.no_grad():
            h = self.embedding(x)  # (B, T, d_model)
            for layer in self.layers.layers:
                a = layer.norm1(h) if layer.norm_first else h  # the self-attention's input
                _, w = layer.self_attn(a, a, a, is_causal=True, average_attn_weights=False)  # (B, nhead, T, T)
                weights.append(w)
                h = layer(h, is_causal=True)  # (B, T, d_model)
        return torch.stack(weights)  # (num_layers, B, nhead, T, T)

    def generate(self, prompt: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, greedy: bool = False,
                 generator: torch.Generator | None = None, use_cache: bool = True) -> torch.Tensor:
        """Continue the prompt by ``max_new_tokens`` tokens, each drawn from the model's next-token distribution.

        Each step samples from softmax(logits / temperature) of the last position (or takes the
        arg-max if ``greedy``) and appends it. Call ``model.eval()`` first (dropout would otherwise
        be active); no gradients are kept.

        Args:
            prompt: the token ids to continue (B, T0), T0 >= 1.
            max_new_tokens: how many tokens to add.
            temperature: divides the logits before the softmax; below 1 sharpens the distribution,
                above 1 flattens it. Must be positive (ignored if ``greedy``).
            greedy: take the most likely token instead of sampling.
            generator: the ``torch.Generator`` of the samples, for reproducible draws.
            use_cache: whether to keep the keys and values of earlier positions (a
                :class:`TransformerCache`) and feed only the newest token, or to recompute the
                whole sequence at every step (slower, the same tokens).

        Returns:
            the prompt followed by the new tokens, (B, T0 + max_new_tokens).
        """
        check_token_ids(prompt, self.vocab_size, "prompt", min_len=1)
        check_int(max_new_tokens, "max_new_tokens", minimum=0)
        if not greedy and (isinstance(temperature, bool) or not isinstance(temperature, (int, float))
                           or not temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        needed = prompt.shape[1] + max_new_tokens - 1  # the last new token is never fed back
        _check_room(self.embedding.positions, needed,
                    f"a prompt of length {prompt.shape[1]} and max_new_tokens={max_new_tokens}")
        tokens = prompt
        cache = TransformerCache(len(self.layers.layers)) if use_cache else None
        with torch.no_grad():
            for step in range(max_new_tokens):
                new = tokens[:, -1:] if use_cache and step > 0 else tokens  # (B, 1), or the whole sequence
                logits = self(new, cache=cache)[:, -1]  # (B, V): the last position's
                if greedy:
                    next_token = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
                else:
                    scaled = logits / temperature  # (B, V)
                    if not torch.isfinite(scaled).all():  # a temperature so small that the logits overflow
                        raise ValueError(f"temperature={temperature!r} is too small: logits / temperature "
                                         f"overflow {scaled.dtype}; use greedy=True for the limit of 0")
                    probs = torch.softmax(scaled, dim=-1)  # (B, V)
                    next_token = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
                tokens = torch.cat([tokens, next_token], dim=1)  # (B, T + 1)
        return tokens


# ---------------------------------------------------------------------------------------------
# Checks and loading helpers
# ---------------------------------------------------------------------------------------------

def _check_heads(d_model, nhead):
    check_int(d_model, "d_model", minimum=1)
    check_int(nhead, "nhead", minimum=1)
    if d_model % nhead:
        raise ValueError(f"d_model={d_model} must be divisible by nhead={nhead}: each head gets d_model / nhead "
                         f"features")


def _check_dropout(p):
    check_probability(p, "dropout")
    return float(p)


def _make_positions(kind, d_model, max_len, nhead):
    """The module that adds positions to the embeddings, and whether attention rotates instead."""
    check_int(max_len, "max_len", minimum=1)
    if kind == "sinusoidal":
        if d_model % 2:
            raise ValueError(f"positions='sinusoidal' needs an even d_model (sines and cosines in pairs), "
                             f"got d_model={d_model}")
        return SinusoidalPositions(d_model, max_len)
    if kind == "learned":
        return LearnedPositions(max_len, d_model)
    if kind == "rotary":
        if (d_model // nhead) % 2:
            raise ValueError(f"positions='rotary' needs an even number of features per head (rotated in pairs), "
                             f"got d_model / nhead = {d_model} / {nhead} = {d_model // nhead}")
        return _NoPositions()
    if kind in ("alibi", "none"):
        return _NoPositions()
    raise ValueError(f"positions must be one of {POSITIONS}, got {kind!r}")


class _NoPositions(nn.Module):
    """Adds nothing: for ``positions="none"``, and for ``"rotary"`` and ``"alibi"``, where attention rotates or
    biases its scores instead."""

    def forward(self, x, start=0):
        return x


def _check_room(positions, needed, what):
    """A learned table must have a row for each of ``needed`` positions."""
    if isinstance(positions, LearnedPositions) and needed > positions.max_len:
        raise ValueError(f"{what} needs a sequence of length {needed}, longer than the learned position table "
                         f"(max_len={positions.max_len})")


def _padding_mask(lengths, name, B, T, device=None):
    """The book's lengths (B,) -> PyTorch's key padding mask (B, T) on ``device`` (the tokens'), True at
    padding; None for None."""
    if lengths is None:
        return None
    lengths = check_lengths(lengths, B, T, name, device=device)  # each in [1, T]
    return ~lengths_to_mask(lengths, T)  # (B, T): True at padding


def _check_input(x, name, d_model, batch_first):
    """x (B, T, d_model), or (T, B, d_model) if not batch_first -> (B, T)."""
    return check_sequences(x, name, d_model, "d_model", batch_first)


def _check_cache(cache, name, static):
    """A KVCache of the right kind, or None -> the number of positions it holds."""
    if cache is None:
        return 0
    if not isinstance(cache, KVCache):
        raise TypeError(f"{name} must be a seqlib.attention.KVCache or None, got {type(cache).__name__}")
    if cache.static != static:
        raise ValueError(f"{name} must be a KVCache with static={static}, got static={cache.static}")
    return cache.length


def _check_stack_cache(cache, num_layers, cross_attention):
    if cache is None:
        return
    if not isinstance(cache, TransformerCache):
        raise TypeError(f"cache must be a seqlib.transformer.TransformerCache or None, got {type(cache).__name__}")
    if cache.num_layers != num_layers:
        raise ValueError(f"cache must hold one cache per layer: expected {num_layers} layers, got {cache.num_layers}")
    if cross_attention and cache.memory is None:
        raise ValueError("a Decoder needs a TransformerCache(num_layers, cross_attention=True), got one without "
                         "cross-attention caches")


def _check_padding(mask, name, B, T):
    if mask is None:
        return
    check_tensor(mask, name)
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(f"{name} must be a bool tensor (True = padding) or a float tensor (added to the scores), "
                        f"got dtype {mask.dtype}")
    if as_shape(mask) != (B, T):
        raise ValueError(f"{name} must have shape (batch, keys) = {(B, T)}, got {as_shape(mask)}")


def _check_attn_mask(mask, name, B, nhead, Tq, Tk, q, k):
    """PyTorch's attention mask: (Tq, Tk) or (B * nhead, Tq, Tk), bool (True = not allowed) or float."""
    if mask is None:
        return
    check_tensor(mask, name)
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(f"{name} must be a bool tensor (True = not allowed) or a float tensor (added to the "
                        f"scores), got dtype {mask.dtype}")
    if as_shape(mask) not in ((Tq, Tk), (B * nhead, Tq, Tk)):
        raise ValueError(f"{name} must have shape ({q}, {k}) = {(Tq, Tk)} or (batch * nhead, {q}, {k}) = "
                         f"{(B * nhead, Tq, Tk)}, got {as_shape(mask)}")


def _expect(module, torch_classes, ours):
    torch_classes = torch_classes if isinstance(torch_classes, tuple) else (torch_classes,)
    if not isinstance(module, torch_classes):
        want = " or ".join(f"torch.nn.{c.__name__}" for c in torch_classes)
        raise TypeError(f"{ours}.from_torch expects a {want}, got {type(module).__module__}.{type(module).__name__}")


def _activation_name(module, ours):
    """PyTorch's layer activation (a function or a module) -> 'relu' or 'gelu'."""
    activation = module.activation
    if activation is F.relu or isinstance(activation, nn.ReLU):
        return "relu"
    if activation is F.gelu or (isinstance(activation, nn.GELU) and activation.approximate == "none"):
        return "gelu"
    raise ValueError(f"{ours}.from_torch supports the activations relu and gelu (exact), got {activation!r}")


def _layer_config(module, ours):
    """The constructor arguments of our layer for a PyTorch encoder or decoder layer."""
    return dict(d_model=module.self_attn.embed_dim, nhead=module.self_attn.num_heads,
                dim_feedforward=module.linear1.out_features, dropout=module.dropout.p,
                activation=_activation_name(module, ours), norm_first=module.norm_first,
                layer_norm_eps=module.norm1.eps, batch_first=module.self_attn.batch_first,
                bias=module.linear1.bias is not None)


def _load_layer(ours, module, norms):
    """Copy a PyTorch layer's self-attention, feed-forward network and ``norms`` LayerNorms into ours."""
    ours.self_attn = MultiHeadAttention.from_torch(module.self_attn)
    ours.feed_forward = FeedForward.from_torch(module)
    weight = module.linear1.weight
    ours = ours.to(device=weight.device, dtype=weight.dtype)
    for i in range(1, norms + 1):
        getattr(ours, f"norm{i}").load_state_dict(getattr(module, f"norm{i}").state_dict())
    return ours.train(module.training)


def _load_stack(cls, module):
    """An Encoder or Decoder with a copy of the layers and the final norm of a PyTorch stack."""
    _expect(module, cls.torch_class, cls.__name__)
    first = module.layers[0]
    config = _layer_config(first, cls.__name__)
    ours = cls(len(module.layers), **config, final_norm=module.norm is not None)
    ours.layers = nn.ModuleList(cls.Layer.from_torch(layer) for layer in module.layers)
    if module.norm is not None:
        if not isinstance(module.norm, nn.LayerNorm):
            raise ValueError(f"{cls.__name__}.from_torch supports a final norm that is an nn.LayerNorm or None, "
                             f"got {type(module.norm).__name__}")
        ours.norm = nn.LayerNorm(module.norm.normalized_shape, eps=module.norm.eps,
                                 elementwise_affine=module.norm.elementwise_affine,
                                 bias=module.norm.bias is not None)
        ours.norm.load_state_dict(module.norm.state_dict())
    weight = first.linear1.weight
    return ours.to(device=weight.device, dtype=weight.dtype).train(module.training)
