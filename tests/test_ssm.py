"""The selective SSM: scan equals loop (outputs and gradients), matches a plain loop, is causal, rejects bad input."""
import pytest
import torch

from causality import assert_causal
from seqlib import ssm


def inputs(Bt=2, T=9, d=3, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(Bt, T, d, generator=g)
    delta = torch.rand(Bt, T, d, generator=g) * 0.5 + 0.01
    A = -torch.rand(d, n, generator=g) * 2 - 0.1
    B, C = torch.randn(Bt, T, n, generator=g), torch.randn(Bt, T, n, generator=g)
    return x, delta, A, B, C, torch.randn(d, generator=g)


def test_selective_scan_matches_plain_loop():
    x, delta, A, B, C, D = inputs()
    y = ssm.selective_scan(x, delta, A, B, C, D)
    h = torch.zeros(2, 3, 4)
    for t in range(9):
        h = torch.exp(delta[:, t, :, None] * A) * h + delta[:, t, :, None] * B[:, t, None, :] * x[:, t, :, None]
        want = (h * C[:, t, None, :]).sum(-1) + D * x[:, t]
        assert torch.allclose(y[:, t], want, atol=1e-5)


def test_scan_equals_loop_with_gradients():
    tensors = [t.requires_grad_() for t in inputs(T=16)]
    grads = []
    for mode in ("scan", "loop"):
        out = ssm.selective_scan(*tensors, mode=mode)
        (out ** 2).sum().backward()
        grads.append([t.grad.clone() for t in tensors])
        for t in tensors:
            t.grad = None
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("selective", [True, False])
def test_lm_modes_agree_and_causal(selective):
    torch.manual_seed(0)
    lm = ssm.MambaLM(13, d_model=8, num_layers=2, d_state=4, selective=selective)
    ids = torch.randint(1, 13, (2, 12))
    logits = lm(ids)
    assert logits.shape == (2, 12, 13)
    assert torch.allclose(logits, lm(ids, mode="loop"), atol=1e-5)
    assert_causal(lm, ids, cut=7, vocab_size=13)
    assert lm.state_size == 2 * 16 * (4 + 3)


def test_selection_depends_on_input():
    torch.manual_seed(0)
    block = ssm.SelectiveSSM(4, d_state=3)
    fixed = ssm.SelectiveSSM(4, d_state=3, selective=False)
    x = torch.randn(1, 6, 4)
    # a time-invariant SSM is a convolution: shifting the input shifts the output
    shifted = torch.cat([torch.zeros(1, 2, 4), x[:, :4]], dim=1)
    assert torch.allclose(fixed(shifted)[:, 2:], fixed(x)[:, :4], atol=1e-5)
    assert block(x).shape == (1, 6, 4)
    assert (block.A_log.exp()[0] == torch.arange(1, 4)).all()


def test_errors():
    x, delta, A, B, C, D = inputs()
    with pytest.raises(ValueError, match="delta must have the shape of x"):
        ssm.selective_scan(x, delta[:, :3], A, B, C, D)
    with pytest.raises(ValueError, match="A must have shape"):
        ssm.selective_scan(x, delta, A[:2], B, C, D)
    with pytest.raises(ValueError, match="C must have shape"):
        ssm.selective_scan(x, delta, A, B, C[..., :2], D)
    with pytest.raises(ValueError, match="mode must be"):
        ssm.selective_scan(x, delta, A, B, C, D, mode="fast")
    with pytest.raises(ValueError, match=r"D must have shape \(d,\)"):  # it would broadcast silently
        ssm.selective_scan(x, delta, A, B, C, D[:1])
    with pytest.raises(ValueError, match="d_model=8 features"):
        ssm.MambaBlock(8)(torch.randn(1, 4, 6))
    with pytest.raises(ValueError, match="mode must be"):
        ssm.MambaLM(5, d_model=8, mode="fast")
    with pytest.raises(ValueError, match=r"token ids in \[0, 5\)"):
        ssm.MambaLM(5, d_model=8)(torch.tensor([[1, 9]]))


def _digest(module, skip=("W_Delta.bias", "A_log")):
    """sha256 of a module's state_dict, every name and every tensor's bytes in order, leaving out
    the tensors computed through exp and log (``skip``), whose last bit depends on the CPU's
    vector unit; those are compared to a recomputation instead."""
    import hashlib

    h = hashlib.sha256()
    for name, t in module.state_dict().items():
        if not name.endswith(skip):
            h.update(name.encode())
            h.update(t.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


def test_selective_models_keep_their_initial_parameters():
    # Recorded from the code before the time-invariant SSM lost its unused W_r: a selective model
    # (the default, Chapter 11's) must draw the same parameters, in the same order, from a seed,
    # and leave the random stream where it left it.
    torch.manual_seed(1)
    model = ssm.SelectiveSSM(24, d_state=5, dt_rank=3)
    assert _digest(model) == "a308e47ed11fb8b530a36efd6d869757e8fc8762499abb3ccb1971f3fda9f22b"
    assert torch.rand(3).tolist() == [0.5103508830070496, 0.6435918807983398, 0.6803739666938782]
    torch.manual_seed(2)
    ssm.MambaLM(20, d_model=32, num_layers=2, d_state=8)
    assert torch.rand(3).tolist() == [0.6144738793373108, 0.3346155881881714, 0.5593146085739136]
    # and the order of the draws, spelled out: W_r, W_Delta (weight, bias), Delta's (A_log and D draw nothing)
    assert list(model.state_dict()) == ["A_log", "D", "W_r.weight", "W_Delta.weight", "W_Delta.bias"]
    torch.manual_seed(1)
    W_r = torch.nn.Linear(24, 3 + 2 * 5, bias=False)
    W_Delta = torch.nn.Linear(3, 24)
    lo, hi = torch.log(torch.tensor(0.001)), torch.log(torch.tensor(0.1))
    dt = torch.exp(torch.rand(24) * (hi - lo) + lo)
    assert torch.equal(model.W_r.weight, W_r.weight) and torch.equal(model.W_Delta.weight, W_Delta.weight)
    assert torch.allclose(model.W_Delta.bias, dt + torch.log(-torch.expm1(-dt)))
    assert torch.allclose(model.A_log.exp(), torch.arange(1.0, 6.0).repeat(24, 1))


def test_time_invariant_ssm_has_no_unused_parameters():
    torch.manual_seed(0)
    fixed = ssm.SelectiveSSM(8, d_state=3, dt_rank=2, selective=False)
    assert dict((k, tuple(v.shape)) for k, v in fixed.named_parameters()) == {
        "W_Delta.weight": (8, 2), "W_Delta.bias": (8,), "A_log": (8, 3), "D": (8,), "fixed": (2 + 6,)}
    x = torch.randn(2, 5, 8, requires_grad=True)
    y = fixed(x)
    y.sum().backward()
    assert all(p.grad is not None for p in fixed.parameters())  # every parameter is used
    # Delta, B and C are the same at every step: the recurrence is time-invariant
    lm = ssm.MambaLM(9, d_model=8, num_layers=1, d_state=3, selective=False)
    assert not any("W_r" in name for name, _ in lm.named_parameters())
    ids = torch.randint(1, 9, (2, 6))
    assert torch.allclose(lm(ids, mode="scan"), lm(ids, mode="loop"), atol=1e-5)


@pytest.mark.parametrize("selective", [True, False])
def test_a_one_token_sequence_gives_every_parameter_a_gradient_in_either_mode(selective):
    """Found by tests/test_properties.py: with one token the scan left A out of the graph, so
    A_log got no gradient at all (None, skipped by an optimiser) where the loop gives it 0."""
    torch.manual_seed(0)
    lm = ssm.MambaLM(9, d_model=4, num_layers=1, d_state=3, selective=selective)
    grads = {}
    for mode in ("scan", "loop"):
        lm.zero_grad(set_to_none=True)
        lm(torch.tensor([[3]]), mode=mode).square().sum().backward()
        grads[mode] = {name: p.grad for name, p in lm.named_parameters()}
        assert all(g is not None for g in grads[mode].values()), f"{mode}: a parameter got no gradient"
    for name, g in grads["scan"].items():
        assert torch.allclose(g, grads["loop"][name], atol=1e-6), name
