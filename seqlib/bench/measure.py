"""Measuring tools: time (:func:`timeit`), the memory autograd saves (:func:`saved_bytes`), the
sequential depth of a computation (:func:`graph_depth`), and the exponent of a power law (:func:`fit_exponent`).

See :mod:`seqlib.bench`.
"""
from __future__ import annotations

import math
import statistics
import time
from typing import Callable

import torch

from .._validate import check_int


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn: Callable[[], object], repeats: int = 5, warmup: int = 1, device="cpu") -> dict:
    """Time ``fn()``: ``warmup`` calls first (not timed), then ``repeats`` timed calls.

    Each call is timed with ``time.perf_counter`` (after ``torch.cuda.synchronize`` on a GPU,
    so that the queued work is counted). Report the median, not the mean or the minimum: on a
    shared machine some calls are slowed by other work, and the median ignores them.

    Returns:
        A dict with ``median_s``, ``iqr_s`` (the interquartile range, the spread of the middle
        half), ``min_s``, ``max_s`` and ``repeats``; times in seconds.
    """
    if not callable(fn):
        raise TypeError(f"fn must be a callable with no arguments, got {type(fn).__name__}")
    check_int(repeats, "repeats", minimum=1)
    check_int(warmup, "warmup", minimum=0)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        begin = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - begin)
    if repeats >= 2:
        q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive")
    else:
        q1 = q3 = times[0]
    return {"median_s": statistics.median(times), "iqr_s": q3 - q1, "min_s": min(times), "max_s": max(times),
            "repeats": repeats}


def saved_bytes(fn: Callable[[], object]) -> int:
    """The bytes autograd keeps for the backward pass while ``fn()`` runs (its saved activations).

    Every tensor that an operation saves for its gradient passes through a
    ``torch.autograd.graph.saved_tensors_hooks`` pack hook; we add up the sizes of the distinct
    storages behind them (a tensor saved twice, or two views of one tensor, count once). This is
    the memory a training step must hold between its forward and backward passes, measured
    exactly, on any device, the same on every machine. Inputs and weights that are saved count
    too (they are small next to the activations).
    """
    if not callable(fn):
        raise TypeError(f"fn must be a callable with no arguments, got {type(fn).__name__}")
    storages = {}

    def pack(t):
        storage = t.untyped_storage()
        storages[(storage.device.type, storage.data_ptr())] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def graph_depth(output: torch.Tensor) -> int:
    """The number of operations on the longest chain of the autograd graph that produced ``output``.

    Operations on one chain must run one after the other, whatever the hardware: this is the
    *sequential depth* of the computation (Vaswani et al. 2017, Table 1, "sequential
    operations"), counted on the real graph. Fused kernels (``nn.LSTM``) hide their inner steps
    in one node, so count it on a model built from its operations (``seqlib.recurrent.LSTM``).
    """
    if not isinstance(output, torch.Tensor) or output.grad_fn is None:
        raise ValueError("graph_depth needs a tensor computed from inputs that require gradients (it has no grad_fn)")
    depth = {}
    stack = [(output.grad_fn, False)]
    while stack:  # an iterative depth-first search: a long recurrence would overflow Python's recursion
        node, children_done = stack.pop()
        if node in depth:
            continue
        children = [n for n, _ in node.next_functions if n is not None]
        if children_done:
            depth[node] = 1 + max((depth[c] for c in children), default=0)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in children if c not in depth)
    return depth[output.grad_fn]


def fit_exponent(x, y) -> float:
    """The slope of log y against log x by least squares: y grows like x to this power."""
    x, y = list(x), list(y)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"fit_exponent needs two sequences of the same length, at least 2, got {len(x)} and {len(y)}")
    if min(x) <= 0 or min(y) <= 0:
        raise ValueError("fit_exponent needs positive values (it fits on logarithms)")
    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    var = sum((a - mx) ** 2 for a in lx)
    if var == 0:
        raise ValueError("fit_exponent needs at least two different x values")
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / var

