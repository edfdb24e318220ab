"""Linear attention (Katharopoulos et al., 2020): attention that is also an RNN.

Softmax attention weighs value s for query t by exp(q_t . k_s). Replace that similarity by a
product of features, phi(q_t) . phi(k_s) with phi(x) = elu(x) + 1 (positive), and the causal
output becomes

    o_t = phi(q_t)^T S_t / (phi(q_t)^T z_t),   S_t = sum_{s<=t} phi(k_s) v_s^T,   z_t = sum_{s<=t} phi(k_s)

which can be computed two ways: in **parallel**, as a masked (T x T) matrix product like
softmax attention, or as a **recurrence** with a fixed-size state (S_t, z_t) updated once per
token. An optional decay gamma (0 < gamma <= 1) multiplies the state before each update, as
in RetNet (Sun et al., 2023). This file builds

    elu_feature_map                phi(x) = elu(x) + 1
    linear_attention_parallel      all positions at once (B, ..., T, d)
    linear_attention_recurrent     one token at a time, with the state S_t (d_k x d_v), z_t (d_k)
    linear_attention_step          one step of the recurrence
    LinearAttention                a multi-head layer (drop-in for causal self-attention)
    LinearAttentionLM              a decoder-only language model with linear attention

PyTorch has no linear attention, so tests check the two forms against each other (1e-5).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import as_shape, check_int, check_sequences, check_tensor, check_token_ids

__all__ = ["elu_feature_map", "linear_attention_parallel", "linear_attention_recurrent", "linear_attention_step",
           "LinearAttention", "LinearAttentionLM"]


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """phi(x) = elu(x) + 1, positive everywhere (Katharopoulos et al., 2020); any shape."""
    return F.elu(x) + 1


def _check_qkv(q, k, v, decay):
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(t, name, dtype_kind="float")
        if t.dim() < 2:
            raise ValueError(f"{name} must have shape (..., T, features), got {as_shape(t)}")
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape (..., T, d_k), got q {as_shape(q)} and k {as_shape(k)}")
    if v.shape[:-1] != q.shape[:-1]:
        raise ValueError(f"v must have shape (..., T, d_v) = {tuple(q.shape[:-1])} + (d_v,) to match q "
                         f"{as_shape(q)}, got {as_shape(v)}")
    if decay is not None and not 0 < float(decay) <= 1:
        raise ValueError(f"decay must be in (0, 1], got {decay}")


def linear_attention_parallel(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, decay: float | None = None,
                              normalize: bool = True, eps: float = 1e-6) -> torch.Tensor:
    """Causal linear attention for all positions at once, through a masked (T x T) matrix.

    Args:
        q, k: queries and keys (..., T, d_k), before the feature map.
        v: values (..., T, d_v).
        decay: gamma in (0, 1]: weight gamma^(t - s) on key s for query t (None: 1, no decay).
        normalize: divide by phi(q_t) . z_t (Katharopoulos et al.); False gives the
            unnormalised form used with a decay in RetNet.
        eps: added to the normaliser.

    Returns:
        the outputs (..., T, d_v); empty for T = 0, as in :func:`linear_attention_recurrent`.
    """
    _check_qkv(q, k, v, decay)
    T = q.shape[-2]
    phi_q, phi_k = elu_feature_map(q), elu_feature_map(k)  # (..., T, d_k)
    scores = phi_q @ phi_k.transpose(-2, -1)  # (..., T, T): phi(q_t) . phi(k_s)
    steps = torch.arange(T, device=q.device)  # (T,)
    offsets = steps[:, None] - steps[None, :]  # (T, T): t - s
    gamma = 1.0 if decay is None else float(decay)
    mask = torch.where(offsets >= 0, gamma ** offsets.clamp(min=0).to(q.dtype),
                       torch.zeros((), dtype=q.dtype, device=q.device))
    scores = scores * mask  # (..., T, T): zero above the diagonal (the future)
    out = scores @ v  # (..., T, d_v)
    if normalize:
        out = out / (scores.sum(-1, keepdim=True) + eps)  # (..., T, 1): phi(q_t) . z_t
    return out


def linear_attention_step(q_t: torch.Tensor, k_t: torch.Tensor, v_t: torch.Tensor, S: torch.Tensor, z: torch.Tensor,
                          decay: float | None = None, normalize: bool = True, eps: float = 1e-6) -> tuple:
    """One step of the recurrence: update the state with token t, then read it with q_t.

    Args:
        q_t, k_t: (..., d_k); v_t: (..., d_v).
        S: the state (..., d_k, d_v), the sum of phi(k_s) v_s^T so far.
        z: the normaliser (..., d_k), the sum of phi(k_s) so far.

    Returns:
        (o_t (..., d_v), S_t, z_t), with S_t = gamma S + phi(k_t) v_t^T and z_t = gamma z + phi(k_t).
    """
    gamma = 1.0 if decay is None else float(decay)
    phi_q, phi_k = elu_feature_map(q_t), elu_feature_map(k_t)  # (..., d_k)
    S = gamma * S + phi_k.unsqueeze(-1) * v_t.unsqueeze(-2)  # (..., d_k, d_v): add the outer product
    z = gamma * z + phi_k  # (..., d_k)
    out = (phi_q.unsqueeze(-2) @ S).squeeze(-2)  # (..., d_v): phi(q_t)^T S_t
    if normalize:
        out = out / ((phi_q * z).sum(-1, keepdim=True) + eps)  # (..., 1)
    return out, S, z


def linear_attention_recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, decay: float | None = None,
                               normalize: bool = True, eps: float = 1e-6) -> torch.Tensor:
    """Causal linear attention one token at a time, with a state of fixed size d_k x d_v (+ d_k).

    Same arguments and result as :func:`linear_attention_parallel`: q, k (..., T, d_k), v (..., T, d_v)
    -> outputs (..., T, d_v). The memory it carries does not grow with T. Both forms give an
    empty result for T = 0 (or an empty batch), as ``F.scaled_dot_product_attention`` does.
    """
    _check_qkv(q, k, v, decay)
    if q.shape[-2] == 0:  # no step: no output
        return q.new_empty(q.shape[:-1] + (v.shape[-1],))  # (..., 0, d_v)
    S = q.new_zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]))  # (..., d_k, d_v)
    z = q.new_zeros(q.shape[:-2] + (q.shape[-1],))  # (..., d_k)
    outs = []
    for t in range(q.shape[-2]):
        o, S, z = linear_attention_step(q[..., t, :], k[..., t, :], v[..., t, :], S, z, decay, normalize, eps)
        outs.append(o)
    return torch.stack(outs, dim=-2)  # (..., T, d_v)


class LinearAttention(nn.Module):
    """Multi-head causal linear attention, a drop-in for causal self-attention::

        q, k, v = x W_Q, x W_K, x W_V, split into h heads of d_k = d_model / h features
        o       = linear attention per head (parallel or recurrent form), heads concatenated
        out     = o W_O

    Args:
        d_model: features per position.
        nhead: h, the number of heads; each head's state is d_k x d_k.
        decay: optional gamma in (0, 1] (RetNet-style forgetting).

    ``forward(x, mode="parallel")``: x (B, T, d_model) -> (B, T, d_model); ``mode="recurrent"``
    gives the same result one token at a time.
    """

    def __init__(self, d_model: int, nhead: int = 1, decay: float | None = None):
        super().__init__()
        check_int(d_model, "d_model", minimum=1)
        check_int(nhead, "nhead", minimum=1)
        if d_model % nhead:
            raise ValueError(f"d_model must be divisible by nhead, got d_model={d_model} and nhead={nhead}")
        self.d_model, self.nhead, self.decay = d_model, nhead, decay
        self.W_Q, self.W_K, self.W_V, self.W_O = (nn.Linear(d_model, d_model) for _ in range(4))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, nhead={self.nhead}, decay={self.decay}"

    def forward(self, x: torch.Tensor, mode: str = "parallel") -> torch.Tensor:
        """x (B, T, d_model) -> (B, T, d_model), by ``"parallel"`` or ``"recurrent"``."""
        B, T = check_sequences(x, "x", self.d_model, "d_model")
        h, d_k = self.nhead, self.d_model // self.nhead

        def heads(t):
            return t.view(B, T, h, d_k).transpose(1, 2)  # (B, h, T, d_k)

        q, k, v = heads(self.W_Q(x)), heads(self.W_K(x)), heads(self.W_V(x))
        if mode == "parallel":
            o = linear_attention_parallel(q, k, v, self.decay)
        elif mode == "recurrent":
            o = linear_attention_recurrent(q, k, v, self.decay)
        else:
            raise ValueError(f"mode must be 'parallel' or 'recurrent', got {mode!r}")
        return self.W_O(o.transpose(1, 2).reshape(B, T, self.d_model))  # (B, T, d_model)


class LinearAttentionLM(nn.Module):
    """A decoder-only language model whose layers use linear attention, with the interface of
    :class:`seqlib.transformer.DecoderOnlyLM`::

        x      = E[tokens]                                         (B, T, d_model)
        x      = x + LinearAttention(LayerNorm(x))                 per layer, pre-norm
        x      = x + FeedForward(LayerNorm(x))
        logits = W_out LayerNorm(x)                                (B, T, vocab_size)

    No position encoding: the recurrence (and, with a decay, the decay) orders the tokens.

    Args:
        vocab_size: V; token id 0 has a zero embedding.
        d_model, nhead, num_layers, dim_feedforward: as in the Transformer.
        decay: optional gamma in (0, 1] for every layer.
        mode: how ``forward`` runs by default, ``"parallel"`` or ``"recurrent"``.

    Attributes:
        state_size: the numbers each sequence carries from one token to the next in the
            recurrent form, summed over layers and heads (S_t and z_t); it does not grow with T.
    """

    def __init__(self, vocab_size: int, d_model: int = 32, nhead: int = 2, num_layers: int = 2,
                 dim_feedforward: int = 64, decay: float | None = None, mode: str = "parallel"):
        super().__init__()
        check_int(vocab_size, "vocab_size", minimum=1)
        check_int(num_layers, "num_layers", minimum=1)
        if mode not in ("parallel", "recurrent"):
            raise ValueError(f"mode must be 'parallel' or 'recurrent', got {mode!r}")
        self.mode = mode
        from .transformer import FeedForward

        self.vocab_size, self.d_model = vocab_size, d_model
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.norms1 = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(num_layers))
        self.mixers = nn.ModuleList(LinearAttention(d_model, nhead, decay) for _ in range(num_layers))
        self.norms2 = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(num_layers))
        self.ffns = nn.ModuleList(FeedForward(d_model, dim_feedforward, dropout=0.0, activation="gelu")
                                  for _ in range(num_layers))
        self.norm = nn.LayerNorm(d_model)
        self.W_out = nn.Linear(d_model, vocab_size)
        d_k = d_model // nhead
        self.state_size = num_layers * nhead * d_k * (d_k + 1)

    def forward(self, x: torch.Tensor, mode: str | None = None) -> torch.Tensor:
        """Token ids x (B, T) -> next-token logits (B, T, vocab_size); position t sees tokens 0..t.

        As :class:`seqlib.transformer.DecoderOnlyLM`: B = 0 gives empty logits, T = 0 raises a ValueError
        (in either mode)."""
        check_token_ids(x, self.vocab_size, min_len=1)
        mode = mode or self.mode
        h = self.embedding(x)  # (B, T, d_model)
        for norm1, mixer, norm2, ffn in zip(self.norms1, self.mixers, self.norms2, self.ffns):
            h = h + mixer(norm1(h), mode=mode)
            h = h + ffn(norm2(h))
        return self.W_out(self.norm(h))  # (B, T, vocab_size)
