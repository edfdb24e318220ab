"""The ``co2`` sweep (Chapter 9): an LSTM and a Transformer of matched size forecasting CO2.

Each config trains one forecaster at one rolling-origin fold of the monthly Mauna Loa series
(the last year of the series is the last fold's test window), with one learning rate and one
seed, and tests it on the fold's next year. The grid::

    model  "lstm" (29 units) or "transformer" (one pre-norm layer, d_model 16, 2 heads):
           4,072 and 4,124 parameters
    lr     1e-3, 3e-3, 1e-2, 3e-2     (chosen per model on the validation windows)
    seed   0 .. 9
    fold   0 .. 3                     (the four origins of Chapter 9's backtest)

Training (:func:`seqlib.forecast.train_forecaster`): the windows before the origin, oldest
first; the last ``VAL_WINDOWS`` validate and stop training when their loss has not improved for
``PATIENCE`` epochs (at most ``MAX_EPOCHS``), and the best epoch's weights are kept.
"""
from __future__ import annotations

import torch

from .. import forecast
from ..data import load_series
from . import Sweep, significant

SEASON, HORIZON, CONTEXT, FOLDS = 12, 12, 36, 4
VAL_WINDOWS, MAX_EPOCHS, PATIENCE, BATCH = 24, 1000, 40, 32
SIZES = {"lstm": {"hidden_size": 29}, "transformer": {"d_model": 16, "nhead": 2}}
LRS, SEEDS = (1e-3, 3e-3, 1e-2, 3e-2), tuple(range(10))


def series() -> torch.Tensor:
    """The monthly CO2 series, float64 (n,)."""
    return torch.tensor(load_series("co2").to_numpy(), dtype=torch.float64)


def folds() -> list:
    """Chapter 9's rolling-origin folds."""
    return forecast.rolling_origin(len(series()), HORIZON, folds=FOLDS)


def configs() -> list:
    return [{"model": m, "lr": lr, "seed": s, "fold": k}
            for m in SIZES for lr in LRS for s in SEEDS for k in range(FOLDS)]



def run_one(config: dict) -> dict:
    y = series()
    fold = folds()[config["fold"]]
    history, actual = y[:fold.origin], y[fold.origin:fold.origin + HORIZON]
    settings = {"context": CONTEXT, "horizon": HORIZON, "val_windows": VAL_WINDOWS, "max_epochs": MAX_EPOCHS,
                "patience": PATIENCE, "batch_size": BATCH, **SIZES[config["model"]]}
    model, log, val_loss = forecast.train_forecaster(
        config["model"], history, CONTEXT, HORIZON, val_windows=VAL_WINDOWS, epochs=MAX_EPOCHS,
        patience=PATIENCE, batch_size=BATCH, lr=config["lr"], seed=config["seed"], **SIZES[config["model"]])
    with torch.no_grad():
        predicted = model(history[-CONTEXT:].float()[None])[0].double()  # (H,)
    frame = log.frame()
    return {"settings": settings, "params": sum(p.numel() for p in model.parameters()),
            "curve": {"train_loss": [significant(v) for v in frame["train_loss"]],
                      "val_loss": [significant(v) for v in frame["val_loss"]]},
            "best_epoch": log.best_epoch,
            "result": {"val_loss": val_loss, "test_mae": (predicted - actual).abs().mean().item(),
                       "forecast": predicted.tolist()}}


CO2 = Sweep("co2", "Chapter 9: LSTM against Transformer forecasting monthly CO2, learning rates x seeds x folds",
            configs, run_one)
