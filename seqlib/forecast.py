"""Forecasting a real series honestly: a seasonal naive baseline, rolling-origin folds, small forecasters.

The pieces, in the order Chapter 9 uses them:

    seasonal_naive(history, horizon, season)     repeat the last season: the baseline every model must beat
    rolling_origin(n, horizon, folds)            the test windows at the end of a series, one Fold per origin
    backtest(forecast, values, folds)            call forecast(history) at each origin, with only the past
    Forecaster(kind, context, horizon)           linear, LSTM or Transformer: the last ``context`` values -> ``horizon``
    neural_forecast(kind, context, horizon)      a forecast function that trains a fresh Forecaster on each history
    split_windows(x, y, val_windows)             the last windows for validation, a gap, the rest for training
    train_forecaster(kind, history, ...)         one Forecaster trained on a history, early-stopped on its last windows

A test window is never seen in training: ``backtest`` hands ``forecast`` a copy of the values
before the origin and nothing else, so no model can peek, whatever it does inside.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from ._validate import check_int
from .models import RecurrentModel

__all__ = ["seasonal_naive", "Fold", "rolling_origin", "backtest", "mae", "Forecaster", "neural_forecast",
           "split_windows", "train_forecaster", "KINDS"]

KINDS = ("linear", "lstm", "transformer")


def _as_series(values, name: str) -> torch.Tensor:
    """A 1-D float64 tensor copy of ``values`` (array, list, Series or tensor), or a clear error."""
    if isinstance(values, torch.Tensor):
        v = values.detach().to(torch.float64).clone()
    else:
        try:
            v = torch.from_numpy(np.array(values, dtype=np.float64))  # a writable copy
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a 1-D series of numbers, got {type(values).__name__}") from err
    if v.dim() != 1:
        raise ValueError(f"{name} must be a 1-D series, got shape {tuple(v.shape)}")
    return v


def seasonal_naive(history, horizon: int, season: int) -> torch.Tensor:
    """Forecast each future value by the value one season earlier: y_hat[n + h] = y[n + h - s * ceil(h / s)].

    For ``h = 1 .. horizon`` the forecast repeats the last ``season`` values of ``history``, as
    often as needed. With ``season=1`` it is the naive forecast (the last value, repeated).

    Args:
        history: the observed series y[0 .. n-1], shape (n,), with n >= season.
        horizon: how many future values to forecast.
        season: the season length s (12 for monthly data with a yearly cycle).

    Returns:
        The forecasts, a float64 tensor of shape (horizon,).
    """
    y = _as_series(history, "history")
    check_int(horizon, "horizon", minimum=1)
    check_int(season, "season", minimum=1)
    if len(y) < season:
        raise ValueError(f"history must hold at least one season ({season} values), got {len(y)}")
    last_season = y[len(y) - season:]  # (season,)
    h = torch.arange(horizon, device=y.device)  # h - 1 for h = 1 .. horizon
    return last_season[h % season]  # (horizon,)


class Fold(NamedTuple):
    """One rolling-origin fold: train on values [0, origin), forecast values [origin, origin + horizon)."""

    origin: int
    horizon: int

    @property
    def train(self) -> range:
        """The indices a model may learn from."""
        return range(0, self.origin)

    @property
    def test(self) -> range:
        """The indices it must forecast."""
        return range(self.origin, self.origin + self.horizon)


def rolling_origin(n: int, horizon: int, folds: int, step: int | None = None, min_train: int = 1) -> list[Fold]:
    """The last ``folds`` forecast origins of a series of ``n`` values, oldest first.

    The last fold's test window ends with the series; each earlier origin is ``step`` values
    earlier (``step = horizon`` by default, so the test windows tile the end of the series without
    overlapping). Each fold trains on everything before its origin: the training set grows by
    ``step`` values from one fold to the next, as it would for a forecaster used month after month.

    Args:
        n: the length of the series.
        horizon: the length of every test window.
        folds: the number of origins.
        step: the distance between consecutive origins.
        min_train: the fewest training values the first fold may have.

    Returns:
        A list of :class:`Fold`, one per origin, in time order.
    """
    check_int(n, "n", minimum=1)
    check_int(horizon, "horizon", minimum=1)
    check_int(folds, "folds", minimum=1)
    step = horizon if step is None else check_int(step, "step", minimum=1)
    check_int(min_train, "min_train", minimum=1)
    first = n - horizon - step * (folds - 1)
    if first < min_train:
        room = max(0, (n - horizon - min_train) // step + 1)
        raise ValueError(f"a series of {n} values has room for {room} folds of horizon {horizon} with step {step} "
                         f"and at least {min_train} training values, but folds={folds} were asked for")
    return [Fold(first + k * step, horizon) for k in range(folds)]


def mae(forecast, actual) -> float:
    """Mean absolute error between two series of the same length."""
    f, a = _as_series(forecast, "forecast"), _as_series(actual, "actual")
    if f.shape != a.shape:
        raise ValueError(f"forecast and actual must have the same length, got {len(f)} and {len(a)}")
    return (f - a).abs().mean().item()


def backtest(forecast: Callable, values, folds: list[Fold]) -> pd.DataFrame:
    """Evaluate ``forecast(history) -> (horizon,)`` at every fold's origin, showing it only the past.

    Args:
        forecast: a function of the history y[0 .. origin-1] (a float64 tensor copy) that returns
            ``fold.horizon`` forecasts.
        values: the whole series, shape (n,).
        folds: from :func:`rolling_origin`.

    Returns:
        A DataFrame with one row per fold and step ahead, columns ``fold``, ``origin``, ``h``
        (1 .. horizon), ``actual``, ``forecast`` and ``abs_error``.
    """
    y = _as_series(values, "values")
    if not folds:
        raise ValueError("folds is empty: make them with rolling_origin(n, horizon, folds)")
    rows = []
    for k, fold in enumerate(folds):
        if not isinstance(fold, Fold):
            raise TypeError(f"folds must hold Fold objects from rolling_origin, got {type(fold).__name__} at {k}")
        if fold.origin + fold.horizon > len(y):
            raise ValueError(f"fold {k} forecasts up to index {fold.origin + fold.horizon - 1}, but the series has "
                             f"{len(y)} values")
        history = y[:fold.origin].clone()  # only the past, and a copy: the caller cannot touch the future
        out = torch.as_tensor(forecast(history)).detach().reshape(-1).to(torch.float64)
        if len(out) != fold.horizon:
            raise ValueError(f"forecast must return {fold.horizon} values (the horizon) at fold {k}, got {len(out)}")
        actual = y[fold.origin:fold.origin + fold.horizon]
        for h in range(fold.horizon):
            rows.append({"fold": k, "origin": fold.origin, "h": h + 1, "actual": actual[h].item(),
                         "forecast": out[h].item(), "abs_error": (out[h] - actual[h]).abs().item()})
    return pd.DataFrame(rows)


class _TransformerCore(nn.Module):
    """Values (B, C) -> Linear(1, d) + learned positions -> pre-norm encoder -> the last position -> (B, H)."""

    def __init__(self, context, horizon, d_model, nhead, num_layers, dropout):
        super().__init__()
        from .positions import LearnedPositions
        from .transformer import Encoder

        self.embed = nn.Linear(1, d_model)
        self.positions = LearnedPositions(d_model, context)
        self.encoder = Encoder(num_layers, d_model, nhead, 4 * d_model, dropout, "gelu", norm_first=True)
        self.readout = nn.Linear(d_model, horizon)

    def forward(self, z):
        h = self.positions(self.embed(z[..., None]))  # (B, C, 1) -> (B, C, d_model)
        h = self.encoder(h)  # (B, C, d_model)
        return self.readout(h[:, -1])  # (B, H)


class Forecaster(nn.Module):
    """Forecast the next ``horizon`` values from the last ``context`` ones, relative to the last value.

    Each window is made level-free before the model sees it, and the level is put back after::

        z     = (x - x[:, -1:]) / scale                          (B, C)   the window, relative to its last value
        y_hat = x[:, -1:] + scale * core(z)                      (B, H)

    so a trend never takes the model outside the range it was trained on (the idea of
    "NLinear" in Zeng et al., 2023). The core is one of ``KINDS``:

    - ``"linear"``: one ``nn.Linear(context, horizon)``;
    - ``"lstm"``: a :class:`seqlib.models.RecurrentModel` reading the window one value at a time,
      its last state read out;
    - ``"transformer"``: each value projected to ``d_model`` features, learned positions, a pre-norm
      :class:`seqlib.transformer.Encoder`, the last position read out.

    Args:
        kind: ``"linear"``, ``"lstm"`` or ``"transformer"``.
        context: C, the number of past values read.
        horizon: H, the number of future values forecast.
        scale: the typical size of a change over a window (set from the training data).
        hidden_size: the LSTM's width.
        d_model, nhead, num_layers, dropout: the Transformer's.
    """

    def __init__(self, kind: str, context: int, horizon: int, *, scale: float = 1.0, hidden_size: int = 32,
                 d_model: int = 32, nhead: int = 4, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind = kind
        self.context, self.horizon = check_int(context, "context", minimum=1), check_int(horizon, "horizon", minimum=1)
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive finite number, got {scale!r}")
        self.scale = float(scale)
        if kind == "linear":
            self.core = nn.Linear(context, horizon)
        elif kind == "lstm":
            self.core = nn.Sequential(nn.Unflatten(1, (context, 1)),  # (B, C) -> (B, C, 1): one value per step
                                      RecurrentModel("lstm", 1, check_int(hidden_size, "hidden_size", minimum=1),
                                                     horizon))
        else:
            self.core = _TransformerCore(context, horizon, d_model, nhead, check_int(num_layers, "num_layers",
                                                                                       minimum=1), dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C) past values -> (B, H) forecasts."""
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != self.context:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x must have shape (batch, context) = (B, {self.context}), got {got}")
        level = x[:, -1:]  # (B, 1)
        z = (x - level) / self.scale  # (B, C)
        return level + self.scale * self.core(z)  # (B, H)


def _least_squares(model: Forecaster, x: torch.Tensor, y: torch.Tensor) -> None:
    """Set a linear Forecaster's weights to the least-squares fit of windows x (N, C) to targets y (N, H)."""
    level = x[:, -1:]  # (N, 1)
    z = ((x - level) / model.scale).double()  # (N, C); its last column is 0, so it is left out of the fit
    target = ((y - level) / model.scale).double()  # (N, H)
    design = torch.cat([z[:, :-1], torch.ones(len(z), 1, dtype=z.dtype, device=z.device)], dim=1)  # (N, C): a column for the bias
    solution = torch.linalg.lstsq(design, target, driver="gelsd").solution  # (C, H)
    with torch.no_grad():
        model.core.weight.zero_()
        model.core.weight[:, :-1] = solution[:-1].T  # (H, C - 1)
        model.core.bias.copy_(solution[-1])  # (H,)


def _windows_and_model(kind: str, y: torch.Tensor, context: int, horizon: int, seed: int, sizes: dict,
                       val_windows: int | None = None):
    """The windows of history ``y`` (all of them, or split by :func:`split_windows`) and a fresh
    :class:`Forecaster` whose ``scale`` is the spread of the training targets relative to each
    window's last value: ``(model, x_train, y_train, x_val, y_val)``, the last two None unsplit."""
    from .data import make_windows
    from .runtime import seed_everything

    x_all, y_all = make_windows(y.numpy(), context, horizon)  # (N, C), (N, H)
    if val_windows is None:
        x_train, y_train, x_val, y_val = x_all, y_all, None, None
    else:
        x_train, y_train, x_val, y_val = split_windows(x_all, y_all, val_windows)
    scale = (y_train - x_train[:, -1:]).std().item() or 1.0
    seed_everything(seed)
    return Forecaster(kind, context, horizon, scale=scale, **sizes), x_train, y_train, x_val, y_val


def neural_forecast(kind: str, context: int, horizon: int, *, epochs: int = 20, batch_size: int = 32,
                    lr: float = 3e-3, weight_decay: float = 0.0, seed: int = 0, val_windows: int | None = None,
                    patience: int = 25, models: list | None = None, **sizes) -> Callable:
    """A forecast function for :func:`backtest` that trains a fresh :class:`Forecaster` on each history.

    Given a history, it cuts every window of ``context + horizon`` values out of it
    (:func:`seqlib.data.make_windows`), sets ``scale`` to the standard deviation of the
    targets relative to each window's last value, trains with :func:`seqlib.train.fit` (mean
    squared error, Adam) and forecasts from the last ``context`` values. A ``"linear"`` model is
    fitted by least squares instead (its exact minimum of the squared error; the training
    arguments are then unused).

    With ``val_windows``, each history is trained by :func:`train_forecaster` instead: on the
    older windows only, early-stopped (``patience``) on the last ``val_windows`` windows, at most
    ``epochs`` epochs; ``"linear"`` then fits the same training windows.

    Args:
        kind, context, horizon, sizes: as in :class:`Forecaster`.
        epochs, batch_size, lr, weight_decay, seed: the training's.
        val_windows, patience: early stopping on a validation split (None: train on every window).
        models: if a list is given, each trained model is appended to it (to inspect later).

    Returns:
        A function ``history (n,) -> forecasts (horizon,)``.
    """
    from . import train
    from .data import SeqData

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    check_int(context, "context", minimum=1)
    check_int(horizon, "horizon", minimum=1)

    def forecast(history) -> torch.Tensor:
        y = _as_series(history, "history")
        if val_windows is not None:
            model, _, _ = train_forecaster(kind, y, context, horizon, val_windows=val_windows, epochs=epochs,
                                           patience=patience, batch_size=batch_size, lr=lr, seed=seed, **sizes)
        else:
            model, x_train, y_train, _, _ = _windows_and_model(kind, y, context, horizon, seed, sizes)
            if kind == "linear":  # a linear model has a closed-form best fit: least squares, no training loop
                _least_squares(model, x_train, y_train)
            else:
                train.fit(model, SeqData(x_train, y_train), epochs=epochs, batch_size=batch_size, lr=lr,
                          loss="mse", metrics=(), weight_decay=weight_decay, seed=seed, progress=False)
        if models is not None:
            models.append(model)
        with torch.no_grad():
            return model(y[-context:].float()[None])[0]  # (H,)

    return forecast


def split_windows(x: torch.Tensor, y: torch.Tensor, val_windows: int):
    """Split time-ordered windows into training and validation windows with no shared target.

    The last ``val_windows`` windows validate. A training window's targets must end before the
    first validation target, so the ``horizon - 1`` windows just before the validation ones are
    dropped: window ``i`` has targets at ``i + C .. i + C + H - 1``, and the validation targets
    start at ``N - val_windows + C``.

    Args:
        x: inputs (N, C); y: targets (N, H), from :func:`seqlib.data.make_windows`, oldest first.
        val_windows: how many of the last windows validate (at least 1).

    Returns:
        ``(x_train, y_train, x_val, y_val)``.
    """
    n, horizon = len(x), y.shape[1]
    check_int(val_windows, "val_windows", minimum=1)
    n_train = n - val_windows - horizon + 1
    if n_train < 1:
        raise ValueError(f"{n} windows leave no training window beside {val_windows} validation windows and a gap "
                         f"of {horizon - 1} (horizon - 1); use fewer validation windows or a longer history")
    return x[:n_train], y[:n_train], x[n - val_windows:], y[n - val_windows:]


def train_forecaster(kind: str, history, context: int, horizon: int, *, val_windows: int = 24,
                     epochs: int = 200, patience: int = 25, batch_size: int = 32, lr: float = 3e-3,
                     seed: int = 0, **sizes):
    """Train one :class:`Forecaster` on ``history``, early-stopped on its last windows.

    The windows of ``history`` are split by :func:`split_windows`: the model trains on the older
    ones and stops when its loss on the last ``val_windows`` ones (the mean squared error, in
    units of ``scale``) has not improved for ``patience`` epochs, keeping the best epoch's
    weights. A ``"linear"`` model is fitted by least squares on the same training windows.

    Returns:
        ``(model, history, val_loss)``: the trained model, its :class:`seqlib.train.History`
        (None for ``"linear"``) and its validation loss (scaled mean squared error).
    """
    from . import train
    from .data import SeqData

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    y = _as_series(history, "history")
    model, x_train, y_train, x_val, y_val = _windows_and_model(kind, y, context, horizon, seed, sizes, val_windows)
    scale = model.scale

    def scaled_mse(pred, target):  # the loss in units of scale, so learning rates mean the same on any series
        return train.mse(pred / scale, target / scale)

    val = SeqData(x_val, y_val)
    if kind == "linear":
        _least_squares(model, x_train, y_train)
        log = None
    else:
        log = train.fit(model, SeqData(x_train, y_train), epochs=epochs, batch_size=batch_size, lr=lr,
                        loss=scaled_mse, metrics=(), val=val, patience=patience, seed=seed, progress=False)
    return model, log, train.evaluate(model, val, loss=scaled_mse, metrics=())["loss"]
