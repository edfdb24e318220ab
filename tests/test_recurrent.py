"""seqlib.recurrent against PyTorch: outputs, final states and gradients, padding, errors, checkers."""
import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqlib import checks, recurrent

I, H, B, T = 5, 4, 3, 6
LENGTHS = [6, 2, 4]  # mixed, unsorted, the longest one equal to T
KINDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
ATOL = 1e-5


def make(kind, seed=0, **config):
    """A PyTorch module of ``kind`` (random weights from ``seed``) and our copy of it, both in eval mode."""
    torch.manual_seed(seed)
    if kind.startswith("rnn"):
        theirs = nn.RNN(I, H, nonlinearity=kind.split("_")[1], **config)
        ours = recurrent.RNN.from_torch(theirs)
    else:
        theirs = {"lstm": nn.LSTM, "gru": nn.GRU}[kind](I, H, **config)
        ours = {"lstm": recurrent.LSTM, "gru": recurrent.GRU}[kind].from_torch(theirs)
    return theirs.eval(), ours.eval()


def inputs(kind, num_layers, bidirectional, batch_first, seed=1):
    """x in the module's layout, and an initial state of the right shape (a pair for the LSTM)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, I, generator=g)
    if not batch_first:
        x = x.transpose(0, 1).contiguous()  # (T, B, I)
    shape = (num_layers * (2 if bidirectional else 1), B, H)
    state = torch.randn(shape, generator=g)
    if kind == "lstm":
        state = (state, torch.randn(shape, generator=g))
    return x, state


def run(module, x, state, lengths):
    """Ours: module(x, state, lengths). PyTorch's: through pack_padded_sequence / pad_packed_sequence."""
    if isinstance(module, (recurrent.RNN, recurrent.LSTM, recurrent.GRU)):
        return module(x, state, None if lengths is None else torch.tensor(lengths))
    if lengths is None:
        return module(x, state)
    steps = x.shape[1] if module.batch_first else x.shape[0]
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=module.batch_first, enforce_sorted=False)
    output, final = module(packed, state)
    output, _ = pad_packed_sequence(output, batch_first=module.batch_first, total_length=steps)
    return output, final


def flat(result):
    """(output, h_n) or (output, (h_n, c_n)) -> a list of tensors."""
    output, final = result
    return [output] + (list(final) if isinstance(final, tuple) else [final])


def assert_same(ours, theirs, atol=ATOL):
    assert len(ours) == len(theirs)
    for name, a, b in zip(["output", "h_n", "c_n"], ours, theirs):
        assert a.shape == b.shape, f"{name}: shape {tuple(a.shape)} != PyTorch's {tuple(b.shape)}"
        torch.testing.assert_close(a, b, atol=atol, rtol=0, msg=lambda m: f"{name}: {m}")


CONFIGS = list(itertools.product(KINDS, [1, 2], [False, True], [True, False]))


@pytest.mark.parametrize("kind, num_layers, bidirectional, batch_first", CONFIGS)
@pytest.mark.parametrize("padded", [False, True], ids=["full", "padded"])
@pytest.mark.parametrize("given_state", [False, True], ids=["zero_state", "given_state"])
def test_outputs_and_final_states_match_pytorch(kind, num_layers, bidirectional, batch_first, padded, given_state):
    theirs, ours = make(kind, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first)
    x, state = inputs(kind, num_layers, bidirectional, batch_first)
    state = state if given_state else None
    lengths = LENGTHS if padded else None
    with torch.no_grad():
        assert_same(flat(run(ours, x, state, lengths)), flat(run(theirs, x, state, lengths)))


@pytest.mark.parametrize("kind", KINDS)
def test_without_biases_matches_pytorch(kind):
    theirs, ours = make(kind, num_layers=2, bias=False, batch_first=True)
    assert all(cell.b_ih is None and cell.b_hh is None for cell in ours.cells)
    x, _ = inputs(kind, 2, False, True)
    with torch.no_grad():
        assert_same(flat(ours(x)), flat(theirs(x)))


def named_gradients(ours):
    """Our parameters' gradients under PyTorch's names (weight_ih_l1_reverse, ...)."""
    D = ours.num_directions
    grads = {}
    for layer, direction in itertools.product(range(ours.num_layers), range(D)):
        cell = ours.cells[layer * D + direction]
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        for mine, torch_name in [("W_ih", "weight_ih"), ("W_hh", "weight_hh"), ("b_ih", "bias_ih"),
                                 ("b_hh", "bias_hh")]:
            grads[torch_name + suffix] = getattr(cell, mine).grad
    return grads


def weighted_sum(result):
    """A fixed random weighted sum of every output and final state: a loss that reaches them all."""
    g = torch.Generator().manual_seed(2)
    return sum((torch.randn(r.shape, generator=g) * r).sum() for r in result)


def leaves(kind, bidirectional, batch_first):
    """x and the initial state, as tensors that collect gradients."""
    x, state = inputs(kind, 2, bidirectional, batch_first)
    for t in [x, *(state if kind == "lstm" else [state])]:
        t.requires_grad_(True)
    return x, state


def grads_of(x, state):
    return [x.grad] + [s.grad for s in (state if isinstance(state, tuple) else [state])]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("padded", [False, True], ids=["full", "padded"])
def test_gradients_match_pytorch(kind, bidirectional, padded):
    batch_first = not padded  # both layouts get a turn
    theirs, ours = make(kind, num_layers=2, bidirectional=bidirectional, batch_first=batch_first)
    lengths = LENGTHS if padded else None
    their_inputs, our_inputs = leaves(kind, bidirectional, batch_first), leaves(kind, bidirectional, batch_first)
    weighted_sum(flat(run(theirs, *their_inputs, lengths))).backward()
    weighted_sum(flat(run(ours, *our_inputs, lengths))).backward()
    for name, a, b in zip(["x", "h_0", "c_0"], grads_of(*our_inputs), grads_of(*their_inputs)):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0, msg=lambda m: f"grad of {name}: {m}")
    their_grads = {name: p.grad for name, p in theirs.named_parameters()}
    torch.testing.assert_close(named_gradients(ours), their_grads, atol=ATOL, rtol=0)


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_pytorch_cells(kind, bias):
    torch.manual_seed(0)
    if kind.startswith("rnn"):
        theirs = nn.RNNCell(I, H, bias=bias, nonlinearity=kind.split("_")[1])
        ours = recurrent.RNNCell.from_torch(theirs)
    else:
        theirs = {"lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](I, H, bias=bias)
        ours = {"lstm": recurrent.LSTMCell, "gru": recurrent.GRUCell}[kind].from_torch(theirs)
    g = torch.Generator().manual_seed(1)
    x_t = torch.randn(B, I, generator=g, requires_grad=True)
    state = torch.randn(B, H, generator=g)
    state = (state, torch.randn(B, H, generator=g)) if kind == "lstm" else state
    for given in (state, None):  # a given previous state, then the default zeros
        want, got = theirs(x_t, given), ours(x_t, given)
        want = list(want) if kind == "lstm" else [want]
        got = list(got) if kind == "lstm" else [got]
        assert_same(got, want)
        g = torch.Generator().manual_seed(2)
        weights = [torch.randn(B, H, generator=g) for _ in want]
        their_grads = torch.autograd.grad(sum((w * r).sum() for w, r in zip(weights, want)),
                                          [x_t, *theirs.parameters()])
        our_grads = torch.autograd.grad(sum((w * r).sum() for w, r in zip(weights, got)), [x_t, *ours.parameters()])
        for a, b in zip(our_grads, their_grads):
            torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


def test_parameters_have_pytorch_shapes_and_initialisation():
    theirs, ours = make("lstm", num_layers=2, bidirectional=True)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    fresh = recurrent.GRU(I, H, num_layers=2, bidirectional=True)
    assert fresh.cells[2].W_ih.shape == (3 * H, 2 * H) and fresh.cells[0].W_hh.shape == (3 * H, H)
    assert all(p.abs().max() <= H ** -0.5 for p in fresh.parameters())
    assert fresh.batch_first  # the book's default layout: (B, T, ...), unlike PyTorch


@pytest.mark.parametrize("kind", KINDS)
def test_padding_never_changes_the_real_positions(kind):
    _, ours = make(kind, num_layers=2, bidirectional=True, batch_first=True)
    g = torch.Generator().manual_seed(3)
    lengths = torch.tensor(LENGTHS)
    x = torch.randn(B, T, I, generator=g)
    longer = torch.cat([x, torch.zeros(B, 3, I)], dim=1)  # (B, T + 3, I)
    mask = torch.arange(T + 3)[None, :] < lengths[:, None]  # (B, T + 3)
    garbage = 100 * torch.randn(B, T + 3, I, generator=g)
    longer = torch.where(mask[..., None], longer, garbage)  # garbage values in every padded step
    with torch.no_grad():
        short_out, short_final = ours(torch.where(mask[:, :T, None], x, torch.zeros(())), lengths=lengths)
        long_out, long_final = ours(longer, lengths=lengths)
    assert long_out.shape == (B, T + 3, 2 * H)
    assert torch.equal(long_out[:, T:], torch.zeros(B, 3, 2 * H))  # padded outputs are 0
    assert_same(flat((long_out[:, :T], long_final)), flat((short_out, short_final)), atol=1e-6)
    long_final = flat((long_out, long_final))[1:]  # h_n (and c_n)
    for b, n in enumerate(LENGTHS):  # and each sequence alone, unpadded, gives the same
        with torch.no_grad():
            alone = flat(ours(x[b:b + 1, :n]))
        assert_same([long_out[b:b + 1, :n]] + [s[:, b:b + 1] for s in long_final], alone, atol=1e-6)


def test_dropout_acts_between_layers_in_training_only():
    theirs, ours = make("lstm", num_layers=2, dropout=0.5, batch_first=True)
    x, _ = inputs("lstm", 2, False, True)
    with torch.no_grad():
        first, second = flat(ours(x)), flat(ours(x))
        assert_same(first, second, atol=0)  # eval mode: deterministic
        assert_same(first, flat(theirs(x)))  # and equal to PyTorch's
        ours.train()
        torch.manual_seed(0)
        trained = flat(ours(x))
    assert not torch.allclose(trained[0], first[0])  # training mode: dropped
    one_layer = recurrent.GRU(I, H, dropout=0.5)  # nothing lies between layers: no effect at all
    with torch.no_grad():
        assert_same(flat(one_layer(x)), flat(one_layer.eval()(x)), atol=0)


def test_from_torch_copies_the_configuration_and_the_mode():
    theirs = nn.GRU(I, H, num_layers=3, batch_first=False, bidirectional=True, dropout=0.25)
    ours = recurrent.GRU.from_torch(theirs)
    assert (ours.num_layers, ours.batch_first, ours.bidirectional, ours.dropout) == (3, False, True, 0.25)
    assert ours.training and not recurrent.GRU.from_torch(theirs.eval()).training
    double = recurrent.RNN.from_torch(nn.RNN(I, H, nonlinearity="relu").double())
    assert double.nonlinearity == "relu" and double.cells[0].W_ih.dtype == torch.float64


def err(kind="rnn", **config):
    return {"rnn": recurrent.RNN, "lstm": recurrent.LSTM, "gru": recurrent.GRU}[kind](8, 4, **config)


@pytest.mark.parametrize("call, error, match", [
    (lambda: err()(torch.zeros(2, 3, 5)), ValueError,
     r"x must have input_size=8 features in its last dimension, got 5"),
    (lambda: err()(torch.zeros(3, 8)), ValueError, r"x must have 3 dimensions .* got shape \(3, 8\)"),
    (lambda: err()(torch.zeros(2, 3, 8, dtype=torch.long)), TypeError, "x must hold floats"),
    (lambda: err()(torch.zeros(2, 3, 8), lengths=torch.tensor([3, 4])), ValueError,
     "a length of 4 exceeds the padded sequence length 3"),
    (lambda: err(batch_first=False)(torch.zeros(3, 2, 8), lengths=torch.tensor([3, 4])), ValueError,
     "a length of 4 exceeds the padded sequence length 3"),
    (lambda: err()(torch.zeros(2, 3, 8), lengths=torch.tensor([3, 2, 1])), ValueError,
     "lengths must have one entry per sequence: expected 2, got 3"),
    (lambda: err()(torch.zeros(2, 3, 8), lengths=torch.tensor([3, 0])), ValueError,
     "every length must be at least 1, got 0 at index 1"),
    (lambda: err()(torch.zeros(2, 3, 8), lengths=torch.tensor([3.0, 2.0])), TypeError, "lengths must hold integers"),
    (lambda: err(num_layers=2)(torch.zeros(2, 3, 8), torch.zeros(1, 2, 4)), ValueError,
     r"state \(h_0\) must have shape \(num_layers \* num_directions, batch, hidden_size\) = \(2, 2, 4\), "
     r"got \(1, 2, 4\)"),
    (lambda: err("gru", bidirectional=True)(torch.zeros(2, 3, 8), torch.zeros(1, 2, 4)), ValueError,
     r"= \(2, 2, 4\), got \(1, 2, 4\)"),
    (lambda: err("lstm")(torch.zeros(2, 3, 8), torch.zeros(1, 2, 4)), TypeError,
     r"state of an LSTM must be a pair \(h, c\), got Tensor"),
    (lambda: err("lstm")(torch.zeros(2, 3, 8), (torch.zeros(1, 2, 4), torch.zeros(1, 3, 4))), ValueError,
     r"state\[1\] \(c_0\) must have shape .* = \(1, 2, 4\), got \(1, 3, 4\)"),
    (lambda: recurrent.RNN(8, 0), ValueError, "hidden_size must be at least 1, got 0"),
    (lambda: recurrent.LSTM(8, 0), ValueError, "hidden_size must be at least 1, got 0"),
    (lambda: recurrent.GRU(8, 4, num_layers=0), ValueError, "num_layers must be at least 1, got 0"),
    (lambda: recurrent.RNN(8, 4, nonlinearity="sigmoid"), ValueError,
     "nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"),
    (lambda: recurrent.RNN(8, 4, dropout=1.5), ValueError, "dropout must be a probability between 0 and 1, got 1.5"),
    (lambda: recurrent.LSTM.from_torch(nn.LSTM(8, 4, proj_size=2)), ValueError,
     "does not support an LSTM with projections, got proj_size=2"),
    (lambda: recurrent.LSTM.from_torch(nn.GRU(8, 4)), TypeError,
     "LSTM.from_torch expects a torch.nn.LSTM, got torch.nn.modules.rnn.GRU"),
    (lambda: recurrent.RNNCell.from_torch(nn.RNN(8, 4)), TypeError, "RNNCell.from_torch expects a torch.nn.RNNCell"),
    (lambda: recurrent.LSTMCell(8, 4)(torch.zeros(2, 5)), ValueError,
     "x_t must have input_size=8 features in its last dimension, got 5"),
    (lambda: recurrent.GRUCell(8, 4)(torch.zeros(2, 8), torch.zeros(2, 3)), ValueError,
     r"state \(h\) must have shape \(batch, hidden_size\) = \(2, 4\), got \(2, 3\)"),
    (lambda: recurrent.LSTMCell(8, 4)(torch.zeros(2, 8), (torch.zeros(2, 4), torch.zeros(3, 4))), ValueError,
     r"state\[1\] \(c\) must have shape \(batch, hidden_size\) = \(2, 4\), got \(3, 4\)"),
])
def test_bad_input_is_rejected_with_a_clear_message(call, error, match):
    with pytest.raises(error, match=match):
        call()


def rnn_step(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    return torch.tanh(x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh)


def lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, order="ifgo"):
    blocks = dict(zip(order, (x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh).chunk(4, dim=1)))
    i_t, f_t, g_t, o_t = (torch.sigmoid(blocks["i"]), torch.sigmoid(blocks["f"]), torch.tanh(blocks["g"]),
                          torch.sigmoid(blocks["o"]))
    c_t = f_t * c_prev + i_t * g_t
    return o_t * torch.tanh(c_t), c_t


def test_checkers_pass_correct_and_fail_wrong_recurrent_steps():
    assert "agree" in checks.check_rnn_step(rnn_step)
    with pytest.raises(AssertionError, match="without the biases"):
        checks.check_rnn_step(lambda x_t, h, W_ih, W_hh, b_ih, b_hh: torch.tanh(x_t @ W_ih.T + h @ W_hh.T))
    with pytest.raises(AssertionError, match="without the tanh"):
        checks.check_rnn_step(lambda x_t, h, W_ih, W_hh, b_ih, b_hh: x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
    with pytest.raises(AssertionError, match=r"expected a tensor of shape \(B, H\)"):
        checks.check_rnn_step(lambda *args: rnn_step(*args).sum(1))  # (B,) instead of (B, H)

    assert "agree" in checks.check_lstm_step(lstm_step)
    with pytest.raises(AssertionError, match="in the order i, g, f, o: PyTorch stacks them as i, f, g, o"):
        checks.check_lstm_step(lambda *args: lstm_step(*args, order="igfo"))
    with pytest.raises(AssertionError, match=r"matches \(c_t, h_t\)"):
        checks.check_lstm_step(lambda *args: lstm_step(*args)[::-1])
    with pytest.raises(AssertionError, match="expected a pair"):
        checks.check_lstm_step(lambda *args: lstm_step(*args)[0])
    # the seqlib cell itself passes, once given the weights
    def with_cell(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
        cell = recurrent.LSTMCell(W_ih.shape[1], W_hh.shape[1])
        with torch.no_grad():
            for p, value in zip([cell.W_ih, cell.W_hh, cell.b_ih, cell.b_hh], [W_ih, W_hh, b_ih, b_hh]):
                p.copy_(value)
            return cell(x_t, (h_prev, c_prev))
    assert "agree" in checks.check_lstm_step(with_cell)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("poison", [float("nan"), float("inf")])
def test_what_padded_steps_hold_never_reaches_the_gradients(kind, poison):
    """A padded step's input may be anything, NaN or inf included: the outputs and every weight's
    gradient must be those of the same batch padded with zeros."""
    cls = {"rnn": recurrent.RNN, "lstm": recurrent.LSTM, "gru": recurrent.GRU}[kind]
    torch.manual_seed(0)
    model = cls(3, 5, batch_first=True)
    lengths = torch.tensor([4, 2])
    clean = torch.randn(2, 4, 3)
    clean[1, 2:] = 0.0
    poisoned = clean.clone()
    poisoned[1, 2:] = poison
    grads = []
    for x in (clean, poisoned):
        model.zero_grad()
        out, _ = model(x, lengths=lengths)
        out.square().sum().backward()
        grads.append([p.grad.clone() for p in model.parameters()])
        assert torch.isfinite(out).all()
    for a, b in zip(*grads):
        assert torch.isfinite(b).all() and torch.equal(a, b)
