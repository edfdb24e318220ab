"""The parallel scan computes the loop's states (and gradients); minGRU both ways; bad input rejected."""
import math

import pytest
import torch

from seqlib import scan


def ab(B=3, T=13, shape=(4,), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(B, T, *shape, generator=g), torch.randn(B, T, *shape, generator=g)


@pytest.mark.parametrize("T", [1, 2, 3, 8, 13, 64])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_scan_equals_loop(T, shape):
    a, b = ab(T=T, shape=shape)
    assert torch.allclose(scan.linear_recurrence_scan(a, b), scan.linear_recurrence_loop(a, b), atol=1e-5)


def test_initial_state():
    a, b = ab()
    h0 = torch.randn(3, 4)
    loop = scan.linear_recurrence_loop(a, b, h0)
    assert torch.allclose(loop[:, 0], a[:, 0] * h0 + b[:, 0])
    assert torch.allclose(scan.linear_recurrence_scan(a, b, h0), loop, atol=1e-5)


def test_gradients_agree():
    a, b = ab(T=17)
    grads = []
    for fn in (scan.linear_recurrence_loop, scan.linear_recurrence_scan):
        a_, b_ = a.clone().requires_grad_(), b.clone().requires_grad_()
        (fn(a_, b_) ** 2).sum().backward()
        grads.append((a_.grad, b_.grad))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-5) and torch.allclose(grads[0][1], grads[1][1], atol=1e-5)


def test_combine_is_associative_not_commutative():
    x, y, z = (tuple(torch.randn(2, 5)) for _ in range(3))
    left = scan.combine(scan.combine(x, y), z)
    right = scan.combine(x, scan.combine(y, z))
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(left, right))
    assert not torch.allclose(scan.combine(x, y)[1], scan.combine(y, x)[1])


def test_rounds():
    assert [scan.scan_rounds(T) for T in (1, 2, 3, 4, 5, 1024, 1025)] == [0, 1, 2, 2, 3, 10, 11]
    assert scan.scan_rounds(100) == math.ceil(math.log2(100))


def test_causal():
    a, b = ab(T=10)
    h = scan.linear_recurrence_scan(a, b)
    b2 = b.clone()
    b2[:, 6:] += 5
    assert torch.equal(scan.linear_recurrence_scan(a, b2)[:, :6], h[:, :6])


def test_min_gru():
    torch.manual_seed(0)
    cell = scan.MinGRU(5, 7)
    x = torch.randn(2, 11, 5)
    h = cell(x)
    assert h.shape == (2, 11, 7)
    assert torch.allclose(h, cell(x, mode="loop"), atol=1e-5)
    z = torch.sigmoid(cell.W_z(x[:, 0]))
    assert torch.allclose(h[:, 0], z * cell.W_h(x[:, 0]), atol=1e-6)  # h_0 = 0


@pytest.mark.parametrize("with_h0", [False, True])
def test_one_step_is_a_new_tensor_with_the_loops_gradients(with_h0):
    """Found by tests/test_properties.py: for T = 1 without h0 the scan returned b itself (the
    caller's tensor, so writing to the states wrote to the inputs) and left a out of the graph
    (torch.autograd.grad refused it; a.grad stayed None where the loop's is 0)."""
    a, b = ab(T=1)
    a.requires_grad_(), b.requires_grad_()
    h0 = torch.randn(3, 4) if with_h0 else None
    h = scan.linear_recurrence_scan(a, b, h0)
    assert h is not b and h.data_ptr() != b.data_ptr()
    assert torch.equal(h, scan.linear_recurrence_loop(a, b, h0))
    grads = torch.autograd.grad(h.sum(), (a, b))
    want = torch.autograd.grad(scan.linear_recurrence_loop(a, b, h0).sum(), (a, b))
    assert all(torch.equal(g, w) for g, w in zip(grads, want))


def test_errors():
    a, b = ab()
    with pytest.raises(ValueError, match="same shape"):
        scan.linear_recurrence_scan(a, b[:, :5])
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        scan.linear_recurrence_loop(torch.rand(5), torch.rand(5))
    with pytest.raises(ValueError, match="h0 must have shape"):
        scan.linear_recurrence_scan(a, b, torch.zeros(3, 5))
    with pytest.raises(TypeError, match="floats"):
        scan.linear_recurrence_scan(a.long(), b)
    with pytest.raises(ValueError, match="mode must be"):
        scan.MinGRU(5, 7)(torch.randn(1, 3, 5), mode="fast")
    with pytest.raises(ValueError, match="input_size=5"):
        scan.MinGRU(5, 7)(torch.randn(1, 3, 4))
