"""seqlib: the helper library of *Sequence Models on Trial*.

Every chapter starts with ``seqlib.setup()`` and then imports what it needs:

    seqlib.setup(seed=0)            seeds, one CPU thread, plotting style -> torch.device
    seqlib.generator(seed)          a private torch.Generator (every seed moves with SEQLIB_SEED_OFFSET)
    seqlib.glue(name, value)        hand a computed number to the prose (myst-nb's glue)
    seqlib.data                     the book's tasks, vocabularies, padding and masks, corpus, series
    seqlib.train                    fit / evaluate / History: a short, readable training loop
    seqlib.viz                      seaborn-based curves, heatmaps and task drawings
    seqlib.recurrent                RNN, LSTM, GRU (and their cells) from scratch, with from_torch()
    seqlib.models                   RecurrentModel and CausalTransformer: embed, recur or attend, read out
    seqlib.attention                scaled dot-product, additive, multiplicative, multi-head attention
    seqlib.positions                sinusoidal, learned, rotary and ALiBi position encodings
    seqlib.seq2seq                  the LSTM encoder-decoder, with or without attention (Bahdanau, Luong)
    seqlib.transformer              encoder and decoder layers, the encoder-decoder Transformer, a GPT-style LM
    seqlib.experiments              head-to-head runs: an LSTM and a Transformer of matched size on one task
    seqlib.interpret                attention against attributions (leave one out, integrated gradients), LSTM units
    seqlib.linear_attention         linear attention, in parallel and as a recurrence; a language model with it
    seqlib.scan                     linear recurrences by a loop and by a parallel scan; minGRU
    seqlib.ssm                      a selective state space model (Mamba-style) and its language model
    seqlib.forecast                 seasonal naive baseline, rolling-origin backtests, small forecasters
    seqlib.verdicts                 the range rule: a lead only where one model's worst seed beats the other's best
    seqlib.checks                   graders for the coding exercises
    seqlib.bench                    time, memory and state of an LSTM and a Transformer (``python -m seqlib.bench``)
    seqlib.sweeps                   stored sweeps: long training grids, run once (``python -m seqlib.sweeps``), shipped

Each model is a module of its own, checked against its PyTorch counterpart in ``tests/``
or, where PyTorch has none (linear attention, scans, state space models), against a loop.
"""
from . import (attention, bench, checks, data, experiments, forecast, interpret, linear_attention, models,
               positions, recurrent, scan, seq2seq, ssm, train, transformer, verdicts, viz)
from .prose import glue
from .runtime import generator, numpy_rng, seed_everything, setup

__version__ = "0.1.0"


__all__ = ["setup", "generator", "seed_everything", "numpy_rng", "glue", "data", "train", "viz", "recurrent", "models", "attention", "positions", "checks",
           "seq2seq", "transformer", "interpret", "bench", "experiments", "forecast",
           "linear_attention", "scan", "ssm", "verdicts",
           "__version__"]
