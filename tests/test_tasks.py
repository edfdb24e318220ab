"""The book's tasks: shapes, meaning, determinism, and clear errors."""
import collections

import pytest
import torch

from seqlib import data
from seqlib.data import IGNORE

TASKS = {
    "copy": lambda seed: data.copy_task(50, 7, seed=seed),
    "reverse": lambda seed: data.reverse_task(50, 7, seed=seed),
    "adding": lambda seed: data.adding_problem(50, 10, seed=seed),
    "parity": lambda seed: data.parity_task(50, 12, min_length=3, seed=seed),
    "mqar": lambda seed: data.associative_recall(50, 4, seed=seed),
    "selective": lambda seed: data.selective_copy(50, 12, 3, seed=seed),
    "delayed": lambda seed: data.delayed_recall(50, 5, seed=seed),
    "lag": lambda seed: data.lag_task(50, 9, lag=2, seed=seed),
    "translation": lambda seed: data.toy_translation(50, seed=seed),
    "word_order": lambda seed: data.word_order_sentiment(25, fillers=(0, 2), seed=seed),
    "majority": lambda seed: data.majority_task(50, 2, 9, seed=seed),
}


@pytest.mark.parametrize("name", TASKS)
def test_same_seed_same_data_other_seed_other_data(name):
    a, b, c = TASKS[name](0), TASKS[name](0), TASKS[name](1)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert not (a.x.shape == c.x.shape and torch.equal(a.x, c.x))


@pytest.mark.parametrize("name", TASKS)
def test_tasks_do_not_touch_the_global_random_state(name):
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    TASKS[name](0)
    assert torch.equal(torch.rand(1), expected)


def test_copy_and_reverse_targets():
    c, r = data.copy_task(20, 6, seed=2), data.reverse_task(20, 6, seed=2)
    assert torch.equal(c.y, c.x) and torch.equal(r.y, r.x.flip(1))
    assert c.x.min() >= 1 and c.x.max() <= 8  # 0 is reserved for padding


def test_adding_problem_marks_one_value_in_each_half_and_sums_them():
    d = data.adding_problem(200, 10, seed=0)
    values, markers = d.x[..., 0], d.x[..., 1]
    assert torch.equal(markers[:, :5].sum(1), torch.ones(200)) and torch.equal(markers[:, 5:].sum(1), torch.ones(200))
    assert torch.allclose((values * markers).sum(1), d.y)


def test_parity_labels_and_lengths():
    d = data.parity_task(300, 16, min_length=4, seed=0)
    ones = (d.x == 2).sum(1)
    assert torch.equal(ones % 2, d.y)
    assert d.lengths.min() >= 4 and d.lengths.max() <= 16
    assert torch.equal((d.x != 0).sum(1), d.lengths)  # padding exactly past each length


def test_associative_recall_targets_are_the_stored_values():
    d = data.associative_recall(100, num_pairs=5, num_queries=3, seed=0)
    for x, y in zip(d.x, d.y):
        store = {int(x[i]): int(x[i + 1]) for i in range(0, 10, 2)}
        assert len(store) == 5  # distinct keys
        assert (y[:10] == IGNORE).all()
        for q, v in zip(x[10:], y[10:]):
            assert store[int(q)] == int(v)


def test_selective_copy_target_is_the_content_in_order():
    d = data.selective_copy(100, 20, 4, seed=0)
    filler, marker = d.vocab.id("."), d.vocab.id("?")
    for x, y in zip(d.x, d.y):
        content = x[:20][x[:20] != filler]
        assert torch.equal(content, y)
        assert (x[20:] == marker).all()


def test_delayed_recall_answer_sits_distance_steps_from_the_end():
    d = data.delayed_recall(100, 6, seed=0)
    assert d.x.shape == (100, 6)
    assert torch.equal(d.x[:, -6] - 1, d.y)
    assert (d.x[:, 1:] > 4).all()  # the rest is noise, never a cue letter


def test_lag_task_target_is_the_token_lag_steps_back():
    d = data.lag_task(30, 10, lag=3, num_symbols=5, seed=1)
    assert d.x.shape == d.y.shape == (30, 10) and d.meta["lag"] == 3
    assert (d.y[:, :3] == IGNORE).all()
    assert torch.equal(d.y[:, 3:], d.x[:, :7])
    assert d.x.min() >= 1 and d.x.max() <= 5 and len(d.vocab) == 6


def test_toy_translation_matches_the_reference_and_reorders():
    d = data.toy_translation(30, max_clauses=3, seed=0)
    tv = d.meta["target_vocab"]
    for x, y in zip(d.x, d.y):
        src = d.vocab.decode(x)
        tgt = tv.decode(y)
        assert tgt[0] == "<bos>" and tgt[-1] == "<eos>"
        assert tgt[1:-1] == data.translate(src)
        assert len(tgt) == len(src) + 2
    assert data.translate("the big dog sees a cat".split()) == "hundo grando le kato un vidas".split()


def test_count_clauses_and_reverse_sources_of_toy_translation():
    d = data.toy_translation(60, max_clauses=4, max_adjectives=1, seed=3)
    before = d.x.clone()
    k = data.count_clauses(d)
    assert k.shape == (60,) and set(k.tolist()) == {1, 2, 3, 4}
    for x, n, c in zip(d.x, d.lengths, k):
        assert d.vocab.decode(x[:n]).count("and") + 1 == c
    r = data.reverse_sources(d)
    assert torch.equal(r.y, d.y) and torch.equal(r.lengths, d.lengths) and r.meta["task"] == "toy_translation"
    for x, xr, n in zip(d.x, r.x, d.lengths.tolist()):
        assert torch.equal(xr[:n], x[:n].flip(0)) and torch.equal(xr[n:], x[n:])  # padding stays at the end
    assert torch.equal(data.reverse_sources(r).x, d.x)  # reversing twice gives the sentence back
    part = d.subset(k == 2)
    assert (data.count_clauses(part) == 2).all()
    assert torch.equal(d.x, before)  # the original is left alone
    with pytest.raises(TypeError, match="toy_translation"):
        data.count_clauses(data.copy_task(4, 5))
    with pytest.raises(TypeError, match="toy_translation"):
        data.reverse_sources(data.copy_task(4, 5))


def test_word_by_word_gets_the_words_and_misses_the_order():
    # one clause, no adjectives: "DET NOUN VERB DET NOUN" becomes "NOUN DET NOUN DET VERB"; word by
    # word keeps the source's order, so of the six reference tokens only the second article and <eos>
    # are right in place, in every sentence
    d = data.toy_translation(50, max_clauses=1, max_adjectives=0, seed=4)
    assert data.word_by_word(d) == {"token_accuracy": 2 / 6, "sequence_accuracy": 0.0}
    longer = data.toy_translation(200, max_clauses=3, max_adjectives=1, seed=4)
    assert 0.1 < data.word_by_word(longer)["token_accuracy"] < 0.6
    with pytest.raises(TypeError, match="toy_translation"):
        data.word_by_word(data.copy_task(4, 5))


def test_word_order_twins_share_their_words_but_not_their_label():
    d = data.word_order_sentiment(40, fillers=(0, 2), seed=0)
    for i in range(0, 80, 2):
        a, b = d.vocab.decode(d.x[i]), d.vocab.decode(d.x[i + 1])
        assert collections.Counter(a) == collections.Counter(b) and a != b
        assert d.y[i] != d.y[i + 1]
        assert d.meta["pair"][i] == d.meta["pair"][i + 1] == i // 2
    sentences = [tuple(d.vocab.decode(row)) for row in d.x]
    assert len(set(sentences)) == len(sentences)  # distinct pairs: splits by pair are disjoint
    with pytest.raises(ValueError, match="n_pairs must be at most 864, got 900"):
        data.word_order_sentiment(900)


def test_majority_labels_have_no_ties():
    d = data.majority_task(500, 1, 8, seed=0)
    score = (d.x == d.vocab.id("+")).sum(1) - (d.x == d.vocab.id("-")).sum(1)
    assert (score != 0).all()
    assert torch.equal((score > 0).long(), d.y)


@pytest.mark.parametrize("call, message", [
    (lambda: data.adding_problem(10, 1), "length must be at least 2, got 1"),
    (lambda: data.copy_task(10, 0), "length must be at least 1, got 0"),
    (lambda: data.selective_copy(10, 3, 5), "length must be at least 5, got 3"),
    (lambda: data.parity_task(10, 5, min_length=8), "min_length must be at most 5, got 8"),
    (lambda: data.associative_recall(10, 20, num_keys=8), "num_keys must be at least 20, got 8"),
    (lambda: data.copy_task(10, 5, num_symbols=40), "num_symbols must be at most 26, got 40"),
    (lambda: data.copy_task(10, 5.5), "length must be an int, got float"),
    (lambda: data.delayed_recall(10, 0), "distance must be at least 1, got 0"),
    (lambda: data.lag_task(10, 3, lag=3), "length must be at least 4, got 3"),
])
def test_bad_task_arguments_say_what_was_expected_and_what_came(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_translate_rejects_unknown_words():
    with pytest.raises(KeyError, match="unknown source word 'unicorn'"):
        data.translate("the unicorn sees a cat".split())
