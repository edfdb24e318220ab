"""Empty inputs: zero time steps (T = 0) and empty batches (B = 0), the same answer in every form.

The choice follows PyTorch's counterpart of each operation:

- recurrent layers (RNN, LSTM, GRU, RecurrentModel, and the head-to-head CausalTransformer with the
  same interface) refuse T = 0 with a ValueError that names the time dimension, as ``nn.LSTM``
  does, and give empty outputs and states for B = 0, as ``nn.LSTM`` does;
- the linear recurrences (loop and scan), minGRU, the selective scan, the SSM layers, linear
  attention (parallel and recurrent), attention and the Transformer layers give an empty result of
  the right shape for T = 0 and for B = 0, as ``torch.cumsum``, ``F.scaled_dot_product_attention``
  and ``nn.TransformerEncoderLayer`` do;
- the language models (DecoderOnlyLM, LinearAttentionLM, MambaLM, in every mode) refuse T = 0 (no
  token to predict from) and give empty logits for B = 0.
"""
import pytest
import torch

from seqlib import attention, linear_attention as la, models, recurrent, scan, ssm, transformer

EMPTY = [(0, 5), (2, 0), (0, 0)]  # (B, T)


def randn(*shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def rand(*shape):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(1))


# ---------------------------------------------------------------------------------------------
# Recurrent layers: T = 0 is an error, B = 0 is empty (as in PyTorch)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("Layer", [recurrent.RNN, recurrent.LSTM, recurrent.GRU])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("with_lengths", [False, True])
def test_recurrent_layers_follow_pytorch(Layer, batch_first, with_lengths):
    ours = Layer(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    theirs = getattr(torch.nn, Layer.__name__)(3, 4, num_layers=2, bidirectional=True, batch_first=batch_first)
    x = randn(0, 5, 3) if batch_first else randn(5, 0, 3)
    lengths = torch.zeros(0, dtype=torch.long) if with_lengths else None
    out, state = ours(x, lengths=lengths)
    want, want_state = theirs(x)
    assert out.shape == want.shape == ((0, 5, 8) if batch_first else (5, 0, 8))
    for s, w in zip(state if isinstance(state, tuple) else (state,), want_state if isinstance(state, tuple)
                    else (want_state,)):
        assert s.shape == w.shape == (4, 0, 4)
    x = randn(2, 0, 3) if batch_first else randn(0, 2, 3)
    with pytest.raises(RuntimeError):  # PyTorch refuses no time step
        theirs(x)
    with pytest.raises(ValueError, match=r"at least one time step \(T >= 1\).*got T=0"):
        ours(x, lengths=torch.zeros(2, dtype=torch.long) if with_lengths else None)


@pytest.mark.parametrize("Cell", [recurrent.RNNCell, recurrent.LSTMCell, recurrent.GRUCell])
def test_cells_take_an_empty_batch(Cell):
    out = Cell(3, 4)(randn(0, 3))
    for t in out if isinstance(out, tuple) else (out,):
        assert t.shape == (0, 4)


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("tokens", [False, True])
def test_recurrent_model_and_causal_transformer(per_step, tokens):
    empty, no_steps = (torch.zeros(0, 5, dtype=torch.long), torch.zeros(2, 0, dtype=torch.long)) if tokens else \
        (randn(0, 5, 3), randn(2, 0, 3))
    for model in (models.RecurrentModel("lstm", 9 if tokens else 3, 4, 2, tokens=tokens, per_step=per_step,
                                        bidirectional=True),
                  models.CausalTransformer(9 if tokens else 3, 8, 2, tokens=tokens, per_step=per_step)):
        assert model(empty).shape == ((0, 5, 2) if per_step else (0, 2))
        if not per_step:
            assert model(empty, torch.zeros(0, dtype=torch.long)).shape == (0, 2)
        with pytest.raises(ValueError, match=r"at least one time step \(T >= 1\).*got T=0"):
            model(no_steps)


# ---------------------------------------------------------------------------------------------
# Recurrences, scans, state space models, linear attention: empty results in every form
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("B, T", EMPTY)
@pytest.mark.parametrize("mode", ["loop", "scan"])
@pytest.mark.parametrize("with_h0", [False, True])
def test_linear_recurrences_give_empty_states(B, T, mode, with_h0):
    a, b = rand(B, T, 3, 2), randn(B, T, 3, 2)
    h0 = randn(B, 3, 2) if with_h0 else None
    run = scan.linear_recurrence_loop if mode == "loop" else scan.linear_recurrence_scan
    out = run(a, b, h0)
    assert out.shape == (B, T, 3, 2) and out.dtype == b.dtype
    assert out.shape == torch.cumsum(b, dim=1).shape  # the counterpart: a cumulative sum


def test_scan_rounds_of_no_step():
    assert scan.scan_rounds(0) == scan.scan_rounds(1) == 0


@pytest.mark.parametrize("B, T", EMPTY)
@pytest.mark.parametrize("mode", ["loop", "scan"])
@pytest.mark.parametrize("selective", [True, False])
def test_state_space_layers_give_empty_outputs(B, T, mode, selective):
    assert scan.MinGRU(3, 4)(randn(B, T, 3), mode=mode).shape == (B, T, 4)
    y = ssm.selective_scan(randn(B, T, 6), rand(B, T, 6), -rand(6, 4), randn(B, T, 4), randn(B, T, 4), randn(6), mode)
    assert y.shape == (B, T, 6)
    assert ssm.SelectiveSSM(6, d_state=4, selective=selective)(randn(B, T, 6), mode=mode).shape == (B, T, 6)
    assert ssm.MambaBlock(6, d_state=4, selective=selective)(randn(B, T, 6), mode=mode).shape == (B, T, 6)


@pytest.mark.parametrize("B, T", EMPTY)
@pytest.mark.parametrize("decay", [None, 0.9])
def test_linear_attention_forms_agree_on_empty_inputs(B, T, decay):
    q, k, v = randn(B, 2, T, 4), randn(B, 2, T, 4), randn(B, 2, T, 3)
    parallel = la.linear_attention_parallel(q, k, v, decay)
    recurrent_ = la.linear_attention_recurrent(q, k, v, decay)
    assert parallel.shape == recurrent_.shape == (B, 2, T, 3)
    layer = la.LinearAttention(8, 2, decay)
    assert layer(randn(B, T, 8), mode="parallel").shape == layer(randn(B, T, 8), mode="recurrent").shape == (B, T, 8)


# ---------------------------------------------------------------------------------------------
# Attention and Transformer layers: empty results, as in PyTorch
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("B, T", EMPTY)
def test_attention_and_transformer_layers_give_empty_outputs(B, T):
    x, memory = randn(B, T, 8), randn(B, 3, 8)
    out, w = attention.scaled_dot_product_attention(x, x, x, is_causal=True)
    assert out.shape == torch.nn.functional.scaled_dot_product_attention(x, x, x, is_causal=True).shape == (B, T, 8)
    assert w.shape == (B, T, T)
    mha, theirs = attention.MultiHeadAttention(8, 2), torch.nn.MultiheadAttention(8, 2, batch_first=True)
    assert mha(x, x, x, is_causal=True)[0].shape == theirs(x, x, x)[0].shape == (B, T, 8)
    for norm_first in (False, True):
        enc = transformer.EncoderLayer(8, 2, 16, norm_first=norm_first)
        assert enc(x, is_causal=True).shape == (B, T, 8)
        dec = transformer.DecoderLayer(8, 2, 16, norm_first=norm_first)
        assert dec(x, memory, tgt_is_causal=True).shape == (B, T, 8)


def test_attention_to_no_key_gives_zeros():
    # no key to attend to is the all-masked case: zero weights, zero output (F.scaled_dot_product_attention
    # gives zeros too)
    q, k, v = randn(2, 3, 4), randn(2, 0, 4), randn(2, 0, 5)
    out, w = attention.scaled_dot_product_attention(q, k, v)
    assert torch.equal(out, torch.zeros(2, 3, 5)) and w.shape == (2, 3, 0)
    assert torch.equal(torch.nn.functional.scaled_dot_product_attention(q, k, v), out)


# ---------------------------------------------------------------------------------------------
# Language models: T = 0 is an error in every mode, B = 0 gives empty logits
# ---------------------------------------------------------------------------------------------

LMS = [
    (lambda: transformer.DecoderOnlyLM(9, d_model=8, nhead=2, num_layers=1, dim_feedforward=16), {}),
    (lambda: la.LinearAttentionLM(9, d_model=8), dict(mode="parallel")),
    (lambda: la.LinearAttentionLM(9, d_model=8), dict(mode="recurrent")),
    (lambda: ssm.MambaLM(9, d_model=8, d_state=4), dict(mode="scan")),
    (lambda: ssm.MambaLM(9, d_model=8, d_state=4), dict(mode="loop")),
]


@pytest.mark.parametrize("make, kwargs", LMS)
def test_language_models(make, kwargs):
    lm = make()
    assert lm(torch.zeros(0, 5, dtype=torch.long), **kwargs).shape == (0, 5, 9)
    with pytest.raises(ValueError, match="at least one token per sequence"):
        lm(torch.zeros(2, 0, dtype=torch.long), **kwargs)
