"""seqlib.experiments: matched sizes, the causal Transformer's read-out, one run end to end, errors;
and the LSTM parameter-count checker."""
import pytest
import torch
from torch import nn

from seqlib import checks, experiments
from seqlib.experiments import count_parameters, make_model, matched_widths, run
from seqlib.models import CausalTransformer


def test_count_parameters_matches_a_plain_sum_and_pytorch_lstm_formula():
    lstm = nn.LSTM(3, 5)
    assert count_parameters(lstm) == 4 * 5 * (3 + 5) + 8 * 5
    frozen = nn.Linear(4, 2)
    frozen.bias.requires_grad_(False)
    assert count_parameters(frozen) == 8
    with pytest.raises(TypeError, match="nn.Module"):
        count_parameters(torch.zeros(3))


@pytest.mark.parametrize("task", sorted(experiments.TASKS))
def test_matched_widths_give_counts_within_five_percent(task):
    widths = matched_widths(task, 8000)
    counts = {kind: count_parameters(make_model(kind, task, w)) for kind, w in widths.items()}
    assert abs(counts["lstm"] - counts["transformer"]) <= 0.05 * counts["transformer"]
    assert abs(counts["transformer"] - 8000) < 0.3 * 8000


def test_causal_transformer_reads_the_last_real_position_and_ignores_later_padding():
    torch.manual_seed(0)
    model = CausalTransformer(3, 8, 2, tokens=True).eval()
    x = torch.randint(1, 3, (4, 6))
    lengths = torch.tensor([6, 3, 1, 4])
    out = model(x, lengths)  # (4, 2)
    for b in range(4):  # a loop over sequences, each cut at its length, is the reference
        alone = model(x[b:b + 1, :lengths[b]])
        assert torch.allclose(out[b], alone[0], atol=1e-5)
    padded = x.clone()
    padded[1, 3:] = 0
    assert torch.allclose(model(padded, lengths), out, atol=1e-6)


def test_causal_transformer_is_causal_per_step():
    torch.manual_seed(0)
    model = CausalTransformer(2, 8, 3, per_step=True).eval()
    x = torch.randn(2, 7, 2)
    y = x.clone()
    y[:, 4:] = torch.randn(2, 3, 2)  # change the future of position 3
    assert torch.allclose(model(x)[:, :4], model(y)[:, :4], atol=1e-6)
    assert not torch.allclose(model(x)[:, 4:], model(y)[:, 4:])


def test_make_model_output_shapes_for_every_task():
    for name, task in experiments.TASKS.items():
        data = task.make(5, 6, 0)
        for kind in experiments.KINDS:
            model = make_model(kind, name, 8)
            out = model(*([data.x] if data.lengths is None else [data.x, data.lengths]))
            want = tuple(data.y.shape) + (() if task.output_size == 1 else (task.output_size,))
            assert tuple(out.shape) == want, (name, kind)


def test_run_trains_and_tests_at_every_size():
    rows = run("transformer", "parity", 6, 0, test_sizes=(6, 12), steps=5, batch_size=8, n_test=20)
    assert [r["test_size"] for r in rows] == [6, 12]
    assert all(0 <= r["accuracy"] <= 1 and r["parameters"] > 0 for r in rows)
    again = run("transformer", "parity", 6, 0, test_sizes=(6, 12), steps=5, batch_size=8, n_test=20)
    assert [r["accuracy"] for r in rows] == [r["accuracy"] for r in again]  # seeded
    adding = run("lstm", "adding", 6, 1, steps=3, width=4, n_test=20)
    assert "mse" in adding[0] and adding[0]["parameters"] == count_parameters(make_model("lstm", "adding", 4))


def test_errors_name_what_was_expected():
    with pytest.raises(ValueError, match="task must be one of"):
        run("lstm", "sorting", 8, 0)
    with pytest.raises(ValueError, match="kind must be one of"):
        run("gru", "parity", 8, 0)
    with pytest.raises(ValueError, match="multiple of 4"):
        make_model("transformer", "parity", 6)
    with pytest.raises(ValueError, match="size must be at least 1"):
        run("lstm", "parity", 0, 0)
    with pytest.raises(ValueError, match="lengths: a length of 4 exceeds the padded sequence length 3"):
        CausalTransformer(3, 8, tokens=True)(torch.ones(2, 3, dtype=torch.long), torch.tensor([4, 1]))
    with pytest.raises(TypeError, match="must hold integers"):
        CausalTransformer(3, 8, tokens=True)(torch.ones(2, 3))


def test_fit_reads_a_fresh_dataset_every_epoch_when_given_a_function():
    from seqlib import train
    from seqlib.data import SeqData

    asked = []

    def stream(epoch):
        asked.append(epoch)
        g = torch.Generator().manual_seed(epoch)
        x = torch.randn(32, 2, generator=g)
        return SeqData(x, x.sum(1, keepdim=True))

    model = nn.Linear(2, 1)
    train.fit(model, stream, epochs=4, lr=0.05, loss="mse", metrics=(), progress=False)
    assert asked == [1, 2, 3, 4]  # one new dataset per epoch, numbered from 1


def test_converge_trains_on_fresh_data_until_validation_stops_improving():
    rows, history = experiments.converge("lstm", "parity", 8, 0, lr=3e-3, width=8, test_sizes=(8, 16),
                                         round_steps=5, max_rounds=6, patience=2, n_val=50, n_test=50)
    frame = history.frame()
    assert 1 <= history.best_epoch <= len(frame) <= 6
    assert history.best_epoch == int(frame["val_loss"].idxmin()) + 1
    assert len(frame) == 6 or len(frame) - history.best_epoch == 2  # the cap, or patience ran out
    assert [r["test_size"] for r in rows] == [8, 16] and all(0 <= r["accuracy"] <= 1 for r in rows)
    # the same call gives the same run; the training stream, validation and test sets differ
    again, _ = experiments.converge("lstm", "parity", 8, 0, lr=3e-3, width=8, test_sizes=(8, 16),
                                    round_steps=5, max_rounds=6, patience=2, n_val=50, n_test=50)
    assert again == rows
    task = experiments.TASKS["parity"]
    sets = [task.make(50, 8, s).x for s in (20_000, 10_000, 100_001, 100_002, 101_001)]
    assert all(not torch.equal(a, b) for i, a in enumerate(sets) for b in sets[i + 1:])
    with pytest.raises(ValueError, match="max_rounds must be at most 999"):
        experiments.converge("lstm", "parity", 8, 0, lr=1e-3, max_rounds=1000)
    with pytest.raises(ValueError, match="kind must be one of"):
        experiments.converge("gru", "parity", 8, 0, lr=1e-3)
