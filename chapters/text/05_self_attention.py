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
# # Self-attention and positions
#
# In Chapter 4 a decoder attended to an encoder: one sequence asked, another answered.
# **Self-attention** lets a sequence attend to itself. Every position sends a query, every position
# offers a key and a value, and each position's output is an average of the values weighted by how
# well its query matches each key. Stack such layers and you have the heart of the Transformer
# {cite}`vaswani2017attention`, which drops recurrence altogether.
#
# Dropping recurrence has a price: the order of the tokens. An RNN reads $x_1$ before $x_2$, so
# order is built into its computation. Self-attention is a weighted average, and an average does
# not care in what order its terms come. Order must be put back in, with **position encodings**,
# and how that is done decides what a model can do with sequences longer than those it was
# trained on.
#
# This chapter builds scaled dot-product attention, its masks and its heads from scratch, checks
# each against PyTorch, measures why the scores are divided by $\sqrt{d_k}$, shows that attention
# without positions is blind to order, compares five ways of encoding positions on sequences
# longer than any seen in training, and ends with an explorer in which you can watch what each
# head of a small trained model attends to.
#
# :::{admonition} Learning objectives
# :class: tip
# After this chapter you can
#
# - write scaled dot-product attention with padding and causal masks, and check it against PyTorch;
# - explain, with a measurement, why scores are divided by $\sqrt{d_k}$;
# - say what a fully masked row does in each implementation, and why $-\infty$ and $-10^9$ differ;
# - build multi-head attention and count its parameters;
# - prove that attention without positions ignores order, and verify that a sinusoidal encoding
#   shifts by a linear map;
# - compare sinusoidal, learned, rotary, ALiBi and no position encodings on sequences longer than
#   those seen in training, and read what trained heads attend to.
# :::
#
# :::{admonition} Prerequisites
# :class: note
# Chapter 4 (attention between two sequences, masks); matrix products; the softmax; a little
# trigonometry (the angle-sum formulas).
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
from seqlib import attention, data, diagrams, glue, positions, train, transformer, viz
from seqlib.prose import bound  # a rounding error shown as the bound it stays under

device = seqlib.setup(seed=0)  # seeds, one CPU thread, the book's plotting style


# %% [markdown]
# ## Scaled dot-product attention
#
# Take a sequence of $T$ vectors, stacked as the rows of $X \in \mathbb{R}^{T \times d}$. Three
# learned matrices turn each row into a **query**, a **key** and a **value**:
# $Q = X W_Q$, $K = X W_K$, $V = X W_V$, with $d_k$ features for queries and keys and $d_v$ for
# values. Position $t$'s output is the average of all values, weighted by how well its query
# matches each key:
#
# $$
# \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V,
# $$ (ch5-attention)
#
# where the softmax runs along each row, over the keys. $QK^\top$ is a $T \times T$ matrix of
# scores, one per (query, key) pair; after the softmax, row $t$ holds the **attention weights** of
# position $t$, which are non-negative and sum to 1. Compared with Chapter 4, the queries now come
# from the same sequence as the keys, and the score is a plain dot product, divided by
# $\sqrt{d_k}$ (the next section measures why).
#
# In code, equation {eq}`ch5-attention` is four lines. We check it against PyTorch's fused
# `F.scaled_dot_product_attention` and against `seqlib.attention.scaled_dot_product_attention`,
# which the rest of the book uses and which also returns the weights.

# %%
def attend(Q, K, V):
    """Equation (ch5-attention): Q (..., T_q, d_k), K (..., T_k, d_k), V (..., T_k, d_v)."""
    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])  # (..., T_q, T_k)
    weights = torch.softmax(scores, dim=-1)  # each row sums to 1 over the keys
    return weights @ V, weights  # (..., T_q, d_v), (..., T_q, T_k)


g = seqlib.generator(0)
Q, K, V = (
    torch.randn(2, 5, 8, generator=g) for _ in range(3)
)  # B = 2 sequences, T = 5, d_k = d_v = 8
ours, weights = attend(Q, K, V)
gap_torch = (ours - F.scaled_dot_product_attention(Q, K, V)).abs().max().item()
gap_seqlib = (
    (ours - attention.scaled_dot_product_attention(Q, K, V)[0]).abs().max().item()
)
print(
    f"largest difference from PyTorch: below {bound(gap_torch, 1e-6)}, "
    f"from seqlib: below {bound(gap_seqlib, 1e-6)}"
)
print(
    "rows of the weights sum to",
    weights.sum(-1).unique().round(decimals=6).tolist(),
)

# %% [markdown]
# ## Why divide by $\sqrt{d_k}$?
#
# Suppose the entries of a query $q$ and a key $k$ are independent with mean 0 and variance 1.
# Their dot product $q \cdot k = \sum_{i=1}^{d_k} q_i k_i$ is a sum of $d_k$ independent terms of
# variance 1 each, so its variance is $d_k$: the wider the heads, the larger the scores. Large scores
# push the softmax towards a one-hot vector, where almost all weight sits on one key and the
# gradient with respect to the scores all but vanishes. Dividing by $\sqrt{d_k}$ brings the variance
# back to 1 whatever the width. That is the argument of {cite:t}`vaswani2017attention` (their
# footnote 4); here it is measured, for random queries and keys over $T$ = 32 keys.
#
# The gradient of the softmax $p = \operatorname{softmax}(s)$ with respect to its input is the
# matrix $J = \operatorname{diag}(p) - p p^\top$; its size tells how much a change in the scores can
# still move the weights. For a one-hot $p$ it is zero.

# %%
T_KEYS, N = 32, 2000
rows = []
for d_k in [4, 16, 64, 128, 256, 1024]:
    g = seqlib.generator(d_k)
    q = torch.randn(N, 1, d_k, generator=g)  # one query per trial
    k = torch.randn(N, T_KEYS, d_k, generator=g)  # 32 keys per trial
    raw = (q @ k.transpose(-2, -1))[:, 0]  # (N, 32) scores, unscaled
    for scaled in (False, True):
        s = raw / math.sqrt(d_k) if scaled else raw
        p = torch.softmax(s, dim=-1)  # (N, 32)
        J = (
            torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
        )  # (N, 32, 32): d softmax / d scores
        rows.append(
            {
                "d_k": d_k,
                "scores": "divided by √d_k" if scaled else "raw q·k",
                "score variance": s.var().item(),
                "largest weight": p.max(-1).values.mean().item(),
                "softmax gradient": torch.linalg.matrix_norm(J).mean().item(),
            }
        )
scaling = pd.DataFrame(rows)
fig, axes = plt.subplots(1, 3, figsize=(12, 3.3))
for ax, col in zip(axes, ["score variance", "largest weight", "softmax gradient"]):
    sns.lineplot(
        scaling,
        x="d_k",
        y=col,
        hue="scores",
        marker="o",
        ax=ax,
        legend=col == "softmax gradient",
    )
    ax.set_xscale("log", base=2)
    if col == "score variance":
        ax.set_yscale("log", base=2)
axes[0].set_title("variance of the scores")
axes[1].set_title("mean of each row's largest weight")
axes[2].set_title("size of the softmax's gradient")
plt.tight_layout()
plt.show()

# %% tags=["hide-input"]
raw = scaling[scaling.scores == "raw q·k"].set_index("d_k")
scaled = scaling[scaling.scores != "raw q·k"].set_index("d_k")
ratio = (
    raw["score variance"] / raw.index
)  # variance / d_k: about 1 if Var(q.k) = d_k
assert ((ratio > 0.9) & (ratio < 1.1)).all() and (
    scaled["score variance"].between(0.9, 1.1)
).all()
assert (
    raw.loc[256, "largest weight"] > 0.7 > 0.2 > scaled.loc[256, "largest weight"]
)
glue("var_ratio_min", round(ratio.min(), 2))
glue("var_ratio_max", round(ratio.max(), 2))
glue("max_w_raw_256", round(raw.loc[256, "largest weight"], 2))
glue("max_w_scaled_256", round(scaled.loc[256, "largest weight"], 2))
glue("grad_raw_256", round(raw.loc[256, "softmax gradient"], 3))
glue("grad_scaled_256", round(scaled.loc[256, "softmax gradient"], 3))
for width in (64, 128, 256):  # the head widths of real models, and twice the larger
    glue(
        f"grad_ratio_{width}",
        round(
            scaled.loc[width, "softmax gradient"] / raw.loc[width, "softmax gradient"], 1
        ),
    )
print((scaling.round(3)).to_string(index=False))

# %% [markdown]
# The variance of raw scores is $d_k$ times {glue:text}`var_ratio_min` to
# {glue:text}`var_ratio_max`, as the argument predicts, and after dividing by $\sqrt{d_k}$ it is
# about 1 at every width. At $d_k$ = 256 (heads are 64 wide in {cite:t}`vaswani2017attention` and 128 in the largest
# GPT-3 {cite}`brown2020language`) the raw
# scores give each query's largest weight {glue:text}`max_w_raw_256:.0%` on average: the softmax
# has nearly become an arg-max, and its gradient is {glue:text}`grad_ratio_256` times smaller than
# with scaling. At the head widths real models use the effect is smaller but already there: unscaled,
# the gradient is {glue:text}`grad_ratio_64` times smaller at $d_k$ = 64 and
# {glue:text}`grad_ratio_128` times at 128, and it grows with the width, so the wider the heads, the
# more the scaling matters. Scaled, the largest weight is {glue:text}`max_w_scaled_256:.0%`, and learning can
# still move the weights.
#
# The measurement assumes unit-variance queries and keys, roughly the scale at initialisation
# (inputs normalised, projections initialised to keep the variance of order one), not after training, when a model may
# learn large scores on purpose to attend sharply. The division sets a sensible starting point; it
# does not forbid sharp attention.
#
# ## Masks
#
# Two kinds of mask decide which keys a query may see.
#
# - A **padding mask** hides the padding at the end of shorter sequences in a batch, as in Chapter 1:
#   no query should attend to a key that is not there.
# - A **causal mask** hides the future: in a model that predicts the next token, position $t$ may
#   attend to positions $s \le t$ only, or it could read the answer. The allowed pairs form the
#   lower triangle of the $T \times T$ score matrix.
#
# Both work the same way: before the softmax, the scores of forbidden pairs are replaced by
# $-\infty$, so that their weights are $e^{-\infty} = 0$. `seqlib.attention.causal_mask(T)` and
# `padding_mask(lengths, T)` build them, True where attending is allowed. Two properties follow,
# and we test both: changing a future token never changes an earlier output, and changing what
# sits in the padding never changes a real position's output.

# %%
T, d = 6, 8
g = seqlib.generator(1)
x = torch.randn(2, T, d, generator=g)
causal = attention.causal_mask(T)  # (T, T), True on and below the diagonal
out, w = attention.scaled_dot_product_attention(x, x, x, mask=causal)
changed = x.clone()
changed[:, 4:] = torch.randn(
    2, T - 4, d, generator=g
)  # rewrite the future from position 4 on
out_changed, _ = attention.scaled_dot_product_attention(
    changed, changed, changed, mask=causal
)
assert torch.equal(out_changed[:, :4], out[:, :4]) and not torch.allclose(
    out_changed[:, 4:], out[:, 4:]
)

lengths = torch.tensor(
    [6, 3]
)  # the second sequence has 3 real positions and 3 of padding
real = attention.padding_mask(lengths, T)  # (B, T), True at real positions
keys_ok = real[:, None, :]  # (B, 1, T): every query may see the real keys only
out_pad, w_pad = attention.scaled_dot_product_attention(x, x, x, mask=keys_ok)
garbage = torch.where(
    real[..., None], x, 100 * torch.randn(2, T, d, generator=g)
)  # junk in the padding
out_garbage, _ = attention.scaled_dot_product_attention(
    garbage, garbage, garbage, mask=keys_ok
)
assert (
    torch.allclose(out_garbage[1, :3], out_pad[1, :3])
    and (w_pad[1, :, 3:] == 0).all()
)
print(
    "causal: outputs before position 4 unchanged by the future:",
    torch.equal(out_changed[:, :4], out[:, :4]),
)
print(
    "padding: real outputs unchanged by junk in the padding:",
    torch.allclose(out_garbage[1, :3], out_pad[1, :3]),
)

fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
viz.heatmap(
    w[0], ax=axes[0], title="causal: weights (query × key)", annot=True, fmt=".2f"
)
viz.heatmap(
    w_pad[1],
    ax=axes[1],
    title="padding: sequence of length 3",
    annot=True,
    fmt=".2f",
)
for ax in axes:
    ax.set(xlabel="key position", ylabel="query position")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### $-\infty$, a large negative number, and a row with nothing to see
#
# Many tutorials (one of the articles this book started from among them) mask with a large finite
# number such as $-10^9$ instead of $-\infty$. Most of the time the two agree: $e^{-10^9}$ is 0 in
# floating point. They differ in two places.
#
# 1. **A row whose every key is masked.** This happens with a padding query in a padded batch, or
#    with a causal mask combined with left padding. With $-\infty$ the softmax computes
#    $0 / 0$ = NaN; with $-10^9$ every score is equally bad, and the row becomes a uniform average
#    over keys that should not exist. One is loud, the other silent.
# 2. **Half precision.** $-10^9$ does not fit in float16, whose most negative number is
#    $-65504$; PyTorch refuses to write it.
#
# What do the libraries do with a fully masked row? We ask each of them, on the same inputs.

# %%
g = seqlib.generator(2)
q, k, v = (
    torch.randn(1, 3, 4, generator=g),
    torch.randn(1, 3, 4, generator=g),
    torch.randn(1, 3, 4, generator=g),
)
allowed = torch.tensor(
    [[True, True, False], [False, False, False], [True, False, False]]
)  # row 1: nothing
scores = q @ k.transpose(-2, -1) / 2  # (1, 3, 3), d_k = 4
mha = nn.MultiheadAttention(4, 1, batch_first=True).eval()


def fully_masked_row(output):
    """What the fully masked query (row 1) received."""
    row = output[0, 1]
    if torch.isnan(row).any():
        return "NaN"
    return "zeros" if (row == 0).all() else "an average of the masked keys"


with torch.no_grad():
    behaviour = {
        "softmax after masked_fill(-inf)": torch.softmax(
            scores.masked_fill(~allowed, float("-inf")), -1
        )
        @ v,
        "softmax after masked_fill(-1e9)": torch.softmax(
            scores.masked_fill(~allowed, -1e9), -1
        )
        @ v,
        "F.scaled_dot_product_attention": F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed
        ),
        "nn.MultiheadAttention, need_weights=True": mha(
            q, k, v, attn_mask=~allowed
        )[0],
        "nn.MultiheadAttention, need_weights=False": mha(
            q, k, v, attn_mask=~allowed, need_weights=False
        )[0],
        "seqlib.attention.scaled_dot_product_attention": attention.scaled_dot_product_attention(
            q, k, v, allowed
        )[0],
    }
table = pd.Series(
    {name: fully_masked_row(out) for name, out in behaviour.items()},
    name="the fully masked row gets",
)
try:
    scores.half().masked_fill(~allowed, -1e9)
    half = "accepted"
except RuntimeError as error:
    half = str(error).split(" without")[0]
print(table.to_string())
print("\nmasked_fill(-1e9) on float16:", half)
assert (
    table.iloc[0] == table.iloc[3] == "NaN"
    and table.iloc[4] == table.iloc[2] == table.iloc[5] == "zeros"
)
assert table.iloc[1] == "an average of the masked keys" and half != "accepted"
glue("torch_version", torch.__version__.split("+")[0])

# %% [markdown]
# Three different answers for the same question, and one module, `nn.MultiheadAttention`, that
# gives NaN or zeros depending on whether you ask it for the weights (the flag takes PyTorch onto
# its fused kernel, which treats the row differently). NaN is the honest answer, since there is
# nothing to average, but it spreads: one NaN in a loss makes every gradient NaN. The safe practice
# is to make sure no row is fully masked (give a padding query something harmless to attend to, or
# drop its output), or to use an implementation that returns zeros on purpose, as PyTorch's fused
# kernel and `seqlib` do. A finite $-10^9$ hides the problem instead of solving it. The table is
# the behaviour of the PyTorch this book pins ({glue:text}`torch_version`); it has changed between
# releases (before 2.5 the fused kernel gave NaN too), which is why `seqlib` needs torch 2.5 or newer.
#
# :::{admonition} Claim on trial: "mask the scores with a large negative number such as -1e9 before the softmax"
# :class: claim warning
# :name: claim-ch05-mask-scores-with-large-negative
# **Depends.** In single precision, for rows that keep at least one key, it gives the same weights
# as $-\infty$. For a fully masked row it silently averages keys that should not exist, where
# $-\infty$ would raise the alarm (NaN), and in half precision PyTorch rejects it, as measured above.
# Use $-\infty$ (or the dtype's own minimum) and handle empty rows on purpose. *Source of the claim: seed article 001.*
# :::
#
# ## Multi-head attention
#
# One attention layer computes one weighted average per position: one way of mixing the sequence.
# **Multi-head attention** runs $h$ of them side by side on smaller pieces, so that a position can,
# for example, look at its neighbour with one head and at a matching word far away with another.
# Each head $i$ has its own projections of width $d_k = E / h$, and the heads' outputs are
# concatenated and mixed by one more matrix:
#
# $$
# \operatorname{head}_i = \operatorname{Attention}(X W_Q^{(i)}, X W_K^{(i)}, X W_V^{(i)}), \qquad
# \operatorname{MultiHead}(X) = [\operatorname{head}_1, \dots, \operatorname{head}_h]\, W_O .
# $$ (ch5-multihead)

# %%
# eq. (ch5-multihead) as a picture, for h = 4 heads
diagrams.multi_head_attention(nhead=4)
plt.show()

# %% [markdown]
# In practice the $h$ query projections are one $E \times E$ matrix whose output is cut into $h$
# pieces, and the same for keys and values. So the parameter count does not depend on $h$: four
# $E \times E$ matrices and four biases, $4E^2 + 4E$. More heads means narrower heads, not more
# parameters. `seqlib.attention.MultiHeadAttention` builds equation {eq}`ch5-multihead`; we copy
# the weights of PyTorch's `nn.MultiheadAttention` into it and compare, with a causal mask and
# padding.

# %%
E = 32
counts = {}
for h in [1, 2, 4, 8]:
    ours = attention.MultiHeadAttention(E, h)
    counts[h] = sum(p.numel() for p in ours.parameters())
assert set(counts.values()) == {4 * E * E + 4 * E}
glue("mha_params", counts[1])
glue("mha_E", E)

seqlib.seed_everything(3)
theirs = nn.MultiheadAttention(E, 4, batch_first=True).eval()
ours = attention.MultiHeadAttention.from_torch(theirs).eval()
x = torch.randn(2, 7, E)
real = attention.padding_mask(torch.tensor([7, 4]), 7)  # (B, T): True at real keys
may_attend = attention.causal_mask(7)  # (T, T): True where query t may see key s
with torch.no_grad():
    out_o, w_o = ours(x, x, x, key_mask=real, mask=may_attend)
    # PyTorch's module wants the opposite: True = ignore, True = not allowed
    out_t, w_t = theirs(
        x, x, x, key_padding_mask=~real, attn_mask=~may_attend
    )
try:  # a mask written for PyTorch is refused, not silently inverted
    ours(x, x, x, key_padding_mask=~real)
    refused = None
except TypeError as error:
    refused = str(error)
assert refused is not None and "key_mask=~key_padding_mask" in refused
mha_gap = max((out_t - out_o).abs().max().item(), (w_t - w_o).abs().max().item())
glue("mha_gap", bound(mha_gap, 1e-5))
print("parameters by number of heads:", counts)
print(
    f"largest difference from nn.MultiheadAttention (outputs and weights): below {bound(mha_gap, 1e-5)}"
)
print("a PyTorch mask passed to ours:", refused.split(": ")[0])

# %% [markdown]
# With $E$ = {glue:text}`mha_E`, every head count gives {glue:text}`mha_params` parameters, and the
# outputs and weights agree with PyTorch's to within {glue:text}`mha_gap`.
#
# Mind the masks' meaning, because mixing them up is one of the most common attention bugs.
# `F.scaled_dot_product_attention` takes True for *allowed*, and so does every mask in `seqlib`:
# `causal_mask` is True where a query may look, `padding_mask` True at the real keys.
# `nn.MultiheadAttention` takes the opposite, True for *forbidden*, in arguments named
# `key_padding_mask` and `attn_mask`. A mask with the wrong meaning raises no error in PyTorch; it
# just lets every query attend to exactly the keys it should not. So `seqlib`'s module names its
# masks differently (`key_mask`, `mask`), and a mask written for PyTorch's names is refused with a
# message that says what to pass instead, as the last line above shows.
#
# What do different heads compute? We answer with a trained model at the end of the chapter, where
# the heads can be inspected one by one.
#
# ## Without positions, attention is blind to order
#
# Look at equation {eq}`ch5-attention` again: output $t$ depends on query $t$ and on the *set* of
# (key, value) pairs. Shuffle the rows of $X$ and the same pairs come out shuffled the same way;
# nothing in the computation knows which row came first. Formally, for any permutation matrix $P$,
# $\operatorname{Attention}(PX) = P \operatorname{Attention}(X)$: self-attention is
# **permutation-equivariant**. A model that pools the outputs (averages them, say) is then
# permutation-*invariant*, exactly the bag of words of Chapter 1. We check both on the twin reviews of
# Chapter 1, pairs of sentences with the same words in a different order and opposite meanings.

# %%
twins = data.word_order_sentiment(
    8, seed=0
)  # 8 pairs of reviews: same words, different order
seqlib.seed_everything(4)
embed = nn.Embedding(len(twins.vocab), E)
layer = attention.MultiHeadAttention(E, 4).eval()
with torch.no_grad():
    x = embed(twins.x)  # (16, T, E), no positions added
    out, _ = layer(x, x, x)
    perm = torch.randperm(x.shape[1], generator=seqlib.generator(0))
    out_perm, _ = layer(x[:, perm], x[:, perm], x[:, perm])
    pooled = out.mean(dim=1)  # (16, E): one vector per review
equivariance_gap = (out_perm - out[:, perm]).abs().max().item()
twin_gap = (
    (pooled[0::2] - pooled[1::2]).abs().max().item()
)  # each review against its twin
print(twins.vocab.decode(twins.x[0]), "vs", twins.vocab.decode(twins.x[1]))
print(f"shuffle, attend, unshuffle: largest difference below {bound(equivariance_gap, 1e-5)}")
print(f"pooled outputs of twin reviews: largest difference below {bound(twin_gap, 1e-5)}")

# %% [markdown]
# Up to rounding, shuffling the input just shuffles the output, and a review and its twin get the
# same pooled vector, whatever the weights: no training could make this model tell them apart. (A
# causal mask breaks the symmetry, since each position then sees only itself and the positions before it, a number of keys that
# differs from position to position; a
# decoder-only model can learn a little about position from that alone {cite}`haviv2022transformer`,
# as we will see.)
#
# :::{admonition} Claim on trial: "self-attention is permutation-equivariant, so a pure attention model has no sense of word order"
# :class: claim tip
# :name: claim-ch05-self-attention-permutation-equivariant-pure
# **Holds,** for attention without a causal mask: shuffling the tokens shuffled the outputs, to
# rounding, and twin reviews got identical pooled vectors. With a causal mask the model gets a weak
# positional signal for free; the experiment below measures how much it is worth. *Source of the claim: seed article 001.*
# :::
#
# ## Putting order back: position encodings
#
# ### Sinusoidal encodings
#
# {cite:t}`vaswani2017attention` add to each token's embedding a vector that depends only on its
# position $t$. Features come in pairs $(2i, 2i+1)$, each pair a point turning on a circle at its own
# speed $\omega_i = 10000^{-2i/d}$:
#
# $$
# \mathrm{PE}_{t, 2i} = \sin(t\,\omega_i), \qquad \mathrm{PE}_{t, 2i+1} = \cos(t\,\omega_i).
# $$ (ch5-sinusoidal)
#
# The fast pairs tell neighbouring positions apart; the slow ones change over thousands of
# positions. The paper's reason for choosing sines: for any fixed offset $k$, $\mathrm{PE}_{t+k}$ is
# a *linear* function of $\mathrm{PE}_t$, so that attending "$k$ positions back" could be learned
# as one linear map. By the angle-sum formulas each pair is rotated by the angle $k\omega_i$:
#
# $$
# \begin{pmatrix} \sin((t+k)\omega_i) \\ \cos((t+k)\omega_i) \end{pmatrix}
# = \begin{pmatrix} \cos k\omega_i & \sin k\omega_i \\ -\sin k\omega_i & \cos k\omega_i \end{pmatrix}
# \begin{pmatrix} \sin t\omega_i \\ \cos t\omega_i \end{pmatrix},
# $$
#
# so $\mathrm{PE}_{t+k} = M_k\, \mathrm{PE}_t$ with $M_k$ block-diagonal and independent of $t$. We verify
# it numerically, and also *find* $M_k$ by least squares from the encodings alone, without the
# formula.

# %%
D_PE, T_PE, SHIFT = 64, 200, 7
pe = positions.sinusoidal_encoding(T_PE + SHIFT, D_PE).double()  # (T + k, d)
omega = 10000 ** (-torch.arange(0, D_PE, 2, dtype=torch.float64) / D_PE)  # (d/2,)
c, s = torch.cos(SHIFT * omega), torch.sin(SHIFT * omega)
M = torch.block_diag(
    *[torch.tensor([[ci, si], [-si, ci]]) for ci, si in zip(c, s)]
)  # (d, d)
formula_gap = (
    (pe[SHIFT:] - pe[:T_PE] @ M.T).abs().max().item()
)  # PE[t + k] = M_k PE[t] for every t
M_fit = torch.linalg.lstsq(
    pe[:T_PE], pe[SHIFT:]
).solution.T  # the best linear map, from data alone
fit_gap = (M_fit - M)[:16, :16].abs().max().item()  # the 8 fastest pairs
slow_gap = (M_fit - M)[-16:, -16:].abs().max().item()  # the 8 slowest pairs
predict_gap = (pe[SHIFT:] - pe[:T_PE] @ M_fit.T).abs().max().item()
assert slow_gap > 1e-2
glue("pe_shift", SHIFT)
glue("pe_formula_gap", bound(formula_gap, 1e-6))  # bound() asserts the gap is below it
glue("pe_fit_gap", bound(fit_gap, 1e-4))
glue("pe_predict_gap", bound(predict_gap, 1e-6))
glue("pe_slow_gap", round(slow_gap, 1))

fig, axes = plt.subplots(
    1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [2, 1]}
)
viz.heatmap(
    pe[:T_PE].T.float(),
    ax=axes[0],
    title="sinusoidal encoding: feature × position",
    cmap="RdBu_r",
    center=0,
    xticklabels=25,
    yticklabels=8,
)
axes[0].set(xlabel="position t", ylabel="feature")
viz.heatmap(
    M_fit[:16, :16].float(),
    ax=axes[1],
    title=f"M_k fitted from data, k = {SHIFT} (16 features)",
    cmap="RdBu_r",
    center=0,
)
plt.tight_layout()
plt.show()

# %% [markdown]
# The formula holds to within {glue:text}`pe_formula_gap` for every position. The least-squares fit,
# which knows nothing of sines, recovers the rotations of the fast pairs to within {glue:text}`pe_fit_gap`
# (the right panel shows them, one $2 \times 2$ block per pair). For the slowest pairs it does not:
# they barely turn over 200 positions, so the data cannot tell one near-identity map from another,
# and the fitted blocks are off by up to {glue:text}`pe_slow_gap`, although the fitted map still
# predicts the shifted encodings to within {glue:text}`pe_predict_gap`. A model learning the shift from
# data meets the same ambiguity.
#
# The property is real. Whether a model *uses* it, and whether it carries over to positions never
# seen in training, is a separate question, answered below.
#
# ### Learned encodings
#
# The simplest alternative learns one vector per position, a table of `max_len` rows trained with
# the rest of the model (BERT {cite}`devlin2019bert` and GPT {cite}`radford2018improving` do this). It can represent anything, but a row that no training
# sequence reached is never updated: the table knows nothing of positions beyond the longest
# training sequence. `seqlib.positions.LearnedPositions` raises an error for a sequence longer than
# its table; in the experiment below we make the table long enough to run and leave the untouched
# rows as initialised.
#
# ### Rotary encodings
#
# Rotary position embedding, RoPE {cite}`su2024roformer`, used by LLaMA {cite}`touvron2023llama` and
# most open models since,
# adds nothing to the embeddings. Instead it rotates each head's *queries and keys* after the
# projections: pair $i$ of the query at position $t$ turns by the angle $t\omega_i$, and the same for
# keys. A dot product between two rotated vectors depends only on the difference of the angles, so
# the score of query $t$ and key $s$ depends on their content and on the offset $t - s$, never on
# $t$ and $s$ themselves. Position becomes purely relative, with no parameters at all. We check
# both statements.

# %%
rope = positions.RotaryPositions(16)
g = seqlib.generator(5)
q, k = torch.randn(1, 16, generator=g), torch.randn(1, 16, generator=g)
score = lambda t, s: (
    positions.apply_rotary(q, torch.tensor([t]))
    @ positions.apply_rotary(k, torch.tensor([s])).T
).item()
same_offset = [
    round(score(t, t - 3), 5) for t in (3, 10, 50, 400)
]  # always query 3 positions after the key
assert len(set(same_offset)) == 1 and score(10, 7) != round(score(10, 8), 5)
assert sum(p.numel() for p in rope.parameters()) == 0
print("score of q at t and k at t - 3, for t = 3, 10, 50, 400:", same_offset)
print(
    "parameters of the rotary encoding:", sum(p.numel() for p in rope.parameters())
)

# %% [markdown]
# ### Linear biases (ALiBi)
#
# Attention with linear biases, ALiBi {cite}`press2022train`, is the most direct way to say "near
# matters more than far". It too adds nothing to the embeddings. Head $i$ subtracts from its
# scores a penalty proportional to the distance between query and key,
#
# $$
# \mathrm{score}_i(t, s) = \frac{q_t \cdot k_s}{\sqrt{d_k}} - m_i \, |t - s|,
# $$ (ch5-alibi)
#
# with a fixed slope $m_i$ per head: for $h$ heads the geometric sequence that starts at $2^{-8/h}$
# with that ratio, so that 8 heads get $1/2, 1/4, \ldots, 1/256$. Steep heads look only at their
# neighbours; gentle ones see far. Nothing is learned, and the penalty depends on the offset only,
# as with rotary positions. It is also the same function at every length, which is why
# {cite:t}`press2022train` proposed it for models that must run on longer inputs than they were
# trained on. `positions.ALiBi` builds the penalties, and `MultiHeadAttention(..., alibi=True)` adds
# them to its scores; the biases of our two-head models are drawn below.

# %%
alibi = positions.ALiBi(2)
assert torch.equal(
    alibi(4, 20, start=10)[:, :, 8:12], alibi(4, 8, start=2)[:, :, :4]
)  # the same offsets, the same biases, wherever the query stands
assert sum(p.numel() for p in alibi.parameters()) == 0
glue("alibi_slope_steep", alibi.slopes[0])
glue("alibi_slope_gentle", alibi.slopes[1])

fig, (ax_map, ax_line) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
bias = alibi(8, 8)  # (heads, query t, key s): -m_i |t - s|
causal = torch.ones(8, 8, dtype=torch.bool).tril()
sns.heatmap(
    bias[0].masked_fill(~causal, float("nan")) + 0.0,  # + 0.0: no "-0.00" on the diagonal
    ax=ax_map,
    cmap="rocket",
    annot=True,
    fmt=".2f",
    annot_kws={"fontsize": 8},
    cbar=False,
    square=True,
)
ax_map.set(
    title=f"head 1 (slope 1/{1 / alibi.slopes[0]:.0f}): bias added to score(t, s)",
    xlabel="key position s",
    ylabel="query position t",
)
distance = torch.arange(129)  # up to the longest test sequence below
for h, m in enumerate(alibi.slopes):
    ax_line.plot(distance, -m * distance, label=f"head {h + 1}: slope 1/{1 / m:.0f}")
ax_line.axvline(31, color="0.3", ls="--")
ax_line.text(
    33, -0.5, "beyond the training length\nof the experiment below", fontsize=9, va="top"
)
ax_line.set(
    title="The penalty against the distance t - s",
    xlabel="distance t - s",
    ylabel="bias",
)
ax_line.legend(loc="lower left")
plt.show()

# %% [markdown]
# With two heads the slopes are {glue:text}`alibi_slope_steep` and {glue:text}`alibi_slope_gentle`
# ($2^{-4}$ and $2^{-8}$). The first head's scores lose one unit every 16 positions, so it attends
# mostly within a few dozen tokens; the second's lose half a unit over 128, so it sees nearly the
# whole sequence alike. Blank cells on the left are hidden by the causal mask.

# %% [markdown]
# :::{admonition} Claim on trial: "the sinusoidal encoding expresses relative position as a linear function, which helps the model generalise to sequences longer than those seen in training"
# :class: claim warning
# :name: claim-ch05-sinusoidal-encoding-expresses-relative-position
# **The first half holds; the second does not follow.** The shift by $k$ positions is exactly a
# linear map (to within {glue:text}`pe_formula_gap` above). But the experiment below trains on sequences of
# {glue:text}`lag_train_len` tokens and finds that the sinusoidal model keeps only
# {glue:text}`lag_sin_far:.0%` accuracy beyond twice that length, where rotary keeps
# {glue:text}`lag_rope_far:.0%`; {cite:t}`press2022train` found the same at scale, for language
# models, and proposed linear biases (ALiBi) instead, which we try too. *Source of the claim: seed article 001.*
# :::
#
# :::{admonition} Claim on trial: "modern models (GPT-NeoX, LLaMA) use learned relative position encodings like RoPE"
# :class: claim danger
# :name: claim-ch05-modern-models-gpt-neox-llama
# **A factual error.** RoPE is not learned: it is a fixed rotation with no parameters (zero, counted
# above), defined by {cite:t}`su2024roformer`. It does make attention depend on relative position,
# and GPT-NeoX and LLaMA do use it. *Learned* relative positions exist too: {cite:t}`shaw2018self`
# added a learned vector per clipped distance to the keys and values. *Source of the claim: seed article 001.*
# :::
#
# ## Train short, test long
#
# Which encoding lets a model handle sequences longer than any it was trained on? We need a task where
# the answer depends on position and nothing else. `data.lag_task` is one: a random string of
# letters, and at every position the target is the letter $\ell$ = 3 steps back. Content cannot help,
# since the letters are random; the model must find position $t - 3$ from position $t$.
#
# We train five identical one-layer decoder-only Transformers (`seqlib.transformer.DecoderOnlyLM`,
# causal, 2 heads of 16 features) that differ only in their position encoding: none, sinusoidal,
# learned, rotary, ALiBi. All train on sequences of {glue:text}`lag_train_len` tokens and are tested on
# sequences of {glue:text}`lag_test_len`, with accuracy read at each position, for three seeds each.
# Chance is 1 in {glue:text}`lag_symbols`.

# %%
LAG, SYMBOLS, TRAIN_LEN, TEST_LEN = 3, 16, 32, 128
ENCODINGS, SEEDS = ["none", "sinusoidal", "learned", "rotary", "alibi"], [0, 1, 2]
lag_train = data.lag_task(4000, TRAIN_LEN, lag=LAG, num_symbols=SYMBOLS, seed=100)
lag_test = data.lag_task(500, TEST_LEN, lag=LAG, num_symbols=SYMBOLS, seed=101)
glue("lag_train_len", TRAIN_LEN)
glue("lag_test_len", TEST_LEN)
glue("lag_symbols", SYMBOLS)


def lag_model(encoding, seed):
    """A one-layer causal Transformer trained on the lag task with the chapter's budget."""
    seqlib.setup(seed)
    model = transformer.DecoderOnlyLM(
        len(lag_train.vocab),
        d_model=32,
        nhead=2,
        num_layers=1,
        dim_feedforward=64,
        dropout=0.0,
        positions=encoding,
        max_len=TEST_LEN,
    )
    train.fit(
        model, lag_train, epochs=5, batch_size=64, lr=3e-3, metrics=(), seed=seed
    )
    return model.eval()


rows = []
for encoding in ENCODINGS:
    for seed in SEEDS:
        model = lag_model(encoding, seed)
        with torch.no_grad():
            right = (model(lag_test.x).argmax(-1) == lag_test.y).float()[
                :, LAG:
            ]  # (n, T - lag)
        for t, acc in enumerate(right.mean(0).tolist(), start=LAG):
            rows.append(
                {"encoding": encoding, "seed": seed, "position": t, "accuracy": acc}
            )
by_position = pd.DataFrame(rows)

fig, ax = plt.subplots(figsize=(10, 3.6))
sns.lineplot(
    by_position,
    x="position",
    y="accuracy",
    hue="encoding",
    errorbar=("pi", 100),
    ax=ax,
)
ax.axvline(TRAIN_LEN - 0.5, color="0.3", ls="--")
ax.axhline(1 / SYMBOLS, color="0.6", ls=":")
ax.text(TRAIN_LEN + 1, 1.02, "longer than any training sequence →", fontsize=9)
ax.text(
    TEST_LEN - 1, 1 / SYMBOLS + 0.02, "chance", ha="right", fontsize=9, color="0.4"
)
ax.set(
    title=f"Lag task (copy the token {LAG} back): trained on length {TRAIN_LEN}, tested on {TEST_LEN}",
    ylim=(0, 1.08),
)
plt.show()


# %%
def zone(position):
    if position < TRAIN_LEN:
        return "seen lengths"
    return "up to 2× longer" if position < 2 * TRAIN_LEN else "2× to 4× longer"


by_position["zone"] = by_position.position.map(zone)
summary = (
    by_position.groupby(["encoding", "zone", "seed"])
    .accuracy.mean()
    .groupby(["encoding", "zone"])
    .agg(["mean", "min", "max"])
)
table = (
    summary["mean"]
    .unstack()[["seen lengths", "up to 2× longer", "2× to 4× longer"]]
    .loc[ENCODINGS]
)
print(table.round(2).to_string())
acc = lambda enc, z, stat="mean": float(summary.loc[(enc, z), stat])
for short, enc in [
    ("none", "none"),
    ("sin", "sinusoidal"),
    ("learned", "learned"),
    ("rope", "rotary"),
    ("alibi", "alibi"),
]:
    glue(f"lag_{short}_seen", round(acc(enc, "seen lengths"), 2))
    glue(f"lag_{short}_near", round(acc(enc, "up to 2× longer"), 2))
    glue(f"lag_{short}_far", round(acc(enc, "2× to 4× longer"), 2))
glue("lag_none_seen_max", round(acc("none", "seen lengths", "max"), 2))
none = by_position[by_position.encoding == "none"]
none_early = none[none.position < LAG + 3].accuracy.mean()  # positions 3 to 5
none_late = none[
    none.position.between(20, TRAIN_LEN - 1)
].accuracy.mean()  # positions 20 to 31
assert none_early > 1.5 * none_late  # the solution of the last exercise, asserted
glue("none_early", round(none_early, 2))
glue("none_late", round(none_late, 2))
# the verdicts of the text, asserted
assert (
    min(acc(e, "seen lengths", "min") for e in ["sinusoidal", "learned", "rotary"])
    > 0.95
)
assert (
    acc("none", "seen lengths", "max") < 0.5
    and acc("none", "seen lengths") > 2 / SYMBOLS
)
assert (
    acc("learned", "up to 2× longer", "max") < 2 / SYMBOLS
)  # chance beyond the table's trained rows
assert acc("rotary", "up to 2× longer", "min") > acc(
    "sinusoidal", "up to 2× longer", "max"
)
assert (
    acc("rotary", "2× to 4× longer")
    > acc("sinusoidal", "2× to 4× longer")
    > acc("learned", "2× to 4× longer")
)
assert acc("rotary", "2× to 4× longer") < acc("rotary", "up to 2× longer") < 1
# ALiBi: never finds "exactly three back", but what it learns does not change with length
assert 2 / SYMBOLS < acc("alibi", "seen lengths", "max") < 0.5
assert acc("alibi", "2× to 4× longer", "min") > 0.75 * acc("alibi", "seen lengths", "max")
assert acc("alibi", "2× to 4× longer", "min") > acc("sinusoidal", "2× to 4× longer", "max")
assert acc("alibi", "up to 2× longer", "max") < acc("rotary", "up to 2× longer", "min")

# %% [markdown]
# The figure tells five different stories.
#
# - **No positions** fails even on the training lengths, with {glue:text}`lag_none_seen:.0%` on
#   average over the seeds (its best seed {glue:text}`lag_none_seen_max:.0%`): the causal mask lets it tell the first few
#   positions apart, which is better than chance, but "exactly three back" is beyond it.
# - **Learned** positions are perfect up to position {glue:text}`lag_train_len` and then fall to
#   chance at once ({glue:text}`lag_learned_near:.0%`): the rows of its table beyond the training
#   length were never trained.
# - **Sinusoidal** positions are perfect on the training lengths and degrade quickly beyond them:
#   {glue:text}`lag_sin_near:.0%` up to twice the training length, {glue:text}`lag_sin_far:.0%`
#   beyond. The linear-shift property exists, but the model did not learn to rely on it alone; it
#   also used the absolute patterns of the positions it saw.
# - **Rotary** positions generalise best, {glue:text}`lag_rope_near:.0%` up to twice the training
#   length, yet not perfectly, and they fade further out ({glue:text}`lag_rope_far:.0%`): the scores
#   depend only on offsets, but offsets larger than any seen in training still occur between a query
#   and the distant keys, and for some of them the learned score happens to exceed that of offset 3.
# - **ALiBi** never learns the task: {glue:text}`lag_alibi_seen:.0%` on the training lengths, above
#   chance but far from the others. Its penalty only grows with distance, so in one layer no head can
#   systematically prefer the key three back over the keys one and two back; content cannot help, since the letters
#   are random. But what it does learn holds at every length ({glue:text}`lag_alibi_near:.0%` up to
#   twice the training length, {glue:text}`lag_alibi_far:.0%` beyond, more than the sinusoidal model
#   keeps there), because nothing in it changes with length.
#
# This is one small task, and a worst case for ALiBi: it asks for one exact offset, where ALiBi
# builds in a preference for the nearest keys. Part of the ranking matches a larger study: in
# {cite:t}`press2022train`'s language models, rotary extrapolates better than sinusoidal, and ALiBi
# better than both; there, the recent past is what predicts the next word, and a recency penalty
# suits the task. Our ALiBi model's flat curve is the property they measured; its low level is what
# a penalty on distance costs on a task that needs something else. Another study disagrees with the rest: {cite:t}`kazemnejad2023impact`
# found that on algorithmic tasks a decoder with *no* encoding can generalise better than any of
# them, with a causal mask supplying the position signal. Our NoPE model did not manage that on a
# task that needs exact offsets; which
# encoding is best depends on the task, and length generalisation remains an open problem.
#
# ## What the heads attend to
#
# Finally, a model whose heads have to cooperate. Multi-query associative recall
# (`data.associative_recall`, {cite}`arora2024zoology`) lists key-value pairs such as
# `k8 v7 k12 v12 ...` and then asks for some of the keys again; at each question the model must
# output the value stored with that key. A two-layer Transformer with two heads per layer (rotary
# positions) learns it in a few seconds. Then we open it up.

# %%
mqar = data.associative_recall(4000, 6, seed=200)
mqar_test = data.associative_recall(500, 6, seed=201)
seqlib.setup(0)
recall = transformer.DecoderOnlyLM(
    len(mqar.vocab),
    d_model=32,
    nhead=2,
    num_layers=2,
    dim_feedforward=64,
    dropout=0.0,
    positions="rotary",
    max_len=64,
)
history = train.fit(
    recall, mqar, epochs=3, batch_size=64, lr=3e-3, val=mqar_test, seed=0
)
recall_acc = round(history.last("val_accuracy"), 3)
assert recall_acc > 0.95
glue("recall_acc", recall_acc)
print(f"accuracy on new sequences, at the question positions: {recall_acc:.1%}")

# %%
P = 6  # pairs; the sequence is k v k v ... (2P tokens), then P questions
w = recall.attention_weights(mqar_test.x)  # (layers, B, heads, T, T)
T_seq = w.shape[-1]
value_pos = torch.arange(1, 2 * P, 2)  # the value tokens, each right after its key
previous = w[0][..., value_pos, value_pos - 1].mean(
    dim=(0, 2)
)  # (heads,): weight of a value on its own key
# at each question, where does layer 2 look? the right answer is the value stored with the asked key
asked = mqar_test.x[:, 2 * P :]  # (B, P)
keys = mqar_test.x[:, 0 : 2 * P : 2]  # (B, P)
answer_pos = (
    2 * (asked[:, :, None] == keys[:, None, :]).float().argmax(-1) + 1
)  # (B, P): position of the value
looks_at = w[1][:, :, 2 * P :].argmax(-1)  # (B, heads, P)
lookup = (looks_at == answer_pos[:, None, :]).float().mean(dim=(0, 2))  # (heads,)
heads = pd.DataFrame(
    {
        "layer 1: weight of each value on its own key": previous.numpy(),
        "layer 2: questions whose strongest weight is on the answer": lookup.numpy(),
    },
    index=[f"head {i + 1}" for i in range(w.shape[2])],
)
print(heads.round(2).to_string())
assert (
    lookup.min() > 0.9 and previous.max() > 0.9 and previous.min() < 0.6
)  # the text's reading, asserted
glue("lookup_worst", round(lookup.min().item(), 2))
glue("previous_best", round(previous.max().item(), 2))
glue("previous_other", round(previous.min().item(), 2))
glue("uniform_share", round(float((1 / torch.arange(2, 2 * P + 1, 2)).mean()), 2))

example = 3
tokens = mqar_test.vocab.decode(mqar_test.x[example])
fig, axes = plt.subplots(2, 2, figsize=(12, 10), layout="constrained")
for ax, (layer, head) in zip(axes.flat, [(0, 0), (0, 1), (1, 0), (1, 1)]):
    viz.heatmap(
        w[layer, example, head],
        xticklabels=tokens,
        yticklabels=tokens,
        ax=ax,
        title=f"layer {layer + 1}, head {head + 1}",
        cbar=False,
        vmin=0,
        vmax=1,
    )
    ax.set(xlabel="key (attended to)", ylabel="query (attending)")
fig.colorbar(axes[0, 0].collections[0], ax=axes, shrink=0.6, label="attention weight")
plt.show()

# %% [markdown]
# The heads divide the work into the two-step circuit that {cite:t}`olsson2022context` call an
# **induction head**. In layer 1, each value token attends to the key just before it: one head puts
# {glue:text}`previous_best:.0%` of its weight there (a uniform causal average would give about
# {glue:text}`uniform_share:.0%`), so that after layer 1 each value carries its key with it. The
# other head of layer 1 does so less ({glue:text}`previous_other:.0%`) and spreads the rest. In layer
# 2, each question looks for the value whose key matches: even in the weaker of its two heads, the
# strongest weight lands on the right answer for {glue:text}`lookup_worst:.0%` of the questions. So one layer's
# heads took different roles and the other's learned the same job twice. Both happen in trained
# Transformers: many heads can be removed with little loss {cite}`michel2019sixteen`, while a few
# specialised ones do most of the work {cite}`voita2019analyzing`, and some of BERT's heads track
# syntactic relations or coreference {cite}`clark2019does`.
#
# :::{admonition} Claim on trial: "different heads learn different relationships: one head syntax, another semantic similarity, another coreference"
# :class: claim warning
# :name: claim-ch05-different-heads-learn-different-relationships
# **Depends.** Heads *can* specialise, and the two layers here did (previous token, then lookup).
# But nothing forces the heads of one layer to differ: both heads of layer 2 learned the same
# lookup, and in large trained models many heads are redundant {cite}`michel2019sixteen`. The syntax and
# coreference heads reported in the literature are findings about particular heads of particular
# models (syntactic and positional heads in translation models {cite}`voita2019analyzing`, syntax and
# coreference heads in BERT {cite}`clark2019does`), not a design property of multi-head attention. *Source of the claim: seed article 001.*
# :::
#
# ### The attention explorer
#
# Pick a layer, a head and a query position: each token is shaded by how much the query (outlined in
# red) attends to it, with the weight written underneath. The explorer runs in the page itself, so it
# works in the published book without Python. Try layer 1 on a value token, and layer 2 on the
# questions at the end.

# %%
viz.attention_explorer(
    tokens, w[:, example], title="Where does each query look? (associative recall)"
)


# %% [markdown]
# ## Summary
#
# - Scaled dot-product attention is four lines, and ours agrees with PyTorch's to rounding. Without
#   the $1/\sqrt{d_k}$ the score variance grows as $d_k$ (measured: {glue:text}`var_ratio_min` to
#   {glue:text}`var_ratio_max` times $d_k$), and at $d_k$ = 256 the softmax is nearly one-hot, its
#   gradient {glue:text}`grad_ratio_256` times smaller.
# - Padding and causal masks set forbidden scores to $-\infty$. A fully masked row gives NaN, zeros or
#   a uniform average, depending on the implementation (and, in `nn.MultiheadAttention`, on a flag);
#   $-10^9$ hides the problem and does not fit in float16.
# - Multi-head attention splits the width into $h$ heads; its parameter count, $4E^2 + 4E$, does not
#   depend on $h$.
# - Without positions, self-attention is permutation-equivariant: twin reviews were
#   indistinguishable. Sinusoidal encodings shift by an exact linear map; learned ones are a table;
#   rotary ones make scores depend on offsets only, with no parameters; ALiBi lowers scores in
#   proportion to distance, with a fixed slope per head.
# - Trained on length {glue:text}`lag_train_len` and tested up to {glue:text}`lag_test_len` on a
#   task about relative position: learned positions fell to chance past the training length,
#   sinusoidal ones degraded fast, rotary ones held best ({glue:text}`lag_rope_near:.0%` up to twice
#   the length) but faded further out, ALiBi never found the offset but kept what it had at every
#   length, and no encoding at all failed even in training.
# - In a trained two-layer model, one layer-1 head looked at the previous token and both layer-2 heads used it
#   to look up the answer: an induction circuit, readable in the explorer.
#
# Chapter 6 assembles these parts, with feed-forward layers, residual paths and normalisation, into
# the full Transformer.
#
# ## Exercises
#
# ```{exercise} Causal attention, graded
# :label: ch5-ex-causal
#
# Write `my_causal_attention(q, k, v)` for `q` and `k` of shape `(B, T, d)` and `v` of shape
# `(B, T, d_v)`: scaled dot-product self-attention in which position $t$ attends to positions
# $s \le t$ only. Return the output `(B, T, d_v)` and the weights `(B, T, T)`. Grade it with
# `seqlib.checks.check_causal_attention`, which compares it with
# `F.scaled_dot_product_attention(q, k, v, is_causal=True)` and names the usual mistakes.
# ```

# %% [markdown]
# ```{solution-start} ch5-ex-causal
# :class: dropdown
# ```
# The allowed pairs are the lower triangle, diagonal included; everything else gets $-\infty$ before
# the softmax. No row is ever fully masked, since every query may see itself.

# %%
def my_causal_attention(q, k, v):
    T, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (B, T, T)
    allowed = torch.ones(T, T, dtype=torch.bool).tril()  # s <= t
    weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    return weights @ v, weights  # (B, T, d_v), (B, T, T)


print(seqlib.checks.check_causal_attention(my_causal_attention))

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} The variance of a dot product
# :label: ch5-ex-variance
#
# Let $q$ and $k$ have independent entries with mean 0 and variance 1. Show that
# $\operatorname{Var}(q \cdot k) = d_k$. What would the variance be if the entries had variance
# $\sigma^2$, and what should the scores then be divided by?
# ```
#
# ```{solution} ch5-ex-variance
# :class: dropdown
#
# Each term $q_i k_i$ has mean $\mathbb{E}[q_i]\mathbb{E}[k_i] = 0$ and variance
# $\mathbb{E}[q_i^2 k_i^2] = \mathbb{E}[q_i^2]\,\mathbb{E}[k_i^2] = 1$, by independence. The $d_k$
# terms are independent of each other, so their variances add: $\operatorname{Var}(q \cdot k) = d_k$.
# With variance $\sigma^2$ per entry each term has variance $\sigma^4$, the sum $d_k \sigma^4$, and
# dividing by $\sigma^2 \sqrt{d_k}$ would restore unit variance. This is why the division is a
# convention for the initial scale, not a law: LayerNorm before attention keeps $\sigma$ near 1,
# which makes $\sqrt{d_k}$ the right constant at the start of training.
# ```
#
# ```{exercise} Find the shift map yourself
# :label: ch5-ex-shift
#
# Build $M_k$ for $k = 20$ and $d = 16$ from the formula, and check that
# $\mathrm{PE}_{t+k} = M_k \mathrm{PE}_t$ for all $t < 100$. Then show that $M_{j+k} = M_j M_k$ and
# $M_{-k} = M_k^\top$. What do these two identities mean for a model that wants to attend "$k$
# positions back"?
# ```
#
# ```{solution} ch5-ex-shift
# :class: dropdown
#
# With `omega = 10000 ** (-torch.arange(0, 16, 2) / 16)`, each block is
# `[[cos(k * w), sin(k * w)], [-sin(k * w), cos(k * w)]]`; `torch.block_diag` assembles them, and
# `positions.sinusoidal_encoding(120, 16)[20:]` equals `pe[:100] @ M.T` to about `1e-6`. Rotations
# by $j$ and by $k$ compose into a rotation by $j + k$ (angles add), and the inverse of a rotation is
# its transpose, which rotates backwards. So the maps for all offsets form one family of rotations,
# and "look $k$ back" is the same map at every position: a query projection can apply $M_{-k}$ to
# its position features once, and it works wherever the query stands, which is the property the
# lag experiment tested.
# ```
#
# ```{exercise} Heads and parameters
# :label: ch5-ex-heads
#
# (a) For $E$ = 512, how many parameters does a multi-head attention layer have with 1 head, and with
# 8? (b) What *does* change with the number of heads, at fixed $E$? (c) Modify the lag experiment to
# use 1 head of 32 features instead of 2 of 16, for the rotary encoding only. Does the result
# change?
# ```
#
# ```{solution} ch5-ex-heads
# :class: dropdown
#
# (a) $4 \cdot 512^2 + 4 \cdot 512 = 1\,050\,624$ for any number of heads. (b) The head width
# $d_k = E/h$, hence the rank of each head's score matrix, the number of separate weighted averages
# per position, and the size of the weight tensor, $h \times T \times T$ per sequence (memory grows
# with $h$ even though parameters do not). (c) Pass `nhead=1` in `lag_model` and rebuild
# `by_position` for `"rotary"` only. The task needs a single relationship (three back), so one head
# suffices in principle; whether it extrapolates differently is an empirical question. Compare the
# difference you find with the spread between seeds (the shaded band) before reading anything into
# it.
# ```
#
# ```{exercise} Why does "no positions" beat chance?
# :label: ch5-ex-nope
#
# The model without any position encoding scored {glue:text}`lag_none_seen:.0%` on the training
# lengths, far from perfect but above the chance level of 1 in {glue:text}`lag_symbols`. Where, in
# the sequence, do you expect its correct answers to be? Check with `by_position`, and explain with
# the causal mask.
# ```
#
# ```{solution} ch5-ex-nope
# :class: dropdown
#
# At the first positions. At position $t = 3$ the causal mask leaves only four keys, and the target
# is the first of them; a head that attends uniformly, or to the first token, already gets a fair
# share right. Further along, a uniform average over $t + 1$ keys dilutes the target, and accuracy
# falls towards chance: `by_position[by_position.encoding == "none"]` gives
# {glue:text}`none_early:.0%` at positions 3 to 5 and {glue:text}`none_late:.0%` at positions 20
# to 31. The causal mask gives each position a different number of keys, which is the positional
# signal {cite:t}`haviv2022transformer` found that language models without encodings exploit; it is
# enough to tell early positions apart, not to find "exactly three back" far into the sequence.
# ```
#
# ```{exercise} What a penalty on distance can and cannot do
# :label: ch5-ex-alibi
#
# (a) Using equation {eq}`ch5-alibi`, explain why a one-layer ALiBi model cannot put more weight on
# the key three positions back than on the keys one and two back, when the letters are random.
# (b) Why is its accuracy about the same beyond the training length as within it, when the
# sinusoidal model's falls? (c) Design a task on which you would expect ALiBi to beat rotary
# positions past the training length, and say what you would measure.
# ```
#
# ```{solution} ch5-ex-alibi
# :class: dropdown
#
# (a) The score of key $s$ is a content term $q_t \cdot k_s / \sqrt{d_k}$ minus $m_i (t - s)$. The
# penalty is smallest for the nearest keys and grows with distance, the same for every query. To
# prefer offset 3 over offsets 1 and 2, the content term of the key three back would have to be
# larger, but with random letters its content says nothing about where it stands; on average
# the ordering by distance wins, in every head. A second layer does not obviously help: its scores
# are again content minus a growing penalty. (Try `num_layers=2` in `lag_model`.)
# (b) Nothing in the model depends on the absolute position: the penalties at offsets 0, 1, 2, ...
# are the same at position 40 as at position 10, and far keys only add terms that the penalty makes
# small. The sinusoidal model learned patterns of the absolute encodings it saw, which change
# beyond the training length. (c) A task where the answer lies in a recent window and far tokens are
# distractors, such as predicting the majority letter of the last 8 tokens. The steep heads suit it,
# and nothing in them changes with length, so the prediction to test is that ALiBi keeps its
# accuracy past the training length while rotary positions, which must learn to ignore far keys,
# may not. This book has not run that experiment: it is yours. Measure accuracy by position as in the lag experiment, and
# compare the zones with the spread between seeds.
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
