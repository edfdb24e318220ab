"""The ``bottleneck`` sweep (Chapter 4): encoder-decoders with and without attention, trained to a stop.

Three of Chapter 4's translators on its toy translation task (one to four clauses, at most one
adjective per noun): the plain encoder-decoder with a state of 64 (read forwards, and with each
source sentence reversed) and the encoder-decoder with additive attention and half that state.
(The general score, which the chapter compares with the additive one at its own budget, is left
out: a run costs one to two CPU-minutes here.) Each config trains one of them with one learning rate and one seed on the
chapter's 2,000 training sentences, teacher-forced, one epoch at a time, stopped when the
teacher-forced loss on 600 validation sentences has not improved for ``PATIENCE`` epochs (at
most ``MAX_EPOCHS``; an improvement counts if it is larger than ``MIN_DELTA``), keeping the
best epoch's weights; then it translates 600 test sentences
greedily and scores them by their number of clauses. The grid::

    model  "no attention", "no attention, source reversed" (hidden size 64),
           "additive attention" (hidden size 32)
    lr     3e-3, 1e-2, 3e-2   (chosen per model on the validation loss)
    seed   0 .. 4
"""
from __future__ import annotations

from .. import data, seq2seq, train
from ..runtime import seed_everything
from . import Sweep, significant

#: name: (attention score, hidden size, source reversed?), as in Chapter 4.
VARIANTS = {
    "no attention": (None, 64, False),
    "no attention, source reversed": (None, 64, True),
    "additive attention": ("additive", 32, False),
}
LRS, SEEDS = (3e-3, 1e-2, 3e-2), tuple(range(5))
N_TRAIN, N_VAL, N_TEST, MAX_CLAUSES, MAX_ADJ = 2000, 600, 600, 4, 1
#: the data seeds: Chapter 4's training and test sets, and a validation set of its own
TRAIN_SEED, TEST_SEED, VAL_SEED = 10, 11, 12
#: an epoch improves when the validation loss falls by more than MIN_DELTA (nats per token): a
#: solved task's loss otherwise keeps falling by crumbs until the cap
BATCH, MAX_EPOCHS, PATIENCE, MIN_DELTA = 64, 60, 5, 1e-3


def translation_data(n: int, seed: int) -> data.SeqData:
    """``n`` sentence pairs of Chapter 4's task (one to ``MAX_CLAUSES`` clauses)."""
    return data.toy_translation(n, max_clauses=MAX_CLAUSES, max_adjectives=MAX_ADJ, seed=seed)


def make_model(name: str, src_vocab: int, tgt_vocab: int) -> seq2seq.Seq2Seq:
    """One of Chapter 4's translators (untrained)."""
    if name not in VARIANTS:
        raise ValueError(f"model must be one of {list(VARIANTS)}, got {name!r}")
    kind, hidden, _ = VARIANTS[name]
    return seq2seq.Seq2Seq(src_vocab, tgt_vocab, hidden_size=hidden, attention=kind)


def configs() -> list:
    return [{"model": m, "lr": lr, "seed": s} for m in VARIANTS for lr in LRS for s in SEEDS]



def run_one(config: dict, max_epochs: int = MAX_EPOCHS) -> dict:
    """One training run of the grid (its record's fields). ``max_epochs`` below the sweep's cap
    trains only the run's first epochs: their curve is the start of the full run's, to the last
    digit under the pinned numerics (early stopping cannot act before epoch ``PATIENCE + 1``), a
    check of a stored record that costs seconds, not a minute."""
    name, seed = config["model"], config["seed"]
    reverse = VARIANTS[name][2]
    sets = {k: translation_data(n, s) for k, n, s in
            (("train", N_TRAIN, TRAIN_SEED), ("val", N_VAL, VAL_SEED), ("test", N_TEST, TEST_SEED))}
    read = {k: data.reverse_sources(d) if reverse else d for k, d in sets.items()}
    settings = {"batch_size": BATCH, "max_epochs": MAX_EPOCHS, "patience": PATIENCE, "min_delta": MIN_DELTA,
                "n_train": N_TRAIN,
                "n_val": N_VAL, "n_test": N_TEST, "max_clauses": MAX_CLAUSES, "clip": 1.0}
    seed_everything(seed)
    model = make_model(name, len(sets["train"].vocab), len(sets["train"].meta["target_vocab"]))
    history = train.fit(model, seq2seq.teacher_forcing_pairs(read["train"]), epochs=max_epochs, batch_size=BATCH,
                        lr=config["lr"], val=seq2seq.teacher_forcing_pairs(read["val"]), clip=1.0, seed=seed,
                        patience=PATIENCE, min_delta=MIN_DELTA, progress=False)
    return translation_record(model, history, settings, read["test"], data.count_clauses(sets["test"]))


def translation_record(model, history, settings: dict, test: data.SeqData, by_clauses) -> dict:
    """A translation run's record fields: the best epoch's validation loss, greedy accuracy on the
    test sentences as the model reads them (``test``), overall and by clause count (``by_clauses``,
    (n,)), the parameter count and the curves (to 5 significant digits)."""
    frame = history.frame()
    model.eval()
    result = {"val_loss": float(frame["val_loss"][history.best_epoch - 1]), **seq2seq.sequence_accuracy(model, test)}
    for k in range(1, MAX_CLAUSES + 1):
        scores = seq2seq.sequence_accuracy(model, test.subset(by_clauses == k))
        result[f"token_accuracy_{k}"] = scores["token_accuracy"]
        result[f"sequence_accuracy_{k}"] = scores["sequence_accuracy"]
    return {"settings": settings, "params": sum(p.numel() for p in model.parameters()),
            "curve": {k: [significant(v) for v in frame[k]] for k in ("train_loss", "val_loss", "val_accuracy")},
            "best_epoch": history.best_epoch, "result": result}


BOTTLENECK = Sweep("bottleneck", "Chapter 4: encoder-decoders with and without attention on toy translation, "
                   "learning rates x seeds, trained to a stop on validation", configs, run_one)
