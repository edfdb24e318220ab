"""seqlib: the helper library of *Sequence Models on Trial*.

Every chapter starts with ``seqlib.setup()`` and then imports what it needs:

    seqlib.setup(seed=0)            seeds, one CPU thread, plotting style -> torch.device
    seqlib.glue(name, value)        hand a computed number to the prose (myst-nb's glue)
    seqlib.data                     the book's tasks, vocabularies, padding and masks, corpus, series
    seqlib.train                    fit / evaluate / History: a short, readable training loop
    seqlib.viz                      seaborn-based curves, heatmaps and task drawings
    seqlib.recurrent                RNN, LSTM, GRU (and their cells) from scratch, with from_torch()
    seqlib.models                   RecurrentModel: embed, recur, read out (PyTorch's fast layers)
    seqlib.attention                scaled dot-product, additive, multiplicative, multi-head attention
    seqlib.positions                sinusoidal, learned and rotary position encodings
    seqlib.seq2seq                  the LSTM encoder-decoder, with or without attention (Bahdanau, Luong)
    seqlib.transformer              encoder and decoder layers, the encoder-decoder Transformer, a GPT-style LM
    seqlib.forecast                 seasonal naive baseline, rolling-origin backtests, small forecasters
    seqlib.checks                   graders for the coding exercises

Each model is a module of its own, checked against its PyTorch counterpart in ``tests/``
(state space models and linear attention join in Part V).
"""
from . import attention, checks, data, forecast, models, positions, recurrent, seq2seq, train, transformer, viz
from .prose import glue
from .runtime import setup

__version__ = "0.1.0"
__all__ = ["setup", "glue", "data", "train", "viz", "recurrent", "models", "attention", "positions", "checks",
           "seq2seq", "transformer", "forecast",
           "__version__"]
