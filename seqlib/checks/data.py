"""Graders for the data exercises: padding, the masked mean, and the seasonal naive forecast."""
from __future__ import annotations

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from ..data.batch import lengths_to_mask, masked_mean
from ..runtime import generator
from ._common import _as_answer, _call, _describe, _shape_of


def _cases_1d(seed):
    g = generator(seed)
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
        where = f"case {k} (lengths {shapes}, sequences {[s.tolist() for s in seqs]})"
        out = _call(fn, where, [s.clone() for s in seqs])
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise AssertionError(f"case {k} (lengths {shapes}): expected a tuple (padded, lengths), got {type(out).__name__}")
        padded, lengths = out
        want = pad_sequence(seqs, batch_first=True, padding_value=0)
        if isinstance(padded, torch.Tensor) and tuple(padded.shape) != tuple(want.shape):
            raise AssertionError(f"case {k} (lengths {shapes}): padded should have shape {tuple(want.shape)}, "
                                 f"got {tuple(padded.shape)}")
        padded = _as_answer(padded, want.shape, want, where, "padded")
        if not torch.equal(padded.double(), want.double()):  # exactly: 2.4 is not the id 2
            raise AssertionError(f"case {k} (lengths {shapes}): padded values differ from pad_sequence:\n"
                                 f"expected\n{want}\ngot\n{padded}")
        got_lengths = _as_answer(lengths, (len(shapes),), torch.tensor(shapes), where, "lengths")
        if not torch.equal(got_lengths.double(), torch.tensor(shapes, dtype=torch.float64)):
            raise AssertionError(f"case {k}: lengths should be {shapes}, got {lengths}")
    return f"check_pad: all {len(cases)} cases agree with torch.nn.utils.rnn.pad_sequence."



def check_masked_mean(fn, seed: int = 0) -> str:
    """Grade ``fn(x (B, T, D), mask (B, T) bool) -> (B, D)``: the mean over real positions only.

    The padding positions hold large random numbers, so a function that forgets the mask
    (or divides by T instead of each row's length) fails.
    """
    g = generator(seed)
    for k in range(8):
        B, T, D = (int(v) for v in torch.randint(1, 7, (3,), generator=g))
        lengths = torch.randint(1, T + 1, (B,), generator=g)
        mask = lengths_to_mask(lengths, T)
        x = torch.randn(B, T, D, generator=g)
        x = torch.where(mask[..., None], x, 100 * torch.randn(B, T, D, generator=g))  # garbage in the padding
        want = torch.stack([x[b, : lengths[b]].mean(0) for b in range(B)])  # the definition, row by row
        assert torch.allclose(masked_mean(x, mask), want, atol=1e-6)  # the reference agrees with it
        where = f"case {k} (x of shape (B, T, D) = {(B, T, D)}, lengths {lengths.tolist()})"
        got = _call(fn, where, x.clone(), mask.clone())
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != (B, D):
            if not isinstance(got, (np.ndarray, list, tuple)) or _shape_of(got) != (B, D):
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else _describe(got)
                raise AssertionError(f"case {k}: expected a tensor of shape (B, D) = {(B, D)}, got {shape} "
                                     f"(x of shape {(B, T, D)}, lengths {lengths.tolist()})")
        got = _as_answer(got, (B, D), want, where)
        if not torch.allclose(got, want, atol=1e-5):
            worst = (got - want).abs().max().item()
            raise AssertionError(f"case {k} (lengths {lengths.tolist()}, T={T}): the result differs from the "
                                 f"mean over real positions by up to {worst:.3g}. Did the padding leak in?")
    return "check_masked_mean: all 8 cases agree with the mean over real positions."



def _seasonal_naive_variants(y, horizon, season):
    """What the common mistakes of a seasonal naive forecaster return, by name."""
    n, h = len(y), torch.arange(horizon)
    out = {"the last value repeated (the naive forecast, season 1)": y[-1].repeat(horizon)}
    if n >= season + 1:
        out["the season one step too early (y[n + h - s - 1])"] = y[n - season - 1 + (h % season)]
    out["the season one step too late (y[n + h - s + 1])"] = y[(n - season + 1 + (h % season)).clamp(max=n - 1)]
    if n >= 2 * season:
        out["the value two seasons back (y[n + h - 2s])"] = y[n - 2 * season + (h % season)]
    out["the mean of the last season, repeated"] = y[n - season:].mean().repeat(horizon)
    far = n - season + h  # no wrap: beyond one season this reads past the history, so clamp it
    out["the season not repeated beyond the first one (it must wrap when horizon > season)"] = y[far.clamp(max=n - 1)]
    return out



def check_seasonal_naive(fn, seed: int = 0) -> str:
    """Grade ``fn(history, horizon, season) -> forecasts (horizon,)`` against
    :func:`seqlib.forecast.seasonal_naive`.

    ``history`` is a 1-D float64 tensor y[0 .. n-1]; the forecast of y[n + h - 1] for
    h = 1 .. horizon is the value one season earlier, y[n + h - 1 - s * ceil(h / s)]. The cases
    include horizons longer than a season and histories of exactly one season; when the result
    matches a common mistake (an off-by-one season, no wrap past the first season, the naive
    forecast) the error names it.
    """
    from ..forecast import seasonal_naive

    g = generator(seed)
    sizes = [(24, 12, 12), (30, 5, 12), (40, 30, 12), (7, 7, 7), (10, 9, 4), (50, 3, 1), (37, 25, 6)]
    for k, (n, horizon, season) in enumerate(sizes):
        t = torch.arange(n, dtype=torch.float64)
        y = 0.3 * t + torch.sin(2 * torch.pi * t / season) + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
        want = seasonal_naive(y, horizon, season)
        where = f"case {k} (history of {n} values, horizon={horizon}, season={season})"
        got = _call(fn, where, y.clone(), horizon, season)
        if isinstance(got, (torch.Tensor, np.ndarray, list, tuple)) and _shape_of(got) != (horizon,):
            raise AssertionError(f"{where}: expected {horizon} forecasts, shape ({horizon},), got shape "
                                 f"{_shape_of(got)}")
        got = _as_answer(got, (horizon,), want, where, f"{horizon} forecasts")
        if not torch.allclose(got, want, atol=1e-9):
            hint = ""
            for name, value in _seasonal_naive_variants(y, horizon, season).items():
                if torch.allclose(got, value, atol=1e-9):
                    hint = f" It matches {name}."
                    break
            first = int((got - want).abs().argmax())
            raise AssertionError(f"{where}: forecast {first + 1} steps ahead should be {want[first].item():.4f}, "
                                 f"got {got[first].item():.4f}.{hint}")
    return f"check_seasonal_naive: all {len(sizes)} cases agree with seqlib.forecast.seasonal_naive."

