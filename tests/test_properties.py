"""seqlib's promises over random shapes and sizes (Hypothesis): what the fixed-case tests check
on one or two hand-picked shapes, checked here on batches, lengths, widths, heads and padded
lengths drawn at random, shrunk to a smallest failing case when one fails.

- parity with PyTorch, outputs and gradients (attention, multi-head attention, recurrent layers
  and cells, Transformer layers);
- causality (layers and language models: the future never changes the past);
- padding invariance (what padded positions hold never reaches a real one);
- no NaN where a query may attend to no key (zeros, and finite gradients);
- a cache equals recomputation (self-attention, cross-attention, rotary, both models);
- permutation equivariance of attention without positions;
- the parallel forms equal the step-by-step ones (scans, linear attention, SSMs);
- ``state_dict`` round trips through ``torch.save`` and ``torch.load(weights_only=True)``.

Every comparison states its tolerance: ``TOL[dtype]``, 1e-10 in float64 (where most parity
checks run, so the bounds are tight) and 1e-5 in float32; bit for bit (``torch.equal``) where
the promise is exact. The runs are deterministic: the ``seqlib`` profile below derandomizes
Hypothesis and writes no example database (nor anything else into the repository);
``SEQLIB_HYPOTHESIS_PROFILE=thorough`` draws ten times as many examples.
"""
import io
import os
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlib import linear_attention as la, models, recurrent, scan, ssm, transformer
from seqlib.attention import (KVCache, MultiHeadAttention, causal_mask, from_torch_masks, masked_softmax,
                              scaled_dot_product_attention)
from seqlib.positions import LearnedPositions, SinusoidalPositions
from seqlib.transformer import (Decoder, DecoderLayer, DecoderOnlyLM, Encoder, EncoderLayer, Transformer,
                                TransformerCache)

# Nothing written into the repository: no example database, and Hypothesis's other caches (of
# the constants it finds in the code under test) go to the system's temporary folder.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "seqlib-hypothesis")
settings.register_profile("seqlib", max_examples=30, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])  # each example builds a model
settings.register_profile("thorough", parent=settings.get_profile("seqlib"), max_examples=300)
settings.load_profile(os.environ.get("SEQLIB_HYPOTHESIS_PROFILE", "seqlib"))

TOL = {torch.float64: 1e-10, torch.float32: 1e-5}  # absolute, on values of order 1
GRAD_TOL = {torch.float64: 1e-9, torch.float32: 1e-4}  # gradients sum more terms
CHANGED = 1e-6  # the least change that counts as "the changed input changed the output"

seeds = st.integers(0, 2 ** 16)
dtypes = st.sampled_from([torch.float32, torch.float64])


def randn(shape, seed, dtype=torch.float64, scale=1.0):
    return scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def close(got, want, atol, what="values"):
    """``got`` equals ``want`` to ``atol`` (absolute, rtol=0), shapes included."""
    assert got.shape == want.shape, f"{what}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    torch.testing.assert_close(got, want, atol=atol, rtol=0, msg=lambda m: f"{what}: {m}")


def same_parameter_grads(mine, theirs):
    """Our parameters' gradients, keyed by PyTorch's parameter names, equal those of the PyTorch
    module ``theirs`` (float64 bound)."""
    their_grads = {name: p.grad for name, p in theirs.named_parameters()}
    assert mine.keys() == their_grads.keys()
    for name in mine:
        close(mine[name], their_grads[name], GRAD_TOL[torch.float64], f"grad of {name}")


def lengths_of(draw, B, T, label="lengths"):
    """B real lengths in 1..T, one of them T (the batch is padded to its longest sequence)."""
    lengths = draw(st.lists(st.integers(1, T), min_size=B, max_size=B), label=label)
    lengths[draw(st.integers(0, B - 1), label=f"longest of the {label}")] = T
    return torch.tensor(lengths)


def real_mask(lengths, T):
    """(B, T), True at real positions."""
    return torch.arange(T)[None, :] < lengths[:, None]


def chunks_of(draw, T):
    """A random partition of 0..T-1 into consecutive blocks, as a decoder feeds them: [(start, stop), ...]."""
    cuts = sorted(draw(st.sets(st.integers(1, T - 1)), label="block boundaries")) if T > 1 else []
    bounds = [0, *cuts, T]
    return list(zip(bounds[:-1], bounds[1:]))


def perturb(module, seed, scale=0.3):
    """Add noise to every parameter (biases and LayerNorms start at 0 and 1: copying them must matter)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


def flat(result):
    """A module's output (a tensor, a pair, (output, (h, c)), ...) -> a list of tensors."""
    if isinstance(result, torch.Tensor):
        return [result]
    return [t for part in result if part is not None for t in flat(part)]


def cotangent_loss(tensors, seed):
    """A fixed random weighted sum of every tensor: a loss whose gradient reaches them all."""
    return sum((randn(t.shape, seed + i, t.dtype) * t).sum() for i, t in enumerate(tensors))


def gradients(loss, leaves, module):
    """The gradients of ``loss`` with respect to ``leaves``; the module's own go to each parameter's ``.grad``.

    Every leaf and every parameter must take part in the loss (autograd refuses one left out).
    """
    grads = torch.autograd.grad(loss, list(leaves) + list(module.parameters()))
    for p, g in zip(module.parameters(), grads[len(leaves):]):
        p.grad = g
    return grads[:len(leaves)]


# ---------------------------------------------------------------------------------------------
# Parity with PyTorch: outputs and gradients
# ---------------------------------------------------------------------------------------------

@given(st.data())
def test_sdpa_matches_pytorch_with_gradients(data):
    """scaled_dot_product_attention equals F.scaled_dot_product_attention, and its weights the
    softmax written out, for any shapes, scale and kind of mask (bool with any broadcast, float,
    or is_causal), and so do the gradients of q, k and v (float64, 1e-10 / 1e-9)."""
    draw = data.draw
    B, H, Tq, Tk = (draw(st.integers(1, n), label=name) for n, name in ((3, "B"), (3, "H"), (6, "Tq"), (6, "Tk")))
    dk, dv = draw(st.integers(1, 5), label="d_k"), draw(st.integers(1, 5), label="d_v")
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]), label="mask")
    scale = draw(st.none() | st.floats(0.1, 2.0), label="scale")
    seed = draw(seeds, label="seed")
    q, k, v = (randn(s, seed + i).requires_grad_() for i, s in enumerate(((B, H, Tq, dk), (B, H, Tk, dk),
                                                                          (B, H, Tk, dv))))
    mask, additive = None, torch.zeros(Tq, Tk, dtype=torch.float64)
    if kind == "bool":  # each leading dimension full or broadcast; every row keeps one key, at random
        shape = tuple(n if draw(st.booleans()) else 1 for n in (B, H, Tq)) + (Tk,)
        g = torch.Generator().manual_seed(seed + 3)
        mask = torch.rand(shape, generator=g) > 0.5
        mask.scatter_(-1, torch.randint(Tk, shape[:-1] + (1,), generator=g), True)
        additive = torch.zeros(shape, dtype=torch.float64).masked_fill(~mask, float("-inf"))
    elif kind == "float":
        mask = additive = randn((Tq, Tk), seed + 3)
    elif kind == "causal":
        additive = additive.masked_fill(~torch.ones(Tq, Tk, dtype=torch.bool).tril(), float("-inf"))
    ours, weights = scaled_dot_product_attention(q, k, v, mask=mask, is_causal=kind == "causal", scale=scale)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=kind == "causal", scale=scale)
    close(ours, theirs, TOL[torch.float64], "output")
    s = dk ** -0.5 if scale is None else scale
    close(weights, torch.softmax(q @ k.transpose(-2, -1) * s + additive, dim=-1), TOL[torch.float64], "weights")
    our_grads = torch.autograd.grad(cotangent_loss([ours], seed), (q, k, v))
    their_grads = torch.autograd.grad(cotangent_loss([theirs], seed), (q, k, v))
    for name, a, b in zip("qkv", our_grads, their_grads):
        close(a, b, GRAD_TOL[torch.float64], f"grad of {name}")


def mha_grads_by_torch_name(ours, prefix=""):
    """Our MultiHeadAttention's gradients under nn.MultiheadAttention's names (in_proj_weight, ...)."""
    grads = {prefix + "in_proj_weight": torch.cat([ours.W_q.weight.grad, ours.W_k.weight.grad, ours.W_v.weight.grad]),
             prefix + "out_proj.weight": ours.W_o.weight.grad}
    if ours.bias:
        grads[prefix + "in_proj_bias"] = torch.cat([ours.W_q.bias.grad, ours.W_k.bias.grad, ours.W_v.bias.grad])
        grads[prefix + "out_proj.bias"] = ours.W_o.bias.grad
    return grads


@given(st.data())
def test_multi_head_attention_matches_pytorch_with_gradients(data):
    """MultiHeadAttention.from_torch computes what nn.MultiheadAttention does, for any number of
    heads and width per head, self- or cross-attention, either layout, with or without biases,
    padded keys and a causal or float attention mask: outputs, weights (averaged or per head),
    and the gradients of the inputs and of every parameter (float64, 1e-10 / 1e-9)."""
    draw = data.draw
    h, d_head, B = draw(st.integers(1, 3), label="heads"), draw(st.integers(1, 3), label="d_head"), \
        draw(st.integers(1, 3), label="B")
    E = h * d_head
    cross = draw(st.booleans(), label="cross")
    Tq = draw(st.integers(1, 6), label="Tq")
    Tk = draw(st.integers(1, 6), label="Tk") if cross else Tq
    bias, batch_first, average = (draw(st.booleans(), label=n) for n in ("bias", "batch_first", "average"))
    padded = draw(st.booleans(), label="padded")
    attn = draw(st.sampled_from(["none", "causal", "float"] if Tq == Tk and not padded else
                                ["none", "causal"] if Tq == Tk else ["none"]), label="attn_mask")
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    theirs = perturb(nn.MultiheadAttention(E, h, bias=bias, batch_first=batch_first, dtype=torch.float64), seed)
    ours = MultiHeadAttention.from_torch(theirs)
    masks = {}  # PyTorch's masks, converted for ours by from_torch_masks
    if padded:  # True at keys to ignore; every sequence keeps at least key 0
        masks["key_padding_mask"] = ~real_mask(lengths_of(draw, B, Tk), Tk)
    if attn == "causal":
        masks["attn_mask"] = ~causal_mask(Tq)  # True where not allowed
    elif attn == "float":
        masks["attn_mask"] = randn((Tq, Tk), seed + 1)
    layout = (lambda n: (B, n, E)) if batch_first else (lambda n: (n, B, E))
    query = randn(layout(Tq), seed + 2).requires_grad_()
    key = randn(layout(Tk), seed + 3).requires_grad_() if cross else query
    value = randn(layout(Tk), seed + 4).requires_grad_() if cross else query
    results = []
    for module in (ours, theirs):
        out, w = module(query, key, value, need_weights=True, average_attn_weights=average,
                        **(from_torch_masks(**masks) if module is ours else masks))
        inputs = (query, key, value) if cross else (query,)
        results.append((out, w, gradients(cotangent_loss([out, w], seed), inputs, module)))
    (out, w, x_grads), (want, want_w, want_x_grads) = results
    close(out, want, TOL[torch.float64], "output")
    close(w, want_w, TOL[torch.float64], "weights")
    for a, b in zip(x_grads, want_x_grads):
        close(a, b, GRAD_TOL[torch.float64], "grad of an input")
    same_parameter_grads(mha_grads_by_torch_name(ours), theirs)


RECURRENT = {"rnn_tanh": (nn.RNN, recurrent.RNN), "rnn_relu": (nn.RNN, recurrent.RNN),
             "lstm": (nn.LSTM, recurrent.LSTM), "gru": (nn.GRU, recurrent.GRU)}


def recurrent_grads_by_torch_name(ours):
    """Our recurrent layer's gradients under PyTorch's names (weight_ih_l1_reverse, ...)."""
    D, grads = ours.num_directions, {}
    for k, cell in enumerate(ours.cells):
        suffix = f"_l{k // D}" + ("_reverse" if k % D else "")
        for mine, theirs in (("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"), ("b_hh", "bias_hh")):
            if getattr(cell, mine) is not None:
                grads[theirs + suffix] = getattr(cell, mine).grad
    return grads


def run_torch_recurrent(module, x, state, lengths):
    """PyTorch's layer on a padded batch, through pack_padded_sequence when lengths are given."""
    if lengths is None:
        return module(x, state)
    steps = x.shape[1] if module.batch_first else x.shape[0]
    packed = pack_padded_sequence(x, lengths, batch_first=module.batch_first, enforce_sorted=False)
    output, final = module(packed, state)
    return pad_packed_sequence(output, batch_first=module.batch_first, total_length=steps)[0], final


@given(st.data())
def test_recurrent_layers_match_pytorch_with_gradients(data):
    """RNN, LSTM and GRU from_torch compute what nn.RNN, nn.LSTM and nn.GRU (packed, for padded
    batches) do, for any size, depth, direction, layout, biases, lengths and initial state: outputs,
    final states and the gradients of the input, the initial state and every weight (float64,
    1e-10 / 1e-9)."""
    draw = data.draw
    kind = draw(st.sampled_from(sorted(RECURRENT)), label="kind")
    I, H, B, T = (draw(st.integers(1, n), label=name) for n, name in ((4, "I"), (4, "H"), (3, "B"), (6, "T")))
    layers, bidirectional, bias, batch_first = draw(st.integers(1, 2), label="layers"), \
        draw(st.booleans(), label="bidirectional"), draw(st.booleans(), label="bias"), \
        draw(st.booleans(), label="batch_first")
    lengths = lengths_of(draw, B, T) if draw(st.booleans(), label="padded") else None
    given_state = draw(st.booleans(), label="given_state")
    seed = draw(seeds, label="seed")
    torch_class, our_class = RECURRENT[kind]
    options = {"nonlinearity": kind.split("_")[1]} if kind.startswith("rnn") else {}
    torch.manual_seed(seed)
    theirs = torch_class(I, H, layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional,
                         dtype=torch.float64, **options)
    ours = our_class.from_torch(theirs)
    x = randn((B, T, I) if batch_first else (T, B, I), seed + 1).requires_grad_()
    shape = (layers * (2 if bidirectional else 1), B, H)
    state = None
    if given_state:
        state = randn(shape, seed + 2).requires_grad_()
        if kind == "lstm":
            state = (state, randn(shape, seed + 3).requires_grad_())
    leaves = [x] + ([] if state is None else list(state) if kind == "lstm" else [state])
    results = []
    for module, run in ((ours, lambda: ours(x, state, lengths)),
                        (theirs, lambda: run_torch_recurrent(theirs, x, state, lengths))):
        outs = flat(run())
        results.append((outs, gradients(cotangent_loss(outs, seed), leaves, module)))
    (outs, x_grads), (want, want_x_grads) = results
    for name, a, b in zip(["output", "h_n", "c_n"], outs, want):
        close(a, b, TOL[torch.float64], name)
    for a, b in zip(x_grads, want_x_grads):
        close(a, b, GRAD_TOL[torch.float64], "grad of the input or the initial state")
    same_parameter_grads(recurrent_grads_by_torch_name(ours), theirs)


CELLS = {"rnn_tanh": (nn.RNNCell, recurrent.RNNCell), "rnn_relu": (nn.RNNCell, recurrent.RNNCell),
         "lstm": (nn.LSTMCell, recurrent.LSTMCell), "gru": (nn.GRUCell, recurrent.GRUCell)}


@given(kind=st.sampled_from(sorted(CELLS)), I=st.integers(1, 5), H=st.integers(1, 5), B=st.integers(1, 4),
       bias=st.booleans(), given_state=st.booleans(), seed=seeds)
def test_cells_match_pytorch_with_gradients(kind, I, H, B, bias, given_state, seed):
    """Each cell's step equals PyTorch's cell's, and so do the gradients of the input, the state
    and the weights, for any sizes (float64, 1e-10 / 1e-9)."""
    torch_class, our_class = CELLS[kind]
    options = {"nonlinearity": kind.split("_")[1]} if kind.startswith("rnn") else {}
    torch.manual_seed(seed)
    theirs = torch_class(I, H, bias=bias, dtype=torch.float64, **options)
    ours = our_class.from_torch(theirs)
    x = randn((B, I), seed + 1).requires_grad_()
    state = None
    if given_state:
        state = randn((B, H), seed + 2).requires_grad_()
        state = (state, randn((B, H), seed + 3).requires_grad_()) if kind == "lstm" else state
    leaves = [x] + ([] if state is None else list(state) if kind == "lstm" else [state])
    results = []
    for module in (ours, theirs):
        outs = flat(module(x, state))
        results.append((outs, torch.autograd.grad(cotangent_loss(outs, seed), leaves + list(module.parameters()))))
    for a, b in zip(results[0][0], results[1][0]):
        close(a, b, TOL[torch.float64], "new state")
    for a, b in zip(results[0][1], results[1][1]):  # the parameters are in the same order (W_ih, W_hh, b_ih, b_hh)
        close(a, b, GRAD_TOL[torch.float64], "gradient")


def layer_grads_by_torch_name(ours):
    """Our Encoder- or DecoderLayer's gradients under PyTorch's names (self_attn.in_proj_weight, linear1.bias, ...)."""
    grads = mha_grads_by_torch_name(ours.self_attn, "self_attn.")
    if hasattr(ours, "cross_attn"):
        grads.update(mha_grads_by_torch_name(ours.cross_attn, "multihead_attn."))
    for mine, theirs in ((ours.feed_forward.W_1, "linear1"), (ours.feed_forward.W_2, "linear2"),
                         *((getattr(ours, f"norm{i}"), f"norm{i}") for i in range(1, ours.sublayers + 1))):
        grads[theirs + ".weight"] = mine.weight.grad
        if mine.bias is not None:
            grads[theirs + ".bias"] = mine.bias.grad
    return grads


@given(st.data())
def test_transformer_layers_match_pytorch_with_gradients(data):
    """EncoderLayer and DecoderLayer from_torch compute what nn.TransformerEncoderLayer and
    nn.TransformerDecoderLayer do (in training mode, dropout 0: PyTorch's step-by-step path), for
    any width, heads, feed-forward width, norm placement, activation, biases, layout, lengths,
    padding and causal masks: outputs and the gradients of the inputs and of every parameter
    (float64, 1e-10 / 1e-9)."""
    draw = data.draw
    kind = draw(st.sampled_from(["encoder", "decoder"]), label="kind")
    h, d_head, FF = draw(st.integers(1, 3), label="heads"), draw(st.integers(1, 3), label="d_head"), \
        draw(st.integers(1, 8), label="FF")
    E = h * d_head
    B, T, S = draw(st.integers(1, 3), label="B"), draw(st.integers(1, 5), label="T"), draw(st.integers(1, 5), label="S")
    norm_first, bias, batch_first, causal = (draw(st.booleans(), label=n)
                                             for n in ("norm_first", "bias", "batch_first", "causal"))
    activation = draw(st.sampled_from(["relu", "gelu"]), label="activation")
    seed = draw(seeds, label="seed")
    torch_class = nn.TransformerEncoderLayer if kind == "encoder" else nn.TransformerDecoderLayer
    torch.manual_seed(seed)
    theirs = perturb(torch_class(E, h, FF, dropout=0.0, activation=activation, norm_first=norm_first, bias=bias,
                                 batch_first=batch_first, dtype=torch.float64), seed)
    ours = (EncoderLayer if kind == "encoder" else DecoderLayer).from_torch(theirs)
    assert ours.training and theirs.training
    layout = (lambda n: (B, n, E)) if batch_first else (lambda n: (n, B, E))
    x = randn(layout(T), seed + 1).requires_grad_()
    masks = {}
    padding = ~real_mask(lengths_of(draw, B, T), T) if draw(st.booleans(), label="padded") else None
    if kind == "encoder":
        leaves, args = [x], (x,)
        masks.update(src_key_padding_mask=padding, src_mask=~causal_mask(T) if causal else None)
    else:
        memory = randn(layout(S), seed + 2).requires_grad_()
        leaves, args = [x, memory], (x, memory)
        memory_padding = ~real_mask(lengths_of(draw, B, S, "memory lengths"), S) \
            if draw(st.booleans(), label="memory_padded") else None
        masks.update(tgt_key_padding_mask=padding, memory_key_padding_mask=memory_padding,
                     tgt_mask=~causal_mask(T) if causal else None)
    results = []
    for module in (ours, theirs):
        out = module(*args, **(from_torch_masks(**masks) if module is ours else masks))
        results.append((out, gradients(cotangent_loss([out], seed), leaves, module)))
    (out, x_grads), (want, want_x_grads) = results
    close(out, want, TOL[torch.float64], "output")
    for a, b in zip(x_grads, want_x_grads):
        close(a, b, GRAD_TOL[torch.float64], "grad of an input")
    same_parameter_grads(layer_grads_by_torch_name(ours), theirs)
    if causal:  # is_causal builds the same mask itself
        flag = {"is_causal": True} if kind == "encoder" else {"tgt_is_causal": True}
        without = {k: v for k, v in masks.items() if k not in ("src_mask", "tgt_mask")}
        with torch.no_grad():
            close(ours(*args, **from_torch_masks(**without), **flag), out.detach(), TOL[torch.float64],
                  "is_causal=True")


# ---------------------------------------------------------------------------------------------
# Causality: the future never changes the past
# ---------------------------------------------------------------------------------------------

def causal_layer(kind, d, seed, draw):
    """A sequence layer that promises causality, as a function x (B, T, d) -> outputs (B, T, ...)."""
    torch.manual_seed(seed)
    if kind == "mha":
        heads = draw(st.sampled_from([1, 2]), label="heads")
        mha = MultiHeadAttention(d, heads, rotary=draw(st.booleans(), label="rotary"),
                                 alibi=draw(st.booleans(), label="alibi"))
        return lambda x: mha(x, x, x, is_causal=True)[0], mha
    if kind == "encoder_layer":
        layer = EncoderLayer(d, 2, 8, dropout=0.0, norm_first=draw(st.booleans(), label="norm_first"))
        return lambda x: layer(x, is_causal=True), layer
    if kind in ("rnn", "lstm", "gru"):  # one direction (a bidirectional layer reads the future by design)
        module = {"rnn": recurrent.RNN, "lstm": recurrent.LSTM, "gru": recurrent.GRU}[kind](
            d, 3, draw(st.integers(1, 2), label="layers"))
        return lambda x: module(x)[0], module
    mode = draw(st.sampled_from(["parallel", "recurrent"] if kind == "linear_attention" else ["scan", "loop"]),
                label="mode")
    if kind == "linear_attention":
        module = la.LinearAttention(d, draw(st.sampled_from([1, 2]), label="heads"),
                                    decay=draw(st.none() | st.floats(0.5, 1.0), label="decay"))
    elif kind == "min_gru":
        module = scan.MinGRU(d, 3)
    elif kind == "selective_ssm":
        module = ssm.SelectiveSSM(d, d_state=3, selective=draw(st.booleans(), label="selective"))
    else:
        module = ssm.MambaBlock(d, d_state=3, d_conv=draw(st.integers(1, 4), label="d_conv"))
    return lambda x: module(x, mode=mode), module


CAUSAL_LAYERS = ["mha", "encoder_layer", "rnn", "lstm", "gru", "linear_attention", "min_gru", "selective_ssm",
                 "mamba_block"]


@given(st.data())
def test_future_inputs_never_change_earlier_outputs_of_causal_layers(data):
    """Rewriting every input from position ``cut`` on leaves the outputs before ``cut`` unchanged
    (TOL[dtype]) and changes the outputs from ``cut`` on (by more than 1e-6), for causal
    attention (rotary or not), a causal encoder layer, one-directional RNN, LSTM and GRU, linear
    attention in either form, minGRU, the selective SSM and the Mamba block, at any length and cut."""
    draw = data.draw
    kind = draw(st.sampled_from(CAUSAL_LAYERS), label="kind")
    dtype = draw(dtypes, label="dtype")
    B, T = draw(st.integers(1, 3), label="B"), draw(st.integers(2, 8), label="T")
    cut = draw(st.integers(1, T - 1), label="cut")
    seed = draw(seeds, label="seed")
    forward, module = causal_layer(kind, 4, seed, draw)
    module.to(dtype).eval()
    x = randn((B, T, 4), seed + 1, dtype)
    changed = x.clone()
    changed[:, cut:] = randn((B, T - cut, 4), seed + 2, dtype, scale=3.0)
    with torch.no_grad():
        before, after = forward(x), forward(changed)
    close(after[:, :cut], before[:, :cut], TOL[dtype], "outputs before the cut")
    assert (after[:, cut:] - before[:, cut:]).abs().max() > CHANGED, "the changed inputs changed nothing"


def language_model(kind, vocab, seed, draw, max_len=16):
    """A tiny language model of ``kind`` with the DecoderOnlyLM interface (token ids -> logits)."""
    torch.manual_seed(seed)
    if kind == "transformer":
        return DecoderOnlyLM(vocab, d_model=8, nhead=2, num_layers=draw(st.integers(1, 2), label="layers"),
                             dim_feedforward=16, dropout=0.0, norm_first=draw(st.booleans(), label="norm_first"),
                             positions=draw(st.sampled_from(transformer.POSITIONS),
                                            label="positions"), max_len=max_len)
    if kind == "linear_attention":
        return la.LinearAttentionLM(vocab, d_model=8, nhead=2, num_layers=draw(st.integers(1, 2), label="layers"),
                                    dim_feedforward=16, decay=draw(st.none() | st.floats(0.5, 1.0), label="decay"),
                                    mode=draw(st.sampled_from(["parallel", "recurrent"]), label="mode"))
    return ssm.MambaLM(vocab, d_model=4, num_layers=draw(st.integers(1, 2), label="layers"), d_state=3,
                       selective=draw(st.booleans(), label="selective"),
                       mode=draw(st.sampled_from(["scan", "loop"]), label="mode"))


@given(st.data())
def test_future_tokens_never_change_earlier_logits_of_the_language_models(data):
    """For the Transformer LM (every position encoding, pre- or post-norm), the linear-attention LM
    and the Mamba LM: changing every token from ``cut`` on leaves the logits before ``cut``
    unchanged (TOL[dtype]) and changes the later ones (by more than 1e-6); padding the batch at
    the end with id 0 leaves every real logit unchanged."""
    draw = data.draw
    kind = draw(st.sampled_from(["transformer", "linear_attention", "mamba"]), label="kind")
    dtype = draw(dtypes, label="dtype")
    B, T = draw(st.integers(1, 3), label="B"), draw(st.integers(2, 8), label="T")
    V = draw(st.integers(3, 12), label="V")
    cut, extra = draw(st.integers(1, T - 1), label="cut"), draw(st.integers(1, 3), label="padding")
    seed = draw(seeds, label="seed")
    lm = language_model(kind, V, seed, draw).to(dtype).eval()
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(1, V, (B, T), generator=g)
    changed = ids.clone()
    shift = torch.randint(1, V - 1, (B, T - cut), generator=g)
    changed[:, cut:] = (ids[:, cut:] - 1 + shift) % (V - 1) + 1  # another real token (1 .. V - 1)
    assert (changed[:, cut:] != ids[:, cut:]).all()
    with torch.no_grad():
        before, after = lm(ids), lm(changed)
        padded = lm(torch.cat([ids, torch.zeros(B, extra, dtype=torch.long)], dim=1))
    close(after[:, :cut], before[:, :cut], TOL[dtype], "logits before the cut")
    assert (after[:, cut:] - before[:, cut:]).abs().max() > CHANGED, "the changed tokens changed nothing"
    close(padded[:, :T], before, TOL[dtype], "logits before the padding")


# ---------------------------------------------------------------------------------------------
# Padding invariance: what padded positions hold never reaches a real one
# ---------------------------------------------------------------------------------------------

def garbage_padded(x, lengths, seed):
    """x with large random values in every padded position."""
    real = real_mask(lengths, x.shape[1])[..., None]  # (B, T, 1)
    return torch.where(real, x, randn(x.shape, seed, x.dtype, scale=100.0))


def padded_recurrent_batch(draw, dtype):
    """Sizes (I, H, layers, bidirectional), lengths, and a padded batch with garbage in its padding."""
    B, T, I, H = (draw(st.integers(lo, hi), label=name) for lo, hi, name in ((1, 3, "B"), (1, 6, "T"),
                                                                           (1, 3, "I"), (1, 4, "H")))
    layers, bidirectional = draw(st.integers(1, 2), label="layers"), draw(st.booleans(), label="bidirectional")
    lengths = lengths_of(draw, B, T)
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    return (I, H, layers, bidirectional), lengths, garbage_padded(randn((B, T, I), seed + 1, dtype), lengths, seed + 2)


@given(st.data())
def test_padded_steps_never_change_the_real_positions_of_recurrent_layers(data):
    """Our RNN, LSTM and GRU, any depth, either direction: each sequence of a padded batch, garbage
    in its padding, gets the outputs and final states it gets alone, unpadded (TOL[dtype]), and
    outputs of exactly 0 at its padded steps."""
    kind = data.draw(st.sampled_from(["rnn", "lstm", "gru"]), label="kind")
    dtype = data.draw(dtypes, label="dtype")
    (I, H, layers, bidirectional), lengths, x = padded_recurrent_batch(data.draw, dtype)
    module = {"rnn": recurrent.RNN, "lstm": recurrent.LSTM, "gru": recurrent.GRU}[kind](
        I, H, layers, bidirectional=bidirectional).to(dtype).eval()
    padding = ~real_mask(lengths, x.shape[1])
    with torch.no_grad():
        output, *states = flat(module(x, lengths=lengths))
        assert torch.equal(output[padding], torch.zeros_like(output[padding]))
        for b, n in enumerate(lengths.tolist()):
            alone_output, *alone_states = flat(module(x[b:b + 1, :n]))
            close(output[b:b + 1, :n], alone_output, TOL[dtype], f"outputs of sequence {b}")
            for s, a in zip(states, alone_states):
                close(s[:, b:b + 1], a, TOL[dtype], f"final state of sequence {b}")


@given(st.data())
def test_padded_steps_never_change_the_recurrent_models_answers(data):
    """RecurrentModel (PyTorch's fused layers, packed), any kind, depth and direction, read out at
    the last real step or at every step: each sequence of a padded batch, garbage in its padding,
    gets the answers it gets alone, unpadded (TOL[dtype])."""
    kind = data.draw(st.sampled_from(sorted(models.KINDS)), label="kind")
    dtype = data.draw(dtypes, label="dtype")
    per_step = data.draw(st.booleans(), label="per_step")
    (I, H, layers, bidirectional), lengths, x = padded_recurrent_batch(data.draw, dtype)
    model = models.RecurrentModel(kind, I, H, 2, num_layers=layers, bidirectional=bidirectional,
                                  per_step=per_step).to(dtype).eval()
    with torch.no_grad():
        batched = model(x, lengths)
        for b, n in enumerate(lengths.tolist()):
            close(batched[b:b + 1, :n] if per_step else batched[b:b + 1], model(x[b:b + 1, :n]), TOL[dtype],
                  f"sequence {b}")


@given(st.data())
def test_padded_keys_never_change_the_real_positions_of_self_attention(data):
    """Multi-head self-attention, encoder layers and encoder stacks with the padded keys masked:
    each sequence's real positions, garbage in its padding, get what the sequence gets alone,
    unpadded (TOL[dtype])."""
    draw = data.draw
    kind = draw(st.sampled_from(["mha", "encoder_layer", "encoder"]), label="kind")
    dtype = draw(dtypes, label="dtype")
    h, d_head = draw(st.integers(1, 2), label="heads"), draw(st.integers(1, 3), label="d_head")
    E, B, T = h * d_head, draw(st.integers(1, 3), label="B"), draw(st.integers(1, 6), label="T")
    norm_first = draw(st.booleans(), label="norm_first")
    lengths = lengths_of(draw, B, T)
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    if kind == "mha":
        module = MultiHeadAttention(E, h)
        forward = lambda x, real: module(x, x, x, key_mask=real)[0]  # noqa: E731
    else:
        module = EncoderLayer(E, h, 8, dropout=0.0, norm_first=norm_first) if kind == "encoder_layer" else \
            Encoder(2, E, h, 8, dropout=0.0, norm_first=norm_first)
        forward = lambda x, real: module(x, key_mask=real)  # noqa: E731
    perturb(module, seed).to(dtype).eval()
    x = garbage_padded(randn((B, T, E), seed + 1, dtype), lengths, seed + 2)
    with torch.no_grad():
        batched = forward(x, real_mask(lengths, T))
        for b, n in enumerate(lengths.tolist()):
            close(batched[b:b + 1, :n], forward(x[b:b + 1, :n], None), TOL[dtype], f"sequence {b}")


@given(st.data())
def test_padded_memory_never_changes_the_cross_attention(data):
    """Cross-attention and decoder layers with the memory's padding masked: each target, garbage
    in its memory's padding, gets what it gets from its memory alone, unpadded (TOL[dtype])."""
    draw = data.draw
    kind = draw(st.sampled_from(["cross_attention", "decoder_layer"]), label="kind")
    dtype = draw(dtypes, label="dtype")
    h, d_head = draw(st.integers(1, 2), label="heads"), draw(st.integers(1, 3), label="d_head")
    E, B = h * d_head, draw(st.integers(1, 3), label="B")
    T, S = draw(st.integers(1, 6), label="T"), draw(st.integers(1, 6), label="S")
    lengths = lengths_of(draw, B, S)
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    if kind == "cross_attention":
        module = MultiHeadAttention(E, h)
        forward = lambda tgt, memory, real: module(tgt, memory, memory, key_mask=real)[0]  # noqa: E731
    else:
        module = DecoderLayer(E, h, 8, dropout=0.0, norm_first=draw(st.booleans(), label="norm_first"))
        forward = lambda tgt, memory, real: module(tgt, memory, tgt_is_causal=True,  # noqa: E731
                                                   memory_key_mask=real)
    perturb(module, seed).to(dtype).eval()
    tgt = randn((B, T, E), seed + 1, dtype)
    memory = garbage_padded(randn((B, S, E), seed + 2, dtype), lengths, seed + 3)
    with torch.no_grad():
        batched = forward(tgt, memory, real_mask(lengths, S))
        for b, n in enumerate(lengths.tolist()):
            close(batched[b:b + 1], forward(tgt[b:b + 1], memory[b:b + 1, :n], None), TOL[dtype], f"sequence {b}")


@given(st.data())
def test_padding_never_changes_the_real_logits_of_the_transformer(data):
    """Transformer with src_lengths: other tokens in the padded source positions leave the logits
    unchanged, and each pair of sequences alone, unpadded, gets the logits it gets in the batch;
    with tgt_lengths, the real target positions keep their logits (TOL[dtype])."""
    draw = data.draw
    dtype = draw(dtypes, label="dtype")
    B, S, T = draw(st.integers(1, 3), label="B"), draw(st.integers(1, 6), label="S"), draw(st.integers(1, 6), label="T")
    src_lengths, tgt_lengths = lengths_of(draw, B, S, "src lengths"), lengths_of(draw, B, T, "tgt lengths")
    positions = draw(st.sampled_from(transformer.POSITIONS), label="positions")
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    model = Transformer(9, 11, d_model=8, nhead=2, num_encoder_layers=draw(st.integers(1, 2), label="enc_layers"),
                        num_decoder_layers=draw(st.integers(1, 2), label="dec_layers"), dim_feedforward=16,
                        dropout=0.0, norm_first=draw(st.booleans(), label="norm_first"), positions=positions,
                        max_len=8).to(dtype).eval()
    g = torch.Generator().manual_seed(seed + 1)
    real = real_mask(src_lengths, S)
    src = torch.where(real, torch.randint(1, 9, (B, S), generator=g), 0)
    other = torch.where(real, src, torch.randint(1, 9, (B, S), generator=g))  # other tokens at the padding
    tgt = torch.randint(1, 11, (B, T), generator=g)
    with torch.no_grad():
        clean = model(src, src_lengths, tgt)
        close(model(other, src_lengths, tgt), clean, TOL[dtype], "logits with other padding tokens")
        for b, n in enumerate(src_lengths.tolist()):
            close(model(src[b:b + 1, :n], None, tgt[b:b + 1]), clean[b:b + 1], TOL[dtype], f"pair {b} alone")
        padded_tgt = torch.where(real_mask(tgt_lengths, T), tgt, 0)
        with_padding = model(src, src_lengths, padded_tgt, tgt_lengths)
        for b, n in enumerate(tgt_lengths.tolist()):
            close(with_padding[b, :n], clean[b, :n], TOL[dtype], f"real target positions of pair {b}")


# ---------------------------------------------------------------------------------------------
# A query that may attend to no key: zeros, never NaN
# ---------------------------------------------------------------------------------------------

@given(st.data())
def test_rows_with_no_allowed_key_give_zeros_and_finite_gradients(data):
    """masked_softmax and scaled_dot_product_attention with any set of rows masked entirely, by a
    bool or an additive (-inf) mask: those rows get weights and outputs of exactly 0, not NaN, and
    the gradient of their queries is exactly 0; the other rows' weights sum to 1 (TOL[dtype]) and
    are exactly 0 on masked keys; every gradient is finite; the output equals PyTorch's (which
    returns zeros there too since 2.5), to TOL[dtype]."""
    draw = data.draw
    dtype = draw(dtypes, label="dtype")
    B, H, Tq, Tk, d = (draw(st.integers(1, n), label=name) for n, name in ((2, "B"), (2, "H"), (5, "Tq"), (5, "Tk"),
                                                                           (4, "d")))
    additive = draw(st.booleans(), label="additive")
    seed = draw(seeds, label="seed")
    g = torch.Generator().manual_seed(seed)
    allowed = torch.rand(B, H, Tq, Tk, generator=g) > 0.5
    allowed.scatter_(-1, torch.randint(Tk, (B, H, Tq, 1), generator=g), True)  # every row keeps a key ...
    empty = torch.rand(B, H, Tq, generator=g) < 0.3
    empty.view(-1)[torch.randint(empty.numel(), (1,), generator=g)] = True  # ... but these rows, at least one
    allowed &= ~empty[..., None]
    mask = allowed if not additive else \
        randn(allowed.shape, seed + 1, dtype).masked_fill(~allowed, float("-inf"))  # finite where allowed
    q, k, v = (randn((B, H, T, d), seed + 2 + i, dtype).requires_grad_() for i, T in enumerate((Tq, Tk, Tk)))
    weights = masked_softmax(q @ k.transpose(-2, -1), mask)
    out, sdpa_weights = scaled_dot_product_attention(q, k, v, mask=mask)
    for w in (weights, sdpa_weights):
        assert not w.isnan().any()
        assert torch.equal(w[empty], torch.zeros_like(w[empty]))
        assert torch.equal(w[~allowed], torch.zeros_like(w[~allowed]))
        close(w.sum(-1)[~empty], torch.ones(int((~empty).sum()), dtype=dtype), TOL[dtype], "row sums")
    assert torch.equal(out[empty], torch.zeros_like(out[empty]))
    grads = torch.autograd.grad(cotangent_loss([out, weights], seed), (q, k, v))
    assert all(torch.isfinite(t).all() for t in grads)
    assert torch.equal(grads[0][empty], torch.zeros_like(grads[0][empty]))
    close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), TOL[dtype], "output against PyTorch's")


@given(st.data())
def test_queries_with_no_allowed_key_never_give_nan_in_the_layers(data):
    """Multi-head attention, encoder and decoder layers with left padding under a causal mask (the
    first queries of a left-padded sequence see only padding, a sequence of length 0 sees
    nothing; a decoder's memory may be all padding too): every output and every gradient is
    finite; in multi-head attention those queries' outputs are exactly W_o's bias (no value
    reaches them)."""
    draw = data.draw
    kind = draw(st.sampled_from(["mha", "encoder_layer", "decoder_layer"]), label="kind")
    dtype = draw(dtypes, label="dtype")
    h, d_head = draw(st.integers(1, 2), label="heads"), draw(st.integers(1, 3), label="d_head")
    E, B, T = h * d_head, draw(st.integers(1, 3), label="B"), draw(st.integers(2, 6), label="T")
    lengths = lengths_of(draw, B, T)
    short = draw(st.integers(0, B - 1), label="short sequence")
    lengths[short] = draw(st.integers(0, T - 1), label="its length")  # less than T: left-padded
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    pad = torch.arange(T)[None, :] < (T - lengths)[:, None]  # (B, T): True at the padding, at the start
    blind = pad  # under the causal mask, query t sees keys <= t: at the padding, nothing but padding
    x = randn((B, T, E), seed + 1, dtype).requires_grad_()
    if kind == "mha":
        module = MultiHeadAttention(E, h)
        forward = lambda: module(x, x, x, key_mask=~pad, is_causal=True)[0]  # noqa: E731
    elif kind == "encoder_layer":
        module = EncoderLayer(E, h, 8, dropout=0.0, norm_first=draw(st.booleans(), label="norm_first"))
        forward = lambda: module(x, key_mask=~pad, is_causal=True)  # noqa: E731
    else:
        module = DecoderLayer(E, h, 8, dropout=0.0, norm_first=draw(st.booleans(), label="norm_first"))
        memory = randn((B, 3, E), seed + 2, dtype)
        memory_real = real_mask(torch.tensor(draw(st.lists(st.integers(0, 3), min_size=B, max_size=B),
                                                  label="memory_lengths")), 3)  # a memory may be all padding
        forward = lambda: module(x, memory, tgt_key_mask=~pad, tgt_is_causal=True,  # noqa: E731
                                 memory_key_mask=memory_real)
    perturb(module, seed).to(dtype).eval()
    out = forward()
    assert blind.any()
    assert torch.isfinite(out).all(), "NaN or inf in the output"
    grads = torch.autograd.grad(cotangent_loss([out], seed), [x, *module.parameters()])
    assert all(torch.isfinite(g).all() for g in grads), "NaN or inf in a gradient"
    if kind == "mha":
        assert torch.equal(out[blind], module.W_o.bias.expand(int(blind.sum()), E))


# ---------------------------------------------------------------------------------------------
# A cache equals recomputation
# ---------------------------------------------------------------------------------------------

@given(st.data())
def test_self_attention_cache_equals_recomputation(data):
    """Causal multi-head self-attention fed through a KVCache in any partition of the sequence into
    blocks (a token at a time, several, all at once), rotary or not, ALiBi or not, with or without padded keys:
    each block's outputs and weights are the rows of one pass over the whole sequence
    (TOL[dtype]), and the cache ends holding every key."""
    draw = data.draw
    dtype = draw(dtypes, label="dtype")
    h, d_head = draw(st.integers(1, 2), label="heads"), draw(st.sampled_from([2, 4]), label="d_head")
    rotary, alibi = draw(st.booleans(), label="rotary"), draw(st.booleans(), label="alibi")
    B, T = draw(st.integers(1, 3), label="B"), draw(st.integers(1, 8), label="T")
    blocks = chunks_of(draw, T)
    real = real_mask(lengths_of(draw, B, T), T) if draw(st.booleans(), label="padded") else None
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    mha = perturb(MultiHeadAttention(h * d_head, h, rotary=rotary, alibi=alibi), seed).to(dtype).eval()
    x = randn((B, T, h * d_head), seed + 1, dtype)
    cache = KVCache()
    with torch.no_grad():
        full, full_w = mha(x, x, x, key_mask=real, is_causal=True)
        for start, stop in blocks:
            new = x[:, start:stop]
            out, w = mha(new, new, new, key_mask=None if real is None else real[:, :stop], is_causal=True,
                         cache=cache)
            close(out, full[:, start:stop], TOL[dtype], f"outputs of block {start}:{stop}")
            close(w, full_w[:, start:stop, :stop], TOL[dtype], f"weights of block {start}:{stop}")
    assert cache.length == T and cache.queries == T


@given(st.data())
def test_cross_attention_static_cache_equals_recomputation(data):
    """Cross-attention through a static KVCache (the memory projected by the first call, then
    read), the target fed in any partition into blocks, causal or not, rotary or not, with or
    without a padded memory: the outputs are those of one pass over the whole target (TOL[dtype]),
    and the cached keys are the first call's."""
    draw = data.draw
    dtype = draw(dtypes, label="dtype")
    h, d_head = draw(st.integers(1, 2), label="heads"), draw(st.sampled_from([2, 4]), label="d_head")
    rotary, causal = draw(st.booleans(), label="rotary"), draw(st.booleans(), label="causal")
    B, T, S = draw(st.integers(1, 3), label="B"), draw(st.integers(1, 7), label="T"), draw(st.integers(1, 7), label="S")
    blocks = chunks_of(draw, T)
    real = real_mask(lengths_of(draw, B, S), S) if draw(st.booleans(), label="padded") else None
    memory_again = draw(st.booleans(), label="memory_again")  # later calls may pass the memory again: it is ignored
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    mha = perturb(MultiHeadAttention(h * d_head, h, rotary=rotary), seed).to(dtype).eval()
    x, memory = randn((B, T, h * d_head), seed + 1, dtype), randn((B, S, h * d_head), seed + 2, dtype)
    cache = KVCache(static=True)
    with torch.no_grad():
        full, _ = mha(x, memory, memory, key_mask=real, is_causal=causal)
        steps = []
        for i, (start, stop) in enumerate(blocks):
            given_memory = memory if i == 0 or memory_again else None
            steps.append(mha(x[:, start:stop], given_memory, given_memory, key_mask=real, is_causal=causal,
                             cache=cache)[0])
            keys = cache.keys if i == 0 else keys
            assert cache.keys is keys
    close(torch.cat(steps, dim=1), full, TOL[dtype], "outputs")
    assert cache.length == S and cache.queries == T


@given(st.data())
def test_language_model_cache_equals_recomputation(data):
    """DecoderOnlyLM with a TransformerCache, the tokens fed in any partition into blocks, for every
    position encoding (sinusoids past the precomputed table included), pre- or post-norm: the
    logits are those of one pass over the whole sequence (TOL[dtype])."""
    draw = data.draw
    dtype = draw(dtypes, label="dtype")
    B, T = draw(st.integers(1, 3), label="B"), draw(st.integers(1, 9), label="T")
    V = draw(st.integers(2, 12), label="V")
    blocks = chunks_of(draw, T)
    positions = draw(st.sampled_from(transformer.POSITIONS), label="positions")
    max_len = draw(st.integers(T if positions == "learned" else 1, T + 2), label="max_len")
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    layers = draw(st.integers(1, 2), label="layers")
    lm = DecoderOnlyLM(V, d_model=8, nhead=2, num_layers=layers, dim_feedforward=16, dropout=0.0,
                       norm_first=draw(st.booleans(), label="norm_first"), positions=positions,
                       max_len=max_len).to(dtype).eval()
    ids = torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed + 1))
    cache = TransformerCache(layers)
    with torch.no_grad():
        full = lm(ids)
        steps = [lm(ids[:, start:stop], cache=cache) for start, stop in blocks]
    close(torch.cat(steps, dim=1), full, TOL[dtype], "logits")
    assert cache.length == T


@given(st.data())
def test_transformer_decoding_cache_equals_recomputation(data):
    """Transformer.decode with a TransformerCache (self-attention caches and the cross-attention's
    static ones), the target fed in any partition into blocks, for every position encoding,
    with padded sources: the logits are those of one pass over the whole target (TOL[dtype])."""
    draw = data.draw
    dtype = draw(dtypes, label="dtype")
    B, S, T = draw(st.integers(1, 3), label="B"), draw(st.integers(1, 6), label="S"), draw(st.integers(1, 7), label="T")
    blocks = chunks_of(draw, T)
    src_lengths = lengths_of(draw, B, S)
    positions = draw(st.sampled_from(transformer.POSITIONS), label="positions")
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    layers = draw(st.integers(1, 2), label="dec_layers")
    model = Transformer(9, 11, d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=layers,
                        dim_feedforward=16, dropout=0.0, norm_first=draw(st.booleans(), label="norm_first"),
                        positions=positions, max_len=8).to(dtype).eval()
    g = torch.Generator().manual_seed(seed + 1)
    src = torch.where(real_mask(src_lengths, S), torch.randint(1, 9, (B, S), generator=g), 0)
    tgt = torch.randint(1, 11, (B, T), generator=g)
    cache = TransformerCache(layers, cross_attention=True)
    with torch.no_grad():
        memory = model.encode(src, src_lengths)
        full = model.decode(tgt, memory, src_lengths)
        steps = [model.decode(tgt[:, start:stop], memory, src_lengths, cache=cache) for start, stop in blocks]
    close(torch.cat(steps, dim=1), full, TOL[dtype], "logits")
    assert cache.length == T


# ---------------------------------------------------------------------------------------------
# Permutation equivariance: attention without positions ignores order
# ---------------------------------------------------------------------------------------------

@given(st.data())
def test_self_attention_without_positions_is_permutation_equivariant(data):
    """Permuting the positions of the input (and of its key padding mask alike) permutes the
    outputs of multi-head self-attention (and the rows and columns of its weights), of encoder
    layers and stacks, and of a decoder layer's target without a causal mask (TOL[dtype]).

    The layers are compared in float64 only: permuting the keys reorders the attention's sums,
    and a LayerNorm over a few features that happen to be nearly equal (variance 1e-8, against
    its eps of 1e-5) magnifies float32's rounding of them past 1e-5 (found by the thorough
    profile: 1e-4 apart in float32, 0 in float64)."""
    draw = data.draw
    kind = draw(st.sampled_from(["mha", "encoder_layer", "encoder", "decoder_layer"]), label="kind")
    dtype = draw(dtypes if kind == "mha" else st.just(torch.float64), label="dtype")
    h, d_head = draw(st.integers(1, 2), label="heads"), draw(st.integers(1, 3), label="d_head")
    E, B, T = h * d_head, draw(st.integers(1, 3), label="B"), draw(st.integers(1, 6), label="T")
    perm = torch.tensor(draw(st.permutations(range(T)), label="perm"))
    seed = draw(seeds, label="seed")
    g = torch.Generator().manual_seed(seed)
    pad = None
    if draw(st.booleans(), label="padded"):  # any keys padded, not only the last ones; one stays real
        pad = torch.rand(B, T, generator=g) < 0.4
        pad[torch.arange(B), torch.randint(T, (B,), generator=g)] = False
    torch.manual_seed(seed)
    norm_first = draw(st.booleans(), label="norm_first")
    memory = randn((B, 3, E), seed + 1, dtype)
    if kind == "mha":
        module = MultiHeadAttention(E, h)
        forward = lambda x, real: module(x, x, x, key_mask=real, average_attn_weights=False)  # noqa: E731
    elif kind == "decoder_layer":
        module = DecoderLayer(E, h, 8, dropout=0.0, norm_first=norm_first)
        forward = lambda x, real: module(x, memory, tgt_key_mask=real)  # noqa: E731
    else:
        module = EncoderLayer(E, h, 8, dropout=0.0, norm_first=norm_first) if kind == "encoder_layer" else \
            Encoder(2, E, h, 8, dropout=0.0, norm_first=norm_first)
        forward = lambda x, real: module(x, key_mask=real)  # noqa: E731
    perturb(module, seed).to(dtype).eval()
    x = randn((B, T, E), seed + 2, dtype)
    with torch.no_grad():
        real = None if pad is None else ~pad  # (B, T): True at the real keys
        out, permuted = forward(x, real), forward(x[:, perm], None if real is None else real[:, perm])
    if kind == "mha":
        (out, w), (permuted, w_p) = out, permuted
        close(w_p, w[:, :, perm][..., perm], TOL[dtype], "weights")
    close(permuted, out[:, perm], TOL[dtype], "outputs")


@given(st.data())
def test_cross_attention_is_invariant_to_the_order_of_the_memory(data):
    """Permuting the memory's positions (and its padding mask alike) changes nothing in what
    cross-attention or a decoder layer (causal over its target or not) returns (TOL[dtype])."""
    draw = data.draw
    kind = draw(st.sampled_from(["cross_attention", "decoder_layer"]), label="kind")
    dtype = draw(dtypes, label="dtype")
    h, d_head = draw(st.integers(1, 2), label="heads"), draw(st.integers(1, 3), label="d_head")
    E, B = h * d_head, draw(st.integers(1, 3), label="B")
    T, S = draw(st.integers(1, 5), label="T"), draw(st.integers(1, 6), label="S")
    perm = torch.tensor(draw(st.permutations(range(S)), label="perm"))
    real = real_mask(lengths_of(draw, B, S), S) if draw(st.booleans(), label="padded") else None
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    if kind == "cross_attention":
        module = MultiHeadAttention(E, h)
        forward = lambda memory, real: module(x, memory, memory, key_mask=real)[0]  # noqa: E731
    else:
        module = DecoderLayer(E, h, 8, dropout=0.0, norm_first=draw(st.booleans(), label="norm_first"))
        causal = draw(st.booleans(), label="causal")
        forward = lambda memory, real: module(x, memory, tgt_is_causal=causal,  # noqa: E731
                                              memory_key_mask=real)
    perturb(module, seed).to(dtype).eval()
    x, memory = randn((B, T, E), seed + 1, dtype), randn((B, S, E), seed + 2, dtype)
    with torch.no_grad():
        out, permuted = forward(memory, real), forward(memory[:, perm], None if real is None else real[:, perm])
    close(permuted, out, TOL[dtype], "outputs")


# ---------------------------------------------------------------------------------------------
# Parallel forms equal the step-by-step ones
# ---------------------------------------------------------------------------------------------

@given(B=st.integers(1, 3), T=st.integers(1, 20), trailing=st.lists(st.integers(1, 3), max_size=2),
       with_h0=st.booleans(), seed=seeds)
def test_linear_recurrence_scan_equals_loop_with_gradients(B, T, trailing, with_h0, seed):
    """The Hillis-Steele scan gives the loop's states h_t = a_t h_{t-1} + b_t for any length (powers
    of 2 or not), trailing shape and initial state, decays of either sign, and so do the
    gradients of a, b and h0 (float64, 1e-10 / 1e-9)."""
    shape = (B, T, *trailing)
    a = (2 * torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) - 1)
    a.requires_grad_()
    b = randn(shape, seed + 1).requires_grad_()
    h0 = randn((B, *trailing), seed + 2).requires_grad_() if with_h0 else None
    leaves = [a, b] + ([h0] if with_h0 else [])
    results = []
    for fn in (scan.linear_recurrence_scan, scan.linear_recurrence_loop):
        h = fn(a, b, h0)
        results.append((h, torch.autograd.grad(cotangent_loss([h], seed), leaves)))
    close(results[0][0], results[1][0], TOL[torch.float64], "states")
    for name, x, y in zip(["a", "b", "h0"], results[0][1], results[1][1]):
        close(x, y, GRAD_TOL[torch.float64], f"grad of {name}")


@given(B=st.integers(1, 3), heads=st.lists(st.integers(1, 3), max_size=1), T=st.integers(1, 12),
       d_k=st.integers(1, 4), d_v=st.integers(1, 4), decay=st.none() | st.floats(0.05, 1.0),
       normalize=st.booleans(), seed=seeds)
def test_linear_attention_parallel_equals_recurrent_with_gradients(B, heads, T, d_k, d_v, decay, normalize, seed):
    """Linear attention's masked (T x T) form and its recurrence with a fixed-size state give the
    same outputs, and the same gradients of q, k and v, for any shapes, decay and normalisation
    (float64, 1e-10 / 1e-9)."""
    shape = (B, *heads, T)
    q, k, v = (randn(shape + (d,), seed + i).requires_grad_() for i, d in enumerate((d_k, d_k, d_v)))
    results = []
    for fn in (la.linear_attention_parallel, la.linear_attention_recurrent):
        out = fn(q, k, v, decay, normalize)
        results.append((out, torch.autograd.grad(cotangent_loss([out], seed), (q, k, v))))
    close(results[0][0], results[1][0], TOL[torch.float64], "outputs")
    for name, x, y in zip("qkv", results[0][1], results[1][1]):
        close(x, y, GRAD_TOL[torch.float64], f"grad of {name}")


@given(B=st.integers(1, 3), T=st.integers(1, 16), d=st.integers(1, 4), n=st.integers(1, 4), with_D=st.booleans(),
       seed=seeds)
def test_selective_scan_equals_loop_with_gradients(B, T, d, n, with_D, seed):
    """selective_scan by the parallel scan equals its loop, outputs and the gradients of x, Delta,
    A, B, C and D, for any sizes (float64, 1e-10 / 1e-9)."""
    g = torch.Generator().manual_seed(seed)
    x = randn((B, T, d), seed + 1)
    delta = torch.rand(B, T, d, generator=g, dtype=torch.float64) * 0.5 + 0.01
    A = -torch.rand(d, n, generator=g, dtype=torch.float64) * 2 - 0.1
    Bm, C = randn((B, T, n), seed + 2), randn((B, T, n), seed + 3)
    D = randn((d,), seed + 4) if with_D else None
    leaves = [t.requires_grad_() for t in (x, delta, A, Bm, C) + ((D,) if with_D else ())]
    results = []
    for mode in ("scan", "loop"):
        y = ssm.selective_scan(x, delta, A, Bm, C, D, mode=mode)
        results.append((y, torch.autograd.grad(cotangent_loss([y], seed), leaves)))
    close(results[0][0], results[1][0], TOL[torch.float64], "outputs")
    for name, p, q in zip(["x", "delta", "A", "B", "C", "D"], results[0][1], results[1][1]):
        close(p, q, GRAD_TOL[torch.float64], f"grad of {name}")


TWO_FORMS = {  # a module, its input and its two modes: the parallel one, then the step-by-step one
    "min_gru": (lambda d: scan.MinGRU(d, 3), "float", ("scan", "loop")),
    "linear_attention": (lambda d: la.LinearAttention(d, 2, decay=0.9), "float", ("parallel", "recurrent")),
    "linear_attention_lm": (lambda d: la.LinearAttentionLM(7, d, 2, 2, 8), "ids", ("parallel", "recurrent")),
    "selective_ssm": (lambda d: ssm.SelectiveSSM(d, d_state=3), "float", ("scan", "loop")),
    "time_invariant_ssm": (lambda d: ssm.SelectiveSSM(d, d_state=3, selective=False), "float", ("scan", "loop")),
    "mamba_block": (lambda d: ssm.MambaBlock(d, d_state=3), "float", ("scan", "loop")),
    "mamba_lm": (lambda d: ssm.MambaLM(7, d, 2, d_state=3), "ids", ("scan", "loop")),
}


@given(kind=st.sampled_from(sorted(TWO_FORMS)), B=st.integers(1, 3), T=st.integers(1, 10), seed=seeds)
def test_models_parallel_form_equals_step_by_step_with_gradients(kind, B, T, seed):
    """minGRU, linear attention (layer and LM), the selective and time-invariant SSMs, the Mamba
    block and LM: the parallel mode and the step-by-step mode give the same outputs and the same
    gradient for every parameter (float64, 1e-10 / 1e-9)."""
    build, inputs, modes = TWO_FORMS[kind]
    torch.manual_seed(seed)
    module = build(4).double()
    x = randn((B, T, 4), seed + 1) if inputs == "float" else \
        torch.randint(0, 7, (B, T), generator=torch.Generator().manual_seed(seed + 1))
    results = []
    for mode in modes:
        out = module(x, mode=mode)
        results.append((out, torch.autograd.grad(cotangent_loss([out], seed), list(module.parameters()))))
    close(results[0][0], results[1][0], TOL[torch.float64], "outputs")
    for (name, _), p, q in zip(module.named_parameters(), results[0][1], results[1][1]):
        close(p, q, GRAD_TOL[torch.float64], f"grad of {name}")


# ---------------------------------------------------------------------------------------------
# state_dict round trips with torch.load(weights_only=True)
# ---------------------------------------------------------------------------------------------

def floats(B, T, d):
    return lambda seed, dtype: (randn((B, T, d), seed, dtype),)


def ids(B, T, V):
    return lambda seed, dtype: (torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed)),)


def pair(B, T, S, V_src, V_tgt):
    def make(seed, dtype):
        g = torch.Generator().manual_seed(seed)
        src, tgt_in = torch.randint(1, V_src, (B, S), generator=g), torch.randint(1, V_tgt, (B, T), generator=g)
        return src, None, tgt_in  # a translator's (src, src_lengths, tgt_in)
    return make


def saveable(kind, draw, B, T):
    """A tiny module of ``kind`` with random options, and a function (seed, dtype) -> its inputs."""
    norm_first = draw(st.booleans(), label="norm_first")
    positions = draw(st.sampled_from(transformer.POSITIONS), label="positions")
    rnn = draw(st.sampled_from(["rnn", "lstm", "gru"]), label="recurrent kind")
    bidirectional = draw(st.booleans(), label="bidirectional")
    selective = draw(st.booleans(), label="selective")
    if kind == "mha":
        return (lambda: MultiHeadAttention(8, 2, rotary=positions == "rotary", alibi=positions == "alibi"),
                lambda seed, dtype: (randn((B, T, 8), seed, dtype),) * 3)
    if kind == "encoder":
        return lambda: Encoder(2, 8, 2, 16, norm_first=norm_first), floats(B, T, 8)
    if kind == "decoder":
        return (lambda: Decoder(2, 8, 2, 16, norm_first=norm_first),
                lambda seed, dtype: (randn((B, T, 8), seed, dtype), randn((B, 3, 8), seed + 1, dtype)))
    if kind == "transformer":
        return (lambda: Transformer(9, 11, d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                    dim_feedforward=16, norm_first=norm_first, positions=positions, max_len=8),
                pair(B, T, 5, 9, 11))
    if kind == "decoder_only_lm":
        return (lambda: DecoderOnlyLM(11, d_model=8, nhead=2, num_layers=2, dim_feedforward=16,
                                      norm_first=norm_first, positions=positions, max_len=8), ids(B, T, 11))
    if kind == "recurrent":
        cls = {"rnn": recurrent.RNN, "lstm": recurrent.LSTM, "gru": recurrent.GRU}[rnn]
        return lambda: cls(3, 4, 2, bidirectional=bidirectional), floats(B, T, 3)
    if kind == "recurrent_model":
        return (lambda: models.RecurrentModel(rnn, 11, 4, 3, tokens=True, embed_dim=5, bidirectional=bidirectional),
                lambda seed, dtype: (ids(B, T, 10)(seed, dtype)[0] + 1,))
    if kind == "linear_attention_lm":
        return lambda: la.LinearAttentionLM(11, 8, 2, 2, 16, decay=0.9 if selective else None), ids(B, T, 11)
    if kind == "mamba_lm":
        return lambda: ssm.MambaLM(11, 4, 2, d_state=3, selective=selective), ids(B, T, 11)
    if kind == "min_gru":
        return lambda: scan.MinGRU(3, 4), floats(B, T, 3)
    if kind == "positions":
        return ((lambda: SinusoidalPositions(8, 4)) if positions == "sinusoidal" else (lambda: LearnedPositions(8, 8)),
                floats(B, T, 8))
    raise AssertionError(kind)


SAVEABLE = ["mha", "encoder", "decoder", "transformer", "decoder_only_lm", "recurrent", "recurrent_model",
            "linear_attention_lm", "mamba_lm", "min_gru", "positions"]


@given(st.data())
def test_state_dict_round_trips_through_torch_load_with_weights_only(data):
    """Every model's state_dict, saved with torch.save, loads with torch.load(weights_only=True)
    (tensors only, nothing to unpickle), into a fresh model of the same configuration and dtype,
    strictly (no missing or unexpected key), with the same names, dtypes and values; the reloaded
    model's outputs equal the original's bit for bit, in float32 and float64."""
    draw = data.draw
    kind = draw(st.sampled_from(SAVEABLE), label="kind")
    dtype = draw(dtypes, label="dtype")
    B, T = draw(st.integers(1, 3), label="B"), draw(st.integers(1, 6), label="T")
    build, inputs = saveable(kind, draw, B, T)
    seed = draw(seeds, label="seed")
    torch.manual_seed(seed)
    model = build().to(dtype).eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    torch.manual_seed(seed + 1)  # other initial weights: loading must replace every one
    fresh = build().to(dtype).eval()
    assert kind == "positions" or any(not torch.equal(p, q) for p, q in zip(fresh.parameters(),
                                                                            model.parameters()))
    result = fresh.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    original = model.state_dict()
    assert list(fresh.state_dict()) == list(original)
    for name, t in fresh.state_dict().items():
        assert t.dtype == original[name].dtype and torch.equal(t, original[name]), name
    x = inputs(seed + 2, dtype)
    with torch.no_grad():
        for a, b in zip(flat(model(*x)), flat(fresh(*x))):
            assert torch.equal(a, b), "the reloaded model computes something else"
