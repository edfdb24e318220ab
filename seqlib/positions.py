"""Positional information for attention: sinusoidal, learned, rotary and linear-bias (ALiBi) positions.

Attention by itself ignores order: permute the tokens and the outputs are permuted the same way.
A model learns about order only if positions enter its inputs or its scores.

- :func:`sinusoidal_encoding` (Vaswani et al. 2017) gives position t a fixed vector of sines and
  cosines at geometrically spaced frequencies; :class:`SinusoidalPositions` adds it to the
  embeddings. The encoding of position t + k is a rotation of that of position t, by angles
  that depend only on k.
- :class:`LearnedPositions` adds a learned vector per position, from a table of ``max_len`` rows,
  so it cannot go past the longest position seen in training.
- Rotary embeddings (Su et al. 2021, RoFormer), :func:`apply_rotary` and :class:`RotaryPositions`,
  rotate the queries and the keys instead, so that ``q_t . k_s`` depends on t and s only through
  the offset t - s.
- Attention with linear biases (Press et al. 2022, ALiBi), :func:`alibi_slopes` and
  :class:`ALiBi`, adds nothing to the embeddings and nothing to learn: each head's score of key s
  from query t is lowered by ``m_i * |t - s|``, a fixed penalty on distance with one slope per head.

Both the sinusoidal encoding and the rotary embeddings use the **interleaved pairs** convention of
the papers: features (2i, 2i+1) form pair i, with frequency ``omega_i = base^(-2i/d)``. (Some
libraries, such as LLaMA's implementations in Hugging Face, pair feature i with feature i + d/2
instead; the two are the same up to a fixed permutation of the features.)
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ._validate import as_shape, check_int, check_tensor

__all__ = ["sinusoidal_encoding", "SinusoidalPositions", "LearnedPositions", "apply_rotary", "RotaryPositions",
           "alibi_slopes", "ALiBi"]


def _frequencies(d: int, base: float, device=None) -> torch.Tensor:
    """omega_i = base^(-2i/d) for i = 0..d/2-1 -> (d/2,), from one turn per position down to 1/base."""
    return base ** (-torch.arange(0, d, 2, device=device, dtype=torch.float64) / d)  # (d/2,)


def _check_even(d, name="d"):
    check_int(d, name, minimum=2)
    if d % 2:
        raise ValueError(f"{name} must be even (the features come in (sin, cos) pairs), got {d}")
    return d


# ---------------------------------------------------------------------------------------------
# Sinusoidal positions
# ---------------------------------------------------------------------------------------------

def sinusoidal_encoding(T: int, d: int, base: float = 10000.0, start: int = 0, *, dtype: torch.dtype | None = None,
                        device=None) -> torch.Tensor:
    """The sinusoidal position encoding of Vaswani et al. (2017), (T, d)::

        PE[t, 2i]     = sin(t * omega_i)
        PE[t, 2i + 1] = cos(t * omega_i)          omega_i = base^(-2i/d)

    Each pair (2i, 2i+1) turns like a clock hand at its own speed: pair 0 once per 2 pi positions,
    the last pair almost 10000 times slower. Since sin and cos of t + k are linear in those of t,
    ``PE[t + k] = PE[t] @ M_k^T`` for a block-diagonal rotation M_k that depends only on k.

    Args:
        T: the number of positions.
        d: the number of features; must be even.
        base: the base of the geometric frequencies.
        start: the first position (t = start, ..., start + T - 1).
        dtype: the floating dtype of the result; None means PyTorch's default dtype (float32
            unless changed). The encoding is computed in float64 and rounded once, to ``dtype``.
        device: where to compute it; None means the default device.

    Returns:
        the encoding (T, d), of ``dtype``.
    """
    check_int(T, "T", minimum=0)
    _check_even(d)
    check_int(start, "start", minimum=0)
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    t = torch.arange(start, start + T, dtype=torch.float64, device=device)[:, None]  # (T, 1)
    angles = t * _frequencies(d, base, t.device)[None, :]  # (T, d/2)
    pe = torch.stack([torch.sin(angles), torch.cos(angles)], dim=-1)  # (T, d/2, 2)
    return pe.flatten(-2).to(dtype)  # (T, d/2, 2) -> (T, d): sin, cos, sin, cos, ...


class SinusoidalPositions(nn.Module):
    """Add the sinusoidal encoding to a sequence of embeddings: x + PE[:T].

    It has no parameters. The first ``max_len`` rows are computed once, a buffer in PyTorch's
    default dtype that follows the module: ``.to(torch.float64)``, ``.double()``, ``.half()``
    or a move to another device recompute it there, from float64, so a float64 model holds a
    float64 table, not a float32 one widened. An input of another dtype or device than the
    table (float64 embeddings in a float32 model, say), or a sequence longer than ``max_len``,
    gets its encoding computed on the spot, in its own dtype and on its own device, since
    sinusoids are defined for any position: the result always has x's dtype, rounded once.

    Args:
        d: the number of features of the embeddings; must be even.
        max_len: how many positions to precompute.
        base: the base of the geometric frequencies (see :func:`sinusoidal_encoding`).
    """

    def __init__(self, d: int, max_len: int = 512, base: float = 10000.0):
        super().__init__()
        self.d = _check_even(d)
        self.max_len = check_int(max_len, "max_len", minimum=1)
        self.base = float(base)
        self.register_buffer("pe", sinusoidal_encoding(max_len, d, base), persistent=False)  # (max_len, d)

    def extra_repr(self) -> str:
        return f"d={self.d}, max_len={self.max_len}, base={self.base:g}"

    def _apply(self, fn, *args, **kwargs):
        # Module.to, .double(), .half(), .cuda(), .to_empty() all come through here. Converting the
        # float32 table would keep float32's rounding in a float64 model (and to_empty would leave
        # it uninitialised), so the table is recomputed, from float64, in its new dtype and place.
        before = (self.pe.dtype, self.pe.device)
        module = super()._apply(fn, *args, **kwargs)
        if self.pe.is_floating_point() and (self.pe.dtype, self.pe.device) != before:
            self.pe = sinusoidal_encoding(self.max_len, self.d, self.base, dtype=self.pe.dtype, device=self.pe.device)
        return module

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x (B, T, d) -> x + PE (B, T, d), the positions being start, ..., start + T - 1.

        Args:
            x: the embeddings (B, T, d).
            start: the position of x's first step (nonzero when a decoder feeds one token at a time).

        Returns:
            x plus the encoding of its positions, (B, T, d).
        """
        _check_embeddings(x, self.d)
        check_int(start, "start", minimum=0)
        T = x.shape[1]
        if start + T <= self.max_len and x.dtype == self.pe.dtype and x.device == self.pe.device:
            pe = self.pe[start:start + T]  # (T, d)
        else:  # past the table, or another dtype or device: computed for x, rounded once to its dtype
            pe = sinusoidal_encoding(T, self.d, self.base, start, dtype=x.dtype, device=x.device)  # (T, d)
        return x + pe  # (B, T, d) + (T, d)


# ---------------------------------------------------------------------------------------------
# Learned positions
# ---------------------------------------------------------------------------------------------

class LearnedPositions(nn.Module):
    """Add a learned vector per position: x + P[:T], with P an ``nn.Embedding(max_len, d)`` table.

    As in BERT and GPT-2. Nothing is learned for positions never seen in training, and there is
    no row at all past ``max_len``: a longer sequence is an error.

    The arguments come in :class:`SinusoidalPositions`' order: the width, then the length.

    Args:
        d: the number of features of the embeddings.
        max_len: the number of rows of the table, the longest sequence it can encode.

    Attributes:
        table: the ``nn.Embedding(max_len, d)`` of position vectors, initialised N(0, 1) as
            ``nn.Embedding`` is.
    """

    def __init__(self, d: int, max_len: int):
        super().__init__()
        self.d = check_int(d, "d", minimum=1)
        self.max_len = check_int(max_len, "max_len", minimum=1)
        self.table = nn.Embedding(max_len, d)

    def extra_repr(self) -> str:
        return f"d={self.d}, max_len={self.max_len}"

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x (B, T, d) -> x + P (B, T, d), the positions being start, ..., start + T - 1.

        Args:
            x: the embeddings (B, T, d).
            start: the position of x's first step (nonzero when a decoder feeds one token at a time).

        Returns:
            x plus the learned vectors of its positions, (B, T, d).
        """
        _check_embeddings(x, self.d)
        check_int(start, "start", minimum=0)
        T = x.shape[1]
        if start + T > self.max_len:
            raise ValueError(f"sequence of length {start + T} is longer than the learned position table "
                             f"(max_len={self.max_len})")
        positions = torch.arange(start, start + T, device=x.device)  # (T,)
        return x + self.table(positions).to(x.dtype)  # (B, T, d) + (T, d)


# ---------------------------------------------------------------------------------------------
# Rotary positions
# ---------------------------------------------------------------------------------------------

def apply_rotary(x: torch.Tensor, positions: torch.Tensor | None = None, base: float = 10000.0) -> torch.Tensor:
    """Rotary position embedding (Su et al. 2021): rotate each feature pair of x by its position.

    For the vector x_t at position t, pair i (features 2i and 2i+1, the interleaved convention of
    the paper) is rotated by the angle ``t * omega_i``, ``omega_i = base^(-2i/d)``::

        y[2i]     = x[2i] cos(t omega_i) - x[2i+1] sin(t omega_i)
        y[2i + 1] = x[2i] sin(t omega_i) + x[2i+1] cos(t omega_i)

    Applied to queries and keys (not values), a rotation by t and one by s leave the dot product
    depending on t - s only: ``R_t q . R_s k = q . R_(s-t) k``. Norms are unchanged.

    Args:
        x: queries or keys (..., T, d), d even; for multi-head attention (B, h, T, d_head).
        positions: the position of each step, (T,) or broadcastable to x.shape[:-1]; integers or
            floats. None means 0, 1, ..., T - 1.
        base: the base of the geometric frequencies.

    Returns:
        the rotated x, of x's shape and dtype.
    """
    check_tensor(x, "x", dtype_kind="float")
    if x.dim() < 2:
        raise ValueError(f"x must have at least 2 dimensions (..., T, d), got shape {as_shape(x)}")
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"x must have an even number of features d (they are rotated in pairs), got d={d} "
                         f"(x has shape {as_shape(x)})")
    T = x.shape[-2]
    if positions is None:
        positions = torch.arange(T, device=x.device)  # (T,)
    check_tensor(positions, "positions")
    if positions.dtype == torch.bool or positions.is_complex():
        raise TypeError(f"positions must hold integers or floats, got dtype {positions.dtype}")
    try:
        fits = torch.broadcast_shapes(as_shape(positions), as_shape(x)[:-1]) == as_shape(x)[:-1]
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"positions must have shape (T,) = ({T},) or broadcast to x's shape without the features "
                         f"{as_shape(x)[:-1]}, got {as_shape(positions)}")
    angles = positions.to(torch.float64)[..., None] * _frequencies(d, base, x.device)  # (..., T, d/2)
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)  # (..., T, d/2) each
    pairs = x.unflatten(-1, (d // 2, 2))  # (..., T, d) -> (..., T, d/2, 2)
    x_even, x_odd = pairs[..., 0], pairs[..., 1]  # (..., T, d/2) each
    rotated = torch.stack([x_even * cos - x_odd * sin, x_even * sin + x_odd * cos], dim=-1)  # (..., T, d/2, 2)
    return rotated.flatten(-2)  # (..., T, d/2, 2) -> (..., T, d)


class RotaryPositions(nn.Module):
    """Rotary position embeddings as a module, for queries and keys of d features per head.

    It has no parameters: ``rotary(x, start=0)`` is ``apply_rotary(x, positions)`` with positions
    start, ..., start + T - 1. Apply it to the queries and to the keys of each head, after the
    projections and before the dot products; with a decoder's cache of T_past positions, the
    new tokens start at T_past.

    Args:
        d: the number of features per head; must be even.
        base: the base of the geometric frequencies.
    """

    def __init__(self, d: int, base: float = 10000.0):
        super().__init__()
        self.d = _check_even(d)
        self.base = float(base)

    def extra_repr(self) -> str:
        return f"d={self.d}, base={self.base:g}"

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Rotate x (..., T, d) by the positions start, ..., start + T - 1.

        Args:
            x: queries or keys (..., T, d), for example (B, h, T, d_head).
            start: the position of x's first step.

        Returns:
            the rotated x, of x's shape.
        """
        check_tensor(x, "x", dtype_kind="float")
        if x.dim() < 2 or x.shape[-1] != self.d:
            raise ValueError(f"x must have shape (..., T, d) with d={self.d} features, got {as_shape(x)}")
        check_int(start, "start", minimum=0)
        positions = torch.arange(start, start + x.shape[-2], device=x.device)  # (T,)
        return apply_rotary(x, positions, self.base)


# ---------------------------------------------------------------------------------------------
# Attention with linear biases (ALiBi)
# ---------------------------------------------------------------------------------------------

def alibi_slopes(nhead: int) -> list:
    """The slopes m_1, ..., m_h of ALiBi's heads (Press et al. 2022, section 3).

    For h a power of 2 they are the geometric sequence that starts at ``2^(-8/h)`` with that
    ratio: for 8 heads 1/2, 1/4, ..., 1/256. For other h, the paper's code takes the slopes of
    the largest power of 2 below h and fills the rest with every other slope of twice that power.

    Args:
        nhead: h, the number of heads.

    Returns:
        the h slopes, a list of floats, in the order of the paper's code (steepest first when h is a power of 2).
    """
    check_int(nhead, "nhead", minimum=1)

    def power_of_2(n):  # (n,) for n = 2^k
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    if math.log2(nhead).is_integer():
        return power_of_2(nhead)
    below = 2 ** math.floor(math.log2(nhead))
    return power_of_2(below) + alibi_slopes(2 * below)[0::2][:nhead - below]


class ALiBi(nn.Module):
    """Attention with linear biases (Press et al. 2022): the bias each head adds to its scores.

    ``score_i(t, s) = q_t . k_s / sqrt(d_head) - m_i |t - s|`` for head i. Nothing is added to the
    embeddings and nothing is learned (no parameters); the slopes m_i are :func:`alibi_slopes`. The paper
    defines it for causal attention, where s <= t and ``|t - s| = t - s``; for attention that is
    not causal, the same penalty applies on both sides.

    Args:
        nhead: h, the number of heads (one slope each).
    """

    def __init__(self, nhead: int):
        super().__init__()
        self.nhead = check_int(nhead, "nhead", minimum=1)
        self.slopes = alibi_slopes(nhead)  # a list: no buffer, so state_dicts are unchanged

    def extra_repr(self) -> str:
        return f"nhead={self.nhead}"

    def forward(self, Tq: int, Tk: int, start: int = 0, device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The biases (h, Tq, Tk) for Tq queries at positions start, ..., start + Tq - 1 and Tk keys at 0, ..., Tk - 1.

        Args:
            Tq: the number of queries.
            Tk: the number of keys.
            start: the position of the first query (T_past with a decoder's cache).
            device: where to build the biases.
            dtype: their floating-point type.

        Returns:
            ``-m_i |t - s|`` for each head i, query t and key s, of shape (h, Tq, Tk).
        """
        check_int(Tq, "Tq", minimum=0)
        check_int(Tk, "Tk", minimum=0)
        check_int(start, "start", minimum=0)
        t = torch.arange(start, start + Tq, device=device)[:, None]  # (Tq, 1)
        s = torch.arange(Tk, device=device)[None, :]  # (1, Tk)
        distance = (t - s).abs().to(dtype)  # (Tq, Tk)
        slopes = torch.tensor(self.slopes, dtype=dtype, device=device)[:, None, None]  # (h, 1, 1)
        return -slopes * distance  # (h, Tq, Tk)


def _check_embeddings(x, d):
    check_tensor(x, "x", dtype_kind="float")
    if x.dim() != 3:
        raise ValueError(f"x must have 3 dimensions (batch, time, d), got shape {as_shape(x)}")
    if x.shape[-1] != d:
        raise ValueError(f"x must have d={d} features in its last dimension, got {x.shape[-1]} "
                         f"(x has shape {as_shape(x)})")
    return x
