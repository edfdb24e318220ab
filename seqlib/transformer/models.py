"""The two models built from the parts: the encoder-decoder :class:`Transformer` and the
decoder-only language model :class:`DecoderOnlyLM`, with their token embeddings and positions.

See :mod:`seqlib.transformer`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .._validate import check_int, check_lengths, check_tensor, check_token_ids
from ..data.batch import lengths_to_mask
from ..positions import LearnedPositions, SinusoidalPositions
from .layers import _check_dropout, _check_heads
from .stacks import Decoder, Encoder, TransformerCache, _check_stack_cache

POSITIONS = ("sinusoidal", "learned", "rotary", "alibi", "none")  # the position encodings the two models offer


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
        logits = W_out Decoder(dropout(sqrt(d_model) * E_tgt[tgt_in] + PE), memory)   (B, T, tgt_vocab_size)

    The decoder's self-attention is causal; padded source positions are hidden from the encoder's
    self-attention and from the decoder's cross-attention. Token id 0 is padding (its embedding is
    zero). The embeddings are initialised N(0, 1/d_model), so that scaled by sqrt(d_model) they
    have unit variance, the scale of the sinusoidal positions. Every other parameter keeps
    PyTorch's initialisation of its layer. The source and the target have embedding tables of their
    own (the paper shares one between them and the output layer, with a shared vocabulary).

    Args:
        src_vocab_size: the size of the source vocabulary.
        tgt_vocab_size: the size of the target vocabulary.
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
        W_out: the ``nn.Linear(d_model, tgt_vocab_size)`` read-out of the logits.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 norm_first: bool = False, positions: str = "sinusoidal", max_len: int = 512,
                 activation: str = "relu"):
        super().__init__()
        check_int(src_vocab_size, "src_vocab_size", minimum=1)
        check_int(tgt_vocab_size, "tgt_vocab_size", minimum=1)
        _check_heads(d_model, nhead)
        self.src_vocab_size, self.tgt_vocab_size, self.d_model = src_vocab_size, tgt_vocab_size, d_model
        self.src_embedding = _Embedding(src_vocab_size, d_model, positions, max_len, _check_dropout(dropout), nhead)
        self.tgt_embedding = _Embedding(tgt_vocab_size, d_model, positions, max_len, dropout, nhead)
        layer_args = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                          activation=activation, norm_first=norm_first, rotary=positions == "rotary",
                          alibi=positions == "alibi")
        self.encoder = Encoder(num_encoder_layers, **layer_args)
        self.decoder = Decoder(num_decoder_layers, **layer_args)
        self.W_out = nn.Linear(d_model, tgt_vocab_size)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor | None, tgt_in: torch.Tensor,
                tgt_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The logits of every next target token, given the source and the target so far (teacher forcing).

        The arguments come in :class:`seqlib.seq2seq.Seq2Seq`'s order, so that the two translators
        train and decode through the same code (:func:`seqlib.seq2seq.teacher_forcing_pairs`).

        Args:
            src: the source token ids (B, S), padded with 0.
            src_lengths: the real lengths of the sources (B,) (the book's convention); None if
                none is padded.
            tgt_in: the decoder's input ids (B, T): the target shifted right, starting with BOS.
            tgt_lengths: the real lengths of the decoder's inputs (B,); None if none is padded.
                Under the causal mask, padding at the end never reaches a real position anyway.

        Returns:
            the logits (B, T, tgt_vocab_size); row t scores the token that follows ``tgt_in[:, :t + 1]``.
        """
        memory = self.encode(src, src_lengths)  # (B, S, d_model)
        return self.decode(tgt_in, memory, src_lengths, tgt_lengths)  # (B, T, tgt_vocab_size)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder's output, the memory the decoder attends to.

        Args:
            src: the source token ids (B, S), padded with 0.
            src_lengths: their real lengths (B,), or None if none is padded.

        Returns:
            the memory (B, S, d_model); its padded positions hold values that nothing attends to.
        """
        check_token_ids(src, self.src_vocab_size, "src", vocab_name="src_vocab_size", min_len=1)
        real = _key_mask(src_lengths, "src_lengths", *src.shape, src.device)  # (B, S): True at real tokens
        return self.encoder(self.src_embedding(src), key_mask=real)  # (B, S, d_model)

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
            the logits (B, T, tgt_vocab_size).
        """
        check_token_ids(tgt_in, self.tgt_vocab_size, "tgt_in", vocab_name="tgt_vocab_size", min_len=1)
        check_tensor(memory, "memory", dims=3, dtype_kind="float")
        memory_real = _key_mask(src_lengths, "src_lengths", memory.shape[0], memory.shape[1],
                                memory.device)  # (B, S): True at real source tokens
        if cache is not None and tgt_lengths is not None:
            raise ValueError("tgt_lengths cannot be combined with a cache: decoding token by token has no padding")
        tgt_real = _key_mask(tgt_lengths, "tgt_lengths", *tgt_in.shape, tgt_in.device)  # (B, T): True at real tokens
        start = 0 if cache is None else cache.length
        x = self.tgt_embedding(tgt_in, start=start)  # (B, T, d_model)
        x = self.decoder(x, memory, tgt_key_mask=tgt_real, memory_key_mask=memory_real,
                         tgt_is_causal=True, cache=cache)  # (B, T, d_model)
        return self.W_out(x)  # (B, T, tgt_vocab_size)

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
        check_int(bos_id, "bos_id", minimum=0, maximum=self.tgt_vocab_size - 1)
        check_int(eos_id, "eos_id", minimum=0, maximum=self.tgt_vocab_size - 1)
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
                logits = self.decode(new, memory, src_lengths, cache=cache)[:, -1]  # (B, tgt_vocab_size)
                next_token = logits.argmax(dim=-1).masked_fill(finished, 0)  # (B,): padding once finished
                tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (B, t + 2)
                finished |= next_token == eos_id
                if finished.all():
                    break
        return tokens[:, 1:]  # (B, L): without BOS


class DecoderOnlyLM(nn.Module):
    """A decoder-only (GPT-style) language model: every position predicts the next token::

        x      = dropout(sqrt(d_model) * E[tokens] + P)                 (B, T, d_model)
        x      = layer_l(x, causal)          l = 1..num_layers          pre-norm layers
        x      = LayerNorm(x)                                           the final norm (pre-norm only)
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
        layers: the ``nn.ModuleList`` of :class:`EncoderLayer`, each run with a causal mask.
        norm: the final ``nn.LayerNorm`` (pre-norm), or None (post-norm).
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
        stack = Encoder(num_layers, d_model, nhead, dim_feedforward, dropout, activation, norm_first,
                        rotary=positions == "rotary", alibi=positions == "alibi")
        self.layers, self.norm = stack.layers, stack.norm  # one level: model.layers[l], model.norm (built as Encoder builds them)
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
        _check_stack_cache(cache, len(self.layers), cross_attention=False)
        start = 0 if cache is None else cache.length
        h = self.embedding(x, start=start)  # (B, T, d_model)
        for l, layer in enumerate(self.layers):
            h = layer(h, is_causal=True, cache=None if cache is None else cache.self_attn[l])  # (B, T, d_model)
        if self.norm is not None:
            h = self.norm(h)  # (B, T, d_model)
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
            for layer in self.layers:
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
        cache = TransformerCache(len(self.layers)) if use_cache else None
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
# Positions, checks
# ---------------------------------------------------------------------------------------------

def _make_positions(kind, d_model, max_len, nhead):
    """The module that adds positions to the embeddings, and whether attention rotates instead."""
    check_int(max_len, "max_len", minimum=1)
    if kind == "sinusoidal":
        if d_model % 2:
            raise ValueError(f"positions='sinusoidal' needs an even d_model (sines and cosines in pairs), "
                             f"got d_model={d_model}")
        return SinusoidalPositions(d_model, max_len)
    if kind == "learned":
        return LearnedPositions(d_model, max_len)
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


def _key_mask(lengths, name, B, T, device=None):
    """The book's lengths (B,) -> the key mask (B, T) on ``device`` (the tokens'), True at the real
    positions; None for None."""
    if lengths is None:
        return None
    lengths = check_lengths(lengths, B, T, name, device=device)  # each in [1, T]
    return lengths_to_mask(lengths, T)  # (B, T): True at real positions

