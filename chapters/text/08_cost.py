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
# # Cost: time, memory and state
#
# Chapters 6 and 7 asked what a Transformer and an LSTM can *learn*. This chapter asks what they
# *cost*. The popular articles are confident about it: Transformers train faster because they are
# parallel, LSTMs cannot be parallelised, attention is quadratic in memory, and LSTMs are the frugal
# choice for streaming and for small devices. Each of these is a claim about time or memory, and
# time and memory can be measured.
#
# We count parameters by formula, then build an LSTM and a Transformer language model with the same
# number of parameters and measure them on the machine in front of you: the time of a training step
# against the sequence length, the memory a training step must keep, and the time and state needed
# to generate one token after a long context. A benchmark in `seqlib` runs the same measurements at
# larger sizes, on a GPU when there is one, and keeps its results with the package, so that this page
# can show them beside its own.
#
# :::{admonition} Learning objectives
# :class: tip
# After this chapter you can
#
# - count the parameters of an LSTM layer and a Transformer layer by formula, and match two models'
#   budgets;
# - explain *sequential depth*, and measure it on an autograd graph;
# - time code honestly: warm-up, repeats, medians and spread, and verdicts from ratios and slopes;
# - measure the activation memory of a training step with saved-tensor hooks, and fit its growth
#   with the sequence length;
# - tell where attention is still quadratic (compute) and where it no longer is (memory, with fused
#   kernels);
# - compare an LSTM's fixed state with a Transformer's key/value cache, and find where they cross.
# :::
#
# :::{admonition} Prerequisites
# :class: note
# Chapter 3 (the LSTM and its gates), Chapter 5 (scaled dot-product attention and causal masks) and
# Chapter 6 (the Transformer layer, its parameter count, and generation with a key/value cache).
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
from matplotlib.ticker import NullFormatter
import torch
import torch.nn.functional as F
from torch import nn

import seqlib
from seqlib import bench, glue, recurrent, transformer, viz

device = seqlib.setup(seed=0)  # seeds, one CPU thread, the book's plotting style


# %% [markdown]
# ## Parameters per layer, by formula and by count
#
# An LSTM layer with $I$ inputs and $H$ units has four gate blocks (input, forget, candidate,
# output), each with an input matrix $H \times I$, a recurrent matrix $H \times H$ and, in
# PyTorch, two bias vectors:
#
# $$
# P_{\text{LSTM}}(I, H) = 4(HI + H^2) + 8H .
# $$ (ch8-lstm-params)
#
# A Transformer layer of width $d$ with $d_{\text{ff}} = 4d$ has $4d^2 + 4d$ in its attention,
# $8d^2 + 5d$ in its feed-forward network and $4d$ in its two norms (Chapter 6, eq. {eq}`ch6-params`):
#
# $$
# P_{\text{layer}}(d) = 12 d^2 + 13 d .
# $$ (ch8-tf-params)
#
# An LSTM layer reading its own width ($I = H$) has $8H^2 + 8H$, so the two match when
# $8H^2 \approx 12 d^2$, that is $H \approx 1.22\, d$. We check both formulas against PyTorch's
# counts.

# %%
def lstm_layer_params(I, H):
    return 4 * (H * I + H * H) + 8 * H  # eq. (ch8-lstm-params)


def transformer_layer_params(d):
    return 12 * d * d + 13 * d  # eq. (ch8-tf-params), d_ff = 4d


def count(module):
    return sum(p.numel() for p in module.parameters())


rows = []
for d in (64, 128, 512):
    H = round(1.5**0.5 * d)  # the LSTM width with about the same parameters
    assert count(nn.LSTM(H, H)) == lstm_layer_params(H, H)
    assert count(transformer.EncoderLayer(d, 4, 4 * d)) == transformer_layer_params(
        d
    )
    assert count(
        nn.TransformerEncoderLayer(d, 4, 4 * d)
    ) == transformer_layer_params(d)
    rows.append(
        {
            "d": d,
            "Transformer layer": transformer_layer_params(d),
            "LSTM width H": H,
            "LSTM layer": lstm_layer_params(H, H),
        }
    )
per_layer = pd.DataFrame(rows).set_index("d")
per_layer

# %% [markdown]
# Formula and count agree for both. For whole language models we add the embeddings and the
# read-out: `bench.lm_pair` builds a two-layer decoder-only Transformer (`DecoderOnlyLM`, width 64,
# sinusoidal positions so that no parameter depends on the longest context) and an LSTM language
# model (`RecurrentModel`) whose width `bench.matched_lstm_width` solves from the Transformer's count.
# These two models are used for the rest of the chapter.

# %%
VOCAB, D_MODEL, LAYERS, HEADS = 64, 64, 2, 4
seqlib.seed_everything(0)
lstm_lm, tf_lm = bench.lm_pair(VOCAB, D_MODEL, LAYERS, HEADS, max_len=2200)
H = lstm_lm.rnn.hidden_size
params = {"LSTM": count(lstm_lm), "Transformer": count(tf_lm)}
gap = abs(params["LSTM"] - params["Transformer"]) / params["Transformer"]
assert gap < 0.01
glue("ch8_H", H)
glue("ch8_params_tf", params["Transformer"])
glue("ch8_params_lstm", params["LSTM"])
glue("ch8_param_gap", round(100 * gap, 2))
print(
    f"LSTM width {H}: {params['LSTM']:,} parameters; Transformer width {D_MODEL}: {params['Transformer']:,}"
)

# %% [markdown]
# The LSTM of width {glue:text}`ch8_H` has {glue:text}`ch8_params_lstm:,` parameters and the
# Transformer {glue:text}`ch8_params_tf:,`, within {glue:text}`ch8_param_gap` %.
#
# **Work per token.** Matched parameters mean matched work on the weights: each weight is used in
# one multiply-add per token, about $12d^2$ per layer for both models. Attention adds its own work,
# which the parameters do not show: the token at position $t$ compares its query with $t$ keys and
# averages $t$ values, $2td$ multiply-adds per layer. That overtakes the weights' $12 d^2$ when
#
# $$
# t > 6d ,
# $$ (ch8-crossover)
#
# the constant-factor version of the comparison in Table 1 of {cite:t}`vaswani2017attention`
# (self-attention costs $O(n^2 d)$ per layer, recurrence $O(n d^2)$, so attention is cheaper when
# $n < d$).

# %%
for name, d in (
    ("this chapter", D_MODEL),
    ("the 2017 base model", 512),
    ("GPT-3", 12_288),
):
    print(
        f"{name:>20}: d = {d:>6,}, attention outweighs the weights after t = {6 * d:>6,} tokens"
    )
glue("ch8_t_cross_here", 6 * D_MODEL)
glue("ch8_t_cross_gpt3", 6 * 12_288)

# %% [markdown]
# For short sequences a Transformer's cost is the cost of its weights, like an LSTM's; the quadratic
# term only takes over beyond {glue:text}`ch8_t_cross_here` tokens for our width, and beyond
# {glue:text}`ch8_t_cross_gpt3:,` for GPT-3's $d$ {cite}`brown2020language`.
#
# ## Sequential depth
#
# Counting operations says how much work there is, not how much of it can run at the same time.
# What limits parallel hardware is the **sequential depth**: the longest chain of operations each of
# which needs the one before. An LSTM's step $t$ needs $h_{t-1}$, so its chain grows with $T$;
# a Transformer layer computes all positions at once, so its chain does not depend on $T$
# (Table 1 of {cite:t}`vaswani2017attention` calls this the number of *sequential operations*:
# $O(n)$ against $O(1)$).
#
# We can count it on the real computation. `bench.graph_depth(y)` walks the autograd graph that
# produced `y` and returns the number of operations on its longest path. PyTorch's `nn.LSTM` fuses
# its loop into one operation, so we use the from-scratch `seqlib.recurrent.LSTM` (Chapter 3),
# which computes the same function step by step, next to a two-layer Transformer encoder with a
# causal mask.

# %%
seqlib.seed_everything(0)
small_lstm = recurrent.LSTM(16, 16, num_layers=2)
small_tf = transformer.Encoder(2, 16, 4, 64, dropout=0.0, norm_first=True)
depths = []
for T in (8, 16, 32, 64, 128):
    x = torch.randn(2, T, 16, requires_grad=True)  # (B, T, d)
    depths.append(
        {
            "T": T,
            "LSTM": bench.graph_depth(small_lstm(x)[0]),
            "Transformer": bench.graph_depth(small_tf(x, is_causal=True)),
        }
    )
depths = pd.DataFrame(depths).set_index("T")
per_step = (depths["LSTM"].iloc[-1] - depths["LSTM"].iloc[0]) / (
    depths.index[-1] - depths.index[0]
)
assert depths["Transformer"].nunique() == 1  # the same depth at every length
assert (
    bench.fit_exponent(depths.index, depths["LSTM"]) > 0.95
)  # grows in proportion to T
glue("ch8_depth_per_step", round(float(per_step), 1))
glue("ch8_depth_tf", int(depths["Transformer"].iloc[0]))
glue("ch8_depth_lstm_128", int(depths["LSTM"].iloc[-1]))
depths

# %% [markdown]
# The LSTM's chain grows by {glue:text}`ch8_depth_per_step` operations per step, to
# {glue:text}`ch8_depth_lstm_128:,` at 128 steps; the Transformer's stays at
# {glue:text}`ch8_depth_tf` whatever the length. Nothing about an LSTM stops it from running the
# sequences of a batch, or the units of a layer, in parallel: only the steps of one sequence must
# wait for each other.
#
# :::{admonition} Claim on trial: "LSTMs cannot be parallelised"
# :class: claim warning
# :name: claim-ch08-lstms-cannot-be-parallelised
# **Verdict: depends: it holds along time only.** The dependent chain of the LSTM grew by
# {glue:text}`ch8_depth_per_step` operations per step while the Transformer's stayed at
# {glue:text}`ch8_depth_tf` (measured above on the autograd graphs). Across the batch and across the
# units of a layer an LSTM is as parallel as any matrix product, which is why GPU libraries fuse its
# steps into one kernel; what cannot be parallelised is the walk along one sequence.
# *Source of the claim: seed articles 000, 001 and 003.*
# :::
#
# ## Training time against sequence length
#
# Now the clock. One training step is the forward pass, the next-token cross-entropy, the backward
# pass and an Adam update, on a batch of 8 random sequences of $T$ tokens. `bench.timeit` runs it
# once to warm up (the first call allocates memory and picks kernels) and then seven times, and
# reports the **median** and the **interquartile range** (IQR): on a shared machine some runs are
# slowed by other work, and the median ignores them where a mean would not. The verdicts are drawn
# from how the times *grow*, the exponent $k$ fitted to $\text{time} \propto T^k$ on log-log axes,
# which is far more stable across machines than any single time.

# %% tags=["nbval-ignore-output"]
# timing: one training step of each model against the sequence length (median of 7 after a warm-up)
# each reading is bench.timeit: time.perf_counter around every run, the median and IQR of the runs
TRAIN_T, BATCH = (32, 64, 128, 256), 8
train_rows = []
for T in TRAIN_T:
    for name, model in (("LSTM", lstm_lm), ("Transformer", tf_lm)):
        r = bench.train_step_time(model, BATCH, T, repeats=7, warmup=1)
        train_rows.append({"model": name, "T": T, **r})
train = pd.DataFrame(train_rows)
k_train = {
    name: bench.fit_exponent(g["T"], g["median_s"])
    for name, g in train.groupby("model")
}
ratio_longest = train.query("T == @TRAIN_T[-1]").set_index("model")["median_s"]
ratio_longest = ratio_longest["Transformer"] / ratio_longest["LSTM"]
print(
    train.pivot(index="T", columns="model", values="median_s")
    .mul(1000)
    .round(1)
    .rename_axis("ms per step", axis=1)
)
print("fitted exponents:", {k: round(v, 2) for k, v in k_train.items()})
assert 0.3 < k_train["LSTM"] < 1.5  # roughly linear: one step per token
assert (
    ratio_longest > 1.5
)  # on one CPU thread the Transformer's step is the slower one
glue("ch8_k_lstm", round(k_train["LSTM"], 2))
glue("ch8_k_tf", round(k_train["Transformer"], 2))
glue("ch8_train_ratio", round(float(ratio_longest), 1))

# %% [markdown]
# The stored results of the benchmark (next cell) were measured the same way on a named machine at
# a larger size (width 128, batch 16, sequences up to 512). `bench.load_results()` reads every
# results file shipped with `seqlib`; each says where, when and with which versions it was
# measured.

# %%
stored = bench.load_results()
pd.DataFrame(
    [
        {
            "label": r["label"],
            "device": r["machine"]["device_name"],
            "threads": r["machine"]["threads"],
            "date": r["machine"]["date"],
            "torch": r["machine"]["torch"],
            "width": r["settings"]["d_model"],
            "LSTM params": r["models"]["lstm"]["params"],
            "Transformer params": r["models"]["transformer"]["params"],
        }
        for r in stored
    ]
).set_index("label")


# %%
def stored_rows(experiment):
    """The stored measurements of one experiment, each labelled with its machine."""
    return pd.DataFrame(
        [
            {**m, "source": f"{r['label']} (stored, {r['machine']['date']})"}
            for r in stored
            for m in r["measurements"]
            if m["experiment"] == experiment
        ]
    )


stored_train = stored_rows("train_step")
stored_train["model"] = stored_train["model"].map(
    {"lstm": "LSTM", "transformer": "Transformer"}
)
stored_k = {
    (src, name): bench.fit_exponent(g["T"], g["median_s"])
    for (src, name), g in stored_train.groupby(["source", "model"])
}
for key, k in stored_k.items():
    print(f"{key[0]}, {key[1]}: time per step grows like T^{k:.2f}")
for r in bench.load_results(
    "cpu"
):  # on a CPU the Transformer's time grows faster than the LSTM's
    source = f"{r['label']} (stored, {r['machine']['date']})"
    assert stored_k[(source, "Transformer")] > stored_k[(source, "LSTM")]

# %%
both = pd.concat(
    [train.assign(source="this run (live)"), stored_train], ignore_index=True
)
fig, axes = plt.subplots(1, 2, figsize=(11.5, 3.8))
for ax, y, label in (
    (axes[0], "median_s", "seconds per training step"),
    (axes[1], "tokens_per_s", "tokens per second"),
):
    sns.lineplot(
        data=both,
        x="T",
        y=y,
        hue="model",
        style="source",
        markers=True,
        legend=ax is axes[1],  # one legend, beside the right panel
        ax=ax,
    )
    ax.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel=label)
    viz.label_log_axis(ax, both["T"])  # a label at every measured length
viz.legend_outside(axes[1], fontsize=8)
axes[0].set_title("time per training step (bars: IQR, live run)")
for name, g in train.groupby("model"):
    axes[0].errorbar(
        g["T"], g["median_s"], yerr=g["iqr_s"] / 2, fmt="none", color="grey", lw=1
    )
axes[1].set_title("throughput")
for a in fig.axes:  # on the y axes, label the powers of ten only
    a.yaxis.set_minor_formatter(NullFormatter())
fig.tight_layout()

# %% [markdown]
# On one CPU thread, at matched parameters, the LSTM's step time grew like $T^{k}$ with
# $k \approx$ {glue:text}`ch8_k_lstm` (one fused step per token, plus fixed costs that matter most
# at short lengths), and the Transformer's like $T^{k}$ with $k \approx$ {glue:text}`ch8_k_tf` in
# this run; at the longest length the Transformer's step took {glue:text}`ch8_train_ratio` times
# as long as the LSTM's. The stored run at a larger width tells the same story. With one thread
# there is nothing to run in parallel, so the Transformer's short chain buys nothing: both models
# pay for all their work, and the Transformer's work includes attention, which grows faster than
# $T$, and many more small operations per layer than the LSTM's single fused kernel.
#
# On a GPU the short chain is the whole point: the thousands of cores can process all positions of
# a sequence together, while an LSTM must walk its {glue:text}`ch8_depth_per_step` operations per
# step one after another. That is the regime of {cite:t}`vaswani2017attention`, whose Table 2
# reports that their base Transformer beat the recurrent and convolutional models it was compared
# with on English-German, at a fraction of their training cost in FLOPs; on English-French the base
# model (38.1 BLEU) stayed behind the convolutional ConvS2S (40.46), and only the big model passed it. A GPU run
# of `seqlib.bench` (below) adds its own curves to this figure.
#
# :::{admonition} Claim on trial: "Transformers are faster to train than LSTMs"
# :class: claim warning
# :name: claim-ch08-transformers-faster-train-lstms
# **Verdict: depends on the hardware.** On one CPU thread, at matched parameters, the Transformer's
# training step took {glue:text}`ch8_train_ratio` times as long as the LSTM's at the longest length
# measured (timing cell above, median of seven runs). The speed-up is real on parallel hardware, where
# the Transformer's sequential depth ({glue:text}`ch8_depth_tf` operations at any length) beats the
# LSTM's ({glue:text}`ch8_depth_per_step` per step), and at the scale of the original paper it
# lowered the training cost of translation models severalfold {cite}`vaswani2017attention` (Table 2).
# "Orders of magnitude faster", as one article puts it, is not a property of the architecture: it is
# a property of the hardware and the implementation. *Source of the claim: seed articles 000, 002
# and 003.*
# :::
#
# ## Memory: what a training step must keep
#
# Between the forward and the backward pass, autograd keeps every tensor an operation needs for its
# gradient: the **activations**. For naive attention that includes the $T \times T$ matrix of
# attention weights, per head, which is where "attention is quadratic in memory" comes from.
# PyTorch's fused `F.scaled_dot_product_attention` picks, where it can, a kernel in the style of
# FlashAttention {cite}`dao2022flashattention`: it computes the softmax block by block, keeps only
# the output and one normaliser per row, and recomputes the weights during the backward pass.
#
# On the CPU PyTorch has no peak-memory counter, but we can measure exactly what autograd keeps:
# `bench.saved_bytes(fn)` installs `torch.autograd.graph.saved_tensors_hooks`, sees every tensor
# saved for the backward pass while `fn` runs, and adds up the bytes of the distinct storages. The
# number is exact and the same on every machine, so this is not a timing cell: its output is
# compared strictly when the book is tested. We measure one causal attention over 4 heads of 16
# features (width 64), naive and fused, and an `nn.LSTM` layer of the same width, for one
# sequence.

# %%
MEMORY_T = (128, 256, 512, 1024, 2048)
memory = pd.DataFrame(
    [
        {
            "kind": kind,
            "T": T,
            "MB": bench.activation_bytes(kind, T, d_model=D_MODEL, heads=HEADS)[
                "saved_bytes"
            ]
            / 1e6,
        }
        for T in MEMORY_T
        for kind in ("naive", "sdpa", "lstm")
    ]
)
names = {
    "naive": "naive attention",
    "sdpa": "fused attention (F.sdpa)",
    "lstm": "LSTM layer",
}
memory["kind"] = memory["kind"].map(names)
k_mem = {
    kind: bench.fit_exponent(g["T"], g["MB"]) for kind, g in memory.groupby("kind")
}
table = memory.pivot(index="T", columns="kind", values="MB").round(2)
assert 1.8 < k_mem[names["naive"]] < 2.1  # quadratic: the (h, T, T) weights
assert 0.9 < k_mem[names["sdpa"]] < 1.1  # linear: output and one number per row
assert 0.9 < k_mem[names["lstm"]] < 1.1  # linear: gates and states at every step
assert (table[names["sdpa"]] < table[names["lstm"]]).all()
longest = table.loc[MEMORY_T[-1]]
glue("ch8_k_mem_naive", round(k_mem[names["naive"]], 2))
glue("ch8_k_mem_sdpa", round(k_mem[names["sdpa"]], 2))
glue("ch8_k_mem_lstm", round(k_mem[names["lstm"]], 2))
glue(
    "ch8_mem_naive_over_sdpa",
    round(float(longest[names["naive"]] / longest[names["sdpa"]])),
)
glue(
    "ch8_mem_lstm_over_sdpa",
    round(float(longest[names["lstm"]] / longest[names["sdpa"]]), 1),
)
glue("ch8_mem_T", MEMORY_T[-1])
glue("ch8_mem_T_short", MEMORY_T[0])
print(
    "fitted exponents of saved bytes against T:",
    {k: round(v, 2) for k, v in k_mem.items()},
)
table

# %%
fig, ax = plt.subplots(figsize=(6, 3.8))
sns.lineplot(data=memory, x="T", y="MB", hue="kind", marker="o", ax=ax)
ax.set(
    xscale="log",
    yscale="log",
    xlabel="sequence length T",
    ylabel="MB saved for the backward pass",
    title="activation memory of one layer's core, one sequence",
)
viz.label_log_axis(ax, memory["T"])  # a label at every measured length
viz.legend_outside(ax, title=None, fontsize=8)
for a in fig.axes:  # on the y axes, label the powers of ten only
    a.yaxis.set_minor_formatter(NullFormatter())
fig.tight_layout()

# %% [markdown]
# The saved bytes of naive attention grow like $T^{k}$ with $k =$ {glue:text}`ch8_k_mem_naive`:
# quadratic. Fused attention's grow with $k =$ {glue:text}`ch8_k_mem_sdpa` and the LSTM's with
# $k =$ {glue:text}`ch8_k_mem_lstm`: linear. At {glue:text}`ch8_mem_T` positions naive attention
# keeps {glue:text}`ch8_mem_naive_over_sdpa` times as much as the fused kernel, and the LSTM layer
# keeps {glue:text}`ch8_mem_lstm_over_sdpa` times as much as the fused attention: its four gates and
# its cell state at every step are activations too.
#
# That compares attention's core with a whole LSTM layer of the same width, which is not a fair
# match: a Transformer layer also has its projections, its feed-forward network and its norms, and
# it holds {glue:text}`ch8_layer_params_ratio` times the parameters of an LSTM layer of its width
# (with a feed-forward width of $4d$; Chapter 6). So the next cell
# measures whole layers at matched size: a pre-norm PyTorch encoder layer of width
# {glue:text}`ch8_layer_d` under a causal mask (its attention runs through the fused kernel), and an
# LSTM layer of width {glue:text}`ch8_layer_lstm_width`, chosen to hold the same number of
# parameters ({glue:text}`ch8_layer_tf_params:,` and {glue:text}`ch8_layer_lstm_params:,`).
#

# %%
layers = pd.DataFrame(
    [
        {"layer": name, "T": T, **bench.layer_activation_bytes(kind, T, D_MODEL, HEADS)}
        for T in MEMORY_T
        for kind, name in (("transformer", "Transformer layer"), ("lstm", "LSTM layer"))
    ]
)
layers["MB"] = layers["saved_bytes"] / 1e6
by_layer = layers.pivot(index="T", columns="layer", values="MB").round(2)
ratio = by_layer["LSTM layer"] / by_layer["Transformer layer"]
sizes_of = layers.groupby("layer")[["params", "width"]].first()
assert abs(sizes_of.loc["LSTM layer", "params"] / sizes_of.loc["Transformer layer", "params"] - 1) < 0.02
k_layer = {name: bench.fit_exponent(g["T"], g["MB"]) for name, g in layers.groupby("layer")}
assert all(0.8 < k < 1.1 for k in k_layer.values())  # both close to linear in T
glue("ch8_k_layer_tf", round(k_layer["Transformer layer"], 2))
glue("ch8_k_layer_lstm", round(k_layer["LSTM layer"], 2))
assert (ratio > 1).all()  # the LSTM layer keeps more at every length
glue("ch8_layer_d", D_MODEL)
same_width = 8 * D_MODEL**2 + 8 * D_MODEL  # an LSTM layer of width d: 4 gates, 2 matrices, 2 biases
glue("ch8_layer_params_ratio", round(float(sizes_of.loc["Transformer layer", "params"] / same_width), 1))
glue("ch8_layer_lstm_width", int(sizes_of.loc["LSTM layer", "width"]))
glue("ch8_layer_tf_params", int(sizes_of.loc["Transformer layer", "params"]))
glue("ch8_layer_lstm_params", int(sizes_of.loc["LSTM layer", "params"]))
glue("ch8_layer_lstm_over_tf", round(float(ratio.loc[MEMORY_T[-1]]), 1))
glue("ch8_layer_ratio_short", round(float(ratio.loc[MEMORY_T[0]]), 1))
by_layer.assign(**{"LSTM / Transformer": ratio.round(2)})

# %% [markdown]
# Whole layers at matched size narrow the gap but keep its sign: at {glue:text}`ch8_mem_T`
# positions the LSTM layer keeps {glue:text}`ch8_layer_lstm_over_tf` times the bytes of the
# Transformer layer ({glue:text}`ch8_layer_ratio_short` times at {glue:text}`ch8_mem_T_short`).
# Both grow close to linearly in $T$ (fitted exponents {glue:text}`ch8_k_layer_tf` and
# {glue:text}`ch8_k_layer_lstm`; below 1 because some of what a layer keeps does not grow with $T$).
# The LSTM keeps its four gates, its cell state and its output at every
# step; the Transformer layer keeps its inputs to each projection and to the feed-forward network,
# but, with the fused kernel, no $T \times T$ matrix.
#
# The work, though, is still quadratic: the fused kernel computes every score, it just does not keep
# them. The next cell times the forward and backward pass of both versions.

# %% tags=["nbval-ignore-output"]
# timing: forward + backward of one causal attention, naive and fused (median of 5 after a warm-up)
# each reading is bench.timeit: time.perf_counter around every run, the median and IQR of the runs
ATTN_T = (256, 512, 1024)
attn = pd.DataFrame(
    [
        {
            "kind": names[kind],
            "T": T,
            **bench.attention_time(kind, T, D_MODEL // HEADS, HEADS, repeats=5),
        }
        for T in ATTN_T
        for kind in ("naive", "sdpa")
    ]
)
k_time = {
    kind: bench.fit_exponent(g["T"], g["median_s"])
    for kind, g in attn.groupby("kind")
}
print(
    attn.pivot(index="T", columns="kind", values="median_s")
    .mul(1000)
    .round(2)
    .rename_axis("ms", axis=1)
)
print(
    "fitted exponents of time against T:",
    {k: round(v, 2) for k, v in k_time.items()},
)
assert (
    k_time[names["naive"]] > 1.4 and k_time[names["sdpa"]] > 1.4
)  # both still quadratic in work
glue("ch8_k_time_naive", round(k_time[names["naive"]], 2))
glue("ch8_k_time_sdpa", round(k_time[names["sdpa"]], 2))

# %% [markdown]
# Both times grow close to $T^2$ (fitted exponents {glue:text}`ch8_k_time_naive` naive and
# {glue:text}`ch8_k_time_sdpa` fused in this run): the fused kernel is faster by a constant, because
# it never writes the score matrix to memory and back, but it does the same quadratic work.
# {cite:t}`rabe2021self` showed that attention can be computed, exactly, in memory that grows only
# logarithmically with the length, and gave a practical version whose memory grows as $O(\sqrt{n})$,
# gradients included (by recomputation); {cite:t}`dao2022flashattention`
# turned the idea into GPU kernels whose memory is linear in the sequence length (their Figure 3)
# and which trained GPT-2 3 to 3.5 times faster than the Hugging Face implementation and 1.7 to 1.8
# times faster than Megatron-LM (their Table 2).
#
# :::{admonition} Claim on trial: "Transformers need quadratic memory, because they store a (sequence length)² attention matrix"
# :class: claim note
# :name: claim-ch08-transformers-need-quadratic-memory-because
# **Verdict: outdated for memory, still true for compute.** The naive attention kept memory growing
# like $T^{2}$ (fitted exponent {glue:text}`ch8_k_mem_naive`), but PyTorch's fused kernel, on this
# CPU, kept memory growing like $T^{1}$ (exponent {glue:text}`ch8_k_mem_sdpa`),
# {glue:text}`ch8_mem_naive_over_sdpa` times less at {glue:text}`ch8_mem_T` positions. The
# quadratic part that remains is the work: both versions' times grew close to $T^2$. Memory-efficient
# attention {cite}`rabe2021self` and FlashAttention {cite}`dao2022flashattention` are how long
# contexts are trained today. *Source of the claim: seed articles 000 and 001.*
# :::
#
# :::{admonition} Claim on trial: "LSTMs need much less memory than Transformers on long sequences"
# :class: claim danger
# :name: claim-ch08-lstms-need-much-less-memory
# **Verdict: does not hold for training with fused attention.** Training an LSTM keeps its gates and
# states at every step, memory linear in $T$ like a fused-attention Transformer layer's; at
# {glue:text}`ch8_mem_T` positions an LSTM layer kept {glue:text}`ch8_layer_lstm_over_tf` times as
# many bytes as a whole Transformer layer with the same number of parameters (measured above). The claim holds against naive attention, and, as
# the next section shows, for the state an LSTM carries while it *generates*. *Source of the claim:
# seed articles 000 and 001.*
# :::
#
# ## Inference: a fixed state against a growing cache
#
# To generate a token, an LSTM needs its state $(h, c)$: $2LH$ numbers, whatever came before. A
# Transformer with a key/value cache (Chapter 6) needs the keys and values of every earlier
# position: $2Ltd$ numbers after $t$ tokens. Chapter 6 showed that the cache makes generation much
# faster than recomputing the prefix; here we compare what each model carries, and what a token costs,
# as the context grows. `bench.state_bytes` measures the real objects after reading a context of $t$
# tokens.

# %%
CONTEXTS = (1, 2, 16, 128, 512, 2048)
states = pd.DataFrame(
    [
        {
            "context": t,
            "LSTM state": bench.state_bytes(lstm_lm, t),
            "Transformer cache": bench.state_bytes(tf_lm, t),
        }
        for t in CONTEXTS
    ]
).set_index("context")
weights_bytes = 4 * params["Transformer"]  # float32
assert states["LSTM state"].nunique() == 1
assert (
    states["Transformer cache"] == [2 * LAYERS * t * D_MODEL * 4 for t in CONTEXTS]
).all()
per_token = 2 * LAYERS * D_MODEL * 4  # bytes the cache grows by per token
cross_state = next(
    t for t in range(1, 10_000) if t * per_token > states["LSTM state"].iloc[0]
)
cross_weights = (
    weights_bytes // per_token + 1
)  # the first context whose cache outweighs the model
glue("ch8_state_lstm", int(states["LSTM state"].iloc[0]))
glue("ch8_cache_per_token", per_token)
glue("ch8_cross_state", cross_state)
glue("ch8_cross_weights", int(cross_weights))
states


# %% [markdown]
# The LSTM carries {glue:text}`ch8_state_lstm:,` bytes at every context; the cache grows by
# {glue:text}`ch8_cache_per_token:,` bytes per token, so the lines cross early: from a context of
# {glue:text}`ch8_cross_state` tokens on, the cache is the larger; and after {glue:text}`ch8_cross_weights:,` tokens the cache
# is larger than the whole model's weights. The same arithmetic at published sizes: LLaMA-7B has 32
# layers of width 4096 {cite}`touvron2023llama` (Table 2).

# %%
def cache_bytes(layers, d, context, batch=1, bytes_per_number=2):
    return (
        2 * layers * d * context * batch * bytes_per_number
    )  # a key and a value per layer and position


llama_weights = 6.7e9 * 2  # 6.7 billion parameters in 16-bit floats
per_seq = cache_bytes(32, 4096, 2048)
glue("ch8_llama_cache_gb", round(per_seq / 1e9, 2))
glue("ch8_llama_cross_tokens", round(llama_weights / cache_bytes(32, 4096, 1)))
glue("ch8_llama_cross_batch", round(llama_weights / per_seq))
# An LSTM of the same shape carries h and c per layer, whatever the context: 2 x 32 x 4096 numbers.
lstm_state = 2 * 32 * 4096 * 2  # bytes, 16-bit
glue("ch8_llama_lstm_state_mb", round(lstm_state / 1e6, 2))
glue("ch8_llama_cache_over_state", round(per_seq / lstm_state))
print(
    f"LLaMA-7B, 16-bit: {per_seq / 1e9:.2f} GB of cache per sequence of 2048 tokens; "
    f"the cache outweighs the weights after {llama_weights / cache_bytes(32, 4096, 1):,.0f} tokens "
    f"(one sequence) or with {llama_weights / per_seq:.0f} sequences of 2048 tokens"
)

# %% [markdown]
# One sequence of 2048 tokens needs {glue:text}`ch8_llama_cache_gb` GB of cache, and about
# {glue:text}`ch8_llama_cross_batch` such sequences served together need as much memory as the
# model itself: at scale the cache, not the weights, decides how many users a GPU can serve. An LSTM
# of the same shape (32 layers of width 4096) would carry its $h$ and $c$, {glue:text}`ch8_llama_lstm_state_mb`
# MB per sequence in 16-bit, at any context: exactly what the cache adds for each single token (a key
# and a value per layer, against an $h$ and a $c$), and {glue:text}`ch8_llama_cache_over_state:,` times
# less than the cache at 2048 tokens.
#
# **Latency per token.** The timing cell reads a context of $t$ tokens for a batch of 8 sequences,
# then times the generation of 16 more tokens for each, one step at a time, and reports the median
# time per step, over three rounds that visit the contexts in turn (so that a burst of other work on
# the machine hits every context alike).

# %% tags=["nbval-ignore-output"]
# timing: time per generated token after a context of t tokens, 8 sequences together (median over rounds)
# each reading is bench.timeit: time.perf_counter around every run, the median and IQR of the runs
GEN_CONTEXTS, GEN_BATCH, ROUNDS = (16, 512, 2048), 8, 3
gen_rows = []
for round_ in range(
    ROUNDS
):  # interleaved rounds, so that a burst of load hits every context alike
    for t in GEN_CONTEXTS:
        for name, model in (("LSTM", lstm_lm), ("Transformer", tf_lm)):
            r = bench.generation_latency(
                model, t, new_tokens=16, repeats=3, batch=GEN_BATCH
            )
            gen_rows.append({"model": name, "context": t, "round": round_, **r})
gen = (
    pd.DataFrame(gen_rows)
    .groupby(["model", "context"], as_index=False)[["median_s", "iqr_s"]]
    .median()
)
lat = (
    gen.pivot(index="context", columns="model", values="median_s") * 1000
)  # ms per token
print(lat.round(3).rename_axis("ms per token", axis=1))
growth = lat.iloc[-1] / lat.iloc[0]
assert 0.33 < growth["LSTM"] < 3  # flat: the same work at every context
assert growth["Transformer"] > 1.5  # grows: each token reads the whole cache
assert (
    lat["Transformer"] > lat["LSTM"]
).all()  # on one CPU thread the LSTM is faster at every context
glue("ch8_gen_growth_tf", round(float(growth["Transformer"]), 1))
glue("ch8_gen_growth_lstm", round(float(growth["LSTM"]), 1))
glue(
    "ch8_gen_ratio_short",
    round(float(lat["Transformer"].iloc[0] / lat["LSTM"].iloc[0]), 1),
)
glue(
    "ch8_gen_ratio_long",
    round(float(lat["Transformer"].iloc[-1] / lat["LSTM"].iloc[-1]), 1),
)

# %%
stored_gen = stored_rows("generation")  # one sequence at a time, at width 128
stored_gen["model"] = stored_gen["model"].map(
    {"lstm": "LSTM", "transformer": "Transformer"}
)
both_gen = pd.concat(
    [gen.assign(source="this run (live)"), stored_gen], ignore_index=True
)
both_gen["ms per token"] = both_gen["median_s"] * 1000
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
sns.lineplot(
    data=both_gen,
    x="context",
    y="ms per token",
    hue="model",
    style="source",
    markers=True,
    ax=axes[0],
)
axes[0].set(
    xscale="log",
    ylim=(0, None),
    xlabel="context t (tokens)",
    title="latency per generated token",
)
sizes = states.reset_index().melt("context", var_name="carried", value_name="bytes")
sns.lineplot(
    data=sizes, x="context", y="bytes", hue="carried", marker="o", ax=axes[1]
)
axes[1].axhline(weights_bytes, color="grey", ls="--", lw=1)
axes[1].text(
    1, weights_bytes * 1.3, "the model's weights", fontsize=8, color="grey"
)
axes[1].set(
    xscale="log",
    yscale="log",
    xlabel="context t (tokens)",
    title="state carried between tokens",
)
viz.label_log_axis(axes[0], both_gen["context"])  # a label at every measured context
viz.label_log_axis(axes[1], sizes["context"])
for ax in axes:
    viz.legend_outside(ax, below=True, fontsize=8)
for a in fig.axes:  # on the y axes, label the powers of ten only
    a.yaxis.set_minor_formatter(NullFormatter())
fig.tight_layout()


# %% [markdown]
# The LSTM's time per token stayed flat (the longest context's over the shortest's:
# {glue:text}`ch8_gen_growth_lstm` in this run) while the Transformer's grew by a factor of
# {glue:text}`ch8_gen_growth_tf` from 16 to 2048 tokens of context: every new token reads the whole
# cache, and copies it as it grows. On this machine the latency lines never cross: the Transformer was slower at every context,
# {glue:text}`ch8_gen_ratio_short` times at 16 tokens and {glue:text}`ch8_gen_ratio_long` times at
# 2048, because at this small size each of its many small operations costs more in overhead than the
# arithmetic does. On a GPU with a large batch the picture shifts: a token's work is matrix products
# for both, and the Transformer's cost per token rises with the context while the LSTM's does not.
#
# :::{admonition} Claim on trial: "LSTMs are better for streaming and for devices with little memory"
# :class: claim tip
# :name: claim-ch08-lstms-better-streaming-devices-with
# **Verdict: holds for generation.** An LSTM carries {glue:text}`ch8_state_lstm:,` bytes between
# tokens at any context; the cache of a Transformer with the same parameters outgrew that state from
# {glue:text}`ch8_cross_state` tokens of context on, and the whole model after {glue:text}`ch8_cross_weights:,`
# tokens (exact sizes above). Its time per token stayed flat where the cached Transformer's grew
# {glue:text}`ch8_gen_growth_tf` times over the contexts measured. Two caveats: training memory is
# another matter (previous section), and an LSTM's fixed state is also a limit on what it can
# remember (Chapter 7), the trade that the state space models of Part V try to improve.
# *Source of the claim: seed articles 000, 001 and 003.*
# :::
#
# ## Measuring honestly, and the benchmark
#
# Every timing in this chapter follows three rules. **Warm up**: the first call of a PyTorch
# function allocates memory and picks kernels, so it is run once untimed. **Repeat and take the
# median**: on a shared machine some runs are slowed by other programs; the median of several runs
# ignores them, and the interquartile range says how noisy the runs were. **Judge by ratios and slopes**:
# a millisecond figure is a property of one machine on one afternoon, but "grows like $T^2$" or
# "three times slower" survives a change of machine, so only those are asserted, with wide margins,
# and the timing cells are excluded from the output comparison of the book's tests. Memory measured
# as saved bytes and state sizes needs none of this: it is exact.
#
# The same measurements, at larger sizes, are one command away:
#
# ```bash
# python -m seqlib.bench                      # about a minute on one CPU thread; writes bench_results.json
# python -m seqlib.bench --device auto --large --label gpu-h100 -o seqlib/bench_results/gpu-h100.json
# python -m seqlib.bench --help               # sizes, repeats, threads, device, output path, subsets
# ```
#
# Its output is a JSON file: `machine` (device and its name, threads, PyTorch and Python versions,
# date), `settings` (the sizes), `models` (both models' widths and parameters), and `measurements`,
# one record per measurement with its `experiment` (`train_step`, `attention_time`,
# `activation_memory` or `generation`), `model`, size (`T` or `context`), and either the times
# (`median_s`, `iqr_s`, `min_s`, `max_s`, `repeats`) or the bytes (`saved_bytes`, and `peak_bytes`
# from `torch.cuda.max_memory_allocated` on a GPU; `state_bytes`). The full schema is in the
# docstring of `seqlib.bench` and on the [API page](api.md). Files placed in
# `seqlib/bench_results/` ship with the package; `bench.load_results()` reads them, and this chapter
# draws every one of them beside its live figures. The file shipped today was measured on a CPU; a
# GPU's file, labelled with its device name, date and versions, joins the figures as soon as it is
# added.

# %% [markdown]
# ## Summary
#
# - Parameters follow eqs. {eq}`ch8-lstm-params` and {eq}`ch8-tf-params`: an LSTM of width
#   $H \approx 1.22\,d$ matches a Transformer of width $d$, and then both spend the same work per
#   token on their weights; attention's own work overtakes it only after $t > 6d$ tokens, eq.
#   {eq}`ch8-crossover`.
# - Sequential depth is the real difference: the LSTM's chain of dependent operations grew by
#   {glue:text}`ch8_depth_per_step` per step, the Transformer's stayed at {glue:text}`ch8_depth_tf`.
#   It pays off only on parallel hardware: on one CPU thread the Transformer's training step took
#   {glue:text}`ch8_train_ratio` times as long as the LSTM's at matched parameters.
# - Naive attention keeps memory growing like $T^{2}$ (exponent {glue:text}`ch8_k_mem_naive`);
#   fused attention like $T^{1}$ ({glue:text}`ch8_k_mem_sdpa`), even less than an LSTM layer. The
#   work stays quadratic for both.
# - While generating, the LSTM carries {glue:text}`ch8_state_lstm:,` bytes at any context and a
#   flat time per token; the key/value cache grows by {glue:text}`ch8_cache_per_token:,` bytes per
#   token and outweighs the model after {glue:text}`ch8_cross_weights:,` tokens.
# - Time with warm-up, repeats, medians and spread, and conclude from slopes and ratios;
#   `python -m seqlib.bench` repeats everything at larger sizes and on a GPU.
#
# ## Exercises
#
# ```{exercise} Count a Transformer layer's parameters
# :label: ch8-ex-tf-params
#
# Chapter 7 had you count an LSTM's parameters by formula (graded by its
# checker). Do the same for the other side: write
# `encoder_layer_params(d_model, dim_feedforward)`, the number of parameters of
# `nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward)`, without building the module, and
# check it against the module's own count for a few sizes. Why does `nhead` not appear? Show that
# with `dim_feedforward = 4 * d_model` it reduces to eq. {eq}`ch8-tf-params`.
# ```

# %% [markdown]
# ```{solution-start} ch8-ex-tf-params
# :class: dropdown
# ```
# Attention has four $d \times d$ maps ($W_Q, W_K, W_V, W_O$) with their biases, however the $d$
# features are split into heads, so `nhead` changes nothing; the feed-forward network has two maps,
# $d \times f$ and $f \times d$, with biases; the two LayerNorms have a scale and a shift each. With
# $f = 4d$: $4d^2 + 4d + 8d^2 + 5d + 4d = 12d^2 + 13d$.

# %%
def encoder_layer_params(d_model, dim_feedforward):
    d, f = d_model, dim_feedforward
    attention = 4 * d * d + 4 * d  # W_q, W_k, W_v, W_o and their biases
    feed_forward = 2 * d * f + f + d  # two linear maps and their biases
    norms = 2 * 2 * d  # two LayerNorms, a scale and a shift each
    return attention + feed_forward + norms


for d, f, h in [(64, 256, 4), (512, 2048, 8), (48, 100, 3)]:
    layer = nn.TransformerEncoderLayer(d, h, f)
    assert encoder_layer_params(d, f) == sum(p.numel() for p in layer.parameters())
assert encoder_layer_params(64, 256) == 12 * 64**2 + 13 * 64
print("all sizes agree with nn.TransformerEncoderLayer")

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} When does the cache outweigh the model?
# :label: ch8-ex-cache
#
# With `cache_bytes` from the chapter, find for LLaMA-13B (40 layers of width 5120, 13 billion
# parameters, 16-bit numbers {cite}`touvron2023llama`, Table 2) how many sequences of 4096 tokens
# can be served together before the cache is as large as the weights. How does the answer change if
# keys and values are shared by groups of 8 heads, as in grouped-query attention, so that the cache
# holds $d/8$ numbers per key?
# ```

# %% [markdown]
# ```{solution-start} ch8-ex-cache
# :class: dropdown
# ```

# %%
weights_13b = 13e9 * 2
full = cache_bytes(40, 5120, 4096)
grouped = cache_bytes(40, 5120 // 8, 4096)
print(
    f"per sequence: {full / 1e9:.1f} GB; sequences before the cache outweighs the model: {weights_13b / full:.1f}"
)
print(
    f"with keys and values shared by groups of 8 heads: {weights_13b / grouped:.0f} sequences"
)

# %% [markdown]
# Fewer than eight long sequences already need as much memory as the model: sharing keys and
# values across heads cuts the cache, and the batch it allows grows by the same factor of 8.
#
# ```{solution-end}
# ```
#
# ```{exercise} Chunked attention and what training keeps
# :label: ch8-ex-chunks
#
# {cite:t}`rabe2021self` compute attention one block of queries at a time. Write
# `chunked_attention(q, k, v, chunk)` that applies causal attention to blocks of `chunk` queries and
# concatenates the results, check it against `F.scaled_dot_product_attention`, and measure its saved
# bytes with `bench.saved_bytes` at $T = 512$ and $1024$. Use the naive
# `seqlib.attention.scaled_dot_product_attention` inside each block, with a causal mask shifted by
# the block's start. Does chunking alone make the training
# memory linear? What does wrapping each block in `torch.utils.checkpoint.checkpoint` change?
# ```

# %% [markdown]
# ```{solution-start} ch8-ex-chunks
# :class: dropdown
# ```

# %%
from torch.utils.checkpoint import checkpoint

from seqlib import attention


def attend_block(q_block, k, v, start):
    T_q, T_k = q_block.shape[-2], k.shape[-2]
    allowed = attention.causal_mask(T_q, T_k, offset=start)  # (T_q, T_k): query t at start + t
    return attention.scaled_dot_product_attention(q_block, k, v, mask=allowed)[
        0
    ]  # (B, h, T_q, d_head)


def chunked_attention(q, k, v, chunk, recompute=False):
    blocks = []
    for start in range(0, q.shape[-2], chunk):
        q_block = q[..., start : start + chunk, :]
        if recompute:
            blocks.append(
                checkpoint(attend_block, q_block, k, v, start, use_reentrant=False)
            )
        else:
            blocks.append(attend_block(q_block, k, v, start))
    return torch.cat(blocks, dim=-2)  # (B, h, T, d_head)


for T in (512, 1024):
    q, k, v = (torch.randn(1, 4, T, 16, requires_grad=True) for _ in range(3))
    assert torch.allclose(
        chunked_attention(q, k, v, 128),
        F.scaled_dot_product_attention(q, k, v, is_causal=True),
        atol=1e-5,
    )
    plain = bench.saved_bytes(lambda: chunked_attention(q, k, v, 128))
    recomputed = bench.saved_bytes(
        lambda: chunked_attention(q, k, v, 128, recompute=True)
    )
    print(
        f"T = {T}: chunked {plain / 1e6:.1f} MB, chunked with recomputation {recomputed / 1e6:.2f} MB"
    )

# %% [markdown]
# Chunking alone does not help training: each block's weights are still saved for the backward
# pass, so the total is the full score matrix, in pieces (about four times the bytes when $T$
# doubles).
# With checkpointing each block keeps only its inputs and recomputes its weights during the backward
# pass, and the saved bytes become linear in $T$: memory traded for a second forward pass, which is
# also FlashAttention's trade {cite}`dao2022flashattention`.
#
# ```{solution-end}
# ```
#
# ```{exercise} Threads, and a GPU
# :label: ch8-ex-threads
#
# Run `python -m seqlib.bench --only train_step --threads 2 -o two.json` and the same with
# `--threads 1`, and compare the speed-up of each model from the second thread. Which model gains
# more, and why? If you have a GPU, run `python -m seqlib.bench --device cuda --large` and compare
# the exponents of the training time with the chapter's.
# ```
#
# ```{solution} ch8-ex-threads
# :class: dropdown
#
# Load both files with `json` and compare `median_s` for each model and length. The gain of a second
# thread depends on how much work each operation offers: the Transformer's matrix products cover all
# $B \times T$ positions at once and split well across threads, while the LSTM's steps cover only
# $B$ rows each and must follow each other, so its gain is usually smaller, and shrinks with small
# batches. On a GPU the difference is much larger: expect the Transformer's step time to grow far
# more slowly than $T$ while the GPU is not yet full, and the LSTM's to stay close to linear, the
# sequential depth measured in the chapter. Only the ratios and slopes are comparable between
# machines; the milliseconds are not.
# ```
#
# ```{exercise} Where does attention's work take over?
# :label: ch8-ex-flops
#
# Eq. {eq}`ch8-crossover` compares the work of one token at position $t$. Averaged over a whole
# causal sequence of length $T$, at what $T$ does attention's work equal the weights'? Using the
# timing cell's method, measure one `transformer.EncoderLayer` of width 64 (forward only, with
# `torch.no_grad()`, causal) at $T$ from 64 to 2048, and find where its time per token starts to
# grow. Does it agree with the formula?
# ```
#
# ```{solution} ch8-ex-flops
# :class: dropdown
#
# In a causal sequence the average position is $T/2$, so attention's work per token, $2 (T/2) d$,
# equals the weights' $12 d^2$ at $T = 12 d$, 768 for $d = 64$. Time per token
# (`bench.timeit(lambda: layer(x, is_causal=True))["median_s"] / T`) should stay roughly flat for
# short sequences and grow roughly linearly beyond a few hundred tokens. On a CPU the crossing comes
# earlier than the formula says, because the naive attention writes and reads the whole score matrix,
# so memory traffic rather than arithmetic sets its cost; a fused kernel brings it closer to the
# formula.
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
