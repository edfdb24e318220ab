"""Vocabularies: the map between tokens (strings) and the integer ids a model sees.

Convention throughout the book: id 0 is always the padding token ``<pad>``, so that
``nn.Embedding(..., padding_idx=0)`` and ``mask = ids != 0`` both work.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import torch

PAD, UNK, BOS, EOS, SEP = "<pad>", "<unk>", "<bos>", "<eos>", "<sep>"


class Vocab:
    """An ordered set of tokens; ``<pad>`` has id 0.

    Args:
        tokens: the ordinary tokens, in the order their ids should follow the specials.
        specials: extra special tokens placed right after ``<pad>`` (e.g. ``("<bos>", "<eos>")``).
            Include ``"<unk>"`` to map unknown tokens to it; without it, unknown tokens are an error.
    """

    def __init__(self, tokens: Iterable[str], specials: Sequence[str] = ()):
        itos = [PAD] + [s for s in specials if s != PAD]
        seen = set(itos)
        for t in tokens:
            if t not in seen:
                itos.append(t)
                seen.add(t)
        self.itos: list[str] = itos
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(itos)}

    @classmethod
    def from_text(cls, text: str, specials: Sequence[str] = (), min_count: int = 1) -> "Vocab":
        """A character vocabulary: every character of ``text`` seen ``min_count`` times, sorted."""
        counts = Counter(text)
        return cls(sorted(c for c, n in counts.items() if n >= min_count), specials)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        shown = ", ".join(repr(t) for t in self.itos[:8])
        more = f", ... ({len(self)} tokens)" if len(self) > 8 else ""
        return f"Vocab([{shown}{more}])"

    @property
    def pad_id(self) -> int:
        return 0

    def id(self, token: str) -> int:
        """The id of one token; unknown tokens map to ``<unk>`` if present, else raise."""
        if token in self.stoi:
            return self.stoi[token]
        if UNK in self.stoi:
            return self.stoi[UNK]
        sample = ", ".join(repr(t) for t in self.itos[:12])
        raise KeyError(f"unknown token {token!r}: it is not in this vocabulary of {len(self)} tokens "
                       f"({sample}{', ...' if len(self) > 12 else ''}) and the vocabulary has no '<unk>'")

    def encode(self, tokens: Iterable[str]) -> torch.Tensor:
        """Tokens (a string is a sequence of characters) -> ids, shape (T,)."""
        ids = []
        for position, t in enumerate(tokens):
            try:
                ids.append(self.id(t))
            except KeyError as e:
                raise KeyError(f"at position {position}: {e.args[0]}") from None
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids, join: str | None = None, strip_pad: bool = True):
        """Ids (tensor or list, shape (T,)) -> list of tokens, or a string if ``join`` is given."""
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"decode takes one sequence of shape (T,), got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        out = []
        for i in ids:
            if not 0 <= i < len(self):
                raise ValueError(f"id {i} is outside this vocabulary's range 0..{len(self) - 1}")
            if strip_pad and i == 0:
                continue
            out.append(self.itos[i])
        return out if join is None else join.join(out)
