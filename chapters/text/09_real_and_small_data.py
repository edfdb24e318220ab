# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Real and small data
#
# The earlier chapters trained each architecture on tasks built to show one mechanism at a time.
# This chapter puts the LSTM and the Transformer head to head on data nobody designed for them:
# a real measured time series, and real text. It asks the questions the popular articles answer
# with confidence: which model forecasts a real series best, which gets more out of more parameters
# or more text, which uses its context better, and whether "small data favours LSTMs".
#
# The forecasting trial trains {glue:text}`ch9_sweep_runs` networks until they stop improving, with
# the learning rate tuned per network and {glue:text}`ch9_seeds` seeds: too long for a page, so it is a stored sweep
# that the page loads, draws and spot-checks by training one of its runs again. The language-model
# comparisons are small enough to run on the page, on one CPU thread, with several seeds to show
# how much they move. Small has a cost: the answers hold at this scale and budget, and each section
# ends by saying what the published full-scale experiments found, citing the paper and the table
# or figure.
#
# :::{admonition} Learning objectives
# :class: tip
# After this chapter you can
#
# - evaluate a forecaster with a rolling origin, so that no test value leaks into training, and
#   compare it with a seasonal naive baseline;
# - explain why a linear model is a strong forecaster once each window is taken relative to its level;
# - train a network fairly against it: a validation split inside the past, early stopping, a
#   learning rate tuned per model, several seeds, and a stored sweep when that takes too long;
# - measure a language model's loss against its size, against the size of its training set, and
#   against the position in its context;
# - measure a generalisation gap across training-set sizes and seeds, with and without regularisation;
# - turn a claim such as "small data favours LSTMs" into a measurement, and say what the measurement
#   can and cannot settle.
# :::
#
# :::{admonition} Prerequisites
# :class: note
# Chapter 3 (the LSTM), Chapter 6 (the Transformer and its decoder-only language model). Mean absolute
# error, cross-entropy in nats, least squares.
# :::
#
# :::{admonition} Run time
# :class: note
# About {glue:text}`run_time_min:.1f` minutes on one CPU thread, measured when this page was
# built. No GPU is needed.
# :::

# %%
# Colab set-up: in Colab, install the book's helper library; elsewhere, nothing.
import sys

if "google.colab" in sys.modules:
    # %pip install --quiet "seqlib @ git+https://github.com/sequence-models-on-trial/book"

# %%
import time

start = time.perf_counter()  # for the run time reported at the top of the chapter

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
import torch.nn.functional as F
from torch import nn

import seqlib
from seqlib import data, forecast, glue, models, train, transformer, viz

device = seqlib.setup(seed=0)  # seeds, one CPU thread, the book's plotting style

# %% [markdown]
# ## A real series: carbon dioxide at Mauna Loa
#
# The series ships with statsmodels {cite}`seabold2010statsmodels`: weekly measurements of the
# carbon dioxide concentration in the air at Mauna Loa, Hawaii {cite}`keeling2004atmospheric`,
# which `seqlib.data.load_series("co2")` averages to months. It has the two features of many real
# series: a trend (the concentration rises every year) and a season (plants take carbon dioxide up
# in the northern summer and give it back in winter).

# %%
co2 = data.load_series("co2")
y = co2.to_numpy()
SEASON, HORIZON, CONTEXT = (
    12,
    12,
    36,
)  # monthly data, a yearly cycle; forecast a year from three
glue("ch9_n_months", len(y))
glue("ch9_first_year", int(co2.index[0].year))
glue("ch9_last_year", int(co2.index[-1].year))
glue("ch9_rise", round(float(co2.iloc[-12:].mean() - co2.iloc[:12].mean()), 1))
ax = co2.plot(figsize=(8, 3), lw=1)
ax.set(ylabel="CO$_2$ (ppm)", xlabel="", title="Monthly mean CO$_2$ at Mauna Loa")
plt.show()

# %% [markdown]
# The series has {glue:text}`ch9_n_months` months, from {glue:text}`ch9_first_year` to
# {glue:text}`ch9_last_year`; the last year's mean lies {glue:text}`ch9_rise` ppm above the first's.
# We forecast the next {glue:text}`ch9_horizon` months from the last {glue:text}`ch9_context`.
#
# ### Rolling origin: test the way the forecaster will be used
#
# A forecaster is used at one moment (the **origin**) with everything observed before it, to
# predict what comes after. Its test must do the same. A random train/test split of windows would
# let the model train on months that lie after some of the months it is tested on: a leak that
# flatters every model that can memorise. The **rolling-origin** evaluation {cite}`tashman2000out`
# picks several origins near the end of the series; at each, the model is trained on the values
# before the origin only and tested on the next `HORIZON` values. `seqlib.forecast.rolling_origin`
# makes the folds and `seqlib.forecast.backtest` runs a forecaster at each of them, handing it a
# copy of the past and nothing else (a test in `tests/test_forecast.py` fills the future with NaN
# and checks that no forecaster ever sees one).
#
# The baseline every model must beat is the **seasonal naive** forecast: each month is forecast by
# the same month one season earlier,
#
# $$
# \hat y_{n+h} = y_{n+h-s\lceil h/s \rceil}, \qquad h = 1, \dots, H,
# $$ (ch9-snaive)
#
# with season $s = 12$. It captures the cycle and ignores the trend.

# %%
folds = forecast.rolling_origin(len(y), HORIZON, folds=4)
for fold in folds:
    print(
        f"origin {co2.index[fold.origin]:%Y-%m}: train on {fold.origin} months, "
        f"test {co2.index[fold.test[0]]:%Y-%m} to {co2.index[fold.test[-1]]:%Y-%m}"
    )
naive_result = forecast.backtest(
    lambda history: forecast.seasonal_naive(history, HORIZON, SEASON), y, folds
)
naive_mae = naive_result["abs_error"].mean()
glue("ch9_horizon", HORIZON)
glue("ch9_context", CONTEXT)
glue("ch9_folds", len(folds))
glue("ch9_naive_mae", round(float(naive_mae), 2))
print(f"seasonal naive: mean absolute error {naive_mae:.2f} ppm")

# %% [markdown]
# Over the {glue:text}`ch9_folds` folds the seasonal naive forecast misses by
# {glue:text}`ch9_naive_mae` ppm on average: about one year of the trend, which it ignores.
#
# ## Three forecasters, one protocol
#
# `seqlib.forecast.Forecaster` reads the last $C$ values and forecasts the next $H$. All three
# versions see each window **relative to its last value**, scaled by a constant from the training
# data, and add that level back to their output:
#
# $$
# z = (x - x_C)/\sigma, \qquad \hat y = x_C + \sigma\, f(z).
# $$ (ch9-level)
#
# This is the trick of the "NLinear" model of {cite:t}`zeng2023transformers`: the trend moves every
# window's level, and a model trained on the levels of the past would have to extrapolate to the
# levels of the future; relative to its last value, a window of 2001 looks like one of 1960. The
# three choices of $f$:
#
# - **linear**: $f(z) = Wz + b$, fitted exactly by least squares;
# - **LSTM**: an LSTM of 29 units reads $z$ one month at a time; its last state is read out;
# - **Transformer**: each month is projected to 16 features, learned positions are added, one
#   pre-norm encoder layer (2 heads, a feed-forward width of 64) runs over the window, and the last
#   position is read out.
#
# The two networks are matched in size: {glue:text}`ch9_lstm_params:,` and
# {glue:text}`ch9_tf_params:,` parameters.
#
# ### A fair trial: trained until they stop improving
#
# A network stopped after a handful of epochs may simply not have learned yet, and a verdict
# against it would convict the budget, not the architecture. So each network is trained the way a
# careful practitioner would train it. Tuning decides rankings: {cite:t}`melis2018state` tuned every
# language model with the same large search, at matched parameter counts, and a standard LSTM then
# beat the newer recurrent architectures that had been reported ahead of it.
#
# - **A validation split inside the past.** At each origin the last {glue:text}`ch9_val_windows`
#   windows before the origin validate; the {glue:text}`ch9_gap` windows just before them, whose
#   targets overlap the first validation targets, are dropped; the older windows train
#   (`seqlib.forecast.split_windows`). The test year plays no part in any choice.
# - **Early stopping.** Adam on the mean squared error, batches of 32, until the validation loss
#   has not improved for {glue:text}`ch9_patience` epochs (at most {glue:text}`ch9_max_epochs`);
#   the best epoch's weights are kept.
# - **The learning rate tuned per model**, among {glue:text}`ch9_lrs`: the one with the lowest
#   median validation loss over seeds.
# - **{glue:text}`ch9_seeds` seeds** at every learning rate and fold; we report the median and the
#   range.
#
# The linear model has nothing to tune. We fit it twice: on the networks' training windows (the
# same data), and on every window before the origin (the stronger baseline, since it needs no
# validation).
#
# That is {glue:text}`ch9_sweep_runs` training runs and {glue:text}`ch9_sweep_minutes` minutes on
# one CPU thread, more than a chapter should spend. They form a **stored sweep**: the command
# `python -m seqlib.sweeps run co2` ran them once, under the book's pinned numerics, and wrote one
# record per run (its configuration, learning curves, best epoch, validation loss and test error)
# into a file that ships inside `seqlib`. The chapter loads the records; further down it trains one
# of them again, to show that the records are what the code produces.

# %%
from seqlib import sweeps
from seqlib.sweeps import forecasting as co2_sweep

# the sweep forecasts at this chapter's folds, with this chapter's context and horizon
assert [f.origin for f in co2_sweep.folds()] == [f.origin for f in folds]
assert (co2_sweep.CONTEXT, co2_sweep.HORIZON) == (CONTEXT, HORIZON)
NAMES = {"lstm": "LSTM", "transformer": "Transformer"}
runs = sweeps.load("co2")  # one row per stored training run
runs["model"] = runs["model"].map(NAMES)
params = runs.groupby("model")["params"].first()
# each (model, learning rate, seed): its validation loss averaged over the folds;
# then the median over seeds, and per model the learning rate where that median is lowest
val_by_lr = (
    runs.groupby(["model", "lr", "seed"])["val_loss"]
    .mean()
    .groupby(["model", "lr"])
    .median()
    .unstack("lr")
)
best_lr = val_by_lr.idxmin(axis=1)
tuned = runs[runs["lr"] == runs["model"].map(best_lr)]
print("parameters:", params.to_dict())
print("learning rate chosen on the validation windows:", best_lr.to_dict())
val_by_lr.round(4)

# %% [markdown]
# Each row is a network, each column a learning rate, each entry the median over seeds of the
# validation loss (averaged over the four origins). The LSTM does best at {glue:text}`ch9_lstm_lr`,
# the Transformer at {glue:text}`ch9_tf_lr`; both lie inside the grid, so a wider grid would not
# change the choice. Here are the learning curves at those rates, at the last origin:

# %%
LAST = len(folds) - 1  # the most recent origin
curves = pd.DataFrame(
    [
        {
            "model": row.model,
            "seed": row.seed,
            "epoch": epoch + 1,
            "split": split.replace("_loss", ""),
            "loss": value,
        }
        for row in tuned[tuned["fold"] == LAST].itertuples()
        for split in ("train_loss", "val_loss")
        for epoch, value in enumerate(row.record["curve"][split])
    ]
)
grid = sns.relplot(
    data=curves,
    x="epoch",
    y="loss",
    hue="split",
    units="seed",
    estimator=None,
    col="model",
    kind="line",
    lw=0.8,
    height=3,
    aspect=1.4,
)
for ax, (name, group) in zip(grid.axes.flat, tuned[tuned["fold"] == LAST].groupby("model")):
    ax.scatter(group["best_epoch"], group["val_loss"], color="k", s=12, zorder=3, label="kept")
    ax.set(yscale="log", title=f"{name}, learning rate {best_lr[name]:g}")
grid.set_axis_labels("epoch", "loss (scaled MSE)")
grid.figure.suptitle(
    "Learning curves at the last origin, one line per seed; dots: the epoch kept", y=1.04
)
plt.show()
epochs = tuned.groupby("model")[["best_epoch", "epochs_run"]].agg(["min", "median", "max"])
epochs

# %% [markdown]
# The training loss keeps falling while the validation loss levels off: the black dots, where the
# weights were kept, mark where the networks stopped learning anything that carries over to later
# years. Every one of the {glue:text}`ch9_sweep_runs` runs stopped that way, the longest after
# {glue:text}`ch9_longest_run` epochs, well inside the cap of {glue:text}`ch9_max_epochs`. The test
# years, beside the baselines:

# %%
# the baselines, at the same folds: least squares on every window before the origin, and on
# the networks' training windows only; the seasonal naive and the naive (last value) forecasts
baselines = {
    "linear (all windows)": forecast.neural_forecast("linear", CONTEXT, HORIZON),
    "linear (training windows)": forecast.neural_forecast(
        "linear", CONTEXT, HORIZON, val_windows=co2_sweep.VAL_WINDOWS
    ),
    "seasonal naive": lambda h: forecast.seasonal_naive(h, HORIZON, SEASON),
    "naive (last value)": lambda h: forecast.seasonal_naive(h, HORIZON, 1),
}
baseline_mae = pd.Series(
    {
        name: forecast.backtest(fn, y, folds)["abs_error"].mean()
        for name, fn in baselines.items()
    }
)
# each network and seed: its test error averaged over the four folds, at its chosen learning rate
per_seed = tuned.groupby(["model", "seed"])["test_mae"].mean().reset_index()
summary = per_seed.groupby("model")["test_mae"].agg(["median", "min", "max"])
table = pd.concat(
    [summary, pd.DataFrame({"median": baseline_mae, "min": baseline_mae, "max": baseline_mae})]
)
fig, ax = plt.subplots(figsize=(7, 3))
sns.stripplot(data=per_seed, x="test_mae", y="model", size=8, ax=ax)
for (name, value), style in zip(baseline_mae.items(), ["-", "--", ":", "-."]):
    ax.axvline(value, color="gray", ls=style, lw=1, label=name)
ax.legend(loc="center right", fontsize=8, frameon=True)
ax.set(
    xlabel="mean absolute error over 4 folds (ppm)",
    ylabel="",
    title="Test error, one dot per seed; lines: the baselines",
)
ax.set_xlim(0, None)
plt.show()
table.round(3).rename(columns={"median": "median MAE (ppm)", "min": "best seed", "max": "worst seed"})


# %% [markdown]
# And the same networks with a hurried budget, trained live: {glue:text}`ch9_hurried_epochs` epochs
# each, at their tuned learning rates, {glue:text}`ch9_seeds` seeds, every fold.
#

# %%
def budgeted(kind, seed, epochs, patience):
    # the sweep's recipe (its chosen learning rate, sizes and split) with another budget:
    # the mean test error over the four folds
    fn = forecast.neural_forecast(
        kind,
        CONTEXT,
        HORIZON,
        val_windows=co2_sweep.VAL_WINDOWS,
        epochs=epochs,
        patience=patience,
        batch_size=co2_sweep.BATCH,
        lr=float(best_lr[NAMES[kind]]),
        seed=seed,
        **co2_sweep.SIZES[kind],
    )
    return forecast.backtest(fn, y, folds)["abs_error"].mean()


# a hurried comparison: 8 epochs (the best of them kept), at the tuned learning rates
HURRIED_EPOCHS = 8
hurried = pd.DataFrame(
    [
        {"model": NAMES[kind], "seed": seed, "test_mae": budgeted(kind, seed, HURRIED_EPOCHS, HURRIED_EPOCHS)}
        for kind in NAMES
        for seed in co2_sweep.SEEDS
    ]
)
hurried_summary = hurried.groupby("model")["test_mae"].agg(["median", "min", "max"])
hurried_summary.round(3)


# %% tags=["hide-input"]
def versus(name, value, table=summary):
    # a network's seed range against a baseline: ahead only if every seed is better, behind
    # only if every seed is worse; overlapping is a tie
    lo, hi = table.loc[name, "min"], table.loc[name, "max"]
    return "ahead" if hi < value else "behind" if lo > value else "tie"


PHRASES = {
    "ahead": "ahead of it in every seed",
    "tie": "tied with it",
    "behind": "behind it in every seed",
}


lin = baseline_mae[["linear (all windows)", "linear (training windows)"]].min()
for name, key in (("LSTM", "lstm"), ("Transformer", "tf")):
    glue(f"ch9_{key}_params", int(params[name]))
    glue(f"ch9_{key}_lr", f"{best_lr[name]:g}")
    glue(f"ch9_{key}_mae", round(float(summary.loc[name, "median"]), 2))
    glue(f"ch9_{key}_mae_min", round(float(summary.loc[name, "min"]), 2))
    glue(f"ch9_{key}_mae_max", round(float(summary.loc[name, "max"]), 2))
    glue(f"ch9_{key}_vs_linear", round(float(summary.loc[name, "median"] / lin), 2))
    glue(f"ch9_{key}_best_epoch", int(tuned.loc[tuned["model"] == name, "best_epoch"].median()))
glue("ch9_linear_mae", round(float(lin), 2))
glue("ch9_linear_all_mae", round(float(baseline_mae["linear (all windows)"]), 2))
glue("ch9_linear_train_mae", round(float(baseline_mae["linear (training windows)"]), 2))
glue("ch9_last_value_mae", round(float(baseline_mae["naive (last value)"]), 2))
glue("ch9_naive_vs_linear", round(float(naive_mae / lin), 1))
glue("ch9_val_windows", co2_sweep.VAL_WINDOWS)
glue("ch9_gap", HORIZON - 1)
glue("ch9_patience", co2_sweep.PATIENCE)
glue("ch9_max_epochs", co2_sweep.MAX_EPOCHS)
glue("ch9_lrs", ", ".join(f"{lr:g}" for lr in co2_sweep.LRS))
glue("ch9_sweep_runs", len(runs))
glue("ch9_seeds", len(co2_sweep.SEEDS))
glue("ch9_sweep_minutes", round(float(runs["seconds"].sum() / 60)))
glue("ch9_longest_run", int(runs["epochs_run"].max()))
# every run stopped because its validation loss had stopped improving, none at the epoch cap
assert (runs["epochs_run"] == runs["best_epoch"] + co2_sweep.PATIENCE).all()
assert runs["epochs_run"].max() < co2_sweep.MAX_EPOCHS
# the two networks are matched in size (within 2%)
assert abs(params["LSTM"] / params["Transformer"] - 1) < 0.02
# every model beats both naive baselines by a wide margin, in every seed
assert summary["max"].max() < 0.5 * baseline_mae[["seasonal naive", "naive (last value)"]].min()
# the chosen learning rates lie inside the grid, not at its edge (else the grid would be widened)
assert all(min(co2_sweep.LRS) < lr < max(co2_sweep.LRS) for lr in best_lr)
# where a hurried comparison stopped: the validation loss after its epochs, over the best
early = tuned["record"].map(
    lambda r: r["curve"]["val_loss"][HURRIED_EPOCHS - 1] / min(r["curve"]["val_loss"])
)
glue("ch9_hurried_epochs", HURRIED_EPOCHS)
glue("ch9_epoch8_ratio", round(float(early.median()), 1))
for name, key in (("LSTM", "lstm"), ("Transformer", "tf")):
    glue(f"ch9_{key}_hurried_min", round(float(hurried_summary.loc[name, "min"]), 2))
    glue(f"ch9_{key}_hurried_max", round(float(hurried_summary.loc[name, "max"]), 2))
    glue(f"ch9_{key}_hurried_verdict", PHRASES[versus(name, lin, hurried_summary)])
# after 8 epochs the Transformer loses to least squares in every seed
assert versus("Transformer", lin, hurried_summary) == "behind"
# how much the verdict rests on the tuning: (learning rate, seed) pairs behind least squares
all_lr = runs.groupby(["model", "lr", "seed"])["test_mae"].mean()
behind = (all_lr > lin).groupby("model").sum()
glue("ch9_lstm_behind", int(behind["LSTM"]))
glue("ch9_tf_behind", int(behind["Transformer"]))
glue("ch9_grid_pairs", len(co2_sweep.LRS) * len(co2_sweep.SEEDS))
# the verdicts: the LSTM ahead of least squares in every seed, the Transformer tied with it,
# and the two networks tied with each other (their seed ranges overlap)
verdicts = {name: versus(name, lin) for name in NAMES.values()}
print(verdicts)
assert verdicts == {"LSTM": "ahead", "Transformer": "tie"}
# the Transformer's median is below the LSTM's: a tie by spread, not by its typical seed
assert summary.loc["Transformer", "median"] < summary.loc["LSTM", "median"]
assert (
    summary.loc["LSTM", "min"] < summary.loc["Transformer", "max"]
    and summary.loc["Transformer", "min"] < summary.loc["LSTM", "max"]
)
glue("ch9_lstm_fc_gain", f"{1 - summary.loc['LSTM', 'median'] / lin:.0%}")
glue("ch9_lstm_margin", round(float(lin - summary.loc["LSTM", "median"]), 2))

# %% [markdown]
# Every model beats the naive forecasts by far (the seasonal naive misses by
# {glue:text}`ch9_naive_mae` ppm, the last value repeated by {glue:text}`ch9_last_value_mae`):
# taking each window relative to its last value handles the trend. Least squares misses by
# {glue:text}`ch9_linear_train_mae` ppm on the networks' training windows and
# {glue:text}`ch9_linear_all_mae` on all of them. Trained until they stopped improving (a median of
# {glue:text}`ch9_lstm_best_epoch` and {glue:text}`ch9_tf_best_epoch` epochs), the LSTM misses by
# {glue:text}`ch9_lstm_mae` at the median seed ({glue:text}`ch9_lstm_mae_min` to
# {glue:text}`ch9_lstm_mae_max`), {glue:text}`ch9_lstm_vs_linear` times the better least-squares
# error, and the Transformer by {glue:text}`ch9_tf_mae` ({glue:text}`ch9_tf_mae_min` to
# {glue:text}`ch9_tf_mae_max`), {glue:text}`ch9_tf_vs_linear` times. So the LSTM is ahead of least
# squares in every seed, by {glue:text}`ch9_lstm_fc_gain` at the median. The Transformer's median is
# lower still, but its seeds spread wider and straddle least squares: a tie. And the two networks'
# ranges overlap, another tie.
#
# Three things say how much weight this verdict bears.
#
# - **The budget moves the verdict.** After {glue:text}`ch9_hurried_epochs` epochs, the budget a hurried comparison might give
#   (the cell above), the networks' validation loss was still {glue:text}`ch9_epoch8_ratio` times
#   its best (median over the tuned runs), and the Transformer lost to least squares in every seed
#   ({glue:text}`ch9_tf_hurried_min` to {glue:text}`ch9_tf_hurried_max` ppm); the LSTM
#   ({glue:text}`ch9_lstm_hurried_min` to {glue:text}`ch9_lstm_hurried_max`) was
#   {glue:text}`ch9_lstm_hurried_verdict`. A comparison stopped there convicts the budget, not the
#   architecture.
# - **The lead rests on the tuning.** Over all {glue:text}`ch9_grid_pairs` pairs of learning rate
#   and seed, {glue:text}`ch9_lstm_behind` of the LSTM's and {glue:text}`ch9_tf_behind` of the
#   Transformer's fell behind least squares. Pick a learning rate without a validation split and
#   either network may lose to a closed-form fit.
# - **The margin is small.** {glue:text}`ch9_lstm_margin` ppm at the median, over four test
#   years. The series is close
#   to what a linear function of its past can predict (a trend, a stable yearly cycle and noise),
#   and least squares finds that function in one step; a network has to find it by gradient descent
#   from a few hundred windows, and can plausibly add a little of the nonlinearity that least
#   squares cannot.
#
# :::{admonition} Claim on trial: "for time-series prediction LSTMs are the natural choice, and Transformers are taking over forecasting"
# :class: claim warning
# :name: claim-ch09-time-series-prediction-lstms-natural
# **Verdict: depends, and less than either half suggests.** Under a rolling origin, with the
# learning rate tuned on a validation split, early stopping and {glue:text}`ch9_seeds` seeds, the LSTM beat least
# squares in every seed ({glue:text}`ch9_lstm_vs_linear` times its error at the median) and the
# Transformer tied with it and with the LSTM (stored sweep `co2`, {glue:text}`ch9_sweep_runs`
# runs). Stopped early, the Transformer lost to least squares in every seed and the LSTM was {glue:text}`ch9_lstm_hurried_verdict`; at a badly chosen learning rate some seeds of each lost. So a network is not the natural
# choice: least squares is the baseline it must beat, and on one short series the LSTM's gain was a
# few percent, bought with a tuning sweep. Nor is the Transformer taking over here. At benchmark
# scale: {cite:t}`zeng2023transformers` (Table 2) found that a one-layer linear model beat the
# Transformer forecasters of the time (Informer, Autoformer, FEDformer and others) on most of nine
# long-horizon benchmarks, and in the M4 competition of 100,000 series {cite}`makridakis2020m4` the
# pure machine-learning entries ranked below simple statistical combinations; the winner was a
# hybrid of exponential smoothing and an LSTM. *Source of the claim: seed articles 000, 002 and
# 003.*
# :::

# %% [markdown]
# ### Are the records what the code produces?
#
# A stored result is only as good as the claim that it can be made again. The cell below trains
# one of the {glue:text}`ch9_sweep_runs` runs afresh, with the same code and seed, and compares it
# with its record. Where the record and this run both use the book's pinned numerics (the tests, and
# `make refresh`; `sweeps.reproducible` says so) every number must come back to the last bit: the
# learning curves, the epoch kept, the validation loss and the forecast. Under other numerics (Colab's,
# or the book's earlier pin, under which the first records were made and which reproduces on Intel's
# processors only), or with other seeds, it is a fresh run of the same recipe, and the cell checks only
# that it still forecasts far better than the seasonal naive baseline.
# `tests/test_sweeps.py` re-runs a sample of every stored sweep the same way.

# %%
# one stored run, trained again here: the Transformer at its chosen learning rate, seed 0,
# the last origin (a few seconds)
config = {"model": "transformer", "lr": float(best_lr["Transformer"]), "seed": 0, "fold": LAST}
stored = next(r for r in sweeps.records("co2") if r["config"] == config)
live = sweeps.rerun("co2", config)
if sweeps.reproducible(stored):
    # the book's pinned numerics and seeds, here and when the record was made: it must come
    # back to the last bit
    assert sweeps.same(live, stored), sweeps.differences(live, stored)[:3]
    print(
        f"re-ran {config}: {len(live['curve']['val_loss'])} epochs, best epoch "
        f"{live['best_epoch']}, test MAE {live['result']['test_mae']:.4f} ppm, the same as "
        "the stored record in every number"
    )
else:
    # other CPU numerics (as in Colab, or when the record was made) or other seeds: a fresh
    # run of the same recipe, which must still beat the seasonal naive forecast of that year by far
    naive_last = forecast.backtest(baselines["seasonal naive"], y, folds[LAST:])["abs_error"].mean()
    assert live["result"]["test_mae"] < 0.5 * naive_last
    print(
        f"a fresh run of {config} (made under other numerics or seeds than the record): test MAE "
        f"{live['result']['test_mae']:.4f} ppm; stored {stored['result']['test_mae']:.4f}"
    )

# %% [markdown]
# ## Language models: size, data and context
#
# The second head-to-head is next-character prediction on the book's corpus, Python's own
# documentation (Chapter 6). To compare fairly we split the corpus into blocks of 512 characters
# and hold out a random tenth of the blocks for validation, so that training and validation text
# come from the same mix of topics. Both architectures get the same budget: the same number of
# Adam steps on windows of 32 characters, batches of 32.
#
# - the **LSTM**: an embedding of 16 dimensions, one LSTM layer, a read-out at every position;
#   dropout (when asked for) on the embedding and before the read-out;
# - the **Transformer**: Chapter 6's `DecoderOnlyLM`, pre-norm, learned positions, 2 heads,
#   feed-forward width $4d$; dropout (when asked for) everywhere the model has it.
#
# As {cite:t}`kaplan2020scaling` do, we count **non-embedding parameters**: the weights outside the
# token and position tables.

# %%
text = data.load_corpus()
vocab = data.corpus_vocab(text)
ids = torch.as_tensor(vocab.encode(text))
V, BLOCK = len(vocab), 512
blocks = ids[: len(ids) // BLOCK * BLOCK].view(-1, BLOCK)  # (n_blocks, 512)
order = torch.randperm(len(blocks), generator=seqlib.generator(0))
n_val = len(blocks) // 10
val_ids = blocks[order[:n_val]].reshape(-1)  # a random tenth of the blocks
train_ids = blocks[order[n_val:]].reshape(-1)  # the rest, in a random block order
T_LM, B_LM, STEPS = 32, 32, 120
lm_val = data.SeqData(*data.char_windows(val_ids, T_LM, 512, seed=1))


def make_lm(arch, size, dropout=0.0):
    if (
        arch == "LSTM"
    ):  # embed in 16 dimensions, one LSTM layer, logits at every step
        return models.RecurrentModel(
            "lstm", V, size, V, tokens=True, per_step=True, dropout=dropout
        )
    d_model, layers = size
    return transformer.DecoderOnlyLM(
        V,
        d_model=d_model,
        nhead=2,
        num_layers=layers,
        dim_feedforward=4 * d_model,
        dropout=dropout,
        max_len=T_LM,
    )


def non_embedding(model):
    return sum(
        p.numel() for name, p in model.named_parameters() if "embed" not in name
    )


def lm_run(arch, size, n_chars, seed, dropout=0.0):
    """Train on the first n_chars of the training text for STEPS steps; losses in nats per character."""
    seqlib.setup(seed, style=False)
    model = make_lm(arch, size, dropout)
    source = train_ids[:n_chars]
    windows = data.SeqData(
        *data.char_windows(source, T_LM, STEPS * B_LM, seed=seed)
    )
    train.fit(
        model,
        windows,
        epochs=1,
        batch_size=B_LM,
        lr=1e-2 if arch == "LSTM" else 3e-3,
        warmup=0 if arch == "LSTM" else 30,
        metrics=(),
        seed=seed,
    )
    seen = data.SeqData(*data.char_windows(source, T_LM, 512, seed=2))
    return model, {
        "architecture": arch,
        "non-embedding parameters": non_embedding(model),
        "training characters": n_chars,
        "seed": seed,
        "dropout": dropout,
        "train loss": train.evaluate(model, seen, metrics=())["loss"],
        "validation loss": train.evaluate(model, lm_val, metrics=())["loss"],
    }


glue("ch9_train_chars", len(train_ids))
glue("ch9_steps", STEPS)
glue("ch9_lm_context", T_LM)

# %% [markdown]
# ### Loss against model size
#
# Three sizes of each architecture, three seeds each, all trained on the whole training text
# ({glue:text}`ch9_train_chars:,` characters) for {glue:text}`ch9_steps` steps.

# %%
LM_SIZES = {"LSTM": [16, 32, 64], "Transformer": [(16, 1), (32, 1), (32, 2)]}
LM_SEEDS = [0, 1, 2]
lm_models, rows = {}, []
for arch, sizes in LM_SIZES.items():
    for size in sizes:
        for seed in LM_SEEDS:
            model, row = lm_run(arch, size, len(train_ids), seed)
            lm_models[(arch, size, seed)] = model
            rows.append(row)
by_size = pd.DataFrame(rows)
viz.plot_curves(
    by_size,
    x="non-embedding parameters",
    y="validation loss",
    hue="architecture",
    style="architecture",
    logx=True,
    title="Validation loss against model size (equal steps)",
)
plt.show()
by_size.groupby(["architecture", "non-embedding parameters"])[
    "validation loss"
].agg(["min", "max"]).round(3)

# %% tags=["hide-input"]
size_means = by_size.groupby(["architecture", "non-embedding parameters"])[
    "validation loss"
].mean()
lstm_curve, tf_curve = size_means["LSTM"], size_means["Transformer"]
# both improve with size: the largest model of each beats its smallest
assert (
    lstm_curve.iloc[-1] < lstm_curve.iloc[0] - 0.1
    and tf_curve.iloc[-1] < tf_curve.iloc[0] - 0.1
)
# at this budget the LSTM is ahead at every size it shares a range with
assert lstm_curve.min() < tf_curve.min() - 0.05
glue("ch9_lstm_best", round(float(lstm_curve.min()), 2))
glue("ch9_tf_best", round(float(tf_curve.min()), 2))
glue("ch9_lstm_big", int(lstm_curve.index[-1]))
glue("ch9_tf_big", int(tf_curve.index[-1]))
glue("ch9_uniform", round(float(math.log(V)), 2))


# %% [markdown]
# Both architectures improve from their smallest size, the LSTM at every step; the Transformer's
# two-layer model is no better than its one-layer model of width 32 (their seed ranges overlap). At
# this budget the LSTM is ahead: its largest model
# ({glue:text}`ch9_lstm_big:,` non-embedding parameters) reaches {glue:text}`ch9_lstm_best` nats
# per character on the validation text, the largest Transformer ({glue:text}`ch9_tf_big:,`)
# {glue:text}`ch9_tf_best` (a uniform guess over the vocabulary would score
# {glue:text}`ch9_uniform`). With {glue:text}`ch9_steps` steps neither has converged; what this
# measures is how fast each learns from the same few thousand windows, and the LSTM learns faster,
# plausibly because its recurrence reads order without having to learn positions.
#
# ### Loss against position in the context
#
# A language model's loss at position $t$ of its window measures how well it uses the $t$ characters
# before: the first character of a window is predicted from nothing. We take the largest model of
# each architecture and average its loss at each position over 4,096 validation windows.

# %%
def loss_by_position(model, val):
    with torch.no_grad():
        logits = model(val.x)  # (N, T, V)
        losses = F.cross_entropy(
            logits.transpose(1, 2), val.y, reduction="none"
        )  # (N, T)
    return losses.mean(0)  # (T,)


position_val = data.SeqData(
    *data.char_windows(val_ids, T_LM, 4096, seed=3)
)  # 4096 characters per position
rows = []
for arch, sizes in LM_SIZES.items():
    for seed in LM_SEEDS:
        curve = loss_by_position(lm_models[(arch, sizes[-1], seed)], position_val)
        rows += [
            {"architecture": arch, "seed": seed, "position": t + 1, "loss": v}
            for t, v in enumerate(curve.tolist())
        ]
by_position = pd.DataFrame(rows)
viz.plot_curves(
    by_position,
    x="position",
    y="loss",
    hue="architecture",
    style="architecture",
    title="Validation loss at each position of the context",
)
plt.show()
pos = by_position.groupby(["architecture", "position"])["loss"].mean()
for arch, key in (("LSTM", "lstm"), ("Transformer", "tf")):
    first, late = float(pos[arch].iloc[0]), float(pos[arch].iloc[-8:].mean())
    glue(f"ch9_{key}_pos1", round(first, 2))
    glue(f"ch9_{key}_late", round(late, 2))
    glue(f"ch9_{key}_gain", round(first - late, 2))
gains = {
    arch: float(pos[arch].iloc[0] - pos[arch].iloc[-8:].mean()) for arch in LM_SIZES
}
# the LSTM gains much more from its context than the Transformer does, at this budget
assert gains["LSTM"] > 0.2 and gains["LSTM"] > gains["Transformer"] + 0.15

# %% [markdown]
# The two curves differ more than the final losses do. The LSTM's loss falls from
# {glue:text}`ch9_lstm_pos1` nats at the first position to {glue:text}`ch9_lstm_late` over the last
# eight positions: it uses the characters before. The Transformer starts slightly better
# ({glue:text}`ch9_tf_pos1`: from the current character alone it has learned a little more) but
# gains only {glue:text}`ch9_tf_gain` nats along the window, ending at {glue:text}`ch9_tf_late`. In
# {glue:text}`ch9_steps` steps it has learned what one character says about the next, and barely
# begun to attend to earlier ones; the LSTM's recurrence passes the past along from the first step.
#
# :::{admonition} Claim on trial: "Transformers are better than LSTMs at everything, and scale better"
# :class: claim warning
# :name: claim-ch09-transformers-better-lstms-everything-scale
# **Verdict: depends on the scale; at ours it does not hold.** With equal training steps the LSTM
# reached {glue:text}`ch9_lstm_best` nats per character against the Transformer's
# {glue:text}`ch9_tf_best`, and it made more use of its {glue:text}`ch9_lm_context`-character context
# ({glue:text}`ch9_lstm_gain` nats gained along the window against {glue:text}`ch9_tf_gain`).
# At full scale the picture reverses: Figure 7 of {cite:t}`kaplan2020scaling` compares LSTMs and
# Transformers over several orders of magnitude of size, trained on web text; the Transformers' loss keeps
# falling with size where the LSTMs' bends away (left panel), and per-token loss against position in
# a 1024-token context shows LSTMs matching Transformers on the first tokens but levelling off after
# about a hundred, while Transformers keep improving to the end (right panel). What the
# Transformer wins at scale is the use of long contexts and of large models, neither of which a
# 32-character window and models of at most {glue:text}`ch9_tf_big:,` non-embedding parameters
# can show. *Source of the claim: seed articles 000
# and 001.*
# :::
#
# ## The small-data question
#
# "LSTMs are better for small data" can mean two different things: that an LSTM reaches a lower
# validation loss when the training set is small, or that it overfits less, so that the gap between
# its training and validation loss is smaller. We measure both. Each model of the middle size
# (LSTM of 32 units, Transformer of one layer of width 32) is trained for the same
# {glue:text}`ch9_steps` steps on the first 2,000, 8,000 or 32,000 characters of the training text,
# so that smaller sets are seen more often, with and without dropout of 0.2, three seeds each. The
# **generalisation gap** is the validation loss minus the loss on the training text itself.

# %%
DATA_SIZES, DROPOUTS = [2_000, 8_000, 32_000], [0.0, 0.2]
MIDDLE = {"LSTM": 32, "Transformer": (32, 1)}
rows = [
    lm_run(arch, MIDDLE[arch], n_chars, seed, dropout)[1]
    for arch in MIDDLE
    for n_chars in DATA_SIZES
    for dropout in DROPOUTS
    for seed in LM_SEEDS
]
full = by_size[
    by_size["non-embedding parameters"].isin(
        [non_embedding(make_lm(a, s)) for a, s in MIDDLE.items()]
    )
]
small = pd.concat([pd.DataFrame(rows), full], ignore_index=True)
small["gap"] = small["validation loss"] - small["train loss"]
small["setting"] = small["architecture"] + np.where(
    small["dropout"] > 0, ", dropout 0.2", ""
)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for ax, column in zip(axes, ["validation loss", "gap"]):
    sns.lineplot(
        data=small,
        x="training characters",
        y=column,
        hue="setting",
        style="setting",
        markers=True,
        errorbar=("pi", 100),
        ax=ax,
    )
    ax.set_xscale("log")
axes[0].set_title("Validation loss (band: range over seeds)")
axes[1].set_title("Generalisation gap (validation - train)")
axes[0].get_legend().remove()
plt.show()
table = small.groupby(["setting", "training characters"])[
    ["validation loss", "gap"]
].agg(["min", "max"])
table.round(3)

# %%
g = small.groupby(["architecture", "dropout", "training characters"])[
    ["validation loss", "gap"]
]
lo, hi = g.min(), g.max()
tiny = DATA_SIZES[0]
for arch, key in (("LSTM", "lstm"), ("Transformer", "tf")):
    glue(f"ch9_{key}_gap_tiny", round(float(lo.loc[(arch, 0.0, tiny), "gap"]), 2))
    glue(
        f"ch9_{key}_gap_tiny_hi", round(float(hi.loc[(arch, 0.0, tiny), "gap"]), 2)
    )
    glue(
        f"ch9_{key}_gap_full",
        round(float(hi.loc[(arch, 0.0, len(train_ids)), "gap"]), 2),
    )
    glue(
        f"ch9_{key}_val_tiny",
        round(float(lo.loc[(arch, 0.0, tiny), "validation loss"]), 2),
    )
    glue(
        f"ch9_{key}_val_tiny_drop",
        round(float(lo.loc[(arch, 0.2, tiny), "validation loss"]), 2),
    )
    glue(
        f"ch9_{key}_gap_tiny_drop",
        round(float(hi.loc[(arch, 0.2, tiny), "gap"]), 2),
    )
    # the gap shrinks as the data grow, in every seed
    assert (
        lo.loc[(arch, 0.0, tiny), "gap"]
        > hi.loc[(arch, 0.0, len(train_ids)), "gap"] + 0.3
    )
mean = g.mean()
lead = {  # the Transformer's mean validation loss minus the LSTM's: positive when the LSTM is ahead
    n: float(
        mean.loc[("Transformer", 0.0, n), "validation loss"]
        - mean.loc[("LSTM", 0.0, n), "validation loss"]
    )
    for n in DATA_SIZES + [len(train_ids)]
}
print("LSTM's lead in validation loss:", {n: round(v, 3) for n, v in lead.items()})
glue("ch9_lead_tiny", round(lead[tiny], 2) + 0.0)  # + 0.0 turns -0.0 into 0.0
glue("ch9_lead_full", round(lead[len(train_ids)], 2))
glue("ch9_tiny", tiny)
glue("ch9_repeats", round(STEPS * B_LM * T_LM / tiny))
gap_diff = float(
    mean.loc[("LSTM", 0.0, tiny), "gap"]
    - mean.loc[("Transformer", 0.0, tiny), "gap"]
)
glue("ch9_gap_diff", round(gap_diff, 2))
# the LSTM's lead is smallest on the smallest set and grows with the data: small data is not
# what favours it (whether the two tie on the smallest set depends on the seeds)
assert lead[len(train_ids)] > lead[tiny] + 0.03
# and on the smallest set the LSTM overfits more, not less
assert gap_diff > 0.05


# %% [markdown]
# Small data opens a gap in both: trained on {glue:text}`ch9_tiny:,` characters (each character
# seen about {glue:text}`ch9_repeats` times in {glue:text}`ch9_steps` steps), the LSTM's validation loss exceeds its training
# loss by {glue:text}`ch9_lstm_gap_tiny` to {glue:text}`ch9_lstm_gap_tiny_hi` nats, the Transformer's
# by {glue:text}`ch9_tf_gap_tiny` to {glue:text}`ch9_tf_gap_tiny_hi`. On the whole training text,
# where few characters are seen twice, the gap is about zero for both ({glue:text}`ch9_lstm_gap_full`
# and {glue:text}`ch9_tf_gap_full` for the seed with the larger gap; slightly negative because the
# held-out blocks happen to be a little easier than the average training block). Dropout narrows the
# gap on the smallest set (at most {glue:text}`ch9_lstm_gap_tiny_drop` for the LSTM and
# {glue:text}`ch9_tf_gap_tiny_drop` for the Transformer) but hardly changes the validation loss
# there, and costs a little on the larger sets, where there was nothing to regularise: a regulariser
# trades training fit for validation loss, and it pays only when the gap is the problem.
#
# The LSTM's lead in mean validation loss is {glue:text}`ch9_lead_full` nats on the whole text and
# {glue:text}`ch9_lead_tiny` on the smallest set: the lead shrinks as the data shrink, the opposite
# of what "LSTMs for small data" predicts, and on the smallest set the LSTM overfits more (its mean gap
# is {glue:text}`ch9_gap_diff` nats larger). Whether the two tie there (here their seed ranges
# overlap) depends on the seeds: with other seeds the LSTM stayed ahead there too, by less than
# its lead on the whole text.

# %% [markdown]
# :::{admonition} Claim on trial: "LSTMs are the better choice for small data sets; Transformers need huge ones"
# :class: claim danger
# :name: claim-ch09-lstms-better-choice-small-data
# **Verdict: does not hold here; what we measured is "small compute favours LSTMs".** At equal
# steps the LSTM was ahead by {glue:text}`ch9_lead_full` nats on the whole text, and the lead
# shrank as the data shrank: on {glue:text}`ch9_tiny:,` characters it was
# {glue:text}`ch9_lead_tiny`, and the LSTM's generalisation gap was the larger, by
# {glue:text}`ch9_gap_diff` nats. Neither architecture broke down on small data; both overfitted,
# and dropout helped both a little. The LSTM's advantage in this chapter comes from learning faster
# from a small budget of steps, not from needing less data. At scale the data question changes character: with
# enough text, {cite:t}`kaplan2020scaling` (Figures 1 and 9) find a Transformer's loss falling as a
# power law in the data, and {cite:t}`hoffmann2022training` that most large models were trained on
# too little of it for their size. *Source of the claim: seed articles 001 and 003; Chapter 6 left
# it pending.*
# :::
#
# ## What changes at scale
#
# Everything in this chapter is small on purpose, and three things would change with size.
#
# - **Compute.** We gave both architectures {glue:text}`ch9_steps` steps; neither converged. The
#   LSTM's head start at a tiny budget of steps is a regime Kaplan et al.'s Figure 7 does not show: it
#   varies model size at a long training budget, and even at its smallest sizes, where the two
#   architectures' curves are close, the LSTM is not ahead; the Transformer's advantage appears with millions
#   of parameters and billions of tokens.
# - **Context.** Our windows are {glue:text}`ch9_lm_context` characters, and the Transformer had not
#   yet learned to use them; the question "who uses long context better" starts where an LSTM's
#   state has to carry information over hundreds of steps, and there Kaplan et al. find the
#   Transformer ahead.
# - **Forecasting.** A single, smooth series of a few hundred months is where linear models are
#   hardest to beat. Large collections of related series, or series driven by many covariates, are
#   where learned models have earned their place, and the M4 result {cite}`makridakis2020m4` shows
#   that even then the strongest systems combined them with statistical methods.
#
# ## Summary
#
# - Evaluate forecasters with a rolling origin: at each origin, train on the past only and test on
#   what follows. Always report a seasonal naive baseline.
# - On the CO$_2$ series, with windows taken relative to their last value, least squares is the
#   baseline to beat. Tuned and early-stopped, the LSTM beat it in every seed by a few percent and
#   the Transformer tied with it; stopped early, the Transformer lost and the LSTM only tied, and at a badly
#   chosen learning rate some seeds of each lost. A verdict on networks
#   needs trained networks: a validation split, early stopping, a tuned learning rate, seeds.
# - On character-level text, with equal and small training budgets, the LSTM was ahead of the
#   Transformer at every model size, and it used its context more: the Transformer had not yet
#   learned to attend far.
# - Small data opens a generalisation gap in both architectures, larger for the LSTM here;
#   dropout narrows it a little. The LSTM's lead was largest with the most data and vanished on the
#   smallest set: what we measured is "small compute favours LSTMs", not "small data does".
# - Full-scale results reverse the language-model ranking (Kaplan et al., Figure 7); for forecasting,
#   Zeng et al. (Table 2) agree that a linear model is the baseline to beat, and there it beat the
#   Transformer forecasters outright, where ours tied with it: say at which scale a claim was measured.
#
# ## Exercises
#
# ```{exercise} Write the seasonal naive forecast
# :label: ch9-ex-snaive
#
# Write `my_seasonal_naive(history, horizon, season)` returning the `horizon` forecasts of
# eq. {eq}`ch9-snaive` as a tensor, for any horizon (also longer than a season). Grade it with
# `seqlib.checks.check_seasonal_naive(my_seasonal_naive)`, which compares it with
# `seqlib.forecast.seasonal_naive` and names the usual mistakes (a season off by one step, no wrap
# past the first season, the naive forecast).
# ```

# %% [markdown]
# ```{solution-start} ch9-ex-snaive
# :class: dropdown
# ```
# Step $h$ ahead reads position $h - 1$ of the last season, wrapping around with the remainder:

# %%
def my_seasonal_naive(history, horizon, season):
    last_season = history[len(history) - season :]  # (season,)
    return last_season[torch.arange(horizon) % season]  # (horizon,)


print(seqlib.checks.check_seasonal_naive(my_seasonal_naive))


# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} Rolling-origin folds by hand
# :label: ch9-ex-folds
#
# Write `my_folds(n, horizon, folds)` returning the list of origins of the last `folds` test windows
# of length `horizon` that tile the end of a series of `n` values. Check it against
# `forecast.rolling_origin` for the CO$_2$ series. Then explain what goes wrong if, instead, all
# windows of the series are shuffled and a random fifth is held out.
# ```

# %% [markdown]
# ```{solution-start} ch9-ex-folds
# :class: dropdown
# ```
# The last window starts `horizon` values before the end; each earlier one `horizon` further back:

# %%
def my_folds(n, horizon, folds):
    return [n - horizon * (folds - k) for k in range(folds)]


assert my_folds(len(y), HORIZON, 4) == [
    f.origin for f in forecast.rolling_origin(len(y), HORIZON, 4)
]
print(my_folds(len(y), HORIZON, 4))

# %% [markdown]
# With shuffled windows, a held-out window from 1990 sits between training windows from 1989 and
# 1991 that overlap it: the model has seen most of its values, and the months after it too. The
# test then measures interpolation between known values, not forecasting, and it flatters the
# models with the most capacity to memorise.
#
# ```{solution-end}
# ```
#
# ```{exercise} A patience that is too short
# :label: ch9-ex-longer
#
# The sweep stops a run once {glue:text}`ch9_patience` epochs have passed without improvement.
# With the chapter's `budgeted(kind, seed, epochs, patience)`, backtest both networks with
# `epochs=1000` and `patience=5`, five seeds each, and compare the medians and ranges with the
# tuned runs' and with least squares. What does a short patience risk, and how would you choose the
# patience without looking at the test years?
# ```
#
# ```{solution-start} ch9-ex-longer
# :class: dropdown
# ```
# The same recipe with a patience of 5 (about half a minute):

# %%
short = pd.DataFrame(
    [
        {"model": NAMES[kind], "seed": seed, "test_mae": budgeted(kind, seed, 1000, 5)}
        for kind in NAMES
        for seed in co2_sweep.SEEDS[:5]
    ]
)
short_summary = short.groupby("model")["test_mae"].agg(["median", "min", "max"])
print(f"least squares: {lin:.3f} ppm")
pd.concat(
    {"patience 5": short_summary, f"patience {co2_sweep.PATIENCE}": summary}, axis=1
).round(3)

# %% [markdown]
# A short patience stops a run at the first plateau or noisy epoch of the validation loss, often
# before its minimum, so each seed ends at a different stage of training: compare the spread of
# the two columns as well as their medians. The patience is a hyperparameter like the learning
# rate, and is chosen the same way: on the validation loss (for instance, the smallest patience
# after which a longer one no longer lowers the best validation loss), never on the test years.
#
# ```{solution-end}
# ```
#
# ```{exercise} A power law in the model size
# :label: ch9-ex-power
#
# {cite:t}`kaplan2020scaling` fit $L(N) = (N_c / N)^{\alpha_N}$ to the loss of converged models.
# Fit $\log L$ against $\log N$ to the mean validation losses of each architecture in this chapter's
# size experiment, and compare the exponents. Why should you not extrapolate these fits?
# ```

# %% [markdown]
# ```{solution-start} ch9-ex-power
# :class: dropdown
# ```
# A straight line in log-log coordinates; its slope is $-\alpha_N$:

# %%
for arch in LM_SIZES:
    curve = size_means[arch]
    slope = np.polyfit(np.log(curve.index.to_numpy()), np.log(curve.to_numpy()), 1)[
        0
    ]
    print(f"{arch}: alpha_N = {-slope:.3f}")

# %% [markdown]
# Three points per architecture, three seeds each, and models far from converged: the exponents
# describe how fast each learns in {glue:text}`ch9_steps` steps, not a scaling law. Kaplan et al.'s
# fits use converged (or early-stopped) models over six orders of magnitude of $N$, with
# non-embedding parameters; ours span one order of magnitude, and the loss would flatten long before
# it reached the fitted line's values.
#
# ```{solution-end}
# ```
#
# ```{exercise} Another series
# :label: ch9-ex-sunspots
#
# Repeat the forecasting comparison on `data.load_series("sunspots")` (yearly, with a cycle of about
# 11 years, not exactly periodic) with `SEASON = 11`, a horizon of 11 and a context of 33. Which
# model wins now, and why might the seasonal naive forecast be weaker on this series than on CO$_2$?
# ```
#
# ```{solution} ch9-ex-sunspots
# :class: dropdown
#
# Reuse the chapter's cells with the new constants; with about 300 years, each origin has only a
# few hundred training windows, and fewer folds fit (use `folds=3`). The solar cycle varies between
# about 9 and 14 years and in amplitude, so repeating the last cycle puts peaks in the wrong years:
# the seasonal naive forecast is much weaker than on CO$_2$, whose yearly cycle is fixed by the
# calendar. The ranking of the others is worth measuring rather than guessing: a linear model of 33
# years captures the average cycle shape, and the neural models have even less data than on CO$_2$.
# ```
#
# ## References
#
# The works cited in this chapter are listed with full details in the
# [bibliography](bibliography.md).

# %% tags=["nbval-ignore-output"]
# timing: the whole chapter's run time, reported at the top of the page
run_time_min = (time.perf_counter() - start) / 60
glue("run_time_min", round(run_time_min, 1))
print(f"ran in {run_time_min:.1f} minutes")
