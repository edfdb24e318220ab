"""The ``after_both`` sweep (Chapter 11): four models of matched size on selective copying and recall.

The four models of Chapter 11, about 20,000 parameters each (:func:`make_model`): an LSTM, a
two-layer rotary Transformer, its linear-attention twin (decay 0.9) and a two-layer Mamba.
Each config trains one of them on one task with one learning rate and one seed, on a stream of
fresh batches (rounds of ``ROUND_STEPS`` steps, no example seen twice, so no model can overfit),
stopped when the loss on a fixed validation set has not improved for ``PATIENCE`` rounds (at
most ``MAX_ROUNDS``), keeping the best round's weights, and tests it on new sequences. The grid::

    task   "selective copy" (4 letters among 16 steps of filler, one target per position)
           "associative recall" (4 key-value pairs, then the 4 keys again)
    model  "LSTM", "Transformer", "linear attention", "Mamba"
    lr     1e-3, 3e-3, 1e-2, 3e-2   (chosen per model and task on the validation loss; 3e-2 was
                                  added when a first grid put most choices at 1e-2, its edge)
    seed   0 .. 4
"""
from __future__ import annotations

import torch
from torch import nn

from .. import data, linear_attention, models, ssm, train, transformer
from ..runtime import seed_everything
from . import Sweep, significant

KINDS = ("LSTM", "Transformer", "linear attention", "Mamba")
D_MODEL, LSTM_HIDDEN = 32, 52
#: (task, size) pairs, in grid order: selective copying at filler length 16, recall at P pairs.
CELLS = (("selective copy", 16), ("associative recall", 4))
LRS, SEEDS = (1e-3, 3e-3, 1e-2, 3e-2), tuple(range(5))
# Mamba's loop costs 40-100 ms a step here, so the cap is 1,500 steps (Chapter 7's sweep: 2,000).
BATCH, ROUND_STEPS, MAX_ROUNDS, PATIENCE, N_VAL, N_TEST = 64, 100, 15, 3, 500, 500


def make_model(kind: str, vocab_size: int) -> nn.Module:
    """One of Chapter 11's four models for a vocabulary of ``vocab_size``: (B, T) ids -> (B, T, V) logits."""
    if kind == "Transformer":
        return transformer.DecoderOnlyLM(vocab_size, d_model=D_MODEL, nhead=2, num_layers=2, dim_feedforward=64,
                                         dropout=0.0, positions="rotary", max_len=64)
    if kind == "LSTM":
        return models.RecurrentModel("lstm", vocab_size, LSTM_HIDDEN, vocab_size, tokens=True, embed_dim=D_MODEL,
                                     per_step=True)
    if kind == "linear attention":
        return linear_attention.LinearAttentionLM(vocab_size, d_model=D_MODEL, nhead=2, num_layers=2,
                                                  dim_feedforward=64, decay=0.9)
    if kind == "Mamba":  # the loop: on one CPU thread, at these lengths, cheaper than the scan (same numbers)
        return ssm.MambaLM(vocab_size, d_model=D_MODEL, num_layers=2, d_state=8, mode="loop")
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def per_position(task_data: data.SeqData) -> data.SeqData:
    """Selective copying's targets (n, k) placed at the last k positions of (n, T); IGNORE elsewhere."""
    y = torch.full_like(task_data.x, data.IGNORE)  # (n, T)
    y[:, -task_data.y.shape[1]:] = task_data.y
    return data.SeqData(task_data.x, y, vocab=task_data.vocab)


def make_data(task: str, size: int, n: int, seed: int) -> data.SeqData:
    """``n`` sequences of ``task`` at ``size`` (filler length, or pairs), targets at every position."""
    if task == "selective copy":
        return per_position(data.selective_copy(n, size, 4, seed=seed))
    if task == "associative recall":
        return data.associative_recall(n, size, seed=seed)
    raise ValueError(f"task must be 'selective copy' or 'associative recall', got {task!r}")


def configs() -> list:
    return [{"task": task, "size": size, "model": m, "lr": lr, "seed": s}
            for task, size in CELLS for m in KINDS for lr in LRS for s in SEEDS]



def run_one(config: dict) -> dict:
    task, size, seed = config["task"], config["size"], config["seed"]
    settings = {"batch_size": BATCH, "round_steps": ROUND_STEPS, "max_rounds": MAX_ROUNDS, "patience": PATIENCE,
                "n_val": N_VAL, "n_test": N_TEST, "d_model": D_MODEL}
    val = make_data(task, size, N_VAL, 20_000 + seed)
    test = make_data(task, size, N_TEST, 10_000 + seed)
    seed_everything(seed)
    model = make_model(config["model"], len(val.vocab))

    def stream(round_: int) -> data.SeqData:  # fresh sequences every round, from seeds no other set uses
        return make_data(task, size, ROUND_STEPS * BATCH, 100_000 + 1_000 * seed + round_)

    history = train.fit(model, stream, epochs=MAX_ROUNDS, batch_size=BATCH, lr=config["lr"], val=val, clip=1.0,
                        seed=seed, patience=PATIENCE, progress=False)
    frame = history.frame()
    scores = train.evaluate(model, test)
    return {"settings": settings, "params": sum(p.numel() for p in model.parameters()),
            "curve": {k: [significant(v) for v in frame[k]] for k in ("train_loss", "val_loss", "val_accuracy")},
            "best_epoch": history.best_epoch,
            "result": {"val_loss": float(frame["val_loss"][history.best_epoch - 1]),
                       "test_loss": scores["loss"], "accuracy": scores["accuracy"]}}


AFTER_BOTH = Sweep("after_both", "Chapter 11: LSTM, Transformer, linear attention and Mamba on selective copying "
                   "and associative recall (4 pairs), learning rates x seeds, stopped on validation or at a step cap",
                   configs, run_one)
