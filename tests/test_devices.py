"""Every model follows its input's device: built and run on PyTorch's ``meta`` device, and run on the CPU
with a trap that catches any tensor created without a device.

A tensor created inside a forward pass without ``device=`` lands on the CPU, which breaks every run on a
GPU; this machine may have none, so two stand-ins check it:

- **meta**: each model is built under ``torch.device("meta")`` and run on meta inputs, tensors with
  shapes and no values. The output must be on meta with the expected shape; a CPU tensor created inside
  would meet a meta one and raise. Checks of values (token ids in range, lengths in bounds) are skipped
  there (``seqlib._validate.has_values``), since there are no values.
- **the trap**: code that needs values, for a Python decision (``.item()``, ``bool(...)``) or because
  PyTorch needs them (``pack_padded_sequence`` sorts the lengths on the CPU), cannot run on meta. It runs
  on the CPU instead, its calls inside ``torch.device("meta")``: every tensor created without an explicit
  device then lands on meta and raises when it meets the CPU inputs, as a CPU tensor would meet CUDA ones.
"""
import math

import pytest
import torch
from torch import nn

from seqlib import (attention, experiments, forecast, interpret, linear_attention, models, positions, recurrent,
                    scan, seq2seq, ssm, transformer)

META = torch.device("meta")
B, T, S, D, V = 2, 5, 4, 8, 11


def meta(*shape, dtype=torch.float32):
    return torch.empty(*shape, dtype=dtype, device=META)


def ids(*shape):
    return torch.empty(*shape, dtype=torch.long, device=META)


def on_meta(out, shape):
    assert out.device == META, f"expected an output on meta, got one on {out.device}"
    assert tuple(out.shape) == tuple(shape), f"expected shape {tuple(shape)}, got {tuple(out.shape)}"


def build(factory):
    """The module ``factory()`` makes, built directly on the meta device."""
    with torch.device(META):
        module = factory()
    assert all(p.is_meta for p in module.parameters()) and all(b.is_meta for b in module.buffers())
    return module


class trap:
    """Run CPU code with the default device set to meta: a tensor made without ``device=`` lands there."""

    def __enter__(self):
        self.context = torch.device(META)
        self.context.__enter__()

    def __exit__(self, *exc):
        return self.context.__exit__(*exc)


def cpu_ids(*shape, seed=0, high=V):
    return torch.randint(1, high, shape, generator=torch.Generator().manual_seed(seed))


def cpu_randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------
# Recurrent networks
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("Cell", [recurrent.RNNCell, recurrent.LSTMCell, recurrent.GRUCell])
def test_cells_on_meta(Cell):
    cell = build(lambda: Cell(3, 4))
    out = cell(meta(B, 3))
    for t in out if isinstance(out, tuple) else (out,):
        on_meta(t, (B, 4))


@pytest.mark.parametrize("Layer", [recurrent.RNN, recurrent.LSTM, recurrent.GRU])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layers_on_meta(Layer, bidirectional):
    layer = build(lambda: Layer(3, 4, num_layers=2, bidirectional=bidirectional))
    D_ = 2 if bidirectional else 1
    for lengths in (None, torch.empty(B, dtype=torch.long, device=META)):
        out, state = layer(meta(B, T, 3), lengths=lengths)
        on_meta(out, (B, T, D_ * 4))
        for s in state if isinstance(state, tuple) else (state,):
            on_meta(s, (2 * D_, B, 4))


@pytest.mark.parametrize("Layer", [recurrent.RNN, recurrent.LSTM, recurrent.GRU])
def test_recurrent_layers_with_lengths_under_the_trap(Layer):
    layer = Layer(3, 4, bidirectional=True)
    x, lengths = cpu_randn(B, T, 3), torch.tensor([T, 2])
    want = layer(x, lengths=lengths)[0]
    with trap():
        got = layer(x, lengths=lengths)[0]
        assert torch.equal(got, want)
        assert torch.equal(layer(x, lengths=[T, 2])[0], want)  # lengths as a list


def test_recurrent_model_under_the_trap():
    # RecurrentModel packs its batch (pack_padded_sequence sorts the lengths on the CPU, by value),
    # so it cannot run on meta.
    for kwargs, x in ((dict(tokens=True, embed_dim=6), cpu_ids(B, T)), (dict(), cpu_randn(B, T, 3))):
        for per_step in (False, True):
            model = models.RecurrentModel("lstm", V if "tokens" in kwargs else 3, 4, 2, per_step=per_step,
                                          bidirectional=True, **kwargs)
            want, lengths = model(x), torch.tensor([T, 3])
            with trap():
                assert torch.equal(model(x), want)
                assert model(x, lengths=lengths).shape == want.shape


# ---------------------------------------------------------------------------------------------
# Attention and positions
# ---------------------------------------------------------------------------------------------

def test_attention_functions_on_meta():
    q, k, v = meta(B, T, D), meta(B, S, D), meta(B, S, 3)
    out, w = attention.scaled_dot_product_attention(q, k, v, mask=torch.ones(T, S, dtype=torch.bool, device=META),
                                                     is_causal=True)
    on_meta(out, (B, T, 3))
    on_meta(w, (B, T, S))
    on_meta(attention.masked_softmax(meta(B, T, S), meta(B, T, S)), (B, T, S))
    on_meta(attention.causal_mask(T, device=META), (T, T))
    on_meta(attention.padding_mask(torch.empty(B, dtype=torch.long, device=META), T), (B, T))


@pytest.mark.parametrize("factory", [lambda: attention.AdditiveAttention(6, D, 5),
                                     lambda: attention.MultiplicativeAttention(6, D),
                                     lambda: attention.MultiplicativeAttention(D, D, kind="dot")])
def test_seq2seq_attention_on_meta(factory):
    module = build(factory)
    Dq = module.query_size
    mask = torch.empty(B, S, dtype=torch.bool, device=META)
    context, weights = module(meta(B, Dq), meta(B, S, D), meta(B, S, 3), mask)
    on_meta(context, (B, 3))
    on_meta(weights, (B, S))
    context, weights = module(meta(B, T, Dq), meta(B, S, D), meta(B, S, 3))
    on_meta(context, (B, T, 3))
    on_meta(weights, (B, T, S))


@pytest.mark.parametrize("rotary", [False, True])
def test_multi_head_attention_on_meta_with_masks_and_a_cache(rotary):
    mha = build(lambda: attention.MultiHeadAttention(D, 2, rotary=rotary))
    x = meta(B, T, D)
    real = torch.empty(B, T, dtype=torch.bool, device=META)
    out, w = mha(x, x, x, key_mask=real, is_causal=True, average_attn_weights=False)
    on_meta(out, (B, T, D))
    on_meta(w, (B, 2, T, T))
    cache = attention.KVCache()
    for step in range(3):  # one token at a time
        out, w = mha(meta(B, 1, D), meta(B, 1, D), meta(B, 1, D), is_causal=True, cache=cache)
        on_meta(out, (B, 1, D))
        on_meta(w, (B, 1, step + 1))


def test_positions_on_meta():
    x = meta(B, T, D)
    for factory in (lambda: positions.SinusoidalPositions(D, max_len=4), lambda: positions.LearnedPositions(D, 8)):
        module = build(factory)
        on_meta(module(x), (B, T, D))  # longer than the sinusoids' table: computed on the spot
        on_meta(module(x[:, :2], start=2), (B, 2, D))
    on_meta(build(lambda: positions.RotaryPositions(D))(meta(B, 2, T, D), start=3), (B, 2, T, D))
    on_meta(positions.apply_rotary(meta(B, T, D)), (B, T, D))
    on_meta(positions.apply_rotary(meta(B, T, D), torch.arange(T, device=META)), (B, T, D))
    on_meta(positions.sinusoidal_encoding(T, D, device=META), (T, D))
    # the table follows the module to meta (and back: computed anew, not left uninitialised)
    moved = positions.SinusoidalPositions(D, max_len=4).to(META)
    assert moved.pe.is_meta
    assert torch.equal(moved.to_empty(device="cpu").pe, positions.sinusoidal_encoding(4, D))


# ---------------------------------------------------------------------------------------------
# Transformers
# ---------------------------------------------------------------------------------------------

def test_transformer_layers_and_stacks_on_meta():
    x, memory = meta(B, T, D), meta(B, S, D)
    real = torch.empty(B, S, dtype=torch.bool, device=META)
    on_meta(build(lambda: transformer.FeedForward(D, 16))(x), (B, T, D))
    for norm_first in (False, True):
        enc = build(lambda: transformer.EncoderLayer(D, 2, 16, norm_first=norm_first, rotary=True))
        on_meta(enc(x, is_causal=True), (B, T, D))
        dec = build(lambda: transformer.DecoderLayer(D, 2, 16, norm_first=norm_first))
        on_meta(dec(x, memory, memory_key_mask=real, tgt_is_causal=True), (B, T, D))
    encoder = build(lambda: transformer.Encoder(2, D, 2, 16, norm_first=True))
    on_meta(encoder(x, is_causal=True), (B, T, D))
    decoder = build(lambda: transformer.Decoder(2, D, 2, 16))
    on_meta(decoder(x, memory, tgt_is_causal=True), (B, T, D))
    cache = transformer.TransformerCache(2, cross_attention=True)
    for _ in range(2):
        on_meta(decoder(meta(B, 1, D), memory, tgt_is_causal=True, cache=cache), (B, 1, D))


@pytest.mark.parametrize("kind", transformer.POSITIONS)
def test_transformer_models_on_meta(kind):
    model = build(lambda: transformer.Transformer(V, V + 2, d_model=D, nhead=2, num_encoder_layers=1,
                                                  num_decoder_layers=2, dim_feedforward=16, positions=kind,
                                                  max_len=16)).eval()
    lengths = torch.empty(B, dtype=torch.long, device=META)
    on_meta(model(ids(B, S), lengths, ids(B, T), lengths), (B, T, V + 2))
    memory = model.encode(ids(B, S), lengths)
    on_meta(memory, (B, S, D))
    cache = transformer.TransformerCache(2, cross_attention=True)
    for _ in range(3):
        on_meta(model.decode(ids(B, 1), memory, lengths, cache=cache), (B, 1, V + 2))
    lm = build(lambda: transformer.DecoderOnlyLM(V, d_model=D, nhead=2, num_layers=2, dim_feedforward=16,
                                                 positions=kind, max_len=16)).eval()
    on_meta(lm(ids(B, T)), (B, T, V))
    on_meta(lm.attention_weights(ids(B, T)), (2, B, 2, T, T))
    for use_cache in (True, False):  # greedy generation makes no decision on values
        on_meta(lm.generate(ids(B, 2), 3, greedy=True, use_cache=use_cache), (B, 5))


def test_transformer_decoding_under_the_trap():
    # greedy_decode stops when every sequence has written EOS, and sampling checks that the
    # logits are finite: both ask the values, so they run on the CPU, under the trap.
    torch.manual_seed(0)
    model = transformer.Transformer(V, V, d_model=D, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                    dim_feedforward=16).eval()
    lm = transformer.DecoderOnlyLM(V, d_model=D, nhead=2, num_layers=1, dim_feedforward=16, max_len=16).eval()
    src, lengths, tgt, tgt_lengths = cpu_ids(B, S), torch.tensor([S, 2]), cpu_ids(B, T), torch.tensor([T, 3])
    want = model.greedy_decode(src, lengths, 1, 2, max_len=4)
    logits = model(src, lengths, tgt, tgt_lengths)
    prompt, g = cpu_ids(B, 2), torch.Generator().manual_seed(0)
    sampled = lm.generate(prompt, 4, generator=g)
    g.manual_seed(0)
    with trap():
        assert torch.equal(model.greedy_decode(src, lengths, 1, 2, max_len=4), want)
        assert torch.equal(model(src, lengths, tgt, tgt_lengths), logits)
        assert torch.equal(model(src, [S, 2], tgt, [T, 3]), logits)  # lengths as lists
        assert torch.equal(lm.generate(prompt, 4, generator=g), sampled)


def test_seq2seq_under_the_trap():
    # Seq2Seq packs its source (pack_padded_sequence needs the lengths' values on the CPU), and greedy
    # decoding stops on values, so it cannot run on meta.
    for kind in (None, *seq2seq.ATTENTION_KINDS):
        torch.manual_seed(0)
        model = seq2seq.Seq2Seq(V, V, embed_dim=6, hidden_size=8, attention=kind, bidirectional_encoder=True).eval()
        src, lengths, tgt = cpu_ids(B, S), torch.tensor([S, 2]), cpu_ids(B, T)
        want = model(src, lengths, tgt)
        tokens = model.greedy_decode(src, lengths, 1, 2, max_len=4)
        with trap():
            assert torch.equal(model(src, lengths, tgt), want)
            assert torch.equal(model.greedy_decode(src, lengths, 1, 2, max_len=4), tokens)


# ---------------------------------------------------------------------------------------------
# Linear attention, scans, state space models
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("decay", [None, 0.9])
def test_linear_attention_on_meta(decay):
    q, k, v = meta(B, 2, T, 4), meta(B, 2, T, 4), meta(B, 2, T, 3)
    on_meta(linear_attention.linear_attention_parallel(q, k, v, decay), (B, 2, T, 3))
    on_meta(linear_attention.linear_attention_recurrent(q, k, v, decay), (B, 2, T, 3))
    o, S_, z = linear_attention.linear_attention_step(q[..., 0, :], k[..., 0, :], v[..., 0, :], meta(B, 2, 4, 3),
                                                      meta(B, 2, 4), decay)
    on_meta(o, (B, 2, 3))
    on_meta(S_, (B, 2, 4, 3))
    on_meta(z, (B, 2, 4))
    layer = build(lambda: linear_attention.LinearAttention(D, 2, decay))
    lm = build(lambda: linear_attention.LinearAttentionLM(V, d_model=D, nhead=2, num_layers=2, decay=decay))
    for mode in ("parallel", "recurrent"):
        on_meta(layer(meta(B, T, D), mode=mode), (B, T, D))
        on_meta(lm(ids(B, T), mode=mode), (B, T, V))


def test_scans_and_min_gru_on_meta():
    a, b, h0 = meta(B, T, 3, 2), meta(B, T, 3, 2), meta(B, 3, 2)
    for run in (scan.linear_recurrence_loop, scan.linear_recurrence_scan):
        on_meta(run(a, b), (B, T, 3, 2))
        on_meta(run(a, b, h0), (B, T, 3, 2))
    gru = build(lambda: scan.MinGRU(3, 4))
    for mode in ("scan", "loop"):
        on_meta(gru(meta(B, T, 3), mode=mode), (B, T, 4))


@pytest.mark.parametrize("selective", [True, False])
def test_state_space_models_on_meta(selective):
    x = meta(B, T, 6)
    for mode in ("scan", "loop"):
        on_meta(ssm.selective_scan(x, meta(B, T, 6), meta(6, 4), meta(B, T, 4), meta(B, T, 4), meta(6), mode),
                (B, T, 6))
        on_meta(build(lambda: ssm.SelectiveSSM(6, d_state=4, selective=selective))(x, mode=mode), (B, T, 6))
        on_meta(build(lambda: ssm.MambaBlock(6, d_state=4, selective=selective))(x, mode=mode), (B, T, 6))
        lm = build(lambda: ssm.MambaLM(V, d_model=6, num_layers=2, d_state=4, selective=selective, mode=mode))
        on_meta(lm(ids(B, T)), (B, T, V))


# ---------------------------------------------------------------------------------------------
# Forecasters and the head-to-head models
# ---------------------------------------------------------------------------------------------

def test_forecasters_on_meta_and_under_the_trap():
    for kind in ("linear", "transformer"):
        on_meta(build(lambda: forecast.Forecaster(kind, 6, 3, d_model=8, nhead=2))(meta(B, 6)), (B, 3))
    # the LSTM forecaster is a RecurrentModel, which packs its batch: the CPU, under the trap
    model = forecast.Forecaster("lstm", 6, 3, hidden_size=5)
    x = cpu_randn(B, 6)
    want = model(x)
    with trap():
        assert torch.equal(model(x), want)


@pytest.mark.parametrize("task", sorted(experiments.TASKS))
def test_head_to_head_models_on_meta_and_under_the_trap(task):
    t = experiments.TASKS[task]
    x_meta = ids(B, T) if t.tokens else meta(B, T, t.input_size)
    transformer_model = build(lambda: experiments.make_model("transformer", task, 8))
    out = transformer_model(x_meta)
    assert out.is_meta and out.shape[0] == B
    lstm = experiments.make_model("lstm", task, 6)  # a RecurrentModel: packs, so the CPU, under the trap
    x = cpu_ids(B, T, high=t.input_size) if t.tokens else cpu_randn(B, T, t.input_size)
    full = torch.tensor([T, T])
    for model in (lstm, experiments.make_model("transformer", task, 8)):
        want = model(x)
        with trap():
            assert torch.equal(model(x), want)
            if t.readout == "last":
                assert torch.equal(model(x, full), want)


# ---------------------------------------------------------------------------------------------
# Interpretation
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoder", interpret.ENCODERS)
def test_attention_classifier_and_attributions_on_meta(encoder):
    model = build(lambda: interpret.AttentionClassifier(V, 3, d_model=8, encoder=encoder)).eval()
    x = ids(B, T)
    on_meta(model(x), (B, 3))
    on_meta(model(x, attention=meta(B, T)), (B, 3))
    on_meta(model.attention_weights(x), (B, T))
    on_meta(interpret.leave_one_out(model, x), (B, T))
    on_meta(interpret.grad_x_input(model, x), (B, T))
    on_meta(interpret.integrated_gradients(model, x, steps=3), (B, T))
    lm = build(lambda: transformer.DecoderOnlyLM(V, d_model=8, nhead=2, num_layers=1, dim_feedforward=16)).eval()
    on_meta(interpret.integrated_gradients(lm, x, position=-1, steps=2), (B, T))


def test_comparisons_on_meta():
    a, b = meta(B, T), meta(B, T)
    for method in ("spearman", "kendall"):
        on_meta(interpret.rank_correlation(a, b, method), (B,))
    on_meta(interpret.jensen_shannon(a, b), (B,))
    on_meta(interpret.attention_mass_on(a, ids(B)), (B,))
    on_meta(interpret.attention_mass_on(a, torch.empty(B, T, dtype=torch.bool, device=META)), (B,))
    lstm = build(lambda: nn.LSTM(3, 4, batch_first=True))
    h, c = interpret.lstm_states(lstm, meta(B, T, 3))
    on_meta(h, (B, T, 4))
    on_meta(c, (B, T, 4))


@pytest.mark.parametrize("encoder", ["none", "lstm"])
def test_interpret_helpers_under_the_trap(encoder):
    # adversarial_attention keeps, step by step, what meets the constraint (a choice on values), and
    # its optimiser, Adam, reads its step count: the CPU, under the trap. The attributions too, with
    # a target given (checked to be a class index, a value).
    torch.manual_seed(0)
    model = interpret.AttentionClassifier(V, 3, d_model=8, encoder=encoder).eval()
    x, target = cpu_ids(B, T), torch.tensor([0, 2])
    a, b = cpu_randn(B, T), cpu_randn(B, T, seed=1)
    want = [interpret.adversarial_attention(model, x, steps=5),
            interpret.leave_one_out(model, x, target), interpret.grad_x_input(model, x, target),
            interpret.integrated_gradients(model, x, [0, 2], steps=3)]
    with trap():
        got = [interpret.adversarial_attention(model, x, steps=5),
               interpret.leave_one_out(model, x, target), interpret.grad_x_input(model, x, target),
               interpret.integrated_gradients(model, x, [0, 2], steps=3)]
        for g, w in zip(got, want):
            for a, b in zip(g if isinstance(g, tuple) else (g,), w if isinstance(w, tuple) else (w,)):
                assert torch.equal(a, b)
        assert torch.isfinite(interpret.rank_correlation(a, b, "kendall")).all()


def test_float64_models_get_float64_attributions():
    # the scale of the integrated-gradients path is made in the embeddings' dtype, not in float32
    torch.manual_seed(0)
    model = interpret.AttentionClassifier(V, 3, d_model=8).double().eval()
    x = cpu_ids(B, T)
    for attribution in (interpret.grad_x_input(model, x), interpret.integrated_gradients(model, x, steps=4),
                        interpret.leave_one_out(model, x), interpret.adversarial_attention(model, x, steps=3)[0]):
        assert attribution.dtype == torch.float64
    ig = interpret.integrated_gradients(model, x, steps=64)
    with torch.no_grad():
        p = torch.log_softmax(model(x), -1)
        target = p.argmax(-1)
        e = model.embed(x)

        def at_zero(module, inputs, output):
            return torch.zeros_like(output)

        handle = model.embed.register_forward_hook(at_zero)
        p0 = torch.log_softmax(model(x), -1)
        handle.remove()
    rows = torch.arange(B)
    assert e.dtype == torch.float64
    assert torch.allclose(ig.sum(-1), p[rows, target] - p0[rows, target], atol=1e-3)  # completeness, in float64
    assert math.isfinite(float(ig.sum()))
