"""Linear recurrences, computed one step at a time and by a parallel scan.

A **linear recurrence** h_t = a_t * h_{t-1} + b_t (elementwise) is the common core of linear
attention, linear RNNs and state space models. Unlike an LSTM's, its step is linear in h, so
the steps can be composed in any grouping: a **parallel scan** (Hillis & Steele's prefix sum,
Blelloch 1990; Martin & Cundy 2018 for RNNs) computes all T states in ceil(log2 T) rounds of
whole-tensor operations instead of T sequential steps. This file builds

    linear_recurrence_loop    the T-step reference
    linear_recurrence_scan    the same states in ceil(log2 T) vectorised rounds
    combine                   the associative operator the scan is built on
    MinGRU                    a minimal gated recurrence (Feng et al. 2024) computed either way

PyTorch has no scan primitive to compare with, so tests check the scan against the loop
(outputs and gradients, to 1e-5).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ._validate import as_shape, check_int, check_sequences, check_tensor

__all__ = ["linear_recurrence_loop", "linear_recurrence_scan", "combine", "scan_rounds", "MinGRU"]


def _check_ab(a, b, h0):
    check_tensor(a, "a", dtype_kind="float")
    check_tensor(b, "b", dtype_kind="float")
    if a.dim() < 2:
        raise ValueError(f"a and b must have shape (batch, time, ...) with at least 2 dimensions, got a of shape "
                         f"{as_shape(a)}")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape (batch, time, ...), got a {as_shape(a)} and b "
                         f"{as_shape(b)}")
    if h0 is not None:
        check_tensor(h0, "h0", dtype_kind="float")
        want = (a.shape[0],) + tuple(a.shape[2:])
        if tuple(h0.shape) != want:
            raise ValueError(f"h0 must have shape (batch, ...) = {want} to match a of shape {as_shape(a)}, "
                             f"got {as_shape(h0)}")


def linear_recurrence_loop(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t, one step at a time (the reference).

    Args:
        a: the decays, (B, T, ...) (any trailing shape, elementwise).
        b: the inputs, the same shape as ``a``.
        h0: the state before the first step, (B, ...); zeros if None.

    Returns:
        every state h_1 ... h_T, shape (B, T, ...). As for ``torch.cumsum``, T = 0 (or B = 0)
        gives an empty result of that shape, as :func:`linear_recurrence_scan` does.
    """
    _check_ab(a, b, h0)
    if a.shape[1] == 0:  # no step: no state
        return b.new_empty(b.shape)  # (B, 0, ...)
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0  # (B, ...)
    states = []
    for t in range(a.shape[1]):  # T sequential steps: step t needs step t - 1
        h = a[:, t] * h + b[:, t]  # (B, ...)
        states.append(h)
    return torch.stack(states, dim=1)  # (B, T, ...)


def combine(first: tuple, second: tuple) -> tuple:
    """Compose two steps of the recurrence: ``first`` = (a1, b1) is applied, then ``second`` = (a2, b2).

    h -> a2 * (a1 * h + b1) + b2 = (a1 * a2) * h + (a2 * b1 + b2), so the pair is
    (a1 * a2, a2 * b1 + b2). The operator is associative but not commutative: the order matters.
    """
    a1, b1 = first
    a2, b2 = second
    return a1 * a2, a2 * b1 + b2


def scan_rounds(T: int) -> int:
    """The number of sequential rounds of :func:`linear_recurrence_scan` for T steps: ceil(log2 T) (0 for T <= 1)."""
    check_int(T, "T", minimum=0)
    return math.ceil(math.log2(T)) if T > 1 else 0


def linear_recurrence_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t for all t at once: a Hillis-Steele parallel scan.

    After the round with offset k (k = 1, 2, 4, ...), position t holds the composition of
    steps t-2k+1 ... t (or all steps from the first), so ceil(log2 T) rounds suffice. Each
    round is a few whole-tensor operations; it does O(T log T) work instead of the loop's
    O(T), in exchange for O(log T) sequential rounds instead of T.

    Args:
        a: the decays, (B, T, ...).
        b: the inputs, the same shape as ``a``.
        h0: the state before the first step, (B, ...); zeros if None.

    Returns:
        every state h_1 ... h_T, shape (B, T, ...), equal to :func:`linear_recurrence_loop`'s
        (empty for T = 0 or B = 0).
    """
    _check_ab(a, b, h0)
    # Fold h0 into the first input, h_1 = a_1 h0 + b_1, as the loop's first step computes it, zeros
    # included: without it, one step (T = 1) would return b itself, the caller's tensor, with a
    # left out of the graph (no gradient at all where the loop's is 0).
    h0 = torch.zeros_like(b[:, :1]) if h0 is None else h0.unsqueeze(1)  # (B, 1, ...), or (B, 0, ...) for T = 0
    b = torch.cat([a[:, :1] * h0 + b[:, :1], b[:, 1:]], dim=1)  # (B, T, ...)
    T, k = a.shape[1], 1
    while k < T:
        # position t combines the earlier block ending at t - k with its own block ending at t;
        # positions t < k have no earlier block: the identity step (a = 1, b = 0)
        a_prev = torch.cat([torch.ones_like(a[:, :k]), a[:, :-k]], dim=1)  # (B, T, ...)
        b_prev = torch.cat([torch.zeros_like(b[:, :k]), b[:, :-k]], dim=1)  # (B, T, ...)
        a, b = combine((a_prev, b_prev), (a, b))
        k *= 2
    return b  # with h_0 = 0, the composed step applied to 0 is its b


class MinGRU(nn.Module):
    """A minimal gated recurrence, minGRU (Feng et al., 2024), whose step is linear in the state::

        z_t   = sigmoid(W_z x_t)                     update gate, depends on the input only
        h~_t  = W_h x_t                              candidate, depends on the input only
        h_t   = (1 - z_t) * h_{t-1} + z_t * h~_t     a linear recurrence: a_t = 1 - z_t, b_t = z_t h~_t

    Unlike a GRU, neither gate sees h_{t-1}, so training can use the parallel scan.

    Args:
        input_size: D, features per step.
        hidden_size: H, the state's width.

    ``forward(x, mode="scan")``: x (B, T, D) -> states (B, T, H); ``mode="loop"`` steps through time.
    Both give an empty result for B = 0 or T = 0, as the recurrence does (unlike ``nn.GRU``,
    which refuses T = 0: minGRU returns no final state apart from its outputs).
    """

    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        check_int(input_size, "input_size", minimum=1)
        check_int(hidden_size, "hidden_size", minimum=1)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W_z = nn.Linear(input_size, hidden_size)
        self.W_h = nn.Linear(input_size, hidden_size)

    def forward(self, x: torch.Tensor, mode: str = "scan") -> torch.Tensor:
        """x (B, T, D) -> h (B, T, H), computed by ``"scan"`` or ``"loop"``."""
        check_sequences(x, "x", self.input_size, "input_size")
        z = torch.sigmoid(self.W_z(x))  # (B, T, H)
        a, b = 1 - z, z * self.W_h(x)  # (B, T, H) each
        return _run(a, b, mode)


def _run(a, b, mode, h0=None):
    if mode == "scan":
        return linear_recurrence_scan(a, b, h0)
    if mode == "loop":
        return linear_recurrence_loop(a, b, h0)
    raise ValueError(f"mode must be 'scan' or 'loop', got {mode!r}")
