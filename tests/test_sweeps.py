"""seqlib.sweeps: stored records that a command reproduces, early stopping, the validation split.

Every results file shipped in the package must be complete (a record for every config of its
sweep's grid) and reproducible: a sample of its records is re-run here and must agree to the last
bit under the pinned numerics (the Makefile exports kernel.env to the tests, as to the kernels),
or, for a record made under other numerics, in its recipe and its first epoch
(``sweeps.mismatches``).
"""
import json
import math
from pathlib import Path

import pytest
import torch

from seqlib import forecast, runtime, sweeps, train
from seqlib.data import SeqData, make_windows
from nbval_isolation import KERNEL_ENV

pinned = pytest.mark.skipif(not runtime.numerics_pinned(),
                            reason="stored records reproduce exactly only under the pinned numerics of kernel.env")


def test_seqlib_pins_the_same_numerics_as_kernel_env():
    assert runtime.PINNED_NUMERICS == {k: KERNEL_ENV[k] for k in runtime.PINNED_NUMERICS}
    assert set(runtime.PINNED_NUMERICS) == {"ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA"}


@pytest.mark.parametrize("name", sweeps.SWEEPS)
def test_every_sweep_is_stored_complete_and_well_formed(name):
    stored = sweeps.records(name)
    assert not sweeps.missing(name), f"run `python -m seqlib.sweeps run {name}`"
    assert [r["config"] for r in stored] == sweeps.get(name).configs()  # grid order, one record each
    for r in stored:
        assert r["schema"] == sweeps.SCHEMA and r["pinned"] and r["seed_offset"] == 0
        assert r.get("numerics") in (None, runtime.NUMERICS)  # None: the first pin, Intel's processors only
        assert r["machine"]["cpu_capability"] == "AVX2" and r["machine"]["threads"] == 1
        if r["result"].get("diverged"):  # a run whose loss became infinite: recorded, with no curve
            assert r["best_epoch"] == 0 and sweeps.val_curve(r) == [] and r["result"]["diverged_epoch"] >= 1
            continue
        train_curve = r["curve"]["train_loss"] if "train_loss" in r["curve"] else r["curve"]["train_bits"]
        curve, delta = sweeps.val_curve(r), r["settings"].get("min_delta", 0.0)
        assert len(curve) == len(train_curve) >= r["best_epoch"] >= 1
        # early stopping kept the best epoch: the stored validation loss is the curve's minimum
        # (with min_delta, the last epoch that improved by more than it: within min_delta of it)
        value = r["result"]["val_loss"] if "val_loss" in r["result"] else r["result"]["val_bits"]
        if "val_bits" in r["result"]:
            delta /= math.log(2)  # min_delta is in nats
        assert value == pytest.approx(curve[r["best_epoch"] - 1], rel=1e-4)
        assert min(curve) >= value * (1 - 1e-4) - delta
    frame = sweeps.load(name)
    assert len(frame) == len(stored) and frame["params"].gt(0).all()
    assert (frame["epochs_run"] == [len(sweeps.val_curve(r)) for r in stored]).all()


#: sweeps whose runs take a minute or more, with a partial re-run: (module, function, epochs)
PARTIAL = {"bottleneck": ("bottleneck", "run_one", 2), "warmup": ("transformer", "run_warmup", 1),
           "translation": ("transformer", "run_translation", 2)}


@pinned
@pytest.mark.parametrize("name", sweeps.SWEEPS)
def test_a_sample_of_every_sweep_reproduces(name):
    stored = sorted(sweeps.records(name), key=lambda r: r["seconds"])
    by_model = {}
    for r in stored:
        by_model.setdefault(sweeps.model_key(r["config"]), r)  # the quickest record of each model
    # to keep the suite fast, a model whose quickest record took over 30 s is left to the
    # chapter's own re-run and to the partial re-run below, unless it is the file's quickest and
    # the sweep has no partial re-run (every file is sampled at least once)
    sample = [r for r in by_model.values() if r["seconds"] <= 30 or (r is stored[0] and name not in PARTIAL)]
    for r in sample:
        live = sweeps.rerun(name, r["config"])
        assert sweeps.mismatches(live, r) == [], r["config"]


@pinned
@pytest.mark.parametrize("name", sorted(PARTIAL))
def test_the_first_epochs_of_every_model_of_the_long_sweeps_reproduce(name):
    """A partial re-run: the first epochs of each model's quickest record give the start of its
    stored curve to the last digit (the full runs take a minute or more each); for a record made
    under other numerics, its first epoch within ``sweeps.FIRST_EPOCH_REL``."""
    import importlib

    module, function, epochs = PARTIAL[name]
    run_part = getattr(importlib.import_module(f"seqlib.sweeps.{module}"), function)
    by_model = {}
    for r in sorted(sweeps.records(name), key=lambda r: r["seconds"]):
        if not r["result"].get("diverged"):
            by_model.setdefault(sweeps.model_key(r["config"]), r)
    assert sorted(by_model) == sorted({sweeps.model_key(c) for c in sweeps.get(name).configs()})
    for r in by_model.values():
        part = run_part(r["config"], max_epochs=epochs)
        assert part["params"] == r["params"]
        if sweeps.reproducible(r):
            assert part["curve"] == {k: v[:epochs] for k, v in r["curve"].items()}, r["config"]
        else:
            assert sweeps.first_epoch_differences(part["curve"], r["curve"]) == [], r["config"]


def test_model_key_and_val_curve_read_every_sweep_alike():
    assert sweeps.model_key({"model": "lstm", "lr": 0.01, "seed": 3, "fold": 1}) == (("model", "lstm"),)
    assert sweeps.model_key({"norm": "pre-norm", "warmup": 64, "lr": 0.02, "seed": 0}) == (
        ("norm", "pre-norm"), ("warmup", 64))
    assert sweeps.val_curve({"curve": {"val_loss": [1.0, 0.5]}}) == [1.0, 0.5]
    assert sweeps.val_curve({"curve": {"val_bits": [4.6]}}) == [4.6]
    assert sweeps.val_curve({"curve": {"val_bits": []}}) == []
    assert sweeps.significant(3.14159265) == 3.1416


def test_check_samples_every_model_of_a_sweep_without_a_model_key(monkeypatch):
    from seqlib.sweeps import __main__ as cli

    seen = []
    monkeypatch.setattr(cli, "rerun", lambda name, config: seen.append(config) or
                        next(r for r in sweeps.records(name) if r["config"] == config))
    assert cli.check("warmup", 1) == []
    assert sorted({sweeps.model_key(c) for c in seen}) == sorted({sweeps.model_key(c) for c in sweeps.get("warmup").configs()})
    assert len(seen) == 4  # one per norm placement and warm-up


def test_the_readme_table_of_the_sweeps_is_the_one_the_records_give():
    from seqlib.sweeps.__main__ import table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert table() in readme, "paste `python -m seqlib.sweeps table` into the README's section on stored sweeps"


@pinned
def test_run_resumes_in_grid_order_in_a_fresh_process_and_reproduces(tmp_path):
    first, second = sweeps.get("co2").configs()[:2]
    new = sweeps.run("co2", jobs=1, limit=1, root=tmp_path, log=lambda line: None)
    assert [r["config"] for r in new] == [first]
    assert sweeps.missing("co2", root=tmp_path)[0] == second  # resumes where it stopped
    stored = {json.dumps(r["config"], sort_keys=True): r for r in sweeps.records("co2")}
    assert new[0]["numerics"] == runtime.NUMERICS
    assert sweeps.mismatches(new[0], stored[json.dumps(first, sort_keys=True)]) == []
    assert sweeps.run("co2", limit=1, root=tmp_path, log=lambda line: None)[0]["config"] == second
    assert [r["config"] for r in sweeps.records("co2", root=tmp_path)] == [first, second]


def test_a_terminated_run_stops_its_workers(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    code = f"from seqlib import sweeps; sweeps.run('co2', jobs=1, root={str(tmp_path)!r}, log=lambda line: None)"
    parent = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    children, waited = [], 0.0
    while not children and waited < 60:  # the pool's worker, once it has started
        time.sleep(0.5)
        waited += 0.5
        listing = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
        children = [int(c) for c in listing.read_text().split()] if listing.exists() else []
    assert children, "the run started no worker process"
    parent.send_signal(signal.SIGTERM)
    _, err = parent.communicate(timeout=60)
    assert parent.returncode != 0 and "stopped by signal" in err
    time.sleep(1)
    alive = [c for c in children if Path(f"/proc/{c}").exists() and "zombie" not in Path(f"/proc/{c}/status").read_text()]
    assert not alive, f"worker processes {alive} outlived the terminated run"
    assert not sweeps.records("co2", tmp_path)  # nothing finished, nothing stored


def test_records_reject_foreign_and_broken_lines(tmp_path):
    path = sweeps.results_path("co2", tmp_path)
    path.write_text('{"schema": "other/1", "sweep": "co2", "config": {}}\n')
    with pytest.raises(ValueError, match="line 1: expected a seqlib.sweeps/1 record of sweep 'co2'"):
        sweeps.records("co2", tmp_path)
    path.write_text("not json\n")
    with pytest.raises(ValueError, match="line 1: not a JSON record"):
        sweeps.records("co2", tmp_path)
    path.write_text(json.dumps({"schema": sweeps.SCHEMA, "sweep": "co2", "config": {"model": "gru"}}) + "\n")
    with pytest.raises(ValueError, match="not in the sweep's grid"):
        sweeps.records("co2", tmp_path)
    with pytest.raises(ValueError, match="unknown sweep 'nope'; the sweeps are \\[.*'co2'.*\\]"):
        sweeps.get("nope")
    with pytest.raises(ValueError, match="no records .*`python -m seqlib.sweeps run co2`"):
        sweeps.load("co2", tmp_path / "empty")
    with pytest.raises(ValueError, match="is not in sweep 'co2'"):
        sweeps.rerun("co2", {"model": "lstm", "lr": 0.5, "seed": 0, "fold": 0})


def test_run_refuses_a_seed_offset(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQLIB_SEED_OFFSET", "3")
    with pytest.raises(ValueError, match="unset SEQLIB_SEED_OFFSET"):
        sweeps.run("co2", root=tmp_path)


def test_differences_name_what_differs_and_ignore_seconds_and_machine():
    a = {"sweep": "s", "config": {"lr": 0.1}, "curve": {"val_loss": [1.0, 0.5]}, "result": {"mae": 0.25},
         "seconds": 3, "machine": {"cpu": "x"}}
    b = json.loads(json.dumps(a)) | {"seconds": 9, "machine": {"cpu": "y"}}
    assert sweeps.same(a, b)
    b["curve"]["val_loss"][1] = 0.5000001
    b["result"]["mae"] = 0.3
    assert sweeps.differences(a, b) == ["curve.val_loss[1]: 0.5 against 0.5000001", "result.mae: 0.25 against 0.3"]
    assert sweeps.differences(a, b, rel=0.3) == []
    b["curve"]["val_loss"].append(0.1)
    assert sweeps.differences(a, b)[0] == "curve.val_loss: 2 values against 3"


def test_mismatches_demand_every_bit_only_of_a_record_made_under_the_pinned_numerics(monkeypatch):
    stored = {"sweep": "s", "config": {"lr": 0.1}, "settings": {"epochs": 9}, "params": 10,
              "curve": {"val_loss": [1.0, 0.5]}, "result": {"mae": 0.25}}
    live = json.loads(json.dumps(stored))
    live["curve"]["val_loss"] = [1.04, 0.4]  # a first epoch within 5%, then a trajectory of its own
    live["result"]["mae"] = 0.3
    monkeypatch.setattr(runtime, "numerics_pinned", lambda: True)
    old, new = stored, stored | {"numerics": runtime.NUMERICS}
    assert not sweeps.reproducible(old) and sweeps.reproducible(new)
    assert sweeps.mismatches(live, old) == []
    assert sweeps.mismatches(live, new) == sweeps.differences(live, new) != []
    live["curve"]["val_loss"][0] = 1.06  # the first epoch off by 6%: another recipe
    assert sweeps.mismatches(live, old) == ["curve.val_loss[0]: 1.06 against 1.0"]
    live["curve"]["val_loss"][0], live["curve"]["val_accuracy"] = 1.0, [0.9]  # accuracies are not compared
    assert sweeps.mismatches(live, old | {"curve": old["curve"] | {"val_accuracy": [0.5]}}) == []
    assert sweeps.mismatches(live | {"params": 11}, old)[0] == "params: 11 against 10"
    monkeypatch.setenv("SEQLIB_SEED_OFFSET", "5")
    assert not sweeps.reproducible(new)
    monkeypatch.delenv("SEQLIB_SEED_OFFSET")
    monkeypatch.setattr(runtime, "numerics_pinned", lambda: False)
    assert not sweeps.reproducible(new)


def _toy(seed=0):
    g = runtime.generator(seed)
    x = torch.randn(64, 3, generator=g)
    return SeqData(x, x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(64, 1, generator=g))


def test_fit_with_min_delta_counts_only_real_improvements():
    """A model that has found its minimum keeps gaining crumbs; min_delta stops it sooner, keeping
    the last epoch that improved by more than min_delta."""
    runs = {}
    for delta in (0.0, 0.05):
        runtime.seed_everything(0)
        model = torch.nn.Linear(3, 1)
        runs[delta] = train.fit(model, _toy(0), val=_toy(1), epochs=300, lr=0.05, loss="mse", metrics=(),
                                patience=5, min_delta=delta, progress=False)
    plain, coarse = runs[0.0].frame()["val_loss"], runs[0.05].frame()["val_loss"]
    assert len(coarse) < len(plain)
    assert plain[: len(coarse)].tolist() == coarse.tolist()  # the same run, stopped sooner
    kept = coarse[runs[0.05].best_epoch - 1]
    assert all(v >= kept - 0.05 for v in coarse[runs[0.05].best_epoch:])  # nothing after it gained 0.05
    for bad in ({"val": _toy(1), "patience": 3}, {}):  # checked with or without early stopping
        with pytest.raises(ValueError, match="min_delta must be a number >= 0, got -1"):
            train.fit(model, _toy(0), min_delta=-1, **bad)


def test_fit_with_patience_stops_and_keeps_the_best_epoch():
    runtime.seed_everything(0)
    model = torch.nn.Linear(3, 1)
    log = train.fit(model, _toy(0), val=_toy(1), epochs=300, lr=0.3, loss="mse", metrics=(), patience=5,
                    progress=False)
    curve = log.frame()["val_loss"]
    assert len(log) < 300 and log.best_epoch == int(curve.idxmin()) + 1
    assert len(log) - log.best_epoch == 5  # stopped after 5 epochs without improvement
    after = train.evaluate(model, _toy(1), loss="mse", metrics=())["loss"]
    assert after == pytest.approx(curve.min(), rel=1e-6)  # the best epoch's weights, not the last
    with pytest.raises(ValueError, match="pass val="):
        train.fit(model, _toy(0), patience=3)
    with pytest.raises(ValueError, match="patience must be at least 1, got 0"):
        train.fit(model, _toy(0), val=_toy(1), patience=0)


def test_split_windows_leaves_no_shared_target():
    values = torch.arange(60.0)
    x, y = make_windows(values, 10, 4)  # window i: inputs i .. i+9, targets i+10 .. i+13
    x_train, y_train, x_val, y_val = forecast.split_windows(x, y, 5)
    assert len(x_val) == 5 and torch.equal(x_val, x[-5:])
    assert y_train.max() < y_val.min()  # every training target comes before every validation target
    assert y_train.max() == y_val.min() - 1  # and no window more than needed was dropped
    with pytest.raises(ValueError, match="leave no training window beside 45 validation windows"):
        forecast.split_windows(x, y, 45)


def test_train_forecaster_fits_linear_by_least_squares_on_the_training_windows_only():
    y = torch.sin(torch.arange(120.0) / 3) + torch.arange(120.0) / 50
    model, log, val_loss = forecast.train_forecaster("linear", y, 12, 3, val_windows=10)
    assert log is None and val_loss < 1e-3  # a sine plus a line is a linear recurrence
    model, log, val_loss = forecast.train_forecaster("lstm", y, 12, 3, val_windows=10, epochs=30, patience=5,
                                                     hidden_size=4)
    assert 1 <= log.best_epoch <= len(log) <= 30
