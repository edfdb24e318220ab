"""Graders for the coding exercises: call one with your function and it tells you what is wrong.

Each checker compares your function with a trusted reference (PyTorch's own function where
one exists) on many random and edge cases, and raises an ``AssertionError`` that names the
first case that disagrees. When everything agrees it returns a one-line report.
"""
from __future__ import annotations

import torch
from torch.nn.utils.rnn import pad_sequence

from .data.batch import lengths_to_mask, masked_mean

__all__ = ['check_pad', 'check_masked_mean']


def _cases_1d(seed):
    g = torch.Generator().manual_seed(seed)
    cases = [[torch.tensor([5])], [torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])]]
    for _ in range(6):
        b = int(torch.randint(1, 6, (1,), generator=g))
        lengths = torch.randint(1, 9, (b,), generator=g).tolist()
        cases.append([torch.randint(1, 50, (n,), generator=g) for n in lengths])
    return cases


def check_pad(fn, seed: int = 0) -> str:
    """Grade ``fn(sequences) -> (padded (B, T), lengths (B,))`` against ``torch.nn.utils.rnn.pad_sequence``.

    ``fn`` receives a list of 1-D long tensors and must fill the padding with 0.
    """
    cases = _cases_1d(seed)
    for k, seqs in enumerate(cases):
        shapes = [len(s) for s in seqs]
        out = fn([s.clone() for s in seqs])
        if not (isinstance(out, tuple) and len(out) == 2):
            raise AssertionError(f"case {k} (lengths {shapes}): expected a tuple (padded, lengths), got {type(out).__name__}")
        padded, lengths = out
        want = pad_sequence(seqs, batch_first=True, padding_value=0)
        if tuple(padded.shape) != tuple(want.shape):
            raise AssertionError(f"case {k} (lengths {shapes}): padded should have shape {tuple(want.shape)}, "
                                 f"got {tuple(padded.shape)}")
        if not torch.equal(padded.long(), want):
            raise AssertionError(f"case {k} (lengths {shapes}): padded values differ from pad_sequence:\n"
                                 f"expected\n{want}\ngot\n{padded}")
        if not torch.equal(torch.as_tensor(lengths).long(), torch.tensor(shapes)):
            raise AssertionError(f"case {k}: lengths should be {shapes}, got {lengths}")
    return f"check_pad: all {len(cases)} cases agree with torch.nn.utils.rnn.pad_sequence."


def check_masked_mean(fn, seed: int = 0) -> str:
    """Grade ``fn(x (B, T, D), mask (B, T) bool) -> (B, D)``: the mean over real positions only.

    The padding positions hold large random numbers, so a function that forgets the mask
    (or divides by T instead of each row's length) fails.
    """
    g = torch.Generator().manual_seed(seed)
    for k in range(8):
        B, T, D = (int(v) for v in torch.randint(1, 7, (3,), generator=g))
        lengths = torch.randint(1, T + 1, (B,), generator=g)
        mask = lengths_to_mask(lengths, T)
        x = torch.randn(B, T, D, generator=g)
        x = torch.where(mask[..., None], x, 100 * torch.randn(B, T, D, generator=g))  # garbage in the padding
        want = torch.stack([x[b, : lengths[b]].mean(0) for b in range(B)])  # the definition, row by row
        assert torch.allclose(masked_mean(x, mask), want, atol=1e-6)  # the reference agrees with it
        got = fn(x.clone(), mask.clone())
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (B, D):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise AssertionError(f"case {k}: expected a tensor of shape (B, D) = {(B, D)}, got {shape}")
        if not torch.allclose(got, want, atol=1e-5):
            worst = (got - want).abs().max().item()
            raise AssertionError(f"case {k} (lengths {lengths.tolist()}, T={T}): the result differs from the "
                                 f"mean over real positions by up to {worst:.3g}. Did the padding leak in?")
    return "check_masked_mean: all 8 cases agree with the mean over real positions."
