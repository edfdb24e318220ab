"""The cost of sequence models, measured: time, memory and state (Chapter 8).

This module builds the measurements of Chapter 8 and a command line that runs them at larger
sizes, on a GPU when one is present, and writes a results file:

    lm_pair(...)              an LSTM and a Transformer language model with (nearly) the same parameters
    timeit(fn)                warm-up, several repeats, the median and the spread of the run times
    saved_bytes(fn)           the bytes of the tensors autograd keeps for the backward pass
    graph_depth(y)            the longest chain of dependent operations that produced y (sequential depth)
    train_step_time(...)      one optimiser step of a language model on (B, T) tokens
    attention_time(...)       forward + backward of one attention call, naive or fused
    activation_bytes(...)     the training memory of naive attention, fused attention and an LSTM layer
    generation_latency(...)   the time per generated token after a context of t tokens
    state_bytes(...)          what a model carries while it generates: (h, c) or the key/value cache
    run(...)                  all of the above for lists of sizes -> a results dict (the schema below)
    load_results()            the results files shipped with seqlib (measured on named machines)

Run it with ``python -m seqlib.bench`` (about a minute on one CPU thread with the defaults);
``python -m seqlib.bench --help`` lists the flags (sizes, repeats, device, threads, output
path). ``--device auto`` uses a GPU when one is present.

**Memory.** On the CPU PyTorch has no peak-memory counter, so training memory is measured as
the bytes of the distinct storages that autograd saves for the backward pass
(``torch.autograd.graph.saved_tensors_hooks``): the activations a training step must keep. It
is exact and the same on every machine. On a GPU the peak of
``torch.cuda.max_memory_allocated`` above what was allocated before the call is recorded too.

**The results file** is JSON::

    {
      "schema": "seqlib.bench/1",
      "label": "a short name, e.g. cpu-amd-epyc-1thread",
      "note": "free text: where and how it was measured",
      "machine": {"device": "cpu" or "cuda", "device_name": "AMD EPYC ..." or "NVIDIA H100 ...",
                  "threads": 1, "torch": "2.3.0", "python": "3.11.7", "platform": "Linux-...",
                  "cuda": null or "12.1", "date": "2025-01-31"},
      "settings": {"vocab_size": .., "d_model": .., "num_layers": .., "nhead": .., "batch": ..,
                   "repeats": .., "warmup": ..},
      "models": {"lstm": {"hidden_size": .., "params": ..}, "transformer": {"d_model": .., "params": ..}},
      "measurements": [ one dict per measurement, each with "experiment" and "model":
        {"experiment": "train_step", "model": "lstm" or "transformer", "T": .., "batch": ..,
         "median_s": .., "iqr_s": .., "min_s": .., "max_s": .., "repeats": .., "tokens_per_s": ..},
        {"experiment": "attention_time", "model": "naive" or "sdpa", "T": .., "median_s": .., ...},
        {"experiment": "activation_memory", "model": "naive" or "sdpa" or "lstm", "T": ..,
         "saved_bytes": .., "peak_bytes": null or ..},
        {"experiment": "generation", "model": "lstm" or "transformer", "context": ..,
         "median_s": .. (per token), "iqr_s": .., "min_s": .., "max_s": .., "repeats": ..,
         "state_bytes": ..}
      ]
    }

Times are in seconds (``median_s`` the median of ``repeats`` runs after ``warmup`` runs,
``iqr_s`` their interquartile range), sizes in bytes. :func:`validate_results` checks a dict
against this schema.

**Adding a machine.** The files in ``seqlib/bench_results/`` ship with the package and
:func:`load_results` reads them all. To add a GPU's figures, run on it
``python -m seqlib.bench --device cuda --large --label gpu-<name> --output seqlib/bench_results/gpu-<name>.json``
and commit the file: the chapter then shows it beside the CPU figures, labelled with its
device name, date and versions.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import statistics
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F

from ._validate import check_int
from .runtime import generator, seed_everything
from .experiments import count_parameters

__all__ = ["SCHEMA", "lm_pair", "matched_lstm_width", "timeit", "saved_bytes", "train_step_time",
           "attention_time", "activation_bytes", "layer_activation_bytes", "generation_latency", "state_bytes", "fit_exponent", "graph_depth",
           "machine_info", "run", "validate_results", "save_results", "load_results", "main"]

SCHEMA = "seqlib.bench/1"
EXPERIMENTS = ("train_step", "attention_time", "activation_memory", "generation")

# The defaults of the command line: larger than the chapter's sizes, about a minute on one CPU thread.
DEFAULTS = dict(vocab_size=64, d_model=128, num_layers=2, nhead=4, batch=16, repeats=5, warmup=1,
                train_T=(64, 128, 256, 512), attention_T=(256, 512, 1024, 2048),
                memory_T=(256, 512, 1024, 2048, 4096), contexts=(64, 256, 1024, 2048))
# ``--large``: for a GPU (or a patient CPU).
LARGE = dict(d_model=256, num_layers=4, nhead=8, batch=32, train_T=(128, 256, 512, 1024, 2048),
             attention_T=(512, 1024, 2048, 4096, 8192), memory_T=(512, 1024, 2048, 4096, 8192, 16384),
             contexts=(128, 512, 2048, 4096, 8192))


# ---------------------------------------------------------------------------------------------
# Two language models with the same budget
# ---------------------------------------------------------------------------------------------

def matched_lstm_width(params: int, vocab_size: int, num_layers: int) -> int:
    """The hidden size H of an LSTM language model with about ``params`` parameters.

    The model is :class:`seqlib.models.RecurrentModel` with embeddings of width H, ``num_layers``
    LSTM layers of width H and a read-out to ``vocab_size`` logits, so its parameters are

        V H  +  L (8 H^2 + 8 H)  +  (H V + V)

    (each LSTM layer: four gates, each with an input and a recurrent H x H matrix and two
    biases). Solving the quadratic for H and rounding gives the closest width.
    """
    check_int(params, "params", minimum=1)
    check_int(vocab_size, "vocab_size", minimum=1)
    check_int(num_layers, "num_layers", minimum=1)
    a, b, c = 8 * num_layers, 8 * num_layers + 2 * vocab_size, vocab_size - params
    return max(1, round((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)))


def lm_pair(vocab_size: int = 64, d_model: int = 64, num_layers: int = 2, nhead: int = 4,
            max_len: int = 4096, device="cpu") -> tuple:
    """An LSTM and a Transformer language model with (nearly) the same number of parameters.

    The Transformer is a :class:`seqlib.transformer.DecoderOnlyLM` (pre-norm, d_ff = 4 d_model,
    sinusoidal positions so that no parameter depends on ``max_len``, no dropout); the LSTM is a
    :class:`seqlib.models.RecurrentModel` (token embedding, ``num_layers`` LSTM layers, a
    read-out at every step) whose width comes from :func:`matched_lstm_width`. Both are in
    training mode; both map token ids (B, T) to logits (B, T, vocab_size).

    Returns:
        The pair (lstm, transformer).
    """
    from .models import RecurrentModel
    from .transformer import DecoderOnlyLM

    check_int(max_len, "max_len", minimum=1)
    transformer = DecoderOnlyLM(vocab_size, d_model, nhead, num_layers, dim_feedforward=4 * d_model, dropout=0.0,
                                positions="sinusoidal", max_len=max_len)
    H = matched_lstm_width(count_parameters(transformer), vocab_size, num_layers)
    lstm = RecurrentModel("lstm", vocab_size, H, vocab_size, tokens=True, embed_dim=H, num_layers=num_layers,
                          per_step=True)
    return lstm.to(device), transformer.to(device)


def _kind(model: nn.Module) -> str:
    from .models import RecurrentModel
    from .transformer import DecoderOnlyLM

    if isinstance(model, RecurrentModel) and model.kind == "lstm" and model.tokens and model.per_step:
        return "lstm"
    if isinstance(model, DecoderOnlyLM):
        return "transformer"
    raise TypeError(f"model must be a language model from seqlib.bench.lm_pair (a per-step token RecurrentModel "
                    f"of kind 'lstm' or a DecoderOnlyLM), got {type(model).__name__}")


# ---------------------------------------------------------------------------------------------
# Measuring: time and saved memory
# ---------------------------------------------------------------------------------------------

def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, device="cpu") -> dict:
    """Time ``fn()``: ``warmup`` calls first (not timed), then ``repeats`` timed calls.

    Each call is timed with ``time.perf_counter`` (after ``torch.cuda.synchronize`` on a GPU,
    so that the queued work is counted). Report the median, not the mean or the minimum: on a
    shared machine some calls are slowed by other work, and the median ignores them.

    Returns:
        A dict with ``median_s``, ``iqr_s`` (the interquartile range, the spread of the middle
        half), ``min_s``, ``max_s`` and ``repeats``; times in seconds.
    """
    if not callable(fn):
        raise TypeError(f"fn must be a callable with no arguments, got {type(fn).__name__}")
    check_int(repeats, "repeats", minimum=1)
    check_int(warmup, "warmup", minimum=0)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        begin = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - begin)
    if repeats >= 2:
        q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
    else:
        q1 = q3 = times[0]
    return {"median_s": statistics.median(times), "iqr_s": q3 - q1, "min_s": min(times), "max_s": max(times),
            "repeats": repeats}


def saved_bytes(fn: Callable[[], object]) -> int:
    """The bytes autograd keeps for the backward pass while ``fn()`` runs (its saved activations).

    Every tensor that an operation saves for its gradient passes through a
    ``torch.autograd.graph.saved_tensors_hooks`` pack hook; we add up the sizes of the distinct
    storages behind them (a tensor saved twice, or two views of one tensor, count once). This is
    the memory a training step must hold between its forward and backward passes, measured
    exactly, on any device, the same on every machine. Inputs and weights that are saved count
    too (they are small next to the activations).
    """
    if not callable(fn):
        raise TypeError(f"fn must be a callable with no arguments, got {type(fn).__name__}")
    storages = {}

    def pack(t):
        storage = t.untyped_storage()
        storages[(storage.device.type, storage.data_ptr())] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def graph_depth(output: torch.Tensor) -> int:
    """The number of operations on the longest chain of the autograd graph that produced ``output``.

    Operations on one chain must run one after the other, whatever the hardware: this is the
    *sequential depth* of the computation (Vaswani et al. 2017, Table 1, "sequential
    operations"), counted on the real graph. Fused kernels (``nn.LSTM``) hide their inner steps
    in one node, so count it on a model built from its operations (``seqlib.recurrent.LSTM``).
    """
    if not isinstance(output, torch.Tensor) or output.grad_fn is None:
        raise ValueError("graph_depth needs a tensor computed from inputs that require gradients (it has no grad_fn)")
    depth = {}
    stack = [(output.grad_fn, False)]
    while stack:  # an iterative depth-first search: a long recurrence would overflow Python's recursion
        node, children_done = stack.pop()
        if node in depth:
            continue
        children = [n for n, _ in node.next_functions if n is not None]
        if children_done:
            depth[node] = 1 + max((depth[c] for c in children), default=0)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if c not in depth)
    return depth[output.grad_fn]


def fit_exponent(x, y) -> float:
    """The slope of log y against log x by least squares: y grows like x to this power."""
    x, y = list(x), list(y)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"fit_exponent needs two sequences of the same length, at least 2, got {len(x)} and {len(y)}")
    if min(x) <= 0 or min(y) <= 0:
        raise ValueError("fit_exponent needs positive values (it fits on logarithms)")
    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    var = sum((a - mx) ** 2 for a in lx)
    if var == 0:
        raise ValueError("fit_exponent needs at least two different x values")
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / var


# ---------------------------------------------------------------------------------------------
# The experiments
# ---------------------------------------------------------------------------------------------

def _tokens(vocab_size, batch, T, device, seed=0):
    g = generator(seed)
    return torch.randint(1, vocab_size, (batch, T), generator=g).to(device)  # (B, T), no padding


def train_step_time(model: nn.Module, batch: int, T: int, repeats: int = 5, warmup: int = 1, device="cpu") -> dict:
    """Time one training step of a language model on ``batch`` random sequences of ``T`` tokens.

    A step is the forward pass, the next-token cross-entropy, the backward pass and an Adam
    update, the same for both models.

    Returns:
        The dict of :func:`timeit`, with ``tokens_per_s`` = batch * T / median added.
    """
    _kind(model)
    check_int(batch, "batch", minimum=1)
    check_int(T, "T", minimum=2)
    vocab_size = model.readout.out_features if hasattr(model, "readout") else model.vocab_size
    x = _tokens(vocab_size, batch, T + 1, device)  # (B, T + 1): inputs and next-token targets
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()

    def step():
        logits = model(x[:, :-1])  # (B, T, V)
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), x[:, 1:].reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    result = timeit(step, repeats=repeats, warmup=warmup, device=device)
    result["tokens_per_s"] = batch * T / result["median_s"]
    return result


def _attention_inputs(T, d_head, heads, batch, device, seed=0):
    g = generator(seed)
    return [torch.randn(batch, heads, T, d_head, generator=g).to(device).requires_grad_() for _ in range(3)]


def _attend(kind):
    from .attention import scaled_dot_product_attention

    if kind == "naive":
        return lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True)[0]  # (B, h, T, d_head)
    if kind == "sdpa":
        return lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, h, T, d_head)
    raise ValueError(f"kind must be 'naive' or 'sdpa', got {kind!r}")


def attention_time(kind: str, T: int, d_head: int = 32, heads: int = 4, batch: int = 1, repeats: int = 5,
                   warmup: int = 1, device="cpu") -> dict:
    """Time the forward and backward pass of one causal attention call over T positions.

    ``kind`` is ``"naive"`` (:func:`seqlib.attention.scaled_dot_product_attention`, which
    builds the whole (T, T) score matrix) or ``"sdpa"`` (PyTorch's fused
    ``F.scaled_dot_product_attention``, which picks a fused kernel where it can).

    Returns:
        The dict of :func:`timeit`.
    """
    attend = _attend(kind)
    check_int(T, "T", minimum=1)
    q, k, v = _attention_inputs(T, d_head, heads, batch, device)

    def call():
        attend(q, k, v).sum().backward()

    return timeit(call, repeats=repeats, warmup=warmup, device=device)


def activation_bytes(kind: str, T: int, d_model: int = 64, heads: int = 4, batch: int = 1, device="cpu") -> dict:
    """The training memory of one layer's core over T positions, naive attention, fused attention or an LSTM.

    ``kind`` is ``"naive"`` or ``"sdpa"`` (causal attention over ``heads`` heads of
    d_model / heads features, as in :func:`attention_time`) or ``"lstm"`` (an ``nn.LSTM`` of
    width ``d_model``).

    Returns:
        A dict with ``saved_bytes`` (:func:`saved_bytes`, on any device) and ``peak_bytes``
        (on a GPU, the peak of ``torch.cuda.max_memory_allocated`` during the forward pass
        above what was allocated before it; None on the CPU).
    """
    check_int(T, "T", minimum=1)
    check_int(d_model, "d_model", minimum=1)
    if kind == "lstm":
        layer = nn.LSTM(d_model, d_model, batch_first=True).to(device)
        x = torch.randn(batch, T, d_model, device=device, requires_grad=True)  # (B, T, d)

        def forward():
            return layer(x)[0]
    else:
        attend = _attend(kind)
        if d_model % heads:
            raise ValueError(f"d_model={d_model} must be divisible by heads={heads}")
        q, k, v = _attention_inputs(T, d_model // heads, heads, batch, device)

        def forward():
            return attend(q, k, v)
    result = {"saved_bytes": saved_bytes(forward), "peak_bytes": None}
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        out = forward()
        torch.cuda.synchronize(device)
        result["peak_bytes"] = torch.cuda.max_memory_allocated(device) - before
        del out
    return result


def layer_activation_bytes(kind: str, T: int, d_model: int = 64, heads: int = 4, batch: int = 1,
                           device="cpu") -> dict:
    """The training memory of one whole layer over T positions: a Transformer layer or a matched LSTM.

    Unlike :func:`activation_bytes`, which measures attention's core alone, this counts
    everything a layer keeps for its backward pass:

    - ``"transformer"``: a pre-norm ``nn.TransformerEncoderLayer`` of width ``d_model`` (feed-forward
      width 4 d_model, no dropout) under a causal mask, whose attention PyTorch runs through its
      fused ``F.scaled_dot_product_attention`` (memory linear in T);
    - ``"lstm"``: one ``nn.LSTM`` layer whose width H is chosen so that its 8H^2 + 8H parameters
      match the Transformer layer's 12 d^2 + 13 d (H is about 1.22 d).

    Returns:
        A dict with ``saved_bytes`` (:func:`saved_bytes`), ``params`` and ``width``.
    """
    check_int(T, "T", minimum=1)
    check_int(d_model, "d_model", minimum=1)
    if d_model % heads:
        raise ValueError(f"d_model={d_model} must be divisible by heads={heads}")
    torch_layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0, batch_first=True,
                                             norm_first=True)
    target = sum(p.numel() for p in torch_layer.parameters())  # 12 d^2 + 13 d
    g = generator(0)  # inputs only; the sizes kept do not depend on their values
    if kind == "transformer":
        layer, width = torch_layer.to(device), d_model
        mask = nn.Transformer.generate_square_subsequent_mask(T, device=device)  # (T, T)
        x = torch.randn(batch, T, width, generator=g).to(device).requires_grad_()

        def forward():
            return layer(x, src_mask=mask, is_causal=True)
    elif kind == "lstm":
        width = max(1, round((-8 + math.sqrt(64 + 32 * target)) / 16))  # 8 H^2 + 8 H = target
        layer = nn.LSTM(width, width, batch_first=True).to(device)
        x = torch.randn(batch, T, width, generator=g).to(device).requires_grad_()

        def forward():
            return layer(x)[0]
    else:
        raise ValueError(f"kind must be 'transformer' or 'lstm', got {kind!r}")
    return {"saved_bytes": saved_bytes(forward), "params": sum(p.numel() for p in layer.parameters()),
            "width": width}


def _prefill(model, context, device, batch=1):
    """Read ``context`` tokens; return the last token and the state (LSTM) or cache (Transformer)."""
    from .transformer import TransformerCache

    vocab_size = model.readout.out_features if hasattr(model, "readout") else model.vocab_size
    x = _tokens(vocab_size, batch, context, device)  # (B, t)
    if _kind(model) == "lstm":
        _, state = model.rnn(model.embed(x))  # (h, c), each (L, B, H)
    else:
        state = TransformerCache(len(model.layers.layers))
        model(x, cache=state)
    return x[:, -1:], state


def _lstm_step(model, token, state):
    out, state = model.rnn(model.embed(token), state)  # (B, 1, H)
    return model.readout(out), state  # (B, 1, V)


def generation_latency(model: nn.Module, context: int, new_tokens: int = 8, repeats: int = 5, warmup: int = 1,
                       device="cpu", batch: int = 1) -> dict:
    """The time to generate one token after ``context`` tokens, for ``batch`` sequences together, greedy.

    The context is read once (the LSTM's state, or the Transformer's key/value cache); then
    each timed run generates ``new_tokens`` tokens one at a time from a copy of that state, and
    the time is divided by ``new_tokens``.

    Returns:
        The dict of :func:`timeit` (per token step of the whole batch), with ``state_bytes``
        (:func:`state_bytes`, for one sequence).
    """
    kind = _kind(model)
    check_int(context, "context", minimum=1)
    check_int(new_tokens, "new_tokens", minimum=1)
    check_int(batch, "batch", minimum=1)
    model.eval()
    with torch.no_grad():
        last, state = _prefill(model, context, device, batch)

        def generate():
            token = last
            if kind == "lstm":
                s = state
                for _ in range(new_tokens):
                    logits, s = _lstm_step(model, token, s)
                    token = logits[:, -1].argmax(-1, keepdim=True)  # (B, 1)
            else:
                for cache in state.self_attn:  # keep the prefilled cache: each run starts from context tokens
                    cache.keys, cache.values = cache.keys[:, :, :context], cache.values[:, :, :context]
                for _ in range(new_tokens):
                    logits = model(token, cache=state)  # (B, 1, V)
                    token = logits[:, -1].argmax(-1, keepdim=True)  # (B, 1)

        result = timeit(generate, repeats=repeats, warmup=warmup, device=device)
        for key in ("median_s", "iqr_s", "min_s", "max_s"):
            result[key] /= new_tokens
        result["state_bytes"] = state_bytes(model, context, device=device)
    return result


def state_bytes(model: nn.Module, context: int, device="cpu") -> int:
    """The bytes a language model carries to generate the next token after ``context`` tokens, one sequence.

    For the LSTM, its state (h, c) in every layer, 2 L H numbers whatever the context; for
    the Transformer, its key/value cache, 2 L t d_model numbers. Both are measured on the real
    objects after reading ``context`` tokens.
    """
    kind = _kind(model)
    check_int(context, "context", minimum=1)
    with torch.no_grad():
        _, state = _prefill(model.eval(), context, device)
    if kind == "lstm":
        return sum(t.numel() * t.element_size() for t in state)
    return sum(t.numel() * t.element_size() for c in state.self_attn for t in (c.keys, c.values))


# ---------------------------------------------------------------------------------------------
# The whole run, its file, and the command line
# ---------------------------------------------------------------------------------------------

def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info(device="cpu") -> dict:
    """Where a measurement was taken: device, its name, threads, versions, date (the file's ``machine``)."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    return {"device": device.type,
            "device_name": torch.cuda.get_device_name(device) if cuda else _cpu_name(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__.split("+")[0],
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "cuda": torch.version.cuda if cuda else None,
            "date": datetime.date.today().isoformat()}


def run(vocab_size: int = 64, d_model: int = 128, num_layers: int = 2, nhead: int = 4, batch: int = 16,
        train_T=DEFAULTS["train_T"], attention_T=DEFAULTS["attention_T"], memory_T=DEFAULTS["memory_T"],
        contexts=DEFAULTS["contexts"], repeats: int = 5, warmup: int = 1, device="cpu", label: str = "",
        note: str = "", experiments=EXPERIMENTS, log=None) -> dict:
    """Run the chapter's measurements at the given sizes and return the results dict (see the module docstring).

    ``experiments`` picks a subset of ``("train_step", "attention_time", "activation_memory",
    "generation")``; ``log`` is called with a line of progress per measurement (e.g. ``print``).
    """
    device = torch.device(device)
    for name, sizes in (("train_T", train_T), ("attention_T", attention_T), ("memory_T", memory_T),
                        ("contexts", contexts)):
        for s in sizes:
            check_int(s, f"every size in {name}", minimum=2)
    unknown = set(experiments) - set(EXPERIMENTS)
    if unknown:
        raise ValueError(f"experiments must be among {EXPERIMENTS}, got {sorted(unknown)}")
    log = log or (lambda line: None)
    max_len = max([*train_T, *contexts, 2]) + 64
    seed_everything(0)
    lstm, transformer = lm_pair(vocab_size, d_model, num_layers, nhead, max_len=max_len, device=device)
    models = {"lstm": lstm, "transformer": transformer}
    results = {"schema": SCHEMA, "label": label or f"{device.type}-{torch.get_num_threads()}thread",
               "note": note, "machine": machine_info(device),
               "settings": {"vocab_size": vocab_size, "d_model": d_model, "num_layers": num_layers, "nhead": nhead,
                            "batch": batch, "repeats": repeats, "warmup": warmup},
               "models": {"lstm": {"hidden_size": lstm.rnn.hidden_size, "params": count_parameters(lstm)},
                          "transformer": {"d_model": d_model, "params": count_parameters(transformer)}},
               "measurements": []}
    rows = results["measurements"]

    def add(row):
        rows.append(row)
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))

    if "train_step" in experiments:
        for T in train_T:
            for name, model in models.items():
                add({"experiment": "train_step", "model": name, "T": T, "batch": batch,
                     **train_step_time(model, batch, T, repeats, warmup, device)})
    if "attention_time" in experiments:
        for T in attention_T:
            for kind in ("naive", "sdpa"):
                add({"experiment": "attention_time", "model": kind, "T": T, "batch": 1,
                     **attention_time(kind, T, d_model // nhead, nhead, 1, repeats, warmup, device)})
    if "activation_memory" in experiments:
        for T in memory_T:
            for kind in ("naive", "sdpa", "lstm"):
                add({"experiment": "activation_memory", "model": kind, "T": T, "batch": 1,
                     **activation_bytes(kind, T, d_model, nhead, 1, device)})
    if "generation" in experiments:
        for t in contexts:
            for name, model in models.items():
                add({"experiment": "generation", "model": name, "context": t,
                     **generation_latency(model, t, repeats=repeats, warmup=warmup, device=device)})
    return results


_REQUIRED = {
    "train_step": ("T", "batch", "median_s", "iqr_s", "min_s", "max_s", "repeats", "tokens_per_s"),
    "attention_time": ("T", "median_s", "iqr_s", "min_s", "max_s", "repeats"),
    "activation_memory": ("T", "saved_bytes", "peak_bytes"),
    "generation": ("context", "median_s", "iqr_s", "min_s", "max_s", "repeats", "state_bytes"),
}


def validate_results(results: dict, where: str = "results") -> dict:
    """Check that ``results`` follows the schema of the module docstring; raise ValueError naming what is wrong."""
    if not isinstance(results, dict):
        raise ValueError(f"{where} must be a dict (a JSON object), got {type(results).__name__}")
    if results.get("schema") != SCHEMA:
        raise ValueError(f"{where}: 'schema' must be {SCHEMA!r}, got {results.get('schema')!r}")
    for key in ("label", "machine", "settings", "models", "measurements"):
        if key not in results:
            raise ValueError(f"{where} lacks the key {key!r}")
    for key in ("device", "device_name", "threads", "torch", "python", "date"):
        if key not in results["machine"]:
            raise ValueError(f"{where}: 'machine' lacks the key {key!r}")
    for i, row in enumerate(results["measurements"]):
        experiment = row.get("experiment")
        if experiment not in _REQUIRED:
            raise ValueError(f"{where}: measurement {i} has experiment {experiment!r}, expected one of {EXPERIMENTS}")
        missing = [k for k in ("model", *_REQUIRED[experiment]) if k not in row]
        if missing:
            raise ValueError(f"{where}: measurement {i} ({experiment}) lacks {missing}")
    return results


def save_results(results: dict, path) -> Path:
    """Validate ``results`` and write them to ``path`` as indented JSON; return the path."""
    validate_results(results)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    return path


def load_results(device: str | None = None) -> list:
    """The results files shipped with seqlib (``seqlib/bench_results/*.json``), each validated.

    Args:
        device: keep only the files measured on ``"cpu"`` or ``"cuda"``; None keeps all.

    Returns:
        A list of results dicts (see the module docstring), sorted by label.
    """
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be None, 'cpu' or 'cuda', got {device!r}")
    found = []
    folder = resources.files("seqlib") / "bench_results"
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name.endswith(".json"):
                results = validate_results(json.loads(entry.read_text()), where=entry.name)
                if device is None or results["machine"]["device"] == device:
                    found.append(results)
    return sorted(found, key=lambda r: r["label"])


def _sizes(text: str) -> tuple:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers such as 64,128,256, got {text!r}")
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"every size must be at least 2, got {text!r}")
    return sizes


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m seqlib.bench",
        description="Measure the training time, attention time and memory, and generation latency and state of "
                    "an LSTM and a Transformer language model with matched parameters (Chapter 8), and write "
                    "the results as JSON (schema: see the docstring of seqlib.bench).")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                   help="where to measure; auto = a GPU if present (default: cpu)")
    p.add_argument("--threads", type=_positive, default=1, help="CPU threads for PyTorch (default: 1)")
    p.add_argument("--output", "-o", default="bench_results.json", help="the JSON file to write")
    p.add_argument("--label", default="", help="a short name for this machine (default: device and threads)")
    p.add_argument("--note", default="", help="free text stored in the file")
    p.add_argument("--large", action="store_true", help="the larger sizes meant for a GPU")
    p.add_argument("--repeats", type=_positive, default=DEFAULTS["repeats"], help="timed runs per measurement")
    p.add_argument("--warmup", type=int, default=DEFAULTS["warmup"], help="untimed runs before them")
    for name in ("d_model", "num_layers", "nhead", "batch", "vocab_size"):
        p.add_argument(f"--{name.replace('_', '-')}", type=_positive, default=None)
    for name in ("train_T", "attention_T", "memory_T", "contexts"):
        p.add_argument(f"--{name.replace('_', '-').lower()}", type=_sizes, default=None, dest=name,
                       help="comma-separated sizes")
    p.add_argument("--only", default=",".join(EXPERIMENTS),
                   help=f"comma-separated subset of {','.join(EXPERIMENTS)}")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    return p


def main(argv=None) -> dict:
    """The command line ``python -m seqlib.bench``: run, write the file, return the results."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error(f"--warmup must be 0 or more, got {args.warmup}")
    only = tuple(s for s in args.only.split(",") if s)
    unknown = [s for s in only if s not in EXPERIMENTS]
    if unknown or not only:
        parser.error(f"--only takes a comma-separated subset of {','.join(EXPERIMENTS)}, got {args.only!r}")
    from .runtime import choose_device

    try:
        device = choose_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(args.threads)
    sizes = {**DEFAULTS, **(LARGE if args.large else {})}
    for name in ("d_model", "num_layers", "nhead", "batch", "vocab_size", "train_T", "attention_T", "memory_T",
                 "contexts"):
        if getattr(args, name) is not None:
            sizes[name] = getattr(args, name)
    if sizes["d_model"] % sizes["nhead"]:
        parser.error(f"--d-model ({sizes['d_model']}) must be divisible by --nhead ({sizes['nhead']})")
    begin = time.perf_counter()
    results = run(sizes["vocab_size"], sizes["d_model"], sizes["num_layers"], sizes["nhead"], sizes["batch"],
                  sizes["train_T"], sizes["attention_T"], sizes["memory_T"], sizes["contexts"], args.repeats,
                  args.warmup, device, args.label, args.note, only, log=None if args.quiet else print)
    results["settings"]["seconds"] = round(time.perf_counter() - begin, 1)
    path = save_results(results, args.output)
    if not args.quiet:
        print(f"wrote {len(results['measurements'])} measurements to {path} in {results['settings']['seconds']} s")
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
