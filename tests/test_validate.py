"""The central input checks of seqlib._validate, and every public entry point that takes lengths or
token ids rejecting bad ones through them (the messages below are only check_lengths' and
check_token_ids')."""
import numpy as np
import pytest
import torch

from seqlib import data, interpret, linear_attention, models, recurrent, seq2seq, ssm, transformer
from seqlib._validate import check_lengths, check_token_ids

META = torch.device("meta")


# ---------------------------------------------------------------------------------------------
# check_lengths
# ---------------------------------------------------------------------------------------------

def test_check_lengths_accepts_the_edge_cases_and_returns_them_unchanged():
    lengths = torch.tensor([1, 5, 3], dtype=torch.int32)
    assert check_lengths(lengths, 3, 5) is lengths  # 1 and T are both allowed; dtype and device kept
    zero = torch.tensor([0, 4])
    assert check_lengths(zero, 2, 4, minimum=0) is zero  # data and masks allow empty rows
    assert check_lengths(torch.tensor([9, 1]), 2, None).tolist() == [9, 1]  # no upper bound
    assert check_lengths(torch.tensor([2, 7]), None, 7).tolist() == [2, 7]  # no count to check
    assert check_lengths(torch.zeros(0, dtype=torch.long), 0, 0).shape == (0,)  # an empty batch


def test_check_lengths_takes_lists_and_arrays_and_moves_to_a_device():
    got = check_lengths([3, 1], 2, 3, device=torch.device("cpu"))
    assert isinstance(got, torch.Tensor) and got.tolist() == [3, 1] and got.device.type == "cpu"
    assert check_lengths(np.array([2, 2]), 2, 2).tolist() == [2, 2]
    assert check_lengths(torch.tensor([2, 1]), 2, 3, device=META).device == META


def test_check_lengths_skips_values_on_meta_but_not_the_count():
    check_lengths(torch.empty(2, dtype=torch.long, device=META), 2, 1)  # values unknown: nothing to check
    with pytest.raises(ValueError, match="lengths must have one entry per sequence: expected 3, got 2"):
        check_lengths(torch.empty(2, dtype=torch.long, device=META), 3, 1)


@pytest.mark.parametrize("lengths, kwargs, error, message", [
    (torch.tensor([3, 4]), {}, ValueError,
     r"lengths: a length of 4 exceeds the padded sequence length 3 "
     r"\(at index 1; each length must lie between 1 and 3\)"),
    (torch.tensor([3, 0, 2]), {"batch": 3}, ValueError,
     r"lengths: every length must be at least 1, got 0 at index 1 \(each length must lie between 1 and 3\)"),
    (torch.tensor([2, -1]), {"minimum": 0}, ValueError, "every length must be at least 0, got -1 at index 1"),
    (torch.tensor([3, 2, 1]), {}, ValueError, "lengths must have one entry per sequence: expected 2, got 3"),
    (torch.tensor([3.0, 2.0]), {}, TypeError, "lengths must hold integers .* got dtype torch.float32"),
    (torch.tensor([True, True]), {}, TypeError, "lengths must hold integers .* got dtype torch.bool"),
    (torch.tensor([[3, 2]]), {}, ValueError, r"lengths must have 1 dimensions, got shape \(1, 2\)"),
    ("3, 2", {}, TypeError, "lengths must be a tensor \\(batch,\\) or a list of ints, got str"),
    ([3, 4], {"name": "src_lengths"}, ValueError, "src_lengths: a length of 4 exceeds the padded sequence length 3"),
])
def test_check_lengths_names_what_was_expected_and_what_came(lengths, kwargs, error, message):
    kwargs = {"batch": 2, "max_len": 3, **kwargs}
    with pytest.raises(error, match=message):
        check_lengths(lengths, kwargs.pop("batch"), kwargs.pop("max_len"), **kwargs)


# ---------------------------------------------------------------------------------------------
# check_token_ids
# ---------------------------------------------------------------------------------------------

def test_check_token_ids_accepts_the_edge_cases():
    x = torch.tensor([[0, 4], [4, 0]], dtype=torch.int32)
    assert check_token_ids(x, 5) is x  # 0 and vocab_size - 1 are both ids
    assert check_token_ids(torch.zeros(0, 3, dtype=torch.long), 5, min_len=1).shape == (0, 3)  # B = 0
    assert check_token_ids(torch.zeros(2, 0, dtype=torch.long), 5).shape == (2, 0)  # T = 0 unless min_len
    check_token_ids(torch.empty(2, 3, dtype=torch.long, device=META), 5)  # meta: no values to check


@pytest.mark.parametrize("x, kwargs, error, message", [
    (torch.tensor([[1, 5]]), {}, ValueError,
     r"x must hold token ids in \[0, 5\) \(vocab_size=5\), got the token id 5 at x\[0, 1\], outside the vocabulary"),
    (torch.tensor([[1, 2], [-1, 0]]), {"name": "src", "vocab_name": "src_vocab"}, ValueError,
     r"src must hold token ids in \[0, 5\) \(src_vocab=5\), got the token id -1 at src\[1, 0\]"),
    (torch.zeros(2, 0, dtype=torch.long), {"min_len": 1}, ValueError,
     r"x must hold at least one token per sequence \(T >= 1\), got T=0 in shape \(2, 0\)"),
    (torch.zeros(2, 3), {}, TypeError, "x must hold integers .* got dtype torch.float32"),
    (torch.zeros(3, dtype=torch.long), {}, ValueError, r"x must have 2 dimensions, got shape \(3,\)"),
    ([[1, 2]], {}, TypeError, "x must be a torch.Tensor, got list"),
])
def test_check_token_ids_names_what_was_expected_and_what_came(x, kwargs, error, message):
    with pytest.raises(error, match=message):
        check_token_ids(x, 5, **kwargs)


# ---------------------------------------------------------------------------------------------
# Every public entry point goes through them
# ---------------------------------------------------------------------------------------------

B, T, V = 2, 4, 7
X = torch.zeros(B, T, 3)
IDS = torch.ones(B, T, dtype=torch.long)
BAD_IDS = torch.tensor([[1, 2, 3, 4], [1, V, 1, 1]])  # V at [1, 1]
LONG, EMPTY = torch.tensor([T, T + 1]), torch.tensor([T, 0])
TOO_LONG = rf"a length of {T + 1} exceeds the padded sequence length {T} \(at index 1; each length must lie between"
TOO_SHORT = r"every length must be at least 1, got 0 at index 1"
OUTSIDE = rf"must hold token ids in \[0, {V}\) .*got the token id {V} at .*\[1, 1\], outside the vocabulary"


def rnn_model(tokens=False):
    return models.RecurrentModel("lstm", V if tokens else 3, 4, tokens=tokens)


def causal(tokens=False):
    return models.CausalTransformer(V if tokens else 3, 8, tokens=tokens)


def translator():
    return transformer.Transformer(V, V, d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                   dim_feedforward=16)


def lm():
    return transformer.DecoderOnlyLM(V, d_model=8, nhead=2, num_layers=1, dim_feedforward=16)


LENGTH_CALLS = {
    "RNN": lambda lengths: recurrent.RNN(3, 4)(X, lengths=lengths),
    "LSTM": lambda lengths: recurrent.LSTM(3, 4, bidirectional=True)(X, lengths=lengths),
    "GRU": lambda lengths: recurrent.GRU(3, 4)(X, lengths=lengths),
    "RecurrentModel": lambda lengths: rnn_model()(X, lengths),
    "CausalTransformer": lambda lengths: causal()(X, lengths),
    "Seq2Seq.forward": lambda lengths: seq2seq.Seq2Seq(V, V)(IDS, lengths, IDS),
    "Seq2Seq.encode": lambda lengths: seq2seq.Seq2Seq(V, V).encode(IDS, lengths),
    "Seq2Seq.greedy_decode": lambda lengths: seq2seq.Seq2Seq(V, V).greedy_decode(IDS, lengths, 1, 2, 3),
    "Transformer.forward src_lengths": lambda lengths: translator()(IDS, lengths, IDS),
    "Transformer.forward tgt_lengths": lambda lengths: translator()(IDS, None, IDS, tgt_lengths=lengths),
    "Transformer.encode": lambda lengths: translator().encode(IDS, lengths),
    "Transformer.decode": lambda lengths: translator().decode(IDS, torch.zeros(B, T, 8), lengths),
    "Transformer.greedy_decode": lambda lengths: translator().greedy_decode(IDS, lengths, 1, 2, 3),
    "SeqData": lambda lengths: data.SeqData(IDS, torch.zeros(B), lengths=lengths),
}


@pytest.mark.parametrize("name", LENGTH_CALLS)
def test_entry_points_reject_bad_lengths_through_check_lengths(name):
    call = LENGTH_CALLS[name]
    with pytest.raises(ValueError, match=TOO_LONG):
        call(LONG)
    with pytest.raises(ValueError, match=r"must have one entry per sequence: expected 2, got 3"):
        call(torch.tensor([1, 1, 1]))
    with pytest.raises(TypeError, match="must hold integers"):
        call(torch.tensor([1.0, 1.0]))
    if name != "SeqData":  # data may hold empty sequences (lengths 0); models may not
        with pytest.raises(ValueError, match=TOO_SHORT):
            call(EMPTY)


def test_lengths_to_mask_rejects_negative_lengths_through_check_lengths():
    assert data.lengths_to_mask([2, 0], 3).tolist() == [[True, True, False], [False] * 3]  # a list, as elsewhere
    with pytest.raises(ValueError, match="lengths: every length must be at least 0, got -2 at index 1"):
        data.lengths_to_mask(torch.tensor([1, -2]))


TOKEN_CALLS = {
    "RecurrentModel": lambda x: rnn_model(tokens=True)(x),
    "CausalTransformer": lambda x: causal(tokens=True)(x),
    "Seq2Seq src": lambda x: seq2seq.Seq2Seq(V, V)(x, torch.tensor([T, T]), IDS),
    "Seq2Seq tgt_in": lambda x: seq2seq.Seq2Seq(V, V)(IDS, torch.tensor([T, T]), x),
    "Transformer src": lambda x: translator()(x, None, IDS),
    "Transformer tgt_in": lambda x: translator()(IDS, None, x),
    "DecoderOnlyLM.forward": lambda x: lm()(x),
    "DecoderOnlyLM.attention_weights": lambda x: lm().attention_weights(x),
    "DecoderOnlyLM.generate": lambda x: lm().generate(x, 1),
    "LinearAttentionLM": lambda x: linear_attention.LinearAttentionLM(V, d_model=8)(x),
    "MambaLM": lambda x: ssm.MambaLM(V, d_model=8, d_state=4)(x),
    "AttentionClassifier": lambda x: interpret.AttentionClassifier(V, 2, d_model=8)(x),
}


@pytest.mark.parametrize("name", TOKEN_CALLS)
def test_entry_points_reject_bad_token_ids_through_check_token_ids(name):
    call = TOKEN_CALLS[name]
    with pytest.raises(ValueError, match=OUTSIDE):
        call(BAD_IDS)
    with pytest.raises(ValueError, match=rf"token ids in \[0, {V}\) .*got the token id -1"):
        call(-IDS)
    with pytest.raises(TypeError, match="must hold integers"):
        call(IDS.float())
