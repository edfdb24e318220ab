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
# # Recurrent networks and vanishing gradients
#
# Chapter 1 ended with two demands. A sequence model must use **the same parameters at every
# position**, so that it can read sequences of any length and what it learns at one position
# holds at all of them; and it needs **memory**, so that information can travel from where it
# enters to where it is needed. The oldest architecture that meets both demands at once keeps a
# running summary of everything it has read, a **state**, and updates it one item at a time
# with one fixed function. This is the recurrent neural network (RNN) of
# {cite:t}`elman1990finding`.
#
# This chapter builds the RNN from scratch, checks it against PyTorch, and then measures the
# flaw that shaped the next thirty years of sequence modelling: the learning signal that has to
# travel back through the recurrence shrinks (or grows) geometrically with distance. We measure
# by how much, why, and at what length it stops a real model from learning.
#
# :::{admonition} Learning objectives
# :class: tip
# After this chapter you can
#
# - write the RNN's recurrence, implement it in a few lines and verify it against `nn.RNN`;
# - explain why one set of weights serves every position and every length;
# - derive the gradient of a late loss with respect to an early state (backpropagation through
#   time) and predict from the recurrent weights whether it vanishes or explodes;
# - measure the decay rate of that gradient, and the sequence length at which a plain RNN stops
#   learning the adding problem;
# - use gradient clipping, and say when it matters.
# :::
#
# :::{admonition} Prerequisites
# :class: note
# Chapter 1 (padding, masks and the tasks). The chain rule for vectors (Jacobian matrices);
# eigenvalues and singular values at the level of "an orthogonal matrix preserves lengths".
# PyTorch autograd (`backward`, `.grad`).
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
from torch import nn

import seqlib
from seqlib import data, glue, recurrent, train, viz
from seqlib.prose import bound  # a rounding error shown as the bound it stays under

device = seqlib.setup(seed=0)  # seeds, one CPU thread, the book's plotting style

# %% [markdown]
# ## The recurrence
#
# An RNN reads $x_1, \dots, x_T$ one item at a time. At step $t$ it combines the new input
# with its previous state $h_{t-1} \in \mathbb{R}^H$ and squashes the result:
#
# $$
# h_t = \tanh\left(W_{xh}\, x_t + W_{hh}\, h_{t-1} + b\right), \qquad h_0 = 0.
# $$ (ch2-rnn)
#
# The same $W_{xh}$ (shape $H \times I$), $W_{hh}$ ($H \times H$) and $b$ are used at every step.
# Whatever the network must remember about $x_1, \dots, x_t$ has to fit in the $H$ numbers of
# $h_t$. A prediction is read from the state: from the last one, $\hat y = W_{hy} h_T$, for a
# whole-sequence task, or from every $h_t$ for a per-step one.
#
# Drawn out over time, or **unrolled**, the recurrence is a very deep network whose layers all
# share their weights:

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(9, 2.2))
slots = [
    (0, "1"),
    (1, "2"),
    (2, "3"),
    (3, "4"),
    (5, "T"),
]  # slot 4 is left for the dots
for k, (slot, name) in enumerate(slots):
    left = slot * 2
    ax.add_patch(plt.Rectangle((left, 0.9), 1.2, 0.8, fc="C0", alpha=0.25, ec="C0"))
    ax.text(left + 0.6, 1.3, f"$h_{name}$", ha="center", va="center", fontsize=13)
    ax.annotate(
        "",
        xy=(left + 0.6, 0.9),
        xytext=(left + 0.6, 0.2),
        arrowprops=dict(arrowstyle="->", color="0.3"),
    )
    ax.text(left + 0.6, 0.0, f"$x_{name}$", ha="center", fontsize=13)
    if k < len(slots) - 1:
        ax.annotate(
            "",
            xy=(left + 2, 1.3),
            xytext=(left + 1.2, 1.3),
            arrowprops=dict(arrowstyle="->", color="C3", lw=2),
        )
        ax.text(left + 1.6, 1.45, "$W_{hh}$", ha="center", color="C3", fontsize=10)
ax.text(8.6, 1.3, "...", fontsize=16, ha="center", va="center")
ax.set(
    xlim=(-0.3, 11.5),
    ylim=(-0.3, 1.9),
    title="An RNN unrolled: one cell, applied at every step",
)
ax.axis("off")
plt.show()


# %% [markdown]
# Equation {eq}`ch2-rnn` is three lines of PyTorch. We write the step and the loop by hand:

# %%
def rnn_step(x_t, h_prev, W_xh, W_hh, b):
    """One step of eq. (ch2-rnn): x_t (B, I), h_prev (B, H) -> h_t (B, H)."""
    return torch.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b)


def rnn_forward(x, W_xh, W_hh, b):
    """Run the recurrence over x (B, T, I); return all states (B, T, H)."""
    B, T, _ = x.shape
    h = torch.zeros(B, W_hh.shape[0])  # h_0 = 0
    states = []
    for t in range(T):
        h = rnn_step(x[:, t], h, W_xh, W_hh, b)
        states.append(h)
    return torch.stack(states, dim=1)  # (B, T, H)


# %% [markdown]
# PyTorch's `nn.RNN` computes the same thing, with two bias vectors ($b_{ih} + b_{hh}$ play
# the role of $b$) and a loop written in C++. `seqlib.recurrent.RNN` is the book's own version,
# written to be read (layers, both directions and padded batches included), and
# `RNN.from_torch` copies a PyTorch module's weights into it. If all three agree on the same
# weights, we have understood what `nn.RNN` computes:

# %%
I, H = 3, 16
torch_rnn = nn.RNN(
    I, H, batch_first=True
)  # PyTorch's, with its own random initialisation
ours = recurrent.RNN.from_torch(torch_rnn)  # the book's, with the same weights
x = torch.randn(4, 25, I)  # (B, T, I)

with torch.no_grad():
    by_hand = rnn_forward(
        x,
        torch_rnn.weight_ih_l0,
        torch_rnn.weight_hh_l0,
        torch_rnn.bias_ih_l0 + torch_rnn.bias_hh_l0,
    )
    by_seqlib, _ = ours(x)
    by_torch, h_n = torch_rnn(x)

diff_hand = (by_hand - by_torch).abs().max().item()
diff_seqlib = (by_seqlib - by_torch).abs().max().item()
print(
    f"largest difference from nn.RNN: by hand below {bound(diff_hand, 1e-5)}, "
    f"seqlib below {bound(diff_seqlib, 1e-5)}"
)
assert torch.equal(h_n[0], by_torch[:, -1])  # the final state is the last output
glue("rnn_params", sum(p.numel() for p in torch_rnn.parameters()))

# %% [markdown]
# The three agree to within float32 rounding. The test suite checks the same agreement for
# several layers, both directions, padded batches and initial states, and for the gradients.
#
# Notice what is *not* in the parameter count. This RNN has {glue:text}`rnn_params` parameters,
# $H(I + H + 2)$, and none of them depends on $T$: the same model reads a sequence of 5 steps or
# 5,000, which is exactly what the positional MLP of Chapter 1 could not do. The price is that
# everything about the past must squeeze through $h_t$, and, as we see next, that the learning
# signal must squeeze back through it too.

# %% [markdown]
# ## Backpropagation through time
#
# Training needs the gradient of a loss $L$ with respect to the weights. Because the weights are
# shared across steps, that gradient is a sum over steps, and each term involves how $L$ depends
# on an earlier state. Suppose $L$ is computed from the last state $h_T$ (as in the adding
# problem). By the chain rule through the unrolled network,
#
# $$
# \frac{\partial L}{\partial h_t} = \frac{\partial L}{\partial h_T}\;
# J_T\, J_{T-1} \cdots J_{t+1}, \qquad
# J_k = \frac{\partial h_k}{\partial h_{k-1}} = \operatorname{diag}\!\left(1 - h_k^2\right) W_{hh}.
# $$ (ch2-bptt)
#
# This is **backpropagation through time** {cite}`rumelhart1986learning` (Chapter 10 of
# {cite:t}`goodfellow2016deep` is a textbook treatment; the gradient is a row
# vector, and matrices do not commute, so the order of the product matters: the last step's Jacobian
# comes first). The signal reaching step $t$ has been multiplied by $T - t$ Jacobians. If each shrinks vectors by a factor
# $\gamma < 1$, the signal from a dependency $d$ steps back is scaled by about $\gamma^{d}$;
# if each stretches by $\gamma > 1$, by $\gamma^{d}$ the other way. The size of $J_k$ has two
# parts: $W_{hh}$, whose largest singular value bounds how much it can stretch, and
# $\operatorname{diag}(1 - h_k^2)$, the slope of tanh, which is at most 1 and falls towards 0 when
# the state saturates near $\pm 1$ {cite}`hochreiter1991untersuchungen,bengio1994learning,pascanu2013difficulty`.
#
# We can measure this directly. We build RNNs whose recurrent matrix is $W_{hh} = \rho\, Q$, with
# $Q$ a random orthogonal matrix, so that every singular value, and the spectral radius, equal
# $\rho$. We run each on random inputs for {glue:text}`bptt_T` steps, put a loss on the last state,
# and ask autograd for $\lVert \partial L / \partial h_t \rVert$ at every step. We do it twice: with
# tanh, and with no nonlinearity at all (a *linear* RNN), where eq. {eq}`ch2-bptt` predicts a
# decay of exactly $\rho$ per step.

# %%
BPTT_T, BPTT_H, BPTT_B = 100, 64, 32
RHOS = [0.5, 1.0, 1.5, 2.0, 3.0]


def gradient_by_distance(rho, nonlinearity, seed=0):
    """||dL/dh_t||, averaged over the batch, indexed by distance T - t (0 = last step)."""
    g = seqlib.generator(seed)
    Q, _ = torch.linalg.qr(
        torch.randn(BPTT_H, BPTT_H, generator=g)
    )  # random orthogonal
    W_hh = rho * Q  # every singular value equals rho
    W_xh = torch.randn(BPTT_H, 1, generator=g)
    b = torch.zeros(BPTT_H)
    x = torch.randn(BPTT_B, BPTT_T, 1, generator=g)
    h = torch.zeros(BPTT_B, BPTT_H, requires_grad=True)
    states = []
    for t in range(BPTT_T):
        pre = x[:, t] @ W_xh.T + h @ W_hh.T + b
        h = torch.tanh(pre) if nonlinearity == "tanh" else pre
        h.retain_grad()  # keep dL/dh_t for inspection
        states.append(h)
    loss = (
        h @ torch.randn(BPTT_H, generator=g)
    ).sum()  # a loss on the last state only
    loss.backward()
    norms = torch.stack([s.grad.norm(dim=1).mean() for s in states])  # (T,)
    return norms.flip(0)  # index = distance


rows = []
for nonlinearity in ("linear", "tanh"):
    for rho in RHOS:
        norms = gradient_by_distance(rho, nonlinearity)
        for distance, value in enumerate(norms.tolist()):
            rows.append(
                {
                    "activation": nonlinearity,
                    "rho": rho,
                    "distance": distance,
                    "gradient norm": value,
                }
            )
grads = pd.DataFrame(rows)
glue("bptt_T", BPTT_T)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, nonlinearity in zip(axes, ("linear", "tanh")):
    part = grads[
        (grads.activation == nonlinearity)
        & np.isfinite(grads["gradient norm"])
        & (grads["gradient norm"] > 0)
    ]
    sns.lineplot(
        data=part,
        x="distance",
        y="gradient norm",
        hue="rho",
        palette="viridis",
        ax=ax,
        legend=nonlinearity == "tanh",
    )
    ax.set(
        yscale="log",
        ylim=(1e-20, 1e20),
        xlabel="distance T - t (steps)",
        title=f"{nonlinearity} RNN",
    )
axes[0].set_ylabel("||dL / dh_t||")
sns.move_legend(
    axes[1], "upper left", bbox_to_anchor=(1, 1), title="spectral radius"
)
plt.show()


# %%
def factor_per_step(part, first=1, last=40):
    """Geometric decay (or growth) per step: slope of log10(norm) against distance."""
    window = part[(part.distance >= first) & (part.distance <= last)]
    norms = window["gradient norm"]
    window = window[
        np.isfinite(norms) & (norms > 1e-30) & (norms < 1e30)
    ]  # float32 range
    slope = np.polyfit(window.distance, np.log10(window["gradient norm"]), 1)[0]
    return 10**slope


factors = {
    (a, r): factor_per_step(grads[(grads.activation == a) & (grads.rho == r)])
    for a in ("linear", "tanh")
    for r in RHOS
}
table = pd.DataFrame(
    {a: [factors[(a, r)] for r in RHOS] for a in ("linear", "tanh")},
    index=pd.Index(RHOS, name="spectral radius"),
).round(3)
# A linear RNN follows eq. (ch2-bptt) exactly: the factor per step is rho itself.
assert all(abs(factors[("linear", r)] - r) < 0.01 * r for r in RHOS)
# tanh's slope is at most 1, so with tanh the factor is always smaller than rho ...
assert all(factors[("tanh", r)] < r for r in RHOS)
# ... so much so that at rho = 1 the gradient vanishes; it takes rho = 2 to explode.
assert (
    factors[("tanh", 1.0)] < 0.9
    and factors[("tanh", 1.5)] < 1 < factors[("tanh", 2.0)]
)
for r in RHOS:
    glue(f"tanh_factor_{r}", round(float(factors[("tanh", r)]), 2))
tanh_1 = grads[(grads.activation == "tanh") & (grads.rho == 1.0)].set_index(
    "distance"
)
glue(  # a vanished gradient's digits are float32 underflow: glue the bound it stays under
    "tanh_1_ratio_50",
    bound(tanh_1.loc[50, "gradient norm"] / tanh_1.loc[0, "gradient norm"], 1e-6),
)
table

# %% [markdown]
# The linear RNN behaves exactly as eq. {eq}`ch2-bptt` says: the gradient shrinks by a factor
# of $\rho$ per step for $\rho < 1$, stays constant at $\rho = 1$, and grows by $\rho$ per step
# above 1 (the code checks the fitted factors against $\rho$ to within 1%). Over 100 steps, a
# factor of 0.5 per step is a factor of $10^{-30}$: whatever happened 100 steps ago has, to the
# learning algorithm, not happened at all.
#
# The tanh RNN, the one people actually use, is worse. Its factors per step are
# {glue:text}`tanh_factor_0.5` at $\rho = 0.5$, {glue:text}`tanh_factor_1.0` at $\rho = 1$,
# {glue:text}`tanh_factor_1.5` at $\rho = 1.5$: even a recurrent matrix that preserves lengths
# exactly loses most of the signal, because the slope of tanh, $1 - h^2$, is below 1 everywhere
# and near 0 wherever the state saturates. At $\rho = 1$ the gradient 50 steps back is
# less than {glue:text}`tanh_1_ratio_50` times the gradient at the last step. Of the values tried, only from $\rho = 2$
# ({glue:text}`tanh_factor_2.0` per step) do the weights stretch harder than the saturation
# squashes, so the threshold lies somewhere between 1.5 and 2; at $\rho = 3$
# ({glue:text}`tanh_factor_3.0` per step) the gradient explodes faster still. These
# thresholds belong to this chapter's inputs: the slope of tanh depends on how far the inputs drive the
# state into saturation, so smaller inputs leave the slope nearer 1 and let a smaller $\rho$ explode.
# Between the two sits a narrow band where the signal survives; a network starts wherever its initialisation puts it,
# and training moves it around.
#
# :::{admonition} Claim on trial: "gradients in recurrent networks can vanish or explode"
# :class: claim tip
# :name: claim-ch02-gradients-recurrent-networks-can-vanish
# **Verdict: holds, and the measurement adds a nuance.** Both happen, as eq. {eq}`ch2-bptt`
# predicts, depending on the recurrent weights: for a linear RNN the gradient scales by exactly
# $\rho$ per step. With tanh, vanishing is the *default*: the factor per step was
# {glue:text}`tanh_factor_1.0` even for length-preserving weights, and with our inputs explosion
# needed weights that stretch by more than 1.5 (of the values tried, 2 was the first to explode) (smaller inputs saturate less, and explode
# sooner). The analysis is {cite:t}`hochreiter1991untersuchungen` and
# {cite:t}`bengio1994learning`; {cite:t}`pascanu2013difficulty` give the modern treatment.
# *Source of the claim: seed article 002. Evidence: this section.*
# :::

# %% [markdown]
# ## Exploding gradients, and clipping
#
# An exploding gradient is easier to fix than a vanishing one, because it announces itself. A
# single huge gradient step throws the weights far away, the loss jumps, and the run can end in
# `nan`. The standard remedy, **gradient clipping** {cite}`pascanu2013difficulty`, rescales the
# gradient $g$ whenever its norm exceeds a threshold $c$:
#
# $$
# g \leftarrow g \cdot \min\left(1, \frac{c}{\lVert g \rVert}\right),
# $$ (ch2-clip)
#
# which keeps its direction and caps the step. `train.fit(..., clip=c)` does this with
# `torch.nn.utils.clip_grad_norm_`. To see it on a real run, we train an RNN on the adding
# problem with plain stochastic gradient descent (SGD), starting from recurrent weights with
# $\rho$ = {glue:text}`clip_rho`, once without clipping and once with $c = 1$. The loop is written
# out, because the clipping is one line of it:

# %%
CLIP_RHO, CLIP_STEPS, CLIP_T = 1.8, 600, 40


def clipping_run(clip, optimizer="SGD", seed=0):
    """Train nn.RNN on the adding problem from W_hh = rho * Q; record norms and losses."""
    seqlib.setup(seed)
    rnn, readout = nn.RNN(2, 64, batch_first=True), nn.Linear(64, 1)
    with torch.no_grad():
        Q, _ = torch.linalg.qr(torch.randn(64, 64))
        rnn.weight_hh_l0.copy_(CLIP_RHO * Q)
    params = [*rnn.parameters(), *readout.parameters()]
    if optimizer == "SGD":
        opt = torch.optim.SGD(params, lr=0.05)
    else:
        opt = torch.optim.Adam(params, lr=1e-3)
    batches = data.batches(
        data.adding_problem(CLIP_STEPS * 32, CLIP_T, seed=seed), 32
    )
    log = []
    for step, (x, y) in enumerate(batches):
        loss = ((readout(rnn(x)[0][:, -1]).squeeze(-1) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(
            params, clip if clip else math.inf
        )  # eq. (ch2-clip)
        opt.step()
        log.append(
            {"step": step, "loss": loss.item(), "gradient norm": norm.item()}
        )
    return pd.DataFrame(log)


runs = {}
for optimizer in ("SGD", "Adam"):
    for clip in (None, 1.0):
        name = f"{optimizer}, {'clipped at 1' if clip else 'no clipping'}"
        runs[name] = clipping_run(clip, optimizer)
clip_log = pd.concat(runs, names=["run"]).reset_index(level=0)
glue("clip_rho", CLIP_RHO)

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for name, log in runs.items():
    style = "-" if name.startswith("SGD") else ":"
    axes[0].plot(log.step, log["gradient norm"], style, label=name, lw=1)
    axes[1].plot(
        log.step, log["loss"].rolling(20, min_periods=1).mean(), style, label=name
    )
axes[0].set(yscale="log", title="gradient norm before clipping", xlabel="step")
axes[1].set(
    yscale="log",
    ylim=(0.05, 5),
    xlabel="step",
    title="loss (running mean of 20 steps)",
)
axes[1].axhline(1 / 6, color="grey", ls="--", lw=1)
axes[1].text(
    60, 2.5, "SGD without clipping: off the scale, then nan", color="C0", fontsize=8
)
axes[1].legend(fontsize=8)
plt.show()

# %% tags=["hide-input"]
sgd_raw, sgd_clipped = runs["SGD, no clipping"], runs["SGD, clipped at 1"]
first_nan = int(sgd_raw.index[~np.isfinite(sgd_raw["loss"])][0])
assert np.isfinite(sgd_clipped["loss"]).all()  # clipping kept the run alive
assert all(np.isfinite(runs[n]["loss"]).all() for n in runs if n.startswith("Adam"))
glue("clip_first_nan", first_nan)
glue("clip_max_norm", int(sgd_clipped["gradient norm"].max()))
glue("clip_final_loss", round(float(sgd_clipped["loss"].tail(100).mean()), 3))
glue("adam_max_norm", int(runs["Adam, no clipping"]["gradient norm"].max()))

# %% [markdown]
# Without clipping, SGD's loss became `nan` at step {glue:text}`clip_first_nan`: one exploding
# gradient was enough. With clipping, the same run survived gradients whose norm reached
# {glue:text}`clip_max_norm` before clipping, and its loss over the last 100 steps averaged
# {glue:text}`clip_final_loss`, against the 1/6 of always predicting 1 (the dashed line). Clipping
# kept it alive; it did not make it learn.
#
# Adam did not diverge even without clipping, although its gradients reached a norm of
# {glue:text}`adam_max_norm`. That is no accident: Adam divides each parameter's step by a running
# estimate of that parameter's gradient size, so a gradient that is a thousand times too large
# produces a step of roughly the usual size. With Adam, clipping is a safety net rather than a
# necessity, which is why `seqlib.train.fit` uses Adam and clips only when asked.
#
# Clipping cures explosion. Nothing so simple cures vanishing: a gradient of $10^{-20}$ cannot
# be rescaled into information, because it was never information. The next section measures what
# that costs.

# %% [markdown]
# ## Where it bites: the adding problem
#
# The adding problem (Chapter 1) hides two marked numbers among $T$ steps of noise, one in each
# half, and asks for their sum. To solve it, the network must notice the first marked value,
# keep it in its state for up to $T$ steps, and add the second. Predicting the constant 1 scores a
# mean squared error of about 1/6; remembering only one of the two numbers and guessing the
# other scores 1/12. We call a run **learned** when its test error falls below
# {glue:text}`add_threshold`, which takes both numbers.
#
# Every run gets the same budget: an RNN with {glue:text}`add_H` hidden units and a linear
# read-out of its last state, {glue:text}`add_steps` Adam steps on fresh batches of
# {glue:text}`add_batch` sequences, gradient clipping at 1, and {glue:text}`add_seeds` seeds at
# each length. The model is `seqlib.models.RecurrentModel`, the wrapper every experiment in the
# book uses: it runs PyTorch's `nn.RNN` (the previous sections showed that it computes exactly our
# recurrence, only faster) and reads out each sequence's last state, and
# `seqlib.models.train_on_adding` runs the whole protocol, so that Chapter 3 can give an LSTM
# exactly this budget.

# %%
ADD_LENGTHS, ADD_SEEDS = [5, 10, 20, 40, 80], [0, 1, 2]
ADD_H, ADD_STEPS, ADD_BATCH, ADD_LR, ADD_THRESHOLD = 32, 1000, 32, 2e-2, 0.05
BASELINE = 1 / 6


def adding_run(kind, T, seed):
    """Train one model with the book's adding-problem budget; return its test MSE."""
    _, mse = seqlib.models.train_on_adding(
        kind,
        T,
        seed,
        hidden_size=ADD_H,
        steps=ADD_STEPS,
        batch_size=ADD_BATCH,
        lr=ADD_LR,
    )
    return mse


adding = pd.DataFrame(
    [
        {"T": T, "seed": seed, "test MSE": adding_run("rnn", T, seed)}
        for T in ADD_LENGTHS
        for seed in ADD_SEEDS
    ]
)
adding["learned"] = adding["test MSE"] < ADD_THRESHOLD
for key, value in {
    "add_H": ADD_H,
    "add_steps": ADD_STEPS,
    "add_batch": ADD_BATCH,
    "add_seeds": len(ADD_SEEDS),
    "add_threshold": ADD_THRESHOLD,
}.items():
    glue(key, value)

# %%
ax = sns.stripplot(
    data=adding,
    x="T",
    y="test MSE",
    hue="learned",
    size=8,
    palette={True: "C2", False: "C3"},
)
ax.axhline(BASELINE, color="grey", ls="--", lw=1)
ax.text(-0.4, BASELINE * 1.03, "always predict 1", color="grey", va="bottom")
ax.axhline(ADD_THRESHOLD, color="C2", ls=":", lw=1)
ax.set(
    title="A plain RNN on the adding problem",
    xlabel="sequence length T",
    ylabel="test MSE (one dot per seed)",
    ylim=(0, max(0.25, 1.05 * adding["test MSE"].max())),
)
sns.move_legend(ax, "upper left", bbox_to_anchor=(1, 1), title="learned")
plt.show()
per_length = adding.groupby("T").agg(
    learned=("learned", "sum"), median_mse=("test MSE", "median")
)
per_length.round(4)

# %%
all_learn = [
    T for T in ADD_LENGTHS if per_length.loc[T, "learned"] == len(ADD_SEEDS)
]
none_learn = [T for T in ADD_LENGTHS if per_length.loc[T, "learned"] == 0]
assert all_learn and none_learn and max(all_learn) < min(none_learn)
assert (
    none_learn == ADD_LENGTHS[ADD_LENGTHS.index(min(none_learn)) :]
)  # and every longer length
glue("rnn_all_learn", max(all_learn))
glue("rnn_none_learn", min(none_learn))
glue("rnn_longest", ADD_LENGTHS[-1])


# %% [markdown]
# The verdict is sharp. Every seed learns at lengths up to {glue:text}`rnn_all_learn`; from length
# {glue:text}`rnn_none_learn` on, no seed does (in between, some seeds do). Their errors sit near the
# baseline or above it: at best the network has learned to predict the average, the baseline's error,
# and a run above the baseline is doing worse than that. Nothing about the task changes with length
# except the distance between the first marked value and the end, and eq. {eq}`ch2-bptt` says
# what that distance does to the learning signal.
#
# These numbers belong to this budget and this size. More data, more steps, a larger network
# or a careful initialisation push the failure length out: {cite:t}`le2015simple` trained ReLU
# RNNs started at the identity (exercise {ref}`ch2-ex-irnn`) on adding problems hundreds of steps
# long. But the geometric decay means each extra step of reach costs multiplicatively more. Chapter 3 trains an LSTM on exactly this task with exactly this budget.
#
# :::{admonition} Claim on trial: "RNNs struggle with long-range dependencies because of their sequential nature"
# :class: claim warning
# :name: claim-ch02-rnns-struggle-with-long-range
# **Verdict: right symptom, wrong cause.** The struggle is real: here every seed of a plain RNN
# learned up to length {glue:text}`rnn_all_learn`, and none from length {glue:text}`rnn_none_learn`. But the cause is not that it processes the
# sequence in order. It is the repeated multiplication by the recurrent Jacobian in eq.
# {eq}`ch2-bptt`: a *linear* RNN with length-preserving weights, just as sequential, passed the
# gradient back through 100 steps without any loss (factor per step exactly 1, measured above),
# and the LSTM of Chapter 3, every bit as sequential, reaches much further. Sequential processing
# is a question of speed (Chapter 8), not of memory. *Source of the claim: seed article 002.*
# :::
#
# :::{admonition} Claim on trial: "the LSTM was designed to address the vanishing gradient problem of standard RNNs"
# :class: claim tip
# :name: claim-ch02-lstm-was-designed-address-vanishing
# **Verdict: holds.** {cite:t}`hochreiter1997long` motivate the LSTM by exactly the analysis of
# this chapter (first given in {cite:t}`hochreiter1991untersuchungen`): they construct a unit whose
# error flow back through time is constant, the "constant error carousel". The vanishing we
# measured here is the problem; Chapter 3 measures the remedy.
# *Source of the claim: seed articles 000, 002 and 003.*
# :::

# %% [markdown]
# ## Summary
#
# - An RNN updates a state $h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b)$ with the same weights at
#   every step, so it reads any length with a fixed number of parameters. Our from-scratch version,
#   `seqlib.recurrent.RNN` and `nn.RNN` agree to float32 rounding.
# - Backpropagation through time multiplies the learning signal by one Jacobian per step. For a
#   linear RNN the gradient scales by exactly the spectral radius $\rho$ per step; with tanh the
#   factor was lower still ({glue:text}`tanh_factor_1.0` per step at $\rho = 1$), so vanishing is the
#   default and explosion needs large weights (somewhere between $\rho = 1.5$ and $\rho = 2$ with this chapter's inputs).
# - Exploding gradients are cured by clipping: plain SGD from $\rho$ = {glue:text}`clip_rho` hit `nan`
#   at step {glue:text}`clip_first_nan` without it and survived with it, though it did not learn
#   (final loss {glue:text}`clip_final_loss`, above the 1/6 baseline). Adam, which normalises its
#   steps, survived either way.
# - Vanishing gradients have no such cure. On the adding problem, with a fixed budget, a plain
#   RNN learned at lengths up to {glue:text}`rnn_all_learn` and failed at every length from
#   {glue:text}`rnn_none_learn`, with every seed.
#
# Next, Chapter 3 changes the recurrence itself so that the signal can survive: the LSTM.

# %% [markdown]
# ## Exercises
#
# ```{exercise} Write the RNN step
# :label: ch2-ex-step
#
# Write `my_rnn_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh)` for PyTorch's layout: `x_t` is
# `(B, I)`, `h_prev` is `(B, H)`, `W_ih` is `(H, I)`, `W_hh` is `(H, H)` and the two biases are
# `(H,)`. It returns $h_t$ of shape `(B, H)`. Grade it with
# `seqlib.checks.check_rnn_step(my_rnn_step)`, which compares it with `torch.nn.RNNCell`.
# ```

# %% [markdown]
# ```{solution-start} ch2-ex-step
# :class: dropdown
# ```
# Eq. {eq}`ch2-rnn` with PyTorch's two biases:

# %%
def my_rnn_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh)  # (B, H)


print(seqlib.checks.check_rnn_step(my_rnn_step))

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} The linear RNN's gradient, exactly
# :label: ch2-ex-linear
#
# For a linear RNN $h_t = W h_{t-1} + U x_t$ with $W = \rho Q$ and $Q$ orthogonal, show that
# $\lVert \partial L / \partial h_t \rVert = \rho^{T-t} \lVert \partial L / \partial h_T \rVert$ exactly.
# Then check it numerically with `gradient_by_distance` from this chapter.
# ```

# %% [markdown]
# ```{solution-start} ch2-ex-linear
# :class: dropdown
# ```
# Without a nonlinearity, $J_k = W$ for every $k$, so eq. {eq}`ch2-bptt` gives
# $\partial L / \partial h_t = \partial L / \partial h_T \, W^{T-t} = \rho^{T-t}\,\partial L / \partial h_T\, Q^{T-t}$.
# A power of an orthogonal matrix is orthogonal, and multiplying a vector by an orthogonal matrix
# preserves its norm, hence the result. Numerically (the per-example norms are averaged, which
# preserves the exact ratio because every example's norm scales by the same factor):

# %%
for rho in (0.8, 1.0, 1.2):
    norms = gradient_by_distance(rho, "linear")
    predicted = norms[0] * rho ** torch.arange(30.0)
    print(
        f"rho = {rho}: largest relative error over 30 steps below "
        f"{bound(((norms[:30] - predicted).abs() / predicted).max(), 1e-5)}"
    )

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Clip by norm, or by value?
# :label: ch2-ex-clip
#
# `torch.nn.utils.clip_grad_value_` clips each gradient *entry* to $[-c, c]$ instead of rescaling
# the whole vector. Take the gradient $g = (10, 0.1)$ and $c = 1$: compute both clipped
# versions and the angle each makes with $g$. Which one still points downhill in the same
# direction, and why might that matter?
# ```
#
# ```{solution} ch2-ex-clip
# :class: dropdown
#
# Clipping the norm gives $g \cdot 1/\lVert g \rVert \approx (0.99995, 0.0099995)$, the same
# direction as $g$ (angle 0). Clipping values gives $(1, 0.1)$, which points about 5.1° away from
# $g$ (the angle between $(10, 0.1)$ and $(1, 0.1)$ is $\arctan(0.1) - \arctan(0.01)$).
# Norm clipping changes only the step's length, so it never changes which way the optimiser
# goes; value clipping changes the direction too, most when one coordinate dominates, which is
# exactly the situation of an exploding gradient. Eq. {eq}`ch2-clip` is the usual choice for
# that reason {cite}`pascanu2013difficulty`.
# ```

# %% [markdown]
# ```{exercise} A ReLU RNN started at the identity
# :label: ch2-ex-irnn
#
# {cite:t}`le2015simple` proposed RNNs with ReLU activations and recurrent weights initialised to
# the identity matrix (the "IRNN"). (a) Using eq. {eq}`ch2-bptt`, what is the Jacobian
# $J_k$ of such a network at initialisation, on units that are active? (b) Measure the gradient
# norm against distance for a ReLU RNN with $W_{hh} = I$ and compare it with the tanh RNN at
# $\rho = 1$.
# ```

# %% [markdown]
# ```{solution-start} ch2-ex-irnn
# :class: dropdown
# ```
# (a) For a ReLU unit the slope is 1 where the unit is active and 0 where it is not, so on
# active units $J_k = W_{hh} = I$: the gradient passes back unchanged, while on inactive units it
# is cut. (b) We reuse the loop of `gradient_by_distance`, with ReLU, $W_{hh} = I$ and small
# positive inputs and biases so that every unit stays active:

# %%
W_hh, W_xh, b = torch.eye(64), torch.full((64, 1), 0.01), torch.full((64,), 0.01)
x = torch.rand(8, 100, 1)  # positive inputs keep the units active
h = torch.zeros(8, 64, requires_grad=True)
relu_states = []
for t in range(100):
    h = torch.relu(x[:, t] @ W_xh.T + h @ W_hh.T + b)
    h.retain_grad()
    relu_states.append(h)
h.sum().backward()
relu_norms = torch.stack([s.grad.norm(dim=1).mean() for s in relu_states]).flip(0)
tanh_norms = gradient_by_distance(1.0, "tanh")
print("gradient 50 steps back, relative to the last step:")
print(f"  ReLU, identity weights: {relu_norms[50] / relu_norms[0]:.3f}")
print(f"  tanh, rho = 1:          below {bound(tanh_norms[50] / tanh_norms[0], 1e-6)}")


# %% [markdown]
# At initialisation the identity-initialised ReLU RNN passes the gradient back unchanged, the
# tanh RNN loses almost all of it. Training changes $W_{hh}$, so the property holds only at the
# start; still, a good starting point was enough for {cite:t}`le2015simple` to reach much
# longer adding problems than a tanh RNN. The idea of an identity path through time returns,
# made permanent, in the LSTM's cell state.
#
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise} Does a longer sequence always hurt?
# :label: ch2-ex-position
#
# In the adding problem the first marked value is somewhere in the first half of the sequence.
# Predict how the RNN's error would change if both marked values were always in the *last* five
# steps, whatever $T$. Then test it: build such data from `data.adding_problem` by moving the
# markers, train at $T = 40$ with this chapter's budget (`adding_run`'s), and compare.
# ```

# %% [markdown]
# ```{solution-start} ch2-ex-position
# :class: dropdown
# ```
# The prediction from eq. {eq}`ch2-bptt` is that length itself does not matter, only distance: if
# both marked values sit in the last five steps, the signal travels at most five steps and the
# RNN should learn as it did at $T = 5$. We move the markers:

# %%
def late_markers(n, T, seed):
    d = data.adding_problem(n, T, seed=seed)
    x = d.x.clone()
    x[:, :, 1] = 0  # remove the markers ...
    g = seqlib.generator(seed)
    first = torch.randint(T - 5, T - 2, (n,), generator=g)
    second = torch.randint(T - 2, T, (n,), generator=g)
    rows = torch.arange(n)
    x[rows, first, 1] = x[rows, second, 1] = (
        1.0  # ... and put them in the last five steps
    )
    y = x[rows, first, 0] + x[rows, second, 0]
    return data.SeqData(x, y)


seqlib.setup(0)
model = seqlib.models.RecurrentModel("rnn", 2, ADD_H, 1, squeeze=True)
train.fit(
    model,
    late_markers(ADD_STEPS * ADD_BATCH, 40, seed=0),
    epochs=1,
    batch_size=ADD_BATCH,
    lr=ADD_LR,
    loss="mse",
    metrics=(),
    clip=1.0,
)
late = train.evaluate(
    model, late_markers(1000, 40, seed=1000), loss="mse", metrics=()
)["loss"]
print(
    f"T = 40, markers in the last five steps: test MSE {late:.4f} "
    f"(baseline {BASELINE:.3f}; with markers spread out, no seed learned at T = 40)"
)
assert late < ADD_THRESHOLD

# %% [markdown]
# It learns. The RNN reads 35 steps of pure noise and still solves the task, because nothing has
# to be carried across them: what defeats it is the *distance* of the dependency, not the length
# of the sequence.
#
# ```{solution-end}
# ```

# %% [markdown]
# ## References
#
# The works cited in this chapter are listed with full details in the
# [bibliography](bibliography.md).

# %% tags=["nbval-ignore-output"]
# timing: the whole chapter's run time, reported at the top of the page
run_time_min = (time.perf_counter() - start) / 60
glue("run_time_min", round(run_time_min, 1))
print(f"ran in {run_time_min:.1f} minutes")
