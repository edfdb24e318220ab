"""The book's text: Python's own documentation, shipped with seqlib.

The text behind ``help("assert")``, ``help("for")`` and the other language topics
(``pydoc_data.topics``): about 465,000 characters of English prose mixed with code, brackets
and indentation, with real long-range structure (matched brackets, indented blocks,
sentences referring back to code). Every Python carries its own version of it, and it grows
with each release (3.12's and 3.13's are longer), so seqlib ships one fixed copy, Python
3.11.7's, in ``python_topics.txt.gz``: every chapter reads the same characters on every Python,
and nothing is downloaded. The text is the Python Software Foundation's documentation,
distributed under the PSF License.
"""
from __future__ import annotations

import gzip
import hashlib
from importlib import resources

import torch

from .._validate import check_int
from ..runtime import generator
from .vocab import Vocab

CORPUS_FILE = "python_topics.txt.gz"
CORPUS_SHA256 = "d9dc35bce5ab1a24ed7f4c3c9b7c22450410e9d68279e3426db458c6be371621"  # of the UTF-8 text


def load_corpus(max_chars: int | None = None) -> str:
    """The documentation topics (Python 3.11.7's), joined in sorted order by blank lines.

    Args:
        max_chars: keep only the first ``max_chars`` characters (default: all of it).
    """
    if max_chars is not None:
        check_int(max_chars, "max_chars", minimum=1)
    raw = gzip.decompress(resources.files(__package__).joinpath(CORPUS_FILE).read_bytes())
    if hashlib.sha256(raw).hexdigest() != CORPUS_SHA256:
        raise RuntimeError(f"seqlib's {CORPUS_FILE} is damaged (its checksum does not match); reinstall seqlib")
    text = raw.decode("utf-8")
    return text if max_chars is None else text[:max_chars]


def char_windows(ids: torch.Tensor, context: int, n: int, seed: int = 0):
    """Random training windows for next-character prediction.

    Args:
        ids: the encoded corpus, shape (N,).
        context: window length T.
        n: how many windows.

    Returns:
        Two tensors of shape (n, T), inputs and targets; each target is the character that
        follows the input at the same position.
    """
    check_int(context, "context", minimum=1)
    check_int(n, "n", minimum=1)
    if ids.dim() != 1:
        raise ValueError(f"ids must be the encoded corpus of shape (N,), got shape {tuple(ids.shape)}")
    if len(ids) <= context:
        raise ValueError(f"the corpus of {len(ids)} ids is too short for windows of {context} + 1")
    g = generator(seed)
    starts = torch.randint(0, len(ids) - context, (n,), generator=g)  # (n,)
    offsets = torch.arange(context + 1)  # (T + 1,)
    windows = ids[starts[:, None] + offsets[None, :]]  # (n, T + 1)
    return windows[:, :-1], windows[:, 1:]


def corpus_vocab(text: str) -> Vocab:
    """The character vocabulary of the corpus (with ``<pad>`` as id 0)."""
    return Vocab.from_text(text)
