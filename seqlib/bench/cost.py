"""The cost of each model, measured: a training step, an attention call, the activation memory,
the latency of generating a token and the state carried while generating (Chapter 8).

See :mod:`seqlib.bench`.
"""
from __future__ import annotations

import math

import torch
from torch import nn
import torch.nn.functional as F

from .._validate import check_int
from ..runtime import generator
from .measure import saved_bytes, timeit
from .models import _kind


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
    from ..attention import scaled_dot_product_attention

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
    from ..transformer import TransformerCache

    vocab_size = model.readout.out_features if hasattr(model, "readout") else model.vocab_size
    x = _tokens(vocab_size, batch, context, device)  # (B, t)
    if _kind(model) == "lstm":
        _, state = model.rnn(model.embed(x))  # (h, c), each (L, B, H)
    else:
        state = TransformerCache(len(model.layers))
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

