"""seqlib.transformer against PyTorch (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer and their stacks),
and the properties of the two models: causality, padding, and decoding with a cache."""
import pytest
import torch
from torch import nn

from seqlib import transformer
from seqlib.attention import KVCache, causal_mask, from_torch_masks, padding_mask
from seqlib.attention.masks import TORCH_MASK_NAMES
from seqlib.positions import sinusoidal_encoding
from seqlib.transformer import (Decoder, DecoderLayer, DecoderOnlyLM, Encoder, EncoderLayer, FeedForward, Transformer,
                                TransformerCache)

B, S, T = 2, 7, 5  # batch, source (or encoder input) length, target length
E, HEADS, FF = 12, 4, 24  # d_model, nhead (d_head = 3), dim_feedforward
SRC_LENGTHS, TGT_LENGTHS = [7, 4], [5, 3]
V, V_SRC = 50, 40  # vocabulary sizes of the models
ATOL = 1e-5


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def tokens(*shape, vocab=V, seed=0):
    """Random token ids in 1..vocab-1 (0 is padding)."""
    return torch.randint(1, vocab, shape, generator=torch.Generator().manual_seed(seed))


def close(a, b, atol=ATOL):
    assert a.shape == b.shape, f"shape {tuple(a.shape)} != {tuple(b.shape)}"
    torch.testing.assert_close(a, b, atol=atol, rtol=0)


def ignore(lengths, length):
    """PyTorch's key padding mask (B, length): True at padding."""
    return ~padding_mask(torch.tensor(lengths), length)


# ---------------------------------------------------------------------------------------------
# Layers against nn.TransformerEncoderLayer and nn.TransformerDecoderLayer
# ---------------------------------------------------------------------------------------------

CONFIGS = [pytest.param(norm_first, activation, id=f"{'pre' if norm_first else 'post'}-{activation}")
           for norm_first in (False, True) for activation in ("relu", "gelu")]


def make_layer(kind, norm_first, activation, seed=0, **config):
    torch.manual_seed(seed)
    torch_class, ours = (nn.TransformerEncoderLayer, EncoderLayer) if kind == "encoder" else \
        (nn.TransformerDecoderLayer, DecoderLayer)
    theirs = torch_class(E, HEADS, FF, activation=activation, norm_first=norm_first,
                         **{"batch_first": True, "dropout": 0.1, **config}).eval()
    with torch.no_grad():  # non-trivial LayerNorm parameters, so that copying them matters
        for name, p in theirs.named_parameters():
            if name.startswith("norm"):
                p.add_(0.3 * randn(*p.shape, seed=len(name)))
    return theirs, ours.from_torch(theirs)


def seqlib_args(args):
    """Keyword arguments written for a PyTorch layer -> those of seqlib's: masks renamed and negated."""
    masks = {name: value for name, value in args.items() if name in TORCH_MASK_NAMES}
    return {**{name: value for name, value in args.items() if name not in masks}, **from_torch_masks(**masks)}


ENCODER_MASKS = {
    "no_mask": dict(),
    "key_padding": dict(src_key_padding_mask=ignore(SRC_LENGTHS, S)),
    "causal": dict(src_mask=~causal_mask(S), is_causal=True),
    "causal_and_padding": dict(src_mask=~causal_mask(S), src_key_padding_mask=ignore(SRC_LENGTHS, S)),
    "float_mask": dict(src_mask=randn(S, S, seed=5)),
}


@pytest.mark.parametrize("norm_first, activation", CONFIGS)
@pytest.mark.parametrize("case", ENCODER_MASKS)
def test_encoder_layer_matches_pytorch(norm_first, activation, case):
    theirs, ours = make_layer("encoder", norm_first, activation)
    assert not ours.training and ours.norm_first == norm_first and ours.feed_forward.activation == activation
    x = randn(B, S, E, seed=1)
    with torch.no_grad():  # PyTorch's fused fast path (eval, no gradients)
        fast = theirs(x, **ENCODER_MASKS[case])
        got = ours(x, **seqlib_args(ENCODER_MASKS[case]))
    slow = theirs(x, **ENCODER_MASKS[case])  # its step-by-step path (gradients needed)
    close(got, slow)
    if case != "float_mask":  # PyTorch 2.13's fused path returns NaN for a float src_mask
        close(got, fast)


DECODER_MASKS = {
    "no_mask": dict(),
    "causal": dict(tgt_mask=~causal_mask(T), tgt_is_causal=True),
    "memory_padding": dict(memory_key_padding_mask=ignore(SRC_LENGTHS, S)),
    "every_mask": dict(tgt_mask=~causal_mask(T), tgt_is_causal=True, tgt_key_padding_mask=ignore(TGT_LENGTHS, T),
                       memory_key_padding_mask=ignore(SRC_LENGTHS, S)),
    "float_masks": dict(tgt_mask=randn(T, T, seed=6), memory_mask=randn(T, S, seed=7)),
}


@pytest.mark.parametrize("norm_first, activation", CONFIGS)
@pytest.mark.parametrize("case", DECODER_MASKS)
def test_decoder_layer_matches_pytorch(norm_first, activation, case):
    theirs, ours = make_layer("decoder", norm_first, activation)
    tgt, memory = randn(B, T, E, seed=2), randn(B, S, E, seed=3)
    with torch.no_grad():
        want = theirs(tgt, memory, **DECODER_MASKS[case])
        got = ours(tgt, memory, **seqlib_args(DECODER_MASKS[case]))
    close(got, want)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post", "pre"])
def test_layer_gradients_and_batch_second_layout_match_pytorch(kind, norm_first):
    theirs, ours = make_layer(kind, norm_first, "gelu", seed=1, batch_first=False, dropout=0.0)
    theirs.train(), ours.train()  # dropout is 0: training mode changes nothing but must work
    assert not ours.batch_first and ours.training
    x_ours, x_theirs = randn(S, B, E, seed=4).requires_grad_(), randn(S, B, E, seed=4).requires_grad_()  # (S, B, E)
    memory = randn(S - 2, B, E, seed=5)
    args = (dict(src_key_padding_mask=ignore(SRC_LENGTHS, S)) if kind == "encoder" else
            dict(memory=memory, tgt_mask=~causal_mask(S), tgt_key_padding_mask=ignore(SRC_LENGTHS, S)))
    got, want = ours(x_ours, **seqlib_args(args)), theirs(x_theirs, **args)
    close(got, want)
    w = randn(S, B, E, seed=6)
    (w * got).sum().backward()
    (w * want).sum().backward()
    close(x_ours.grad, x_theirs.grad)
    close(ours.feed_forward.W_1.weight.grad, theirs.linear1.weight.grad)
    close(ours.norm1.weight.grad, theirs.norm1.weight.grad)
    close(ours.self_attn.W_q.weight.grad, theirs.self_attn.in_proj_weight.grad.chunk(3)[0])


def test_from_torch_copies_the_configuration():
    torch.manual_seed(0)
    theirs = nn.TransformerDecoderLayer(E, HEADS, FF, dropout=0.25, activation=nn.GELU(), layer_norm_eps=1e-3,
                                        norm_first=True, bias=False)  # batch_first=False: PyTorch's default
    ours = DecoderLayer.from_torch(theirs)
    assert ours.training and not ours.batch_first and ours.norm_first and ours.norm3.eps == 1e-3
    assert ours.feed_forward.activation == "gelu" and ours.feed_forward.dropout.p == 0.25
    assert ours.self_attn.dropout == 0.25 and ours.dropout3.p == 0.25 and ours.cross_attn.W_q.bias is None
    assert ours.norm1.bias is None and ours.feed_forward.W_2.bias is None
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    double = EncoderLayer.from_torch(nn.TransformerEncoderLayer(E, HEADS, FF).double())
    assert double.feed_forward.W_1.weight.dtype == torch.float64 and double.norm2.weight.dtype == torch.float64
    fresh = EncoderLayer(E, HEADS)
    assert fresh.batch_first and not fresh.norm_first and fresh.feed_forward.d_ff == 2048


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors is in prototype stage")
@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True, but self.use_nested_tensor is False")
@pytest.mark.parametrize("norm_first", [False, True], ids=["post", "pre"])
def test_stacks_match_nn_transformer_encoder_and_decoder(norm_first):
    torch.manual_seed(2)
    layer = nn.TransformerEncoderLayer(E, HEADS, FF, norm_first=norm_first, batch_first=True)
    their_encoder = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(E), enable_nested_tensor=False).eval()
    nested = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(E)).eval()  # nested tensors when it can
    nested.load_state_dict(their_encoder.state_dict())
    dec_layer = nn.TransformerDecoderLayer(E, HEADS, FF, norm_first=norm_first, batch_first=True)
    their_decoder = nn.TransformerDecoder(dec_layer, 2, norm=nn.LayerNorm(E)).eval()
    with torch.no_grad():  # distinct layers: each copy gets its own weights
        for p in list(their_encoder.parameters()) + list(their_decoder.parameters()):
            p.add_(0.1 * torch.randn(p.shape))
    nested.load_state_dict(their_encoder.state_dict())
    encoder, decoder = Encoder.from_torch(their_encoder), Decoder.from_torch(their_decoder)
    assert len(encoder.layers) == 3 and len(decoder.layers) == 2 and encoder.norm is not None
    src, tgt = randn(B, S, E, seed=7), randn(B, T, E, seed=8)
    kpm, real = ignore(SRC_LENGTHS, S), padding_mask(torch.tensor(SRC_LENGTHS), S)
    with torch.no_grad():
        memory = encoder(src, key_mask=real)
        close(memory, their_encoder(src, src_key_padding_mask=kpm))
        close(memory[real], nested(src, src_key_padding_mask=kpm)[real])  # nested tensors zero the padding
        got = decoder(tgt, memory, self_mask=causal_mask(T), tgt_is_causal=True, memory_key_mask=real)
        want = their_decoder(tgt, memory, tgt_mask=~causal_mask(T), tgt_is_causal=True, memory_key_padding_mask=kpm)
    close(got, want)
    assert Encoder(2, E, HEADS, norm_first=True).norm is not None and Encoder(2, E, HEADS).norm is None
    assert Decoder(2, E, HEADS, final_norm=True).norm is not None
    assert Encoder.from_torch(nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)).norm is None


def test_rotary_layers_rotate_self_attention_only():
    lm = make_lm("rotary")
    assert all(layer.self_attn.rotary is not None for layer in lm.layers)
    assert isinstance(lm.embedding.positions, nn.Module) and not list(lm.embedding.positions.parameters())
    x = tokens(B, 6, seed=21)
    close(lm.embedding(x), lm.embedding.table.weight[x] * 4)  # nothing is added to the embeddings
    model = make_transformer("rotary")
    for layer in model.decoder.layers:
        assert layer.self_attn.rotary is not None and layer.cross_attn.rotary is None
    assert make_lm("learned").layers[0].self_attn.rotary is None


def test_alibi_layers_bias_self_attention_only_and_add_nothing_to_the_embeddings():
    lm = make_lm("alibi")
    assert all(layer.self_attn.alibi is not None and layer.self_attn.rotary is None for layer in lm.layers)
    x = tokens(B, 6, seed=22)
    close(lm.embedding(x), lm.embedding.table.weight[x] * 4)  # nothing is added to the embeddings
    assert sum(p.numel() for p in lm.parameters()) == sum(p.numel() for p in make_lm("none").parameters())
    assert lm.state_dict().keys() == make_lm("none").state_dict().keys()  # no buffers either
    model = make_transformer("alibi")
    for layer in model.encoder.layers:
        assert layer.self_attn.alibi is not None
    for layer in model.decoder.layers:
        assert layer.self_attn.alibi is not None and layer.cross_attn.alibi is None
    assert make_lm("rotary").layers[0].self_attn.alibi is None


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre", "post"])
def test_attention_weights_are_each_layers_causal_softmax(norm_first):
    lm = make_lm("rotary", norm_first=norm_first, seed=6)
    x = tokens(B, 7, seed=22)
    w = lm.attention_weights(x)
    assert w.shape == (2, B, 4, 7, 7)
    close(w.sum(-1), torch.ones(2, B, 4, 7))
    assert (w.triu(1) == 0).all()  # causal: no weight on later positions
    with torch.no_grad():  # layer 0 by hand: softmax(q k^T / sqrt(d_head)) of the rotated projections
        h = lm.embedding(x)
        mha = lm.layers[0].self_attn
        a = lm.layers[0].norm1(h) if norm_first else h
        q, k = (mha.rotary(mha._split_heads(W(a))) for W in (mha.W_q, mha.W_k))  # (B, h, T, d_head)
        scores = (q @ k.transpose(-2, -1) / 2).masked_fill(~causal_mask(7), float("-inf"))  # d_head = 4
        close(w[0], torch.softmax(scores, dim=-1))
        close(w[1], lm.layers[1].self_attn(*[lm.layers[1].norm1(lm.layers[0](h, is_causal=True))
                                                    if norm_first else lm.layers[0](h, is_causal=True)] * 3,
                                                  is_causal=True, average_attn_weights=False)[1])


def test_feed_forward_is_the_papers_equation_position_by_position():
    ff = FeedForward(E, FF, dropout=0.5, activation="relu").eval()
    x = randn(B, S, E, seed=9)
    want = torch.relu(x @ ff.W_1.weight.T + ff.W_1.bias) @ ff.W_2.weight.T + ff.W_2.bias
    close(ff(x), want)
    close(ff(x[:, 3]), want[:, 3])  # any leading shape: positions are independent
    ff.train()
    torch.manual_seed(0)
    assert not torch.allclose(ff(x), want)  # dropout acts in training


# ---------------------------------------------------------------------------------------------
# The models: embeddings, causality and padding
# ---------------------------------------------------------------------------------------------

def make_lm(positions="learned", norm_first=True, seed=0, **config):
    torch.manual_seed(seed)
    return DecoderOnlyLM(V, d_model=16, nhead=4, num_layers=2, dim_feedforward=32, norm_first=norm_first,
                         positions=positions, **{"max_len": 32, **config}).eval()


def make_transformer(positions="sinusoidal", norm_first=False, seed=0):
    torch.manual_seed(seed)
    return Transformer(V_SRC, V, d_model=16, nhead=4, num_encoder_layers=2, num_decoder_layers=2,
                       dim_feedforward=32, norm_first=norm_first, positions=positions, max_len=32).eval()


def test_embeddings_are_scaled_by_sqrt_d_model_and_add_the_positions():
    model = make_transformer(seed=7)
    src = tokens(B, S, vocab=V_SRC, seed=15)
    table = model.src_embedding.table.weight
    want = table[src] * 16 ** 0.5 + sinusoidal_encoding(S, 16)
    close(model.src_embedding(src), want)
    assert torch.equal(table[0], torch.zeros(16))  # the padding id embeds to zero
    close((table[1:] * 16 ** 0.5).var(), torch.tensor(1.0), atol=0.1)  # unit variance once scaled
    lm = make_lm(seed=7)
    x = tokens(B, 4, seed=16)
    close(lm.embedding(x, start=3), lm.embedding.table.weight[x] * 4 + lm.embedding.positions.table.weight[3:7])


@pytest.mark.parametrize("positions", ["learned", "rotary", "none"])
def test_future_tokens_never_change_earlier_logits_of_the_language_model(positions):
    lm = make_lm(positions)
    x = tokens(B, 9, seed=1)
    changed = x.clone()
    changed[:, 5:] = tokens(B, 4, seed=2)  # rewrite the future from position 5 on
    with torch.no_grad():
        before, after = lm(x), lm(changed)
    assert before.shape == (B, 9, V)
    close(after[:, :5], before[:, :5], atol=1e-6)
    assert not torch.allclose(after[:, 5:], before[:, 5:])
    padded = torch.cat([x, torch.zeros(B, 3, dtype=torch.long)], dim=1)  # padding at the end changes nothing
    with torch.no_grad():
        close(lm(padded)[:, :9], before, atol=1e-6)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post", "pre"])
def test_future_target_tokens_never_change_earlier_logits_of_the_transformer(norm_first):
    model = make_transformer(norm_first=norm_first)
    src, tgt = tokens(B, S, vocab=V_SRC, seed=3), tokens(B, T, seed=4)
    changed = tgt.clone()
    changed[:, 3:] = tokens(B, T - 3, seed=5)
    lengths = torch.tensor(SRC_LENGTHS)
    with torch.no_grad():
        before, after = model(src, lengths, tgt), model(src, lengths, changed)
    assert before.shape == (B, T, V)
    close(after[:, :3], before[:, :3], atol=1e-6)
    assert not torch.allclose(after[:, 3:], before[:, 3:])


def test_padded_source_positions_never_change_the_decoders_outputs():
    model = make_transformer(seed=1)
    lengths = torch.tensor(SRC_LENGTHS)
    real = padding_mask(lengths, S)
    src = torch.where(real, tokens(B, S, vocab=V_SRC, seed=6), 0)
    garbage = torch.where(real, src, tokens(B, S, vocab=V_SRC, seed=7))  # other tokens in every padded position
    tgt = tokens(B, T, seed=8)
    with torch.no_grad():
        clean = model(src, lengths, tgt)
        close(model(garbage, lengths, tgt), clean, atol=1e-6)
        for b, n in enumerate(SRC_LENGTHS):  # and each source alone, unpadded, gives the same
            close(model(src[b:b + 1, :n], None, tgt[b:b + 1]), clean[b:b + 1], atol=1e-6)
        assert not torch.allclose(model(garbage, None, tgt), clean, atol=1e-4)  # without the lengths they leak in
        tgt_lengths = torch.tensor(TGT_LENGTHS)  # padded targets: the real positions keep their logits
        padded_tgt = torch.where(padding_mask(tgt_lengths, T), tgt, 0)
        with_padding = model(src, lengths, padded_tgt, tgt_lengths)
        for b, n in enumerate(TGT_LENGTHS):
            close(with_padding[b, :n], clean[b, :n], atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Decoding with a cache equals recomputing the whole prefix
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("positions", ["learned", "sinusoidal", "rotary", "none"])
@pytest.mark.parametrize("norm_first", [True, False], ids=["pre", "post"])
def test_incremental_logits_of_the_language_model_match_the_full_forward(positions, norm_first):
    lm = make_lm(positions, norm_first, seed=3)
    x = tokens(B, 10, seed=9)
    with torch.no_grad():
        full = lm(x)
        cache = TransformerCache(2)
        steps = [lm(x[:, :4], cache=cache)]  # the prompt at once, then one token at a time
        for t in range(4, 10):
            steps.append(lm(x[:, t:t + 1], cache=cache))
            assert cache.length == t + 1
    close(torch.cat(steps, dim=1), full)
    cache.reset()
    assert cache.length == 0 and "length=0" in repr(cache)


@pytest.mark.parametrize("positions", ["learned", "sinusoidal", "rotary", "none"])
def test_generation_with_the_cache_equals_recomputing_the_prefix(positions):
    lm = make_lm(positions, seed=4)
    prompt = tokens(B, 3, seed=10)
    cached = lm.generate(prompt, 12, greedy=True)
    recomputed = lm.generate(prompt, 12, greedy=True, use_cache=False)
    assert cached.shape == (B, 15) and torch.equal(cached[:, :3], prompt)
    assert torch.equal(cached, recomputed)
    with torch.no_grad():  # greedy: each new token is the arg-max of the full forward's logits
        assert torch.equal(lm(cached[:, :-1])[:, 2:].argmax(-1), cached[:, 3:])
    sampled = [lm.generate(prompt, 12, temperature=1.5, generator=torch.Generator().manual_seed(7), use_cache=c)
               for c in (True, False)]
    assert torch.equal(sampled[0], sampled[1])
    assert not torch.equal(sampled[0], cached)  # sampling does not just repeat the greedy choice
    other = lm.generate(prompt, 12, temperature=1.5, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(other, sampled[0])  # the seed matters


@pytest.mark.parametrize("positions", ["learned", "sinusoidal", "rotary", "none"])
@pytest.mark.parametrize("norm_first", [False, True], ids=["post", "pre"])
def test_greedy_decode_with_the_cache_equals_recomputing_the_prefix(positions, norm_first):
    model = make_transformer(positions, norm_first, seed=5)
    lengths = torch.tensor(SRC_LENGTHS)
    src = torch.where(padding_mask(lengths, S), tokens(B, S, vocab=V_SRC, seed=11), 0)
    cached = model.greedy_decode(src, lengths, bos_id=1, eos_id=2, max_len=10)
    recomputed = model.greedy_decode(src, lengths, bos_id=1, eos_id=2, max_len=10, use_cache=False)
    assert cached.shape == (B, 10) and torch.equal(cached, recomputed)
    tgt_in = torch.cat([torch.ones(B, 1, dtype=torch.long), cached[:, :-1]], dim=1)  # BOS, then the tokens
    with torch.no_grad():
        memory = model.encode(src, lengths)
        full = model.decode(tgt_in, memory, lengths)
        cache = TransformerCache(2, cross_attention=True)
        steps = [model.decode(tgt_in[:, t:t + 1], memory, lengths, cache=cache) for t in range(10)]
    close(torch.cat(steps, dim=1), full)
    assert torch.equal(full.argmax(-1), cached)


@pytest.mark.parametrize("use_cache", [True, False], ids=["cached", "recomputed"])
def test_greedy_decode_stops_when_every_sequence_has_ended_and_pads_after_eos(use_cache, monkeypatch):
    model = make_transformer(seed=6)
    eos = 2
    script = torch.tensor([[5, eos, 9, 9, 9], [6, 6, 6, eos, 9]])  # the arg-max of each row at each step
    fed = []  # how many tokens each call of the decoder gets

    def scripted_decode(tgt_in, memory, src_lengths=None, tgt_lengths=None, cache=None):
        step = len(fed)
        fed.append(tgt_in.shape[1])
        logits = torch.zeros(B, tgt_in.shape[1], V)
        logits[torch.arange(B), -1, script[:, step]] = 1.0
        return logits

    monkeypatch.setattr(model, "decode", scripted_decode)
    out = model.greedy_decode(tokens(B, S, vocab=V_SRC), None, bos_id=1, eos_id=eos, max_len=10, use_cache=use_cache)
    assert torch.equal(out, torch.tensor([[5, eos, 0, 0], [6, 6, 6, eos]]))  # padding after EOS, then stop
    assert fed == ([1, 1, 1, 1] if use_cache else [1, 2, 3, 4])  # the cache feeds the newest token only


def test_greedy_decode_without_eos_runs_to_max_len():
    model = make_transformer(seed=6)
    with torch.no_grad():
        model.W_out.bias[3] = 100.0  # token 3 always wins
    out = model.greedy_decode(tokens(B, S, vocab=V_SRC), None, bos_id=1, eos_id=2, max_len=6)
    assert torch.equal(out, torch.full((B, 6), 3))


def test_a_static_memory_cache_lets_the_decoder_layer_skip_the_memory():
    _, layer = make_layer("decoder", True, "relu", seed=3)
    tgt, memory = randn(B, T, E, seed=13), randn(B, S, E, seed=14)
    real = ~ignore(SRC_LENGTHS, S)
    with torch.no_grad():
        full = layer(tgt, memory, tgt_is_causal=True, memory_key_mask=real)
        cache, memory_cache = KVCache(), KVCache(static=True)
        steps = [layer(tgt[:, :1], memory, tgt_is_causal=True, memory_key_mask=real, cache=cache,
                       memory_cache=memory_cache)]
        steps += [layer(tgt[:, t:t + 1], None, tgt_is_causal=True, memory_key_mask=real, cache=cache,
                        memory_cache=memory_cache) for t in range(1, T)]
    close(torch.cat(steps, dim=1), full)
    assert memory_cache.length == S and cache.length == T


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------

X = torch.zeros(B, S, E)
Y = torch.zeros(B, T, E)


def enc():
    return EncoderLayer(E, HEADS, FF)


def dec():
    return DecoderLayer(E, HEADS, FF)


@pytest.mark.parametrize("call, error, match", [
    (lambda: EncoderLayer(10, 4), ValueError, "d_model=10 must be divisible by nhead=4"),
    (lambda: Transformer(V_SRC, V, d_model=10, nhead=4), ValueError, "d_model=10 must be divisible by nhead=4"),
    (lambda: DecoderOnlyLM(V, d_model=16, nhead=3), ValueError, "d_model=16 must be divisible by nhead=3"),
    (lambda: make_lm(max_len=8)(tokens(B, 9)), ValueError,
     r"sequence of length 9 is longer than the learned position table \(max_len=8\)"),
    (lambda: make_lm(max_len=8).generate(tokens(B, 3), 7), ValueError,
     r"a prompt of length 3 and max_new_tokens=7 needs a sequence of length 9, longer than the learned position "
     r"table \(max_len=8\)"),
    (lambda: make_transformer("learned").greedy_decode(tokens(B, S, vocab=V_SRC), None, 1, 2, max_len=40),
     ValueError, r"greedy_decode with max_len=40 needs a sequence of length 40, .* \(max_len=32\)"),
    (lambda: make_lm()(torch.tensor([[1, 57, 3]])), ValueError,
     r"x must hold token ids in \[0, 50\) \(vocab_size=50\), got the token id 57 at x\[0, 1\]"),
    (lambda: make_transformer()(torch.tensor([[1, 2, -1]]), None, tokens(1, 3)), ValueError,
     r"src must hold token ids in \[0, 40\) \(src_vocab_size=40\), got the token id -1 at src\[0, 2\]"),
    (lambda: make_transformer()(tokens(1, 3, vocab=V_SRC), None, torch.tensor([[1, 50]])), ValueError,
     r"tgt_in must hold token ids in \[0, 50\) \(tgt_vocab_size=50\), got the token id 50 at tgt_in\[0, 1\]"),
    (lambda: make_lm()(torch.zeros(B, 3)), TypeError, "x must hold integers"),
    (lambda: make_lm()(torch.zeros(B, 0, dtype=torch.long)), ValueError, "x must hold at least one token"),
    (lambda: enc()(X, key_mask=torch.ones(B, S - 1, dtype=torch.bool)), ValueError,
     r"key_mask must have shape \(batch, keys\) = \(2, 7\), got \(2, 6\)"),
    (lambda: enc()(X, mask=torch.ones(S, S - 1, dtype=torch.bool)), ValueError,
     r"mask must have shape \(S, S\) = \(7, 7\), \(batch \* heads, S, S\) = \(8, 7, 7\) or broadcast to "
     r"\(batch, heads, S, S\) = \(2, 4, 7, 7\), got \(7, 6\)"),
    (lambda: enc()(X, mask=torch.ones(S, S, dtype=torch.long)), TypeError,
     r"mask must be a bool tensor \(True = may attend\) or a float tensor .* got dtype torch.int64"),
    (lambda: dec()(Y, X, self_mask=torch.ones(S, S, dtype=torch.bool)), ValueError,
     r"self_mask must have shape \(T, T\) = \(5, 5\), \(batch \* heads, T, T\) = \(8, 5, 5\) .* got \(7, 7\)"),
    (lambda: dec()(Y, X, cross_mask=torch.zeros(T, T)), ValueError,
     r"cross_mask must have shape \(T, S\) = \(5, 7\), \(batch \* heads, T, S\) = \(8, 5, 7\) .* got \(5, 5\)"),
    (lambda: dec()(Y, X, memory_key_mask=torch.ones(B, T, dtype=torch.bool)), ValueError,
     r"memory_key_mask must have shape \(batch, keys\) = \(2, 7\), got \(2, 5\)"),
    (lambda: dec()(Y, X, tgt_key_mask=torch.ones(B, T, dtype=torch.int32)), TypeError,
     r"tgt_key_mask must be a bool tensor \(True = a real key, may be attended\)"),
    (lambda: dec()(Y[:, :1], X, self_mask=torch.ones(1, 1, dtype=torch.bool), cache=_filled(3)), ValueError,
     r"self_mask must have shape \(T, T_past \+ T\) = \(1, 4\), .* got \(1, 1\)"),
    # PyTorch's names, whose bool masks mean the opposite, are refused with the conversion to make
    (lambda: enc()(X, src_key_padding_mask=torch.zeros(B, S, dtype=torch.bool)), TypeError,
     r"EncoderLayer.forward takes key_mask, not PyTorch's src_key_padding_mask: .* Pass key_mask=~src_key_padding_mask"),
    (lambda: dec()(Y, X, tgt_mask=torch.zeros(T, T, dtype=torch.bool)), TypeError,
     r"DecoderLayer.forward takes self_mask, not PyTorch's tgt_mask"),
    (lambda: dec()(Y, X, memory_key_padding_mask=torch.zeros(B, S, dtype=torch.bool)), TypeError,
     r"takes memory_key_mask, not PyTorch's memory_key_padding_mask"),
    (lambda: Encoder(1, E, HEADS)(X, src_key_padding_mask=None), TypeError,
     r"Encoder.forward takes key_mask, not PyTorch's src_key_padding_mask"),
    (lambda: Decoder(1, E, HEADS)(Y, X, memory_mask=None), TypeError,
     r"Decoder.forward takes cross_mask, not PyTorch's memory_mask"),
    (lambda: dec()(Y, torch.zeros(3, S, E)), ValueError, "tgt and memory must hold the same number of sequences, "
                                                          "got 2 and 3"),
    (lambda: dec()(Y, None), ValueError, "memory is needed unless"),
    (lambda: enc()(torch.zeros(B, S, 8)), ValueError,
     r"src must have d_model=12 features in its last dimension, got 8 \(src has shape \(2, 7, 8\)\)"),
    (lambda: enc()(torch.zeros(S, E)), ValueError,
     r"src must have 3 dimensions \(batch, time, d_model\) with batch_first=True, got shape \(7, 12\)"),
    (lambda: enc()(X, cache={}), TypeError, "cache must be a seqlib.attention.KVCache or None, got dict"),
    (lambda: dec()(Y, X, memory_cache=KVCache()), ValueError,
     "memory_cache must be a KVCache with static=True, got static=False"),
    (lambda: Encoder(2, E, HEADS)(X, cache=TransformerCache(3)), ValueError,
     "cache must hold one cache per layer: expected 2 layers, got 3"),
    (lambda: Decoder(2, E, HEADS)(Y, X, cache=TransformerCache(2)), ValueError,
     r"a Decoder needs a TransformerCache\(num_layers, cross_attention=True\)"),
    (lambda: Encoder(2, E, HEADS)(X, cache=[KVCache(), KVCache()]), TypeError,
     "cache must be a seqlib.transformer.TransformerCache or None, got list"),
    (lambda: make_transformer()(tokens(B, S, vocab=V_SRC), torch.tensor([3]), tokens(B, T)), ValueError,
     "src_lengths must have one entry per sequence: expected 2, got 1"),
    (lambda: make_transformer()(tokens(B, S, vocab=V_SRC), torch.tensor([8, 3]), tokens(B, T)),
     ValueError, "src_lengths: a length of 8 exceeds the padded sequence length 7"),
    (lambda: make_transformer()(tokens(B, S, vocab=V_SRC), None, tokens(B, T), tgt_lengths=torch.tensor([5, 0])),
     ValueError, "tgt_lengths: every length must be at least 1, got 0 at index 1"),
    (lambda: make_transformer().decode(tokens(B, 1), torch.zeros(B, S, 16), tgt_lengths=torch.tensor([1, 1]),
                                       cache=TransformerCache(2, cross_attention=True)), ValueError,
     "tgt_lengths cannot be combined with a cache"),
    (lambda: make_lm(positions="absolute"), ValueError,
     r"positions must be one of \('sinusoidal', 'learned', 'rotary', 'alibi', 'none'\), got 'absolute'"),
    (lambda: DecoderOnlyLM(V, d_model=12, nhead=4, positions="rotary"), ValueError,
     "positions='rotary' needs an even number of features per head"),
    (lambda: DecoderOnlyLM(V, d_model=9, nhead=3, positions="sinusoidal"), ValueError,
     "positions='sinusoidal' needs an even d_model"),
    (lambda: FeedForward(E, FF, activation="tanh"), ValueError, "activation must be 'relu' or 'gelu', got 'tanh'"),
    (lambda: EncoderLayer(E, HEADS, dropout=2), ValueError, "dropout must be a probability between 0 and 1, got 2"),
    (lambda: Encoder(0, E, HEADS), ValueError, "num_layers must be at least 1, got 0"),
    (lambda: make_lm().generate(tokens(B, 3), 4, temperature=0), ValueError,
     "temperature must be a positive number, got 0"),
    (lambda: make_lm().generate(tokens(B, 3), 4, temperature=1e-300), ValueError,
     r"temperature=1e-300 is too small: logits / temperature overflow torch.float32"),
    (lambda: make_lm().generate(tokens(B, 3), 4, generator=0), TypeError, "generator must be a torch.Generator"),
    (lambda: make_transformer().greedy_decode(tokens(B, S, vocab=V_SRC), None, bos_id=50, eos_id=2), ValueError,
     "bos_id must be at most 49, got 50"),
    (lambda: EncoderLayer.from_torch(nn.TransformerDecoderLayer(E, HEADS)), TypeError,
     "EncoderLayer.from_torch expects a torch.nn.TransformerEncoderLayer, got "
     "torch.nn.modules.transformer.TransformerDecoderLayer"),
    (lambda: DecoderLayer.from_torch(nn.TransformerDecoderLayer(E, HEADS, activation=torch.tanh)), ValueError,
     "DecoderLayer.from_torch supports the activations relu and gelu"),
    (lambda: EncoderLayer.from_torch(nn.TransformerEncoderLayer(E, HEADS, activation=nn.GELU("tanh"))), ValueError,
     "supports the activations relu and gelu"),
    (lambda: Encoder.from_torch(nn.TransformerDecoder(nn.TransformerDecoderLayer(E, HEADS), 1)), TypeError,
     "Encoder.from_torch expects a torch.nn.TransformerEncoder"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _filled(n):
    """A self-attention cache of a DecoderLayer(E, HEADS) already holding n positions."""
    cache = KVCache()
    cache.append(torch.zeros(B, HEADS, n, E // HEADS), torch.zeros(B, HEADS, n, E // HEADS))
    return cache


def test_public_names():
    assert set(transformer.__all__) <= set(dir(transformer))
    # each is defined in one of the package's files (layers, stacks, models), not borrowed from elsewhere
    assert all(getattr(transformer, n).__module__ in {"seqlib.transformer.layers", "seqlib.transformer.stacks",
                                                      "seqlib.transformer.models"} for n in transformer.__all__)
