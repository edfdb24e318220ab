"""The book's range rule: when two models' seeds say one model leads, and when they say a tie.

A head-to-head verdict compares models trained with several seeds each. The book calls a lead
only where the seeds leave no doubt: every seed of one model beats every seed of the other, that
is, one model's worst seed beats the other's best. Where the two ranges overlap, it is a tie,
however far apart the medians are. :func:`range_call` applies the rule; the chapters turn its
answer into their words.
"""
from __future__ import annotations

import math

__all__ = ["range_call"]


def _scores(values, name):
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers (one score per seed), got {values!r}") from None
    if not out:
        raise ValueError(f"{name} must hold at least one seed's score, got none")
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must hold finite scores, got {out}")
    return out


def range_call(a, b, *, higher_is_better: bool = True) -> str:
    """``"a"`` where every seed of ``a`` beats every seed of ``b``, ``"b"`` for the reverse, else ``"tie"``.

    Args:
        a, b: the two models' scores, one per seed (lists, arrays or pandas Series of numbers).
        higher_is_better: ``True`` for accuracies, ``False`` for losses and errors.

    Equal extremes are a tie: a lead needs the worst seed strictly better than the other's best.
    """
    a, b = _scores(a, "a"), _scores(b, "b")
    if not higher_is_better:
        a, b = [-v for v in a], [-v for v in b]
    if min(a) > max(b):
        return "a"
    if min(b) > max(a):
        return "b"
    return "tie"
