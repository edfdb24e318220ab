"""Reading a trained model: attention against attributions, counterfactual attention, LSTM units.

Attention weights say where a model *looked*; an attribution says which input tokens *changed
its output*. This file builds what Chapter 10 needs to compare the two on a task whose answer
is known to depend on one token::

    (the task itself, one key token among fillers, is seqlib.data.key_token_task)
    AttentionClassifier(V, encoder=...)      embed -> (LSTM) -> additive attention -> read-out,
                                             whose forward accepts substitute attention weights
    leave_one_out(model, x)                  the drop in log p(target) when token s is removed (B, T)
    grad_x_input(model, x)                   gradient times embedding, summed over features (B, T)
    integrated_gradients(model, x)           Sundararajan et al. (2017), from the zero embedding (B, T)
    rank_correlation(a, b, "spearman")       Spearman's rho or Kendall's tau-b, row by row
    attention_mass_on(weights, where)        how much weight lands on given positions
    jensen_shannon(p, q)                     how different two attention distributions are
    adversarial_attention(model, x)          the most different attention that keeps the output
    lstm_states(lstm, x)                     the hidden *and cell* states of every step of an nn.LSTM

The attributions work on any model that embeds token ids with an ``nn.Embedding``: they hook the
embedding's output rather than asking models for a special entry point. A model whose output is
(B, T, V), a language model, is read at one ``position``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._validate import as_shape, check_int, check_tensor, check_token_ids, has_values
from .attention import AdditiveAttention
from .recurrent import LSTM
from .runtime import generator

ENCODERS = ("none", "lstm", "bilstm")

__all__ = ["AttentionClassifier", "leave_one_out", "grad_x_input", "integrated_gradients",
           "rank_correlation", "attention_mass_on", "jensen_shannon", "adversarial_attention", "lstm_states"]


# ---------------------------------------------------------------------------------------------
# A task with ground truth, and the classifier of Jain & Wallace (2019)
# ---------------------------------------------------------------------------------------------

class AttentionClassifier(nn.Module):
    """Embed, optionally encode with a bidirectional LSTM, pool by additive attention, classify.

    The classifiers of Jain & Wallace (2019): one learned query ``q`` scores every position's
    state ``h_s`` with Bahdanau's additive score (:class:`seqlib.attention.AdditiveAttention`),
    and the read-out sees only the weighted average ``sum_s alpha_s h_s``::

        h = E[x]                          encoder="none": each state is its own token only
        h = LSTM(E[x])                    encoder="lstm": each state has read the sequence up to it
        h = BiLSTM(E[x])                  encoder="bilstm": each state has read the whole sequence
        alpha = softmax_s(score(q, h_s))  (B, T)
        logits = W_out (alpha @ h)        (B, num_classes)

    ``forward(x, attention=...)`` runs the same model with other weights in place of alpha, for
    counterfactual experiments.
    """

    def __init__(self, vocab_size: int, num_classes: int, d_model: int = 32, encoder: str = "none"):
        super().__init__()
        check_int(vocab_size, "vocab_size", minimum=2)
        check_int(num_classes, "num_classes", minimum=2)
        check_int(d_model, "d_model", minimum=2)
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
        if encoder == "bilstm" and d_model % 2:
            raise ValueError(f"encoder='bilstm' needs an even d_model (two directions of d_model / 2), got {d_model}")
        self.vocab_size, self.encoder = vocab_size, encoder
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=0)
        self.lstm = None
        if encoder == "lstm":
            self.lstm = nn.LSTM(d_model, d_model, batch_first=True)
        elif encoder == "bilstm":
            self.lstm = nn.LSTM(d_model, d_model // 2, batch_first=True, bidirectional=True)
        self.query = nn.Parameter(torch.randn(d_model) / math.sqrt(d_model))  # q (d_model,)
        self.attend = AdditiveAttention(d_model, d_model, d_model)
        self.W_out = nn.Linear(d_model, num_classes)

    def states(self, x: torch.Tensor) -> torch.Tensor:
        """The states h (B, T, d_model) that attention weighs."""
        check_token_ids(x, self.vocab_size)
        h = self.embed(x)  # (B, T, d)
        if self.lstm is not None:
            h, _ = self.lstm(h)  # (B, T, d): d, or d / 2 per direction
        return h

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention weights alpha (B, T) of each sequence; each row sums to 1."""
        with torch.no_grad():
            h = self.states(x)
            return self._alpha(h)

    def _alpha(self, h):
        q = self.query.expand(h.shape[0], -1)  # (B, d)
        _, alpha = self.attend(q, h, h)  # (B, T)
        return alpha

    def forward(self, x: torch.Tensor, attention: torch.Tensor | None = None) -> torch.Tensor:
        """The logits (B, num_classes); with ``attention`` (B, T), those weights replace the model's own."""
        h = self.states(x)  # (B, T, d)
        if attention is None:
            attention = self._alpha(h)  # (B, T)
        else:
            check_tensor(attention, "attention", dims=2, dtype_kind="float")
            if as_shape(attention) != as_shape(x):
                raise ValueError(f"attention must have one weight per token, shape (B, T) = {as_shape(x)}, "
                                 f"got {as_shape(attention)}")
        context = (attention.unsqueeze(1) @ h).squeeze(1)  # (B, 1, T) @ (B, T, d) -> (B, d)
        return self.W_out(context)  # (B, C)


def adversarial_attention(model: AttentionClassifier, x: torch.Tensor, epsilon: float = 0.01, steps: int = 200,
                          lr: float = 0.1, penalty: float = 100.0) -> tuple:
    """Search for attention as different as possible from the model's own that keeps its output (Jain & Wallace 2019).

    Maximises ``JS(alpha', alpha)`` over attention distributions ``alpha' = softmax(z)`` subject
    to the output distribution moving by at most ``epsilon`` in total variation, by gradient
    ascent (Adam) on ``JS - penalty * max(0, TV - epsilon)``, starting from the model's own
    weights. The model's states do not depend on its attention, so they are computed once.

    Args:
        model: an :class:`AttentionClassifier`.
        x: token ids (B, T).
        epsilon: the largest change of the output distribution allowed (total variation, 0 to 1).
        steps, lr, penalty: the search's Adam steps, learning rate and constraint weight.

    Returns:
        the triple (attention, js, tv), the attention found (B, T), its Jensen-Shannon divergence
        from the model's attention (B,) (at most log 2) and the total variation it moved the output by (B,).
    """
    if not isinstance(model, AttentionClassifier):
        raise TypeError(f"model must be a seqlib.interpret.AttentionClassifier, got {type(model).__name__}")
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0 < epsilon < 1:
        raise ValueError(f"epsilon must be a total variation between 0 and 1 (exclusive), got {epsilon!r}")
    check_int(steps, "steps", minimum=1)
    with torch.no_grad():
        h = model.states(x)  # (B, T, d)
        alpha = model._alpha(h)  # (B, T)
        p = torch.softmax(model.W_out((alpha.unsqueeze(1) @ h).squeeze(1)), -1)  # (B, C)
    g = generator(0)  # a CPU generator: the start is drawn there, the same on every device, then moved
    noise = torch.randn(alpha.shape, generator=g, device=g.device).to(alpha)  # (B, T)
    z = (alpha.clamp_min(1e-8).log() + 0.1 * noise).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)

    def measure(z):
        a = torch.softmax(z, -1)  # (B, T)
        q = torch.softmax(model.W_out((a.unsqueeze(1) @ h).squeeze(1)), -1)  # (B, C)
        return a, jensen_shannon(a, alpha), (q - p).abs().sum(-1) / 2

    best = alpha.clone()
    best_js = alpha.new_zeros(len(x))  # (B,)
    best_tv = alpha.new_zeros(len(x))  # (B,)
    with torch.enable_grad():
        for _ in range(steps):
            a, js, tv = measure(z)
            with torch.no_grad():  # keep, per sequence, the most different attention that meets the constraint
                better = (tv <= epsilon) & (js > best_js)  # (B,)
                best = torch.where(better[:, None], a, best)
                best_js, best_tv = torch.where(better, js, best_js), torch.where(better, tv, best_tv)
            loss = (-js + penalty * torch.relu(tv - epsilon)).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return best, best_js, best_tv


# ---------------------------------------------------------------------------------------------
# Attributions: leave one out, gradient times input, integrated gradients
# ---------------------------------------------------------------------------------------------

def _log_probs(model, x, position):
    """log p(. | x) of a classifier (B, C), or of a language model (B, T, V) read at ``position``."""
    out = model(x)
    if out.dim() == 3:
        if position is None:
            raise ValueError(f"the model returns one output per position, shape {as_shape(out)}: pass "
                             f"position=t to say which position's prediction to explain")
        out = out[:, position]  # (B, V)
    elif out.dim() != 2:
        raise ValueError(f"the model must return logits (B, C) or (B, T, V), got shape {as_shape(out)}")
    elif position is not None:
        raise ValueError("position is for models with one output per position; this one returns (B, C)")
    return F.log_softmax(out, dim=-1)  # (B, C)


def _check_position(position, T):
    if position is None:
        return None
    check_int(position, "position")
    if not -T <= position < T:
        raise ValueError(f"position must index one of the T={T} positions, got {position}")
    return position


def _target(model, x, target, position):
    """The class to explain for each sequence (B,): given, or the model's prediction."""
    if target is None:
        with torch.no_grad():
            return _log_probs(model, x, position).argmax(-1)  # (B,)
    target = torch.as_tensor(target, device=x.device)
    check_tensor(target, "target", dims=1, dtype_kind="int")
    if len(target) != len(x):
        raise ValueError(f"target must give one class per sequence: expected {len(x)}, got {len(target)}")
    if len(target) and has_values(target) and int(target.min()) < 0:  # -1 would silently explain the last class
        where = int(target.argmin())
        raise ValueError(f"target must hold class indices from 0, got {int(target.min())} at index {where}")
    return target.to(x.device)


def leave_one_out(model: nn.Module, x: torch.Tensor, target: torch.Tensor | None = None, position: int | None = None,
                  replace_with: int = 0) -> torch.Tensor:
    """How much removing each token lowers the log-probability of the target class.

    Token s of every sequence is replaced by ``replace_with`` (id 0, padding, by default, whose
    embedding is zero in the book's models) and the model is run again::

        LOO[b, s] = log p(target_b | x_b) - log p(target_b | x_b with token s removed)

    Positive: the token supported the target; 0: it did not matter.

    Args:
        model: maps token ids (B, T) to logits (B, C), or (B, T, V) read at ``position``.
        x: token ids (B, T).
        target: the class to explain per sequence (B,); the model's prediction if None.
        position: for a model with one output per position, the position whose prediction to explain.
        replace_with: the token id that stands in for a removed token.

    Returns:
        the attributions (B, T).
    """
    check_tensor(x, "x", dims=2, dtype_kind="int")
    B, T = x.shape
    position = _check_position(position, T)
    check_int(replace_with, "replace_with", minimum=0)
    target = _target(model, x, target, position)
    rows = torch.arange(B, device=x.device)
    with torch.no_grad():
        base = _log_probs(model, x, position)[rows, target]  # (B,)
        out = base.new_empty(B, T)
        for s in range(T):
            removed = x.clone()
            removed[:, s] = replace_with
            out[:, s] = base - _log_probs(model, removed, position)[rows, target]
    return out


def _embedding_of(model, embedding):
    if embedding is None:
        embedding = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
        if embedding is None:
            raise ValueError("the model has no nn.Embedding to attribute to; pass embedding=<the module that "
                             "embeds the token ids>")
    if not isinstance(embedding, nn.Module):
        raise TypeError(f"embedding must be an nn.Module (the model's token embedding), got {type(embedding).__name__}")
    return embedding


def _gradients(model, x, target, position, embedding, scale: float):
    """The embeddings e (B, T, D) and d log p(target) / d(scale * e) at e scaled by ``scale`` (a number)."""
    kept = {}

    def hook(module, inputs, output):
        e = output.detach()
        kept["e"] = e
        factor = e.new_full((len(e), 1, 1), scale)  # (B, 1, 1), in e's dtype and on its device
        scaled = (e * factor).requires_grad_(True)  # (B, T, D)
        kept["scaled"] = scaled
        return scaled

    handle = embedding.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            logp = _log_probs(model, x, position)  # (B, C)
            picked = logp[torch.arange(len(x), device=logp.device), target].sum()
            (grad,) = torch.autograd.grad(picked, kept["scaled"])
    finally:
        handle.remove()
    return kept["e"], grad


def grad_x_input(model: nn.Module, x: torch.Tensor, target: torch.Tensor | None = None, position: int | None = None,
                 embedding: nn.Module | None = None) -> torch.Tensor:
    """Gradient times input on the token embeddings, summed over features.

    ``GxI[b, s] = sum_d e[b, s, d] * d log p(target_b) / d e[b, s, d]``: the first-order
    estimate of how much log p(target) would drop if token s's embedding were set to zero.

    Args:
        model, x, target, position: as in :func:`leave_one_out`.
        embedding: the module whose output (B, T, D) is the token embeddings; the model's first
            ``nn.Embedding`` if None.

    Returns:
        the attributions (B, T).
    """
    check_tensor(x, "x", dims=2, dtype_kind="int")
    position = _check_position(position, x.shape[1])
    embedding = _embedding_of(model, embedding)
    target = _target(model, x, target, position)
    e, grad = _gradients(model, x, target, position, embedding, 1.0)
    return (e * grad).sum(-1)  # (B, T)


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: torch.Tensor | None = None,
                         position: int | None = None, embedding: nn.Module | None = None,
                         steps: int = 32) -> torch.Tensor:
    """Integrated gradients (Sundararajan et al. 2017) on the token embeddings, from the zero embedding.

    ``IG[b, s] = sum_d e[b, s, d] * mean_k d log p(target_b) / d e[b, s, d] at (k - 1/2) / steps * e``
    (the midpoint rule for the path integral from 0 to e). The attributions of a sequence add up
    to log p(target | e) - log p(target | 0) as ``steps`` grows (completeness).

    Args:
        model, x, target, position, embedding: as in :func:`grad_x_input`.
        steps: the number of points on the path.

    Returns:
        the attributions (B, T).
    """
    check_tensor(x, "x", dims=2, dtype_kind="int")
    position = _check_position(position, x.shape[1])
    check_int(steps, "steps", minimum=1)
    embedding = _embedding_of(model, embedding)
    target = _target(model, x, target, position)
    total = 0
    for k in range(steps):
        e, grad = _gradients(model, x, target, position, embedding, (k + 0.5) / steps)
        total = total + grad
    return (e * total / steps).sum(-1)  # (B, T)


# ---------------------------------------------------------------------------------------------
# Comparing explanations
# ---------------------------------------------------------------------------------------------

def _ranks(a):
    """Ranks 1..T along the last dimension, ties given their average rank. (..., T) -> (..., T)."""
    below = (a[..., None, :] < a[..., :, None]).sum(-1)  # (..., T): how many are smaller
    equal = (a[..., None, :] == a[..., :, None]).sum(-1)  # (..., T): how many are equal, itself included
    return below + (equal + 1) / 2


def rank_correlation(a: torch.Tensor, b: torch.Tensor, method: str = "spearman") -> torch.Tensor:
    """Rank correlation of two scorings of the same T items, along the last dimension.

    ``"spearman"``: Spearman's rho, the Pearson correlation of the ranks (ties get their average
    rank). ``"kendall"``: Kendall's tau-b, (concordant - discordant pairs) corrected for ties.
    Both are 1 when the two orders agree, -1 when one reverses the other, near 0 when unrelated.

    Args:
        a, b: scores of the same shape (..., T), T >= 2.
        method: ``"spearman"`` or ``"kendall"``.

    Returns:
        the correlations (...,); NaN for a row in which a or b is constant.
    """
    check_tensor(a, "a")
    check_tensor(b, "b")
    if as_shape(a) != as_shape(b):
        raise ValueError(f"a and b must score the same items, shape {as_shape(a)} and {as_shape(b)} differ")
    if a.dim() == 0 or a.shape[-1] < 2:
        raise ValueError(f"rank correlation needs at least 2 items in the last dimension, got shape {as_shape(a)}")
    a, b = a.double(), b.double()
    if method == "spearman":
        ra, rb = _ranks(a), _ranks(b)
        ra, rb = ra - ra.mean(-1, keepdim=True), rb - rb.mean(-1, keepdim=True)
        return ((ra * rb).sum(-1) / (ra.norm(dim=-1) * rb.norm(dim=-1))).float()
    if method == "kendall":
        sa = torch.sign(a[..., :, None] - a[..., None, :])  # (..., T, T)
        sb = torch.sign(b[..., :, None] - b[..., None, :])  # (..., T, T)
        upper = torch.ones(sa.shape[-2:], dtype=torch.bool, device=sa.device).triu(1)  # (T, T): each pair once
        def pairs(t):  # the sum over the pairs s < t of terms -1, 0 or 1: exact in any order
            return torch.where(upper, t, 0.0).sum((-2, -1))

        s = pairs(sa * sb)
        na, nb = pairs(sa.abs()), pairs(sb.abs())  # pairs not tied in a, in b
        return (s / torch.sqrt(na * nb)).float()
    raise ValueError(f"method must be 'spearman' or 'kendall', got {method!r}")


def attention_mass_on(weights: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    """The attention weight that lands on chosen positions.

    Args:
        weights: attention weights (..., T) (each row a distribution over T positions).
        where: a position per row (...,) (integers), or a bool mask (..., T) of positions.

    Returns:
        the weight on those positions (...,).
    """
    check_tensor(weights, "weights", dtype_kind="float")
    check_tensor(where, "where")
    if where.dtype == torch.bool:
        if as_shape(where) != as_shape(weights):
            raise ValueError(f"a bool mask `where` must have the weights' shape {as_shape(weights)}, "
                             f"got {as_shape(where)}")
        return (weights * where).sum(-1)
    check_tensor(where, "where", dtype_kind="int")
    if as_shape(where) != as_shape(weights)[:-1]:
        raise ValueError(f"where must give one position per row, shape {as_shape(weights)[:-1]}, "
                         f"got {as_shape(where)}")
    T = weights.shape[-1]
    if where.numel() and has_values(where) and (int(where.min()) < 0 or int(where.max()) >= T):
        raise ValueError(f"positions in where must lie in [0, {T}), got {int(where.min())} to {int(where.max())}")
    return weights.gather(-1, where.unsqueeze(-1).long()).squeeze(-1)


def jensen_shannon(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The Jensen-Shannon divergence (in nats, between 0 and log 2) of distributions along the last dimension.

    ``JS(p, q) = (KL(p || m) + KL(q || m)) / 2`` with ``m = (p + q) / 2``; 0 for equal
    distributions, log 2 for distributions with disjoint supports.

    Returns:
        the divergences (...,).
    """
    check_tensor(p, "p", dtype_kind="float")
    check_tensor(q, "q", dtype_kind="float")
    if as_shape(p) != as_shape(q):
        raise ValueError(f"p and q must have the same shape, got {as_shape(p)} and {as_shape(q)}")
    m = (p + q) / 2

    def kl(a, b):
        return torch.where(a > 0, a * (a.clamp_min(1e-30).log() - b.clamp_min(1e-30).log()), 0.0).sum(-1)

    return (kl(p, m) + kl(q, m)) / 2


# ---------------------------------------------------------------------------------------------
# Inside an LSTM
# ---------------------------------------------------------------------------------------------

def lstm_states(lstm: nn.LSTM, x: torch.Tensor) -> tuple:
    """Every step's hidden state h_t and cell state c_t of a one-layer, one-direction ``nn.LSTM``.

    ``nn.LSTM`` returns h_t for every step but c_t only for the last; this runs the same
    equations step by step, with :class:`seqlib.recurrent.LSTMCell` and ``lstm``'s weights, to
    keep both.

    Args:
        lstm: an ``nn.LSTM`` with num_layers=1, bidirectional=False, batch_first=True.
        x: the inputs (B, T, input_size).

    Returns:
        the pair (h, c), each (B, T, hidden_size).
    """
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"lstm must be a torch.nn.LSTM, got {type(lstm).__name__}")
    if lstm.num_layers != 1 or lstm.bidirectional or not lstm.batch_first or lstm.proj_size:
        raise ValueError(f"lstm_states reads a one-layer, one-direction nn.LSTM with batch_first=True and no "
                         f"projection, got num_layers={lstm.num_layers}, bidirectional={lstm.bidirectional}, "
                         f"batch_first={lstm.batch_first}, proj_size={lstm.proj_size}")
    check_tensor(x, "x", dims=3, dtype_kind="float")
    if x.shape[-1] != lstm.input_size:
        raise ValueError(f"x must have input_size={lstm.input_size} features, got shape {as_shape(x)}")
    cell = LSTM.from_torch(lstm).cells[0]  # seqlib's LSTMCell, holding lstm's weights
    state, hs, cs = None, [], []
    for t in range(x.shape[1]):
        state = cell(x[:, t], state)  # (h_t, c_t), each (B, H)
        hs.append(state[0])
        cs.append(state[1])
    return torch.stack(hs, 1), torch.stack(cs, 1)  # (B, T, H) each
