"""The Chapter 6 sweeps: ``warmup`` (norm placement and warm-up) and ``translation`` (Transformer
against LSTM), each on the chapter's own models and data, with more seeds, tuned learning rates
and far longer training than the chapter can afford.

``warmup``: the chapter's six-layer decoder-only character model (d = 32, 4 heads, d_ff = 64, no
dropout, context 32), post-norm or pre-norm, with no warm-up or 64 steps of it, trained with Adam
(no clipping) in epochs of 4,096 fresh random windows of the training text (128 steps of 32; the
first epoch's windows are the chapter's), validated after every epoch on the chapter's 512
windows of held-out text, stopped when that loss has not fallen by more than ``LM_MIN_DELTA`` for
``LM_PATIENCE`` epochs (at most ``LM_MAX_EPOCHS``), best epoch kept. A run whose loss becomes
infinite or NaN is recorded as diverged, with the epoch it reached. The grid::

    norm    "post-norm", "pre-norm"
    warmup  0, 64 steps
    lr      5e-3, 2e-2    (the chapter's moderate and high rates)
    seed    0 .. 4

``translation``: Chapter 4's task (2,000 training sentences of one to four clauses, the test
sentences by clause count) with the chapter's two translators, the encoder-decoder with additive
attention and a state of 64, and a pre-norm Transformer of one encoder and one decoder layer
(d = 64, 4 heads, d_ff = 128, no dropout, a warm-up of 100 steps), each trained to a stop on
Chapter 4's validation sentences as in the ``bottleneck`` sweep. The grid::

    model  "LSTM + attention"  lr 3e-3, 1e-2, 3e-2
           "Transformer"       lr 3e-4, 1e-3, 3e-3, 1e-2 (3e-4 added when 1e-3, the lowest, was chosen)
    seed   0 .. 4
"""
from __future__ import annotations

import math

from .. import data, seq2seq, train
from .. import transformer as tf
from ..runtime import seed_everything
from . import Sweep, significant
from .bottleneck import (BATCH, MAX_CLAUSES, MAX_EPOCHS, MIN_DELTA, N_TEST, N_TRAIN, N_VAL, PATIENCE, TEST_SEED,
                         TRAIN_SEED, VAL_SEED, translation_data, translation_record)

# ---- warmup ---------------------------------------------------------------------------------------

NORMS, WARMUPS, LM_LRS, SEEDS = ("post-norm", "pre-norm"), (0, 64), (5e-3, 2e-2), tuple(range(5))
#: the chapter's model and windows: context, windows per epoch, batch, held-out windows
LM_CONTEXT, LM_WINDOWS, LM_BATCH, LM_VAL_WINDOWS = 32, 4096, 32, 512
LM_SIZE = {"d_model": 32, "nhead": 4, "num_layers": 6, "dim_feedforward": 64}
LM_MAX_EPOCHS, LM_PATIENCE, LM_MIN_DELTA = 8, 3, 1e-3


def corpus_split():
    """The book's corpus as ids, cut as in Chapter 6: (vocab, first 90% to train on, the rest)."""
    text = data.load_corpus()
    vocab = data.corpus_vocab(text)
    ids = vocab.encode(text)  # (N,)
    split = int(0.9 * len(ids))
    return vocab, ids[:split], ids[split:]


def make_lm(norm: str, vocab_size: int) -> tf.DecoderOnlyLM:
    """Chapter 6's six-layer character model (untrained), post-norm or pre-norm."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {list(NORMS)}, got {norm!r}")
    return tf.DecoderOnlyLM(vocab_size, **LM_SIZE, dropout=0.0, norm_first=norm == "pre-norm", max_len=LM_CONTEXT)


def warmup_configs() -> list:
    return [{"norm": n, "warmup": w, "lr": lr, "seed": s}
            for n in NORMS for w in WARMUPS for lr in LM_LRS for s in SEEDS]



def run_warmup(config: dict, max_epochs: int = LM_MAX_EPOCHS) -> dict:
    """One run of the ``warmup`` grid (its record's fields); ``max_epochs`` below the cap trains only
    the first epochs, whose curve is the start of the full run's (to the last digit when pinned)."""
    seed = config["seed"]
    vocab, train_ids, val_ids = corpus_split()
    val = data.SeqData(*data.char_windows(val_ids, LM_CONTEXT, LM_VAL_WINDOWS, seed=1))

    def windows(epoch):  # fresh windows every epoch; the first epoch's are the chapter's (seed 0)
        return data.SeqData(*data.char_windows(train_ids, LM_CONTEXT, LM_WINDOWS, seed=epoch - 1))

    settings = {"context": LM_CONTEXT, "windows_per_epoch": LM_WINDOWS, "batch_size": LM_BATCH,
                "val_windows": LM_VAL_WINDOWS, **LM_SIZE, "max_epochs": LM_MAX_EPOCHS, "patience": LM_PATIENCE,
                "min_delta": LM_MIN_DELTA}
    seed_everything(seed)
    model = make_lm(config["norm"], len(vocab))
    params = sum(p.numel() for p in model.parameters())
    try:
        history = train.fit(model, windows, epochs=max_epochs, batch_size=LM_BATCH, lr=config["lr"],
                            warmup=config["warmup"], val=val, metrics=(), seed=seed, patience=LM_PATIENCE,
                            min_delta=LM_MIN_DELTA, progress=False)
    except FloatingPointError as err:  # the loss became infinite or NaN: a failure worth a record
        return {"settings": settings, "params": params, "curve": {"train_bits": [], "val_bits": []},
                "best_epoch": 0, "result": {"diverged": True, "diverged_epoch": err.epoch, "val_bits": None}}
    frame = history.frame()
    bits = lambda nats: [significant(v / math.log(2)) for v in nats]  # noqa: E731
    return {"settings": settings, "params": params,
            "curve": {"train_bits": bits(frame["train_loss"]), "val_bits": bits(frame["val_loss"])},
            "best_epoch": history.best_epoch,
            "result": {"diverged": False, "diverged_epoch": None,
                       "val_bits": float(frame["val_loss"][history.best_epoch - 1]) / math.log(2)}}


WARMUP = Sweep("warmup", "Chapter 6: a six-layer character Transformer, post-norm or pre-norm, with and without "
               "warm-up, at a moderate and a high learning rate x seeds, stopped on held-out text or at a cap",
               warmup_configs, run_warmup)

# ---- translation ----------------------------------------------------------------------------------

#: name: its learning-rate grid
TRANSLATORS = {"LSTM + attention": (3e-3, 1e-2, 3e-2), "Transformer": (3e-4, 1e-3, 3e-3, 1e-2)}
LSTM_HIDDEN = 64
TF_SIZE = {"d_model": 64, "nhead": 4, "num_encoder_layers": 1, "num_decoder_layers": 1, "dim_feedforward": 128}
TF_WARMUP = 100


def make_translator(name: str, src_vocab: int, tgt_vocab: int):
    """One of Chapter 6's two translators (untrained)."""
    if name == "LSTM + attention":
        return seq2seq.Seq2Seq(src_vocab, tgt_vocab, hidden_size=LSTM_HIDDEN, attention="additive")
    if name == "Transformer":
        return tf.Transformer(src_vocab, tgt_vocab, **TF_SIZE, dropout=0.0, norm_first=True, max_len=64)
    raise ValueError(f"model must be one of {list(TRANSLATORS)}, got {name!r}")


def translation_configs() -> list:
    return [{"model": m, "lr": lr, "seed": s} for m, lrs in TRANSLATORS.items() for lr in lrs for s in SEEDS]


def run_translation(config: dict, max_epochs: int = MAX_EPOCHS) -> dict:
    """One run of the ``translation`` grid (its record's fields); ``max_epochs`` as in :func:`run_warmup`."""
    name, seed = config["model"], config["seed"]
    sets = {k: translation_data(n, s) for k, n, s in
            (("train", N_TRAIN, TRAIN_SEED), ("val", N_VAL, VAL_SEED), ("test", N_TEST, TEST_SEED))}
    settings = {"batch_size": BATCH, "max_epochs": MAX_EPOCHS, "patience": PATIENCE, "min_delta": MIN_DELTA,
                "n_train": N_TRAIN, "n_val": N_VAL, "n_test": N_TEST, "max_clauses": MAX_CLAUSES, "clip": 1.0,
                "warmup": TF_WARMUP if name == "Transformer" else 0}
    seed_everything(seed)
    model = make_translator(name, len(sets["train"].vocab), len(sets["train"].meta["target_vocab"]))
    history = train.fit(model, seq2seq.teacher_forcing_pairs(sets["train"]), epochs=max_epochs, batch_size=BATCH,
                        lr=config["lr"], warmup=settings["warmup"], val=seq2seq.teacher_forcing_pairs(sets["val"]),
                        clip=1.0, seed=seed, patience=PATIENCE, min_delta=MIN_DELTA, progress=False)
    return translation_record(model, history, settings, sets["test"], data.count_clauses(sets["test"]))


TRANSLATION = Sweep("translation", "Chapter 6: the Transformer against the LSTM with attention on toy translation, "
                    "learning rates x seeds, trained to a stop on validation", translation_configs, run_translation)
