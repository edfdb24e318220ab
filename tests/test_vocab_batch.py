"""Vocabularies, padding, masks and batching."""
import sys

import pytest
import torch
from torch.nn.utils.rnn import pad_sequence

from seqlib import data


def test_vocab_round_trip_and_pad_is_zero():
    v = data.Vocab.from_text("hello world")
    assert v.itos[0] == "<pad>" and v.pad_id == 0
    ids = v.encode("hello")
    assert v.decode(ids, join="") == "hello"
    assert len(v) == len(set("hello world")) + 1


def test_unknown_token_error_names_token_position_and_vocabulary():
    v = data.Vocab(["a", "b"])
    with pytest.raises(KeyError, match=r"at position 2: unknown token 'z'.*3 tokens.*no '<unk>'"):
        v.encode(["a", "b", "z"])


def test_unknown_token_maps_to_unk_when_present():
    v = data.Vocab(["a"], specials=("<unk>",))
    assert v.encode(["a", "q"]).tolist() == [2, 1]


def test_decode_rejects_out_of_range_ids_and_batches():
    v = data.Vocab(["a"])
    with pytest.raises(ValueError, match="outside this vocabulary's range 0..1"):
        v.decode([5])
    with pytest.raises(ValueError, match=r"shape \(T,\), got shape \(2, 2\)"):
        v.decode(torch.zeros(2, 2, dtype=torch.long))


def test_pad_agrees_with_pytorch_and_reports_lengths():
    seqs = [torch.tensor([3, 4, 5]), torch.tensor([6]), torch.tensor([7, 8])]
    padded, lengths = data.pad(seqs)
    assert torch.equal(padded, pad_sequence(seqs, batch_first=True))
    assert lengths.tolist() == [3, 1, 2]
    feats, _ = data.pad([torch.ones(2, 4), torch.ones(3, 4)], length=5)
    assert feats.shape == (2, 5, 4) and feats[0, 2:].abs().sum() == 0


def test_pad_errors():
    with pytest.raises(ValueError, match="at least one sequence"):
        data.pad([])
    with pytest.raises(ValueError, match="length must be at least 3, got 2"):
        data.pad([torch.ones(3)], length=2)
    with pytest.raises(ValueError, match="share their feature shape"):
        data.pad([torch.ones(2, 3), torch.ones(2, 4)])


def test_lengths_to_mask():
    mask = data.lengths_to_mask(torch.tensor([2, 0, 3]), max_len=4)
    assert mask.tolist() == [[True, True, False, False], [False] * 4, [True, True, True, False]]
    with pytest.raises(ValueError, match="max_len=2 is shorter than the longest length 3"):
        data.lengths_to_mask(torch.tensor([3]), max_len=2)
    with pytest.raises(TypeError, match="lengths must hold integers"):
        data.lengths_to_mask(torch.tensor([1.0]))


def test_masked_mean_ignores_padding_and_empty_rows_give_zero():
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[5.0], [7.0], [9.0]], [[4.0], [4.0], [4.0]]])
    mask = data.lengths_to_mask(torch.tensor([2, 3, 0]), 3)
    assert data.masked_mean(x, mask).squeeze(1).tolist() == [2.0, 7.0, 0.0]


def test_mask_of_the_wrong_shape_or_type_is_rejected():
    x = torch.zeros(2, 5, 3)
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, time\) = \(2, 5\).*got \(2, 4\)"):
        data.masked_mean(x, torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask must be a bool tensor"):
        data.masked_mean(x, torch.ones(2, 5))


def test_seqdata_rejects_mismatched_lengths_and_batch():
    x, y = torch.zeros(4, 6, dtype=torch.long), torch.zeros(4)
    with pytest.raises(ValueError, match="same number of examples, got 4 and 3"):
        data.SeqData(x, torch.zeros(3))
    with pytest.raises(ValueError, match="lengths must have one entry per sequence: expected 4, got 2"):
        data.SeqData(x, y, lengths=torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="a length of 9 exceeds the padded sequence length 6"):
        data.SeqData(x, y, lengths=torch.tensor([1, 2, 9, 3]))


def test_seqdata_items_split_and_batches_are_reproducible():
    d = data.parity_task(100, 8, min_length=2, seed=0)
    x, length, y = d[3]
    assert x.shape == (8,) and length == d.lengths[3] and y == d.y[3]
    a, b = d.split(0.8, seed=1)
    assert len(a) == 80 and len(b) == 20
    assert len(a) + len(b) == len(d)
    rows = lambda part: {(tuple(x.tolist()), int(y)) for x, y in zip(part.x, part.y)}  # noqa: E731
    assert rows(a) | rows(b) == rows(d)
    first = [batch[0] for batch in data.batches(d, 16, shuffle=True, seed=5)]
    again = [batch[0] for batch in data.batches(d, 16, shuffle=True, seed=5)]
    assert all(torch.equal(p, q) for p, q in zip(first, again))


def test_corpus_and_windows():
    text = data.load_corpus()
    assert len(text) > 400_000 and "assert" in text
    assert data.load_corpus(max_chars=50) == text[:50]
    v = data.corpus_vocab(text)
    ids = v.encode(text[:5000])
    x, y = data.char_windows(ids, context=32, n=10, seed=0)
    assert x.shape == y.shape == (10, 32)
    assert torch.equal(x[:, 1:], y[:, :-1])
    with pytest.raises(ValueError, match="too short"):
        data.char_windows(ids[:10], context=32, n=1)


def test_the_corpus_is_the_same_on_every_python():
    """The shipped text, not the running Python's pydoc_data (3.12's and 3.13's are longer)."""
    import subprocess
    import sys

    code = "import sys, seqlib.data as d; t = d.load_corpus(); print(len(t), 'pydoc_data' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["465047", "False"]


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the shipped copy is Python 3.11's")
def test_the_shipped_corpus_is_python_3_11s_documentation():
    from pydoc_data.topics import topics

    assert data.load_corpus() == "\n\n".join(topics[name].strip() for name in sorted(topics))


@pytest.mark.parametrize("name", data.SERIES)
def test_series_load_without_gaps(name):
    s = data.load_series(name)
    assert s.notna().all() and s.index.is_monotonic_increasing and len(s) >= 100


def test_series_errors_and_windows():
    with pytest.raises(ValueError, match="series must be one of"):
        data.load_series("airline")
    x, y = data.make_windows(data.load_series("nile"), context=10, horizon=2)
    assert x.shape == (89, 10) and y.shape == (89, 2)
    with pytest.raises(ValueError, match="too short for context 5 \\+ horizon 1"):
        data.make_windows(torch.arange(4.0), 5)


def test_padded_keeps_everything_but_the_length():
    d = data.word_order_sentiment(5, seed=0)
    p = d.padded(15)
    assert p.x.shape == (10, 15) and torch.equal(p.x[:, : d.x.shape[1]], d.x) and (p.x[:, d.x.shape[1]:] == 0).all()
    assert torch.equal(p.lengths, d.lengths) and torch.equal(p.meta["pair"], d.meta["pair"])
    assert data.adding_problem(3, 4).padded(6).x.shape == (3, 6, 2)
    with pytest.raises(ValueError, match=f"length must be at least {d.x.shape[1]}, got 4"):
        d.padded(4)


def test_masked_mean_ignores_whatever_the_padding_holds():
    x = torch.randn(2, 4, 3, requires_grad=True)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    poisoned = x.masked_fill(~mask.unsqueeze(-1), float("nan"))
    out = data.masked_mean(poisoned, mask)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
    assert torch.allclose(out[0], x[0, :2].mean(0)) and torch.allclose(out[1], x[1].mean(0))
    assert torch.equal(x.grad[0, 2:], torch.zeros(2, 3))  # padding gets no gradient


def test_pad_keeps_floats_that_follow_integer_sequences():
    x, lengths = data.pad([torch.tensor([1, 2]), torch.tensor([0.5, 1.5, 2.5])])
    assert x.dtype == torch.float32 and x[1].tolist() == [0.5, 1.5, 2.5] and x[0].tolist() == [1.0, 2.0, 0.0]
    ids, _ = data.pad([torch.tensor([1, 2]), torch.tensor([3])])
    assert ids.dtype == torch.long
    with pytest.raises(ValueError, match="pad_value=0.5 is not a whole number"):
        data.pad([torch.tensor([1, 2])], pad_value=0.5)


@pytest.mark.parametrize("call, message", [
    (lambda: data.lengths_to_mask(torch.tensor([2, 1]), max_len=2.5), "max_len must be an int"),
    (lambda: data.SeqData(torch.zeros(2, 3), torch.zeros(2), lengths=torch.tensor([2, -1])),
     "lengths: every length must be at least 0, got -1 at index 1"),
])
def test_bad_lengths_are_rejected_not_rounded(call, message):
    with pytest.raises((TypeError, ValueError), match=message):
        call()


def test_subset_keeps_per_example_meta_with_its_examples():
    keyed = data.key_token_task(40, 12, seed=0)
    chosen = keyed.meta["position"] >= 0  # the sequences that have a key
    part = keyed.subset(chosen)
    assert len(part.meta["position"]) == len(part) == int(chosen.sum())
    assert torch.equal(part.meta["position"], keyed.meta["position"][chosen])
    pairs = data.toy_translation(30, max_clauses=3, seed=1)
    tail = pairs.subset(slice(10, None))
    assert torch.equal(tail.meta["target_lengths"], pairs.meta["target_lengths"][10:])
    assert tail.meta["target_vocab"] is pairs.meta["target_vocab"]  # other entries are kept as they are
    assert tail.meta["task"] == "toy_translation"
