"""seqlib.attention against PyTorch (F.scaled_dot_product_attention, nn.MultiheadAttention), and its properties."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlib import attention
from seqlib.positions import apply_rotary
from seqlib.attention import (AdditiveAttention, KVCache, MultiHeadAttention, MultiplicativeAttention, causal_mask,
                              from_torch_masks,
                              masked_softmax, padding_mask, scaled_dot_product_attention)

B, H, TQ, TK, DK, DV = 2, 3, 5, 7, 4, 6  # batch, heads, queries, keys, key and value features
E, HEADS, T = 12, 4, 6  # multi-head attention: embed_dim, num_heads (d_head = 3), sequence length
LENGTHS = [6, 4]  # real lengths of the two sequences, for padding masks
ATOL = 1e-5
TORCH_2_5 = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 5)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def close(a, b, atol=ATOL):
    assert a.shape == b.shape, f"shape {tuple(a.shape)} != {tuple(b.shape)}"
    torch.testing.assert_close(a, b, atol=atol, rtol=0)


# ---------------------------------------------------------------------------------------------
# scaled_dot_product_attention against F.scaled_dot_product_attention
# ---------------------------------------------------------------------------------------------

def qkv(tq=TQ, tk=TK, seed=0):
    return randn(B, H, tq, DK, seed=seed), randn(B, H, tk, DK, seed=seed + 1), randn(B, H, tk, DV, seed=seed + 2)


def reference_weights(q, k, additive, scale=None):
    """softmax(q k^T * scale + additive), written out: the weights PyTorch's function does not return."""
    scale = DK ** -0.5 if scale is None else scale
    return torch.softmax(q @ k.transpose(-2, -1) * scale + additive, dim=-1)


def bool_mask(shape, seed=3):
    """A random may-attend mask whose every row keeps key 0 (no row is fully masked)."""
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) > 0.4
    mask[..., 0] = True
    return mask


MASKS = {  # each builds a mask for tq queries
    "none": lambda tq: None,
    "bool": lambda tq: bool_mask((B, H, tq, TK)),
    "bool_broadcast": lambda tq: bool_mask((B, 1, 1, TK)),  # a key padding mask in the may-attend convention
    "float": lambda tq: randn(tq, TK, seed=4),
    "float_with_inf": lambda tq: torch.zeros(B, 1, tq, TK).masked_fill(~bool_mask((B, 1, tq, TK)), float("-inf")),
}


@pytest.mark.parametrize("kind", MASKS)
@pytest.mark.parametrize("tq", [TQ, TK], ids=["cross", "square"])
def test_sdpa_matches_pytorch_with_every_kind_of_mask(kind, tq):
    q, k, v = qkv(tq=tq)
    mask = MASKS[kind](tq)
    out, weights = scaled_dot_product_attention(q, k, v, mask=mask)
    close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    additive = 0 if mask is None else torch.zeros(mask.shape).masked_fill(~mask, float("-inf")) \
        if mask.dtype == torch.bool else mask
    close(weights, reference_weights(q, k, additive))
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, H, tq))


@pytest.mark.parametrize("tq", [TQ, TK], ids=["cross", "square"])
def test_sdpa_is_causal_and_scale_match_pytorch(tq):
    q, k, v = qkv(tq=tq)
    out, weights = scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3)
    close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3))
    allowed = torch.ones(tq, TK, dtype=torch.bool).tril()  # PyTorch's top-left aligned triangle
    close(weights, reference_weights(q, k, torch.zeros(tq, TK).masked_fill(~allowed, float("-inf")), scale=0.3))
    assert torch.equal(weights == 0, ~allowed.expand_as(weights))


def test_sdpa_gradients_match_pytorch():
    mask = bool_mask((B, 1, TQ, TK))
    ours = [t.requires_grad_() for t in qkv()]
    theirs = [t.requires_grad_() for t in qkv()]
    w = randn(B, H, TQ, DV, seed=9)
    (w * scaled_dot_product_attention(*ours, mask=mask)[0]).sum().backward()
    (w * F.scaled_dot_product_attention(*theirs, attn_mask=mask)).sum().backward()
    for a, b in zip(ours, theirs):
        close(a.grad, b.grad)


def test_mask_and_is_causal_together_both_apply():
    q, k, v = qkv(tq=TK)
    pad = torch.arange(TK) < 5  # keys 5 and 6 are padding
    _, weights = scaled_dot_product_attention(q, k, v, mask=pad, is_causal=True)
    allowed = causal_mask(TK) & pad
    assert torch.equal(weights > 0, allowed.expand_as(weights))


def test_dropout_acts_in_training_only():
    q, k, v = qkv()
    eval_out, _ = scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    close(eval_out, scaled_dot_product_attention(q, k, v)[0], atol=0)
    torch.manual_seed(0)
    _, dropped = scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=True)
    assert (dropped == 0).any() and not torch.allclose(dropped.sum(-1), torch.ones(B, H, TQ))


# ---------------------------------------------------------------------------------------------
# Rows with every key masked: zeros, not NaN
# ---------------------------------------------------------------------------------------------

def test_a_row_with_every_key_masked_gives_zeros_not_nan():
    q, k, v = [t.requires_grad_() for t in qkv()]
    mask = bool_mask((B, H, TQ, TK))
    mask[0, 1, 2] = False  # query 2 of head 1 of sequence 0 may see nothing
    for m in (mask, torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))):  # bool and additive
        out, weights = scaled_dot_product_attention(q, k, v, mask=m)
        assert not out.isnan().any() and not weights.isnan().any()
        assert torch.equal(out[0, 1, 2], torch.zeros(DV)) and torch.equal(weights[0, 1, 2], torch.zeros(TK))
        torch.testing.assert_close(weights.sum(-1)[mask.any(-1)], torch.ones(int(mask.any(-1).sum())))
        out.sum().backward()
        assert not any(t.grad.isnan().any() for t in (q, k, v))  # the gradients are clean too
        if TORCH_2_5:  # PyTorch's function agrees since 2.5, that row included
            close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=m))


def test_pytorch_gives_nan_where_ours_gives_zeros():
    scores = randn(3, TK)
    scores[1] = float("-inf")
    assert torch.softmax(scores, dim=-1)[1].isnan().all()  # a plain softmax: 0/0
    assert torch.equal(masked_softmax(scores)[1], torch.zeros(TK))
    q, k, v = qkv()
    mask = torch.ones(TQ, TK, dtype=torch.bool)
    mask[2] = False
    sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    if TORCH_2_5:  # PyTorch 2.5 made its function return zeros there, as ours does
        assert torch.equal(sdpa[:, :, 2], torch.zeros(B, H, DV))
    else:
        assert sdpa[:, :, 2].isnan().all()
    # nn.MultiheadAttention with its default need_weights=True: NaN in the output and the weights
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(E, HEADS, batch_first=True).eval()
    ours = MultiHeadAttention.from_torch(theirs).eval()
    x = randn(B, T, E)
    blocked = torch.zeros(T, T, dtype=torch.bool)  # True = not allowed
    blocked[3] = True  # query 3 may attend to nothing
    their_out, their_w = theirs(x, x, x, attn_mask=blocked)
    our_out, our_w = ours(x, x, x, mask=~blocked)  # the book's convention: True = may attend
    assert their_out[:, 3].isnan().all() and their_w[:, 3].isnan().all()
    assert not our_out.isnan().any() and torch.equal(our_w[:, 3], torch.zeros(B, T))
    close(our_out[:, 3], ours.W_o.bias.expand(B, E))  # no value reaches it: only W_o's bias
    close(our_out[:, [0, 1, 2, 4, 5]], their_out[:, [0, 1, 2, 4, 5]])  # the other rows agree


# ---------------------------------------------------------------------------------------------
# Additive and multiplicative attention
# ---------------------------------------------------------------------------------------------

DQ, DKEY = 5, 4  # query and key sizes of the seq2seq attentions
SEQ2SEQ = {
    "additive": lambda: AdditiveAttention(DQ, DKEY, hidden_size=8),
    "general": lambda: MultiplicativeAttention(DQ, DKEY, kind="general"),
    "dot": lambda: MultiplicativeAttention(DKEY, DKEY, kind="dot"),
}


def seq2seq_inputs(module, single):
    torch.manual_seed(0)
    query = randn(B, module.query_size, seed=1) if single else randn(B, TQ, module.query_size, seed=1)
    return query, randn(B, TK, DKEY, seed=2), randn(B, TK, DV, seed=3)


def by_hand(kind, module, query, keys):
    """The papers' scores, one query-key pair at a time."""
    scores = torch.empty(query.shape[0], query.shape[1], keys.shape[1])
    for b in range(scores.shape[0]):
        for i in range(scores.shape[1]):
            for j in range(scores.shape[2]):
                q, k = query[b, i], keys[b, j]
                if kind == "additive":
                    scores[b, i, j] = module.v @ torch.tanh(module.W_q.weight @ q + module.W_k.weight @ k)
                elif kind == "general":
                    scores[b, i, j] = q @ module.W @ k
                else:
                    scores[b, i, j] = q @ k
    return scores


@pytest.mark.parametrize("kind", SEQ2SEQ)
@pytest.mark.parametrize("single", [False, True], ids=["queries", "one_query"])
def test_seq2seq_attention_weights_sum_to_one_over_real_keys_and_zero_on_padding(kind, single):
    module = SEQ2SEQ[kind]()
    query, keys, values = seq2seq_inputs(module, single)
    real = padding_mask(torch.tensor([TK, 3]), TK)  # (B, TK): True at real keys
    garbage = torch.where(real[..., None], values, 1e3 * randn(B, TK, DV, seed=5))
    with torch.no_grad():
        context, weights = module(query, keys, garbage, mask=real)
        clean_context, _ = module(query, keys, values, mask=real)
    lead = (B,) if single else (B, TQ)
    assert context.shape == lead + (DV,) and weights.shape == lead + (TK,)
    real_w = real if single else real[:, None, :]
    torch.testing.assert_close(weights.sum(-1), torch.ones(lead))
    assert torch.equal(weights * ~real_w, torch.zeros(weights.shape))  # exactly 0 on padding
    assert (weights[real_w.expand_as(weights)] > 0).all()
    close(context, clean_context)  # the padded values never reach the context
    # and the scores are the paper's: weights = masked softmax of the scores written out by hand
    q3 = query[:, None] if single else query
    want = torch.softmax(by_hand(kind, module, q3, keys).masked_fill(~real[:, None], float("-inf")), dim=-1)
    close(weights, want.squeeze(1) if single else want)
    close(context, weights @ values if not single else (weights[:, None] @ values).squeeze(1))


# ---------------------------------------------------------------------------------------------
# MultiHeadAttention against nn.MultiheadAttention
# ---------------------------------------------------------------------------------------------

def make_mha(seed=0, **config):
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(E, HEADS, **{"batch_first": True, **config}).eval()
    return theirs, MultiHeadAttention.from_torch(theirs).eval()


def ignore_padding():
    """nn.MultiheadAttention's key_padding_mask (B, T): True at keys to ignore."""
    return ~padding_mask(torch.tensor(LENGTHS), T)


def not_allowed():
    """A random bool attn_mask (T, T), True where attending is not allowed; key 0 always allowed."""
    return ~bool_mask((T, T), seed=7)


CASES = {
    "no_mask": dict(),
    "key_padding": dict(key_padding_mask=ignore_padding()),
    "float_key_padding": dict(key_padding_mask=randn(B, T, seed=8)),
    "bool_attn_mask": dict(attn_mask=not_allowed()),
    "float_attn_mask": dict(attn_mask=randn(T, T, seed=9)),
    "per_head_attn_mask": dict(attn_mask=~bool_mask((B * HEADS, T, T), seed=10)),
    "float_both_masks": dict(key_padding_mask=randn(B, T, seed=12), attn_mask=randn(T, T, seed=11)),
    "bool_both_masks": dict(key_padding_mask=ignore_padding(), attn_mask=not_allowed()),
    "mixed_masks": dict(key_padding_mask=ignore_padding(), attn_mask=randn(T, T, seed=11)),
}
MIXED = pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask and attn_mask is deprecated")


@pytest.mark.parametrize("case", [pytest.param(c, marks=MIXED) if c == "mixed_masks" else c for c in CASES])
@pytest.mark.parametrize("average", [True, False], ids=["averaged", "per_head"])
def test_mha_matches_pytorch(case, average):
    theirs, ours = make_mha()
    x, memory = randn(B, T, E, seed=1), randn(B, T, E, seed=2)
    for query, key in ((x, x), (x, memory)):  # self-attention and cross-attention
        with torch.no_grad():
            want = theirs(query, key, key, need_weights=True, average_attn_weights=average, **CASES[case])
            got = ours(query, key, key, need_weights=True, average_attn_weights=average,
                       **from_torch_masks(**CASES[case]))
            fast = theirs(query, key, key, need_weights=False, **CASES[case])[0]  # PyTorch's fused path
        close(got[0], want[0])
        close(got[0], fast)
        close(got[1], want[1])
        assert got[1].shape == ((B, T, T) if average else (B, HEADS, T, T))


@pytest.mark.parametrize("with_padding", [False, True])
def test_mha_is_causal_matches_pytorch_given_the_causal_mask(with_padding):
    theirs, ours = make_mha(seed=1)
    x = randn(B, T, E, seed=3)
    kpm = ignore_padding() if with_padding else None
    with torch.no_grad():
        got, got_w = ours(x, x, x, **from_torch_masks(key_padding_mask=kpm), is_causal=True)
        want, want_w = theirs(x, x, x, key_padding_mask=kpm, attn_mask=~causal_mask(T), is_causal=True)
        fast = theirs(x, x, x, key_padding_mask=kpm, attn_mask=~causal_mask(T), is_causal=True,
                      need_weights=False)[0]
    close(got, want)
    close(got, fast)
    close(got_w, want_w)
    assert torch.equal(torch.triu(got_w, diagonal=1), torch.zeros(B, T, T))


def test_mha_batch_second_no_bias_and_gradients_match_pytorch():
    theirs, ours = make_mha(seed=2, batch_first=False, bias=False)
    ours.train(), theirs.train()  # dropout is 0: training mode changes nothing but must work
    assert not ours.batch_first and ours.W_q.bias is None and ours.W_o.bias is None
    x_ours = randn(T, B, E, seed=4).requires_grad_()  # (T, B, E)
    x_theirs = randn(T, B, E, seed=4).requires_grad_()
    got, got_w = ours(x_ours, x_ours, x_ours, key_mask=~ignore_padding())
    want, want_w = theirs(x_theirs, x_theirs, x_theirs, key_padding_mask=ignore_padding())
    close(got, want)
    close(got_w, want_w)
    w = randn(T, B, E, seed=5)
    (w * got).sum().backward()
    (w * want).sum().backward()
    close(x_ours.grad, x_theirs.grad)
    their_grads = theirs.in_proj_weight.grad.chunk(3)
    for layer, g in zip((ours.W_q, ours.W_k, ours.W_v), their_grads):
        close(layer.weight.grad, g)
    close(ours.W_o.weight.grad, theirs.out_proj.weight.grad)


def test_mha_parameters_initialisation_and_from_torch():
    theirs, ours = make_mha(dropout=0.25)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert (ours.dropout, ours.num_heads, ours.head_dim, ours.batch_first) == (0.25, HEADS, E // HEADS, True)
    assert not ours.training and MultiHeadAttention.from_torch(theirs.train()).training
    fresh = MultiHeadAttention(E, HEADS)
    bound = (6 / (4 * E)) ** 0.5  # Xavier on PyTorch's stacked (3E, E) in_proj_weight
    assert all(layer.weight.abs().max() <= bound for layer in (fresh.W_q, fresh.W_k, fresh.W_v))
    assert all(torch.equal(layer.bias, torch.zeros(E)) for layer in (fresh.W_q, fresh.W_k, fresh.W_v, fresh.W_o))
    double = MultiHeadAttention.from_torch(nn.MultiheadAttention(E, HEADS).double())
    assert double.W_q.weight.dtype == torch.float64 and not double.batch_first


# ---------------------------------------------------------------------------------------------
# MultiHeadAttention's properties
# ---------------------------------------------------------------------------------------------

def test_future_tokens_never_change_earlier_outputs_under_a_causal_mask():
    _, ours = make_mha(seed=3)
    x = randn(B, T, E, seed=6)
    changed = x.clone()
    changed[:, 4:] = 100 * randn(B, T - 4, E, seed=7)  # rewrite the future from step 4 on
    with torch.no_grad():
        before, _ = ours(x, x, x, is_causal=True)
        after, _ = ours(changed, changed, changed, is_causal=True)
        unmasked, _ = ours(changed, changed, changed)
    close(after[:, :4], before[:, :4], atol=1e-6)
    assert not torch.allclose(after[:, 4:], before[:, 4:])
    assert not torch.allclose(unmasked[:, :4], before[:, :4])  # without the mask the past does change


def test_padded_keys_never_change_the_real_positions():
    _, ours = make_mha(seed=4)
    lengths = torch.tensor(LENGTHS)
    x = randn(B, T, E, seed=8)
    longer = torch.cat([x, torch.zeros(B, 3, E)], dim=1)  # (B, T + 3, E)
    real = padding_mask(lengths, T + 3)
    garbage = 100 * randn(B, T + 3, E, seed=9)
    longer = torch.where(real[..., None], longer, garbage)  # garbage in every padded step
    with torch.no_grad():
        short, _ = ours(x, x, x, key_mask=real[:, :T])
        long, long_w = ours(longer, longer, longer, key_mask=real)
        for b, n in enumerate(LENGTHS):  # and each sequence alone, unpadded, gives the same
            alone, _ = ours(x[b:b + 1, :n], x[b:b + 1, :n], x[b:b + 1, :n])
            close(long[b:b + 1, :n], alone, atol=1e-6)
    close(long[:, :T][real[:, :T]], short[real[:, :T]], atol=1e-6)
    assert torch.equal(long_w * real[:, None, :], long_w)  # no weight on a padded key


def test_self_attention_without_positions_is_permutation_equivariant():
    _, ours = make_mha(seed=5)
    x = randn(B, T, E, seed=10)
    perm = torch.randperm(T, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out, w = ours(x, x, x)
        out_p, w_p = ours(x[:, perm], x[:, perm], x[:, perm])
    close(out_p, out[:, perm], atol=1e-6)  # permuting the inputs permutes the outputs
    close(w_p, w[:, perm][:, :, perm], atol=1e-6)
    with torch.no_grad():  # a causal mask breaks the symmetry: order now matters
        causal, _ = ours(x, x, x, is_causal=True)
        causal_p, _ = ours(x[:, perm], x[:, perm], x[:, perm], is_causal=True)
    assert not torch.allclose(causal_p, causal[:, perm], atol=1e-4)


def test_rotary_mha_rotates_each_heads_queries_and_keys_and_sees_only_offsets():
    torch.manual_seed(7)
    ours = MultiHeadAttention(E, 2)  # d_head = 6: rotary needs an even number of features per head
    rotary = MultiHeadAttention(E, 2, rotary=True)
    rotary.load_state_dict(ours.state_dict())  # the same weights: rotation adds no parameters
    assert "rotary=True" in repr(rotary)
    x = randn(B, T, E, seed=12)
    with torch.no_grad():
        out, w = rotary(x, x, x, need_weights=True, average_attn_weights=False)
        q, k, v = (ours._split_heads(W(x)) for W in (ours.W_q, ours.W_k, ours.W_v))  # (B, h, T, d_head)
        want, want_w = scaled_dot_product_attention(apply_rotary(q), apply_rotary(k), v)
        close(w, want_w, atol=1e-6)
        close(out, ours.W_o(want.transpose(1, 2).reshape(B, T, E)), atol=1e-6)
        assert not torch.allclose(out, ours(x, x, x)[0], atol=1e-4)  # the rotation matters
        # the scores depend on offsets only: for one token repeated, w[t, s] / w[t - 1, s - 1] is the
        # same for every s (the ratio of the two rows' softmax normalisers)
        same = x[:, :1].expand(B, T, E)
        _, w_same = rotary(same, same, same, average_attn_weights=False)  # (B, h, T, T)
        ratio = w_same[..., 1:, 1:].log() - w_same[..., :-1, :-1].log()  # (B, h, T - 1, T - 1)
        close(ratio, ratio[..., :1].expand_as(ratio), atol=1e-5)
        _, w_plain = ours(same, same, same, average_attn_weights=False)
        close(w_plain, torch.full_like(w_plain, 1 / T))  # without positions: all keys alike


@pytest.mark.parametrize("chunk", [1, 2])
def test_decoding_with_a_cache_equals_the_full_causal_computation(chunk):
    _, ours = make_mha(seed=6)
    x = randn(B, T, E, seed=11)
    with torch.no_grad():
        full, full_w = ours(x, x, x, is_causal=True)
        cache = KVCache()
        steps = []
        for t in range(0, T, chunk):  # a token (or two) at a time, as a decoder generates them
            new = x[:, t:t + chunk]
            out, w = ours(new, new, new, is_causal=True, cache=cache)
            assert cache.length == t + new.shape[1] and cache.keys.shape == (B, HEADS, t + new.shape[1], E // HEADS)
            assert w.shape == (B, new.shape[1], t + new.shape[1])
            close(w, full_w[:, t:t + chunk, :t + new.shape[1]], atol=1e-6)
            steps.append(out)
    close(torch.cat(steps, dim=1), full, atol=1e-6)


def test_a_static_cache_projects_the_memory_once_for_cross_attention():
    _, ours = make_mha(seed=7)
    x, memory = randn(B, T, E, seed=12), randn(B, 4, E, seed=13)
    real = torch.tensor([[True] * 4, [True, True, False, False]])
    with torch.no_grad():
        full, _ = ours(x, memory, memory, key_mask=real)
        cache = KVCache(static=True)
        steps = [ours(x[:, :1], memory, memory, key_mask=real, cache=cache)[0]]
        keys = cache.keys
        steps += [ours(x[:, t:t + 1], None, None, key_mask=real, cache=cache)[0] for t in range(1, T)]
    assert cache.keys is keys and cache.length == 4  # filled by the first call, then only read
    close(torch.cat(steps, dim=1), full, atol=1e-6)
    cache.reset()
    assert cache.keys is None and cache.length == 0 and "static=True" in repr(cache)


@pytest.mark.parametrize("rotary", [False, True])
def test_a_static_cache_keeps_each_query_at_its_own_position(rotary):
    """Causal cross-attention (memory as long as the target) and rotary positions, decoded one query
    at a time through a static cache, must equal the full pass: the t-th query is at position t,
    not at 0 as if every step were the first."""
    torch.manual_seed(8)
    ours = MultiHeadAttention(E, 2, rotary=rotary).eval()  # 2 heads: an even width per head for rotary
    x, memory = randn(B, T, E, seed=14), randn(B, T, E, seed=15)
    with torch.no_grad():
        full, _ = ours(x, memory, memory, is_causal=True)
        cache = KVCache(static=True)
        steps = [ours(x[:, :1], memory, memory, is_causal=True, cache=cache)[0]]
        steps += [ours(x[:, t:t + 1], None, None, is_causal=True, cache=cache)[0] for t in range(1, T)]
    assert cache.queries == T
    close(torch.cat(steps, dim=1), full, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Helpers and errors
# ---------------------------------------------------------------------------------------------

def test_mask_helpers():
    assert torch.equal(causal_mask(3), torch.tensor([[True, False, False], [True, True, False], [True, True, True]]))
    assert torch.equal(padding_mask(torch.tensor([2, 3]), 4), torch.tensor([[True, True, False, False],
                                                                           [True, True, True, False]]))
    assert torch.equal(masked_softmax(torch.zeros(2, 4), torch.tensor([True, True, False, False])),
                       torch.tensor([[0.5, 0.5, 0.0, 0.0]] * 2))
    assert set(attention.__all__) <= set(dir(attention))


def mha(**config):
    return MultiHeadAttention(E, HEADS, **config)


X = torch.zeros(B, T, E)


@pytest.mark.parametrize("call, error, match", [
    (lambda: MultiHeadAttention(10, 4), ValueError, "embed_dim=10 must be divisible by num_heads=4"),
    (lambda: MultiHeadAttention(12, 4, rotary=True), ValueError, "rotary=True needs an even number of features per head"),
    (lambda: MultiHeadAttention(E, 0), ValueError, "num_heads must be at least 1, got 0"),
    (lambda: mha(dropout=2), ValueError, "dropout must be a probability between 0 and 1, got 2"),
    (lambda: mha()(torch.zeros(B, T, 8), X, X), ValueError,
     r"query must have embed_dim=12 features in its last dimension, got 8 \(query has shape \(2, 6, 8\)\)"),
    (lambda: mha()(X, X, torch.zeros(B, T, 5)), ValueError, "value must have embed_dim=12 features .* got 5"),
    (lambda: mha()(torch.zeros(T, E), X, X), ValueError,
     r"query must have 3 dimensions \(batch, time, embed_dim\) with batch_first=True, got shape \(6, 12\)"),
    (lambda: mha()(X, torch.zeros(B, 5, E), X), ValueError,
     "key and value must have the same number of positions, got 5 and 6"),
    (lambda: mha()(X, torch.zeros(3, T, E), torch.zeros(3, T, E)), ValueError,
     "query, key and value must hold the same number of sequences, got 2, 3 and 3"),
    (lambda: mha()(X, X, X, key_mask=torch.ones(B, 5, dtype=torch.bool)), ValueError,
     r"key_mask must have shape \(batch, keys\) = \(2, 6\), got \(2, 5\)"),
    (lambda: mha()(X, X, X, key_mask=torch.ones(B, T, dtype=torch.long)), TypeError,
     r"key_mask must be a bool tensor \(True = a real key, may be attended\) or a float tensor .* got dtype torch.int64"),
    (lambda: mha()(X, X, X, mask=torch.ones(T, 5, dtype=torch.bool)), ValueError,
     r"mask must have shape \(Tq, Tk\) = \(6, 6\), \(batch \* heads, Tq, Tk\) = \(8, 6, 6\) or broadcast "
     r"to \(batch, heads, Tq, Tk\) = \(2, 4, 6, 6\), got \(6, 5\)"),
    (lambda: mha()(X, X, X, mask=torch.zeros(B, T, T)), ValueError, r"got \(2, 6, 6\)"),
    (lambda: mha()(X, X, X, mask=torch.ones(T, T, dtype=torch.int32)), TypeError,
     r"mask must be a bool tensor \(True = may attend\) or a float tensor .* got dtype torch.int32"),
    # PyTorch's names, whose bool masks mean the opposite, are refused with the conversion to make
    (lambda: mha()(X, X, X, key_padding_mask=torch.zeros(B, T, dtype=torch.bool)), TypeError,
     r"MultiHeadAttention.forward takes key_mask, not PyTorch's key_padding_mask: .* Pass key_mask=~key_padding_mask"),
    (lambda: mha()(X, X, X, attn_mask=torch.zeros(T, T, dtype=torch.bool)), TypeError,
     r"takes mask, not PyTorch's attn_mask: .* Pass mask=~attn_mask for a bool mask"),
    (lambda: mha()(X, X, X, need_weight=False), TypeError,
     r"MultiHeadAttention.forward got an unexpected keyword argument 'need_weight'"),
    (lambda: from_torch_masks(key_mask=torch.ones(B, T, dtype=torch.bool)), ValueError,
     r"from_torch_masks takes PyTorch's mask names .* got 'key_mask'"),
    (lambda: mha()(X, X, X, cache={}), TypeError, "cache must be a seqlib.attention.KVCache or None, got dict"),
    (lambda: mha()(X, None, None), ValueError, "key is needed unless a static cache already holds"),
    (lambda: MultiHeadAttention.from_torch(nn.MultiheadAttention(E, HEADS, kdim=5, vdim=5)), ValueError,
     "needs kdim = vdim = embed_dim = 12, got kdim=5, vdim=5"),
    (lambda: MultiHeadAttention.from_torch(nn.MultiheadAttention(E, HEADS, add_bias_kv=True)), ValueError,
     "does not support add_bias_kv or add_zero_attn"),
    (lambda: MultiHeadAttention.from_torch(nn.Linear(E, E)), TypeError,
     "MultiHeadAttention.from_torch expects a torch.nn.MultiheadAttention, got torch.nn.modules.linear.Linear"),
    (lambda: scaled_dot_product_attention(*qkv(), mask=torch.ones(TQ, 3, dtype=torch.bool)), ValueError,
     r"mask must broadcast to the shape of the scores \(..., Tq, Tk\) = \(2, 3, 5, 7\), got shape \(5, 3\)"),
    (lambda: scaled_dot_product_attention(*qkv(), mask=torch.ones(TQ, TK, dtype=torch.long)), TypeError,
     r"mask must be a bool tensor \(True = may attend\) or a float tensor .* got dtype torch.int64"),
    (lambda: scaled_dot_product_attention(randn(2, 5, 4), randn(2, 7, 3), randn(2, 7, 6)), ValueError,
     "k must have the same last dimension d_k as q: expected 4, got 3"),
    (lambda: scaled_dot_product_attention(randn(2, 5, 4), randn(2, 7, 4), randn(2, 6, 6)), ValueError,
     "v must have one row per key: expected Tk=7 positions, got 6"),
    (lambda: scaled_dot_product_attention(randn(4), randn(7, 4), randn(7, 6)), ValueError,
     r"q must have at least 2 dimensions \(..., positions, features\), got shape \(4,\)"),
    (lambda: scaled_dot_product_attention(*qkv(), dropout_p=1.5), ValueError,
     "dropout_p must be a probability between 0 and 1, got 1.5"),
    (lambda: masked_softmax(torch.zeros(2, 4), torch.ones(3, dtype=torch.bool)), ValueError,
     r"mask must broadcast .* = \(2, 4\), got shape \(3,\)"),
    (lambda: AdditiveAttention(DQ, DKEY, 8)(randn(B, TQ, 3), randn(B, TK, DKEY), randn(B, TK, DV)), ValueError,
     "query must have query_size=5 features in its last dimension, got 3"),
    (lambda: AdditiveAttention(DQ, DKEY, 8)(randn(B, DQ), randn(B, TK, 3), randn(B, TK, DV)), ValueError,
     "keys must have key_size=4 features in its last dimension, got 3"),
    (lambda: AdditiveAttention(DQ, DKEY, 8)(randn(B, DQ), randn(B, TK, DKEY), randn(B, 3, DV)), ValueError,
     r"values must have one row per key, shape \(batch, keys, ...\) = \(2, 7, 'Dv'\), got \(2, 3, 6\)"),
    (lambda: AdditiveAttention(DQ, DKEY, 8)(randn(3, DQ), randn(B, TK, DKEY), randn(B, TK, DV)), ValueError,
     "query and keys must hold the same number of sequences, got 3 and 2"),
    (lambda: MultiplicativeAttention(DQ, DKEY)(randn(B, DQ), randn(B, TK, DKEY), randn(B, TK, DV),
                                               mask=torch.ones(B, 3, dtype=torch.bool)), ValueError,
     r"mask must have shape \(batch, keys\) = \(2, 7\), got \(2, 3\)"),
    (lambda: MultiplicativeAttention(DQ, DKEY)(randn(B, DQ), randn(B, TK, DKEY), randn(B, TK, DV),
                                               mask=torch.ones(B, TK)), TypeError,
     r"mask must be a bool tensor \(True = real token\)"),
    (lambda: MultiplicativeAttention(DQ, DKEY, kind="dot"), ValueError,
     "kind='dot' needs queries and keys of the same size, got query_size=5 and key_size=4"),
    (lambda: MultiplicativeAttention(DQ, DKEY, kind="concat"), ValueError,
     "kind must be 'dot' or 'general', got 'concat'"),
    (lambda: AdditiveAttention(DQ, DKEY, 0), ValueError, "hidden_size must be at least 1, got 0"),
    (lambda: causal_mask(0), ValueError, "T must be at least 1, got 0"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_cache_for_another_batch_is_rejected():
    cache = KVCache()
    mha()(X, X, X, cache=cache)
    with pytest.raises(ValueError, match=r"new keys must have shape \(batch, heads, T_new, d_head\) = "
                                         r"\(2, 4, 'T_new', 3\) to follow the cached ones, got \(3, 4, 1, 3\)"):
        one = torch.zeros(3, 1, E)
        mha()(one, one, one, cache=cache)


def test_a_cache_rejects_values_that_do_not_match_the_keys():
    cache = KVCache()
    with pytest.raises(ValueError, match="keys and values must hold the same sequences, heads and positions"):
        cache.append(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 5, 4))
    cache.append(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4))
    cache.queries = 3
    cache.reset()
    assert cache.length == 0 and cache.queries == 0


def test_causal_mask_with_keys_and_an_offset_is_the_block_of_the_full_mask():
    full = causal_mask(10)
    for start, size in ((0, 4), (4, 4), (8, 2)):
        assert torch.equal(causal_mask(size, 10, offset=start), full[start:start + size])
    assert torch.equal(causal_mask(2, 5, offset=3), torch.tensor([[True] * 4 + [False], [True] * 5]))
    with pytest.raises(ValueError, match="offset must be at least 0, got -1"):
        causal_mask(2, 5, offset=-1)
    with pytest.raises(TypeError, match="Tk must be an int"):
        causal_mask(2, 2.0)
