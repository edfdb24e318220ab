"""Linear attention: the parallel and recurrent forms agree, are causal, and reject bad input."""
import pytest
import torch

from causality import assert_causal
from seqlib import checks, linear_attention as la


def qkv(B=2, T=9, d_k=4, d_v=3, seed=0, heads=()):
    g = torch.Generator().manual_seed(seed)
    shape = (B, *heads, T)
    return (torch.randn(*shape, d_k, generator=g), torch.randn(*shape, d_k, generator=g),
            torch.randn(*shape, d_v, generator=g))


@pytest.mark.parametrize("decay", [None, 0.9])
@pytest.mark.parametrize("normalize", [True, False])
def test_parallel_equals_recurrent(decay, normalize):
    q, k, v = qkv(heads=(3,))
    par = la.linear_attention_parallel(q, k, v, decay, normalize)
    rec = la.linear_attention_recurrent(q, k, v, decay, normalize)
    assert par.shape == (2, 3, 9, 3)
    assert torch.allclose(par, rec, atol=1e-5)


def test_matches_plain_formula():
    q, k, v = qkv(B=1, T=5)
    phi_q, phi_k = la.elu_feature_map(q)[0], la.elu_feature_map(k)[0]
    out = la.linear_attention_parallel(q, k, v)[0]
    for t in range(5):
        w = phi_k[: t + 1] @ phi_q[t]  # (t+1,)
        want = (w[:, None] * v[0, : t + 1]).sum(0) / (w.sum() + 1e-6)
        assert torch.allclose(out[t], want, atol=1e-5)


def test_feature_map_positive():
    assert (la.elu_feature_map(torch.linspace(-8, 8, 101)) > 0).all()  # float32 rounds e^-x - 1 + 1 to 0 beyond about -16


def test_gradients_agree():
    q, k, v = (t.requires_grad_() for t in qkv())
    grads = []
    for fn in (la.linear_attention_parallel, la.linear_attention_recurrent):
        (fn(q, k, v) ** 2).sum().backward()
        grads.append([t.grad.clone() for t in (q, k, v)])
        for t in (q, k, v):
            t.grad = None
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-5)


def test_causal():
    q, k, v = qkv(T=8)
    out = la.linear_attention_parallel(q, k, v)
    q2, k2, v2 = q.clone(), k.clone(), v.clone()
    q2[:, 5:] += 1.0
    k2[:, 5:] -= 2.0
    v2[:, 5:] *= 3.0
    out2 = la.linear_attention_parallel(q2, k2, v2)
    assert torch.equal(out[:, :5], out2[:, :5]) and not torch.allclose(out[:, 5:], out2[:, 5:])


@pytest.mark.parametrize("decay", [None, 0.8])
def test_layer_and_lm_modes_agree_and_causal(decay):
    torch.manual_seed(0)
    layer = la.LinearAttention(8, nhead=2, decay=decay)
    x = torch.randn(3, 7, 8)
    assert torch.allclose(layer(x), layer(x, mode="recurrent"), atol=1e-5)
    lm = la.LinearAttentionLM(11, d_model=8, nhead=2, num_layers=2, dim_feedforward=16, decay=decay)
    ids = torch.randint(1, 11, (2, 10))
    logits = lm(ids)
    assert logits.shape == (2, 10, 11)
    assert torch.allclose(logits, lm(ids, mode="recurrent"), atol=1e-5)
    assert_causal(lm, ids, cut=6, vocab_size=11)
    assert lm.state_size == 2 * 2 * 4 * 5


def test_errors():
    q, k, v = qkv()
    with pytest.raises(ValueError, match="q and k must have the same shape"):
        la.linear_attention_parallel(q, k[..., :2], v)
    with pytest.raises(ValueError, match="v must have shape"):
        la.linear_attention_recurrent(q, k, v[:, :4])
    with pytest.raises(ValueError, match="decay must be in"):
        la.linear_attention_parallel(q, k, v, decay=1.5)
    with pytest.raises(ValueError, match="divisible by nhead"):
        la.LinearAttention(10, nhead=3)
    with pytest.raises(ValueError, match="d_model=8 features"):
        la.LinearAttention(8)(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match="mode must be"):
        la.LinearAttention(8)(torch.randn(2, 3, 8), mode="fast")
    with pytest.raises(ValueError, match=r"token ids in \[0, 5\)"):
        la.LinearAttentionLM(5, d_model=8)(torch.tensor([[1, 7]]))


def test_checker_accepts_reference_and_names_mistakes():
    assert "agree" in checks.check_linear_attention(la.linear_attention_recurrent)

    def unnormalised(q, k, v):
        return la.linear_attention_recurrent(q, k, v, normalize=False)

    def not_causal(q, k, v):
        fq, fk = la.elu_feature_map(q), la.elu_feature_map(k)
        S = fk.transpose(-2, -1) @ v  # (B, d_k, d_v): every token
        return (fq @ S) / (fq @ fk.sum(1, keepdim=True).transpose(-2, -1) + 1e-6)

    def read_first(q, k, v):
        out = la.linear_attention_parallel(q, k, v)
        fq, fk = la.elu_feature_map(q), la.elu_feature_map(k)
        A = (fq @ fk.transpose(-2, -1)) * torch.ones(q.shape[1], q.shape[1]).tril(-1)
        return (A @ v) / (A.sum(-1, keepdim=True) + 1e-6) + 0 * out

    def no_phi(q, k, v):
        A = (q @ k.transpose(-2, -1)) * torch.ones(q.shape[1], q.shape[1]).tril()
        return (A @ v) / (A.sum(-1, keepdim=True) + 1e-6)

    for fn, words in [(unnormalised, "no normaliser"), (not_causal, "all positions"),
                      (read_first, "read before"), (no_phi, "no feature map")]:
        with pytest.raises(AssertionError, match=words):
            checks.check_linear_attention(fn)
    with pytest.raises(AssertionError, match="shape"):
        checks.check_linear_attention(lambda q, k, v: v[:, :-1])
