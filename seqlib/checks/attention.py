"""Graders for the attention exercises: dot-product and causal attention, an encoder layer,
leave-one-out attributions, and linear attention."""
from __future__ import annotations

import numpy as np
import torch

from ..data.batch import lengths_to_mask
from ..runtime import generator, seed_everything
from ._common import _as_answer, _call, _describe, _shape_of


def check_dot_attention(fn, seed: int = 0) -> str:
    """Grade ``fn(query (B, H), keys (B, S, H), values (B, S, D), mask (B, S) bool) -> (context (B, D), weights (B, S))``.

    Dot-product attention for one query per sequence (Luong's "dot" score, no scaling), masked
    so that padded keys (mask False) get weight 0. The reference is PyTorch's
    ``F.scaled_dot_product_attention`` with ``scale=1``; the weights must sum to 1 over real keys.
    """
    import torch.nn.functional as F

    g = generator(seed)
    for k in range(8):
        B, S, H, D = (int(v) for v in torch.randint(1, 6, (4,), generator=g))
        lengths = torch.randint(1, S + 1, (B,), generator=g)
        mask = lengths_to_mask(lengths, S)  # (B, S)
        query, keys = torch.randn(B, H, generator=g), torch.randn(B, S, H, generator=g)
        values = torch.randn(B, S, D, generator=g)
        values = torch.where(mask[..., None], values, 1e3 * torch.randn(B, S, D, generator=g))  # garbage padding
        want = F.scaled_dot_product_attention(query[:, None, :], keys, values, attn_mask=mask[:, None, :],
                                              scale=1.0)[:, 0]  # (B, D)
        scores = torch.einsum("bh,bsh->bs", query, keys).masked_fill(~mask, float("-inf"))
        want_weights = torch.softmax(scores, dim=-1)  # (B, S)
        where = f"case {k} (B={B}, S={S}, H={H}, D={D}, lengths {lengths.tolist()})"
        out = _call(fn, where, query.clone(), keys.clone(), values.clone(), mask.clone())
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise AssertionError(f"case {k}: expected a tuple (context, weights), got {type(out).__name__}")
        context, weights = out
        if _shape_of(weights) != (B, S) or _shape_of(context) != (B, D):
            raise AssertionError(f"case {k}: expected context {(B, D)} and weights {(B, S)}, "
                                 f"got {_shape_of(context)} and {_shape_of(weights)} {where[len(f'case {k} '):]}")
        context = _as_answer(context, (B, D), want, where, "the context")
        weights = _as_answer(weights, (B, S), want_weights, where, "the weights")
        if (weights[~mask].abs() > 1e-6).any():
            raise AssertionError(f"case {k} (lengths {lengths.tolist()}): padded keys got non-zero weight; "
                                 "mask the scores with -inf before the softmax")
        if not torch.allclose(weights, want_weights, atol=1e-5):
            scaled = torch.softmax(scores / H ** 0.5, dim=-1)
            hint = " (did you divide by sqrt(H)? Luong's dot score is not scaled)" if torch.allclose(
                weights, scaled, atol=1e-5) else ""
            raise AssertionError(f"case {k}: the weights differ from softmax(q . k) over real keys{hint}")
        if not torch.allclose(context, want, atol=1e-4):
            raise AssertionError(f"case {k}: the context differs from F.scaled_dot_product_attention's by "
                                 f"{(context - want).abs().max().item():.3g}")
    return "check_dot_attention: all 8 cases agree with F.scaled_dot_product_attention."



def check_causal_attention(fn, seed: int = 0) -> str:
    """Grade ``fn(q (B, T, d), k (B, T, d), v (B, T, d_v)) -> (output (B, T, d_v), weights (B, T, T))``.

    Scaled dot-product self-attention under a causal mask: query t may attend to keys s <= t
    only, scores divided by sqrt(d). The reference is PyTorch's
    ``F.scaled_dot_product_attention(q, k, v, is_causal=True)``. Common mistakes are named:
    no scaling, the mask's triangle reversed, the diagonal masked too, the softmax taken over
    the wrong dimension.
    """
    import torch.nn.functional as F

    g = generator(seed)
    for case in range(8):
        B, T, d, d_v = (int(n) for n in torch.randint(1, 7, (4,), generator=g))
        T += 1  # at least two positions, so that the future exists
        q, k = torch.randn(B, T, d, generator=g), torch.randn(B, T, d, generator=g)
        v = torch.randn(B, T, d_v, generator=g)
        want = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, T, d_v)
        scores = q @ k.transpose(-2, -1)  # (B, T, T), unscaled
        lower = torch.ones(T, T, dtype=torch.bool).tril()  # (T, T): True where s <= t
        want_weights = torch.softmax((scores / d ** 0.5).masked_fill(~lower, float("-inf")), dim=-1)
        where = f"case {case} (B={B}, T={T}, d={d}, d_v={d_v})"
        out = _call(fn, where, q.clone(), k.clone(), v.clone())
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise AssertionError(f"case {case}: expected a tuple (output, weights), got {type(out).__name__}")
        output, weights = out
        if _shape_of(output) != (B, T, d_v) or _shape_of(weights) != (B, T, T):
            raise AssertionError(f"case {case}: expected output {(B, T, d_v)} and weights {(B, T, T)}, "
                                 f"got {_shape_of(output)} and {_shape_of(weights)} (T={T}, d={d}, d_v={d_v})")
        output = _as_answer(output, (B, T, d_v), want, where, "the output")
        weights = _as_answer(weights, (B, T, T), want_weights, where, "the weights")
        if not torch.isfinite(weights).all():
            raise AssertionError(f"case {case}: the weights hold NaN or infinity; is a whole row masked? "
                                 "(query t may attend to every s <= t, itself included)")
        if not torch.allclose(weights, want_weights, atol=1e-5):
            raise AssertionError(f"case {case} (T={T}, d={d}): the weights differ from the reference"
                                 f"{_causal_mistake(weights, scores, d, lower)}")
        if not torch.allclose(output, want, atol=1e-5):
            raise AssertionError(f"case {case}: the output differs from F.scaled_dot_product_attention's by "
                                 f"{(output - want).abs().max().item():.3g}; is it weights @ v?")
    return "check_causal_attention: all 8 cases agree with F.scaled_dot_product_attention(is_causal=True)."



def _causal_mistake(weights, scores, d, lower):
    """A hint naming the mistake that explains ``weights``, if one of the usual ones does."""
    def softmax(s, allowed, dim=-1):
        return torch.softmax(s.masked_fill(~allowed, float("-inf")), dim=dim)

    T = lower.shape[0]
    if (weights * ~lower).abs().max() > 1e-6:
        if torch.allclose(weights, softmax(scores / d ** 0.5, lower.T), atol=1e-5):
            return ": the triangle is reversed, so each query looks at the future; keep s <= t (torch.tril)"
        return ": some query gives weight to a later key; mask the scores where s > t before the softmax"
    if torch.allclose(weights, softmax(scores, lower), atol=1e-5):
        return ": the scores are not divided by sqrt(d)"
    if T > 1 and (weights.diagonal(dim1=-2, dim2=-1)[..., 1:].abs() < 1e-6).all():
        return ": the diagonal is masked too; a query may attend to its own position (s <= t)"
    if not torch.allclose(weights.sum(-1), torch.ones(weights.shape[:-1]), atol=1e-5):
        return ": the rows do not sum to 1; take the softmax over the keys (the last dimension)"
    return ""



def _encoder_layer_variants(x, attend, ffn, norm1, norm2):
    """The encoder layer computed the right ways and the usual wrong ways, for naming a learner's mistake."""
    pre_h = x + attend(norm1(x))
    post_h = norm1(x + attend(x))
    normed = norm1(x)  # a residual that carries the normalised x instead of x itself
    normed_h = normed + attend(normed)
    return {
        "pre-norm": pre_h + ffn(norm2(pre_h)),
        "post-norm": norm2(post_h + ffn(post_h)),
        "pre-norm without the residual around the self-attention":
            attend(norm1(x)) + ffn(norm2(attend(norm1(x)))),
        "pre-norm without the residual around the feed-forward network": ffn(norm2(pre_h)),
        "post-norm without the residual around the self-attention": norm2(norm1(attend(x)) + ffn(norm1(attend(x)))),
        "post-norm without the residual around the feed-forward network": norm2(ffn(post_h)),
        "pre-norm with the residual taken after the norm (x = LN(x) + Sublayer(LN(x)))":
            norm2(normed_h) + ffn(norm2(normed_h)),
        "pre-norm with norm1 and norm2 swapped": (x + attend(norm2(x))) + ffn(norm1(x + attend(norm2(x)))),
        "pre-norm with the feed-forward network before the self-attention":
            (x + ffn(norm1(x))) + attend(norm2(x + ffn(norm1(x)))),
        "post-norm with the feed-forward network before the self-attention":
            norm2(norm1(x + ffn(x)) + attend(norm1(x + ffn(x)))),
    }



_ENCODER_LAYER_HINTS = {
    "post-norm": "It matches the post-norm layer, x = LayerNorm(x + Sublayer(x)): with norm_first=True each "
                 "sub-layer reads LayerNorm(x) and its output is added to x, x = x + Sublayer(LayerNorm(x)).",
    "pre-norm": "It matches the pre-norm layer, x = x + Sublayer(LayerNorm(x)): with norm_first=False the sum "
                "comes first and is then normalised, x = LayerNorm(x + Sublayer(x)).",
}



def check_encoder_layer(fn, norm_first: bool = True, seed: int = 0) -> str:
    """Grade ``fn(x, self_attention, feed_forward, norm1, norm2) -> y``, one Transformer encoder layer,
    against ``torch.nn.TransformerEncoderLayer`` (no dropout, evaluation mode) holding the same weights.

    ``x`` is (B, T, d_model); ``self_attention(h)`` returns the layer's multi-head self-attention
    of ``h`` to itself and ``feed_forward(h)`` its position-wise feed-forward network, both
    (B, T, d_model); ``norm1`` and ``norm2`` are its two ``nn.LayerNorm`` modules. The function
    supplies the residual paths and puts the norms in their places::

        pre-norm (norm_first=True):    h = x + self_attention(norm1(x));  y = h + feed_forward(norm2(h))
        post-norm (norm_first=False):  h = norm1(x + self_attention(x));  y = norm2(h + feed_forward(h))

    The cases run in float64, with LayerNorm weights and biases far from 1 and 0 and inputs far
    from zero mean and unit scale, so a norm in the wrong place changes the result. When the
    result matches a common mistake (the other norm placement, a missing residual path, the
    residual taken after the norm, the norms swapped, the sub-layers in the wrong order), the
    error names it.

    Args:
        fn: the learner's layer.
        norm_first: grade a pre-norm (True) or a post-norm (False) layer.
        seed: the seed of the random cases.
    """
    from torch import nn

    g = generator(seed)
    kind = "pre-norm" if norm_first else "post-norm"
    sizes = [(1, 1, 4, 1, 8), (2, 5, 8, 2, 16), (3, 4, 12, 3, 8), (2, 7, 8, 4, 32), (4, 3, 6, 2, 12)]
    for k, (B, T, d_model, nhead, d_ff) in enumerate(sizes):
        with torch.random.fork_rng():  # the layer's initialisation leaves the caller's random state alone
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=g)))  # drawn from g: already shifted
            layer = nn.TransformerEncoderLayer(d_model, nhead, d_ff, dropout=0.0, batch_first=True,
                                               norm_first=norm_first).double().eval()
        with torch.no_grad():
            for norm in (layer.norm1, layer.norm2):
                norm.weight.copy_(1 + torch.rand(d_model, generator=g, dtype=torch.float64))  # in (1, 2)
                norm.bias.copy_(torch.randn(d_model, generator=g, dtype=torch.float64))
        x = 2 + 3 * torch.randn(B, T, d_model, generator=g, dtype=torch.float64)  # not normalised

        def attend(h, layer=layer):
            return layer.self_attn(h, h, h, need_weights=False)[0]

        def ffn(h, layer=layer):
            return layer.linear2(layer.activation(layer.linear1(h)))

        with torch.no_grad():
            want = layer(x)  # (B, T, d_model)
            where = f"case {k} (B={B}, T={T}, d_model={d_model}, nhead={nhead}, {kind})"
            got = _call(fn, where, x.clone(), attend, ffn, layer.norm1, layer.norm2)
            variants = _encoder_layer_variants(x, attend, ffn, layer.norm1, layer.norm2)
        assert torch.allclose(variants[kind], want, atol=1e-8)  # the reference formula is PyTorch's layer
        if _shape_of(got) != (B, T, d_model) or not isinstance(got, (torch.Tensor, np.ndarray, list, tuple)):
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else _describe(got)
            raise AssertionError(f"{where}: expected a tensor of shape (B, T, d_model) = {(B, T, d_model)}, "
                                 f"got {found}")
        got = _as_answer(got, (B, T, d_model), want, where)
        if not torch.allclose(got, want, atol=1e-6):
            worst = (got - want).abs().max().item()
            hint = ""
            for name, value in variants.items():
                if name != kind and torch.allclose(got, value, atol=1e-6):
                    hint = " " + _ENCODER_LAYER_HINTS.get(name, f"It matches the {name}.")
                    break
            raise AssertionError(f"{where}: the output differs from torch.nn.TransformerEncoderLayer("
                                 f"norm_first={norm_first}) by up to {worst:.3g}.{hint}")
    return (f"check_encoder_layer: all {len(sizes)} cases agree with "
            f"torch.nn.TransformerEncoderLayer(norm_first={norm_first}).")



def check_leave_one_out(fn, seed: int = 0) -> str:
    """Grade ``fn(model, x, target) -> (B, T)``: leave-one-out attribution of a classifier.

    Entry [b, s] must be log p(target_b | x_b) - log p(target_b | x_b with token s replaced by
    id 0), for a model that maps token ids (B, T) to logits (B, C). The reference is
    :func:`seqlib.interpret.leave_one_out`; the cases are small random
    :class:`seqlib.interpret.AttentionClassifier` models, with and without an LSTM encoder.
    """
    from ..interpret import AttentionClassifier, leave_one_out

    g = generator(seed)
    cases = 0
    for k, encoder in enumerate(("none", "lstm", "none", "lstm")):
        seed_everything(seed + k)
        V, C = 9, 3
        model = AttentionClassifier(V, C, d_model=8, encoder=encoder).eval()
        B, T = int(torch.randint(1, 5, (1,), generator=g)), int(torch.randint(2, 8, (1,), generator=g))
        x = torch.randint(1, V, (B, T), generator=g)
        target = torch.randint(0, C, (B,), generator=g)
        want = leave_one_out(model, x, target)
        where = f"case {k} (encoder={encoder!r}, x of shape (B, T) = {(B, T)}: {x.tolist()}, target {target.tolist()})"
        got = _call(fn, where, model, x.clone(), target.clone())
        if _shape_of(got) != (B, T) or not isinstance(got, (torch.Tensor, np.ndarray, list, tuple)):
            found = tuple(got.shape) if isinstance(got, torch.Tensor) else _describe(got)
            raise AssertionError(f"case {k}: expected a tensor of shape (B, T) = {(B, T)}, one score per token, "
                                 f"got {found}")
        got = _as_answer(got, (B, T), want, where)
        cases += 1
        if torch.allclose(got, want, atol=1e-4):
            continue
        where = f"case {k} (encoder={encoder!r}, B={B}, T={T})"
        if torch.allclose(got, -want, atol=1e-4):
            raise AssertionError(f"{where}: the signs are reversed. Leave-one-out is the log-probability with "
                                 f"the token minus without it, so a token that supports the target scores > 0.")
        with torch.no_grad():
            p = torch.softmax(model(x), -1)[torch.arange(B), target]  # (B,)
            as_probs = torch.stack([p - torch.softmax(model(x.index_put((torch.arange(B), torch.full((B,), s)),
                                                                        torch.tensor(0))), -1)[torch.arange(B), target]
                                    for s in range(T)], 1)  # (B, T)
        if torch.allclose(got, as_probs, atol=1e-4):
            raise AssertionError(f"{where}: these are differences of probabilities; use log-probabilities "
                                 f"(torch.log_softmax).")
        worst = (got - want).abs().max().item()
        raise AssertionError(f"{where}: differs from the leave-one-out attribution by up to {worst:.3g}.\n"
                             f"expected\n{want}\ngot\n{got}")
    return f"check_leave_one_out: all {cases} cases agree with seqlib.interpret.leave_one_out."



def check_linear_attention(fn, seed: int = 0) -> str:
    """Grade ``fn(q (B, T, d_k), k (B, T, d_k), v (B, T, d_v)) -> output (B, T, d_v)``: causal linear
    attention computed as a recurrence.

    The reference is :func:`seqlib.linear_attention.linear_attention_parallel` (feature map
    phi(x) = elu(x) + 1, normaliser phi(q_t) . z_t, eps = 1e-6). Common mistakes are named:
    no normaliser, a sum over all positions (not causal), the state read before token t is
    added, no feature map, the normaliser taken with q instead of phi(q).
    """
    from ..linear_attention import elu_feature_map, linear_attention_parallel

    g = generator(seed)
    for case in range(6):
        B, T, d_k, d_v = (int(n) for n in torch.randint(1, 6, (4,), generator=g))
        T += 2  # at least three positions, so that the past and the future both exist
        q, k = torch.randn(B, T, d_k, generator=g), torch.randn(B, T, d_k, generator=g)
        v = torch.randn(B, T, d_v, generator=g)
        want = linear_attention_parallel(q, k, v)  # (B, T, d_v)
        where = f"case {case} (B={B}, T={T}, d_k={d_k}, d_v={d_v})"
        out = _call(fn, where, q.clone(), k.clone(), v.clone())
        if not isinstance(out, (torch.Tensor, np.ndarray, list, tuple)):
            raise AssertionError(f"case {case}: expected a tensor (B, T, d_v), got {type(out).__name__} "
                                 f"(B={B}, T={T}, d_k={d_k}, d_v={d_v})")
        if _shape_of(out) != (B, T, d_v):
            raise AssertionError(f"case {case}: expected output of shape {(B, T, d_v)}, got {_shape_of(out)} "
                                 f"(B={B}, T={T}, d_k={d_k}, d_v={d_v})")
        out = _as_answer(out, (B, T, d_v), want, where)
        if not torch.allclose(out, want, atol=1e-5):
            raise AssertionError(f"case {case} (T={T}, d_k={d_k}): the output differs from the reference by "
                                 f"{(out - want).abs().max().item():.3g}"
                                 f"{_linear_attention_mistake(out, q, k, v, elu_feature_map)}")
    return "check_linear_attention: all 6 cases agree with seqlib.linear_attention.linear_attention_parallel."



def _linear_attention_mistake(out, q, k, v, phi):
    """A hint naming the mistake that explains ``out``, if one of the usual ones does."""
    T = q.shape[1]
    lower = torch.ones(T, T).tril()  # (T, T): 1 where s <= t
    strictly = torch.ones(T, T).tril(-1)  # (T, T): 1 where s < t

    def attend(fq, fk, mask, normalize=True, norm_q=None):
        A = (fq @ fk.transpose(-2, -1)) * mask  # (B, T, T)
        o = A @ v
        if normalize:
            Z = ((fq if norm_q is None else norm_q) @ fk.transpose(-2, -1)) * mask
            o = o / (Z.sum(-1, keepdim=True) + 1e-6)
        return o

    variants = [
        (attend(phi(q), phi(k), lower, normalize=False), "no normaliser: divide phi(q_t)^T S_t by phi(q_t) . z_t, "
                                                          "with z_t the running sum of phi(k_s)"),
        (attend(phi(q), phi(k), torch.ones(T, T)), "the sums run over all positions; "
                                                   "a causal model may only add tokens s <= t to the state"),
        (attend(phi(q), phi(k), strictly), "the state is read before token t is added; update S and z first, "
                                           "then read them with q_t"),
        (attend(q, k, lower), "no feature map: apply phi(x) = elu(x) + 1 to the queries and keys"),
        (attend(phi(q), phi(k), lower, norm_q=q), "the normaliser uses q instead of phi(q)"),
    ]
    for candidate, hint in variants:
        if candidate.shape == out.shape and torch.allclose(out, candidate, atol=1e-4):
            return ": " + hint
    return ""

