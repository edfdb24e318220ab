"""The ``long_range`` sweep (Chapter 7): an LSTM and a Transformer of matched size on four long-range tasks.

Each config trains one model on one task at one size, with one learning rate and one seed, by
:func:`seqlib.experiments.converge`: a stream of fresh batches, rounds of ``ROUND_STEPS`` steps,
stopped when the loss on a fixed validation set has not improved for ``PATIENCE`` rounds (at
most ``MAX_ROUNDS``), keeping the best round's weights. The grid::

    task   adding, selective_copy, parity (trained at length 16, tested at 16, 64 and 256);
           recall (trained and tested at 2, 4 and 8 key-value pairs)
    model  "lstm" or "transformer", widths matched to BUDGETS[task] parameters
           (experiments.matched_widths)
    lr     LSTM 1e-3 .. 3e-2, Transformer 3e-4 .. 1e-2, in steps of about 3 (chosen per model
           and task on the validation loss; each grid was widened on the side where a first
           grid of 1e-3, 3e-3, 1e-2 put some choice at its edge)
    seed   0 .. 4

The ``long_range_longer`` sweep (``LONGER``) trains again, with five times the cap, the cells
where the cap rather than patience ended the chosen runs, at the learning rates chosen here
(Chapter 7 checks that they are).
"""
from __future__ import annotations

from .. import experiments
from . import Sweep, significant

TRAIN_LENGTH, TEST_LENGTHS, PAIRS = 16, (16, 64, 256), (2, 4, 8)
BUDGETS = {"adding": 8000, "selective_copy": 8000, "parity": 8000, "recall": 16000}
LRS = {"lstm": (1e-3, 3e-3, 1e-2, 3e-2), "transformer": (3e-4, 1e-3, 3e-3, 1e-2)}
SEEDS = tuple(range(5))
BATCH, ROUND_STEPS, MAX_ROUNDS, PATIENCE, N_VAL, N_TEST = 64, 100, 20, 4, 500, 500
#: (task, training size) pairs, in grid order.
CELLS = (("adding", TRAIN_LENGTH), ("selective_copy", TRAIN_LENGTH), ("parity", TRAIN_LENGTH),
         *(("recall", P) for P in PAIRS))


def configs() -> list:
    return [{"task": task, "size": size, "model": m, "lr": lr, "seed": s}
            for task, size in CELLS for m in experiments.KINDS for lr in LRS[m] for s in SEEDS]



def run_one(config: dict, max_rounds: int = MAX_ROUNDS, patience: int = PATIENCE) -> dict:
    task, size = config["task"], config["size"]
    tests = TEST_LENGTHS if task != "recall" else (size,)
    settings = {"budget": BUDGETS[task], "batch_size": BATCH, "round_steps": ROUND_STEPS, "max_rounds": max_rounds,
                "patience": patience, "n_val": N_VAL, "n_test": N_TEST, "test_sizes": list(tests)}
    rows, history = experiments.converge(
        config["model"], task, size, config["seed"], lr=config["lr"], test_sizes=tests, budget=BUDGETS[task],
        batch_size=BATCH, round_steps=ROUND_STEPS, max_rounds=max_rounds, patience=patience, n_val=N_VAL,
        n_test=N_TEST)
    frame = history.frame()
    curve = {"train_loss": [significant(v) for v in frame["train_loss"]], "val_loss": [significant(v) for v in frame["val_loss"]]}
    if "val_accuracy" in frame:
        curve["val_accuracy"] = [significant(v) for v in frame["val_accuracy"]]
    result = {"val_loss": float(frame["val_loss"][history.best_epoch - 1])}
    for row in rows:  # accuracy (and mse) at the training size, then accuracy_64, mse_64, ...
        suffix = "" if row["test_size"] == size else f"_{row['test_size']}"
        for metric in ("accuracy", "mse"):
            if metric in row:
                result[metric + suffix] = row[metric]
    return {"settings": settings, "params": rows[0]["parameters"], "curve": curve,
            "best_epoch": history.best_epoch, "result": result}


LONG_RANGE = Sweep("long_range", "Chapter 7: LSTM against Transformer on adding, selective copy, parity and recall, "
                   "learning rates x seeds, stopped on validation or at a step cap", configs, run_one)


# The retrial of the cells where the cap, not patience, ended the chosen runs: the Transformer on
# parity and the LSTM on recall with 4 and 8 pairs, at the learning rates chosen in LONG_RANGE,
# with five times the cap and a patience of 1,000 steps.
LONGER = (("parity", TRAIN_LENGTH, "transformer", 1e-3), ("recall", 4, "lstm", 1e-2), ("recall", 8, "lstm", 1e-2))
LONGER_MAX_ROUNDS, LONGER_PATIENCE = 100, 10


def longer_configs() -> list:
    return [{"task": task, "size": size, "model": m, "lr": lr, "seed": s} for task, size, m, lr in LONGER
            for s in SEEDS]


def run_longer(config: dict) -> dict:
    return run_one(config, max_rounds=LONGER_MAX_ROUNDS, patience=LONGER_PATIENCE)


LONG_RANGE_LONGER = Sweep("long_range_longer", "Chapter 7: the cells the long_range cap stopped (Transformer on "
                          "parity, LSTM on recall with 4 and 8 pairs), at their chosen rates with five times the "
                          "cap", longer_configs, run_longer)
