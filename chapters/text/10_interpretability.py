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
# # Reading a model's reasoning
#
# Attention maps are the most reproduced pictures in deep learning: a grid of tokens with bright
# cells where "the model looked". They invite a reading: the bright token is the reason for the
# output. Popular articles go further and call Transformers transparent and LSTMs black boxes.
#
# This chapter tests that reading where it can be tested: on tasks whose answer is known to depend on
# one token, so that a true explanation exists to compare against. We measure how much attention
# lands on that token, compare attention with two other ways of asking "which input mattered"
# (removing a token and watching the output; following the gradient), and then ask the sharpest
# question of {cite:t}`jain2019attention`: can a very different attention pattern give the same
# prediction? Finally we open an LSTM trained on text and look for units a reader can name.
#
# :::{admonition} Learning objectives
# :class: tip
# After this chapter you can
#
# - draw and read attention maps of a trained model, head by head and layer by layer;
# - compute leave-one-out, gradient-times-input and integrated-gradients attributions, and compare
#   explanations by top-1 agreement and by rank correlation (Spearman, Kendall);
# - test whether attention is *necessary* for a prediction, with permuted, moved and adversarially
#   searched attention weights;
# - explain why attention in one layer of a deep model is not an attribution to input tokens;
# - find LSTM units that track a nameable property of text, with an untrained network as control.
# :::
#
# :::{admonition} Prerequisites
# :class: note
# Chapter 3 (the LSTM and its cell state), Chapter 4 (additive attention), Chapter 5 (self-attention,
# the associative recall task and the attention explorer); gradients in PyTorch.
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
import numpy as np
import pandas as pd
import seaborn as sns
import torch
import torch.nn.functional as F

import seqlib
from seqlib import data, glue, interpret, models, train, transformer, viz

seqlib.setup(seed=0)

# %% [markdown]
# ## A task with a known answer
#
# `data.key_token_task` writes sequences of 20 tokens, filler letters (`a` to `p`) and one **key
# token** (`A`, `B`, `C` or `D`) at a random position; the label is the key. A fifth of the training
# sequences hold no key and have the label "none", so that no class can be recognised by the absence
# of the others. Whatever a model learns, the prediction can only come from the key token: it is the
# ground truth for any explanation.

# %%
T = 20
task = data.key_token_task(3000, T, seed=0)
test = data.key_token_task(
    500, T, none_fraction=0.0, seed=1
)  # every test sequence has a key
key_pos = test.meta["position"]  # (500,): where the answer lies
rows = [test.vocab.decode(test.x[i]) for i in range(4)]
viz.draw_tokens(
    rows,
    labels=[f"label {test.y[i].item()}" for i in range(4)],
    highlight=[[s == key_pos[i].item() for s in range(T)] for i in range(4)],
    title="Four test sequences; the key token (outlined) decides the label",
)
plt.show()

# %% [markdown]
# We train two classifiers of the kind {cite:t}`jain2019attention` studied
# (`interpret.AttentionClassifier`). Both embed the tokens, score every position with Bahdanau's
# additive attention against one learned query {cite}`bahdanau2015neural`, and classify the weighted
# average. They differ in what attention averages:
#
# - **attention only**: the embeddings themselves, so each state knows its own token and nothing else;
# - **LSTM + attention**: the states of an LSTM that reads left to right, so every state after the key
#   has seen it.

# %%
classifiers = {}
for name, encoder in [("attention only", "none"), ("LSTM + attention", "lstm")]:
    seqlib.setup(0)
    model = interpret.AttentionClassifier(
        len(task.vocab), 5, d_model=32, encoder=encoder
    )
    history = train.fit(
        model, task, epochs=5, batch_size=64, lr=1e-2, val=test, seed=0
    )
    classifiers[name] = model
    print(f"{name:17s} test accuracy {history.last('val_accuracy'):.1%}")
    assert history.last("val_accuracy") > 0.99

# %% [markdown]
# ## Where does attention land?
#
# Each row below is one test sequence, each column a position, and the colour the attention weight;
# a white dot marks the key token.

# %%
alpha = {
    name: m.attention_weights(test.x) for name, m in classifiers.items()
}  # (500, T) each
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
for ax, (name, a) in zip(axes, alpha.items()):
    viz.heatmap(
        a[:12],
        ax=ax,
        title=name,
        vmin=0,
        vmax=1,
        xticklabels=2,
        cbar=ax is axes[-1],
    )
    ax.scatter(key_pos[:12] + 0.5, np.arange(12) + 0.5, color="white", s=12)
    ax.set(xlabel="position", ylabel="test sequence")
plt.tight_layout()
plt.show()

mass = {
    name: interpret.attention_mass_on(a, key_pos).mean().item()
    for name, a in alpha.items()
}
top1 = {
    name: (a.argmax(-1) == key_pos).float().mean().item()
    for name, a in alpha.items()
}
print(
    pd.DataFrame({"mean weight on the key": mass, "key is the top token": top1})
    .round(3)
    .to_string()
)
assert min(mass.values()) > 0.95 and min(top1.values()) > 0.99
glue("ch10_mass_none", round(mass["attention only"], 3))
glue("ch10_mass_lstm", round(mass["LSTM + attention"], 3))

# %% [markdown]
# Both models put almost all their attention on the key: on average
# {glue:text}`ch10_mass_none:.1%` (attention only) and {glue:text}`ch10_mass_lstm:.1%` (LSTM +
# attention). So far the map reads the way the articles promise. But the map only says where the
# weights went. Did those weights *cause* the prediction?
#
# ## Attention against attributions
#
# An **attribution** scores each input token by its effect on the output. We compute three, each
# for the log-probability of the predicted class:
#
# - **leave one out** (`interpret.leave_one_out`): replace token $s$ by padding (a zero embedding),
#   run the model again, and record how much $\log p(\hat y)$ drops;
# - **gradient times input** (`interpret.grad_x_input`): $\sum_d e_{s,d}\, \partial \log p(\hat y) /
#   \partial e_{s,d}$ for the embedding $e_s$ of token $s$, the first-order estimate of the same drop;
# - **integrated gradients** (`interpret.integrated_gradients`, {cite}`sundararajan2017axiomatic`):
#   the gradient averaged along the straight path from the zero embedding to $e$, times $e$; its
#   scores add up to $\log p(\hat y \mid e) - \log p(\hat y \mid 0)$.
#
# Then we compare them with attention in two ways: does the top token agree, and how well do the
# whole rankings agree, by Spearman's $\rho$ and by Kendall's $\tau$ (`interpret.rank_correlation`), the
# latter the measure {cite:t}`jain2019attention` used.

# %%
n = 200
x = test.x[:n]
rows = []
attributions = {}
for name, m in classifiers.items():
    a = alpha[name][:n]
    scores = {
        "attention": a,
        "leave one out": interpret.leave_one_out(m, x),
        "gradient x input": interpret.grad_x_input(m, x),
        "integrated gradients": interpret.integrated_gradients(m, x, steps=16),
    }
    attributions[name] = scores
    for method, s in scores.items():
        rows.append(
            {
                "model": name,
                "method": method,
                "top token is the key": (s.argmax(-1) == key_pos[:n])
                .float()
                .mean()
                .item(),
                "Spearman with attention": interpret.rank_correlation(a, s)
                .nanmean()
                .item(),
                "Kendall with attention": interpret.rank_correlation(
                    a, s, "kendall"
                )
                .nanmean()
                .item(),
            }
        )
compare = pd.DataFrame(rows).set_index(["model", "method"])
print(compare.round(2).to_string())
assert compare["top token is the key"].min() > 0.95
loo_rho = compare.xs("leave one out", level="method")["Spearman with attention"]
assert loo_rho.abs().max() < 0.6  # whole rankings agree poorly
glue("ch10_top1_min", round(compare["top token is the key"].min(), 3))
glue("ch10_rho_loo_none", round(loo_rho["attention only"], 2))
glue("ch10_rho_loo_lstm", round(loo_rho["LSTM + attention"], 2))

# %% [markdown]
# On the question that has a true answer, everyone agrees: the top token of attention and of all three
# attributions is the key in at least {glue:text}`ch10_top1_min:.1%` of the sequences. On the whole
# ranking they do not: Spearman's $\rho$ between attention and leave-one-out is
# {glue:text}`ch10_rho_loo_none` for the attention-only model and {glue:text}`ch10_rho_loo_lstm` for
# the LSTM model. The reason is visible in one sequence: besides the key, 19 fillers share scores
# near zero, and each method orders that noise its own way. A rank correlation over all tokens mostly
# measures how the unimportant tokens are ordered.

# %%
example = 0
fig, axes = plt.subplots(1, 2, figsize=(12, 3.2), sharey=True)
for ax, (name, scores) in zip(axes, attributions.items()):
    frame = pd.DataFrame(
        {
            m: (s[example] / s[example].abs().max()).numpy()
            for m, s in scores.items()
        }
    )
    frame["position"] = np.arange(T)
    long = frame.melt(
        id_vars="position", var_name="method", value_name="score / largest |score|"
    )
    sns.barplot(
        data=long,
        x="position",
        y="score / largest |score|",
        hue="method",
        ax=ax,
        legend=ax is axes[0],
    )
    ax.axvline(key_pos[example].item(), color="0.3", ls=":", lw=1)
    ax.set(title=name, xticks=range(0, T, 2))
plt.tight_layout()
plt.show()

# %% [markdown]
# :::{admonition} Claim on trial: "attention weights show which words influenced the prediction"
# :class: claim warning
# :name: claim-ch10-attention-weights-show-which-words
# **Verdict: depends on what you read off the map.** Its brightest cell held up: on a task with a
# known answer, the top attention token was the deciding token in at least
# {glue:text}`ch10_top1_min:.1%` of the sequences, as it was for leave-one-out and integrated
# gradients. The rest of the map did not: attention ranked the other tokens nothing like
# leave-one-out did (Spearman {glue:text}`ch10_rho_loo_none` and {glue:text}`ch10_rho_loo_lstm`),
# which is the low agreement {cite:t}`jain2019attention` reported on real text. Whether attention
# *caused* the prediction is a separate question, tested next. *Source of the claim: seed article
# 003; also seed article 001 ("attention weights are visualizable").*
# :::
#
# ## Could other attention give the same prediction?
#
# If attention explains a prediction, changing it should change the prediction.
# `AttentionClassifier` accepts substitute weights (`model(x, attention=...)`), so we can run each
# trained model with
#
# - its weights **permuted** at random over the positions;
# - **all** weight moved to the token right after the key (a distribution with no overlap with the
#   original: Jensen-Shannon divergence $\log 2$, its maximum);
# - an **adversarial** search (`interpret.adversarial_attention`): gradient ascent on the
#   Jensen-Shannon divergence from the model's attention, under the constraint that the output
#   distribution moves by at most 0.01 in total variation, the experiment of
#   {cite:t}`jain2019attention`.

# %%
g = seqlib.generator(0)
perm = torch.stack(
    [torch.randperm(T, generator=g) for _ in range(len(test.x))]
)  # (500, T)
after_key = F.one_hot((key_pos + 1).clamp(max=T - 1), T).float()  # (500, T)
has_next = key_pos < T - 1  # the key is not the last token
rows = {}
with torch.no_grad():
    for name, m in classifiers.items():
        a = alpha[name]
        p = torch.softmax(m(test.x), -1)  # (500, C)
        same = {}
        for how, sub in [
            ("permuted", a.gather(1, perm)),
            ("all on the next token", after_key),
        ]:
            q = torch.softmax(m(test.x, attention=sub), -1)
            keep = (q.argmax(-1) == p.argmax(-1))[has_next]
            same[f"{how}: same prediction"] = keep.float().mean().item()
        with torch.enable_grad():
            adv, js, tv = interpret.adversarial_attention(
                m, test.x, epsilon=0.01, steps=150
            )
        same["adversarial: median JS (max 0.69)"] = js.median().item()
        same["adversarial: weight left on the key"] = (
            interpret.attention_mass_on(adv, key_pos).mean().item()
        )
        rows[name] = same
counterfactual = pd.DataFrame(rows).T
print(counterfactual.round(3).to_string())
c = counterfactual
assert c.loc["LSTM + attention", "all on the next token: same prediction"] > 0.9
assert c.loc["attention only", "all on the next token: same prediction"] < 0.5
assert c["permuted: same prediction"].max() < 0.3
assert c["adversarial: weight left on the key"].min() > 0.5
glue(
    "ch10_next_lstm",
    round(c.loc["LSTM + attention", "all on the next token: same prediction"], 3),
)
glue(
    "ch10_next_none",
    round(c.loc["attention only", "all on the next token: same prediction"], 3),
)
glue("ch10_perm_max", round(c["permuted: same prediction"].max(), 3))
glue("ch10_adv_js_max", round(c["adversarial: median JS (max 0.69)"].max(), 2))
glue("ch10_adv_key_min", round(c["adversarial: weight left on the key"].min(), 2))

# %% [markdown]
# Permuting the weights changed the prediction almost always (at most
# {glue:text}`ch10_perm_max:.1%` kept it), and the adversarial search found nothing far away: under
# the 0.01 constraint its attention kept at least {glue:text}`ch10_adv_key_min:.0%` of the weight on
# the key (median Jensen-Shannon divergence at most {glue:text}`ch10_adv_js_max` of a possible 0.69).
# Gradient search can miss distant solutions, though, and the middle column shows one: moving **all**
# the weight off the key, onto the next token, kept the LSTM model's prediction in
# {glue:text}`ch10_next_lstm:.1%` of the sequences, because the LSTM had already carried the key into
# the next state. For the attention-only model, whose states know only their own token, the same
# move kept it in {glue:text}`ch10_next_none:.1%` (chance agreement with whatever class a filler
# letter suggests).
#
# :::{admonition} Claim on trial: "a very different attention pattern can give the same prediction, so attention is not explanation"
# :class: claim warning
# :name: claim-ch10-very-different-attention-pattern-can
# **Verdict: depends on the model, not on attention as such.** In the LSTM model, attention placed
# entirely on another token (divergence $\log 2$ from the original) gave the same prediction in
# {glue:text}`ch10_next_lstm:.1%` of the sequences: the recurrent states carry the information, and
# attention is one of several routes to it, as {cite:t}`jain2019attention` found. In the
# attention-only model the same substitution kept {glue:text}`ch10_next_none:.1%`, and random
# permutations kept at most {glue:text}`ch10_perm_max:.1%`: where attention is the only route, it
# is faithful. {cite:t}`wiegreffe2019attention` made this point, that counterfactual attention says
# more about the encoder than about attention; {cite:t}`serrano2019attention`, zeroing attention
# weights in trained classifiers, found that the highest weight often was not the token whose
# removal mattered most. *Source of the claim: the research debate of 2019, against seed article
# 003's "you can literally see which words influenced the prediction".*
# :::
#
# ## Two layers: attention on positions, not on tokens
#
# One layer of attention over token embeddings is the easy case. In a deep model, layer 2 attends to
# *positions* whose states already mix tokens through layer 1. We retrain Chapter 5's two-layer
# Transformer on multi-query associative recall (MQAR): pairs `k v k v ...`, then questions `k`, each
# answered by the value stored with that key. The ground truth of a question is known: the queried
# key in the context, the value after it, and the question token itself.

# %%
P = 6
mqar = data.associative_recall(4000, P, seed=200)
mqar_test = data.associative_recall(300, P, seed=201)
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
glue("ch10_recall_acc", recall_acc)
print(f"accuracy at the questions: {recall_acc:.1%}")

# %%
xq = mqar_test.x  # (300, 3P)
t = 3 * P - 1  # explain the last question
w = recall.attention_weights(xq)  # (layers, B, heads, T, T)
keys = xq[:, 0 : 2 * P : 2]  # (B, P)
key_at = 2 * (keys == xq[:, t, None]).float().argmax(
    -1
)  # (B,): the queried key in the context
value_at = key_at + 1  # its value
question_at = torch.full_like(key_at, t)

example = 3
tokens = mqar_test.vocab.decode(xq[example])
fig, axes = plt.subplots(2, 2, figsize=(11, 9))
for ax, (layer, head) in zip(axes.flat, [(0, 0), (0, 1), (1, 0), (1, 1)]):
    viz.heatmap(
        w[layer, example, head],
        xticklabels=tokens,
        yticklabels=tokens,
        ax=ax,
        vmin=0,
        vmax=1,
        title=f"layer {layer + 1}, head {head + 1}",
        cbar=False,
    )
    for pos, colour in [
        (key_at[example], "tab:orange"),
        (value_at[example], "tab:red"),
    ]:
        ax.add_patch(
            plt.Rectangle((pos.item(), t), 1, 1, fill=False, ec=colour, lw=2.5)
        )
plt.suptitle(
    f"query '{tokens[t]}' (last row): its key (orange) and the answer (red)"
)
plt.tight_layout()
plt.show()

# %% [markdown]
# The explorer shows every query of this sequence; pick layer 2 and the last query to see the lookup,
# layer 1 and a value token to see it attend to its key.

# %%
viz.attention_explorer(
    tokens, w[:, example], title="Where does each query look? (associative recall)"
)

# %%
att2 = w[1][:, :, t, :].mean(
    1
)  # (B, T): layer 2, averaged over heads, at the last question
loo = interpret.leave_one_out(recall, xq, position=t)  # (B, T)
ig = interpret.integrated_gradients(recall, xq, position=t, steps=16)  # (B, T)
where = {
    "queried key": key_at,
    "its value (the answer)": value_at,
    "the question": question_at,
}
table = pd.DataFrame(
    {
        "layer-2 attention": {
            k: interpret.attention_mass_on(att2, v).mean().item()
            for k, v in where.items()
        },
        "leave one out": {
            k: loo.gather(1, v[:, None]).mean().item() for k, v in where.items()
        },
        "integrated gradients": {
            k: ig.gather(1, v[:, None]).mean().item() for k, v in where.items()
        },
    }
)
others = torch.ones_like(loo, dtype=torch.bool)
for v in where.values():
    others[torch.arange(len(xq)), v] = False
table.loc["any other token"] = [
    att2[others].mean().item(),
    loo[others].mean().item(),
    ig[others].mean().item(),
]
print(table.round(3).to_string())
top3 = loo.topk(3, dim=-1).indices.sort(-1).values  # (B, 3)
truth = torch.stack(
    [key_at, value_at, question_at], -1
)  # already in increasing order
loo_top3 = (top3 == truth).all(-1).float().mean().item()
assert table.loc["its value (the answer)", "layer-2 attention"] > 0.9
assert (
    table.loc["queried key", "layer-2 attention"] < 0.05
    and table.loc["the question", "layer-2 attention"] < 0.05
)
assert (
    table.loc["queried key", "leave one out"] > 2
    and table.loc["the question", "leave one out"] > 2
)
assert loo_top3 > 0.9
glue(
    "ch10_att2_value",
    round(table.loc["its value (the answer)", "layer-2 attention"], 3),
)
glue("ch10_att2_key", round(table.loc["queried key", "layer-2 attention"], 3))
glue("ch10_loo_key", round(table.loc["queried key", "leave one out"], 1))
glue(
    "ch10_loo_value", round(table.loc["its value (the answer)", "leave one out"], 1)
)
glue("ch10_loo_question", round(table.loc["the question", "leave one out"], 1))
glue("ch10_loo_top3", round(loo_top3, 3))
glue("ch10_ig_key", round(table.loc["queried key", "integrated gradients"], 2))

# %% [markdown]
# Layer 2's attention at the question puts {glue:text}`ch10_att2_value:.1%` of its weight on the
# answer's position and {glue:text}`ch10_att2_key:.1%` on the queried key. Leave-one-out tells a
# different story: removing the key costs {glue:text}`ch10_loo_key` nats of log-probability, about
# as much as removing the value ({glue:text}`ch10_loo_value`) or the question
# ({glue:text}`ch10_loo_question`), and these three are exactly the top three tokens in
# {glue:text}`ch10_loo_top3:.0%` of the sequences. Attention misses the key because the key reaches
# the answer through *layer 1*, where each value attends to the key before it (Chapter 5's induction
# circuit, {cite}`olsson2022context`); it misses the question because a token reaches its own
# position through the residual path, not through attention. And the attributions disagree with each
# other too: integrated gradients, starting from the zero embedding, gives the key only
# {glue:text}`ch10_ig_key` nats, because scaling *all* embeddings down at once changes which pair
# matches. Each method answers a slightly different question.
#
# :::{admonition} Claim on trial: "an attention map shows what the model focuses on"
# :class: claim danger
# :name: claim-ch10-attention-map-shows-what-model
# **Verdict: does not hold in general.** For a model with more than one layer a map need not show
# what matters, and here it did not: in one two-layer model on one task, the last layer's map showed the
# answer's position ({glue:text}`ch10_att2_value:.1%` of the weight) and almost nothing on the key
# ({glue:text}`ch10_att2_key:.1%`), though removing the key hurt the prediction as much as removing
# the answer. A map is a statement about one layer's mixing of positions; which input tokens matter
# is spread over all layers and the residual stream. Rolling attention out across layers helps
# {cite}`abnar2020quantifying`; a reader who knows the circuit can read heads
# {cite}`clark2019does,olsson2022context`, but a single map is not an explanation. *Source of the
# claim: seed articles 002 ("focus on certain aspects of the input") and 003.*
# :::
#
# ## Inside the LSTM
#
# The same articles call the LSTM's hidden state opaque. {cite:t}`karpathy2016visualizing` found
# single cells of character LSTMs that track quotes, line length and bracket depth, and
# {cite:t}`radford2017learning` a single unit that tracked the sentiment of reviews. We look for such
# units in a small character LSTM (128 cells) trained for two epochs on the book's corpus, Python's
# documentation, which is full of `"quoted"` names and parentheses.

# %%
text = data.load_corpus()
vocab = data.corpus_vocab(text)
ids = vocab.encode(list(text))  # (N,)
split = int(0.9 * len(ids))
xw, yw = data.char_windows(ids[:split], 64, 12000, seed=0)
seqlib.setup(0)
char_lm = models.RecurrentModel(
    "lstm", len(vocab), 128, len(vocab), tokens=True, embed_dim=32, per_step=True
)
history = train.fit(
    char_lm,
    data.SeqData(xw, yw),
    epochs=2,
    batch_size=64,
    lr=5e-3,
    clip=1.0,
    seed=0,
    metrics=(),
)
held_x, held_y = data.char_windows(ids[split:], 64, 1000, seed=1)
held_loss = train.evaluate(char_lm, data.SeqData(held_x, held_y), metrics=())[
    "loss"
]
glue("ch10_char_loss", round(held_loss, 2))
print(
    f"held-out loss {held_loss:.2f} nats per character (uniform: {np.log(len(vocab)):.2f})"
)

# %% [markdown]
# To read a unit we need every step's **cell state** $c_t$, which `nn.LSTM` does not return;
# `interpret.lstm_states` runs the LSTM's equations step by step and keeps $h_t$ and $c_t$ (it is
# checked against `nn.LSTM` in the tests, and here on the text itself). We run 8,000 held-out
# characters through the trained LSTM and through an untrained one with the same architecture, the
# control: in any network, some of 128 units correlate with something by chance.
#
# For each character we compute three properties a reader can name: whether it lies inside a pair
# of double quotes, how many parentheses are open, and how far it is from the start of its line.

# %%
sample_ids = ids[split : split + 8000]
sample = vocab.decode(sample_ids)  # list of characters


def named_properties(chars):
    quote, depth, column = [], [], []
    inside, open_, col = 0, 0, 0
    for ch in chars:
        inside ^= ch == '"'  # a quote character opens or closes
        open_ = max(0, open_ + (ch == "(") - (ch == ")"))
        col = 0 if ch == "\n" else col + 1
        quote.append(inside)
        depth.append(open_)
        column.append(col)
    return pd.DataFrame(
        {
            "inside quotes": quote,
            "parenthesis depth": depth,
            "position in line": column,
        }
    )


props = named_properties(sample)


def cell_states(model):
    with torch.no_grad():
        emb = model.embed(sample_ids[None])  # (1, N, E)
        h, c = interpret.lstm_states(model.rnn, emb)  # (1, N, H) each
        assert torch.allclose(
            h, model.rnn(emb)[0], atol=1e-5
        )  # the same h_t as nn.LSTM
    return c[0].numpy()  # (N, H)


def unit_correlations(c):
    z = (c - c.mean(0)) / (c.std(0) + 1e-8)  # (N, H)
    return pd.DataFrame(
        {
            name: z.T @ ((v - v.mean()) / v.std()) / len(v)
            for name, v in ((k, props[k].to_numpy(float)) for k in props)
        }
    )  # (H, 3) Pearson r


seqlib.setup(1)
untrained = models.RecurrentModel(
    "lstm", len(vocab), 128, len(vocab), tokens=True, embed_dim=32, per_step=True
)
c_trained, c_untrained = cell_states(char_lm), cell_states(untrained)
r_trained, r_untrained = (
    unit_correlations(c_trained),
    unit_correlations(c_untrained),
)
best = pd.DataFrame(
    {
        "best unit": r_trained.abs().idxmax(),
        "|r| trained": r_trained.abs().max(),
        "|r| untrained (best unit)": r_untrained.abs().max(),
    }
)
print(best.round(2).to_string())
quote_unit = int(best.loc["inside quotes", "best unit"])
line_unit = int(best.loc["position in line", "best unit"])


# %%
def show_unit(chars, values, ax, title, width=80):
    """Characters in reading order, each on a cell coloured by a unit's activation."""
    lim = np.abs(values).max()
    row, col = 0, 0
    for ch, v in zip(chars, values):
        if ch == "\n" or col == width:
            row, col = row + 1, 0
            if ch == "\n":
                continue
        ax.add_patch(
            plt.Rectangle(
                (col, -row), 1, 1, color=plt.cm.RdBu_r(0.5 + 0.5 * v / lim)
            )
        )
        ax.text(
            col + 0.5,
            -row + 0.5,
            ch,
            ha="center",
            va="center",
            fontsize=7,
            family="monospace",
        )
        col += 1
    ax.set(xlim=(0, width), ylim=(-row, 1), title=title)
    ax.axis("off")


span = slice(1200, 1200 + 560)
fig, axes = plt.subplots(2, 1, figsize=(12, 7.5))
for ax, unit, what in [
    (axes[0], quote_unit, "inside quotes"),
    (axes[1], line_unit, "position in line"),
]:
    r = r_trained.loc[unit, what]
    show_unit(
        sample[span],
        c_trained[span, unit],
        ax,
        f"cell {unit}, r = {r:.2f} with '{what}' (red +, blue -)",
    )
plt.tight_layout()
plt.show()

# %% [markdown]
# Each character sits on its cell's value: red positive, blue negative. The table above gives, for
# each property, the unit whose cell state correlates with it most strongly, in the trained network
# and in the untrained control.

# %%
q_tr, q_un = (
    best.loc["inside quotes", "|r| trained"],
    best.loc["inside quotes", "|r| untrained (best unit)"],
)
d_tr, d_un = (
    best.loc["parenthesis depth", "|r| trained"],
    best.loc["parenthesis depth", "|r| untrained (best unit)"],
)
l_tr = best.loc["position in line", "|r| trained"]
l_un = best.loc["position in line", "|r| untrained (best unit)"]
strong = int(
    (r_trained.abs() > 0.4).any(axis=1).sum()
)  # units that track at least one property
# quotes: learned, well above the untrained control (how strongly varies with the seeds; the
# margin over the control is what holds across them)
assert q_tr > q_un + 0.1
# Position in the line is weak evidence of learning: an untrained LSTM already has units that
# count characters since the last newline.
assert d_tr < 0.4  # parenthesis depth: no unit tracks it well
glue("ch10_quote_r", round(q_tr, 2))
glue("ch10_quote_r0", round(q_un, 2))
# the sign says whether the unit's state is higher or lower inside quotes
glue("ch10_quote_side", "higher" if r_trained.loc[quote_unit, "inside quotes"] > 0 else "lower")
glue("ch10_depth_r", round(d_tr, 2))
glue("ch10_depth_r0", round(d_un, 2))
glue("ch10_line_r", round(l_tr, 2))
glue("ch10_line_r0", round(l_un, 2))
glue("ch10_strong_units", strong)
print(f"units with |r| > 0.4 for some property: {strong} of 128")


# %% [markdown]
# In this run the trained LSTM learned a unit for one of the three properties (how strongly varies
# with the seeds; the trained unit stays well above the untrained control, which the code checks). One cell's state correlates with
# "inside quotes" at $|r|$ = {glue:text}`ch10_quote_r`, against {glue:text}`ch10_quote_r0` for the
# best unit of the untrained control: in the figure its state switches at every quote character,
# {glue:text}`ch10_quote_side` inside quotes than outside (the sign of its correlation; $|r|$ ignores it). Another follows the position in the line, $|r|$ = {glue:text}`ch10_line_r`, but that is weak
# evidence of learning: the untrained control's best unit reaches {glue:text}`ch10_line_r0`, since a
# recurrent state that drifts with every character already correlates with the distance from the
# last newline. Parenthesis depth it did not learn in a unit of its own: the best
# reaches {glue:text}`ch10_depth_r` (control {glue:text}`ch10_depth_r0`); the bracket cells of
# {cite:t}`karpathy2016visualizing` came from larger networks trained far longer. Only
# {glue:text}`ch10_strong_units` of the 128 units reach $|r| > 0.4$ for any of our three properties;
# the rest do things we have not named.
#
# :::{admonition} Claim on trial: "an LSTM's hidden state is a black box"
# :class: claim warning
# :name: claim-ch10-lstms-hidden-state-black-box
# **Verdict: partly.** Some units are readable: after well under a minute of training, one cell
# tracks whether the text is inside quotes ($|r|$ = {glue:text}`ch10_quote_r`, against
# {glue:text}`ch10_quote_r0` for the best of an untrained network), as in
# {cite:t}`karpathy2016visualizing`, and {cite:t}`radford2017learning` found a single sentiment unit
# in a large one. But we found these units because we guessed the properties first, one of our
# three guesses (parenthesis depth) found no unit, and most of the state matched nothing we named. The same holds for attention: readable parts, with a large
# remainder, and a reading is a hypothesis to test by intervention. *Source of the claim: seed
# articles 001 ("hidden state is opaque") and 003.*
# :::
#
# ## Summary
#
# - On a task whose answer depends on one known token, attention's top token was the right one, and
#   so were the top tokens of leave-one-out, gradient times input and integrated gradients (at least
#   {glue:text}`ch10_top1_min:.1%` agreement).
# - Whole rankings disagreed (Spearman {glue:text}`ch10_rho_loo_none` and
#   {glue:text}`ch10_rho_loo_lstm` between attention and leave-one-out): a rank correlation over all
#   tokens mostly compares how methods order noise.
# - Whether attention is *necessary* depends on the model. With an LSTM beneath it, attention moved
#   entirely off the key kept the prediction in {glue:text}`ch10_next_lstm:.1%` of the sequences;
#   with embeddings beneath it, in {glue:text}`ch10_next_none:.1%`.
# - In a two-layer Transformer, the last layer's attention showed the answer's position but not the
#   key that leave-one-out found as important: one layer's map is not an attribution to tokens.
# - A small character LSTM had a readable quote unit ($|r|$ = {glue:text}`ch10_quote_r`, control
#   {glue:text}`ch10_quote_r0`), a line-position unit whose correlation an untrained network already
#   reaches in part ({glue:text}`ch10_line_r0` against {glue:text}`ch10_line_r`), no
#   parenthesis-depth unit, and most units matched nothing we named.
#
# The next chapter leaves interpretation for the models that came after both families.
#
# ## Exercises
#
# ```{exercise} Leave one out, graded
# :label: ch10-ex-loo
#
# Write `my_leave_one_out(model, x, target)` for a classifier `model` that maps token ids `x`
# `(B, T)` to logits `(B, C)`: return a `(B, T)` tensor whose entry `[b, s]` is
# $\log p(\text{target}_b \mid x_b) - \log p(\text{target}_b \mid x_b \text{ with token } s
# \text{ replaced by } 0)$. Grade it with `seqlib.checks.check_leave_one_out`.
# ```

# %% [markdown]
# ```{solution-start} ch10-ex-loo
# :class: dropdown
# ```
# One extra forward pass per position; `log_softmax` gives log-probabilities, and `gather` picks each
# sequence's target.

# %%
def my_leave_one_out(model, x, target):
    with torch.no_grad():

        def logp(ids):
            return (
                torch.log_softmax(model(ids), -1)
                .gather(1, target[:, None])
                .squeeze(1)
            )  # (B,)

        base = logp(x)
        scores = []
        for s in range(x.shape[1]):
            removed = x.clone()
            removed[:, s] = 0
            scores.append(base - logp(removed))
    return torch.stack(scores, dim=1)  # (B, T)


print(seqlib.checks.check_leave_one_out(my_leave_one_out))

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} Completeness of integrated gradients
# :label: ch10-ex-ig
#
# Integrated gradients promise that a sequence's attributions add up to
# $\log p(\hat y \mid e) - \log p(\hat y \mid 0)$. Check it on the attention-only classifier for
# `steps=2`, `8` and `32`: how large is the gap, and why does it shrink?
# ```

# %% [markdown]
# ```{solution-start} ch10-ex-ig
# :class: dropdown
# ```
# The zero embedding is the padding token's, so the model at the baseline is the model fed all
# padding. The gap is the error of the midpoint rule for the path integral, which shrinks as the
# number of points grows.

# %%
m = classifiers["attention only"]
xs = test.x[:50]
with torch.no_grad():
    y_hat = m(xs).argmax(-1)
    rows_ = torch.arange(len(xs))
    gap_true = (
        torch.log_softmax(m(xs), -1)[rows_, y_hat]
        - torch.log_softmax(m(torch.zeros_like(xs)), -1)[rows_, y_hat]
    )  # (50,)
for steps in (2, 8, 32):
    total = interpret.integrated_gradients(m, xs, steps=steps).sum(-1)  # (50,)
    print(
        f"steps={steps:2d}: largest |sum of IG - true difference| = {(total - gap_true).abs().max():.4f}"
    )

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} Rank correlation on the tokens that matter
# :label: ch10-ex-topk
#
# The rank correlations between attention and leave-one-out were low because of the filler tokens.
# Compute instead, for each model, how often the top **two** tokens of attention and of
# leave-one-out are the same set. What does the second token tell you about each model?
# ```
#
# ````{solution} ch10-ex-topk
# :class: dropdown
#
# ```python
# for name, scores in attributions.items():
#     a2 = scores["attention"].topk(2, -1).indices.sort(-1).values
#     l2 = scores["leave one out"].topk(2, -1).indices.sort(-1).values
#     print(name, (a2 == l2).all(-1).float().mean().item())
# ```
#
# The first token is the key for both methods, so any disagreement is about second places. For the
# attention-only model every token other than the key matters only through the softmax over
# positions, so both methods' second places are small effects, and which filler comes second is
# close to arbitrary. For the LSTM model, a token before the key can shape the state that the key's
# state builds on, so leave-one-out's second place may carry a little information that attention,
# which only weighs states, cannot show. Either way, agreement on second places measures little:
# explanations are worth comparing where the output actually depends on the input.
# ````
#
# ```{exercise} Why could the LSTM model look elsewhere?
# :label: ch10-ex-why
#
# Moving all attention to the token after the key kept the LSTM model's prediction but not the
# attention-only model's. Would the same be true for a **bidirectional** LSTM
# (`AttentionClassifier(..., encoder="bilstm")`)? Predict first, then try it, moving the weight to
# the token *before* the key as well.
# ```
#
# ```{solution} ch10-ex-why
# :class: dropdown
#
# A left-to-right LSTM carries the key forward only: states after the key can know it, states before
# it cannot. A bidirectional LSTM's backward half can also carry it to the states *before* the key, so
# one might expect both moves to keep the prediction. But *can* is not *must*: if attention always
# found the key during training, nothing forced the neighbouring states to keep a readable copy of
# the class, and only the experiment tells. Run it with the code of the counterfactual section,
# replacing `after_key` by a one-hot on `key_pos - 1`. Whatever the outcome, the point of
# {cite:t}`wiegreffe2019attention` stands: counterfactual attention tests the encoder beneath the
# attention as much as the attention itself.
# ```
#
# ```{exercise} Looking for a bracket unit
# :label: ch10-ex-depth
#
# No unit tracked parenthesis depth well. Draw the best one with `show_unit` over a span of text with
# nested parentheses, and list the units that correlate best with depth *and* with being inside
# quotes. Why could depth be harder for a small LSTM to devote a unit to than quotes?
# ```
#
# ````{solution} ch10-ex-depth
# :class: dropdown
#
# ```python
# unit = int(best.loc["parenthesis depth", "best unit"])
# fig, ax = plt.subplots(figsize=(12, 3.8))
# show_unit(sample[span], c_trained[span, unit], ax, f"cell {unit}")
# plt.show()
# print(r_trained.abs().sort_values("parenthesis depth", ascending=False).head())
# ```
#
# Quotes are a single bit that flips at one character, cheap to hold in one saturated cell. Depth is
# a counter: it needs a cell that adds a fixed amount at `(` and subtracts it at `)`, and in this
# corpus many parentheses are the empty `()` after a function's name, which a model can predict
# from the characters just before, without counting. Nothing makes counting pay off after
# two epochs; Karpathy et al. found their bracket cells in networks trained for much longer on more
# deeply nested code.
# ````
#
# ## References
#
# The claims tested here come from {cite:t}`jain2019attention`, {cite:t}`wiegreffe2019attention`
# and {cite:t}`serrano2019attention` (attention as explanation), {cite:t}`sundararajan2017axiomatic`
# (integrated gradients), {cite:t}`bahdanau2015neural` (attention as alignment),
# {cite:t}`clark2019does`, {cite:t}`olsson2022context` and {cite:t}`abnar2020quantifying` (reading
# Transformer heads), and {cite:t}`karpathy2016visualizing` and {cite:t}`radford2017learning`
# (interpretable recurrent units). Full details are in the [bibliography](bibliography.md).

# %% tags=["nbval-ignore-output"]
# timing: the whole chapter's run time, reported at the top of the page
run_time_min = (time.perf_counter() - start) / 60
glue("run_time_min", round(run_time_min, 1))
print(f"ran in {run_time_min:.1f} minutes")
