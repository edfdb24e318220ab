"""A short, readable training loop: ``fit`` a model, ``evaluate`` it, plot its ``History``.

The loop is deliberately plain (Adam, mini-batches, optional gradient clipping) so that
every chapter trains the same way and differences in results come from the models.

Conventions: a batch from :class:`seqlib.data.SeqData` is ``(inputs..., target)``; the
model is called as ``model(*inputs)``. ``loss="cross_entropy"`` takes logits (B, C) with
targets (B,), or (B, T, C) with (B, T), and skips targets equal to ``IGNORE`` (-100);
``loss="mse"`` takes predictions and targets of the same shape.

The progress bar (tqdm) is shown to a reader running a notebook, and switched off when
the environment variable ``SEQLIB_PROGRESS`` is ``0``, as it is when the book's tests and
refresh command execute notebooks: stored outputs never contain one.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ._validate import check_int
from .data.batch import batches
from .data.tasks import IGNORE

__all__ = ['fit', 'evaluate', 'predict', 'History', 'cross_entropy', 'mse', 'accuracy', 'LOSSES', 'METRICS']


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over all targets that are not ``IGNORE``; logits (..., C), y (...)."""
    if logits.shape[:-1] != y.shape:
        raise ValueError(f"logits must have shape y.shape + (classes,) = {tuple(y.shape)} + (C,), "
                         f"got logits {tuple(logits.shape)}")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE)


def mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error; ``pred`` and ``y`` must have the same shape."""
    if pred.shape != y.shape:
        raise ValueError(f"predictions and targets must have the same shape, got {tuple(pred.shape)} "
                         f"and {tuple(y.shape)}")
    return F.mse_loss(pred, y)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of targets (not ``IGNORE``) where the arg-max class is right."""
    keep = y != IGNORE
    if not keep.any():
        return float("nan")
    return (logits.argmax(-1)[keep] == y[keep]).float().mean().item()


LOSSES: dict[str, Callable] = {"cross_entropy": cross_entropy, "mse": mse}
METRICS: dict[str, Callable] = {"accuracy": accuracy}


@dataclass
class History:
    """One row per epoch: ``epoch``, ``train_loss``, ``grad_norm``, ``seconds`` and, with
    validation data, ``val_loss`` and ``val_<metric>``.

    ``best_epoch`` is the epoch whose weights the model kept when ``fit`` stopped early
    (``patience``); otherwise None."""

    rows: list = field(default_factory=list)
    best_epoch: int | None = None

    def log(self, **row) -> None:
        self.rows.append(row)

    def frame(self) -> pd.DataFrame:
        """The history as a DataFrame, one row per epoch."""
        return pd.DataFrame(self.rows)

    def last(self, key: str):
        """The value of ``key`` after the last epoch."""
        if not self.rows:
            raise ValueError("the history is empty: nothing was trained yet")
        if key not in self.rows[-1]:
            raise KeyError(f"{key!r} was not recorded; recorded: {sorted(self.rows[-1])}")
        return self.rows[-1][key]

    def __len__(self) -> int:
        return len(self.rows)


def _resolve(fn, table, kind):
    if callable(fn):
        return fn
    if fn not in table:
        raise ValueError(f"unknown {kind} {fn!r}; choose one of {sorted(table)} or pass a function")
    return table[fn]


def _show_progress(progress):
    if progress is not None:
        return bool(progress)
    return os.environ.get("SEQLIB_PROGRESS", "1") != "0"


def _to(batch, device):
    return [t.to(device) for t in batch]


@torch.no_grad()
def predict(model: nn.Module, data, batch_size: int = 256, device=None) -> torch.Tensor:
    """The model's outputs on every example of ``data``, concatenated along the batch."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    outs = []
    for *inputs, _ in batches(data, batch_size):
        outs.append(model(*_to(inputs, device)).cpu())
    model.train(was_training)
    return torch.cat(outs)


@torch.no_grad()
def evaluate(model: nn.Module, data, loss="cross_entropy", metrics=("accuracy",), batch_size: int = 256) -> dict:
    """Loss and metrics of ``model`` on all of ``data`` (in eval mode), as a dict of floats."""
    loss_fn = _resolve(loss, LOSSES, "loss")
    out = predict(model, data, batch_size)
    result = {"loss": loss_fn(out, data.y).item()}
    for name in metrics:
        result[name] = _resolve(name, METRICS, "metric")(out, data.y)
    return result


def fit(model: nn.Module, data, *, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3,
        loss="cross_entropy", metrics=("accuracy",), val=None, clip: float | None = None,
        weight_decay: float = 0.0, warmup: int = 0, seed: int = 0, patience: int | None = None,
        min_delta: float = 0.0, progress: bool | None = None) -> History:
    """Train ``model`` on ``data`` with Adam; return the per-epoch :class:`seqlib.train.History`.

    Args:
        model: called as ``model(*inputs)`` on each batch.
        data: a :class:`seqlib.data.SeqData` (or any dataset of ``(inputs..., target)``), or a
            function ``data(epoch) -> dataset`` called at the start of every epoch (1, 2, ...),
            for a stream of fresh examples that are never seen twice.
        epochs, batch_size, lr, weight_decay: the usual; batches are reshuffled every epoch
            from a generator seeded with ``seed``.
        loss: ``"cross_entropy"``, ``"mse"`` or a function ``(outputs, targets) -> scalar``.
        metrics: names from ``METRICS`` computed on ``val`` after each epoch.
        val: validation data, evaluated after every epoch.
        clip: if given, rescale gradients whose global norm exceeds it.
        warmup: the number of optimiser steps over which the learning rate rises linearly from
            ``lr / warmup`` to ``lr`` (0: the full rate from the first step).
        patience: early stopping. With ``val`` given, stop once the validation loss has not
            improved for ``patience`` epochs, and put back the weights of the best epoch
            (``History.best_epoch``); ``epochs`` is then the most epochs that may run.
        min_delta: with ``patience``, an epoch improves only if its validation loss is lower than
            the best so far by more than this (0: any improvement counts), so that a model that has
            solved its task stops instead of gaining 1e-5 an epoch until the cap.
        progress: show a progress bar (default: unless ``SEQLIB_PROGRESS=0``).
    """
    check_int(epochs, "epochs", minimum=1)
    if not (isinstance(min_delta, (int, float)) and math.isfinite(min_delta) and min_delta >= 0):
        raise ValueError(f"min_delta must be a number >= 0, got {min_delta!r}")
    if patience is not None:
        check_int(patience, "patience", minimum=1)
        if val is None:
            raise ValueError("patience stops on the validation loss: pass val= (validation data) with it")
    loss_fn = _resolve(loss, LOSSES, "loss")
    device = next(model.parameters()).device
    check_int(warmup, "warmup", minimum=0)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warmup) if warmup else 1.0)
    history = History()
    from tqdm.auto import tqdm

    bar = tqdm(range(1, epochs + 1), desc="epochs", leave=False, disable=not _show_progress(progress))
    best_loss, best_state = math.inf, None
    for epoch in bar:
        model.train()
        start, total, count, norms = time.perf_counter(), 0.0, 0, []
        epoch_data = data(epoch) if callable(data) else data
        for *inputs, y in batches(epoch_data, batch_size, shuffle=True, seed=seed + epoch):
            inputs, y = _to(inputs, device), y.to(device)
            batch_loss = loss_fn(model(*inputs), y)
            if not torch.isfinite(batch_loss):
                err = FloatingPointError(f"the loss became {batch_loss.item()} in epoch {epoch}; "
                                         "try a smaller learning rate or gradient clipping")
                err.epoch = epoch  # the epoch it happened in, for a caller that records the failure
                raise err
            opt.zero_grad()
            batch_loss.backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), clip if clip is not None else math.inf)
            norms.append(norm.item())
            rate = opt.param_groups[0]["lr"]  # this step's learning rate
            opt.step()
            schedule.step()
            total += batch_loss.item() * len(y)
            count += len(y)
        row = {"epoch": epoch, "train_loss": total / count, "grad_norm": sum(norms) / len(norms),
               "lr": rate, "seconds": time.perf_counter() - start}
        if val is not None:
            row.update({f"val_{k}": v for k, v in evaluate(model, val, loss_fn, metrics).items()})
        history.log(**row)
        bar.set_postfix({k: round(v, 4) for k, v in row.items() if k in ("train_loss", "val_loss", "val_accuracy")})
        if patience is not None:
            if row["val_loss"] < best_loss - min_delta:  # a copy of the best weights so far
                best_loss, history.best_epoch = row["val_loss"], epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            elif epoch - (history.best_epoch or 0) >= patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
