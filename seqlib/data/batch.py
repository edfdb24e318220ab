"""Padding, lengths, masks and batches: how sequences of different lengths share a tensor.

A batch of B sequences with lengths L_1..L_B is stored as a (B, T) tensor, T = max L_b,
with the tail of each row filled by the pad id 0. The mask (B, T) is True at real tokens
and False at padding: ``mask[b, t] = t < L_b``. Every operation that mixes positions
(a mean, a softmax, a loss) must respect it.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.data import DataLoader, Dataset

from .._validate import check_int, check_lengths, check_tensor, has_values
from ..runtime import generator


def pad(sequences: Sequence[torch.Tensor], pad_value: float = 0, length: int | None = None):
    """Stack 1-D (or (L, F)) sequences of different lengths into one padded tensor.

    Args:
        sequences: B tensors of shape (L_b,) or (L_b, F).
        pad_value: what fills the positions past each sequence's end.
        length: pad to this many steps (default: the longest sequence).

    Returns:
        padded (B, T) or (B, T, F), and lengths (B,) as a long tensor.
    """
    if len(sequences) == 0:
        raise ValueError("pad needs at least one sequence, got an empty list")
    for i, s in enumerate(sequences):
        check_tensor(s, f"sequences[{i}]", dims=(1, 2))
    trailing = {tuple(s.shape[1:]) for s in sequences}
    if len(trailing) > 1:
        raise ValueError(f"all sequences must share their feature shape, got {sorted(trailing)}")
    devices = {s.device for s in sequences}
    if len(devices) > 1:
        raise ValueError(f"all sequences must be on one device, got {sorted(map(str, devices))}")
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    T = int(lengths.max())
    if length is not None:
        check_int(length, "length", minimum=T)
        T = length
    # One dtype that holds every sequence (int ids and float features mixed give floats), so that
    # no value is silently truncated to the first sequence's dtype.
    dtype = sequences[0].dtype
    for s in sequences[1:]:
        dtype = torch.promote_types(dtype, s.dtype)
    if not dtype.is_floating_point and not dtype.is_complex and float(pad_value) != int(pad_value):
        raise ValueError(f"pad_value={pad_value!r} is not a whole number, but the sequences are {dtype}")
    out = torch.full((len(sequences), T) + tuple(sequences[0].shape[1:]), pad_value, dtype=dtype,
                     device=sequences[0].device)
    for b, s in enumerate(sequences):
        out[b, : len(s)] = s
    return out, lengths


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """lengths (B,) -> mask (B, T): True where t < lengths[b]."""
    lengths = check_lengths(lengths, None, None, minimum=0)  # (B,), each >= 0 (an empty row is all False)
    if not has_values(lengths):  # on the meta device: the shape is known, the values are not
        if max_len is None:
            raise ValueError("lengths on the meta device have no values to find the longest in; pass max_len")
        return torch.arange(check_int(max_len, "max_len", minimum=0), device=lengths.device)[None, :] < lengths[:, None]
    longest = int(lengths.max()) if len(lengths) else 0
    T = longest if max_len is None else check_int(max_len, "max_len", minimum=0)
    if T < longest:
        raise ValueError(f"max_len={max_len} is shorter than the longest length {longest}")
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]  # (B, T)


def check_mask(mask: torch.Tensor, x: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Raise a clear error unless ``mask`` is a bool (B, T) tensor matching x's first two dims."""
    check_tensor(mask, name, dims=2, dtype_kind="bool")
    if tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(f"{name} must have shape (batch, time) = {tuple(x.shape[:2])} to match the input "
                         f"of shape {tuple(x.shape)}, got {tuple(mask.shape)}")
    return mask


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average x (B, T, D) over the real positions only -> (B, D).

    Rows with no real position give zeros rather than NaN, and whatever the padded positions
    hold (inf or NaN included) reaches neither the result nor its gradient.
    """
    check_tensor(x, "x", dims=3)
    check_mask(mask, x)
    m = mask.unsqueeze(-1)  # (B, T, 1)
    return x.masked_fill(~m, 0).sum(1) / m.sum(1).clamp(min=1).to(x.dtype)  # (B, D)


class SeqData(Dataset):
    """A task's examples: inputs ``x``, targets ``y`` and, for padded data, ``lengths``.

    Indexing gives ``(x[i], y[i])``, or ``(x[i], lengths[i], y[i])`` when lengths are
    present, so a model is called as ``model(x)`` or ``model(x, lengths)``.

    Attributes:
        x: inputs, (N, T) token ids or (N, T, F) features.
        y: targets: (N,) per sequence, (N, T') per position.
        lengths: (N,) real lengths of padded inputs, or None.
        vocab: the input vocabulary (None for real-valued inputs).
        meta: anything else a task wants to keep (target vocabulary, parameters).
    """

    def __init__(self, x, y, lengths=None, vocab=None, **meta):
        check_tensor(x, "x", dims=(2, 3))
        check_tensor(y, "y")
        if len(x) != len(y):
            raise ValueError(f"x and y must hold the same number of examples, got {len(x)} and {len(y)}")
        if lengths is not None:
            lengths = check_lengths(lengths, len(x), x.shape[1], minimum=0)  # (N,), each in [0, T]
        self.x, self.y, self.lengths, self.vocab, self.meta = x, y, lengths, vocab, meta

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        if self.lengths is None:
            return self.x[i], self.y[i]
        return self.x[i], self.lengths[i], self.y[i]

    def __repr__(self) -> str:
        extra = "" if self.lengths is None else f", lengths={tuple(self.lengths.shape)}"
        return f"SeqData(x={tuple(self.x.shape)}, y={tuple(self.y.shape)}{extra})"

    def subset(self, index) -> "SeqData":
        """The examples at ``index`` (a slice, a list of ints or a bool mask), as a new SeqData.

        Per-example entries of ``meta`` (tensors whose first dimension is the number of examples,
        such as ``key_token_task``'s ``position`` or ``toy_translation``'s ``target_lengths``) are
        indexed with the examples; every other entry is kept as it is.
        """
        lengths = None if self.lengths is None else self.lengths[index]
        n = len(self.x)
        meta = {k: v[index] if isinstance(v, torch.Tensor) and v.dim() >= 1 and len(v) == n else v
                for k, v in self.meta.items()}
        return SeqData(self.x[index], self.y[index], lengths, self.vocab, **meta)

    def padded(self, length: int) -> "SeqData":
        """The same examples with the inputs padded (with id 0 or zeros) to ``length`` steps."""
        check_int(length, "length", minimum=self.x.shape[1])
        extra = length - self.x.shape[1]
        x = torch.nn.functional.pad(self.x, (0, 0, 0, extra) if self.x.dim() == 3 else (0, extra))
        return SeqData(x, self.y, self.lengths, self.vocab, **self.meta)

    def split(self, fraction: float, seed: int = 0):
        """Shuffle with ``seed`` and split into (first ``fraction``, rest)."""
        if not 0 < fraction < 1:
            raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
        order = torch.randperm(len(self), generator=generator(seed))
        k = int(round(fraction * len(self)))
        return self.subset(order[:k]), self.subset(order[k:])


def batches(data: Dataset, batch_size: int = 64, shuffle: bool = False, seed: int = 0) -> DataLoader:
    """A DataLoader whose shuffling is driven by its own seeded generator (reproducible)."""
    check_int(batch_size, "batch_size", minimum=1)
    shuffler = generator(seed) if shuffle else None
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, generator=shuffler)
