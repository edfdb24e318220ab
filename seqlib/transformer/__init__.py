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

**Masks.** The layers and stacks take the book's masks (see :mod:`seqlib.attention`): a bool
key mask (``key_mask``, ``tgt_key_mask``, ``memory_key_mask``; (B, T)) is True at the **real**
positions, and a bool attention mask (``mask``, ``self_mask``, ``cross_mask``) is True where
attending is **allowed**; float masks are added to the scores. PyTorch's layers take the
negations under other names (``src_key_padding_mask``, ``tgt_mask``, ...); those names raise a
TypeError here that says which to pass instead. ``is_causal=True`` builds the causal mask itself (in PyTorch
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

# The package's files, one idea each: layers.py (the feed-forward network, the encoder and decoder
# layers), stacks.py (Encoder, Decoder and their cache), models.py (the two models). Everything
# public is imported here, so ``seqlib.transformer.DecoderOnlyLM`` and the rest keep their names;
# ACTIVATIONS and POSITIONS name the choices the constructors accept.
from .layers import ACTIVATIONS, DecoderLayer, EncoderLayer, FeedForward
from .models import POSITIONS, DecoderOnlyLM, Transformer
from .stacks import Decoder, Encoder, TransformerCache

__all__ = ["FeedForward", "EncoderLayer", "DecoderLayer", "TransformerCache", "Encoder", "Decoder",
           "Transformer", "DecoderOnlyLM"]
