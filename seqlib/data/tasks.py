"""The book's tasks, as seeded generators. Each returns a :class:`seqlib.data.SeqData`.

Every task isolates one thing a sequence model must do, so that when a model fails we know
what failed:

=========================  =====================================================  ==========
task                       what it needs                                          chapters
=========================  =====================================================  ==========
``copy_task``              store a whole sequence and write it out again          4, 6
``reverse_task``           the same, in reverse order                             4
``adding_problem``         find two marked numbers among noise and add them       2, 3, 7
``parity_task``            track one bit of state over the whole sequence         3, 7
``associative_recall``     look up the value stored with a key (MQAR)             7, 11
``selective_copy``         copy the few content tokens, skipping the filler       7, 11
``delayed_recall``         remember one token across a gap of known distance      1, 2
``lag_task``               at every step, repeat the token a fixed lag back       5
``toy_translation``        map a sentence to another language with reordering     4, 6
``word_order_sentiment``   read meaning that lives only in word order             1
``majority_task``          count; order is irrelevant, length varies              1
``key_token_task``         classify by the one key token among fillers            10
=========================  =====================================================  ==========

All randomness comes from a ``torch.Generator`` seeded by ``seed``: the same arguments
always give the same data, independent of the global random state.
"""
from __future__ import annotations

import string

import torch

from .._validate import check_int
from ..runtime import generator
from .batch import SeqData, pad
from .vocab import BOS, EOS, Vocab

IGNORE = -100  # target value that losses and accuracy skip (PyTorch's ignore_index)
LETTERS = string.ascii_lowercase


def _generator(seed: int) -> torch.Generator:
    check_int(seed, "seed", minimum=0)
    return generator(seed)  # seqlib.runtime adds SEQLIB_SEED_OFFSET


def _letters(num_symbols: int) -> Vocab:
    check_int(num_symbols, "num_symbols", minimum=2, maximum=len(LETTERS))
    return Vocab(LETTERS[:num_symbols])


def copy_task(n: int, length: int, num_symbols: int = 8, seed: int = 0) -> SeqData:
    """Sequences of random letters; the target is the sequence itself.

    Returns x (n, length) ids in 1..num_symbols, y (n, length) equal to x.
    """
    check_int(n, "n", minimum=1)
    check_int(length, "length", minimum=1)
    vocab = _letters(num_symbols)
    x = torch.randint(1, num_symbols + 1, (n, length), generator=_generator(seed))  # (n, L)
    return SeqData(x, x.clone(), vocab=vocab, task="copy")


def reverse_task(n: int, length: int, num_symbols: int = 8, seed: int = 0) -> SeqData:
    """Sequences of random letters; the target is the sequence reversed.

    Returns x (n, length), y (n, length) = x flipped along time.
    """
    data = copy_task(n, length, num_symbols, seed)
    return SeqData(data.x, data.x.flip(1), vocab=data.vocab, task="reverse")


def lag_task(n: int, length: int, lag: int = 3, num_symbols: int = 16, seed: int = 0) -> SeqData:
    """At every step, output the letter seen ``lag`` steps earlier: a task about relative position.

    A causal model must find, from each position t, the position t - lag: content cannot help,
    since the letters are random. It is the book's probe of how position encodings extrapolate
    to sequences longer than those seen in training.

    Returns x (n, length) ids in 1..num_symbols, y (n, length) with ``y[:, t] = x[:, t - lag]``
    and ``IGNORE`` for t < lag.
    """
    check_int(n, "n", minimum=1)
    check_int(lag, "lag", minimum=1)
    check_int(length, "length", minimum=lag + 1)
    vocab = _letters(num_symbols)
    x = torch.randint(1, num_symbols + 1, (n, length), generator=_generator(seed))  # (n, L)
    y = torch.full_like(x, IGNORE)
    y[:, lag:] = x[:, :-lag]  # (n, L - lag)
    return SeqData(x, y, vocab=vocab, task="lag", lag=lag)


def adding_problem(n: int, length: int, seed: int = 0) -> SeqData:
    """The adding problem (Hochreiter & Schmidhuber, 1997; in the form of Le et al., 2015).

    Each step carries a value drawn from U(0, 1) and a marker; exactly two steps are marked,
    one in each half of the sequence. The target is the sum of the two marked values.
    Predicting the constant 1 gives a mean squared error of 1/6, the baseline to beat.

    Returns x (n, length, 2) floats [value, marker], y (n,) floats.
    """
    check_int(n, "n", minimum=1)
    check_int(length, "length", minimum=2)
    g = _generator(seed)
    values = torch.rand(n, length, generator=g)  # (n, L)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=g)
    second = torch.randint(half, length, (n,), generator=g)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = torch.stack([values, markers], dim=-1)  # (n, L, 2)
    y = values[rows, first] + values[rows, second]  # (n,)
    return SeqData(x, y, task="adding")


def parity_task(n: int, length: int, min_length: int | None = None, seed: int = 0) -> SeqData:
    """Bit strings; the target is 1 if they hold an odd number of ones.

    With ``min_length`` the lengths vary uniformly in [min_length, length] and the batch is
    padded (so train-short, test-long experiments can use the same generator).

    Returns x (n, length) ids (1 = bit "0", 2 = bit "1", 0 = padding), lengths (n,), y (n,) in {0, 1}.
    """
    check_int(n, "n", minimum=1)
    check_int(length, "length", minimum=1)
    low = length if min_length is None else check_int(min_length, "min_length", minimum=1, maximum=length)
    g = _generator(seed)
    lengths = torch.randint(low, length + 1, (n,), generator=g)  # (n,)
    bits = torch.randint(0, 2, (n, length), generator=g)  # (n, L)
    bits = bits * (torch.arange(length)[None, :] < lengths[:, None])  # zero the padding
    x = torch.where(torch.arange(length)[None, :] < lengths[:, None], bits + 1, 0)
    y = bits.sum(1) % 2
    return SeqData(x, y, lengths=lengths, vocab=Vocab(["0", "1"]), task="parity")


def associative_recall(n: int, num_pairs: int, num_queries: int | None = None, num_keys: int | None = None,
                       num_values: int = 16, seed: int = 0) -> SeqData:
    """Multi-query associative recall, MQAR (Arora et al., 2023).

    The sequence first lists ``num_pairs`` key-value pairs ``k1 v1 k2 v2 ...`` (distinct keys),
    then asks ``num_queries`` of the keys again. At each query position the target is the
    value stored with that key; every other position has target ``IGNORE`` (-100).

    Returns x (n, 2 * num_pairs + num_queries) ids, y of the same shape.
    """
    check_int(n, "n", minimum=1)
    check_int(num_pairs, "num_pairs", minimum=1)
    num_queries = num_pairs if num_queries is None else check_int(num_queries, "num_queries", minimum=1)
    num_keys = max(16, num_pairs) if num_keys is None else check_int(num_keys, "num_keys", minimum=num_pairs)
    check_int(num_values, "num_values", minimum=2)
    vocab = Vocab([f"k{i}" for i in range(num_keys)] + [f"v{i}" for i in range(num_values)])
    key_id0, value_id0 = 1, 1 + num_keys
    g = _generator(seed)
    keys = torch.argsort(torch.rand(n, num_keys, generator=g), dim=1)[:, :num_pairs]  # (n, P) distinct
    values = torch.randint(0, num_values, (n, num_pairs), generator=g)  # (n, P)
    if num_queries <= num_pairs:
        asked = torch.argsort(torch.rand(n, num_pairs, generator=g), dim=1)[:, :num_queries]  # (n, Q)
    else:
        asked = torch.randint(0, num_pairs, (n, num_queries), generator=g)
    context = torch.stack([keys + key_id0, values + value_id0], dim=2).reshape(n, 2 * num_pairs)  # (n, 2P)
    queries = keys.gather(1, asked) + key_id0  # (n, Q)
    x = torch.cat([context, queries], dim=1)  # (n, 2P + Q)
    y = torch.full_like(x, IGNORE)
    y[:, 2 * num_pairs:] = values.gather(1, asked) + value_id0
    return SeqData(x, y, vocab=vocab, task="associative_recall", num_pairs=num_pairs)


def selective_copy(n: int, length: int, num_tokens: int, num_symbols: int = 8, seed: int = 0) -> SeqData:
    """Selective copying (Gu & Dao, 2023): copy the content tokens, in order, ignoring filler.

    ``num_tokens`` letters sit at random positions among ``length`` steps of filler ``.``;
    then ``num_tokens`` markers ``?`` ask for them back. The target is the letters in order.

    Returns x (n, length + num_tokens) ids, y (n, num_tokens) ids.
    """
    check_int(n, "n", minimum=1)
    check_int(num_tokens, "num_tokens", minimum=1)
    check_int(length, "length", minimum=num_tokens)
    check_int(num_symbols, "num_symbols", minimum=2, maximum=len(LETTERS))
    vocab = Vocab([".", "?"] + list(LETTERS[:num_symbols]))
    filler, marker, first_letter = 1, 2, 3
    g = _generator(seed)
    positions = torch.argsort(torch.rand(n, length, generator=g), dim=1)[:, :num_tokens].sort(1).values  # (n, k)
    content = torch.randint(first_letter, first_letter + num_symbols, (n, num_tokens), generator=g)  # (n, k)
    body = torch.full((n, length), filler).scatter(1, positions, content)  # (n, L)
    x = torch.cat([body, torch.full((n, num_tokens), marker)], dim=1)  # (n, L + k)
    return SeqData(x, content, vocab=vocab, task="selective_copy")


def delayed_recall(n: int, distance: int, num_symbols: int = 4, num_noise: int = 8, seed: int = 0) -> SeqData:
    """Remember one cue across a gap: the answer is the letter ``distance`` steps from the end.

    The sequence is the cue (one of ``num_symbols`` letters) followed by ``distance - 1``
    noise digits; the target is the cue's class. A model that sees only the last ``k``
    tokens can solve it exactly when ``k >= distance``.

    Returns x (n, distance) ids, y (n,) class indices in 0..num_symbols-1.
    """
    check_int(n, "n", minimum=1)
    check_int(distance, "distance", minimum=1)
    check_int(num_noise, "num_noise", minimum=1, maximum=10)
    letters = _letters(num_symbols).itos[1:]
    vocab = Vocab(letters + [str(d) for d in range(num_noise)])
    g = _generator(seed)
    y = torch.randint(0, num_symbols, (n,), generator=g)  # (n,)
    noise = torch.randint(1 + num_symbols, 1 + num_symbols + num_noise, (n, distance - 1), generator=g)
    x = torch.cat([(y + 1)[:, None], noise], dim=1)  # (n, distance)
    return SeqData(x, y, vocab=vocab, task="delayed_recall", classes=letters)


# ---- toy translation ------------------------------------------------------------------
# A made-up language pair. The source is English-like, subject-verb-object, adjectives before
# the noun. The target puts the verb last and each noun first in its phrase, followed by its
# adjectives and then its determiner: the alignment between the two is not monotonic.
_DET = {"the": "le", "a": "un"}
_ADJ = {"big": "grando", "small": "peti", "red": "ruja", "old": "vecha", "happy": "feliso", "quiet": "kalma"}
_NOUN = {"dog": "hundo", "cat": "kato", "bird": "birdo", "fish": "fiso", "child": "infano",
         "farmer": "farmo", "teacher": "docisto", "king": "rego"}
_VERB = {"sees": "vidas", "chases": "casas", "likes": "amas", "helps": "helpas", "follows": "sekvas", "finds": "trovas"}
_AND = ("and", "kaj")
LEXICON = {**_DET, **_ADJ, **_NOUN, **_VERB, _AND[0]: _AND[1]}


def _pick(options, g):
    return options[int(torch.randint(0, len(options), (1,), generator=g))]


def _noun_phrase(g, max_adjectives):
    k = int(torch.randint(0, max_adjectives + 1, (1,), generator=g))
    adjectives = [list(_ADJ)[int(i)] for i in torch.randperm(len(_ADJ), generator=g)[:k]]
    det, noun = _pick(list(_DET), g), _pick(list(_NOUN), g)
    source = [det, *adjectives, noun]
    target = [_NOUN[noun], *(_ADJ[a] for a in adjectives), _DET[det]]
    return source, target


def translate(sentence: list[str]) -> list[str]:
    """The reference translation of a source sentence (a list of words) of ``toy_translation``."""
    out, clause = [], []
    for word in sentence + [_AND[0]]:
        if word not in LEXICON:
            raise KeyError(f"unknown source word {word!r}; the toy language knows {sorted(LEXICON)}")
        if word != _AND[0]:
            clause.append(word)
            continue
        verb_at = next((i for i, w in enumerate(clause) if w in _VERB), None)
        if verb_at is None:
            raise ValueError(f"a clause needs a verb, got {clause}")
        phrases = [clause[:verb_at], clause[verb_at + 1:]]
        for np_ in phrases:
            *mods, noun = np_
            det, adjectives = mods[0], mods[1:]
            out += [LEXICON[noun], *(LEXICON[a] for a in adjectives), LEXICON[det]]
        out.append(LEXICON[clause[verb_at]])
        out.append(_AND[1])
        clause = []
    return out[:-1]


def toy_translation(n: int, max_clauses: int = 2, max_adjectives: int = 2, min_clauses: int = 1,
                    seed: int = 0) -> SeqData:
    """Sentences of a toy English and their translation into a toy verb-final language.

    A clause is ``DET ADJ* NOUN VERB DET ADJ* NOUN``; a sentence joins 1..``max_clauses``
    clauses with "and". The target reorders every clause (``NOUN ADJ* DET`` for each phrase,
    then the verb) and translates every word, so source and target have the same length.

    Returns x (n, S) padded source ids, lengths (n,), y (n, T) padded target ids that start
    with ``<bos>`` and end with ``<eos>``; ``meta['target_vocab']`` and ``meta['target_lengths']``.
    """
    check_int(n, "n", minimum=1)
    check_int(max_clauses, "max_clauses", minimum=1)
    check_int(min_clauses, "min_clauses", minimum=1, maximum=max_clauses)
    check_int(max_adjectives, "max_adjectives", minimum=0, maximum=len(_ADJ))
    g = _generator(seed)
    source_vocab = Vocab(list(LEXICON))
    target_vocab = Vocab(list(LEXICON.values()), specials=(BOS, EOS))
    sources, targets = [], []
    for _ in range(n):
        clauses = int(torch.randint(min_clauses, max_clauses + 1, (1,), generator=g))
        words = []
        for c in range(clauses):
            subject, _ = _noun_phrase(g, max_adjectives)
            obj, _ = _noun_phrase(g, max_adjectives)
            words += ([_AND[0]] if c else []) + subject + [_pick(list(_VERB), g)] + obj
        sources.append(source_vocab.encode(words))
        targets.append(target_vocab.encode([BOS, *translate(words), EOS]))
    x, lengths = pad(sources)
    y, target_lengths = pad(targets)
    return SeqData(x, y, lengths=lengths, vocab=source_vocab, target_vocab=target_vocab,
                   target_lengths=target_lengths, task="toy_translation")


def _check_translation(d, name):
    if not isinstance(d, SeqData) or d.meta.get("task") != "toy_translation":
        raise TypeError(f"{name} reads a toy_translation data set (data.toy_translation), "
                        f"got {type(d).__name__} of task {getattr(d, 'meta', {}).get('task')!r}")


def count_clauses(d: SeqData) -> torch.Tensor:
    """The number of clauses of each source sentence of a :func:`toy_translation` set, shape (n,):
    one more than its count of "and"."""
    _check_translation(d, "count_clauses")
    return (d.x == d.vocab.id(_AND[0])).sum(1) + 1  # (n,)


def reverse_sources(d: SeqData) -> SeqData:
    """The same pairs of a :func:`toy_translation` set with each source sentence reversed (its
    padding stays at the end), the trick of Sutskever et al. (2014); the targets are unchanged."""
    _check_translation(d, "reverse_sources")
    x = d.x.clone()  # (n, S)
    for i, n in enumerate(d.lengths.tolist()):
        x[i, :n] = x[i, :n].flip(0)
    return SeqData(x, d.y, lengths=d.lengths, vocab=d.vocab, **d.meta)


def word_by_word(d: SeqData) -> dict:
    """The trivial baseline of a :func:`toy_translation` set: every source word replaced by its
    translation, in the source's order, then ``<eos>``.

    Scored as a translator is: ``token_accuracy``, the share of the reference's tokens (after
    ``<bos>``, ``<eos>`` included) that the guess has right in place, and ``sequence_accuracy``, the
    share of sentences it has right whole. It gets every word and most of the order wrong.
    """
    _check_translation(d, "word_by_word")
    tv = d.meta["target_vocab"]
    right = total = exact = 0
    for b in range(len(d)):
        reference = tv.decode(d.y[b])[1:]  # after <bos>, up to <eos>
        guess = [LEXICON[w] for w in d.vocab.decode(d.x[b])] + [EOS]
        right += sum(g == r for g, r in zip(guess, reference))
        total += len(reference)
        exact += guess == reference
    return {"token_accuracy": right / total, "sequence_accuracy": exact / len(d)}


# ---- Chapter 1's probes ---------------------------------------------------------------
_NOUNS = ["film", "book", "meal", "hotel", "concert", "game", "show", "trip"]
_GOOD = ["good", "great", "fine", "lovely", "superb", "pleasant"]
_BAD = ["bad", "awful", "poor", "dull", "boring", "terrible"]
_INTENSIFIERS = ["really", "very", "truly", "quite"]
_TEMPLATES = [
    "the {noun} was {fill}{a} , not {b}",
    "the {noun} was not {b} but {fill}{a}",
    "not {b} , the {noun} was {fill}{a}",
]


def word_order_sentiment(n_pairs: int, fillers: tuple[int, int] = (0, 0), seed: int = 0) -> SeqData:
    """Short reviews whose meaning lives only in word order, generated as twins.

    Each review asserts one adjective and negates another of the opposite polarity
    ("the film was good , not bad"). Its twin swaps the two adjectives ("the film was bad ,
    not good"): the same multiset of words, the opposite label. Examples ``2i`` and ``2i+1``
    are twins; ``meta['pair']`` gives each example's pair index. ``fillers=(lo, hi)`` inserts
    lo..hi intensifiers ("really", "very") before the asserted adjective, shifting positions.
    All pairs are distinct, so splitting by pair index gives disjoint sets of sentences.

    Returns x (2 n_pairs, T) padded ids, lengths, y (2 n_pairs,) with 1 = positive.
    """
    check_int(n_pairs, "n_pairs", minimum=1)
    lo, hi = fillers
    check_int(lo, "fillers[0]", minimum=0)
    check_int(hi, "fillers[1]", minimum=lo, maximum=4)
    # Every distinct pair is one combination of (template, noun, good, bad, filler words).
    filler_runs = [run for k in range(lo, hi + 1) for run in _runs(k)]
    radices = [len(_TEMPLATES), len(_NOUNS), len(_GOOD), len(_BAD), len(filler_runs)]
    total = 1
    for r in radices:
        total *= r
    check_int(n_pairs, "n_pairs", maximum=total)
    vocab = Vocab(sorted({w for t in _TEMPLATES for w in t.split() if "{" not in w} | {"was"}
                         | set(_NOUNS) | set(_GOOD) | set(_BAD) | set(_INTENSIFIERS)))
    sentences, labels = [], []
    for index in torch.randperm(total, generator=_generator(seed))[:n_pairs].tolist():
        digits = []
        for r in radices:  # mixed-radix decoding of the combination's index
            index, d = divmod(index, r)
            digits.append(d)
        template, noun, good, bad, run = (_TEMPLATES[digits[0]], _NOUNS[digits[1]], _GOOD[digits[2]],
                                          _BAD[digits[3]], filler_runs[digits[4]])
        fill = "".join(word + " " for word in run)
        for asserted, negated, label in ((good, bad, 1), (bad, good, 0)):
            sentences.append(template.format(noun=noun, a=asserted, b=negated, fill=fill).split())
            labels.append(label)
    x, lengths = pad([vocab.encode(s) for s in sentences])
    return SeqData(x, torch.tensor(labels), lengths=lengths, vocab=vocab,
                   pair=torch.arange(n_pairs).repeat_interleave(2), task="word_order_sentiment")


def _runs(k: int) -> list:
    """All sequences of k intensifiers."""
    runs = [[]]
    for _ in range(k):
        runs = [run + [w] for run in runs for w in _INTENSIFIERS]
    return runs


def majority_task(n: int, min_length: int, max_length: int, seed: int = 0) -> SeqData:
    """Sequences of ``+``, ``-`` and neutral ``o`` tokens; the target is 1 if ``+`` outnumbers ``-``.

    Order does not matter here, only counts, and lengths vary in [min_length, max_length]:
    the task isolates what padding does to a model that pools over positions.
    Ties are broken by changing the first token (``+`` or ``-`` becomes ``o``, ``o`` becomes ``+``).

    Returns x (n, max_length) padded ids, lengths (n,), y (n,) in {0, 1}.
    """
    check_int(n, "n", minimum=1)
    check_int(min_length, "min_length", minimum=1)
    check_int(max_length, "max_length", minimum=min_length)
    vocab = Vocab(["+", "-", "o"])
    plus, minus = vocab.id("+"), vocab.id("-")
    g = _generator(seed)
    lengths = torch.randint(min_length, max_length + 1, (n,), generator=g)
    tokens = torch.randint(1, 4, (n, max_length), generator=g)  # (n, T) in {+, -, o}
    real = torch.arange(max_length)[None, :] < lengths[:, None]
    tokens = torch.where(real, tokens, 0)
    score = (tokens == plus).sum(1) - (tokens == minus).sum(1)
    neutral = vocab.id("o")
    first = tokens[:, 0]
    broken = torch.where(first == neutral, plus, neutral)  # moves the score by one, either way
    tokens[:, 0] = torch.where(score == 0, broken, first)
    score = (tokens == plus).sum(1) - (tokens == minus).sum(1)
    return SeqData(tokens, (score > 0).long(), lengths=lengths, vocab=vocab, task="majority")


def key_token_task(n: int, length: int, num_classes: int = 4, num_fillers: int = 16, none_fraction: float = 0.2,
                   seed: int = 0) -> SeqData:
    """Sequences of filler letters holding one key token; the label is which key it is.

    The key tokens are ``A``, ``B``, ... (one per class) and sit at a uniformly random position;
    every other position holds one of ``num_fillers`` lower-case letters, which carry no
    information. A fraction ``none_fraction`` of the sequences hold no key at all and have the
    extra label ``num_classes`` ("none"): without them a model could predict the last class
    from the *absence* of the others, without reading its key. So the right answer depends on
    one known token, and a faithful explanation must point at it.

    Returns:
        a SeqData with x (n, length) token ids, y (n,) the class (``num_classes`` for "none"),
        and ``meta['position']`` (n,) the position of the key token (-1 where there is none).
    """
    check_int(n, "n", minimum=1)
    check_int(length, "length", minimum=1)
    check_int(num_classes, "num_classes", minimum=2, maximum=26)
    check_int(num_fillers, "num_fillers", minimum=1, maximum=26)
    if isinstance(none_fraction, bool) or not isinstance(none_fraction, (int, float)) or not 0 <= none_fraction < 1:
        raise ValueError(f"none_fraction must be a fraction in [0, 1), got {none_fraction!r}")
    keys = [chr(ord("A") + i) for i in range(num_classes)]
    fillers = [chr(ord("a") + i) for i in range(num_fillers)]
    vocab = Vocab(keys + fillers)
    g = _generator(seed)
    key_id0, filler_id0 = vocab.id(keys[0]), vocab.id(fillers[0])
    x = torch.randint(0, num_fillers, (n, length), generator=g) + filler_id0  # (n, T) fillers
    y = torch.randint(0, num_classes, (n,), generator=g)  # (n,)
    position = torch.randint(0, length, (n,), generator=g)  # (n,)
    none = torch.rand(n, generator=g) < none_fraction  # (n,): sequences without a key
    rows = (~none).nonzero().squeeze(1)
    x[rows, position[rows]] = y[rows] + key_id0
    y = torch.where(none, num_classes, y)
    position = torch.where(none, -1, position)
    return SeqData(x, y, vocab=vocab, position=position, task="key_token", num_classes=num_classes + 1)
