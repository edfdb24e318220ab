"""The Transformer's layers: the position-wise feed-forward network, the encoder layer and the decoder layer.

Each mirrors its PyTorch counterpart (``nn.TransformerEncoderLayer``, ``nn.TransformerDecoderLayer``)
operation for operation, and ``from_torch`` copies its weights. See :mod:`seqlib.transformer`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import as_shape, check_int, check_probability, check_sequences, check_tensor
from ..attention import KVCache, MultiHeadAttention
from ..attention.masks import _check_attention_mask, _check_key_mask, _reject_torch_masks

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


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

    def _self_attention(self, x, mask, key_mask, is_causal, cache):
        out, _ = self.self_attn(x, x, x, key_mask=key_mask, mask=mask,
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
    ``batch_first`` defaults to True (the book's layout). The masks of :meth:`forward` follow the
    book (True = may attend), not PyTorch's layer (True = ignore).

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

    def forward(self, src: torch.Tensor, mask: torch.Tensor | None = None, key_mask: torch.Tensor | None = None,
                is_causal: bool = False, cache: KVCache | None = None, **torch_names) -> torch.Tensor:
        """Run the layer over a sequence (shapes for ``batch_first=True``; else swap B and S).

        Args:
            src: the input (B, S, d_model).
            mask: the attention mask, **True where attending is allowed** (the book's convention;
                PyTorch's ``src_mask`` is True where it is not), or a float mask added to the
                scores; (S, S) or (B * nhead, S, S). With a ``cache`` the keys are the cached
                positions and then the new ones.
            key_mask: (B, S), **True at the real positions** (False at padding), or a float mask;
                with a ``cache``, (B, T_past + S). PyTorch's ``src_key_padding_mask`` is its negation.
            is_causal: whether position t may attend only to positions s <= t. Unlike PyTorch's
                layer, where it is a hint that ``src_mask`` is causal, this builds the causal mask.
            cache: a :class:`seqlib.attention.KVCache` for the self-attention, for decoding one
                token at a time (in :class:`DecoderOnlyLM`): src holds the new positions only.

        Returns:
            the output (B, S, d_model).
        """
        _reject_torch_masks(torch_names, "EncoderLayer.forward")
        B, S = _check_input(src, "src", self.d_model, self.batch_first)
        T_past = _check_cache(cache, "cache", static=False)
        _check_key_mask(key_mask, "key_mask", B, T_past + S)
        _check_attention_mask(mask, "mask", B, self.nhead, S, T_past + S, "S", "T_past + S" if cache else "S")
        x = src
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), mask, key_mask, is_causal, cache)
            x = x + self.dropout2(self.feed_forward(self.norm2(x)))
        else:
            x = self.norm1(x + self._self_attention(x, mask, key_mask, is_causal, cache))
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
    :class:`EncoderLayer`, and the masks of :meth:`forward` follow the book (True = may attend).

    Attributes:
        self_attn: the self-attention, a :class:`seqlib.attention.MultiHeadAttention`.
        cross_attn: the cross-attention (PyTorch's ``multihead_attn``).
        feed_forward: the :class:`FeedForward` network.
        norm1, norm2, norm3: the ``nn.LayerNorm`` of each sub-layer.
    """

    sublayers, torch_class = 3, nn.TransformerDecoderLayer

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor | None, self_mask: torch.Tensor | None = None,
                cross_mask: torch.Tensor | None = None, tgt_key_mask: torch.Tensor | None = None,
                memory_key_mask: torch.Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False, cache: KVCache | None = None,
                memory_cache: KVCache | None = None, **torch_names) -> torch.Tensor:
        """Run the layer over the target, attending to the memory (shapes for ``batch_first=True``).

        Args:
            tgt: the target (B, T, d_model).
            memory: the encoder's output (B, S, d_model). May be None only when ``memory_cache``
                already holds its keys and values.
            self_mask: the self-attention mask, **True where attending is allowed** (PyTorch's
                ``tgt_mask`` is its negation), or float; (T, T) or (B * nhead, T, T), (T, T_past + T)
                with a ``cache``.
            cross_mask: the cross-attention mask, the same convention (PyTorch's ``memory_mask``
                negated); (T, S) or (B * nhead, T, S).
            tgt_key_mask: (B, T), **True at the real target positions**; (B, T_past + T) with a
                ``cache`` (PyTorch's ``tgt_key_padding_mask`` negated).
            memory_key_mask: (B, S), **True at the real memory positions**, False at the source's
                padding (PyTorch's ``memory_key_padding_mask`` negated).
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
        _reject_torch_masks(torch_names, "DecoderLayer.forward")
        B, T = _check_input(tgt, "tgt", self.d_model, self.batch_first)
        T_past = _check_cache(cache, "cache", static=False)
        S = _check_cache(memory_cache, "memory_cache", static=True)
        if memory is None and S == 0:
            raise ValueError("memory is needed unless memory_cache already holds its keys and values")
        if memory is not None:  # checked even when the cache has it (the cache then ignores it)
            B_memory, S = _check_input(memory, "memory", self.d_model, self.batch_first)
            if B_memory != B:
                raise ValueError(f"tgt and memory must hold the same number of sequences, got {B} and {B_memory}")
        _check_key_mask(tgt_key_mask, "tgt_key_mask", B, T_past + T)
        _check_key_mask(memory_key_mask, "memory_key_mask", B, S)
        _check_attention_mask(self_mask, "self_mask", B, self.nhead, T, T_past + T, "T", "T_past + T" if cache else "T")
        _check_attention_mask(cross_mask, "cross_mask", B, self.nhead, T, S, "T", "S")
        x = tgt
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), self_mask, tgt_key_mask, tgt_is_causal, cache)
            x = x + self._cross_attention(self.norm2(x), memory, cross_mask, memory_key_mask, memory_is_causal,
                                          memory_cache)
            x = x + self.dropout3(self.feed_forward(self.norm3(x)))
        else:
            x = self.norm1(x + self._self_attention(x, self_mask, tgt_key_mask, tgt_is_causal, cache))
            x = self.norm2(x + self._cross_attention(x, memory, cross_mask, memory_key_mask, memory_is_causal,
                                                     memory_cache))
            x = self.norm3(x + self.dropout3(self.feed_forward(x)))
        return x

    def _cross_attention(self, x, memory, mask, key_mask, is_causal, cache):
        out, _ = self.cross_attn(x, memory, memory, key_mask=key_mask, mask=mask,
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
# Checks, and loading from PyTorch
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

