"""Ready-to-train models for the book's experiments: embed, recur (or attend), read out.

Each architecture is built from scratch once and checked against PyTorch (``seqlib.recurrent``).
Experiments that train dozens of models then use PyTorch's fused layers, which compute the
same function faster, inside this one wrapper, so every chapter trains recurrent models the
same way: optional token embedding, ``nn.RNN``/``nn.LSTM``/``nn.GRU``, and a linear read-out
of the last real state of each sequence (or of every state).

:class:`CausalTransformer` is the Transformer with the same inputs and outputs, built from the
book's own :class:`seqlib.transformer.EncoderLayer` under a causal mask, so that a head-to-head
(Chapter 7, :mod:`seqlib.experiments`) changes nothing but how a model remembers.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ._validate import check_int, check_lengths, check_probability, check_tensor, check_token_ids
from .transformer import Encoder

__all__ = ["RecurrentModel", "CausalTransformer", "set_forget_bias", "train_on_adding", "KINDS"]

KINDS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

#: Whether a batch with no padding skips packing. Before PyTorch 2.13 a packed sequence takes the
#: CPU's native recurrent kernel, not oneDNN's: on one thread, Chapter 3's LSTM takes about 8 times
#: as long per training step packed as not (Colab's torch 2.11). From 2.13 on both are fast, and
#: packing stays, because the book's stored outputs and sweeps were made that way (the two paths differ in the last bits:
#: tests/test_models.py checks that they agree to rounding).
PACK_FULL_BATCHES = tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 13)


def set_forget_bias(lstm: nn.LSTM, value: float) -> nn.LSTM:
    """Set every forget-gate bias of ``lstm`` so that ``b_ih + b_hh`` equals ``value`` for the forget gate.

    PyTorch stacks the gates as (i, f, g, o), so the forget gate's biases are rows H..2H.
    """
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"set_forget_bias needs an nn.LSTM, got {type(lstm).__name__}")
    H = lstm.hidden_size
    with torch.no_grad():
        for name, p in lstm.named_parameters():
            if name.startswith("bias_"):
                p[H:2 * H].fill_(value / 2)  # the two biases add up
    return lstm


class RecurrentModel(nn.Module):
    """(embedding) -> recurrent layers -> linear read-out.

    Args:
        kind: ``"rnn"`` (tanh), ``"lstm"`` or ``"gru"``.
        input_size: features per step, or the vocabulary size when ``tokens=True``.
        hidden_size, num_layers, bidirectional: as in ``nn.LSTM``.
        output_size: width of the read-out (classes, or 1 for a number).
        tokens: inputs are token ids (B, T) to embed in ``embed_dim`` dimensions (id 0 = padding).
        per_step: read out every step (B, T, output_size) instead of the last real one (B, output_size).
        squeeze: drop a read-out dimension of size 1 (regression to one number).
        forget_bias: for an LSTM, the initial forget-gate bias (PyTorch's default draws it at random).
        dropout: the probability of zeroing a feature of the layer's inputs and of the states read
            out, in training (between layers, not across time steps); 0 adds no dropout at all.

    ``forward(x, lengths=None)``: x is (B, T, input_size) features or (B, T) token ids; with
    ``lengths`` (B,) the batch is packed, so padding never reaches the state, in either direction.
    As with ``nn.LSTM``, an empty batch (B = 0) gives an empty result, and sequences of no step
    (T = 0) raise a ValueError.
    """

    def __init__(self, kind: str, input_size: int, hidden_size: int, output_size: int = 1, *, tokens: bool = False,
                 embed_dim: int = 16, num_layers: int = 1, bidirectional: bool = False, per_step: bool = False,
                 squeeze: bool = False, forget_bias: float | None = None, dropout: float = 0.0):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
        check_int(input_size, "input_size", minimum=1)
        check_int(hidden_size, "hidden_size", minimum=1)
        check_int(output_size, "output_size", minimum=1)
        self.kind, self.tokens, self.per_step, self.squeeze = kind, tokens, per_step, squeeze
        self.embed = nn.Embedding(input_size, embed_dim, padding_idx=0) if tokens else None
        features = embed_dim if tokens else input_size
        self.rnn = KINDS[kind](features, hidden_size, num_layers=num_layers, bidirectional=bidirectional,
                               batch_first=True)
        if forget_bias is not None:
            if kind != "lstm":
                raise ValueError(f"forget_bias applies to an LSTM, not to kind={kind!r}")
            set_forget_bias(self.rnn, forget_bias)
        self.readout = nn.Linear(hidden_size * (2 if bidirectional else 1), output_size)
        check_probability(dropout, "dropout")
        self.drop = nn.Dropout(dropout) if dropout > 0 else None  # none at all: other models' random streams stay put

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.drop is None else self.drop(x)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, input_size) or token ids (B, T); lengths (B,) -> (B, output_size) or (B, T, output_size)."""
        if self.tokens:
            check_token_ids(x, self.embed.num_embeddings, vocab_name="input_size")
            x = self.embed(x)  # (B, T) -> (B, T, E)
        else:
            check_tensor(x, "x", dims=3, dtype_kind="float")
        B, T = x.shape[:2]
        if T == 0:
            raise ValueError(f"x must have at least one time step (T >= 1), as torch.nn.{type(self.rnn).__name__} "
                             f"requires; got T=0 in x of shape {tuple(x.shape)}")
        if lengths is None:
            lengths = torch.full((B,), T, dtype=torch.long, device=x.device)
        lengths = check_lengths(lengths, B, T)  # (B,), each in [1, T]
        x = self._dropout(x)
        if B == 0:  # pack_padded_sequence refuses an empty batch; the layer itself takes one
            outputs, state = self.rnn(x)  # (0, T, D*H)
        elif not PACK_FULL_BATCHES and bool((lengths == T).all()):  # nothing to pack (see above)
            outputs, state = self.rnn(x)  # (B, T, D*H)
        else:
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            outputs, state = self.rnn(packed)
        if self.per_step:
            if isinstance(outputs, nn.utils.rnn.PackedSequence):
                outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=T)  # (B, T, D*H)
            out = self.readout(self._dropout(outputs))  # (B, T, output_size)
        else:
            h_n = state[0] if isinstance(state, tuple) else state  # (layers*D, B, H)
            D = 2 if self.rnn.bidirectional else 1
            last = torch.cat(list(h_n[-D:]), dim=-1)  # the top layer's final states: (B, D*H)
            out = self.readout(self._dropout(last))  # (B, output_size)
        return out.squeeze(-1) if self.squeeze else out


def train_on_adding(kind: str, length: int, seed: int, hidden_size: int = 32, steps: int = 1000,
                    batch_size: int = 32, lr: float = 2e-2, clip: float = 1.0, n_test: int = 1000):
    """The book's adding-problem protocol (Chapters 2, 3 and 7): one model, one fixed budget.

    Trains a :class:`RecurrentModel` of ``kind`` on ``steps`` Adam steps of fresh batches of the
    adding problem at ``length`` (gradients clipped at ``clip``), and tests it on ``n_test`` new
    sequences.

    Returns:
        The trained model (in eval mode) and its test mean squared error, as a pair.
    """
    from . import train
    from .data import adding_problem
    from .runtime import setup

    setup(seed, style=False)
    model = RecurrentModel(kind, 2, hidden_size, 1, squeeze=True)
    fresh = adding_problem(steps * batch_size, length, seed=seed)  # one pass = ``steps`` steps
    train.fit(model, fresh, epochs=1, batch_size=batch_size, lr=lr, loss="mse", metrics=(), clip=clip, seed=seed)
    test = adding_problem(n_test, length, seed=1000 + seed)
    return model.eval(), train.evaluate(model, test, loss="mse", metrics=())["loss"]


class CausalTransformer(nn.Module):
    """Embed, ``num_layers`` pre-norm causal self-attention layers with rotary positions, read out.

    The Transformer counterpart of :class:`RecurrentModel`, with the same inputs and
    outputs: token ids (B, T) or features (B, T, input_size), optional ``lengths`` (B,), and a
    read-out of the last real position (B, output_size) or of every position
    (B, T, output_size). Position t attends to positions s <= t only, so padding after a
    sequence never changes what is read at its last real position.

    Args:
        input_size: the vocabulary size (``tokens=True``, id 0 = padding) or features per step.
        d_model, nhead, num_layers: the stack's width, heads and depth; the feed-forward
            networks are ``2 * d_model`` wide, and there is no dropout.
        output_size: width of the read-out.
        tokens, per_step, squeeze: as in :class:`RecurrentModel`.
    """

    def __init__(self, input_size: int, d_model: int, output_size: int = 1, *, nhead: int = 2, num_layers: int = 2,
                 tokens: bool = False, per_step: bool = False, squeeze: bool = False):
        super().__init__()
        check_int(input_size, "input_size", minimum=1)
        check_int(output_size, "output_size", minimum=1)
        self.tokens, self.per_step, self.squeeze = tokens, per_step, squeeze
        self.embed = nn.Embedding(input_size, d_model, padding_idx=0) if tokens else nn.Linear(input_size, d_model)
        self.layers = Encoder(num_layers, d_model, nhead, 2 * d_model, dropout=0.0, activation="gelu",
                              norm_first=True, rotary=True)
        self.readout = nn.Linear(d_model, output_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T) ids or (B, T, input_size); lengths (B,) -> (B, output_size) or (B, T, output_size)."""
        if self.tokens:
            check_token_ids(x, self.embed.num_embeddings, vocab_name="input_size")
        else:
            check_tensor(x, "x", dims=3, dtype_kind="float")
        B, T = x.shape[:2]
        if T == 0:  # as RecurrentModel (and nn.LSTM): a batch may be empty, a sequence may not
            raise ValueError(f"x must have at least one time step (T >= 1), got T=0 in x of shape {tuple(x.shape)}")
        h = self.layers(self.embed(x), is_causal=True)  # (B, T, d_model)
        if self.per_step:
            out = self.readout(h)  # (B, T, output_size)
        else:
            if lengths is None:
                lengths = torch.full((B,), T, dtype=torch.long, device=h.device)
            lengths = check_lengths(lengths, B, T, device=h.device)  # (B,), each in [1, T]
            last = h[torch.arange(B, device=h.device), lengths - 1]  # (B, d_model): each sequence's last real position
            out = self.readout(last)  # (B, output_size)
        return out.squeeze(-1) if self.squeeze else out
