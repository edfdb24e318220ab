"""seqlib.interpret: attributions against hand computations, finite differences and scipy; clear errors."""
import math

import pytest
import torch
from torch import nn

from seqlib import checks, data
from seqlib.interpret import (AttentionClassifier, adversarial_attention, attention_mass_on, grad_x_input,
                              integrated_gradients, jensen_shannon, leave_one_out, lstm_states,
                              rank_correlation)
from seqlib.transformer import DecoderOnlyLM


def small_model(encoder="none", seed=0):
    torch.manual_seed(seed)
    return AttentionClassifier(9, 3, d_model=6, encoder=encoder).eval()


def test_key_token_task_puts_one_key_at_the_recorded_position():
    d = data.key_token_task(200, 12, num_classes=4, none_fraction=0.25, seed=3)
    keys = (d.x >= 1) & (d.x <= 4)  # ids of A..D
    has = d.meta["position"] >= 0
    assert (keys.sum(1) == has.long()).all()  # exactly one key, or none
    rows = has.nonzero().squeeze(1)
    assert torch.equal(d.x[rows, d.meta["position"][rows]] - 1, d.y[rows])
    assert (d.y[~has] == 4).all() and 0 < (~has).sum() < 200
    assert torch.equal(d.x, data.key_token_task(200, 12, num_classes=4, none_fraction=0.25, seed=3).x)


def test_leave_one_out_matches_a_hand_computation():
    model = small_model("lstm")
    x = torch.tensor([[1, 5, 6, 2], [3, 3, 7, 8]])
    target = torch.tensor([2, 0])
    got = leave_one_out(model, x, target)
    for b in range(2):
        for s in range(4):
            removed = x[b:b + 1].clone()
            removed[0, s] = 0
            with torch.no_grad():
                want = (torch.log_softmax(model(x[b:b + 1]), -1)[0, target[b]]
                        - torch.log_softmax(model(removed), -1)[0, target[b]])
            assert abs(got[b, s].item() - want.item()) < 1e-6


def test_leave_one_out_defaults_to_the_prediction_and_reads_a_language_model_at_a_position():
    model = small_model()
    x = torch.randint(1, 9, (3, 5))
    pred = model(x).argmax(-1)
    assert torch.allclose(leave_one_out(model, x), leave_one_out(model, x, pred))
    torch.manual_seed(0)
    lm = DecoderOnlyLM(10, d_model=8, nhead=2, num_layers=1, dim_feedforward=16, dropout=0.0).eval()
    ids = torch.randint(1, 10, (2, 6))
    scores = leave_one_out(lm, ids, position=2)
    assert scores.shape == (2, 6)
    assert torch.allclose(scores[:, 3:], torch.zeros(2, 3), atol=1e-6)  # causal: later tokens do not matter


def test_grad_x_input_matches_finite_differences():
    model = small_model("lstm").double()
    x = torch.tensor([[1, 5, 6, 2, 4]])
    target = torch.tensor([1])
    got = grad_x_input(model, x, target)
    e = model.embed(x).detach()  # (1, T, D)
    h = 1e-6

    def logp(emb):
        hook = model.embed.register_forward_hook(lambda m, i, o: emb)
        try:
            with torch.no_grad():
                return torch.log_softmax(model(x), -1)[0, 1].item()
        finally:
            hook.remove()

    for s in range(5):  # d/dt log p(e with row s scaled by t) at t = 1 equals sum_d e_sd * grad_sd
        up, down = e.clone(), e.clone()
        up[0, s] *= 1 + h
        down[0, s] *= 1 - h
        assert abs((logp(up) - logp(down)) / (2 * h) - got[0, s].item()) < 1e-6


def test_integrated_gradients_are_complete():
    model = small_model("lstm").double()
    x = torch.randint(1, 9, (4, 6))
    target = torch.tensor([0, 1, 2, 0])
    ig = integrated_gradients(model, x, target, steps=256)
    with torch.no_grad():
        rows = torch.arange(4)
        gap = (torch.log_softmax(model(x), -1)[rows, target]
               - torch.log_softmax(model(torch.zeros_like(x)), -1)[rows, target])  # padding has a zero embedding
    assert torch.allclose(ig.sum(-1), gap, atol=1e-4)


def test_rank_correlation_against_known_values_and_scipy():
    a = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    assert rank_correlation(a, a * 10).item() == pytest.approx(1.0)
    assert rank_correlation(a, -a, "kendall").item() == pytest.approx(-1.0)
    b = torch.tensor([2.0, 1.0, 4.0, 3.0, 5.0])  # 2 discordant pairs of 10: tau = (8 - 2) / 10
    assert rank_correlation(a, b, "kendall").item() == pytest.approx(0.6)
    assert rank_correlation(a, b).item() == pytest.approx(1 - 6 * 4 / (5 * 24))  # Spearman's formula, no ties
    stats = pytest.importorskip("scipy.stats")
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (6, 9), generator=g).float()  # many ties
    y = torch.randint(0, 4, (6, 9), generator=g).float()
    rho = rank_correlation(x, y)
    tau = rank_correlation(x, y, "kendall")
    for i in range(6):
        assert rho[i].item() == pytest.approx(stats.spearmanr(x[i], y[i]).statistic, abs=1e-6)
        assert tau[i].item() == pytest.approx(stats.kendalltau(x[i], y[i]).statistic, abs=1e-6)


def test_attention_mass_and_jensen_shannon():
    w = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.25, 0.25]])
    assert torch.allclose(attention_mass_on(w, torch.tensor([1, 0])), torch.tensor([0.7, 0.5]))
    assert torch.allclose(attention_mass_on(w, torch.tensor([[True, True, False], [False, False, True]])),
                          torch.tensor([0.8, 0.25]))
    p, q = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert jensen_shannon(p, q).item() == pytest.approx(math.log(2))
    assert jensen_shannon(w, w).abs().max().item() < 1e-7


def test_classifier_runs_with_its_own_or_substitute_attention():
    model = small_model("bilstm")
    x = torch.randint(1, 9, (3, 7))
    alpha = model.attention_weights(x)
    assert torch.allclose(alpha.sum(-1), torch.ones(3))
    assert torch.allclose(model(x), model(x, attention=alpha), atol=1e-6)
    other = torch.softmax(torch.randn(3, 7), -1)
    assert not torch.allclose(model(x), model(x, attention=other), atol=1e-3)


def test_adversarial_attention_keeps_the_output_and_moves_far_when_attention_is_irrelevant():
    model = small_model()
    x = torch.randint(1, 9, (5, 6))
    adv, js, tv = adversarial_attention(model, x, epsilon=0.05, steps=50)
    assert torch.allclose(adv.sum(-1), torch.ones(5)) and (tv <= 0.05 + 1e-6).all()
    assert torch.allclose(js, jensen_shannon(adv, model.attention_weights(x)), atol=1e-6)
    with torch.no_grad():
        model.W_out.weight.zero_()  # the output no longer depends on the attention
    adv, js, _ = adversarial_attention(model, x, epsilon=0.05, steps=200, lr=0.5)
    alpha = model.attention_weights(x)
    farthest = torch.nn.functional.one_hot(alpha.argmin(-1), 6).float()  # all weight on the least-weighted token
    assert (adv.max(-1).values > 0.9).all()  # a corner of the simplex: nearly all weight on one token
    assert (js > 0.75 * jensen_shannon(farthest, alpha)).all()  # gradient ascent may stop at a lesser corner


def test_lstm_states_match_nn_lstm():
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 5, batch_first=True)
    x = torch.randn(3, 7, 4)
    h, c = lstm_states(lstm, x)
    out, (h_n, c_n) = lstm(x)
    assert torch.allclose(h, out, atol=1e-6)
    assert torch.allclose(c[:, -1], c_n[0], atol=1e-6)


def test_clear_errors():
    model = small_model()
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[1, 99]]))
    with pytest.raises(ValueError, match="one weight per token"):
        model(torch.tensor([[1, 2]]), attention=torch.ones(1, 3))
    with pytest.raises(ValueError, match="encoder must be one of"):
        AttentionClassifier(9, 3, encoder="gru")
    with pytest.raises(ValueError, match="one class per sequence"):
        leave_one_out(model, torch.tensor([[1, 2]]), torch.tensor([0, 1]))
    lm = DecoderOnlyLM(10, d_model=8, nhead=2, num_layers=1, dim_feedforward=16)
    with pytest.raises(ValueError, match="pass position"):
        leave_one_out(lm, torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="position must index"):
        grad_x_input(lm, torch.tensor([[1, 2]]), position=5)
    with pytest.raises(ValueError, match="no nn.Embedding"):
        grad_x_input(nn.Linear(2, 2), torch.tensor([[1, 2]]))
    with pytest.raises(ValueError, match="same items"):
        rank_correlation(torch.ones(3), torch.ones(4))
    with pytest.raises(ValueError, match="at least 2 items"):
        rank_correlation(torch.ones(1), torch.ones(1))
    with pytest.raises(ValueError, match="'spearman' or 'kendall'"):
        rank_correlation(torch.arange(3.0), torch.arange(3.0), "pearson")
    with pytest.raises(ValueError, match="one position per row"):
        attention_mass_on(torch.ones(2, 3) / 3, torch.tensor([0]))
    with pytest.raises(ValueError, match="must lie in"):
        attention_mass_on(torch.ones(2, 3) / 3, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="one-layer, one-direction"):
        lstm_states(nn.LSTM(2, 2, batch_first=True, bidirectional=True), torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match="none_fraction"):
        data.key_token_task(5, 4, none_fraction=1.0)
    with pytest.raises(ValueError, match="epsilon"):
        adversarial_attention(model, torch.tensor([[1, 2]]), epsilon=0)


def test_check_leave_one_out_accepts_the_reference_and_names_mistakes():
    assert "agree" in checks.check_leave_one_out(lambda m, x, t: leave_one_out(m, x, t))
    with pytest.raises(AssertionError, match="signs are reversed"):
        checks.check_leave_one_out(lambda m, x, t: -leave_one_out(m, x, t))

    def with_probabilities(model, x, target):
        rows = torch.arange(len(x))
        with torch.no_grad():
            base = torch.softmax(model(x), -1)[rows, target]
            out = []
            for s in range(x.shape[1]):
                r = x.clone()
                r[:, s] = 0
                out.append(base - torch.softmax(model(r), -1)[rows, target])
        return torch.stack(out, 1)

    with pytest.raises(AssertionError, match="probabilities"):
        checks.check_leave_one_out(with_probabilities)
    with pytest.raises(AssertionError, match="shape"):
        checks.check_leave_one_out(lambda m, x, t: leave_one_out(m, x, t)[:, :1])


@pytest.mark.parametrize("explain", [leave_one_out, grad_x_input])
def test_a_negative_target_is_rejected_not_read_as_the_last_class(explain):
    model = small_model("lstm")
    x = torch.tensor([[1, 5, 6, 2], [3, 3, 7, 8]])
    with pytest.raises(ValueError, match="target must hold class indices from 0, got -1 at index 1"):
        explain(model, x, torch.tensor([0, -1]))
