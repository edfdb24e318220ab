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
# # Choosing an architecture
#
# The popular articles end where this chapter begins: with advice. "Use an LSTM for streaming and
# small devices, a Transformer for everything else, and keep an eye on state space models." Each
# piece of that advice is a claim about a measurable property, and the chapters before this one
# measured them: what each architecture can remember (Chapter 7), what it costs in time, memory and
# state (Chapter 8), how it fares on real and small data (Chapter 9), what can be read from it
# (Chapter 10), and what the recurrent models that came after both can and cannot do (Chapter 11).
#
# This chapter turns those measurements into a decision guide. It does not declare a winner,
# because the evidence does not have one. Instead it gives the **questions to ask of a problem, in
# order**, answers each with the numbers that settled it, and collects the answers in one table and
# one figure, both drawn from a single data structure in the notebook, so that they cannot disagree.
# Five worked examples then walk real use cases through the questions, and a last section says which
# answers change at the scale of today's large models.
#
# :::{admonition} Learning objectives
# :class: tip
# After this chapter you can
#
# - ask the six questions that decide between an LSTM or GRU, a Transformer, a linear-attention or
#   state space model, and a hybrid, in an order that lets early answers settle most cases;
# - name, for each question, the measurement in this book that answers it and the published
#   result that confirms or qualifies it at scale;
# - tell retrieval from state tracking in a real task, and serving memory from training memory;
# - compute, for a model you choose, where a key/value cache outgrows a recurrent state;
# - walk a new use case through the questions and defend the choice with evidence, including the
#   choice of no sequence model at all.
# :::
#
# :::{admonition} Prerequisites
# :class: note
# Chapters 7 to 11: this chapter quotes their measurements and links to their verdicts, and
# explains each only briefly. Chapter 8's state and cache sizes are used in code.
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
from IPython.display import Markdown
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

import seqlib
from seqlib import bench, glue

device = seqlib.setup(seed=0)  # seeds, one CPU thread, the book's plotting style

# %% [markdown]
# ## Four families, six questions
#
# The contestants are the four families the book has built:
#
# - **LSTM / GRU**: a nonlinear recurrence with a fixed-size state (Chapters 2 and 3);
# - **Transformer**: softmax attention over every earlier token, with a key/value cache when it
#   generates (Chapters 5 and 6);
# - **linear attention / SSM**: a *linear* recurrence with a fixed-size state, computed in parallel
#   by a scan, from linear attention to Mamba (Chapter 11);
# - **hybrid**: mostly recurrent layers with a few attention layers, as in Jamba and Griffin
#   {cite}`lieber2024jamba,de2024griffin`.
#
# The questions come in the order in which they rule options out. The first is about the task
# itself, because no amount of hardware rescues a model that cannot represent the answer; the
# next three are about how the model will be served and trained; the last two are about the data
# and about what you need to read from the model afterwards.
#
# 1. **What must be remembered?** Exact tokens retrieved by content, or a state updated at every step?
# 2. **How will it be served?** Token by token as input arrives, with a fixed memory per stream?
# 3. **On what hardware?** A parallel accelerator, or one small core?
# 4. **How long are the training sequences?** And will it meet longer ones than it was trained on?
# 5. **How much data and compute?** One short series, a small corpus, or the scale of large language models?
# 6. **Must you explain its predictions?**
#
# The whole guide is one Python structure: for every question, a row with a verdict for each family
# (`good`: points here; `mixed`: depends on details the row names; `poor`: points away; `open`: not
# measured here and not settled in the literature we cite), the chapter that measured it (or `lit.`
# when the evidence is only published work), and the reason. The table and the figure below are
# both drawn from it.

# %%
FAMILIES = ["LSTM / GRU", "Transformer", "linear attn. / SSM", "hybrid"]
# the verdicts, worst to best, then "not measured here, not settled"
LEVELS = ["poor", "mixed", "good", "open"]

# one row per property of a problem: "verdict evidence" for each family, in FAMILIES order
# (evidence: the chapter that measured it, or lit. for published work only), the reason,
# and the claim boxes or papers that hold the evidence (MyST cross-references)
DECISIONS = [
    dict(
        question="1. recall exact tokens by content",
        cells="poor ch7 | good ch7 | mixed ch11 | good lit.",
        why="attention learns a content lookup fastest and keeps every token; a fixed state's capacity is "
        "bounded, though in our runs slow learning, not capacity, held the recurrent models back",
        evidence="{ref}`ch. 7 <claim-ch07-lstms-reach-limited-size-hidden>`, "
        "{ref}`ch. 11 <claim-ch11-state-space-models-match-transformers>`, "
        "{cite}`arora2024zoology`",
    ),
    dict(
        question="1. track a state at every step",
        cells="good ch7 | poor ch7 | mixed lit. | open",
        why="a recurrent update applies the same rule at every length; an average over positions cannot",
        evidence="{ref}`ch. 7 <claim-ch07-attention-has-no-limit-range>`, "
        "{cite}`deletang2023neural,merrill2024illusion`",
    ),
    dict(
        question="2. stream with fixed memory per stream",
        cells="good ch8 | poor ch8 | good ch11 | mixed lit.",
        why="a state of fixed size against a cache that grows with every token",
        evidence="{ref}`ch. 8 <claim-ch08-lstms-better-streaming-devices-with>`, "
        "{ref}`ch. 11 <claim-ch11-state-space-models-match-transformers>`",
    ),
    dict(
        question="3. train fast on a parallel accelerator",
        cells="poor lit. | good lit. | good lit. | good lit.",
        why="measured here as sequential depth only (one step per token for a nonlinear recurrence, "
        "a scan or one layer for the rest); the speed on an accelerator is the literature's",
        evidence="{ref}`ch. 8 <claim-ch08-lstms-cannot-be-parallelised>`, "
        "{ref}`ch. 11 <claim-ch11-state-space-models-sequential-like>`, "
        "{cite}`vaswani2017attention,gu2023mamba`",
    ),
    dict(
        question="3. run on one small core",
        cells="good ch8 | poor ch8 | mixed ch11 | open",
        why="with nothing to run in parallel, the fewest and largest operations win",
        evidence="{ref}`ch. 8 <claim-ch08-transformers-faster-train-lstms>`, "
        "{ref}`ch. 11 <claim-ch11-state-space-models-sequential-like>`",
    ),
    dict(
        question="4. train on long sequences",
        cells="mixed ch8 | mixed ch8 | good ch11 | good lit.",
        why="fused attention keeps linear memory but quadratic work; an LSTM is linear but sequential",
        evidence="{ref}`ch. 8 <claim-ch08-transformers-need-quadratic-memory-because>`, "
        "{ref}`ch. 8 <claim-ch08-lstms-need-much-less-memory>`",
    ),
    dict(
        question="4. generalise to longer inputs",
        cells="mixed ch7 | poor ch7 | open | open",
        why="the LSTM's rule held on parity far beyond the training length, its copying degraded; "
        "attention's share per position and its position angles change with the length",
        evidence="{ref}`ch. 7 <claim-ch07-lstms-solve-long-range-dependencies>`, "
        "{cite}`deletang2023neural`",
    ),
    dict(
        question="5. one short series to forecast",
        cells="mixed ch9 | mixed ch9 | open | open",
        why="tuned and early-stopped, the LSTM edged past least squares and the Transformer tied: fit the linear baseline first",
        evidence="{ref}`ch. 9 <claim-ch09-time-series-prediction-lstms-natural>`, "
        "{cite}`zeng2023transformers`",
    ),
    dict(
        question="5. small data, small compute",
        cells="mixed ch9 | mixed ch9 | open | open",
        why="the LSTM learned faster from few steps, but its lead shrank with the data and it overfitted more",
        evidence="{ref}`ch. 9 <claim-ch09-lstms-better-choice-small-data>`",
    ),
    dict(
        question="5. web-scale data and compute",
        cells="poor lit. | good lit. | mixed lit. | good lit.",
        why="Transformers keep gaining from size and context; fixed-state models trail on recall",
        evidence="{ref}`ch. 9 <claim-ch09-transformers-better-lstms-everything-scale>`, "
        "{cite}`kaplan2020scaling,arora2024zoology,lieber2024jamba`",
    ),
    dict(
        question="6. explain each prediction",
        cells="mixed ch10 | mixed ch10 | open | open",
        why="readable parts in both; an attention map is one layer's mixing, not an attribution",
        evidence="{ref}`ch. 10 <claim-ch10-attention-map-shows-what-model>`, "
        "{ref}`ch. 10 <claim-ch10-lstms-hidden-state-black-box>`",
    ),
]


def parse_cells(row):
    # "good ch7 | poor ch7 | ..." -> [("good", "ch7"), ("poor", "ch7"), ...]; "open" has no source
    row["cells"] = [tuple((c.split() + [""])[:2]) for c in row["cells"].split("|")]
    assert len(row["cells"]) == len(FAMILIES), row["question"]
    assert all(v in LEVELS for v, _ in row["cells"]), row["question"]
    return row


DECISIONS = [parse_cells(row) for row in DECISIONS]
verdicts = pd.DataFrame(
    [[v for v, _ in row["cells"]] for row in DECISIONS],
    index=[row["question"] for row in DECISIONS],
    columns=FAMILIES,
)
verdicts

# %% [markdown]
# The rest of this section takes the questions in turn, with the numbers behind each row. Every
# number below is carried over from the chapter that measured it, and every verdict links to the
# claim box where that chapter settled it.
#
# ### 1. What must be remembered?
#
# This is the question that most often decides, and the one the popular articles skip. "Long-range
# dependencies" covers two opposite needs. **Retrieval**: the answer is a token, or a few, that
# appeared somewhere earlier and must be found by its content (a name in a document, a variable in
# code, a key's value). **State tracking**: the answer depends on every step through a summary that
# changes as the sequence goes on (a running count, a parity, whether a bracket is open, the state
# of a game).
#
# On retrieval attention wins, and learns it fastest. In Chapter 7's associative recall with eight
# pairs, trained until the validation loss stopped improving, the Transformer's worst seed answered
# {glue:text}`07_long_range.ipynb::ch7_sw_recall_tf_8_min:.0%` of the queries and an LSTM of the same size
# {glue:text}`07_long_range.ipynb::ch7_sw_recall_lstm_8:.0%`, still on a plateau when the sweep's cap stopped it (with
# two pairs the LSTM learned the lookup too); in Chapter 11, trained the same way, the Transformer recalled {glue:text}`11_after_both.ipynb::ch11_sw_recall_Transformer:.1%` where Mamba
# reached {glue:text}`11_after_both.ipynb::ch11_sw_recall_Mamba:.1%`, linear attention {glue:text}`11_after_both.ipynb::ch11_sw_recall_linear_attention:.0%` and the LSTM {glue:text}`11_after_both.ipynb::ch11_sw_recall_LSTM:.0%`, near guessing. A fixed state is an
# associative memory of bounded capacity: a linear-attention state of $64 \times 64$ numbers recalled
# about {glue:text}`11_after_both.ipynb::ch11_cap64:d` random pairs, where softmax attention recalled them all
# ({ref}`ch. 11 <claim-ch11-efficient-variants-such-linear-attention>`). At scale the same gap
# explains most of the difference in perplexity between attention-free language models and
# Transformers {cite}`arora2024zoology`, and a fixed-size state provably cannot copy strings longer
# than it can encode {cite}`jelassi2024repeat`.
#
# On state tracking recurrence wins. Trained on parity strings up to 16 bits, the LSTM scored
# {glue:text}`07_long_range.ipynb::ch7_sw_par_lstm_256:.0%` at 256 bits and the Transformer {glue:text}`07_long_range.ipynb::ch7_sw_par_tf_256:.0%`, which is chance
# ({ref}`ch. 7 <claim-ch07-attention-has-no-limit-range>`). The theory says why: attention with
# bounded weights cannot represent parity at arbitrary lengths {cite}`hahn2020theoretical`, and
# across thousands of trained models only recurrent ones generalised on such tasks
# {cite}`deletang2023neural`. The linear recurrences of Chapter 11 buy parallel training by giving
# up the nonlinearity in $h_{t-1}$, and with it part of this ability: {cite:t}`merrill2024illusion`
# show that state space models of Mamba's kind fall in the same complexity class as Transformers and
# cannot track the state of problems such as composing permutations, which an RNN does in one pass.
# Our book did not measure that row, so the figure marks it from the literature.

# %% [markdown]
# ### 2. How will it be served?
#
# If the model reads a stream and must answer as each token arrives, with a fixed amount of memory
# per stream (a microphone, a sensor, a chat kept open for hours), what matters is what it carries
# from one token to the next. In Chapter 8 an LSTM language model carried {glue:text}`08_cost.ipynb::ch8_state_lstm:,` bytes at any context,
# while the key/value cache of a Transformer with the same parameters grew by {glue:text}`08_cost.ipynb::ch8_cache_per_token:,` bytes per token:
# larger than the LSTM's state from {glue:text}`08_cost.ipynb::ch8_cross_state:d` tokens on, larger than the whole model after {glue:text}`08_cost.ipynb::ch8_cross_weights:,` tokens, and
# its time per token grew {glue:text}`08_cost.ipynb::ch8_gen_growth_tf:.1f` times from 16 to 2048 tokens of context where the LSTM's stayed flat
# ({ref}`ch. 8 <claim-ch08-lstms-better-streaming-devices-with>`). At the size of LLaMA-7B one
# sequence of 2048 tokens needs {glue:text}`08_cost.ipynb::ch8_llama_cache_gb:.2f` GB of cache, and about {glue:text}`08_cost.ipynb::ch8_llama_cross_batch:d` such sequences weigh as much as the
# model. A selective SSM keeps the LSTM's advantage: Chapter 11's Mamba carried {glue:text}`11_after_both.ipynb::ch11_mamba_state:d` numbers per
# sequence, less than the Transformer's cache from about {glue:text}`11_after_both.ipynb::ch11_breakeven:d` tokens on
# ({ref}`ch. 11 <claim-ch11-state-space-models-match-transformers>`). A hybrid keeps a cache only in
# its few attention layers: smaller, but still growing.

# %% [markdown]
# Where the two lines cross depends on the model, so here is the crossing for a model of your
# choice. `bench.lm_pair` builds a Transformer language model and an LSTM with the same number of
# parameters (Chapter 8); `bench.state_bytes` measures what each really carries after a context of
# $t$ tokens. Change the width and depth and rerun.

# %%
D_MODEL, LAYERS, HEADS, VOCAB = 128, 4, 4, 64  # your model: change these and rerun
lstm_lm, tf_lm = bench.lm_pair(VOCAB, D_MODEL, LAYERS, HEADS, max_len=64)
weights = 4 * sum(p.numel() for p in tf_lm.parameters())  # float32 bytes
state = bench.state_bytes(lstm_lm, 1)  # the same at every context
per_token = bench.state_bytes(tf_lm, 2) - bench.state_bytes(tf_lm, 1)
for t in (1, 8, 32):  # the measured cache is exactly 2 L t d numbers of 4 bytes
    assert bench.state_bytes(tf_lm, t) == 2 * LAYERS * t * D_MODEL * 4
    assert bench.state_bytes(lstm_lm, t) == state
# the first contexts whose cache is larger than the state, and than the whole model
cross_state = state // per_token + 1
cross_weights = weights // per_token + 1
glue("ch13_state", state)
glue("ch13_per_token", per_token)
glue("ch13_cross_state", int(cross_state))
glue("ch13_cross_weights", int(cross_weights))
print(
    f"LSTM (H = {lstm_lm.rnn.hidden_size}) carries {state:,} bytes at any context; "
    f"the cache grows by {per_token:,} bytes per token"
)
print(
    f"the cache is the larger from {cross_state:,} tokens on, "
    f"and outweighs the {weights / 1e6:.1f} MB of weights after {cross_weights:,}"
)


# %% [markdown]
# For this width the LSTM carries {glue:text}`ch13_state:,` bytes, and the cache, growing by
# {glue:text}`ch13_per_token:,` bytes a token, passes it at {glue:text}`ch13_cross_state` tokens and
# passes the weights at {glue:text}`ch13_cross_weights:,`. The matched LSTM is wider than the
# Transformer, but its state is two vectors per layer, about what the cache holds for one or two
# tokens, so the first crossing always comes within a couple of tokens; what grows with the model is the second crossing, the context at which serving memory is
# dominated by the cache rather than by the weights.
#
# ### 3. On what hardware?
#
# The Transformer's famous training speed is a property of parallel hardware. An LSTM's chain of
# dependent operations grew by {glue:text}`08_cost.ipynb::ch8_depth_per_step:.1f` per step on the autograd graph, the Transformer's stayed at {glue:text}`08_cost.ipynb::ch8_depth_tf:d`
# operations whatever the length ({ref}`ch. 8 <claim-ch08-lstms-cannot-be-parallelised>`). On one
# CPU thread, with nothing to run in parallel, that advantage is worth nothing: at matched parameters
# the Transformer's training step took {glue:text}`08_cost.ipynb::ch8_train_ratio:.1f` times as long as the LSTM's
# ({ref}`ch. 8 <claim-ch08-transformers-faster-train-lstms>`). Linear recurrences sit between: a
# parallel scan computes them in $\lceil \log_2 T \rceil$ rounds, which on one thread was
# {glue:text}`11_after_both.ipynb::ch11_narrow_speedup:d` times faster than the loop for a narrow state and {glue:text}`11_after_both.ipynb::ch11_wide_slowdown:.1f` times *slower* for a wide one
# ({ref}`ch. 11 <claim-ch11-state-space-models-sequential-like>`). On a GPU the scan and attention
# both use the parallel width. On a microcontroller, with one small core and kilobytes of memory, the
# argument of the one-thread measurements points the same way (fewer, larger operations and a fixed
# state), but this book measured a server CPU's training step, not a microcontroller's inference:
# read that case as reasoning from the measurements, not as a measurement.

# %% [markdown]
# ### 4. How long are the training sequences?
#
# "Attention is quadratic" is half outdated. Naive attention kept memory growing like $T^{k}$ with
# $k$ = {glue:text}`08_cost.ipynb::ch8_k_mem_naive:.2f`, but PyTorch's fused kernel, in the style of FlashAttention
# {cite}`dao2022flashattention`, kept it at $k$ = {glue:text}`08_cost.ipynb::ch8_k_mem_sdpa:.1f`, and at {glue:text}`08_cost.ipynb::ch8_mem_T:d` positions an LSTM layer kept
# {glue:text}`08_cost.ipynb::ch8_layer_lstm_over_tf:.1f` times as many bytes for its backward pass as a whole Transformer layer of the same size
# ({ref}`ch. 8 <claim-ch08-transformers-need-quadratic-memory-because>`,
# {ref}`ch. 8 <claim-ch08-lstms-need-much-less-memory>`). The work is still quadratic (time exponent
# {glue:text}`08_cost.ipynb::ch8_k_time_sdpa:.2f` for the fused kernel), but attention's work only overtakes the weights' after about $6d$
# tokens: {glue:text}`08_cost.ipynb::ch8_t_cross_here:d` for Chapter 8's small model and {glue:text}`08_cost.ipynb::ch8_t_cross_gpt3:,` for GPT-3's width. Below that, "long" is not
# long. Above it, the linear recurrences of Chapter 11 are the families whose memory *and* work grow
# linearly.
#
# Length has a second meaning: inputs longer than any seen in training. Here the Transformer broke
# where the LSTM often did not. Trained on selective copying at length 16, both solved it there, and
# at length 64 the LSTM copied {glue:text}`07_long_range.ipynb::ch7_sw_copy_lstm_64:.0%` of the letters, the Transformer
# {glue:text}`07_long_range.ipynb::ch7_sw_copy_tf_64:.0%`; the LSTM's parity held at sixteen times its training length
# ({ref}`ch. 7 <claim-ch07-lstms-solve-long-range-dependencies>`). Neither extended the adding
# problem: the Transformer solved {glue:text}`07_long_range.ipynb::ch7_sw_add_tf:.0%` of the sums at length 16 and
# {glue:text}`07_long_range.ipynb::ch7_sw_add_tf_256:.0%` at 256, the LSTM {glue:text}`07_long_range.ipynb::ch7_sw_add_lstm_256:.0%`. If test inputs
# will be longer than training ones, either train on the longest lengths you will meet, or choose a
# model whose rule does not depend on the length.

# %% [markdown]
# ### 5. How much data and compute?
#
# For **one short time series**, no network clearly beat a linear model. On the monthly CO$_2$
# series with a rolling origin, least squares on windows taken relative to their level missed by
# {glue:text}`09_real_and_small_data.ipynb::ch9_linear_mae:.2f` ppm. Tuned on a validation split and early-stopped, over {glue:text}`09_real_and_small_data.ipynb::ch9_seeds:d` seeds, the LSTM's
# median error was {glue:text}`09_real_and_small_data.ipynb::ch9_lstm_vs_linear:.2f` times that (ahead in every seed) and the Transformer's
# {glue:text}`09_real_and_small_data.ipynb::ch9_tf_vs_linear:.2f` times (a tie); trained for a few epochs, the Transformer lost in every seed
# ({ref}`ch. 9 <claim-ch09-time-series-prediction-lstms-natural>`). Linear models beat the
# Transformer forecasters of their time on most long-horizon benchmarks too
# {cite}`zeng2023transformers`, and the M4 competition was won by a hybrid of exponential smoothing
# and an LSTM {cite}`makridakis2020m4`. Fit the baseline first; a sequence model has to beat it.
#
# For **small data**, "LSTMs are better" did not survive measurement. At equal training steps the
# character-level LSTM was ahead by {glue:text}`09_real_and_small_data.ipynb::ch9_lead_full:.2f` nats on the whole corpus, but on the smallest training set
# its lead shrank to {glue:text}`09_real_and_small_data.ipynb::ch9_lead_tiny:.2f` and the LSTM overfitted more, its generalisation gap larger by {glue:text}`09_real_and_small_data.ipynb::ch9_gap_diff:.2f` nats
# ({ref}`ch. 9 <claim-ch09-lstms-better-choice-small-data>`). What favoured the LSTM was a small
# *compute* budget, not a small data set.
#
# At **web scale** the published evidence points the other way: Transformers' loss keeps falling
# with size and with position in a long context, where LSTMs level off (Figure 7 of
# {cite:t}`kaplan2020scaling`; {ref}`ch. 9 <claim-ch09-transformers-better-lstms-everything-scale>`),
# and compute-optimal training asks for more data per parameter than most large models had
# {cite}`hoffmann2022training`.
#
# ### 6. Must you explain its predictions?
#
# No family is transparent by construction. An attention map's brightest cell found the deciding
# token on a task with a known answer, but in a two-layer Transformer the last layer put
# {glue:text}`10_interpretability.ipynb::ch10_att2_key:.1%` of its weight on a key whose removal hurt as much as the answer's
# ({ref}`ch. 10 <claim-ch10-attention-map-shows-what-model>`), and with an LSTM beneath it, attention
# moved entirely off the key kept {glue:text}`10_interpretability.ipynb::ch10_next_lstm:.1%` of the predictions
# ({ref}`ch. 10 <claim-ch10-very-different-attention-pattern-can>`). An LSTM has readable units too
# (a quote detector at $|r|$ = {glue:text}`10_interpretability.ipynb::ch10_quote_r:.2f`), with most of the state unnamed
# ({ref}`ch. 10 <claim-ch10-lstms-hidden-state-black-box>`). If explanations matter, budget for
# attribution and intervention, whatever the architecture.

# %% [markdown]
# ## The decision table
#
# The table is written by the next cell from `DECISIONS`: for each property, the families it points
# to (`good`), the ones it points away from (`poor`), the reason, and the links to the evidence.

# %%
def decision_table(decisions):
    # For each row: the families it points to, those it points away from, and why (a DataFrame).
    rows = []
    for row in decisions:
        pick = [f for f, (v, _) in zip(FAMILIES, row["cells"]) if v == "good"]
        avoid = [f for f, (v, _) in zip(FAMILIES, row["cells"]) if v == "poor"]
        rows.append(
            {
                "property of the problem": row["question"],
                "points to": ", ".join(pick) or "none of the four",
                "points away from": ", ".join(avoid) or "none",
                "why": row["why"],
                "evidence": row["evidence"],
            }
        )
    return pd.DataFrame(rows)


def as_markdown(frame):
    # A DataFrame as a Markdown table (the links in it stay MyST roles).
    lines = [
        "| " + " | ".join(frame.columns) + " |",
        "|" + " --- |" * frame.shape[1],
    ]
    lines += [
        "| " + " | ".join(map(str, r)) + " |" for r in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


table = decision_table(DECISIONS)
none_rows = table.loc[
    table["points to"] == "none of the four", "property of the problem"
]
assert none_rows.str[3:].tolist() == [
    "generalise to longer inputs",
    "one short series to forecast",
    "small data, small compute",
    "explain each prediction",
]
glue("ch13_table", Markdown(as_markdown(table)))
glue("ch13_none_rows", len(none_rows))
table[["property of the problem", "points to", "points away from"]]

# %% [markdown]
# ```{glue:md} ch13_table
# :format: myst
# ```
#
# {glue:text}`ch13_none_rows` rows point to none of the four: longer inputs than seen in training, where
# the LSTM held on parity but its copying degraded; a single short series, where no network
# clearly beat a linear model; small data, where the two measured families tied; and explanation, where every
# family needs attribution methods. Read down a column and each family has
# a profile. The LSTM is the choice for state tracking, streaming and one small core, and the wrong
# one for retrieval and for parallel training at scale. The Transformer is the reverse. The linear
# recurrences keep the LSTM's serving profile and the Transformer's training profile, and lose some
# of the Transformer's recall; hybrids buy most of that recall back with a few attention layers.
#
# ## One figure for the whole guide
#
# The figure draws the same structure: a row per property, a column per family, coloured by verdict,
# each cell naming the chapter that measured it (`lit.` where only published work speaks; an `open`
# cell has neither). After
# drawing, the cell reads the colours and labels back from the figure and checks them against the
# table.

# %%
COLOURS = {
    "poor": "#d55e00",
    "mixed": "#f0c05a",
    "good": "#009e73",
    "open": "#d9d9d9",
}


def draw_verdicts(decisions, ax=None):
    # The decisions as a grid: rows are properties, columns families, colour the verdict.
    ax = ax or plt.subplots(figsize=(9.5, 0.55 * len(decisions) + 1.4))[1]
    codes = np.array(
        [[LEVELS.index(v) for v, _ in row["cells"]] for row in decisions]
    )
    cmap = ListedColormap([COLOURS[v] for v in LEVELS])
    ax.pcolormesh(
        codes,
        cmap=cmap,
        vmin=-0.5,
        vmax=len(LEVELS) - 0.5,
        edgecolors="white",
        linewidth=3,
    )
    for i, row in enumerate(decisions):
        for j, (verdict, source) in enumerate(row["cells"]):
            label = f"{verdict}\n{source}" if source else verdict
            ax.text(j + 0.5, i + 0.5, label, ha="center", va="center", fontsize=9)
    ax.set_xticks(np.arange(len(FAMILIES)) + 0.5, FAMILIES)
    ax.set_yticks(
        np.arange(len(decisions)) + 0.5, [row["question"] for row in decisions]
    )
    ax.xaxis.tick_top()
    ax.invert_yaxis()  # the first question on top
    ax.tick_params(length=0)
    ax.grid(False)
    sns.despine(ax=ax, left=True, bottom=True)
    ax.legend(
        handles=[
            Patch(color=COLOURS[v], label=v)
            for v in ("good", "mixed", "poor", "open")
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=4,
        frameon=False,
    )
    ax.set_title(
        "Where each property of a problem points (cell: verdict, evidence)", pad=28
    )
    return ax


def read_back(ax):
    # The verdicts as drawn: from the colour codes of the grid and from the cell labels.
    n_rows = len(ax.get_yticks())
    codes = np.asarray(ax.collections[0].get_array()).reshape(n_rows, len(FAMILIES))
    from_colour = [[LEVELS[int(c)] for c in row] for row in codes]
    labels = [t.get_text().split("\n")[0] for t in ax.texts]
    from_text = [
        labels[i * len(FAMILIES) : (i + 1) * len(FAMILIES)] for i in range(n_rows)
    ]
    return from_colour, from_text


ax = draw_verdicts(DECISIONS)
plt.tight_layout()
from_colour, from_text = read_back(ax)
assert from_colour == from_text == verdicts.values.tolist()
# the figure agrees with the table: its green cells are "points to", its red ones "points away"
for drawn, (_, row) in zip(from_colour, table.iterrows()):
    assert [f for f, v in zip(FAMILIES, drawn) if v == "good"] == [
        f for f in FAMILIES if f in row["points to"].split(", ")
    ]
    assert [f for f, v in zip(FAMILIES, drawn) if v == "poor"] == [
        f for f in FAMILIES if f in row["points away from"].split(", ")
    ]
assert not (verdicts == "good").all().any() and not (verdicts == "poor").all().any()
counts = (
    verdicts.apply(lambda col: col.value_counts())
    .fillna(0)
    .astype(int)
    .loc[["good", "poor"]]
)
glue("ch13_rows", len(DECISIONS))
glue(
    "ch13_measured",
    int(sum(s.startswith("ch") for row in DECISIONS for _, s in row["cells"])),
)
glue("ch13_cells", len(DECISIONS) * len(FAMILIES))
sources = [s for row in DECISIONS for _, s in row["cells"]]
glue("ch13_lit", sources.count("lit."))
glue("ch13_open", sources.count(""))  # "open": no source, measured nowhere, settled nowhere
assert sum(s.startswith("ch") for s in sources) + sources.count("lit.") + sources.count("") == len(sources)
plt.show()
counts

# %% [markdown]
# Of the {glue:text}`ch13_cells` cells, {glue:text}`ch13_measured` rest on a measurement in this
# book, {glue:text}`ch13_lit` on published work only, and {glue:text}`ch13_open` are open: measured
# neither here nor, as far as the work we cite goes, elsewhere. A measurement here is a small one, on a
# CPU; the chapter it comes from says what it rests on. No column is green all the way down and none is red all the
# way down: the counts under the figure say the same in numbers.
#
# ## Worked examples
#
# Each example walks the questions in order and stops when the answer is clear.
#
# **Streaming speech recognition on a phone.** (1) Mostly local: the sound of a word is in the last
# second or two, with no lookup of a far-away token, so a recurrent state suffices for the acoustics.
# (2) Streaming: yes, with a fixed memory per stream. (3) A phone's CPU or small accelerator. The
# questions point to an LSTM or an SSM, and the LSTM was the workhorse of speech recognition
# {cite}`graves2013speech`. Many recent recognisers use the Conformer {cite}`gulati2020conformer`,
# convolutions plus attention; run as streaming models, they restrict attention to a bounded window
# of recent frames, which turns the growing cache into a fixed one: the answer to question 2,
# implemented inside a Transformer. The next cell shows what an unbounded cache would cost.

# %%
FRAMES_PER_S = 100  # one acoustic frame every 10 ms
speech_layers, speech_d = 12, 256  # an encoder of modest size
# keys and values per layer and frame, against h and c per layer; 16-bit numbers
cache_per_s = 2 * speech_layers * speech_d * FRAMES_PER_S * 2
lstm_state = 2 * speech_layers * speech_d * 2
hour = cache_per_s * 3600
glue("ch13_speech_cache_mb_min", round(cache_per_s * 60 / 1e6, 1))
glue("ch13_speech_cache_mb_hour", round(hour / 1e6))
glue("ch13_speech_state_kb", round(lstm_state / 1e3, 1))
print(
    f"full cache: {cache_per_s * 60 / 1e6:.1f} MB per minute of audio, {hour / 1e6:,.0f} MB per hour; "
    f"a recurrent state of the same width: {lstm_state / 1e3:.1f} kB at any time"
)


# %% [markdown]
# A 12-layer encoder of width 256 with an unbounded cache would hold
# {glue:text}`ch13_speech_cache_mb_min` MB of keys and values after one minute of audio and
# {glue:text}`ch13_speech_cache_mb_hour:,` MB after an hour; a recurrent state of the same width is
# {glue:text}`ch13_speech_state_kb` kB, forever. That is the figure's streaming row.
#
# **Question answering over long documents.** (1) Retrieval: the answer is a span somewhere in the
# document, found by the question's content. That settles it for attention (the recall row): a
# Transformer, or a hybrid whose attention layers do the lookup. (4) Documents are long, but training
# memory is linear with fused attention; the quadratic work is the cost to watch, and it only
# dominates beyond about $6d$ tokens. A pure LSTM or SSM would have to store every possible answer
# in its state before the question arrives {cite}`jelassi2024repeat`; putting the question *before*
# the document helps a fixed-state model, which then knows what to keep, but the capacity limit
# remains.
#
# **Code completion with a long context.** (1) Retrieval again, and exact: a variable or function
# name defined thousands of tokens earlier must be copied letter for letter. (2) Served token by
# token to many users, so the cache is the cost (question 2). (5) Trained at web scale. The
# Transformer wins questions 1 and 5, and question 2 says what it costs:

# %%
def cache_gb(layers, d, context, bytes_per_number=2):
    # a key and a value per layer and token
    return 2 * layers * d * context * bytes_per_number / 1e9


CONTEXT = 16_384
dense = cache_gb(32, 4096, CONTEXT)  # a LLaMA-7B-sized model, every layer attends
hybrid = cache_gb(4, 4096, CONTEXT)  # attention in one layer of eight, as in Jamba
weights_gb = 6.7e9 * 2 / 1e9
glue("ch13_code_context", CONTEXT)
glue("ch13_code_dense_gb", round(dense, 1))
glue("ch13_code_hybrid_gb", round(hybrid, 1))
glue("ch13_code_weights_gb", round(weights_gb, 1))
print(
    f"{CONTEXT:,} tokens: {dense:.1f} GB of cache with attention in all 32 layers, "
    f"{hybrid:.1f} GB with attention in 4 of them (weights: {weights_gb:.1f} GB)"
)

# %% [markdown]
# One user with {glue:text}`ch13_code_context:,` tokens of context needs
# {glue:text}`ch13_code_dense_gb` GB of cache in a model of LLaMA-7B's shape, on top of
# {glue:text}`ch13_code_weights_gb` GB of weights; with attention in one layer of eight, as in Jamba
# {cite}`lieber2024jamba`, {glue:text}`ch13_code_hybrid_gb` GB. This is why long-context models
# share keys and values between heads (Chapter 8's exercise on grouped-query attention) and why
# hybrids exist: they keep exact recall where it is needed and pay for the cache in a few layers only.
#
# **Forecasting a small business's monthly sales.** (5) One short series, a few hundred points at
# most. The forecasting row points to none of the four: fit a seasonal naive forecast and a linear
# model on level-relative windows, evaluated with a rolling origin, as Chapter 9 did. A network earns
# a place only if it beats them, and with many related series or many covariates it may.
#
# **A keyword spotter on a microcontroller.** (1) Short, local patterns: "is the wake word in the last
# second?". (2) Always on, streaming, with a few hundred kilobytes of memory. (3) One small core.
# Every row points to a small recurrent model or, since the pattern is local and the window fixed, to
# a small convolutional one, which is what a classic small-footprint design uses
# {cite}`sainath2015convolutional`. A Transformer brings nothing this problem needs.
# Exercise {ref}`ch13-ex-kws` sizes such an LSTM.
#
# ## The popular advice, on trial
#
# The guide can now judge the advice this chapter began with.
#
# :::{admonition} Claim on trial: "use an LSTM for streaming, strict memory limits, very long sequences and small data sets; use a Transformer for everything else"
# :class: claim warning
# :name: claim-ch13-use-lstm-streaming-strict-memory
# **Verdict: half of it holds.** Streaming and strict memory hold for *serving*: an LSTM carries
# {glue:text}`08_cost.ipynb::ch8_state_lstm:,` bytes at any context while a cache of the same model grows by {glue:text}`08_cost.ipynb::ch8_cache_per_token:,` bytes per token
# ({ref}`ch. 8 <claim-ch08-lstms-better-streaming-devices-with>`). "Very long sequences" does not:
# fused attention trained with memory growing like $T^{k}$, $k$ = {glue:text}`08_cost.ipynb::ch8_k_mem_sdpa:.1f`, and an LSTM layer kept {glue:text}`08_cost.ipynb::ch8_layer_lstm_over_tf:.1f`
# times the bytes of a Transformer layer of the same size ({ref}`ch. 8 <claim-ch08-lstms-need-much-less-memory>`). "Small data" does not
# either: on the smallest training set the two tied ({ref}`ch. 9 <claim-ch09-lstms-better-choice-small-data>`).
# The advice misses the question that decided most of our trials, what must be remembered: the LSTM
# won state tracking ({glue:text}`07_long_range.ipynb::ch7_sw_par_lstm_256:.0%` against {glue:text}`07_long_range.ipynb::ch7_sw_par_tf_256:.0%` at length 256) and lost retrieval with many pairs
# ({glue:text}`07_long_range.ipynb::ch7_sw_recall_lstm_8:.0%` against the Transformer's worst seed, {glue:text}`07_long_range.ipynb::ch7_sw_recall_tf_8_min:.0%`, with eight) in Chapter 7 within the sweep's cap (with five times the steps it rose to
# {glue:text}`07_long_range.ipynb::ch7_longer_recall_8:.0%`). And it misses the families that now
# take the LSTM's place in its own niches: linear recurrences and hybrids.
# *Source of the claim: seed article 001 ("When to use each architecture today").*
# :::
#
# :::{admonition} Claim on trial: "Transformers are the default choice for most modern applications"
# :class: claim warning
# :name: claim-ch13-transformers-default-choice-most-modern
# **Verdict: holds at scale, with exceptions this guide names.** For retrieval-heavy tasks trained on
# large data with parallel hardware (language, code, documents) the published evidence favours
# Transformers {cite}`kaplan2020scaling` and the recall gap of fixed-state models persists
# {cite}`arora2024zoology`. But in the figure above, the Transformer's column is red in
# {glue:text}`ch13_tf_poor` of {glue:text}`ch13_rows` rows (state tracking, streaming memory, one small core, longer inputs than seen in
# training), and for a short series a tuned Transformer only tied with least squares
# ({ref}`ch. 9 <claim-ch09-time-series-prediction-lstms-natural>`). A default is where to start, not
# a verdict. *Source of the claim: seed article 000.*
# :::

# %% tags=["hide-input"]
tf_poor = int((verdicts["Transformer"] == "poor").sum())
assert verdicts.index[verdicts["Transformer"] == "poor"].str[3:].tolist() == [
    "track a state at every step",
    "stream with fixed memory per stream",
    "run on one small core",
    "generalise to longer inputs",
]  # the rows the claim box names
glue("ch13_tf_poor", tf_poor)
verdicts.index[verdicts["Transformer"] == "poor"].tolist()


# %% [markdown]
# ## What changes at scale
#
# Most of this book's measurements were made with models of thousands of parameters, trained for
# seconds on one CPU thread. Three kinds of verdict behave differently as models grow.
#
# - **Verdicts about representation survive.** Parity and recall are about what an architecture can
#   compute with a given state, and the theory and the large studies agree with our small runs:
#   attention fails to generalise state tracking {cite}`hahn2020theoretical,deletang2023neural`,
#   fixed states recall only as much as their size allows {cite}`arora2024zoology,jelassi2024repeat`,
#   and linear recurrences share part of attention's limits on state tracking
#   {cite}`merrill2024illusion`.
# - **Verdicts about cost flip with the hardware.** On one CPU thread the LSTM trained faster; on a
#   GPU the Transformer's constant sequential depth is why it replaced recurrence
#   {cite}`vaswani2017attention`, and fused kernels {cite}`dao2022flashattention` and parallel scans
#   {cite}`gu2023mamba,dao2024transformers` are what make long contexts affordable. Serving memory
#   grows *more* important with scale, because the cache grows with width, depth and users.
# - **Verdicts about sample efficiency fade.** The LSTM's head start on small budgets (Chapter 9)
#   is not shown by Figure 7 of {cite:t}`kaplan2020scaling`, which varies size at a long budget; even at its smallest models, where the two families' curves
#   touch; with millions of parameters and billions of tokens the Transformer pulls ahead, and
#   hybrids {cite}`lieber2024jamba,de2024griffin` and modern recurrent models such as xLSTM
#   {cite}`beck2024xlstm` and RWKV {cite}`peng2023rwkv` compete there by borrowing the Transformer's
#   parallel training.
#
# So at scale the guide's first question matters more, not less: the choice between retrieval and a
# fixed state is what the field's hybrids are negotiating, layer by layer.
#
# ## Summary
#
# - Ask, in order: what must be remembered; how it will be served; on what hardware; how long the
#   training sequences are; how much data and compute; whether you must explain it. Earlier
#   answers usually settle the choice.
# - **Retrieval points to attention** (Chapter 7's recall with eight pairs: the Transformer's worst seed {glue:text}`07_long_range.ipynb::ch7_sw_recall_tf_8_min:.0%` against {glue:text}`07_long_range.ipynb::ch7_sw_recall_lstm_8:.0%`); **state tracking
#   points to recurrence** (parity at 256 bits: {glue:text}`07_long_range.ipynb::ch7_sw_par_lstm_256:.0%` against {glue:text}`07_long_range.ipynb::ch7_sw_par_tf_256:.0%`).
# - **Streaming with fixed memory points to a fixed state**: an LSTM's or an SSM's; a cache grows
#   with every token and, for LLaMA-7B, {glue:text}`08_cost.ipynb::ch8_llama_cache_gb:.2f` GB per 2048-token sequence.
# - **Parallel hardware points to attention or a scan**; one small core points to the LSTM, whose
#   training step was {glue:text}`08_cost.ipynb::ch8_train_ratio:.1f` times faster on one thread.
# - **Long training sequences no longer rule out attention's memory** (exponent {glue:text}`08_cost.ipynb::ch8_k_mem_sdpa:.1f` with a fused
#   kernel); its work stays quadratic. **Longer test inputs than training ones** rule out the
#   Transformers we trained, and favour recurrence only where a small state suffices (parity, not copying).
# - **A single short series points to a linear baseline**; small data did not favour the LSTM,
#   small compute did; web scale favours Transformers and hybrids.
# - The decision table and the figure are drawn from one structure, `DECISIONS`, and the chapter
#   checks that they agree.

# %% [markdown]
# ## Exercises
#
# ```{exercise} Size a keyword spotter
# :label: ch13-ex-kws
#
# A keyword spotter reads 40 filter-bank features every 10 ms and has 64 kB for its weights, stored
# as 8-bit integers. First write `lstm_params(input_size, hidden_size, num_layers)`, the parameter
# count of `nn.LSTM`, and grade it with `seqlib.checks.check_lstm_params`. Then find the widest
# two-layer LSTM, with a linear read-out to 12 classes, that fits the budget, and the bytes of its
# state at 8 bits per number.
# ```

# %% [markdown]
# ```{solution-start} ch13-ex-kws
# :class: dropdown
# ```
# Four gate blocks per layer, each with an input matrix, a recurrent matrix and two biases; the
# second layer reads the first one's $H$ outputs. The widest fit is found by counting up.

# %%
def lstm_params(input_size, hidden_size, num_layers):
    I, H = input_size, hidden_size
    first = 4 * (H * I + H * H) + 8 * H
    later = 4 * (H * H + H * H) + 8 * H  # layers above read H features
    return first + (num_layers - 1) * later


print(seqlib.checks.check_lstm_params(lstm_params))


def spotter_bytes(H, features=40, layers=2, classes=12):
    # one byte per weight: the LSTM and a linear read-out
    return lstm_params(features, H, layers) + H * classes + classes


widest = max(H for H in range(1, 200) if spotter_bytes(H) <= 64_000)
print(
    f"H = {widest}: {spotter_bytes(widest):,} bytes of weights, state {2 * 2 * widest} bytes"
)

# %% [markdown]
# How fast is such a spotter at inference? This book has no microcontroller, so the next two cells
# measure what they can: the sized LSTM reading one 10 ms frame at a time with its state carried, on
# one thread of the server CPU that built this page (`torch.utils.benchmark`), its weights and state
# in float32, and the work per frame.

# %%
# the sized spotter: its float32 weights, its state and its work per 10 ms frame
import torch
from torch import nn
from torch.utils import benchmark


class Spotter(nn.Module):
    def __init__(self, H, features=40, layers=2, classes=12):
        super().__init__()
        self.lstm = nn.LSTM(features, H, num_layers=layers)
        self.readout = nn.Linear(H, classes)

    def forward(self, frame, state):  # frame (1, 1, features): one time step, one stream
        out, state = self.lstm(frame, state)
        return self.readout(out[-1]), state


spotter = Spotter(widest).eval()
frame = torch.randn(1, 1, 40, generator=seqlib.generator(0))
state = (torch.zeros(2, 1, widest), torch.zeros(2, 1, widest))  # (layers, batch, H): h and c
weight_bytes = sum(p.numel() * p.element_size() for p in spotter.parameters())
state_bytes = sum(s.numel() * s.element_size() for s in state)
macs = sum(w.numel() for name, w in spotter.named_parameters() if "weight" in name)
print(
    f"weights {weight_bytes:,} bytes in float32; state {state_bytes:,} bytes; "
    f"{macs:,} multiply-adds per frame"
)

# %% tags=["nbval-ignore-output"]
# timing: one frame of the sized spotter's inference, state carried, on this page's CPU (one thread)
with torch.no_grad():
    timer = benchmark.Timer(
        "spotter(frame, state)",
        globals=dict(spotter=spotter, frame=frame, state=state),
        num_threads=1,
    )
    per_frame = timer.blocked_autorange(min_run_time=1).median  # seconds
assert per_frame < 0.01  # it keeps up with a frame every 10 ms, here
print(
    f"{per_frame * 1e6:.0f} microseconds per frame "
    f"({per_frame / 0.01:.1%} of the 10 ms between frames)"
)

# %% [markdown]
# On this CPU a frame costs a small fraction of the time between frames. A microcontroller's core is
# far slower, so this is not a measurement of one; what carries over is the work per frame (one
# multiply-add per weight, whatever the device) and the memory: weights a quarter of the float32
# size at one byte each, and a state of a few hundred bytes however long the device listens.
# PyTorch's int8 path for LSTMs (eager dynamic quantization) is deprecated in favour of the
# separate torchao package, so the int8 sizes here are counted, not measured.
#
# The state, $h$ and $c$ for two layers, is a few hundred bytes: memory that does not grow however
# long the device listens. A Transformer of similar size would need a cache for its window of frames,
# and a window long enough to hear a word is a hundred frames.
#
# ```{solution-end}
# ```
#
# ```{exercise} Add a question to the guide
# :label: ch13-ex-row
#
# Add a row to `DECISIONS` for "the whole input is available at once, and both directions help"
# (offline tagging or classification, not generation). Give each family a verdict and an evidence
# label, redraw the figure with `draw_verdicts`, and rebuild the table with `decision_table`. Which
# published models would you cite for the Transformer and the LSTM cells?
# ```

# %% [markdown]
# ```{solution-start} ch13-ex-row
# :class: dropdown
# ```
# An encoder without a causal mask reads both directions in one layer, as BERT does
# {cite}`devlin2019bert`; an LSTM needs a second network reading backwards, a bidirectional RNN
# {cite}`schuster1997bidirectional`, which works but doubles the sequential passes. Linear recurrences
# can run both ways too, so we mark them `mixed` and hybrids `open`.

# %%
extra = dict(
    question="7. bidirectional, offline input",
    cells="mixed lit. | good lit. | mixed lit. | open",
    why="an encoder attends both ways in one layer; a recurrence needs a second, backward pass",
    evidence="{cite}`devlin2019bert,schuster1997bidirectional`",
)
ax = draw_verdicts(DECISIONS + [parse_cells(extra)])
plt.tight_layout()
plt.show()
decision_table([extra])[
    ["property of the problem", "points to", "points away from"]
]

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise} When does the cache outgrow the weights?
# :label: ch13-ex-cross
#
# In the live cell of question 2, the cache outgrew the weights after a number of tokens that grows
# with the width. Derive it: for a Transformer with $L$ layers of width $d$ and about $12 L d^2$
# parameters, at how many tokens $t^*$ does the cache ($2 L t d$ numbers) equal the weights? Check
# your formula against the cell's output for `D_MODEL = 128` and `256`.
# ```
#
# ```{solution} ch13-ex-cross
# :class: dropdown
#
# $2 L t^* d = 12 L d^2$ gives $t^* = 6d$, independent of the depth: 768 tokens for $d = 128$ and
# 1536 for $d = 256$. The cell's numbers are a little larger because the real model also has token
# embeddings, a read-out, biases and norms, which add weights but no cache. It is the same $6d$ at
# which attention's work per token overtakes the weights' (Chapter 8), because both compare $t$ keys
# and values of width $d$ with $12 d^2$ weights. For LLaMA-7B ($d = 4096$), Chapter 8 found the
# crossing at {glue:text}`08_cost.ipynb::ch8_llama_cross_tokens:,` tokens: beyond it, one long
# conversation costs more memory than the model.
# ```
#
# ```{exercise} A use case of your own
# :label: ch13-ex-case
#
# A factory wants to flag anomalies in the vibration of a motor, sampled at 1 kHz, on a
# microcontroller next to the motor; an anomaly can be a slow drift over hours or a sudden spike.
# Walk the six questions and choose. What would you measure first, and against what baseline?
# ```
#
# ```{solution} ch13-ex-case
# :class: dropdown
#
# (1) A drift over hours is state tracking (a running summary of the signal's level and spectrum),
# a spike is local; neither needs retrieval of an exact past token. (2) Streaming, always on, with a
# fixed memory. (3) One small core. Every answer points to a small recurrent model, or simpler: an
# exponentially weighted mean and variance is a one-number-per-feature recurrence, and a threshold on
# the deviation is the baseline to beat, as the seasonal naive and linear forecasts were in Chapter 9.
# (4) Hours at 1 kHz are millions of steps: training a recurrent model on such windows is slow, so
# downsample (features per second) before the model. (5) Anomalies are rare, so labelled data are
# small: train to forecast the normal signal and flag large forecast errors. Measure the baseline's
# false alarm rate first; a network must lower it at the same detection rate to earn its place.
# ```
#
# ```{exercise} Which verdicts flip on a GPU?
# :label: ch13-ex-gpu
#
# Go through the rows of `DECISIONS` and mark those whose verdict would change if every model were
# trained and served on a large GPU with a batch of many sequences. Which rows are about hardware and
# which about what an architecture can represent? If you have a GPU, run
# `python -m seqlib.bench --device cuda --large` and check the row "train fast on a parallel
# accelerator".
# ```
#
# ```{solution} ch13-ex-gpu
# :class: dropdown
#
# Only the cost rows can move. "Run on one small core" no longer applies, and "train fast on a
# parallel accelerator" is the GPU's row: there the Transformer's constant sequential depth turns
# into time, and the LSTM's step time stays roughly linear in $T$ (Chapter 8's benchmark shows the
# exponents). "Stream with fixed memory" gets *more* important on a GPU serving many users, since
# the cache multiplies with the batch. The representation rows (recall, state tracking, longer
# inputs) do not change with the hardware: they are about what a model with a fixed state or with
# bounded attention weights can compute, and the studies cited in their evidence were run on
# accelerators.
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
