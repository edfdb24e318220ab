"""seqlib.positions: the sinusoidal encoding's formula and relative shifts, learned positions, rotary embeddings."""
import math

import pytest
import torch

from seqlib import positions
from seqlib.attention import MultiHeadAttention
from seqlib.positions import (ALiBi, LearnedPositions, RotaryPositions, SinusoidalPositions, alibi_slopes, apply_rotary,
                              sinusoidal_encoding)

B, T, D = 2, 10, 8


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_sinusoidal_encoding_follows_the_formula():
    pe = sinusoidal_encoding(T, D)
    assert pe.shape == (T, D) and pe.dtype == torch.float32
    for t in range(T):
        for i in range(D // 2):
            angle = t / 10000 ** (2 * i / D)
            assert math.isclose(pe[t, 2 * i], math.sin(angle), abs_tol=1e-6)
            assert math.isclose(pe[t, 2 * i + 1], math.cos(angle), abs_tol=1e-6)
    torch.testing.assert_close(sinusoidal_encoding(4, D, start=6), pe[6:])


def shift_matrix(k, d, base=10000.0):
    """M_k: block-diagonal, one 2x2 rotation per pair, by the angle k * omega_i."""
    M = torch.zeros(d, d, dtype=torch.float64)
    for i in range(d // 2):
        a = k / base ** (2 * i / d)
        M[2 * i:2 * i + 2, 2 * i:2 * i + 2] = torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]],
                                                           dtype=torch.float64)  # (sin, cos) at t -> at t + k
    return M


@pytest.mark.parametrize("k", [1, 3, 17])
def test_the_encoding_of_t_plus_k_is_a_fixed_rotation_of_the_encoding_of_t(k):
    n, d = 40, 16
    pe = sinusoidal_encoding(n + k, d).double()
    M = shift_matrix(k, d)
    torch.testing.assert_close(pe[:n] @ M.T, pe[k:], atol=1e-5, rtol=0)  # one matrix for every t
    assert torch.allclose(M @ M.T, torch.eye(d, dtype=torch.float64))  # a rotation
    assert not torch.allclose(pe[:n] @ shift_matrix(k + 1, d).T, pe[k:], atol=1e-3)  # that depends on k
    # the same M_k holds far from the start too
    later = sinusoidal_encoding(n + k, d, start=1000).double()
    torch.testing.assert_close(later[:n] @ M.T, later[k:], atol=1e-5, rtol=0)


def test_sinusoidal_positions_add_the_encoding_at_any_length():
    module = SinusoidalPositions(D, max_len=16)
    assert list(module.parameters()) == [] and "pe" not in module.state_dict()
    x = randn(B, T, D)
    torch.testing.assert_close(module(x), x + sinusoidal_encoding(T, D))
    torch.testing.assert_close(module(x, start=3), x + sinusoidal_encoding(T, D, start=3))
    long = randn(B, 40, D)  # past max_len: computed on the spot
    torch.testing.assert_close(module(long), long + sinusoidal_encoding(40, D))
    torch.testing.assert_close(module(x, start=12), x + sinusoidal_encoding(T + 12, D)[12:])


def test_learned_positions_add_a_row_of_their_table():
    module = LearnedPositions(D, max_len=64)
    x = randn(B, T, D)
    torch.testing.assert_close(module(x), x + module.table.weight[:T])
    torch.testing.assert_close(module(x, start=5), x + module.table.weight[5:5 + T])
    module(x).sum().backward()
    assert module.table.weight.grad[:T].abs().sum() > 0 and module.table.weight.grad[T:].abs().sum() == 0
    module(randn(B, 64, D))  # the longest sequence it can encode


def test_a_sequence_longer_than_the_learned_table_is_rejected():
    with pytest.raises(ValueError, match=r"sequence of length 70 is longer than the learned position table "
                                         r"\(max_len=64\)"):
        LearnedPositions(D, max_len=64)(torch.zeros(B, 70, D))
    with pytest.raises(ValueError, match=r"sequence of length 65 is longer .* \(max_len=64\)"):
        LearnedPositions(D, max_len=64)(torch.zeros(B, 5, D), start=60)


def test_rotary_rotates_each_pair_by_its_position():
    x = randn(B, T, D)
    y = apply_rotary(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))  # rotations keep the norm
    torch.testing.assert_close(y[:, 0], x[:, 0])  # position 0: no rotation
    t, i = 3, 1  # pair i of position t, written out
    a = t / 10000 ** (2 * i / D)
    x0, x1 = x[:, t, 2 * i], x[:, t, 2 * i + 1]
    torch.testing.assert_close(y[:, t, 2 * i], x0 * math.cos(a) - x1 * math.sin(a))
    torch.testing.assert_close(y[:, t, 2 * i + 1], x0 * math.sin(a) + x1 * math.cos(a))
    # the pairs are interleaved (2i, 2i+1), not split in halves (i, i + d/2)
    torch.testing.assert_close(apply_rotary(x, base=100.0)[:, 1, :2],
                               apply_rotary(x[..., :2], base=100.0)[:, 1])


@pytest.mark.parametrize("shift", [1, 7, 100])
def test_rotary_scores_depend_only_on_the_offset(shift):
    q, k = randn(T, D, seed=1), randn(T, D, seed=2)
    pos = torch.arange(T)
    scores = apply_rotary(q, pos) @ apply_rotary(k, pos).T  # (T, T): q_t . k_s at positions t, s
    shifted = apply_rotary(q, pos + shift) @ apply_rotary(k, pos + shift).T
    torch.testing.assert_close(shifted, scores, atol=1e-4, rtol=0)
    # whereas shifting only the keys changes them, and without rotation the scores ignore position
    assert not torch.allclose(apply_rotary(q, pos) @ apply_rotary(k, pos + shift).T, scores, atol=1e-3)
    same_vectors = apply_rotary(q[:1].expand(T, D), pos) @ apply_rotary(k[:1].expand(T, D), pos).T
    torch.testing.assert_close(same_vectors.diagonal(), (q[0] @ k[0]).expand(T))  # offset 0: the plain dot product
    for offset in range(-3, 4):  # the same query and key: the score is a function of the offset alone
        diag = same_vectors.diagonal(offset)
        torch.testing.assert_close(diag, diag[:1].expand_as(diag), atol=1e-5, rtol=0)


def test_rotary_positions_module_on_heads_and_with_a_start():
    x = randn(B, 3, T, D)  # (B, h, T, d_head)
    module = RotaryPositions(D)
    assert list(module.parameters()) == []
    torch.testing.assert_close(module(x), apply_rotary(x))
    torch.testing.assert_close(module(x[:, :, 4:], start=4), module(x)[:, :, 4:])  # decoding from position 4
    per_sequence = torch.stack([torch.arange(T), torch.arange(T) + 2])[:, None, :]  # (B, 1, T)
    torch.testing.assert_close(apply_rotary(x, per_sequence)[1], apply_rotary(x[1], torch.arange(T) + 2))


def test_alibi_slopes_are_the_papers():
    """Press et al. 2022, section 3: 8 heads get 1/2, 1/4, ..., 1/256; 16 heads the geometric
    sequence that starts at 2^-0.5 with that ratio; h heads in general start at 2^(-8/h)."""
    assert alibi_slopes(8) == [2.0 ** -i for i in range(1, 9)]
    assert alibi_slopes(16) == pytest.approx([2.0 ** (-0.5 * i) for i in range(1, 17)], rel=1e-12)
    assert alibi_slopes(1) == [2.0 ** -8]
    # other head counts (the paper's code): the largest power of 2 below, then every other slope of twice it
    assert alibi_slopes(6) == alibi_slopes(4) + alibi_slopes(8)[0::2][:2]
    assert alibi_slopes(12) == alibi_slopes(8) + alibi_slopes(16)[0::2][:4]
    assert len(set(alibi_slopes(12))) == 12


def test_alibi_lowers_each_score_by_its_slope_times_the_distance():
    bias = ALiBi(4)(3, 5, start=2, dtype=torch.float64)  # queries at positions 2, 3, 4; keys at 0..4
    assert bias.shape == (4, 3, 5)
    for h, m in enumerate(alibi_slopes(4)):
        for i in range(3):
            for s in range(5):
                assert bias[h, i, s].item() == -m * abs(2 + i - s)
    assert not list(ALiBi(4).parameters()) and not list(ALiBi(4).buffers())


@pytest.mark.parametrize("shift", [1, 7, 100])
def test_alibi_biases_depend_only_on_the_offset(shift):
    alibi = ALiBi(2)
    torch.testing.assert_close(alibi(4, 6, start=0)[:, :, :4], alibi(4, 6 + shift, start=shift)[:, :, shift:shift + 4],
                               rtol=0, atol=0)


@pytest.mark.parametrize("causal", [True, False])
def test_alibi_attention_equals_pytorchs_attention_with_the_bias_as_a_float_mask(causal):
    """MultiHeadAttention(alibi=True) against torch's scaled_dot_product_attention on the same
    projections with ALiBi's bias (and the causal mask) as attn_mask; outputs and gradients."""
    torch.manual_seed(3)
    B, T, E, h = 2, 7, 8, 2
    mha = MultiHeadAttention(E, h, alibi=True).double()
    x = torch.randn(B, T, E, dtype=torch.float64, requires_grad=True)
    ours, _ = mha(x, x, x, is_causal=causal)

    x2 = x.detach().clone().requires_grad_(True)
    split = lambda t: t.view(B, T, h, E // h).transpose(1, 2)  # (B, h, T, d_head)
    q, k, v = split(mha.W_q(x2)), split(mha.W_k(x2)), split(mha.W_v(x2))
    mask = ALiBi(h)(T, T, dtype=torch.float64)  # (h, T, T)
    if causal:
        mask = mask.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
    theirs = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    theirs = mha.W_o(theirs.transpose(1, 2).reshape(B, T, E))
    torch.testing.assert_close(ours, theirs)
    g = torch.randn_like(ours)
    (grad_ours,) = torch.autograd.grad(ours, x, g)
    (grad_theirs,) = torch.autograd.grad(theirs, x2, g)
    torch.testing.assert_close(grad_ours, grad_theirs)


def test_positions_break_the_permutation_symmetry_of_attention():
    torch.manual_seed(0)
    mha = MultiHeadAttention(D, 2).eval()
    x = randn(B, T, D)
    perm = torch.randperm(T, generator=torch.Generator().manual_seed(1))
    add = SinusoidalPositions(D)
    with torch.no_grad():
        out = mha(add(x), add(x), add(x))[0]
        out_p = mha(add(x[:, perm]), add(x[:, perm]), add(x[:, perm]))[0]
    assert not torch.allclose(out_p, out[:, perm], atol=1e-4)
    assert set(positions.__all__) <= set(dir(positions))


@pytest.mark.parametrize("call, error, match", [
    (lambda: sinusoidal_encoding(T, 7), ValueError,
     r"d must be even \(the features come in \(sin, cos\) pairs\), got 7"),
    (lambda: sinusoidal_encoding(-1, D), ValueError, "T must be at least 0, got -1"),
    (lambda: SinusoidalPositions(5), ValueError, "d must be even .* got 5"),
    (lambda: SinusoidalPositions(D)(torch.zeros(B, T, 6)), ValueError,
     r"x must have d=8 features in its last dimension, got 6 \(x has shape \(2, 10, 6\)\)"),
    (lambda: SinusoidalPositions(D)(torch.zeros(T, D)), ValueError,
     r"x must have 3 dimensions \(batch, time, d\), got shape \(10, 8\)"),
    (lambda: LearnedPositions(D, 0), ValueError, "max_len must be at least 1, got 0"),
    (lambda: LearnedPositions(D, 64)(torch.zeros(B, T, D), start=-1), ValueError, "start must be at least 0, got -1"),
    (lambda: apply_rotary(torch.zeros(B, T, 7)), ValueError,
     r"x must have an even number of features d \(they are rotated in pairs\), got d=7"),
    (lambda: apply_rotary(torch.zeros(B, T, D), torch.arange(5)), ValueError,
     r"positions must have shape \(T,\) = \(10,\) or broadcast to x's shape without the features \(2, 10\), "
     r"got \(5,\)"),
    (lambda: apply_rotary(torch.zeros(B, T, D), torch.ones(T, dtype=torch.bool)), TypeError,
     "positions must hold integers or floats, got dtype torch.bool"),
    (lambda: apply_rotary(torch.zeros(D)), ValueError, r"x must have at least 2 dimensions \(..., T, d\)"),
    (lambda: apply_rotary(torch.zeros(T, D, dtype=torch.long)), TypeError, "x must hold floats"),
    (lambda: RotaryPositions(D)(torch.zeros(B, T, 6)), ValueError,
     r"x must have shape \(..., T, d\) with d=8 features, got \(2, 10, 6\)"),
    (lambda: ALiBi(0), ValueError, "nhead must be at least 1, got 0"),
    (lambda: alibi_slopes(2.5), TypeError, "nhead must be an int"),
    (lambda: ALiBi(2)(-1, 4), ValueError, "Tq must be at least 0, got -1"),
    (lambda: ALiBi(2)(3, 4, start=-2), ValueError, "start must be at least 0, got -2"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()


def _reference(T, d, start=0, base=10000.0):
    """The encoding by the formula, in float64, with Python's math: (T, d)."""
    return torch.tensor([[math.sin(t * base ** (-(i - i % 2) / d)) if i % 2 == 0 else
                          math.cos(t * base ** (-(i - i % 2) / d)) for i in range(d)]
                         for t in range(start, start + T)], dtype=torch.float64)


def test_sinusoidal_positions_follow_the_dtype_of_the_model_and_the_input():
    x64 = randn(B, T, D).double()
    want = x64 + _reference(T, D)  # (B, T, D) in float64
    float32 = SinusoidalPositions(D, max_len=16)
    assert float32.pe.dtype == torch.float32  # the default dtype: unchanged for float32 models
    assert torch.equal(float32.pe, _reference(16, D).float())  # rounded once from float64
    out = float32(x64)  # float64 input, float32 module: float64 out, without float32's rounding
    assert out.dtype == torch.float64 and torch.allclose(out, want, rtol=0, atol=1e-12)
    for convert in (lambda m: m.double(), lambda m: m.to(torch.float64)):
        model = convert(SinusoidalPositions(D, max_len=16))
        assert model.pe.dtype == torch.float64
        assert torch.allclose(model.pe, _reference(16, D), rtol=0, atol=1e-12)  # not a widened float32 table
        assert torch.allclose(model(x64), want, rtol=0, atol=1e-12)
        assert torch.allclose(model(x64, start=12), x64 + _reference(T, D, start=12), rtol=0, atol=1e-12)  # past max_len
        back = model.float()
        assert back.pe.dtype == torch.float32 and torch.equal(back.pe, _reference(16, D).float())
    half = SinusoidalPositions(D, max_len=16).half()
    assert half.pe.dtype == torch.float16 and torch.equal(half.pe, _reference(16, D).half())
    assert half(x64.half()).dtype == torch.float16
    assert sinusoidal_encoding(5, D, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(TypeError, match="floating torch.dtype"):
        sinusoidal_encoding(5, D, dtype=torch.long)
    # a model built in float64 holds a float64 table
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert SinusoidalPositions(D, max_len=16).pe.dtype == torch.float64
    finally:
        torch.set_default_dtype(previous)
    # to_empty (after building on the meta device) leaves a real table, not uninitialised memory
    with torch.device("meta"):
        on_meta = SinusoidalPositions(D, max_len=16)
    assert on_meta.pe.is_meta
    assert torch.equal(on_meta.to_empty(device="cpu").pe, _reference(16, D).float())
