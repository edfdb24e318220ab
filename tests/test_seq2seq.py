"""The encoder-decoder: shapes, a causal decoder, padding, attention weights, greedy = teacher forcing, learning."""
import pytest
import torch

from seqlib import data, train
from seqlib.data import IGNORE
from seqlib.seq2seq import (
    ATTENTION_KINDS,
    Seq2Seq,
    TeacherForcingData,
    sequence_accuracy,
    teacher_forcing_pairs,
)
from seqlib.transformer import Transformer

SRC_V, TGT_V, BOS_ID, EOS_ID = 11, 13, 1, 2  # small vocabularies; <bos> and <eos> as in toy_translation
LENGTHS = [5, 2, 4]  # real source lengths; the padded source has S = 6 steps
S, T = 6, 5  # source and target steps
ATTENTIONS = [None, *ATTENTION_KINDS]
ATOL = 1e-6


def ints(low, high, *shape, seed=0):
    return torch.randint(low, high, shape, generator=torch.Generator().manual_seed(seed))


def batch(seed=0):
    """src (3, S) with garbage (random real ids) past each length, its lengths, tgt_in (3, T) starting with <bos>."""
    src = ints(1, SRC_V, len(LENGTHS), S, seed=seed)
    tgt_in = ints(3, TGT_V, len(LENGTHS), T, seed=seed + 1)
    tgt_in[:, 0] = BOS_ID
    return src, torch.tensor(LENGTHS), tgt_in


def model(attention, bidirectional=False, num_layers=1, seed=0, **kwargs):
    torch.manual_seed(seed)
    return Seq2Seq(SRC_V, TGT_V, embed_dim=6, hidden_size=8, attention=attention, num_layers=num_layers,
                   bidirectional_encoder=bidirectional, **kwargs).eval()


def real_mask():
    return data.lengths_to_mask(torch.tensor(LENGTHS), S)  # (3, S)


# ---------------------------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("bidirectional, num_layers", [(False, 1), (True, 2)], ids=["uni-1", "bi-2"])
def test_shapes_with_and_without_attention(attention, bidirectional, num_layers):
    m = model(attention, bidirectional, num_layers)
    src, lengths, tgt_in = batch()
    assert m(src, lengths, tgt_in).shape == (3, T, TGT_V)
    logits, weights = m(src, lengths, tgt_in, return_weights=True)
    assert logits.shape == (3, T, TGT_V)
    memory, mask, (h_0, c_0) = m.encode(src, lengths)
    assert memory.shape == (3, S, 8) and mask.shape == (3, S)
    assert h_0.shape == c_0.shape == (num_layers, 3, 8)
    tokens, decoded_weights = m.greedy_decode(src, lengths, BOS_ID, EOS_ID, max_len=7, return_weights=True)
    assert tokens.shape[0] == 3 and 1 <= tokens.shape[1] <= 7 and tokens.dtype == torch.long
    if attention is None:
        assert weights is None and decoded_weights is None
    else:
        assert weights.shape == (3, T, S)
        assert decoded_weights.shape == (3, tokens.shape[1], S)


def test_the_bottleneck_model_has_no_attention_and_reads_only_embeddings():
    plain, attentive = model(None), model("general")
    assert plain.attention is None and plain.W_c is None
    assert plain.decoder.input_size == 6  # embed(y_{t-1}) alone
    assert attentive.decoder.input_size == 6 + 8  # input feeding: [embed(y_{t-1}); h~_{t-1}]


@pytest.mark.parametrize("attention", [None, "general"])
def test_the_decoder_follows_the_documented_equations(attention):
    """Luong's step with input feeding, or the plain decoder, written out with an nn.LSTMCell."""
    m = model(attention)
    src, lengths, tgt_in = batch()
    memory, mask, (h_0, c_0) = m.encode(src, lengths)
    last = memory[torch.arange(3), lengths - 1]  # the encoder's output at each last real position
    torch.testing.assert_close(h_0[0], last, atol=ATOL, rtol=0)  # the decoder starts from the final state
    cell = torch.nn.LSTMCell(m.decoder.input_size, 8)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(m.decoder, name + "_l0"))
    h, c, h_tilde, expected = h_0[0], c_0[0], torch.zeros(3, 8), []
    for t in range(T):
        x = m.tgt_embed(tgt_in[:, t])  # (3, E)
        if attention is None:
            h, c = cell(x, (h, c))
            expected.append(m.W_out(h))
            continue
        h, c = cell(torch.cat([x, h_tilde], dim=-1), (h, c))  # input feeding
        scores = torch.einsum("bd,de,bse->bs", h, m.attention.W, memory).masked_fill(~mask, float("-inf"))
        context = torch.einsum("bs,bsd->bd", torch.softmax(scores, dim=-1), memory)
        h_tilde = torch.tanh(m.W_c(torch.cat([context, h], dim=-1)))
        expected.append(m.W_out(h_tilde))
    torch.testing.assert_close(m(src, lengths, tgt_in), torch.stack(expected, dim=1), atol=1e-5, rtol=0)


def test_a_bidirectional_encoder_is_projected_to_the_decoder_size():
    m = model("dot", bidirectional=True, num_layers=2)
    src, lengths, _ = batch()
    memory, _, (h_0, c_0) = m.encode(src, lengths)
    for b, L in enumerate(LENGTHS):
        out, (h_n, c_n) = m.encoder(m.src_embed(src[b:b + 1, :L]))  # alone: out (1, L, 2H), h_n (2 * 2, 1, H)
        fwd, bwd = out[0, L - 1, :8], out[0, 0, 8:]  # each direction's last step: h_fwd and h_bwd
        torch.testing.assert_close(h_0[1, b], torch.tanh(m.W_h(torch.cat([fwd, bwd]))), atol=ATOL, rtol=0)
        torch.testing.assert_close(c_0[0, b], m.W_c0(torch.cat([c_n[0, 0], c_n[1, 0]])), atol=ATOL, rtol=0)
        torch.testing.assert_close(memory[b, :L], m.W_m(out[0]), atol=ATOL, rtol=0)


# ---------------------------------------------------------------------------------------------
# Causality, padding, attention weights
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attention", ATTENTIONS)
def test_logits_at_step_t_do_not_depend_on_later_decoder_inputs(attention):
    m = model(attention)
    src, lengths, tgt_in = batch()
    logits = m(src, lengths, tgt_in)
    for t in range(T - 1):
        changed = tgt_in.clone()
        changed[:, t + 1:] = ints(3, TGT_V, 3, T - t - 1, seed=10 + t)
        assert not torch.equal(changed, tgt_in)
        other = m(src, lengths, changed)
        torch.testing.assert_close(other[:, : t + 1], logits[:, : t + 1], atol=ATOL, rtol=0)
        assert not torch.allclose(other[:, t + 1:], logits[:, t + 1:], atol=1e-3)  # later steps do see them


@pytest.mark.parametrize("attention", ATTENTIONS)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_padded_source_positions_change_nothing(attention, bidirectional):
    m = model(attention, bidirectional, num_layers=2)
    src, lengths, tgt_in = batch()
    garbage = torch.where(real_mask(), src, ints(1, SRC_V, 3, S, seed=7))  # other garbage past each length
    assert not torch.equal(garbage, src)
    memory, _, _ = m.encode(garbage, lengths)
    assert torch.all(memory[~real_mask()] == 0) and torch.all(memory[real_mask()].abs().sum(-1) > 0)
    logits, weights = m(src, lengths, tgt_in, return_weights=True)
    logits2, weights2 = m(garbage, lengths, tgt_in, return_weights=True)
    torch.testing.assert_close(logits2, logits, atol=ATOL, rtol=0)
    tokens = m.greedy_decode(src, lengths, BOS_ID, EOS_ID, max_len=6)
    assert torch.equal(m.greedy_decode(garbage, lengths, BOS_ID, EOS_ID, max_len=6), tokens)
    for b, L in enumerate(LENGTHS):  # and each sequence alone, unpadded, gives the same
        alone, alone_weights = m(src[b:b + 1, :L], lengths[b:b + 1], tgt_in[b:b + 1], return_weights=True)
        torch.testing.assert_close(alone[0], logits[b], atol=ATOL, rtol=0)
        if attention is not None:
            torch.testing.assert_close(alone_weights[0], weights[b, :, :L], atol=ATOL, rtol=0)


@pytest.mark.parametrize("attention", ATTENTION_KINDS)
def test_attention_weights_are_zero_on_padding_and_sum_to_one_over_real_positions(attention):
    m = model(attention, bidirectional=True)
    src, lengths, tgt_in = batch()
    _, weights = m(src, lengths, tgt_in, return_weights=True)  # (3, T, S)
    padded = ~real_mask()[:, None, :].expand_as(weights)
    assert padded.any() and torch.all(weights[padded] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, T), atol=ATOL, rtol=0)
    tokens, decoded = m.greedy_decode(src, lengths, BOS_ID, EOS_ID, max_len=6, return_weights=True)
    assert torch.all(decoded[~real_mask()[:, None, :].expand_as(decoded)] == 0)
    ended = (tokens == EOS_ID).long().cumsum(1)  # (3, T_out): how many <eos> so far, this step included
    writing = torch.cat([torch.zeros(3, 1, dtype=torch.long), ended[:, :-1]], dim=1) == 0  # no <eos> before
    torch.testing.assert_close(decoded.sum(-1), writing.float(), atol=ATOL, rtol=0)


# ---------------------------------------------------------------------------------------------
# Greedy decoding
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attention", ATTENTIONS)
def test_greedy_decoding_is_the_argmax_of_teacher_forcing_on_its_own_outputs(attention):
    m = model(attention, bidirectional=True, num_layers=2)
    src, lengths, _ = batch()
    max_len = 6
    with torch.no_grad():
        m.W_out.bias[EOS_ID] = -100.0  # no <eos>: every row writes max_len tokens
        m.W_out.bias[0] = -100.0  # and no padding id, which an untrained model may pick
    tokens, weights = m.greedy_decode(src, lengths, BOS_ID, EOS_ID, max_len, return_weights=True)
    assert tokens.shape == (3, max_len) and torch.all(tokens != 0)
    tgt_in = torch.cat([torch.full((3, 1), BOS_ID), tokens[:, :-1]], dim=1)  # what greedy decoding read
    logits, forced = m(src, lengths, tgt_in, return_weights=True)
    assert torch.equal(logits.argmax(-1), tokens)
    if attention is not None:
        torch.testing.assert_close(forced, weights, atol=ATOL, rtol=0)


@pytest.mark.parametrize("attention", [None, "dot"])
def test_greedy_decoding_stops_each_row_at_eos_and_pads_with_zero(attention):
    m = model(attention, seed=2)
    src, lengths, _ = batch()
    never = TGT_V - 1
    with torch.no_grad():
        m.W_out.weight.mul_(20.0)  # outputs that vary with the state, not only with the bias
        m.W_out.bias.zero_()
        m.W_out.bias[never] = -1000.0
        m.W_out.bias[0] = -1000.0  # no padding id either, which an untrained model may pick
    free = m.greedy_decode(src, lengths, BOS_ID, never, max_len=8)  # (3, 8), never stops
    eos = int(free[0, 2])  # call the token row 0 writes third <eos>: row 0 stops there
    tokens, weights = m.greedy_decode(src, lengths, BOS_ID, eos, max_len=8, return_weights=True)
    stops = [int((row == eos).nonzero()[0]) if (row == eos).any() else 8 for row in free]  # index of <eos>
    assert stops[0] <= 2 and len(set(stops)) > 1  # the rows stop at different steps
    assert tokens.shape == (3, min(max(s + 1 for s in stops), 8))
    for b, stop in enumerate(stops):
        assert torch.equal(tokens[b, : stop + 1], free[b, : stop + 1])
        assert torch.all(tokens[b, stop + 1:] == 0)
        if weights is not None:
            assert torch.all(weights[b, stop + 1:] == 0)
    with torch.no_grad():
        m.W_out.weight.zero_()
        m.W_out.bias.zero_()
        m.W_out.bias[EOS_ID] = 1.0
    tokens = m.greedy_decode(src, lengths, BOS_ID, EOS_ID, max_len=8)
    assert torch.equal(tokens, torch.full((3, 1), EOS_ID))  # stops as soon as every row is done


def test_a_decoder_input_other_than_bos_is_allowed():
    m = model("additive")
    src, lengths, tgt_in = batch()
    tgt_in[:, 0] = 5
    assert m(src, lengths, tgt_in).shape == (3, T, TGT_V)


# ---------------------------------------------------------------------------------------------
# Data for teacher forcing, accuracy, and a short training run
# ---------------------------------------------------------------------------------------------

def test_teacher_forcing_pairs_shift_the_target_and_ignore_its_padding():
    d = data.toy_translation(20, max_clauses=2, max_adjectives=1, seed=0)
    pairs = teacher_forcing_pairs(d)
    assert isinstance(pairs, TeacherForcingData) and len(pairs) == 20
    assert torch.equal(pairs.tgt_in, d.y[:, :-1])
    assert torch.equal(pairs.y[d.y[:, 1:] != 0], d.y[:, 1:][d.y[:, 1:] != 0])
    assert torch.all(pairs.y[d.y[:, 1:] == 0] == IGNORE) and (d.y[:, 1:] == 0).any()
    src, src_lengths, tgt_in, tgt_out = pairs[3]
    assert torch.equal(src, d.x[3]) and src_lengths == d.lengths[3] and torch.equal(tgt_out, pairs.y[3])
    part, rest = pairs.split(0.5)
    assert isinstance(part, TeacherForcingData) and len(part[0]) == 4 and len(part) + len(rest) == 20
    assert pairs.meta["target_vocab"] is d.meta["target_vocab"]


def test_sequence_accuracy_counts_exact_sentences_and_tokens_in_place():
    d = data.toy_translation(3, max_clauses=1, max_adjectives=0, seed=0)  # 5 target tokens + <eos> each
    reference = d.y[:, 1:]  # (3, 6)
    written = reference.clone()
    written[1, 1] = 3  # one token wrong
    written[2, -1] = 3  # <eos> replaced: the sentence does not end in time
    m = model(None)
    m.greedy_decode = lambda src, lengths, bos, eos, max_len: written[:len(src), :max_len]
    result = sequence_accuracy(m, d)
    assert result == pytest.approx({"sequence_accuracy": 1 / 3, "token_accuracy": 16 / 18})
    assert sequence_accuracy(m, teacher_forcing_pairs(d)) == result
    m.greedy_decode = lambda src, lengths, bos, eos, max_len: (written[:len(src), :max_len], None)
    with pytest.raises(TypeError, match=r"greedy_decode must return the written ids \(B, T_out\) = \(3, T_out\), got tuple"):
        sequence_accuracy(m, d)


def test_a_short_training_run_with_attention_translates_held_out_sentences():
    train_data = data.toy_translation(640, max_clauses=1, max_adjectives=0, seed=0)
    test_data = data.toy_translation(200, max_clauses=1, max_adjectives=0, seed=1)
    torch.manual_seed(0)
    m = Seq2Seq(len(train_data.vocab), len(train_data.meta["target_vocab"]), embed_dim=16, hidden_size=32,
                attention="additive")
    before = sequence_accuracy(m, test_data)
    history = train.fit(m, teacher_forcing_pairs(train_data), epochs=8, batch_size=32, lr=1e-2, progress=False)
    assert len(history) == 8 and history.last("train_loss") < 0.1  # measured: about 0.01
    assert train.evaluate(m, teacher_forcing_pairs(test_data))["accuracy"] > 0.95  # measured: 1.0
    after = sequence_accuracy(m, test_data)
    assert before["token_accuracy"] < 0.3
    assert after["token_accuracy"] > 0.95 and after["sequence_accuracy"] > 0.9  # measured: 1.0 and 1.0


def tiny_transformer(d, seed=0, d_model=16):
    torch.manual_seed(seed)
    return Transformer(len(d.vocab), len(d.meta["target_vocab"]), d_model=d_model, nhead=2, num_encoder_layers=1,
                       num_decoder_layers=1, dim_feedforward=2 * d_model, dropout=0.0).eval()


def test_both_translators_are_called_the_same_way():
    """Seq2Seq and Transformer: model(src, src_lengths, tgt_in) -> logits (B, T, V), greedy_decode -> ids (B, T_out);
    the lengths reach the Transformer (padding hidden), and the arguments in another order are refused."""
    d = data.toy_translation(5, max_clauses=2, seed=0)
    src, lengths, tgt_in, _ = teacher_forcing_pairs(d)[:]
    tv = d.meta["target_vocab"]
    V = len(tv)
    for m in (tiny_transformer(d), Seq2Seq(len(d.vocab), V, attention="dot").eval()):
        with torch.no_grad():
            logits = m(src, lengths, tgt_in)
            written = m.greedy_decode(src, lengths, tv.id("<bos>"), tv.id("<eos>"), max_len=7)
        assert logits.shape == (*tgt_in.shape, V)
        assert isinstance(written, torch.Tensor) and written.shape[0] == len(src) and written.shape[1] <= 7
        with pytest.raises(ValueError, match="src_lengths"):
            m(src, tgt_in, lengths)  # the target where the lengths belong
    m = tiny_transformer(d)
    assert not torch.equal(m(src, lengths, tgt_in), m(src, None, tgt_in))  # the lengths hide the padding
    assert torch.equal(m(src, lengths, tgt_in), m.decode(tgt_in, m.encode(src, lengths), lengths))


def test_sequence_accuracy_scores_a_transformer_like_its_own_greedy_decode():
    d = data.toy_translation(7, max_clauses=2, seed=3)
    m = tiny_transformer(d, seed=1)
    tv = d.meta["target_vocab"]
    reference = d.y[:, 1:]  # (N, T): without <bos>
    written = m.greedy_decode(d.x, d.lengths, tv.id("<bos>"), tv.id("<eos>"), reference.shape[1])
    written = torch.nn.functional.pad(written, (0, reference.shape[1] - written.shape[1]))
    real = reference != 0
    want = {"sequence_accuracy": (written == reference).all(1).float().mean().item(),
            "token_accuracy": (written == reference)[real].float().mean().item()}
    assert sequence_accuracy(m, d) == pytest.approx(want)


def test_a_short_training_run_teaches_a_transformer_from_the_same_pairs():
    train_data = data.toy_translation(640, max_clauses=1, max_adjectives=0, seed=0)
    test_data = data.toy_translation(200, max_clauses=1, max_adjectives=0, seed=1)
    m = tiny_transformer(train_data, d_model=32)
    before = sequence_accuracy(m, test_data)
    history = train.fit(m, teacher_forcing_pairs(train_data), epochs=6, batch_size=32, lr=3e-3,
                        warmup=20, progress=False)
    assert history.last("train_loss") < 0.1 < history.rows[0]["train_loss"]  # measured: about 0.02 and 3
    after = sequence_accuracy(m, test_data)
    assert before["token_accuracy"] < 0.3
    assert after["token_accuracy"] > 0.95 and after["sequence_accuracy"] > 0.9


# ---------------------------------------------------------------------------------------------
# Clear errors
# ---------------------------------------------------------------------------------------------

def forward_with(src=None, lengths=None, tgt_in=None):
    s, l_, t = batch()
    return lambda: model("dot")(s if src is None else src, l_ if lengths is None else lengths,
                                t if tgt_in is None else tgt_in)


@pytest.mark.parametrize("call, error, message", [
    (lambda: Seq2Seq(SRC_V, TGT_V, attention="luong"), ValueError,
     "attention must be None or one of 'additive', 'general', 'dot', got 'luong'"),
    (lambda: Seq2Seq(SRC_V, TGT_V, dropout=1.5), ValueError, "dropout must be a probability between 0 and 1, got 1.5"),
    (lambda: Seq2Seq(SRC_V, 0), ValueError, "tgt_vocab_size must be at least 2"),
    (forward_with(lengths=torch.tensor([5, 2])), ValueError,
     "src_lengths must have one entry per sequence: expected 3, got 2"),
    (forward_with(lengths=torch.tensor([5, 7, 4])), ValueError,
     r"src_lengths: a length of 7 exceeds the padded sequence length 6 \(at index 1; each length must lie between 1 and 6\)"),
    (forward_with(lengths=torch.tensor([5, 0, 4])), ValueError, "src_lengths: every length must be at least 1, got 0 at index 1"),
    (forward_with(lengths=torch.tensor([5.0, 2.0, 4.0])), TypeError, "src_lengths must hold integers"),
    (forward_with(src=torch.full((3, S), SRC_V)), ValueError,
     r"src must hold token ids in \[0, 11\) \(src_vocab_size=11\), got the token id 11 at src\[0, 0\], outside the vocabulary"),
    (forward_with(src=torch.full((3, S), -1)), ValueError, r"src must hold token ids in \[0, 11\).*got the token id -1 at src\[0, 0\]"),
    (forward_with(src=torch.zeros(3, S)), TypeError, "src must hold integers"),
    (forward_with(tgt_in=torch.full((3, T), TGT_V)), ValueError,
     r"tgt_in must hold token ids in \[0, 13\) \(tgt_vocab_size=13\), got the token id 13 at tgt_in\[0, 0\]"),
    (forward_with(tgt_in=torch.ones(2, T, dtype=torch.long)), ValueError,
     "tgt_in must hold one sequence per source sequence: expected 3, got 2"),
    (forward_with(tgt_in=torch.ones(3, 0, dtype=torch.long)), ValueError, "tgt_in must have at least one step"),
    (lambda: model(None).greedy_decode(*batch()[:2], TGT_V, EOS_ID, 5), ValueError, "bos_id must be at most 12"),
    (lambda: model(None).greedy_decode(*batch()[:2], BOS_ID, EOS_ID, 0), ValueError, "max_len must be at least 1"),
    (lambda: teacher_forcing_pairs((torch.zeros(2, 3), torch.zeros(2, 3))), TypeError,
     "data must be a seqlib.data.SeqData"),
    (lambda: teacher_forcing_pairs(data.copy_task(4, 5)), ValueError, "data must have source lengths"),
    (lambda: teacher_forcing_pairs(data.parity_task(4, 5, min_length=2)), ValueError,
     r"data.y \(target ids\) must have 2 dimensions"),
    (lambda: TeacherForcingData(*batch(), torch.zeros(3, T + 1, dtype=torch.long)), ValueError,
     r"tgt_in and tgt_out must have the same shape, got \(3, 5\) and \(3, 6\)"),
    (lambda: sequence_accuracy(torch.nn.LSTM(2, 3), data.toy_translation(4)), TypeError,
     "model must be a translator with a greedy_decode method .* got LSTM"),
    (lambda: sequence_accuracy("model", data.toy_translation(4)), TypeError,
     "model must be a translator with a greedy_decode method .* got str"),
    (lambda: sequence_accuracy(model(None), data.parity_task(4, 5, min_length=2)), ValueError,
     "data.meta has no 'target_vocab'"),
])
def test_bad_input_is_rejected_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()
