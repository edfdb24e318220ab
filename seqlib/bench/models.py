"""Two language models with the same budget: an LSTM and a Transformer (:func:`lm_pair`).

See :mod:`seqlib.bench`.
"""
from __future__ import annotations

import math

from torch import nn

from .._validate import check_int
from ..experiments import count_parameters


def matched_lstm_width(params: int, vocab_size: int, num_layers: int) -> int:
    """The hidden size H of an LSTM language model with about ``params`` parameters.

    The model is :class:`seqlib.models.RecurrentModel` with embeddings of width H, ``num_layers``
    LSTM layers of width H and a read-out to ``vocab_size`` logits, so its parameters are

        V H  +  L (8 H^2 + 8 H)  +  (H V + V)

    (each LSTM layer: four gates, each with an input and a recurrent H x H matrix and two
    biases). Solving the quadratic for H and rounding gives the closest width.
    """
    check_int(params, "params", minimum=1)
    check_int(vocab_size, "vocab_size", minimum=1)
    check_int(num_layers, "num_layers", minimum=1)
    a, b, c = 8 * num_layers, 8 * num_layers + 2 * vocab_size, vocab_size - params
    return max(1, round((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)))


def lm_pair(vocab_size: int = 64, d_model: int = 64, num_layers: int = 2, nhead: int = 4,
            max_len: int = 4096, device="cpu") -> tuple:
    """An LSTM and a Transformer language model with (nearly) the same number of parameters.

    The Transformer is a :class:`seqlib.transformer.DecoderOnlyLM` (pre-norm, d_ff = 4 d_model,
    sinusoidal positions so that no parameter depends on ``max_len``, no dropout); the LSTM is a
    :class:`seqlib.models.RecurrentModel` (token embedding, ``num_layers`` LSTM layers, a
    read-out at every step) whose width comes from :func:`matched_lstm_width`. Both are in
    training mode; both map token ids (B, T) to logits (B, T, vocab_size).

    Returns:
        The pair (lstm, transformer).
    """
    from ..models import RecurrentModel
    from ..transformer import DecoderOnlyLM

    check_int(max_len, "max_len", minimum=1)
    transformer = DecoderOnlyLM(vocab_size, d_model, nhead, num_layers, dim_feedforward=4 * d_model, dropout=0.0,
                                positions="sinusoidal", max_len=max_len)
    H = matched_lstm_width(count_parameters(transformer), vocab_size, num_layers)
    lstm = RecurrentModel("lstm", vocab_size, H, vocab_size, tokens=True, embed_dim=H, num_layers=num_layers,
                          per_step=True)
    return lstm.to(device), transformer.to(device)


def _kind(model: nn.Module) -> str:
    from ..models import RecurrentModel
    from ..transformer import DecoderOnlyLM

    if isinstance(model, RecurrentModel) and model.kind == "lstm" and model.tokens and model.per_step:
        return "lstm"
    if isinstance(model, DecoderOnlyLM):
        return "transformer"
    raise TypeError(f"model must be a language model from seqlib.bench.lm_pair (a per-step token RecurrentModel "
                    f"of kind 'lstm' or a DecoderOnlyLM), got {type(model).__name__}")

