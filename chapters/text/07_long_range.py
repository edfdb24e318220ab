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
# # Long-range dependencies: the LSTM and the Transformer head to head
#
# "Transformers capture long-range dependencies better than LSTMs" is the most repeated sentence in
# the popular comparisons. It is usually offered as one fact. It is at least three: whether a model
# can *reach* a far-away token, whether it can *keep* what it read over many steps, and whether what it
# learned on short sequences still works on long ones. The two architectures answer these questions
# in opposite ways. An LSTM carries everything it knows forward in a **fixed-size state**, updated once
# per step. A Transformer keeps every token and gives each position **direct access** to all earlier
# ones through attention.
#
# This chapter puts the two side by side at the same number of parameters, trained the same way, on
# four of the book's tasks, each isolating one long-range skill: the adding problem
# {cite}`hochreiter1997long`, selective copying {cite}`gu2023mamba`, multi-query associative recall
# {cite}`arora2024zoology`, and parity, a task of state tracking. Each cell of the comparison is run
# with several seeds, and every model trained on short sequences is also tested on long ones. The
# trial has two rounds: first a short, fixed budget, run live on this page; then every cell trained
# until its validation loss stops improving, with the learning rate tuned per model, from a stored
# sweep. Where the two rounds disagree, the first was measuring the budget, and the verdicts rest on
# the second. They say where each architecture wins and why; there is no single winner.
#
# :::{admonition} Learning objectives
# :class: tip
# After this chapter you can
#
# - build an LSTM and a Transformer with matched parameter counts, and count an LSTM's parameters by
#   formula;
# - plan a sweep's cost from one timed run before running it;
# - compare two architectures across tasks, lengths and seeds, and show the spread, not only the mean;
# - tell a budget artefact from an architectural verdict: tune the learning rate per model, train
#   until the validation loss stops improving, and call overlapping seed ranges a tie;
# - explain which long-range tasks favour direct access (attention) and which favour a state carried
#   forward (recurrence), and why;
# - test length generalisation (train short, test long) and read its failures.
# :::
#
# :::{admonition} Prerequisites
# :class: note
# Chapter 3 (the LSTM, the adding problem and parity), Chapter 5 (causal self-attention, rotary
# positions, associative recall) and Chapter 6 (the Transformer layer).
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

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

import seqlib
from seqlib import data, experiments, glue, verdicts, viz
from seqlib.experiments import count_parameters, make_model, matched_widths

device = seqlib.setup(seed=0)  # seeds, one CPU thread, the book's plotting style

# %% [markdown]
# ## Four tasks, four long-range skills
#
# Each task hides the answer somewhere far from where it is asked for, in a different way:
#
# | task | the model must | the answer depends on |
# | --- | --- | --- |
# | adding problem | find two marked numbers among noise, add them | two positions, anywhere |
# | selective copy | output the few letters scattered in filler, in order | a handful of positions, and their order |
# | associative recall (MQAR) | give the value stored with each queried key | one position per query, found by content |
# | parity | say whether the bit string holds an odd number of ones | every position |
#
# One example of each, drawn by the generators of `seqlib.data`:

# %%
examples = {
    "adding (value, marker)": data.adding_problem(1, 8, seed=1),
    "selective copy": data.selective_copy(
        1, 12, num_tokens=4, num_symbols=4, seed=1
    ),
    "associative recall": data.associative_recall(
        1, 4, num_keys=32, num_values=8, seed=1
    ),
    "parity": data.parity_task(1, 10, seed=1),
}
for name, ex in examples.items():
    if ex.vocab is None:  # the adding problem's inputs are numbers
        pairs = [f"{v:.2f}{'*' if m else ''}" for v, m in ex.x[0].tolist()]
        print(f"{name:>24}: {' '.join(pairs)}  ->  {ex.y[0].item():.2f}")
    else:
        target = ex.y[0] if ex.y.dim() == 1 else ex.y[0][ex.y[0] >= 0]
        shown = target.tolist() if name == "parity" else ex.vocab.decode(target)
        print(f"{name:>24}: {' '.join(ex.vocab.decode(ex.x[0]))}  ->  {shown}")

# %% [markdown]
# In the adding problem the starred values are the marked ones. In selective copy the letters sit
# among filler `.` and the `?` markers ask for them back. In associative recall the keys `k..` and
# values `v..` come in pairs, and the keys at the end are the questions. Parity's target is 1 for
# an odd number of ones.
#
# ## Two contestants of the same size
#
# A fair comparison fixes what each model may spend. We fix the number of parameters, and the
# training budget: the same number of Adam steps on the same freshly generated batches, the same
# learning rate and gradient clipping.
#
# The **LSTM** is Chapter 3's `RecurrentModel`: tokens embedded in 16 dimensions, one LSTM layer of
# hidden size $H$, a linear read-out of the last real state (or of every state, when every position
# has a target). The **Transformer** is `models.CausalTransformer`: two pre-norm layers of
# Chapter 6, two heads, rotary positions (Chapter 5's best at extrapolating), a causal mask, and the
# same read-out. Both read the sequence left to right; what differs is how they remember.
#
# `matched_widths` picks the Transformer's width $d$ nearest to a budget of parameters, then the LSTM
# hidden size whose count is closest to the Transformer's:

# %%
BUDGET = 8000
sizes = []
for name in experiments.TASKS:
    widths = matched_widths(name, BUDGET)
    counts = {
        kind: count_parameters(make_model(kind, name, w))
        for kind, w in widths.items()
    }
    sizes.append(
        {
            "task": name,
            "LSTM H": widths["lstm"],
            "LSTM parameters": counts["lstm"],
            "Transformer d": widths["transformer"],
            "Transformer parameters": counts["transformer"],
        }
    )
sizes = pd.DataFrame(sizes).set_index("task")
gap = (sizes["LSTM parameters"] / sizes["Transformer parameters"] - 1).abs().max()
assert gap < 0.05
glue("ch7_budget", BUDGET)
glue("ch7_param_gap", round(100 * gap, 1))
glue("ch7_lstm_H_parity", int(sizes.loc["parity", "LSTM H"]))
glue("ch7_tf_d_parity", int(sizes.loc["parity", "Transformer d"]))
sizes

# %% [markdown]
# For every task the two counts differ by at most {glue:text}`ch7_param_gap`%. At the same count the
# LSTM is much wider ($H$ = {glue:text}`ch7_lstm_H_parity` against $d$ =
# {glue:text}`ch7_tf_d_parity` for parity): an LSTM layer spends $4H(I + H) + 8H$ parameters, a
# Transformer layer about $8d^2$ (attention's four projections $4d^2$, and a feed-forward network
# twice as wide as the model, $2 \cdot d \cdot 2d = 4d^2$; the 2017 width of $4d$ would make it
# $12d^2$). So the LSTM's state holds {glue:text}`ch7_lstm_H_parity` numbers, carried from
# step to step; the Transformer's memory is all the past positions, each
# {glue:text}`ch7_tf_d_parity` numbers wide, and grows with the sequence.
#
# ## Plan the cost before running
#
# One cell of the comparison is `experiments.run(kind, task, size, seed, test_sizes=...)`: it builds
# a fresh model, trains it for a fixed number of steps at one size and tests it, on new data, at
# every size in `test_sizes`. Before running dozens of them, time one:

# %% tags=["nbval-ignore-output"]
# timing: one training run of each model, to plan the sweep
STEPS, BATCH, LR, SEEDS = 300, 64, 5e-3, (0, 1, 2, 3, 4)
one = {}
for kind in experiments.KINDS:
    begin = time.perf_counter()
    experiments.run(kind, "parity", 16, 0, steps=STEPS, batch_size=BATCH, lr=LR)
    one[kind] = time.perf_counter() - begin
runs = (
    2 * len(SEEDS) * (1 + 1 + 3 + 1)
)  # models x seeds x training sizes (adding, copy, recall, parity)
glue("ch7_one_run_s", round(sum(one.values()) / 2, 1))
glue("ch7_runs", runs)
print(
    {kind: round(s, 1) for kind, s in one.items()}, "seconds;", runs, "runs planned"
)

# %% [markdown]
# A run takes about {glue:text}`ch7_one_run_s` seconds on one CPU thread (at these tiny sizes the
# time goes to per-operation overhead more than to arithmetic, so neither model is clearly the
# cheaper one per step). With {glue:text}`ch7_seeds` seeds, two models and the sizes below, the plan is
# {glue:text}`ch7_runs` runs, which fits the chapter's time budget. Each model sees
# {glue:text}`ch7_examples` training examples: enough for the easier tasks, short of what the harder
# ones need, and that will matter to the verdicts: the section "Trained to a stop" retrains every
# cell without that limit.

# %%
glue("ch7_examples", STEPS * BATCH)
glue("ch7_seeds", len(SEEDS))
glue("ch7_steps", STEPS)


def sweep(task, sizes, test_sizes=None, steps=STEPS, lr=LR):
    """Every (size, seed, model) cell of one task: a DataFrame with one row per test size."""
    rows = []
    for size in sizes:
        for seed in SEEDS:
            for kind in experiments.KINDS:
                rows += experiments.run(
                    kind,
                    task,
                    size,
                    seed,
                    test_sizes=test_sizes,
                    steps=steps,
                    batch_size=BATCH,
                    lr=lr,
                )
    frame = pd.DataFrame(rows).drop(columns="seconds")
    frame["model"] = frame.kind.map({"lstm": "LSTM", "transformer": "Transformer"})
    return frame


def table(frame, value="accuracy"):
    """Mean, worst and best seed per model and test size, rounded for the page."""
    return (
        frame.groupby(["model", "train_size", "test_size"])[value]
        .agg(["mean", "min", "max"])
        .round(2)
    )


# %% [markdown]
# ## The adding problem: two numbers, anywhere
#
# Both models are trained at length {glue:text}`ch7_train_len` and tested at lengths 16, 64 and 256:
# four and sixteen times longer than any sequence seen in training. The score is the mean squared
# error; predicting the constant 1 gives 1/6 (the dashed line), and we count an answer as right when
# it is within 0.1 of the sum.

# %%
TRAIN_LEN, TESTS = 16, (16, 64, 256)
glue("ch7_train_len", TRAIN_LEN)
adding = sweep("adding", [TRAIN_LEN], TESTS)
print(table(adding, "mse"))
ax = viz.plot_curves(
    adding,
    x="test_size",
    y="mse",
    hue="model",
    logx=True,
    title=f"Adding problem: trained at length {TRAIN_LEN}, tested longer",
)
ax.axhline(1 / 6, ls="--", color="grey")
ax.set(xlabel="test length", ylabel="mean squared error (min to max over seeds)")
plt.show()

# %% tags=["hide-input"]
mse = adding.groupby(["kind", "test_size"]).mse.mean()
acc = adding.groupby(["kind", "test_size"]).accuracy.mean()
glue("ch7_add_tf_mse", round(mse["transformer", TRAIN_LEN], 3))
glue("ch7_add_lstm_mse", round(mse["lstm", TRAIN_LEN], 3))
glue("ch7_add_tf_acc", round(acc["transformer", TRAIN_LEN], 2))
glue("ch7_add_tf_acc_long", round(acc["transformer", 256], 2))
glue("ch7_add_tf_mse_long", round(mse["transformer", 256], 3))
assert (
    mse["transformer", TRAIN_LEN] < 0.5 * mse["lstm", TRAIN_LEN]
)  # the Transformer learns it first
assert (
    mse["lstm", TRAIN_LEN] > 10 * mse["transformer", TRAIN_LEN]
)  # the LSTM has only begun to learn it
glue("ch7_add_lstm_acc", round(acc["lstm", TRAIN_LEN], 2))
glue("ch7_add_lstm_mse_long", round(mse["lstm", 256], 3))
assert min(mse["lstm", 256], mse["transformer", 256]) > 1 / 6  # neither generalises to 256
assert (
    acc["transformer", 256] < acc["transformer", TRAIN_LEN] - 0.3
)  # and does not carry it to length 256

# %% [markdown]
# In {glue:text}`ch7_steps` steps the Transformer learns the task at its training length (mean
# squared error {glue:text}`ch7_add_tf_mse`, {glue:text}`ch7_add_tf_acc:.0%` of sums within 0.1),
# while the LSTM has only begun: its error has left the baseline ({glue:text}`ch7_add_lstm_mse`), but
# only {glue:text}`ch7_add_lstm_acc:.0%` of its sums are within 0.1. This is not the LSTM failing to
# remember: Chapter 3 showed it solves the adding problem at these lengths with more training. It is
# the LSTM *learning slower*: the gradient that tells it to store a marked value
# has to travel back through every step between the marker and the end, while attention connects the
# end to the marker in one step. But the Transformer's solution does not stretch. At length 256 its
# accuracy is {glue:text}`ch7_add_tf_acc_long:.0%` (error {glue:text}`ch7_add_tf_mse_long`): two
# marked positions among 256 draw a different share of the softmax than two among 16, and rotary
# angles it never saw in training change the scores. The LSTM does no better out there: its error at
# length 256 is {glue:text}`ch7_add_lstm_mse_long`, worse than the constant guess, because a state
# trained on 16 steps of inputs drifts when it is fed 256. Neither model has learned the rule "add the
# two marked numbers" in a form that survives a longer input.
#
# ## Selective copy: several tokens, in order
#
# Four letters (of four) are scattered among filler; after the sequence, four markers ask for them in
# order. An answer is a letter, so chance is one in four. Gu and Dao built this task to separate
# models that *choose* what to store from those that cannot {cite}`gu2023mamba`.

# %%
copy = sweep("selective_copy", [TRAIN_LEN], TESTS)
print(table(copy))
ax = viz.plot_curves(
    copy,
    x="test_size",
    y="accuracy",
    hue="model",
    logx=True,
    title=f"Selective copy: trained at length {TRAIN_LEN}, tested longer",
)
ax.axhline(1 / 4, ls="--", color="grey")
ax.set(
    xlabel="test length (filler)",
    ylabel="accuracy per letter (min to max over seeds)",
)
plt.show()
copy_acc = copy.groupby(["kind", "test_size"]).accuracy.mean()
glue("ch7_copy_tf", round(copy_acc["transformer", TRAIN_LEN], 2))
glue("ch7_copy_lstm", round(copy_acc["lstm", TRAIN_LEN], 2))
glue("ch7_copy_tf_long", round(copy_acc["transformer", 256], 2))
glue("ch7_copy_tf_64", round(copy_acc["transformer", 64], 2))
glue("ch7_copy_lstm_64", round(copy_acc["lstm", 64], 2))
glue("ch7_copy_lstm_long", round(copy_acc["lstm", 256], 2))
copy_lo = copy.groupby(["kind", "test_size"]).accuracy.min()  # the worst seed
copy_hi = copy.groupby(["kind", "test_size"]).accuracy.max()  # the best seed
# the book's range rule (seqlib.verdicts): a lead only where one model's worst seed beats the
# other's best; overlapping ranges are a tie
at_train = copy[copy["test_size"] == TRAIN_LEN]
copy_call = verdicts.range_call(at_train[at_train["kind"] == "transformer"]["accuracy"],
                                at_train[at_train["kind"] == "lstm"]["accuracy"])
glue("ch7_copy_overlap", "overlap" if copy_call == "tie" else "do not overlap")
glue("ch7_copy_call_300", {"a": "a lead for the Transformer", "b": "a lead for the LSTM", "tie": "a tie"}[copy_call])
for kind, short in (("transformer", "tf"), ("lstm", "lstm")):
    glue(f"ch7_copy_{short}_min", round(copy_lo[kind, TRAIN_LEN], 2))
    glue(f"ch7_copy_{short}_max", round(copy_hi[kind, TRAIN_LEN], 2))
# On average over the seeds: the Transformer ahead at the training length, the LSTM at 64.
assert copy_acc["transformer", TRAIN_LEN] > copy_acc["lstm", TRAIN_LEN]
assert copy_acc["lstm", 64] > copy_acc["transformer", 64]  # the LSTM degrades more gently
assert copy_acc["transformer", 256] < copy_acc["transformer", TRAIN_LEN] - 0.2

# %% [markdown]
# At the training length the Transformer copies {glue:text}`ch7_copy_tf:.0%` of the letters on
# average over the seeds (from {glue:text}`ch7_copy_tf_min:.0%` to {glue:text}`ch7_copy_tf_max:.0%`),
# the LSTM {glue:text}`ch7_copy_lstm:.0%` (from {glue:text}`ch7_copy_lstm_min:.0%` to
# {glue:text}`ch7_copy_lstm_max:.0%`; chance is 25%). The averages differ, but the seed ranges
# {glue:text}`ch7_copy_overlap`, so at this budget this is {glue:text}`ch7_copy_call_300`. Beyond it, the Transformer falls fast ({glue:text}`ch7_copy_tf_64:.0%` at length 64,
# {glue:text}`ch7_copy_tf_long:.0%` at 256, near chance): to copy the $j$-th letter, attention has to
# find "the $j$-th non-filler position", a count it learned for positions up to 16 only. The LSTM
# degrades more gently ({glue:text}`ch7_copy_lstm_64:.0%` at 64, ahead of the Transformer there on
# average, and
# {glue:text}`ch7_copy_lstm_long:.0%` at 256): what it stores is decided step by step, by the same
# update at every length, so longer filler costs it less.
#
# ## Associative recall: how many pairs fit?
#
# Associative recall asks the question that separates the two kinds of memory most sharply. With $P$
# key-value pairs in the context, a model that reads the sequence once and keeps a fixed state must
# store all $P$ values, in case any is asked for; its capacity is bounded by its state. A Transformer
# keeps every pair and looks the key up when asked. Here the size that grows is $P$, and each model
# is trained and tested at each $P$.

# %%
PAIRS, RECALL_BUDGET = (2, 4, 8), 16000
rows = []
for P in PAIRS:
    for seed in SEEDS:
        for kind in experiments.KINDS:
            rows += experiments.run(
                kind,
                "recall",
                P,
                seed,
                steps=STEPS,
                batch_size=BATCH,
                lr=LR,
                budget=RECALL_BUDGET,
            )
recall = pd.DataFrame(rows).drop(columns="seconds")
recall["model"] = recall.kind.map({"lstm": "LSTM", "transformer": "Transformer"})
# The guessing baseline: answer with one of the P values in the context, at random. It is right
# when it picks the asked pair (1 in P) or another pair with the same value (1 in 8 values).
guess = {P: (1 + (P - 1) / 8) / P for P in PAIRS}
print(table(recall))
print("guessing among the context's values:", {P: round(g, 2) for P, g in guess.items()})
ax = viz.plot_curves(
    recall,
    x="train_size",
    y="accuracy",
    hue="model",
    logx=True,
    title="Associative recall: accuracy against the number of pairs",
)
ax.axhline(1 / 8, ls="--", color="grey")
ax.plot(PAIRS, [guess[P] for P in PAIRS], ls=":", color="black", label="guess among the context's values")
ax.legend()
ax.set(
    xlabel="key-value pairs P (trained and tested at P)",
    ylabel="accuracy per query (min to max over seeds)",
)
plt.show()
rec = recall.groupby(["kind", "train_size"]).accuracy.mean()
glue("ch7_recall_budget", RECALL_BUDGET)
glue(
    "ch7_recall_tf_min",
    round(recall[recall.kind == "transformer"].accuracy.min(), 2),
)
glue("ch7_recall_lstm_2", round(rec["lstm", 2], 2))
glue("ch7_recall_lstm_8", round(rec["lstm", 8], 2))
glue("ch7_recall_tf_8", round(rec["transformer", 8], 2))
glue(
    "ch7_recall_tf_best",
    round(
        recall[recall.kind == "transformer"]
        .groupby("train_size")
        .accuracy.max()
        .min(),
        2,
    ),
)
assert all(
    rec["transformer", P] > rec["lstm", P] + 0.4 for P in PAIRS
)  # on average, at every P
assert (
    recall[recall.kind == "transformer"].groupby("train_size").accuracy.max().min()
    > 0.95
)  # best seed solves it
# The LSTM scores what guessing among the context's values scores, at every P: it has not learned
# the lookup at this budget (so its fall with P is the baseline's, not a state running out of room).
assert all(abs(rec["lstm", P] - guess[P]) < 0.1 for P in PAIRS)
glue("ch7_guess_2", round(guess[2], 2))
glue("ch7_guess_8", round(guess[8], 2))

# %% [markdown]
# With a budget of {glue:text}`ch7_recall_budget` parameters (recall needs wider heads than the other
# tasks) the Transformer answers {glue:text}`ch7_recall_tf_8:.0%` of the queries with eight pairs, on
# average over seeds, and its weakest seed at any $P$ still {glue:text}`ch7_recall_tf_min:.0%`: the
# two-layer lookup circuit of Chapter 5 forms in its runs. (With a third of these steps, some seeds
# had not yet made the sudden jump with which that circuit appears; the exercises return to the
# budget.) The LSTM manages {glue:text}`ch7_recall_lstm_2:.0%` with two pairs and
# {glue:text}`ch7_recall_lstm_8:.0%` with eight. That fall with $P$ looks like a state running out of
# room, but it is not: it is the score of **guessing among the values in the context**
# ({glue:text}`ch7_guess_2:.0%` and {glue:text}`ch7_guess_8:.0%`, the dotted line; a random context
# value is right if it belongs to the asked pair, or to another pair with the same value), and the
# code checks that the LSTM stays within ten points of it at every $P$. At this budget the LSTM has
# learned which tokens are values, not which value goes with which key; eight pairs of 3-bit values
# are far below what its state can hold, so nothing here measures its capacity. Trained to a stop
# (below), it does learn the lookup for two pairs. In Chapter 11 the best
# fixed-state model of Part V gets well beyond guessing on the same kind of task. The capacity argument itself is
# {cite:t}`arora2024zoology`'s, who introduced MQAR: attention-free models with a fixed-size state
# (gated convolutions and recurrences) need a model width that grows with the sequence length to
# match attention on it, and recall of this kind accounts for most of their perplexity gap to
# Transformers on real text.
#
# ## Parity: one bit, carried over every step
#
# Parity is the opposite kind of task. The answer depends on *every* token, and nothing needs to be
# looked up: one bit of state, flipped at each 1, is a complete solution. Both models are trained on
# strings of lengths 1 to {glue:text}`ch7_train_len` (as in Chapter 3, varied lengths) and tested on
# strings of exactly 16, 64 and 256 bits.

# %%
parity = sweep("parity", [TRAIN_LEN], TESTS)
print(table(parity))
ax = viz.plot_curves(
    parity,
    x="test_size",
    y="accuracy",
    hue="model",
    logx=True,
    title=f"Parity: trained on lengths 1 to {TRAIN_LEN}, tested longer",
)
ax.axhline(1 / 2, ls="--", color="grey")
ax.set(xlabel="test length", ylabel="accuracy (min to max over seeds)")
plt.show()
par = parity.groupby(["kind", "test_size"]).accuracy.mean()
glue("ch7_par_lstm", round(par["lstm", TRAIN_LEN], 2))
glue("ch7_par_lstm_long", round(par["lstm", 256], 2))
glue("ch7_par_tf", round(par["transformer", TRAIN_LEN], 2))
glue("ch7_par_tf_long", round(par["transformer", 256], 2))
assert all(par["lstm", L] > par["transformer", L] + 0.2 for L in TESTS)
assert (
    par["transformer", TRAIN_LEN] < 0.6
)  # the Transformer stays near chance, even in training lengths

# %% [markdown]
# Now the roles swap. The LSTM reaches {glue:text}`ch7_par_lstm:.0%` at length 16 and still
# {glue:text}`ch7_par_lstm_long:.0%` at 256, sixteen times the longest string it saw, with every seed (Chapter 3 found the same at
# length 320). The Transformer is at {glue:text}`ch7_par_tf:.0%` at the training length and
# {glue:text}`ch7_par_tf_long:.0%` at 256: chance. So at this size and budget it did not *learn*
# parity at all; its failure to extend it to longer strings is a second question that this run cannot
# reach (the stored sweep below trains it until it stops improving, and separates the two). A recurrent cell can implement "flip the bit on a
# 1" once and apply it at every step, however many steps there are. Attention has to compute parity
# from a weighted *average* over positions, and a single 1 moves an average over $T$ positions by
# about $1/T$: {cite:t}`hahn2020theoretical` proved that the output of soft attention becomes ever
# less sensitive to any single input bit as $T$ grows, so that parity cannot be computed *robustly*
# at every length. That is not impossibility: {cite:t}`chiang2022overcoming` constructed a
# Transformer that computes parity at any length, with a confidence that shrinks as the input grows.
# {cite:t}`deletang2023neural` found the learning side of this at scale (their Table 2): on their
# Parity Check task, recurrent networks and LSTMs generalise to much longer strings, while
# Transformers, with any of five position encodings, stay near chance outside the training lengths.
#
# :::{admonition} Claim on trial: "attention has no limit on range: any position can reach any other, so long-range dependencies are solved"
# :class: claim danger
# :name: claim-ch07-attention-has-no-limit-range
# **Verdict: does not hold.** Reaching a position is not the same as computing over all of them.
# On parity, where the answer depends on every bit, our Transformer stayed at
# {glue:text}`ch7_par_tf:.0%` after {glue:text}`ch7_steps` steps even at the training length;
# trained to a stop at its best learning rate (the next section), it climbed slowly to
# {glue:text}`ch7_sw_par_tf:.0%` there within {glue:text}`ch7_sweep_max_steps:,` steps, and with five
# times as many to {glue:text}`ch7_longer_par_best:.0%` in its best seed, but it stayed at
# {glue:text}`ch7_sw_par_tf_256:.0%` at length 256, while an LSTM of the same size reached
# {glue:text}`ch7_sw_par_lstm_256:.0%` there. Where it learned a task fully (adding, selective
# copy), its accuracy fell with length: on the adding problem from {glue:text}`ch7_sw_add_tf:.0%` at
# the training length to {glue:text}`ch7_sw_add_tf_256:.0%` at sixteen times that length. The theory of why parity is hard for attention is
# {cite:t}`hahn2020theoretical` (and, for what it can still represent, {cite:t}`chiang2022overcoming`);
# the evidence at scale is Table 2 of {cite:t}`deletang2023neural`.
# *Source of the claim: seed articles 001 ("direct attention across all positions") and 003 ("I don't
# need memory. I've got focus").*
# :::

# %% [markdown]
# ## Trained to a stop: which verdicts were the budget?
#
# Every result so far came from {glue:text}`ch7_steps` steps at one learning rate shared by both
# models. That is how most popular comparisons are run, and it convicts whichever model learns more
# slowly. A verdict about the *architecture* needs each model trained until it stops improving, at
# the learning rate that suits it: in language modelling, careful tuning of each model has been
# shown to reverse published rankings {cite}`melis2018state`.
#
# The stored sweep `long_range` (in `seqlib.sweeps`) retrains every cell of this chapter that way:
#
# - fresh training examples at every step, so that no model can overfit, in rounds of
#   {glue:text}`ch7_sweep_round` steps;
# - after each round, the loss on 500 validation sequences; training stops when that loss has not
#   improved for {glue:text}`ch7_sweep_patience_steps` steps, or at {glue:text}`ch7_sweep_max_steps:,`
#   steps ({glue:text}`ch7_sweep_max_ratio` times the budget above), and the best round's weights
#   are kept;
# - four learning rates per model and five seeds, with the sizes above.
#
# That makes {glue:text}`ch7_sweep_runs` runs and {glue:text}`ch7_sweep_cpu_min` CPU-minutes on one
# thread: too long for this page. The records ship with seqlib, and
# `python -m seqlib.sweeps run long_range --jobs 2` reproduces them. The table gives the median over
# seeds of the best validation loss at each learning rate (blank where a rate was not tried), and the
# rate chosen, the one where it is lowest.

# %%
from seqlib import sweeps
from seqlib.sweeps import long_range as lr_sweep

# the sweep trains this chapter's models: the same tasks, sizes, parameter budgets and batch
assert lr_sweep.BUDGETS == {t: RECALL_BUDGET if t == "recall" else BUDGET for t in experiments.TASKS}
assert (lr_sweep.TRAIN_LENGTH, lr_sweep.TEST_LENGTHS, lr_sweep.PAIRS, lr_sweep.BATCH) == (
    TRAIN_LEN,
    TESTS,
    PAIRS,
    BATCH,
)
runs = sweeps.load("long_range")  # one row per stored training run
runs["model"] = runs["model"].map({"lstm": "LSTM", "transformer": "Transformer"})
runs["cell"] = [
    f"recall, P = {s}" if t == "recall" else t.replace("_", " ")
    for t, s in zip(runs["task"], runs["size"])
]
CELLS = list(dict.fromkeys(runs["cell"]))
# per task, size and model: the median over seeds of the best validation loss at each learning
# rate; the learning rate where it is lowest is the one the verdicts use
val_by_lr = (
    runs.groupby(["cell", "model", "lr"], sort=False)["val_loss"].median().unstack("lr").sort_index(axis=1)
)
best_lr = val_by_lr.idxmin(axis=1)
tuned = runs[
    [lr == best_lr[c, m] for lr, c, m in zip(runs["lr"], runs["cell"], runs["model"])]
].copy()
tuned["stopped by"] = [
    "the cap" if n == lr_sweep.MAX_ROUNDS else "patience" for n in tuned["epochs_run"]
]
glue("ch7_sweep_runs", len(runs))
glue("ch7_sweep_cpu_min", round(runs["seconds"].sum() / 60))
glue("ch7_sweep_max_steps", lr_sweep.MAX_ROUNDS * lr_sweep.ROUND_STEPS)
glue("ch7_sweep_patience_steps", lr_sweep.PATIENCE * lr_sweep.ROUND_STEPS)
glue("ch7_sweep_round", lr_sweep.ROUND_STEPS)
glue("ch7_sweep_max_ratio", round(lr_sweep.MAX_ROUNDS * lr_sweep.ROUND_STEPS / STEPS, 1))
edges = [
    k
    for k, lr in best_lr.items()
    if lr in (min(lr_sweep.LRS[k[1].lower()]), max(lr_sweep.LRS[k[1].lower()]))
]
# a choice at the edge of the grid matters only if a rate beyond it might do better: here each
# is in a cell where every rate tried already solves the task (median accuracy 99% or more)
solved_everywhere = runs.groupby(["cell", "model", "lr"])["accuracy"].median().groupby(["cell", "model"]).min()
assert all(solved_everywhere[k] >= 0.99 for k in edges)
glue("ch7_sweep_edges", len(edges))
glue("ch7_sweep_choices", len(best_lr))
glue("ch7_sweep_tuned_runs", len(tuned))
print("learning rate chosen at the edge of its grid:", edges or "none")
# losses below 1e-4 are shown as such: their further digits depend on the machine's rounding
val_by_lr.apply(lambda col: col.map(lambda v: "" if v != v else f"{v:.2g}" if v >= 1e-4 else "< 1e-4")).assign(
    chosen=best_lr.map("{:g}".format)
)

# %% [markdown]
# The learning curves at the chosen rates, one line per seed, with the {glue:text}`ch7_steps` steps
# of the runs above dotted. Where a model solves its task the loss keeps creeping towards zero long
# after the accuracy has reached 100%, so many runs end at the cap without changing a verdict. Two
# kinds of curve are different: the Transformer on parity falls slowly all the way, and the LSTM on
# recall with four or eight pairs sits on a plateau, which a few seeds begin to leave near the end.

# %%
curves = pd.DataFrame(
    [
        {
            "cell": r.cell,
            "model": r.model,
            "seed": r.seed,
            "steps": (i + 1) * lr_sweep.ROUND_STEPS,
            "val_loss": v,
        }
        for r in tuned.itertuples()
        for i, v in enumerate(r.record["curve"]["val_loss"])
    ]
)
grid = sns.relplot(
    curves,
    x="steps",
    y="val_loss",
    hue="model",
    units="seed",
    estimator=None,
    col="cell",
    col_wrap=3,
    kind="line",
    height=2.3,
    aspect=1.35,
    facet_kws={"sharey": False},
    lw=1,
)
for ax in grid.axes.flat:
    ax.set_yscale("log")
    ax.axvline(STEPS, color="grey", ls=":", lw=1)  # the budget of the runs above
grid.set_titles("{col_name}")
grid.set_axis_labels("training steps", "validation loss")
plt.show()

# %% [markdown]
# The results at the chosen rates: the median and, in brackets, the worst and best seed, beside the
# baseline of a model that has learned nothing of the task (the constant 1 for the adding problem,
# counted right within 0.1; a random letter; guessing among the context's values for recall; a coin
# for parity). A model is *ahead* only where its worst seed beats the other's best; overlapping
# ranges are a tie.

# %%
BASELINE = {  # the score of a model that reads the input but has learned nothing of the task
    "adding": float(((data.adding_problem(2000, TRAIN_LEN, seed=7).y - 1).abs() < 0.1).float().mean()),
    "selective copy": 1 / 4,  # a letter, at random
    "parity": 1 / 2,
    **{f"recall, P = {P}": g for P, g in guess.items()},  # guessing among the context's values
}


def ahead(a, b):
    """Which model is ahead, by the book's range rule (seqlib.verdicts): one only if its worst seed
    beats the other's best; else a tie."""
    return {"a": "LSTM", "b": "Transformer", "tie": "tie"}[verdicts.range_call(a, b)]


rows, call = [], {}
for cell in CELLS:
    part = tuned[tuned["cell"] == cell]
    for where, column in (("trained size", "accuracy"), ("length 64", "accuracy_64"), ("length 256", "accuracy_256")):
        if part[column].isna().all():
            continue  # recall is tested at its training size only
        a = part.loc[part["model"] == "LSTM", column]
        b = part.loc[part["model"] == "Transformer", column]
        call[cell, where] = ahead(a, b)
        rows.append(
            {
                "task": cell,
                "tested at": where,
                "LSTM": f"{a.median():.2f} [{a.min():.2f}, {a.max():.2f}]",
                "Transformer": f"{b.median():.2f} [{b.min():.2f}, {b.max():.2f}]",
                "baseline": round(BASELINE[cell], 2),
                "ahead": call[cell, where],
            }
        )
converged = pd.DataFrame(rows).set_index(["task", "tested at"])
converged

# %%
med = tuned.groupby(["cell", "model"])[["accuracy", "accuracy_64", "accuracy_256"]].median()
lo = tuned.groupby(["cell", "model"])[["accuracy", "accuracy_64", "accuracy_256"]].min()
hi = tuned.groupby(["cell", "model"])[["accuracy", "accuracy_64", "accuracy_256"]].max()
capped = tuned.groupby(["cell", "model"])["stopped by"].apply(lambda s: int((s == "the cap").sum()))
# the verdicts the text states, each checked on the stored runs
assert call["adding", "trained size"] == call["selective copy", "trained size"] == "tie"
assert call["selective copy", "length 64"] == call["selective copy", "length 256"] == "LSTM"
assert all(call["parity", w] == "LSTM" for w in ("trained size", "length 64", "length 256"))
assert call["recall, P = 2", "trained size"] == "tie"
assert call["recall, P = 4", "trained size"] == call["recall, P = 8", "trained size"] == "Transformer"
assert max(med.loc[("adding", m), "accuracy_256"] for m in ("LSTM", "Transformer")) < 0.5  # neither extends
assert med.loc[("parity", "Transformer"), "accuracy"] > BASELINE["parity"] + 0.1  # learning, slowly
assert hi.loc[("parity", "Transformer"), "accuracy_256"] < BASELINE["parity"] + 0.05  # not extending
for P in (4, 8):  # the LSTM is past guessing, far from solving
    assert BASELINE[f"recall, P = {P}"] + 0.05 < med.loc[(f"recall, P = {P}", "LSTM"), "accuracy"] < 0.6
for key, value in {
    "add_lstm": med.loc[("adding", "LSTM"), "accuracy"],
    "add_tf": med.loc[("adding", "Transformer"), "accuracy"],
    "add_lstm_256": med.loc[("adding", "LSTM"), "accuracy_256"],
    "add_tf_256": med.loc[("adding", "Transformer"), "accuracy_256"],
    "add_tf_256_max": hi.loc[("adding", "Transformer"), "accuracy_256"],
    "copy_min": lo.loc["selective copy", "accuracy"].min(),
    "copy_lstm_64": med.loc[("selective copy", "LSTM"), "accuracy_64"],
    "copy_lstm_64_min": lo.loc[("selective copy", "LSTM"), "accuracy_64"],
    "copy_tf_64": med.loc[("selective copy", "Transformer"), "accuracy_64"],
    "copy_tf_64_max": hi.loc[("selective copy", "Transformer"), "accuracy_64"],
    "copy_lstm_256": med.loc[("selective copy", "LSTM"), "accuracy_256"],
    "copy_tf_256": med.loc[("selective copy", "Transformer"), "accuracy_256"],
    "par_tf": med.loc[("parity", "Transformer"), "accuracy"],
    "par_tf_max": hi.loc[("parity", "Transformer"), "accuracy"],
    "par_tf_256": med.loc[("parity", "Transformer"), "accuracy_256"],
    "par_lstm_256": med.loc[("parity", "LSTM"), "accuracy_256"],
    "recall_lstm_2_min": lo.loc[("recall, P = 2", "LSTM"), "accuracy"],
    "recall_lstm_4": med.loc[("recall, P = 4", "LSTM"), "accuracy"],
    "recall_lstm_4_max": hi.loc[("recall, P = 4", "LSTM"), "accuracy"],
    "recall_lstm_8": med.loc[("recall, P = 8", "LSTM"), "accuracy"],
    "recall_tf_8_min": lo.loc[("recall, P = 8", "Transformer"), "accuracy"],
}.items():
    glue(f"ch7_sw_{key}", round(float(value), 2))
glue("ch7_guess_4", round(guess[4], 2))
glue("ch7_recall_state", 2 * matched_widths("recall", RECALL_BUDGET)["lstm"])  # h and c
glue("ch7_sw_capped_par_tf", capped["parity", "Transformer"])
glue("ch7_sw_capped_recall_lstm", capped["recall, P = 4", "LSTM"] + capped["recall, P = 8", "LSTM"])
glue("ch7_sw_capped", int(capped.sum()))
glue("ch7_sw_seeds", len(lr_sweep.SEEDS))
print("runs stopped by the cap of", lr_sweep.MAX_ROUNDS * lr_sweep.ROUND_STEPS, "steps, of",
      len(lr_sweep.SEEDS), "per task and model:")
print(capped.unstack("model").loc[CELLS].to_string())

# %% [markdown]
# What changed:
#
# - **Adding and selective copying at the training length: a tie.** Both models solve both tasks
#   (a median of {glue:text}`ch7_sw_add_lstm:.0%` and {glue:text}`ch7_sw_add_tf:.0%` of sums within
#   0.1; every seed of either model copies {glue:text}`ch7_sw_copy_min:.0%` of the letters or more).
#   The Transformer's lead on the adding problem at {glue:text}`ch7_steps` steps was speed of
#   learning, as the gradient argument of the adding section predicted (on selective copying the
#   seed ranges already overlapped at {glue:text}`ch7_steps` steps).
# - **Selective copying beyond the training length: the LSTM, by far.** At length 64 it copies
#   {glue:text}`ch7_sw_copy_lstm_64:.0%` of the letters (worst seed
#   {glue:text}`ch7_sw_copy_lstm_64_min:.0%`), the Transformer {glue:text}`ch7_sw_copy_tf_64:.0%`
#   (best seed {glue:text}`ch7_sw_copy_tf_64_max:.0%`); at 256, {glue:text}`ch7_sw_copy_lstm_256:.0%`
#   against {glue:text}`ch7_sw_copy_tf_256:.0%`, near chance. The gentle degradation seen at 300 steps
#   becomes a clear win once the LSTM has learned the task: its update is the same at every step,
#   while the Transformer's count of positions was learned up to 16.
# - **The adding problem at length 256: neither model** (medians {glue:text}`ch7_sw_add_lstm_256:.0%`
#   and {glue:text}`ch7_sw_add_tf_256:.0%`, the Transformer's best seed
#   {glue:text}`ch7_sw_add_tf_256_max:.0%`).
# - **Parity: the LSTM at every length, but the Transformer does learn.** It reaches
#   {glue:text}`ch7_sw_par_tf:.0%` at length 16 (best seed {glue:text}`ch7_sw_par_tf_max:.0%`), well
#   above the coin, and {glue:text}`ch7_sw_capped_par_tf` of its {glue:text}`ch7_sw_seeds` runs were
#   still improving when the cap stopped them; at length 256 it is at
#   {glue:text}`ch7_sw_par_tf_256:.0%`, chance. The two failures separate: *learning* parity is slow
#   for attention (the retrial below gives it more steps), and *extending* it to longer strings fails
#   outright, the split that {cite:t}`deletang2023neural` report at scale.
# - **Recall: a tie with two pairs, the Transformer with four and eight.** Trained longer, the LSTM
#   learns the lookup for two pairs (worst seed {glue:text}`ch7_sw_recall_lstm_2_min:.0%`), so its
#   guessing at 300 steps was the budget. With four pairs it reaches a median of
#   {glue:text}`ch7_sw_recall_lstm_4:.0%` (guessing scores {glue:text}`ch7_guess_4:.0%`; its best
#   seed {glue:text}`ch7_sw_recall_lstm_4_max:.0%`), with eight {glue:text}`ch7_sw_recall_lstm_8:.0%`,
#   while the Transformer's worst seed answers {glue:text}`ch7_sw_recall_tf_8_min:.0%` with eight.
#   This verdict is the least settled: the LSTM's curves sit on a plateau and then drop, some seeds
#   had begun to drop when the cap stopped them ({glue:text}`ch7_sw_capped_recall_lstm` of its 10 runs
#   at four and eight pairs ended at the cap), and the plateau is longer the more pairs there are.
#   Whether the LSTM's state would hold four or eight pairs once the lookup is learned, this sweep
#   cannot say.
#
# What these verdicts rest on: {glue:text}`ch7_sw_seeds` seeds per cell; a learning rate tuned per
# model and task ({glue:text}`ch7_sweep_edges` of the {glue:text}`ch7_sweep_choices` choices fell at an
# edge of the grid, each in a cell where every rate tried solved the task); and a cap of {glue:text}`ch7_sweep_max_steps:,` steps, which stopped
# {glue:text}`ch7_sw_capped` of the {glue:text}`ch7_sweep_tuned_runs` chosen runs. For most of those
# the accuracy had long been settled; for the Transformer on parity and the LSTM on recall the cap is
# the budget, and the verdicts there hold within {glue:text}`ch7_sweep_max_steps:,` steps only.

# %% [markdown]
# So the cap was retried where it bound. The sweep `long_range_longer` trains those cells again,
# at the learning rates chosen above, with a cap of {glue:text}`ch7_longer_max_steps:,` steps and a
# patience of {glue:text}`ch7_longer_patience_steps:,` steps ({glue:text}`ch7_longer_cpu_min`
# CPU-minutes in all):

# %%
# the cells the cap stopped, trained again at their chosen rates with five times the cap
longer = sweeps.load("long_range_longer")
longer["model"] = longer["model"].map({"lstm": "LSTM", "transformer": "Transformer"})
longer["cell"] = [
    f"recall, P = {s}" if t == "recall" else t.replace("_", " ")
    for t, s in zip(longer["task"], longer["size"])
]
for (cell, model), lr in longer.groupby(["cell", "model"])["lr"].first().items():
    assert lr == best_lr[cell, model]  # the rates chosen above
retrial = longer.groupby(["cell", "model"], sort=False).agg(
    median=("accuracy", "median"),
    worst=("accuracy", "min"),
    best=("accuracy", "max"),
    at_256=("accuracy_256", "median"),
    stopped_by_the_cap=("epochs_run", lambda n: int((n == lr_sweep.LONGER_MAX_ROUNDS).sum())),
    median_steps=("best_epoch", lambda n: int(n.median() * lr_sweep.ROUND_STEPS)),
)
retrial["at the first cap"] = [med.loc[k, "accuracy"] for k in retrial.index]
retrial_tf_worst = {P: lo.loc[(f"recall, P = {P}", "Transformer"), "accuracy"] for P in (4, 8)}
glue("ch7_longer_max_steps", lr_sweep.LONGER_MAX_ROUNDS * lr_sweep.ROUND_STEPS)
glue("ch7_longer_patience_steps", lr_sweep.LONGER_PATIENCE * lr_sweep.ROUND_STEPS)
glue("ch7_longer_cpu_min", round(longer["seconds"].sum() / 60))
par_long = longer[longer["cell"] == "parity"]
learned = par_long["accuracy"] > 0.9  # a seed that learned parity at the training lengths
glue("ch7_longer_par_learned", int(learned.sum()))
glue("ch7_longer_par_best", round(float(par_long["accuracy"].max()), 2))
glue("ch7_longer_par_64", round(float(par_long["accuracy_64"].max()), 2))
glue("ch7_longer_par_256", round(float(par_long["accuracy_256"].max()), 2))
glue("ch7_longer_par_steps", int(retrial.loc[("parity", "Transformer"), "median_steps"]))
for P in (4, 8):
    row = retrial.loc[(f"recall, P = {P}", "LSTM")]
    glue(f"ch7_longer_recall_{P}", round(float(row["median"]), 2))
    glue(f"ch7_longer_recall_{P}_best", round(float(row["best"]), 2))
    glue(f"ch7_longer_recall_{P}_capped", int(row["stopped_by_the_cap"]))
# what the retrial must show for the text to stand: the Transformer learns parity at the training
# lengths in most seeds and extends it nowhere; the LSTM's recall grows past its plateau
assert learned.sum() >= 3 and par_long["accuracy_256"].max() < 0.6
assert (par_long.loc[~learned, "epochs_run"] == lr_sweep.LONGER_MAX_ROUNDS).all()  # the rest: capped
for P in (4, 8):
    row = retrial.loc[(f"recall, P = {P}", "LSTM")]
    assert row["median"] > row["at the first cap"] + 0.2  # off the plateau
    assert row["best"] < retrial_tf_worst[P]  # and still behind every Transformer seed
retrial.round(3)

# %% [markdown]
# With more steps the two capped verdicts moved, each in its own way:
#
# - **Parity: the Transformer does learn it at the training lengths.**
#   {glue:text}`ch7_longer_par_learned` of its five seeds passed 90% (the best
#   {glue:text}`ch7_longer_par_best:.0%`), after a median of {glue:text}`ch7_longer_par_steps:,` steps;
#   the rest were still climbing at the cap. None extended it: at most {glue:text}`ch7_longer_par_64:.0%` at
#   length 64 and {glue:text}`ch7_longer_par_256:.0%` at 256, chance. Its failure at the first cap was
#   budget, a matter of *learning*; its failure beyond the training lengths is not, a matter of
#   *extending*.
# - **Recall: the LSTM leaves its plateau.** With four pairs its median rose to
#   {glue:text}`ch7_longer_recall_4:.0%` (best seed {glue:text}`ch7_longer_recall_4_best:.0%`), with
#   eight to {glue:text}`ch7_longer_recall_8:.0%` (best {glue:text}`ch7_longer_recall_8_best:.0%`), and
#   {glue:text}`ch7_longer_recall_4_capped` and {glue:text}`ch7_longer_recall_8_capped` of the five runs
#   were still improving at the new cap. The Transformer still leads at both sizes, but the gap closes
#   with training: "the Transformer ahead" holds within the budgets tried, and where the LSTM would
#   end without a cap, this book has not measured.

# %% [markdown]
# One stored run is trained again here, and must match its record in every number where both the
# record and this run use the book's pinned numerics (elsewhere, as in Colab or for a record made
# under the book's earlier pin, the run is a fresh one and must still learn parity):

# %%
# one stored run, trained again here: the quickest of the LSTM's parity runs at its chosen
# learning rate (a few seconds)
quick = min(
    tuned[(tuned["cell"] == "parity") & (tuned["model"] == "LSTM")]["record"],
    key=lambda r: r["seconds"],
)
live = sweeps.rerun("long_range", quick["config"])
if sweeps.reproducible(quick):
    # the book's pinned numerics and seeds, here and when the record was made: it must come
    # back to the last bit
    assert sweeps.same(live, quick), sweeps.differences(live, quick)[:3]
    print(
        f"re-ran {quick['config']}: {len(live['curve']['val_loss'])} rounds, best round "
        f"{live['best_epoch']}, accuracy {live['result']['accuracy']:.3f} at length 16 and "
        f"{live['result']['accuracy_256']:.3f} at 256, the same as the stored record in every number"
    )
else:
    # other CPU numerics (as in Colab, or when the record was made) or other seeds: a fresh
    # run of the same recipe, which must still learn parity (every stored run of the LSTM did)
    assert live["result"]["accuracy"] > 0.9
    print(
        f"a fresh run of {quick['config']} (made under other numerics or seeds than the record): accuracy "
        f"{live['result']['accuracy']:.3f}; stored {quick['result']['accuracy']:.3f}"
    )

# %% [markdown]
# ## Where each wins, and why
#
# One picture for the whole trial, trained to a stop: the median seed's accuracy for each model and
# task, at the training size and beyond it (for recall, at 2, 4 and 8 pairs).

# %%
# the median seed of each model, trained to a stop at its chosen learning rate
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
for ax, model in zip(axes, ["LSTM", "Transformer"]):
    grid = pd.DataFrame(
        {
            task: med.loc[(task, model), ["accuracy", "accuracy_64", "accuracy_256"]].to_numpy()
            for task in ("adding", "selective copy", "parity")
        }
        | {"recall": [med.loc[(f"recall, P = {P}", model), "accuracy"] for P in PAIRS]},
        index=["short", "medium", "long"],
    ).T.loc[["adding", "selective copy", "recall", "parity"]]
    viz.heatmap(
        grid, ax=ax, annot=True, vmin=0, vmax=1, cbar=ax is axes[-1], title=model
    )
    ax.set(xlabel="size (lengths 16, 64, 256; recall: 2, 4, 8 pairs)")
plt.tight_layout()
plt.show()


# %% [markdown]
# Read the two panels row by row, and a pattern appears that no single winner describes. The table
# puts the two rounds side by side (each entry of the last two columns is checked by the code above):
#
# | task | what the answer needs | at 300 steps | trained to a stop | why |
# | --- | --- | --- | --- | --- |
# | adding | two values at unknown positions | Transformer | tie at the training length; neither at 256 | attention finds the markers in one step and learns first; given time, the LSTM learns it too |
# | selective copy | a few tokens and their order | {glue:text}`ch7_copy_call_300` | tie at the training length; LSTM at 64 and 256 | the LSTM's update is the same at every step; the Transformer's count of positions was learned up to 16 |
# | recall | one of $P$ stored values, by content | Transformer at every $P$ | tie at $P$ = 2; Transformer at 4 and 8, within the cap | direct access to all pairs; a fixed state must learn to store every value, and learns it more slowly the more pairs there are |
# | parity | a bit updated at every step | LSTM at every length | LSTM at every length; the Transformer learns slowly, and not beyond 16 | a recurrent state implements the update once for all lengths; an average over positions carries little signal about any one bit |
#
# The deciding question is not "how far back is the dependency?" but **what must be remembered, and
# how it is used**, and, at a short budget, **how fast each model learns it**. When the task is to
# *retrieve* (find a few tokens, by marker or by content), direct access learns fastest; given time,
# the LSTM caught up on the adding problem, on selective copying and on recall with two pairs, but
# not, within our cap, with four or eight, where a fixed-size state has to have stored every value in
# advance. When the task
# is to *track* a state that changes at every step, the fixed-size state is exactly the right memory,
# and attention has to reconstruct it from an average, which it does poorly and not at all beyond the
# lengths it was trained on.
#
# :::{admonition} Claim on trial: "Transformers handle long-range dependencies more effectively than LSTMs, which struggle to retain information over long sequences"
# :class: claim warning
# :name: claim-ch07-transformers-handle-long-range-dependencies
# **Verdict: depends on the task, and on the budget.** At {glue:text}`ch7_budget` parameters ({glue:text}`ch7_recall_budget` for recall) and
# {glue:text}`ch7_steps` steps at one learning rate, the Transformer won the adding problem (error
# {glue:text}`ch7_add_tf_mse` against the LSTM's {glue:text}`ch7_add_lstm_mse`) and associative
# recall. Trained to a stop, each at its own learning rate, the two tied on the adding problem and on
# selective copying at the training length, and on recall with two pairs; the Transformer kept recall
# with four and eight pairs (its worst seed {glue:text}`ch7_sw_recall_tf_8_min:.0%` with eight, against the
# LSTM's {glue:text}`ch7_sw_recall_lstm_8:.0%`, within {glue:text}`ch7_sweep_max_steps:,` steps).
# The LSTM won state tracking (parity, {glue:text}`ch7_sw_par_lstm_256:.0%` against
# {glue:text}`ch7_sw_par_tf_256:.0%` at length 256) and selective copying at longer lengths
# ({glue:text}`ch7_sw_copy_lstm_64:.0%` against {glue:text}`ch7_sw_copy_tf_64:.0%` at length 64):
# "struggles to retain information over long sequences" describes neither of those. On the Long Range Arena benchmark
# {cite}`tay2021long` (their Table 1), no single kind of Transformer won every task either: the
# variants spread most on ListOps and Text, and every one of them failed Path-X, the longest task.
# The benchmark has no LSTM baseline; the first model to solve Path-X was a state space model, S4
# {cite}`gu2022efficiently` (Chapter 11).
# *Source of the claim: seed article 002.*
# :::
#
# :::{admonition} Claim on trial: "an LSTM's reach is limited by the size of its hidden state; attention reaches every position directly"
# :class: claim warning
# :name: claim-ch07-lstms-reach-limited-size-hidden
# **Verdict: depends; true in principle, not shown to be what limited our LSTM.** Attention did reach
# every pair: trained to a stop, the Transformer's worst seed answered {glue:text}`ch7_sw_recall_tf_8_min:.0%`
# of the queries with eight pairs. After {glue:text}`ch7_steps` steps the LSTM's recall fell from
# {glue:text}`ch7_recall_lstm_2:.0%` with two pairs to {glue:text}`ch7_recall_lstm_8:.0%` with eight,
# but those are the scores of guessing among the context's values. Trained to a stop it learned the
# lookup for two pairs (worst seed {glue:text}`ch7_sw_recall_lstm_2_min:.0%`) and was past guessing
# but on a plateau with four and eight ({glue:text}`ch7_sw_recall_lstm_4:.0%` and
# {glue:text}`ch7_sw_recall_lstm_8:.0%`) when the cap stopped it; with five times the cap it
# left the plateau (a median of {glue:text}`ch7_longer_recall_4:.0%` with four pairs, still rising). Its state, $h$ and $c$ of
# {glue:text}`ch7_recall_state` floats in all, could hold eight 3-bit values many times over: what the sweep shows is a lookup learned more slowly as the
# pairs grow, not a state found too small. The limit is real at scale:
# {cite:t}`arora2024zoology` tie the recall gap of fixed-state models to their state size, and
# Chapter 11 measures it for linear attention by sweeping the pairs against the state's width. The
# "limit" is on *how much* can be stored, not on *how far back*: parity needs one bit from arbitrarily
# far back, and the LSTM held it at {glue:text}`ch7_sw_par_lstm_256:.0%` over 256 steps.
# *Source of the claim: seed article 001.*
# :::
#
# :::{admonition} Claim on trial: "LSTMs solve long-range dependencies brilliantly" (on Chapter 1's docket)
# :class: claim warning
# :name: claim-ch07-lstms-solve-long-range-dependencies
# **Verdict: depends.** They solve the dependencies a small state can carry, and those generalise to
# lengths far beyond training (parity: {glue:text}`ch7_sw_par_lstm_256:.0%` at sixteen times the
# training length; selective copying: {glue:text}`ch7_sw_copy_lstm_64:.0%` at four times it). They
# learn slowly when a value must be stored many steps before it is used (after {glue:text}`ch7_steps`
# steps only {glue:text}`ch7_add_lstm_acc:.0%` of its sums were right, against
# {glue:text}`ch7_add_tf_acc:.0%` for the Transformer; trained to a stop, both solved it), and
# slowest of all when many values must be stored and looked up (recall with four and eight pairs,
# still on a plateau after {glue:text}`ch7_sweep_max_steps:,` steps).
# *Source of the claim: seed article 001.*
# :::
#
# ## What changes at scale
#
# Everything here is small: {glue:text}`ch7_budget` parameters ({glue:text}`ch7_recall_budget` for recall), {glue:text}`ch7_examples` training
# examples per model, lengths up to 256. Three things change as models and data grow.
#
# - **Speed of learning evens out.** At 300 steps the LSTM was still learning the adding problem;
#   trained to a stop it solved it, and selective copying, as well as the Transformer did: those gaps
#   were sample efficiency, not capacity. What stays is the capacity argument for recall
#   {cite}`arora2024zoology`, which our cap could not settle, and the argument for parity
#   {cite}`hahn2020theoretical`, which our Transformer's slow climb illustrates.
# - **Length generalisation stays hard for Transformers.** {cite:t}`deletang2023neural` trained
#   20,910 models on tasks like parity and counting, with several position encodings, and
#   Transformers failed to generalise beyond training lengths on most of the tasks that need a state,
#   though not all: they solved Even Pairs, Missing Duplicate and Bucket Sort, and partly Cycle Navigation (their Table 2); Chapter 5's rotary positions help on tasks about relative position, not on these.
# - **The cost of direct access grows.** Attention keeps every past token: the memory of a Transformer
#   grows with the length and its work with its square, while the LSTM's state is the same size at
#   step 10 and at step 10,000. Chapter 8 measures that price, and Part V meets the models designed to
#   have a fixed state that still retrieves {cite}`gu2023mamba`.
#
# ## Summary
#
# - At matched parameter counts (within {glue:text}`ch7_param_gap`%) and a short budget of
#   {glue:text}`ch7_steps` steps, the Transformer won the adding problem and associative recall: it
#   learns retrieval faster.
# - Trained until the validation loss stopped improving, with the learning rate tuned per model, the
#   two tied on the adding problem and selective copying at the training length and on recall with
#   two pairs; the Transformer kept recall with four and eight pairs, by a margin that shrank as the
#   LSTM was given more steps.
# - The LSTM won state tracking: on parity it generalised from lengths up to 16 to length 256
#   ({glue:text}`ch7_sw_par_lstm_256:.0%`), while the Transformer learned parity at the training
#   lengths only after thousands of steps (best seed {glue:text}`ch7_longer_par_best:.0%`) and not at
#   all beyond them. It also won
#   selective copying at longer lengths.
# - Trained short and tested long, the Transformer's accuracy fell toward chance on every task tested at
#   longer lengths (adding, selective copying, parity); the
#   LSTM kept parity exactly, kept most of selective copying, and failed the adding problem too.
# - The rule of thumb: direct access learns retrieval fastest; a state carried forward wins when the
#   task is to update one, and when a learned rule must work at new lengths. "Long-range" alone does
#   not decide, and neither does a verdict read at a short budget.
#
# ## Exercises
#
# ```{exercise} Count an LSTM's parameters, graded
# :label: ch7-ex-count
#
# Write `lstm_parameters(input_size, hidden_size, num_layers)` returning the number of parameters of
# `torch.nn.LSTM(input_size, hidden_size, num_layers)` by formula, without building the module.
# Grade it with `seqlib.checks.check_lstm_params`, which compares it with PyTorch's module
# and names the usual mistakes. Then use it to find the hidden size whose LSTM layer is closest to
# {glue:text}`ch7_budget` parameters for 16 input features.
# ```

# %% [markdown]
# ```{solution-start} ch7-ex-count
# :class: dropdown
# ```
# Each of the four blocks (input, forget and output gates, cell candidate) has an input matrix
# $H \times I$, a recurrent matrix $H \times H$ and two bias vectors (PyTorch keeps `b_ih` and
# `b_hh`). Layers after the first read the $H$ features of the layer below.

# %%
def lstm_parameters(input_size, hidden_size, num_layers=1):
    H = hidden_size
    first = 4 * H * (input_size + H) + 8 * H
    return first + (num_layers - 1) * (4 * H * (H + H) + 8 * H)


print(seqlib.checks.check_lstm_params(lstm_parameters))
best = min(range(1, 100), key=lambda H: abs(lstm_parameters(16, H) - BUDGET))
print("hidden size", best, "->", lstm_parameters(16, best), "parameters")

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} How many bits does recall need?
# :label: ch7-ex-bits
#
# With $P$ pairs and 8 possible values, how many bits must a model's state hold after reading the
# context to answer every query? Compare this with the LSTM's state of $H$ floats. Why is the float
# count not the limit in practice?
# ```
#
# ```{solution} ch7-ex-bits
# :class: dropdown
#
# $P \log_2 8 = 3P$ bits for the values, plus, if the keys are not stored by position, enough to know
# which value goes with which of the 16 keys: at most $16 \cdot 3 = 48$ bits, a table with one entry
# per key. A state of $H$ = 49 floats could hold far more in principle (each float has 32 bits).
# In practice the state is written by a learned, smooth update and read by a linear read-out after
# one more LSTM step: information must be stored so that a key *arriving later* can select its value,
# which needs the values laid out in a form the query can address. Learning such a layout by gradient
# descent is what fails first, and {cite:t}`arora2024zoology` show that the state a fixed-state model
# needs for recall grows with the number of pairs.
# ```
#
# ```{exercise} Is the Transformer's parity a learning-rate problem?
# :label: ch7-ex-longer
#
# The stored sweep holds every learning rate it tried, not only the chosen one. Load it with
# `sweeps.load("long_range")` and, for the Transformer on parity, print the median accuracy at length
# 16 and at length 256 for each learning rate. Draw the validation-accuracy curves
# (`record["curve"]["val_accuracy"]`) of the best rate. Does any rate make it learn parity at the
# training lengths? At length 256? What does the answer say about which part of its failure was
# budget and which was architecture?
# ```
#
# ```{solution-start} ch7-ex-longer
# :class: dropdown
# ```
# The sweep's records hold every learning rate. For the Transformer on parity:

# %%
par_tf = runs[(runs["cell"] == "parity") & (runs["model"] == "Transformer")]
by_lr = par_tf.groupby("lr")[["accuracy", "accuracy_64", "accuracy_256"]].median()
print(by_lr.round(2).to_string())
best = best_lr["parity", "Transformer"]
fig, ax = plt.subplots(figsize=(5.5, 3))
for r in par_tf[par_tf["lr"] == best].itertuples():
    acc = r.record["curve"]["val_accuracy"]
    ax.plot([(i + 1) * lr_sweep.ROUND_STEPS for i in range(len(acc))], acc, lw=1)
ax.axhline(1 / 2, color="grey", ls="--")
ax.set(
    xlabel="training steps",
    ylabel="validation accuracy (lengths 1-16)",
    title=f"Transformer on parity, learning rate {best:g}, one line per seed",
)
plt.show()
assert by_lr["accuracy"].max() < 0.9  # no rate solves it at the training lengths
assert by_lr["accuracy_256"].max() < 0.55  # and none extends it
glue("ch7_ex_par_best", round(float(by_lr["accuracy"].max()), 2))
glue("ch7_ex_par_256", round(float(by_lr["accuracy_256"].max()), 2))

# %% [markdown]
# No learning rate makes it solve parity at the training lengths (the best median is
# {glue:text}`ch7_ex_par_best:.0%`), and none lifts it off chance at length 256 (at most
# {glue:text}`ch7_ex_par_256:.0%`). At the best rate the curves still climb when the cap stops them:
# the learning is slow, not absent, so part of the failure at length 16 is budget. The retrial with
# five times the cap measures it: {glue:text}`ch7_longer_par_learned` of five seeds passed 90% at the
# training lengths, and none left chance at length 256. A two-layer Transformer can represent parity on short strings (by counting ones with
# a uniform head and reading the count's last bit, or by the construction of
# {cite:t}`chiang2022overcoming`), but the gradient gives it little to climb, since the output's
# sensitivity to any one bit is small {cite}`hahn2020theoretical`. The failure at 256 is not budget:
# the count it computes is an average whose resolution shrinks as $1/T$, and a read-out learned for
# averages over at most 16 positions does not apply to 256. That is the split
# {cite:t}`deletang2023neural` report at scale: in-distribution accuracy depends on training, length
# generalisation on the architecture.
# ```{solution-end}
# ```
#
# ```{exercise} A fair budget in time, not parameters
# :label: ch7-ex-time
#
# We matched parameters and steps. Match wall-clock time instead: time one step of each model at
# length 64 on your machine, and give the faster one proportionally more steps on the adding problem.
# Does the verdict change? Which budget (parameters, steps, time, memory) is the fair one?
# ```
#
# ```{solution} ch7-ex-time
# :class: dropdown
#
# Whichever step is cheaper on your machine gets more steps. If it is the LSTM's, its
# adding-problem error comes down toward the Transformer's, since its failure here was speed of
# learning; if it is the Transformer's, the gap at the training length widens. On a GPU at scale the balance flips:
# the Transformer's steps run in parallel over positions and the LSTM's do not (Chapter 8). There is
# no single fair budget: parameters measure capacity, steps measure sample efficiency, time and
# memory measure cost on given hardware. A comparison should say which one it fixes, as this chapter
# does, and a verdict that changes with the budget is itself a finding.
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
