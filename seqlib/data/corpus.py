"""The book's text: Python's own documentation, as shipped with every Python.

``pydoc_data.topics`` holds the text behind ``help("assert")``, ``help("for")`` and so on:
about 460,000 characters of English prose mixed with code, brackets and indentation.
It is always installed, so no chapter downloads anything, and it has real long-range
structure (matched brackets, indented blocks, sentences referring back to code).
"""
from __future__ import annotations

import torch

from .._validate import check_int
from .vocab import Vocab


def load_corpus(max_chars: int | None = None) -> str:
    """The documentation topics joined in sorted order, separated by blank lines.

    Args:
        max_chars: keep only the first ``max_chars`` characters (default: all of it).
    """
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[name].strip() for name in sorted(topics))
    if max_chars is not None:
        check_int(max_chars, "max_chars", minimum=1)
        text = text[:max_chars]
    return text


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
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(ids) - context, (n,), generator=g)  # (n,)
    offsets = torch.arange(context + 1)  # (T + 1,)
    windows = ids[starts[:, None] + offsets[None, :]]  # (n, T + 1)
    return windows[:, :-1], windows[:, 1:]


def corpus_vocab(text: str) -> Vocab:
    """The character vocabulary of the corpus (with ``<pad>`` as id 0)."""
    return Vocab.from_text(text)
