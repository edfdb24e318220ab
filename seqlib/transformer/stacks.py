"""Stacks of Transformer layers, :class:`Encoder` and :class:`Decoder`, and the cache for decoding one token at a time.

See :mod:`seqlib.transformer`.
"""
from __future__ import annotations

import torch
from torch import nn

from .._validate import check_int
from ..attention import KVCache
from ..attention.masks import _reject_torch_masks
from .layers import DecoderLayer, EncoderLayer, _expect, _layer_config


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
        d_model, nhead, dim_feedforward, dropout, activation, norm_first: those of every :class:`EncoderLayer`.
        layer_norm_eps, batch_first, bias, rotary, alibi: those of every :class:`EncoderLayer` too.
        final_norm: whether to apply a LayerNorm after the last layer; None (the default) means
            ``norm_first``.

    Attributes:
        layers: the ``nn.ModuleList`` of layers.
        norm: the final ``nn.LayerNorm``, or None.
    """

    Layer = EncoderLayer
    torch_class = nn.TransformerEncoder

    def forward(self, src: torch.Tensor, mask: torch.Tensor | None = None, key_mask: torch.Tensor | None = None,
                is_causal: bool = False, cache: TransformerCache | None = None, **torch_names) -> torch.Tensor:
        """Run every layer, then the final norm; the arguments are :meth:`EncoderLayer.forward`'s.

        Args:
            src: the input (B, S, d_model).
            mask: the attention mask of every layer, True where attending is allowed.
            key_mask: (B, S), True at the real positions (False at padding).
            is_causal: whether every layer's self-attention is causal.
            cache: a :class:`TransformerCache` (without cross-attention) for decoding one token
                at a time.

        Returns:
            the output (B, S, d_model).
        """
        _reject_torch_masks(torch_names, "Encoder.forward")
        _check_stack_cache(cache, len(self.layers), cross_attention=False)
        x = src
        for i, layer in enumerate(self.layers):
            x = layer(x, mask=mask, key_mask=key_mask, is_causal=is_causal,
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

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor | None, self_mask: torch.Tensor | None = None,
                cross_mask: torch.Tensor | None = None, tgt_key_mask: torch.Tensor | None = None,
                memory_key_mask: torch.Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False, cache: TransformerCache | None = None, **torch_names) -> torch.Tensor:
        """Run every layer, then the final norm; the arguments are :meth:`DecoderLayer.forward`'s.

        Args:
            tgt: the target (B, T, d_model).
            memory: the encoder's output (B, S, d_model); None only when the ``cache`` holds it.
            self_mask, cross_mask: the attention masks of every layer, True where attending is allowed.
            tgt_key_mask, memory_key_mask: (B, T) and (B, S), True at the real positions.
            tgt_is_causal, memory_is_causal: whether the self- (cross-) attention is causal.
            cache: a :class:`TransformerCache` with ``cross_attention=True``, for decoding one
                token at a time: tgt holds the new positions only.

        Returns:
            the output (B, T, d_model).
        """
        _reject_torch_masks(torch_names, "Decoder.forward")
        _check_stack_cache(cache, len(self.layers), cross_attention=True)
        x = tgt
        for i, layer in enumerate(self.layers):
            x = layer(x, memory, self_mask=self_mask, cross_mask=cross_mask, tgt_key_mask=tgt_key_mask,
                      memory_key_mask=memory_key_mask, tgt_is_causal=tgt_is_causal,
                      memory_is_causal=memory_is_causal, cache=None if cache is None else cache.self_attn[i],
                      memory_cache=None if cache is None else cache.memory[i])
        return x if self.norm is None else self.norm(x)

    @classmethod
    def from_torch(cls, module: nn.TransformerDecoder) -> "Decoder":
        """A :class:`Decoder` with a copy of every layer of ``module`` (see :meth:`DecoderLayer.from_torch`)
        and of its final ``norm`` (a LayerNorm, or None), in the same training or evaluation mode."""
        return _load_stack(cls, module)


# ---------------------------------------------------------------------------------------------
# Checks, and loading from PyTorch
# ---------------------------------------------------------------------------------------------

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

