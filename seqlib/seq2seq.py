"""Sequence to sequence: the LSTM encoder-decoder (Sutskever et al. 2014), with optional attention.

An encoder LSTM reads the source; a decoder LSTM writes the target one token at a time, each
step reading the token written before it. Without attention the decoder starts from the
encoder's final state and sees nothing else of the source: one state of ``hidden_size``
numbers must carry the whole sentence, the **bottleneck**. With attention the decoder also
looks back at every encoder state at every step (Bahdanau et al. 2015; Luong et al. 2015).

**The design with attention** is Luong et al.'s, with their *input feeding*, for all three
scores (``"additive"`` is Bahdanau's score used inside Luong's step, not Bahdanau's decoder).
At step t, with ``y_{t-1}`` the previous target token and ``h~_0 = 0``::

    x_t        = [embed(y_{t-1}); h~_{t-1}]              input feeding: the last attentional state
    h_t        = LSTM(x_t, state_{t-1})                  the decoder's top-layer state (B, H)
    c_t, a_t   = attention(h_t, memory, memory, mask)    a_t (B, S): weights over the real source positions
    h~_t       = tanh(W_c [c_t; h_t])                    the attentional hidden state (B, H)
    logits_t   = W_out h~_t                              (B, V)

Without attention, ``x_t = embed(y_{t-1})`` and ``logits_t = W_out h_t``. Both decoders start
from the encoder's final state (h and c, layer by layer).

**Teacher forcing and greedy decoding.** In training (:meth:`Seq2Seq.forward`) the decoder reads
the reference: ``tgt_in`` is the target without its last token, and the loss compares the
logits with the target without its first token (``<bos>``); :func:`teacher_forcing_pairs`
prepares such data for :func:`seqlib.train.fit`. At test time (:meth:`Seq2Seq.greedy_decode`)
it reads its own previous choice, the arg-max. Both run the same decoder step, so fed its own
outputs, teacher forcing gives the logits greedy decoding chose from.

**One interface for every translator.** :class:`Seq2Seq` and :class:`seqlib.transformer.Transformer`
are called the same way: ``model(src, src_lengths, tgt_in)`` gives the teacher-forced logits, and
``model.greedy_decode(src, src_lengths, bos_id, eos_id, max_len)`` the written ids (B, T_out).
So :func:`teacher_forcing_pairs` with :func:`seqlib.train.fit`, and :func:`sequence_accuracy`,
serve both, and any encoder-decoder with that interface.

**Padding.** The encoder is PyTorch's ``nn.LSTM`` over a packed batch, so source padding never
enters a state, and attention gives padded source positions weight 0. The decoder runs step by
step (``nn.LSTM`` on one step at a time), since with input feeding each step needs the last.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ._validate import as_shape, check_int, check_lengths, check_probability, check_tensor, check_token_ids
from .attention import AdditiveAttention, MultiplicativeAttention
from .data.batch import SeqData, batches, lengths_to_mask
from .data.tasks import IGNORE
from .data.vocab import BOS, EOS

__all__ = ["Seq2Seq", "TeacherForcingData", "teacher_forcing_pairs", "sequence_accuracy",
           "ATTENTION_KINDS"]

ATTENTION_KINDS = ("additive", "general", "dot")  # Bahdanau's score; Luong's "general" and "dot" scores


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------

class Seq2Seq(nn.Module):
    """An LSTM encoder-decoder, without attention (the bottleneck) or with it (Luong's input feeding).

    Args:
        src_vocab_size: the number of source token ids (id 0 = padding).
        tgt_vocab_size: V, the number of target token ids (id 0 = padding), the width of the logits.
        embed_dim: E, the size of the source and target embeddings.
        hidden_size: H, the size of the decoder's state (and of each encoder direction's).
        attention: None (no attention: the bottleneck), ``"additive"`` (Bahdanau's score
            ``v^T tanh(W_q h + W_k s)``), ``"general"`` (Luong's ``h^T W s``) or ``"dot"``
            (Luong's ``h^T s``). The step is Luong's in every case (see the module's docstring).
        num_layers: the number of stacked LSTM layers, in the encoder and in the decoder.
        dropout: the probability of dropping a feature of the embeddings, between stacked LSTM
            layers, and before the output layer (in training only).
        bidirectional_encoder: whether the encoder reads the source in both directions. Its two
            final states (per layer) are then projected to the decoder's size,
            ``h_0 = tanh(W_h [h_fwd; h_bwd])`` and ``c_0 = W_c0 [c_fwd; c_bwd]``, and so are its
            outputs, ``memory = W_m [h_fwd_s; h_bwd_s]``, so every score sees keys of size H.

    Calling ``model(src, src_lengths, tgt_in)`` returns the teacher-forced logits (B, T, V);
    see :meth:`forward`. :meth:`greedy_decode` writes a translation; :meth:`encode` runs the
    encoder alone.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_dim: int = 32, hidden_size: int = 64,
                 attention: str | None = None, num_layers: int = 1, dropout: float = 0.0,
                 bidirectional_encoder: bool = False):
        super().__init__()
        self.src_vocab_size = check_int(src_vocab_size, "src_vocab_size", minimum=2)
        self.tgt_vocab_size = check_int(tgt_vocab_size, "tgt_vocab_size", minimum=2)
        self.embed_dim = check_int(embed_dim, "embed_dim", minimum=1)
        self.hidden_size = H = check_int(hidden_size, "hidden_size", minimum=1)
        self.num_layers = check_int(num_layers, "num_layers", minimum=1)
        if attention is not None and attention not in ATTENTION_KINDS:
            raise ValueError(f"attention must be None or one of {', '.join(repr(k) for k in ATTENTION_KINDS)}, "
                             f"got {attention!r}")
        check_probability(dropout, "dropout")
        self.attention_kind, self.dropout = attention, float(dropout)
        self.bidirectional_encoder = bool(bidirectional_encoder)
        between = self.dropout if num_layers > 1 else 0.0  # nn.LSTM drops only between layers

        self.src_embed = nn.Embedding(src_vocab_size, embed_dim, padding_idx=0)
        self.encoder = nn.LSTM(embed_dim, H, num_layers=num_layers, dropout=between, batch_first=True,
                               bidirectional=self.bidirectional_encoder)
        if self.bidirectional_encoder:
            self.W_h = nn.Linear(2 * H, H)  # [h_fwd; h_bwd] -> the decoder's h_0
            self.W_c0 = nn.Linear(2 * H, H)  # [c_fwd; c_bwd] -> the decoder's c_0
            self.W_m = nn.Linear(2 * H, H)  # [h_fwd_s; h_bwd_s] -> memory_s, the keys and values
        self.tgt_embed = nn.Embedding(tgt_vocab_size, embed_dim, padding_idx=0)
        feed = H if attention is not None else 0  # input feeding: h~_{t-1} joins the input
        self.decoder = nn.LSTM(embed_dim + feed, H, num_layers=num_layers, dropout=between, batch_first=True)
        if attention == "additive":
            self.attention = AdditiveAttention(H, H, H)
        elif attention is not None:
            self.attention = MultiplicativeAttention(H, H, kind=attention)
        else:
            self.attention = None
        self.W_c = nn.Linear(2 * H, H, bias=False) if attention is not None else None  # [c_t; h_t] -> h~_t
        self.W_out = nn.Linear(H, tgt_vocab_size)
        self.drop = nn.Dropout(self.dropout)

    def extra_repr(self) -> str:
        return (f"attention={self.attention_kind!r}, num_layers={self.num_layers}, dropout={self.dropout}, "
                f"bidirectional_encoder={self.bidirectional_encoder}")

    # ---- the encoder ------------------------------------------------------------------------

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple:
        """Read the source: its states at every position, their mask, and the decoder's initial state.

        Args:
            src: source token ids (B, S), padded with anything past each length.
            src_lengths: the real lengths (B,), each between 1 and S.

        Returns:
            the triple (memory, mask, state), memory (B, S, H), the encoder's top-layer outputs
            (projected to H for a bidirectional encoder), zero at padded positions; mask (B, S),
            True at real positions; state, the pair (h_0, c_0) of (num_layers, B, H) tensors
            that the decoder starts from (the encoder's final states).
        """
        src_lengths = self._check_source(src, src_lengths)
        B, S = src.shape
        x = self.drop(self.src_embed(src))  # (B, S, E)
        packed = pack_padded_sequence(x, src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, (h_n, c_n) = self.encoder(packed)  # h_n, c_n: (layers * D, B, H), D = 2 directions if bidirectional
        memory, _ = pad_packed_sequence(outputs, batch_first=True, total_length=S)  # (B, S, D * H)
        if self.bidirectional_encoder:
            L, H = self.num_layers, self.hidden_size
            h_n = h_n.view(L, 2, B, H).permute(0, 2, 1, 3).reshape(L, B, 2 * H)  # (L, B, [fwd; bwd])
            c_n = c_n.view(L, 2, B, H).permute(0, 2, 1, 3).reshape(L, B, 2 * H)
            h_n, c_n = torch.tanh(self.W_h(h_n)), self.W_c0(c_n)  # (L, B, H) each
            memory = self.W_m(memory)  # (B, S, 2H) -> (B, S, H)
        mask = lengths_to_mask(src_lengths.to(src.device), S)  # (B, S)
        memory = memory * mask[..., None]  # zero the padded positions (W_m's bias would fill them)
        return memory, mask, (h_n.contiguous(), c_n.contiguous())

    # ---- the decoder ------------------------------------------------------------------------

    def _step(self, y_prev, state, feed, memory, mask):
        """One decoder step: y_prev (B,) -> logits (B, V), the new state, h~_t (B, H) or None, a_t (B, S) or None."""
        x = self.drop(self.tgt_embed(y_prev))  # (B, E)
        if self.attention is None:
            out, state = self.decoder(x[:, None, :], state)  # (B, 1, H)
            h = out[:, 0]  # (B, H)
            return self.W_out(self.drop(h)), state, None, None
        x = torch.cat([x, feed], dim=-1)  # input feeding: (B, E + H)
        out, state = self.decoder(x[:, None, :], state)  # (B, 1, H)
        h = out[:, 0]  # h_t, the top layer's state (B, H)
        c, a = self.attention(h, memory, memory, mask)  # c_t (B, H), a_t (B, S)
        h_tilde = torch.tanh(self.W_c(torch.cat([c, h], dim=-1)))  # h~_t (B, H)
        return self.W_out(self.drop(h_tilde)), state, h_tilde, a

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                return_weights: bool = False):
        """Teacher forcing: the logits of every target position, the decoder reading the reference.

        Args:
            src: source token ids (B, S), padded with anything past each length.
            src_lengths: the real lengths (B,), each between 1 and S.
            tgt_in: the decoder's inputs (B, T): the target without its last token, so
                ``tgt_in[:, 0]`` is normally ``<bos>`` (anything else is allowed, and is simply
                what the decoder reads first). Padding is read like any token; give its
                positions the target ``IGNORE``, as :func:`teacher_forcing_pairs` does.
            return_weights: also return the attention weights.

        Returns:
            the logits (B, T, V), where position t predicts the token after ``tgt_in[:, t]`` from
            ``tgt_in[:, :t+1]`` and the source only; with ``return_weights``, the pair (logits,
            weights), the weights (B, T, S) (None without attention).
        """
        memory, mask, state = self.encode(src, src_lengths)
        self._check_target(tgt_in, len(src))
        B, T = tgt_in.shape
        feed = memory.new_zeros(B, self.hidden_size)  # h~_0 = 0
        logits, weights = [], []
        for t in range(T):
            step_logits, state, feed, a = self._step(tgt_in[:, t], state, feed, memory, mask)
            logits.append(step_logits)  # (B, V)
            weights.append(a)  # (B, S) or None
        logits = torch.stack(logits, dim=1)  # (B, T, V)
        if not return_weights:
            return logits
        return logits, None if self.attention is None else torch.stack(weights, dim=1)  # (B, T, S)

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, src_lengths: torch.Tensor, bos_id: int, eos_id: int,
                      max_len: int = 50, return_weights: bool = False):
        """Translate by reading back the arg-max at every step, until ``<eos>`` or ``max_len`` tokens.

        Runs in the module's current mode: call ``model.eval()`` first if it has dropout. The
        choice is the plain arg-max over all V ids, so an untrained model may write the padding
        id 0 before its ``<eos>`` (training never asks for it, so a trained one does not).

        Args:
            src: source token ids (B, S), padded with anything past each length.
            src_lengths: the real lengths (B,), each between 1 and S.
            bos_id: the id the decoder reads first (``<bos>``).
            eos_id: the id that ends a sequence (``<eos>``).
            max_len: the most tokens to write per sequence (``<eos>`` included).
            return_weights: also return the attention weights, as :meth:`forward` does.

        Returns:
            the tokens (B, T_out), T_out <= max_len, without ``<bos>``, each row ending at its
            ``<eos>`` (included) and padded with 0 after it; decoding stops when every row has
            written ``<eos>``. With ``return_weights``, the pair (tokens, weights), the weights
            (B, T_out, S) of each written token, 0 after a row's ``<eos>`` (None without attention).
        """
        for name, value in (("bos_id", bos_id), ("eos_id", eos_id)):
            check_int(value, name, minimum=0, maximum=self.tgt_vocab_size - 1)
        check_int(max_len, "max_len", minimum=1)
        memory, mask, state = self.encode(src, src_lengths)
        B = len(src)
        y = torch.full((B,), bos_id, dtype=torch.long, device=src.device)  # (B,)
        feed = memory.new_zeros(B, self.hidden_size)  # h~_0 = 0
        done = torch.zeros(B, dtype=torch.bool, device=src.device)  # (B,): wrote <eos> already
        tokens, weights = [], []
        for _ in range(max_len):
            logits, state, feed, a = self._step(y, state, feed, memory, mask)
            y = logits.argmax(-1).masked_fill(done, 0)  # (B,), 0 after <eos>
            tokens.append(y)
            if a is not None:
                weights.append(a.masked_fill(done[:, None], 0.0))  # (B, S)
            done = done | (y == eos_id)
            if bool(done.all()):
                break
        tokens = torch.stack(tokens, dim=1)  # (B, T_out)
        if not return_weights:
            return tokens
        return tokens, torch.stack(weights, dim=1) if weights else None  # (B, T_out, S)

    # ---- checks -----------------------------------------------------------------------------

    def _check_source(self, src, src_lengths):
        """src (B, S) ids -> src_lengths (B,), each between 1 and S (a list becomes a tensor)."""
        check_token_ids(src, self.src_vocab_size, "src", vocab_name="src_vocab_size")
        return check_lengths(src_lengths, *src.shape, "src_lengths")

    def _check_target(self, tgt_in, B):
        check_token_ids(tgt_in, self.tgt_vocab_size, "tgt_in", vocab_name="tgt_vocab_size")
        if len(tgt_in) != B:
            raise ValueError(f"tgt_in must hold one sequence per source sequence: expected {B}, "
                             f"got {len(tgt_in)} (tgt_in has shape {as_shape(tgt_in)})")
        if tgt_in.shape[1] < 1:
            raise ValueError(f"tgt_in must have at least one step (<bos>), got shape {as_shape(tgt_in)}")


# ---------------------------------------------------------------------------------------------
# Data for teacher forcing, and accuracy of greedy decoding
# ---------------------------------------------------------------------------------------------

class TeacherForcingData(SeqData):
    """Translation pairs ready for teacher forcing; made by :func:`teacher_forcing_pairs`.

    Indexing gives ``(src[i], src_lengths[i], tgt_in[i], tgt_out[i])``, so
    :func:`seqlib.train.fit` calls ``model(src, src_lengths, tgt_in)`` and compares the logits
    with ``tgt_out``.

    Attributes:
        x: the source ids (N, S); ``lengths``: their lengths (N,).
        tgt_in: the decoder's inputs (N, T), the target without its last token.
        y: the targets (N, T), the target without its first token (``<bos>``), ``IGNORE`` at padding.
        vocab, meta: the source vocabulary and the task's meta data (``target_vocab``).
    """

    def __init__(self, src, src_lengths, tgt_in, tgt_out, vocab=None, **meta):
        super().__init__(src, tgt_out, src_lengths, vocab, **meta)
        check_tensor(tgt_in, "tgt_in", dims=2, dtype_kind="int")
        if as_shape(tgt_in) != as_shape(tgt_out):
            raise ValueError(f"tgt_in and tgt_out must have the same shape, got {as_shape(tgt_in)} "
                             f"and {as_shape(tgt_out)}")
        self.tgt_in = tgt_in

    def __getitem__(self, i):
        return self.x[i], self.lengths[i], self.tgt_in[i], self.y[i]

    def __repr__(self) -> str:
        return (f"TeacherForcingData(src={as_shape(self.x)}, src_lengths={as_shape(self.lengths)}, "
                f"tgt_in={as_shape(self.tgt_in)}, tgt_out={as_shape(self.y)})")

    def subset(self, index) -> "TeacherForcingData":
        """The examples at ``index`` (a slice, a list of ints or a bool mask), as a new TeacherForcingData."""
        return TeacherForcingData(self.x[index], self.lengths[index], self.tgt_in[index], self.y[index],
                                  self.vocab, **self.meta)


def teacher_forcing_pairs(data: SeqData) -> TeacherForcingData:
    """Turn translation data (``toy_translation``'s) into (src, src_lengths, tgt_in, tgt_out) batches.

    ``tgt_in = y[:, :-1]`` (the target without its last token) and ``tgt_out = y[:, 1:]`` (without
    its first, ``<bos>``), with the padding (id 0) of ``tgt_out`` set to ``IGNORE``, so that
    ``seqlib.train.fit(model, teacher_forcing_pairs(data), loss="cross_entropy")`` trains a
    :class:`Seq2Seq` and ``seqlib.train.evaluate`` gives its teacher-forced token accuracy.
    The targets are not checked to start with ``<bos>``.

    Args:
        data: a :class:`seqlib.data.SeqData` with source ids ``x`` (N, S), their ``lengths``
            and target ids ``y`` (N, T + 1), padded with 0, that start with ``<bos>``.

    Returns:
        a :class:`TeacherForcingData` with the same source, vocabulary and meta data.
    """
    if not isinstance(data, SeqData):
        raise TypeError(f"data must be a seqlib.data.SeqData (from toy_translation), got {type(data).__name__}")
    if data.lengths is None:
        raise ValueError("data must have source lengths (a padded source, as toy_translation gives), got None")
    check_tensor(data.y, "data.y (target ids)", dims=2, dtype_kind="int")
    if data.y.shape[1] < 2:
        raise ValueError(f"data.y must hold at least two steps (<bos> and one token) per target, "
                         f"got shape {as_shape(data.y)}")
    tgt_in = data.y[:, :-1]  # (N, T)
    tgt_out = data.y[:, 1:].masked_fill(data.y[:, 1:] == 0, IGNORE)  # (N, T)
    return TeacherForcingData(data.x, data.lengths, tgt_in.clone(), tgt_out, data.vocab, **data.meta)


@torch.no_grad()
def sequence_accuracy(model: nn.Module, data: SeqData, max_len: int | None = None, batch_size: int = 256,
                      bos_id: int | None = None, eos_id: int | None = None) -> dict:
    """How well greedy decoding translates: whole sentences exactly right, and tokens right in place.

    Runs the model's ``greedy_decode`` (in eval mode) on every source of ``data`` and compares
    each output with its reference, the target after ``<bos>`` up to and including ``<eos>``.
    A sentence is exactly right when every token and the stop are; a token is right when the
    output holds the reference's token at the same position (one token missed shifts the rest,
    which then count as wrong). ``seqlib.train.evaluate(model, teacher_forcing_pairs(data))``
    gives the other, easier accuracy: the next token, given the reference before it.

    Args:
        model: the translator to evaluate: a :class:`Seq2Seq`, a
            :class:`seqlib.transformer.Transformer`, or any module whose
            ``greedy_decode(src, src_lengths, bos_id, eos_id, max_len)`` returns the written ids
            (B, T_out) after ``<bos>``, padded with 0 after ``<eos>``.
        data: translation data as ``toy_translation`` gives it (targets starting with ``<bos>``),
            or the :class:`TeacherForcingData` made from it.
        max_len: the most tokens to write (default: the longest reference, ``<eos>`` included).
        batch_size: how many sentences to decode at once.
        bos_id, eos_id: the ids of ``<bos>`` and ``<eos>`` (default: from ``data.meta["target_vocab"]``).

    Returns:
        a dict with ``sequence_accuracy`` (the fraction of sentences exactly right) and
        ``token_accuracy`` (the fraction of reference tokens, ``<eos>`` included, right in place).
    """
    if not isinstance(model, nn.Module) or not callable(getattr(model, "greedy_decode", None)):
        raise TypeError(f"model must be a translator with a greedy_decode method (a seqlib.seq2seq.Seq2Seq or a "
                        f"seqlib.transformer.Transformer), got {type(model).__name__}")
    if not isinstance(data, SeqData) or data.lengths is None:
        raise TypeError("data must be a seqlib.data.SeqData with source lengths (from toy_translation), "
                        f"got {type(data).__name__}")
    vocab = data.meta.get("target_vocab")
    if (bos_id is None or eos_id is None) and vocab is None:
        raise ValueError("data.meta has no 'target_vocab' to find <bos> and <eos> in; pass bos_id and eos_id")
    bos_id = vocab.id(BOS) if bos_id is None else bos_id
    eos_id = vocab.id(EOS) if eos_id is None else eos_id
    if isinstance(data, TeacherForcingData):
        reference = data.y.masked_fill(data.y == IGNORE, 0)  # (N, T)
    else:
        check_tensor(data.y, "data.y (target ids)", dims=2, dtype_kind="int")
        reference = data.y[:, 1:]  # (N, T): drop <bos>
    max_len = reference.shape[1] if max_len is None else check_int(max_len, "max_len", minimum=1)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs = []
    for src, src_lengths, *_ in batches(data, batch_size):
        tokens = model.greedy_decode(src.to(device), src_lengths.to(device), bos_id, eos_id, max_len)
        if not isinstance(tokens, torch.Tensor) or tokens.dim() != 2 or len(tokens) != len(src):
            raise TypeError(f"model.greedy_decode must return the written ids (B, T_out) = ({len(src)}, T_out), "
                            f"got {type(tokens).__name__}"
                            + (f" of shape {as_shape(tokens)}" if isinstance(tokens, torch.Tensor) else ""))
        outputs.append(nn.functional.pad(tokens.cpu(), (0, max_len - tokens.shape[1])))  # (b, max_len)
    model.train(was_training)
    written = torch.cat(outputs)  # (N, max_len)
    width = max(max_len, reference.shape[1])
    written = nn.functional.pad(written, (0, width - written.shape[1]))  # (N, width)
    reference = nn.functional.pad(reference, (0, width - reference.shape[1]))  # (N, width)
    real = reference != 0  # (N, width): reference tokens, <eos> included
    return {"sequence_accuracy": (written == reference).all(dim=1).float().mean().item(),
            "token_accuracy": (written == reference)[real].float().mean().item()}
