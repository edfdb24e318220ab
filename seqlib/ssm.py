"""A small selective state space model in the spirit of Mamba (Gu & Dao, 2023).

A state space model keeps, for each of its d channels, a state of n numbers and updates it
with a linear recurrence. Discretised with step Delta (zero-order hold for A),

    h_t = exp(Delta_t A) * h_{t-1} + Delta_t B_t x_t        (d, n) per sequence
    y_t = C_t . h_t + D x_t                                 (d,)

S4 (Gu, Goel & Ré, 2022) fixes Delta, B, C; Mamba makes them functions of the input x_t
(**selection**), so the model can choose what to store and what to skip. A is diagonal and
negative, so exp(Delta A) is a decay in (0, 1). The recurrence is linear in h, so it runs
either as a loop or as the parallel scan of :mod:`seqlib.scan`. This file builds

    selective_scan    the recurrence above, by "loop" or "scan", given x, Delta, A, B, C, D
    SelectiveSSM      Delta, B, C computed from the input; A and D learned
    MambaBlock        in-projection, short causal convolution, SiLU, SSM, SiLU gate, out-projection
    MambaLM           a stack of pre-norm residual Mamba blocks with the language-model interface

As in Mamba's reference code, B is discretised by Euler's rule (Delta B) rather than the full
zero-order hold, and LayerNorm stands in for RMSNorm. There is no PyTorch counterpart: tests
check the scan against the loop, and causality.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import as_shape, check_int, check_sequences, check_tensor, check_token_ids
from .scan import _run

__all__ = ["selective_scan", "SelectiveSSM", "MambaBlock", "MambaLM"]


def selective_scan(x: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   D: torch.Tensor | None = None, mode: str = "scan") -> torch.Tensor:
    """The selective state space recurrence, for every channel and step.

    Args:
        x: the input (batch, T, d).
        delta: the step sizes Delta_t, positive, (batch, T, d).
        A: the diagonal state matrices, negative, (d, n).
        B: the input maps B_t, (batch, T, n), shared by the channels.
        C: the read-outs C_t, (batch, T, n).
        D: the skip weights (d,), or None.
        mode: ``"scan"`` (parallel, ceil(log2 T) rounds) or ``"loop"`` (T steps).

    Returns:
        y (batch, T, d); empty for batch = 0 or T = 0, in either mode, as the recurrence is.
    """
    check_tensor(x, "x", dims=3, dtype_kind="float")
    bt, d = tuple(x.shape[:2]), x.shape[2]
    if delta.shape != x.shape:
        raise ValueError(f"delta must have the shape of x (batch, T, d) = {as_shape(x)}, got {as_shape(delta)}")
    check_tensor(A, "A", dims=2, dtype_kind="float")
    if A.shape[0] != d:
        raise ValueError(f"A must have shape (d, n) with d = {d} channels as in x, got {as_shape(A)}")
    n = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        if tuple(t.shape) != bt + (n,):
            raise ValueError(f"{name} must have shape (batch, T, n) = {bt + (n,)}, got {as_shape(t)}")
    if D is not None and tuple(D.shape) != (d,):  # anything else would broadcast into a wrong answer
        raise ValueError(f"D must have shape (d,) = ({d},), got {as_shape(D)}")
    dA = torch.exp(delta.unsqueeze(-1) * A)  # (batch, T, d, n): the decays, in (0, 1)
    dBx = delta.unsqueeze(-1) * B.unsqueeze(2) * x.unsqueeze(-1)  # (batch, T, d, n): the inputs
    h = _run(dA, dBx, mode)  # (batch, T, d, n)
    y = (h * C.unsqueeze(2)).sum(-1)  # (batch, T, d): C_t . h_t per channel
    return y if D is None else y + D * x


class SelectiveSSM(nn.Module):
    """Delta, B and C computed from the input, then :func:`selective_scan`::

        Delta_t = softplus(W_Delta (W_r x_t) + b_Delta)      (d,)  through a rank-r bottleneck
        B_t, C_t = W_B x_t, W_C x_t                          (n,) each
        A = -exp(A_log)                                      (d, n), initialised to -1, -2, ..., -n (S4D-real)

    Args:
        d: channels.
        d_state: n, the state size per channel.
        dt_rank: r (default ceil(d / 16)).
        selective: False fixes Delta, B and C (learned, but the same at every step): a
            time-invariant SSM as in S4, for comparison.

    Parameters, in the order they are created (and drawn from the random stream):

    - selective=True: ``W_r`` (r + 2n, d), the map x_t -> (Delta's low rank, B_t, C_t);
      ``W_Delta`` (d, r) and its bias (d,); ``A_log`` (d, n); ``D`` (d,).
    - selective=False: ``W_Delta``, ``A_log``, ``D`` as above and ``fixed`` (r + 2n,), the
      learned constant that stands where ``W_r x_t`` stands in the selective model, so that
      Delta = softplus(W_Delta fixed[:r] + b_Delta), B = fixed[r:r + n], C = fixed[r + n:] at
      every step. There is no ``W_r``: the input never reaches Delta, B or C.
    """

    def __init__(self, d: int, d_state: int = 16, dt_rank: int | None = None, selective: bool = True):
        super().__init__()
        check_int(d, "d", minimum=1)
        check_int(d_state, "d_state", minimum=1)
        self.d, self.d_state, self.selective = d, d_state, selective
        self.dt_rank = math.ceil(d / 16) if dt_rank is None else check_int(dt_rank, "dt_rank", minimum=1)
        if selective:  # x -> (Delta's low rank, B, C); a time-invariant SSM has no use for it
            self.W_r = nn.Linear(d, self.dt_rank + 2 * d_state, bias=False)
        self.W_Delta = nn.Linear(self.dt_rank, d)
        dt = torch.exp(torch.rand(d) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))  # Delta in [1e-3, 0.1]
        with torch.no_grad():
            self.W_Delta.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # the inverse of softplus
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float)).repeat(d, 1))  # (d, n)
        self.D = nn.Parameter(torch.ones(d))
        if not selective:
            self.fixed = nn.Parameter(torch.randn(self.dt_rank + 2 * d_state) / math.sqrt(d))

    def extra_repr(self) -> str:
        return f"d={self.d}, d_state={self.d_state}, dt_rank={self.dt_rank}, selective={self.selective}"

    def forward(self, x: torch.Tensor, mode: str = "scan") -> torch.Tensor:
        """x (batch, T, d) -> y (batch, T, d)."""
        check_sequences(x, "x", self.d, "d")
        proj = self.W_r(x) if self.selective else self.fixed.expand(x.shape[0], x.shape[1], -1)  # (batch, T, r + 2n)
        low, B, C = proj.split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.W_Delta(low))  # (batch, T, d)
        A = -torch.exp(self.A_log)  # (d, n)
        return selective_scan(x, delta, A, B, C, self.D, mode)


class MambaBlock(nn.Module):
    """A Mamba block (Gu & Dao, 2023, Figure 3)::

        u, g  = W_in x                          (B, T, d_inner) each, d_inner = expand * d_model
        u     = SiLU(causal depthwise conv(u))  a short convolution over the last d_conv steps
        y     = SelectiveSSM(u) * SiLU(g)       the gate
        out   = W_out y                         (B, T, d_model)

    Args:
        d_model: features in and out.
        d_state: n per channel.
        expand: d_inner / d_model.
        d_conv: the convolution's width.
        selective: passed to :class:`SelectiveSSM`.
    """

    def __init__(self, d_model: int, d_state: int = 16, expand: int = 2, d_conv: int = 4, selective: bool = True):
        super().__init__()
        check_int(d_model, "d_model", minimum=1)
        check_int(expand, "expand", minimum=1)
        check_int(d_conv, "d_conv", minimum=1)
        self.d_model, self.d_inner = d_model, expand * d_model
        self.W_in = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1)
        self.ssm = SelectiveSSM(self.d_inner, d_state, selective=selective)
        self.W_out = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, x: torch.Tensor, mode: str = "scan") -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model); empty for B = 0 or T = 0 (as SelectiveSSM's)."""
        _, T = check_sequences(x, "x", self.d_model, "d_model")
        u, g = self.W_in(x).chunk(2, dim=-1)  # (B, T, d_inner) each
        if T:  # (nn.Conv1d refuses 0 steps; with none, there is nothing to convolve and the result is empty)
            u = self.conv(u.transpose(1, 2))[..., :T].transpose(1, 2)  # (B, T, d_inner): keep the causal part
        y = self.ssm(F.silu(u), mode=mode) * F.silu(g)  # (B, T, d_inner)
        return self.W_out(y)  # (B, T, d_model)


class MambaLM(nn.Module):
    """A language model of Mamba blocks, with the interface of :class:`seqlib.transformer.DecoderOnlyLM`::

        x      = E[tokens]                           (B, T, d_model)
        x      = x + MambaBlock(LayerNorm(x))        per layer
        logits = W_out LayerNorm(x)                  (B, T, vocab_size)

    No position encoding: the recurrence and the convolution order the tokens.

    Args:
        vocab_size: V; token id 0 has a zero embedding.
        d_model, num_layers: width and depth.
        d_state, expand, d_conv, selective: passed to every :class:`MambaBlock`.
        mode: how ``forward`` runs the recurrence by default, ``"scan"`` or ``"loop"`` (the same
            numbers; on one CPU thread the loop is often faster for short sequences).

    Attributes:
        state_size: the numbers each sequence carries from one token to the next, summed over
            the layers (SSM states and convolution buffers); it does not grow with T.
    """

    def __init__(self, vocab_size: int, d_model: int = 32, num_layers: int = 2, d_state: int = 16, expand: int = 2,
                 d_conv: int = 4, selective: bool = True, mode: str = "scan"):
        super().__init__()
        check_int(vocab_size, "vocab_size", minimum=1)
        if mode not in ("scan", "loop"):
            raise ValueError(f"mode must be 'scan' or 'loop', got {mode!r}")
        self.mode = mode
        check_int(num_layers, "num_layers", minimum=1)
        self.vocab_size, self.d_model = vocab_size, d_model
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(num_layers))
        self.blocks = nn.ModuleList(MambaBlock(d_model, d_state, expand, d_conv, selective) for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.W_out = nn.Linear(d_model, vocab_size)
        self.state_size = num_layers * expand * d_model * (d_state + d_conv - 1)

    def forward(self, x: torch.Tensor, mode: str | None = None) -> torch.Tensor:
        """Token ids x (B, T) -> next-token logits (B, T, vocab_size); position t sees tokens 0..t.

        As :class:`seqlib.transformer.DecoderOnlyLM`: B = 0 gives empty logits, T = 0 raises a ValueError."""
        check_token_ids(x, self.vocab_size, min_len=1)
        mode = mode or self.mode
        h = self.embedding(x)  # (B, T, d_model)
        for norm, block in zip(self.norms, self.blocks):
            h = h + block(norm(h), mode=mode)
        return self.W_out(self.norm(h))  # (B, T, vocab_size)
