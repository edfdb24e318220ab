"""The experiments' recurrent model: read-out at each sequence's last real step, padding-proof."""
import pytest
import torch

from seqlib import data, models


@pytest.mark.parametrize("kind", sorted(models.KINDS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_batch_gives_the_same_answers_as_each_sequence_alone(kind, bidirectional):
    torch.manual_seed(0)
    model = models.RecurrentModel(kind, 3, 8, 2, num_layers=2, bidirectional=bidirectional).eval()
    lengths = torch.tensor([5, 2, 7])
    x = torch.randn(3, 7, 3)
    x = torch.where(data.lengths_to_mask(lengths, 7)[..., None], x, torch.full_like(x, 99.0))  # garbage padding
    batched = model(x, lengths)
    alone = torch.cat([model(x[b:b + 1, : lengths[b]]) for b in range(3)])
    assert batched.shape == (3, 2)
    assert torch.allclose(batched, alone, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(models.KINDS))
@pytest.mark.parametrize("per_step", [False, True])
def test_a_full_batch_gives_the_same_answers_packed_or_not(kind, per_step, monkeypatch):
    """Before torch 2.13 a batch with no padding is not packed (speed); the two paths agree to rounding."""
    torch.manual_seed(0)
    model = models.RecurrentModel(kind, 3, 8, 2, num_layers=2, per_step=per_step)
    x = torch.randn(4, 6, 3)
    results = {}
    for pack in (True, False):
        monkeypatch.setattr(models, "PACK_FULL_BATCHES", pack)
        model.zero_grad()
        out = model(x)
        out.square().sum().backward()
        results[pack] = out.detach(), [p.grad.clone() for p in model.parameters()]
    (a, ga), (b, gb) = results[True], results[False]
    assert a.shape == b.shape == ((4, 6, 2) if per_step else (4, 2))
    assert torch.allclose(a, b, atol=1e-6) and all(torch.allclose(p, q, atol=1e-5) for p, q in zip(ga, gb))
    monkeypatch.setattr(models, "PACK_FULL_BATCHES", False)
    short = model(x, torch.tensor([6, 3, 6, 6]))  # padding: packed whatever the version
    monkeypatch.setattr(models, "PACK_FULL_BATCHES", True)
    assert torch.equal(short, model(x, torch.tensor([6, 3, 6, 6])))


def test_tokens_per_step_and_squeeze():
    d = data.parity_task(6, 9, min_length=2, seed=0)
    per_step = models.RecurrentModel("lstm", len(d.vocab), 8, 2, tokens=True, per_step=True)
    assert per_step(d.x, d.lengths).shape == (6, 9, 2)
    regress = models.RecurrentModel("gru", 2, 8, 1, squeeze=True)
    assert regress(data.adding_problem(4, 5).x).shape == (4,)


def test_forget_bias_is_set_on_every_layer_and_direction():
    m = models.RecurrentModel("lstm", 2, 4, forget_bias=3.0, num_layers=2, bidirectional=True)
    for name, p in m.rnn.named_parameters():
        if name.startswith("bias_ih"):
            partner = dict(m.rnn.named_parameters())[name.replace("bias_ih", "bias_hh")]
            assert torch.allclose((p + partner)[4:8], torch.full((4,), 3.0))
            assert not torch.allclose((p + partner)[:4], torch.full((4,), 3.0))


@pytest.mark.parametrize("call, error, message", [
    (lambda: models.RecurrentModel("transformer", 2, 4), ValueError, "kind must be one of"),
    (lambda: models.RecurrentModel("gru", 2, 4, forget_bias=1.0), ValueError, "forget_bias applies to an LSTM"),
    (lambda: models.RecurrentModel("rnn", 2, 4)(torch.zeros(2, 3, 2), torch.tensor([3, 4])), ValueError,
     r"lengths: a length of 4 exceeds the padded sequence length 3 \(at index 1; each length must lie between 1 and 3\)"),
    (lambda: models.RecurrentModel("rnn", 5, 4, tokens=True)(torch.zeros(2, 3)), TypeError, "must hold integers"),
    (lambda: models.set_forget_bias(torch.nn.GRU(2, 3), 1.0), TypeError, "needs an nn.LSTM"),
])
def test_bad_input_is_rejected_clearly(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_train_on_adding_is_deterministic_and_learns_a_short_task():
    model, mse = models.train_on_adding("lstm", 5, seed=0, steps=300)
    _, again = models.train_on_adding("lstm", 5, seed=0, steps=300)
    assert mse == again and not model.training
    assert mse < 0.05 < 1 / 6  # clearly better than always predicting 1


def test_dropout_is_off_in_eval_absent_at_zero_and_checked():
    torch.manual_seed(0)
    model = models.RecurrentModel("lstm", 30, 16, 30, tokens=True, per_step=True, dropout=0.5)
    x = torch.randint(1, 30, (4, 9))
    model.train()
    assert not torch.equal(model(x), model(x)), "dropout should make two training passes differ"
    model.eval()
    assert torch.equal(model(x), model(x))
    torch.manual_seed(0)
    plain = models.RecurrentModel("lstm", 30, 16, 30, tokens=True, per_step=True)
    assert plain.drop is None  # no dropout layer, so no random numbers drawn
    plain.load_state_dict(model.state_dict())
    assert torch.equal(plain.eval()(x), model(x))
    with pytest.raises(ValueError, match="dropout must be a probability"):
        models.RecurrentModel("lstm", 3, 4, dropout=1.5)


@pytest.mark.parametrize("bad", [True, -0.1, 1.5, "0.1", None])
def test_every_dropout_takes_one_range_with_one_message(bad):
    # one rule across seqlib, PyTorch's: a probability in [0, 1]; a bool is not one
    from seqlib import attention, recurrent, seq2seq, transformer

    builders = [
        lambda p: models.RecurrentModel("lstm", 8, 4, 2, dropout=p),
        lambda p: recurrent.LSTM(8, 4, dropout=p),
        lambda p: seq2seq.Seq2Seq(10, 10, dropout=p),
        lambda p: attention.MultiHeadAttention(8, 2, dropout=p),
        lambda p: transformer.EncoderLayer(8, 2, dropout=p),
    ]
    for build in builders:
        with pytest.raises(ValueError, match=f"dropout must be a probability between 0 and 1, got {bad!r}"):
            build(bad)
    with pytest.raises(ValueError, match="dropout_p must be a probability between 0 and 1"):
        attention.scaled_dot_product_attention(torch.zeros(1, 2, 4), torch.zeros(1, 2, 4), torch.zeros(1, 2, 4),
                                               dropout_p=bad)
    for build in builders:  # the edges are allowed, as in torch.nn.Dropout
        build(0.0), build(1.0)
