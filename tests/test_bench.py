"""seqlib.bench: the measurements of Chapter 8 and their command line.

Exact quantities (parameters, saved bytes, state sizes, graph depth) are checked against
formulas and loops; timings only for their form. A tiny run of the command line must write a
file that follows the documented schema, and bad flags must fail with a clear message.
"""
import json
import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from seqlib import bench, checks, recurrent, transformer

TINY = ["--d-model", "16", "--nhead", "2", "--num-layers", "1", "--batch", "2", "--repeats", "2", "--warmup", "0",
        "--train-t", "8,16", "--attention-t", "8,16", "--memory-t", "8,16", "--contexts", "4,8", "-q"]


def count(m):
    return sum(p.numel() for p in m.parameters())


def test_lm_pair_matches_parameters_and_the_width_formula():
    lstm, tf = bench.lm_pair(vocab_size=50, d_model=32, num_layers=2, nhead=4, max_len=64)
    assert abs(count(lstm) - count(tf)) / count(tf) < 0.02
    H = lstm.rnn.hidden_size
    assert count(lstm) == 50 * H + 2 * (8 * H * H + 8 * H) + H * 50 + 50  # the formula of matched_lstm_width
    x = torch.randint(1, 50, (2, 7))
    assert lstm(x).shape == tf(x).shape == (2, 7, 50)


@pytest.mark.parametrize("params,V,L", [(1000, 10, 1), (108_352, 64, 2), (10 ** 6, 100, 3)])
def test_matched_lstm_width_is_the_closest(params, V, L):
    H = bench.matched_lstm_width(params, V, L)

    def total(h):
        return V * h + L * (8 * h * h + 8 * h) + h * V + V

    assert abs(total(H) - params) <= min(abs(total(H - 1) - params), abs(total(H + 1) - params))


def test_timeit_reports_median_and_spread():
    calls = []
    r = bench.timeit(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and r["repeats"] == 5
    assert r["min_s"] <= r["median_s"] <= r["max_s"] and r["iqr_s"] >= 0
    with pytest.raises(TypeError, match="callable"):
        bench.timeit(3)
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        bench.timeit(lambda: None, repeats=0)


def test_saved_bytes_counts_each_storage_once():
    x = torch.randn(100, requires_grad=True)
    assert bench.saved_bytes(lambda: (x * x).sum()) == 400  # x saved twice, one storage
    assert bench.saved_bytes(lambda: x.sum()) == 0  # a sum saves nothing
    assert bench.saved_bytes(lambda: torch.exp(x)) == 400  # exp saves its output


def test_naive_attention_saves_the_score_matrix_and_sdpa_does_not():
    naive = [bench.activation_bytes("naive", T, d_model=16, heads=2)["saved_bytes"] for T in (64, 128, 256)]
    sdpa = [bench.activation_bytes("sdpa", T, d_model=16, heads=2)["saved_bytes"] for T in (64, 128, 256)]
    lstm = [bench.activation_bytes("lstm", T, d_model=16)["saved_bytes"] for T in (64, 128, 256)]
    # the (h, T, T) weights in float32 are among the saved tensors of the naive version
    assert naive[-1] >= 2 * 256 * 256 * 4
    assert 1.7 < bench.fit_exponent((64, 128, 256), naive) < 2.1
    assert 0.9 < bench.fit_exponent((64, 128, 256), sdpa) < 1.1
    assert lstm[2] - lstm[1] == 2 * (lstm[1] - lstm[0])  # linear (plus the weights, saved once)
    assert bench.activation_bytes("sdpa", 8)["peak_bytes"] is None  # no peak counter on the CPU
    with pytest.raises(ValueError, match="'naive' or 'sdpa'"):
        bench.activation_bytes("flash", 8)


def test_state_bytes_are_the_formulas():
    lstm, tf = bench.lm_pair(vocab_size=20, d_model=16, num_layers=2, nhead=2, max_len=64)
    H = lstm.rnn.hidden_size
    for t in (1, 5, 9):
        assert bench.state_bytes(lstm, t) == 2 * 2 * H * 4  # (h, c) per layer, float32
        assert bench.state_bytes(tf, t) == 2 * 2 * t * 16 * 4  # a key and a value per layer and position


def test_generation_matches_the_models_own_generation():
    """The timed loop generates what DecoderOnlyLM.generate would: the cache restarts at the context each run."""
    torch.manual_seed(0)
    _, tf = bench.lm_pair(vocab_size=20, d_model=16, num_layers=1, nhead=2, max_len=64)
    r = bench.generation_latency(tf, 6, new_tokens=3, repeats=2, warmup=1)
    assert r["state_bytes"] == 2 * 6 * 16 * 4 and r["median_s"] > 0
    with pytest.raises(TypeError, match="language model"):
        bench.generation_latency(nn.Linear(2, 2), 4)


def test_graph_depth_grows_with_length_for_the_lstm_only():
    torch.manual_seed(0)
    lstm = recurrent.LSTM(4, 4)
    enc = transformer.Encoder(1, 4, 2, 8, dropout=0.0, norm_first=True)
    d_lstm, d_tf = [], []
    for T in (4, 8, 16):
        x = torch.randn(1, T, 4, requires_grad=True)
        d_lstm.append(bench.graph_depth(lstm(x)[0]))
        d_tf.append(bench.graph_depth(enc(x, is_causal=True)))
    assert d_lstm[2] - d_lstm[1] == 2 * (d_lstm[1] - d_lstm[0])  # a fixed number of operations per step
    assert d_tf[0] == d_tf[1] == d_tf[2]
    # a chain of n additions has depth n (+1 for the leaf's accumulator)
    x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(10):
        y = y + 1
    assert bench.graph_depth(y) == 11
    with pytest.raises(ValueError, match="grad_fn"):
        bench.graph_depth(torch.ones(3))


def test_fit_exponent():
    assert math.isclose(bench.fit_exponent([1, 2, 4, 8], [3, 12, 48, 192]), 2.0)
    with pytest.raises(ValueError, match="positive"):
        bench.fit_exponent([0, 1], [1, 2])
    with pytest.raises(ValueError, match="same length"):
        bench.fit_exponent([1, 2], [1])


def test_cli_tiny_run_writes_a_valid_file(tmp_path):
    out = tmp_path / "r.json"
    proc = subprocess.run([sys.executable, "-m", "seqlib.bench", *TINY, "-o", str(out), "--label", "tiny"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no warnings (e.g. about running a module already imported)
    results = bench.validate_results(json.loads(out.read_text()))
    assert results["label"] == "tiny" and results["machine"]["device"] == "cpu"
    assert results["machine"]["threads"] == 1 and results["machine"]["torch"] == torch.__version__.split("+")[0]
    kinds = {(r["experiment"], r["model"]) for r in results["measurements"]}
    assert kinds == {("train_step", "lstm"), ("train_step", "transformer"), ("attention_time", "naive"),
                     ("attention_time", "sdpa"), ("activation_memory", "naive"), ("activation_memory", "sdpa"),
                     ("activation_memory", "lstm"), ("generation", "lstm"), ("generation", "transformer")}
    assert len(results["measurements"]) == 2 * 2 + 2 * 2 + 2 * 3 + 2 * 2


def test_main_in_process_with_only(tmp_path):
    out = tmp_path / "m.json"
    results = bench.main([*TINY, "--only", "activation_memory", "-o", str(out)])
    assert {r["experiment"] for r in results["measurements"]} == {"activation_memory"}
    assert json.loads(out.read_text())["settings"]["d_model"] == 16


@pytest.mark.parametrize("flags,message", [
    (["--train-t", "8,x"], "comma-separated whole numbers"),
    (["--contexts", "1"], "at least 2"),
    (["--repeats", "0"], "positive whole number"),
    (["--device", "tpu"], "invalid choice"),
    (["--only", "speed"], "subset of train_step"),
    (["--d-model", "10", "--nhead", "4"], "divisible by --nhead"),
    (["--warmup", "-1"], "--warmup must be 0 or more"),
])
def test_bad_flags_give_clear_errors(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(flags)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without a GPU")
def test_cuda_without_a_gpu_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--device", "cuda"])
    assert "torch.cuda.is_available() is False" in capsys.readouterr().err


def test_validate_results_names_what_is_wrong():
    with pytest.raises(ValueError, match="'schema' must be"):
        bench.validate_results({"schema": "other"})
    good = {"schema": bench.SCHEMA, "label": "x", "settings": {}, "models": {},
            "machine": {k: 1 for k in ("device", "device_name", "threads", "torch", "python", "date")},
            "measurements": [{"experiment": "generation", "model": "lstm", "context": 4}]}
    with pytest.raises(ValueError, match=r"measurement 0 \(generation\) lacks \['median_s'"):
        bench.validate_results(good)
    good["measurements"] = [{"experiment": "speed"}]
    with pytest.raises(ValueError, match="experiment 'speed'"):
        bench.validate_results(good)


def test_shipped_results_load_and_are_labelled():
    shipped = bench.load_results()
    assert shipped, "seqlib/bench_results/ ships no results file (pyproject's package-data?)"
    for results in shipped:
        assert results["machine"]["device_name"] and results["machine"]["date"]
    assert all(r["machine"]["device"] == "cpu" for r in bench.load_results("cpu"))
    with pytest.raises(ValueError, match="device must be"):
        bench.load_results("gpu")


def test_check_lstm_params_accepts_the_formula_and_names_slips():
    def right(I, H, L):
        return 4 * (H * I + H * H) + 8 * H + (L - 1) * (4 * 2 * H * H + 8 * H)

    assert "agree" in checks.check_lstm_params(right)
    with pytest.raises(AssertionError, match="one bias per gate"):
        checks.check_lstm_params(lambda I, H, L: right(I, H, L) - 4 * H * L)
    with pytest.raises(AssertionError, match="every layer reading input_size"):
        checks.check_lstm_params(lambda I, H, L: L * (4 * (H * I + H * H) + 8 * H))
    with pytest.raises(AssertionError, match="expected an int"):
        checks.check_lstm_params(lambda I, H, L: "many")


def test_whole_layers_at_matched_size_keep_linear_memory_and_the_lstm_keeps_more():
    rows = {kind: [bench.layer_activation_bytes(kind, T, d_model=32, heads=4) for T in (128, 256, 512)]
            for kind in ("transformer", "lstm")}
    tf, lstm = rows["transformer"], rows["lstm"]
    assert tf[0]["params"] == 12 * 32**2 + 13 * 32  # a pre-norm layer: attention, 4d feed-forward, two norms
    assert abs(lstm[0]["params"] / tf[0]["params"] - 1) < 0.03 and lstm[0]["width"] == 39
    for r in (tf, lstm):  # fused attention keeps no T x T matrix: memory linear in T
        assert 1.6 < r[2]["saved_bytes"] / r[1]["saved_bytes"] < 2.2
    assert all(b["saved_bytes"] > a["saved_bytes"] for a, b in zip(tf, lstm))
    with pytest.raises(ValueError, match="kind must be 'transformer' or 'lstm', got 'gru'"):
        bench.layer_activation_bytes("gru", 8)
    with pytest.raises(ValueError, match="d_model=30 must be divisible by heads=4"):
        bench.layer_activation_bytes("lstm", 8, d_model=30)
