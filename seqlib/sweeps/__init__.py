"""Stored sweeps: experiments too long for a chapter, run once by a command, shipped as records.

A verdict that rests on trained models needs more training than a chapter can do in three
minutes: many seeds, a learning rate tuned per model, training until the validation loss stops
improving. A **sweep** declares such a grid once; every point of the grid (a *config*) is one
training run, and every run leaves one **record**:

    {"sweep": "co2", "config": {"model": "lstm", "lr": 0.003, "seed": 0, "fold": 2},
     "params": 4072, "curve": {"train_loss": [...], "val_loss": [...]}, "best_epoch": 87,
     "result": {"val_loss": ..., "test_mae": ...}, "seconds": 6.1, "machine": {...}}

The records of a sweep live in ``seqlib/sweeps/results/<name>.jsonl`` (one JSON object per
line), inside the package, so a chapter opened alone in Colab has them. The command

    python -m seqlib.sweeps run co2 --jobs 2     run what is missing, in parallel, resumable
    python -m seqlib.sweeps status co2           how many records exist, how long they took
    python -m seqlib.sweeps check co2 --sample 2 re-run a few stored records and compare

runs each config in a fresh process with one thread and the book's pinned CPU numerics
(:data:`seqlib.runtime.PINNED_NUMERICS`), and stores their name with the record (its
``"numerics"``), so a record re-run on any x86-64 machine with AVX2 under the same numerics
gives the same numbers to the last bit; :func:`same` says whether two records agree (the
seconds and the machine are allowed to differ, nothing else), and :func:`reproducible` whether
a re-run here must give a record back exactly. A record made under other numerics (the book's
first records were made under an earlier pin, reproducible on Intel's processors only) is
re-run as a fresh run of the same recipe: the same data, model and parameter count, a first
epoch within a relative :data:`FIRST_EPOCH_REL` (5%), and from there a trajectory of its own.

In a chapter::

    frame = sweeps.load("co2")             # one row per record, the config's keys as columns
    live = sweeps.rerun("co2", config)     # train one config again, here and now
    if sweeps.reproducible(stored):        # the pinned numerics, here and in the record
        assert sweeps.same(live, stored)   # exactly

The sweeps (``SWEEPS``): ``bottleneck`` (Chapter 4: encoder-decoders with and without attention,
learning rates and seeds, each trained until its validation loss stops improving); ``warmup`` and
``translation`` (Chapter 6: norm placement and warm-up on a character model, and the Transformer
against the LSTM with attention on Chapter 4's task, trained the same way); ``co2`` (Chapter 9: forecasting a real series, the LSTM against
the Transformer, learning rates and seeds); ``long_range`` (Chapter 7: the four long-range tasks,
learning rates and seeds, each run trained until its validation loss stops improving or a step cap) and
``long_range_longer`` (the cells its cap stopped, again with five times the cap); ``after_both``
(Chapter 11: an LSTM, a Transformer, linear attention and Mamba on selective copying and
associative recall, trained the same way).
"""
from __future__ import annotations

import json
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

__all__ = ["Sweep", "SWEEPS", "significant", "model_key", "val_curve", "get", "results_path", "records", "load", "missing", "rerun", "same", "differences",
           "reproducible", "mismatches", "first_epoch_differences", "FIRST_EPOCH_REL", "run", "SCHEMA", "COMPARED"]

SCHEMA = "seqlib.sweeps/1"
RESULTS = Path(__file__).resolve().parent / "results"
# What must agree between a stored record and a re-run of its config; seconds and machine may differ.
COMPARED = ("sweep", "config", "settings", "params", "curve", "best_epoch", "result")


@dataclass(frozen=True)
class Sweep:
    """A declared grid of training runs.

    Attributes:
        name: the sweep's name (its results file is ``results/<name>.jsonl``).
        description: one line: what it measures, for which chapter.
        configs: ``configs() -> list of dict``, every point of the grid, in a fixed order.
        run_one: ``run_one(config) -> dict`` with the keys ``settings``, ``params``, ``curve``,
            ``best_epoch`` and ``result`` (JSON-serialisable), computed from the config alone.
    """

    name: str
    description: str
    configs: Callable[[], list]
    run_one: Callable[[dict], dict]


def significant(x: float, digits: int = 5) -> float:
    """``x`` to ``digits`` significant digits: how records store learning curves, which are drawn,
    not compared to the last digit (the final results keep every digit)."""
    return float(f"{x:.{digits}g}")


def model_key(config: dict) -> tuple:
    """What a sweep compares in ``config``: everything but the learning rate, the seed and the fold
    (``{"model": "lstm", "lr": 0.01, "seed": 3}`` -> ``(("model", "lstm"),)``)."""
    return tuple((k, v) for k, v in config.items() if k not in ("lr", "seed", "fold"))


def val_curve(record: dict) -> list:
    """A record's validation curve, one value per epoch: the loss in nats (``val_loss``), or in bits
    (``val_bits``) for the language-model sweeps; empty for a run whose loss became infinite."""
    curve = record["curve"]
    return curve["val_loss"] if "val_loss" in curve else curve.get("val_bits", [])


def _registry() -> dict:
    from . import after_both, bottleneck, forecasting, long_range, transformer

    return {s.name: s for s in (bottleneck.BOTTLENECK, transformer.WARMUP, transformer.TRANSLATION, forecasting.CO2,
                                long_range.LONG_RANGE, long_range.LONG_RANGE_LONGER, after_both.AFTER_BOTH)}


SWEEPS = ("bottleneck", "warmup", "translation", "co2", "long_range", "long_range_longer", "after_both")


def get(name: str) -> Sweep:
    """The sweep called ``name``, or an error listing the sweeps there are."""
    sweeps = _registry()
    if name not in sweeps:
        raise ValueError(f"unknown sweep {name!r}; the sweeps are {sorted(sweeps)}")
    return sweeps[name]


def results_path(name: str, root: Path | None = None) -> Path:
    """Where the records of sweep ``name`` are stored (``root``: another folder, for tests)."""
    get(name)
    return Path(root or RESULTS) / f"{name}.jsonl"


def _key(config: dict) -> str:
    return json.dumps(config, sort_keys=True)


def records(name: str, root: Path | None = None) -> list:
    """Every stored record of sweep ``name``, in the sweep's grid order (an empty list if none)."""
    path = results_path(name, root)
    if not path.exists():
        return []
    found = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}, line {number}: not a JSON record ({err})") from None
        if record.get("schema") != SCHEMA or record.get("sweep") != name or "config" not in record:
            raise ValueError(f"{path}, line {number}: expected a {SCHEMA} record of sweep {name!r}, "
                             f"got schema {record.get('schema')!r}, sweep {record.get('sweep')!r}")
        found[_key(record["config"])] = record  # a later record of the same config replaces an earlier one
    order = {_key(c): i for i, c in enumerate(get(name).configs())}
    stray = [k for k in found if k not in order]
    if stray:
        raise ValueError(f"{path} holds {len(stray)} records whose config is not in the sweep's grid, "
                         f"e.g. {stray[0]}; re-run the sweep or remove them")
    return sorted(found.values(), key=lambda r: order[_key(r["config"])])


def load(name: str, root: Path | None = None) -> pd.DataFrame:
    """The records of sweep ``name`` as a DataFrame: one row per record, with the config's keys,
    ``params``, ``best_epoch``, ``epochs_run``, ``seconds``, the result's keys, and ``record``
    (the whole record, for curves)."""
    rows = []
    for r in records(name, root):
        rows.append({**r["config"], "params": r["params"], "best_epoch": r["best_epoch"],
                     "epochs_run": len(val_curve(r)), "seconds": r["seconds"],
                     **r["result"], "record": r})
    if not rows:
        raise ValueError(f"sweep {name!r} has no records in {results_path(name, root)}; "
                         f"run `python -m seqlib.sweeps run {name}`")
    return pd.DataFrame(rows)


def missing(name: str, root: Path | None = None) -> list:
    """The configs of sweep ``name`` that have no stored record yet, in grid order."""
    done = {_key(r["config"]) for r in records(name, root)}
    return [c for c in get(name).configs() if _key(c) not in done]


def _machine() -> dict:
    import platform

    import torch

    from ..bench.results import _cpu_name

    return {"cpu": _cpu_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": torch.get_num_threads(), "torch": torch.__version__.split("+")[0],
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


def rerun(name: str, config: dict) -> dict:
    """Run one config of sweep ``name`` here (one thread) and return its record.

    The record reproduces the stored one exactly only under the pinned numerics and with no
    seed offset (see :func:`same`); elsewhere it is a fresh run of the same recipe.
    """
    import torch

    sweep = get(name)
    if _key(config) not in {_key(c) for c in sweep.configs()}:
        raise ValueError(f"config {config} is not in sweep {name!r}'s grid")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        out = sweep.run_one(dict(config))
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    from ..runtime import NUMERICS, numerics_pinned, seed_offset

    pinned = numerics_pinned()
    return {"schema": SCHEMA, "sweep": name, "config": dict(config), **out, "seconds": round(seconds, 2),
            "machine": _machine(), "pinned": pinned, "numerics": NUMERICS if pinned else None,
            "seed_offset": seed_offset()}


def reproducible(record: dict) -> bool:
    """Whether re-running ``record``'s config here must give the record back to the last bit.

    True when this process runs the book's pinned numerics with no seed offset and the record
    was made under the same numerics (its ``"numerics"`` is :data:`seqlib.runtime.NUMERICS`).
    """
    from ..runtime import NUMERICS, numerics_pinned, seed_offset

    return numerics_pinned() and seed_offset() == 0 and record.get("numerics") == NUMERICS


def differences(a: dict, b: dict, rel: float = 0.0) -> list:
    """Where records ``a`` and ``b`` differ, as readable lines (empty when they agree).

    Numbers must be equal (``rel=0``), or within a relative ``rel`` of each other.
    """
    out = []

    def walk(x, y, where):
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                if k not in x or k not in y:
                    out.append(f"{where}.{k}: only in {'the first' if k in x else 'the second'}")
                else:
                    walk(x[k], y[k], f"{where}.{k}")
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                out.append(f"{where}: {len(x)} values against {len(y)}")
            else:
                for i, (u, v) in enumerate(zip(x, y)):
                    walk(u, v, f"{where}[{i}]")
        elif isinstance(x, (int, float)) and isinstance(y, (int, float)) and not isinstance(x, bool):
            if not (x == y or (rel > 0 and math.isclose(x, y, rel_tol=rel))):
                out.append(f"{where}: {x!r} against {y!r}")
        elif x != y:
            out.append(f"{where}: {x!r} against {y!r}")

    for key in COMPARED:
        walk(a.get(key), b.get(key), key)
    return out


#: The relative tolerance within which a re-run under other numerics must match a record's first
#: epoch. One epoch amplifies a last-bit difference into at most about 1% on the stored sweeps.
FIRST_EPOCH_REL = 0.05


def mismatches(live: dict, stored: dict) -> list:
    """Where a re-run ``live`` fails to give back ``stored``, as readable lines (empty: it agrees).

    Where :func:`reproducible` says the record must come back exactly, every compared number
    must be equal. Otherwise (a record made under other numerics) the recipe must be the same
    (sweep, config, settings, parameter count) and the first epoch of every loss curve within a
    relative :data:`FIRST_EPOCH_REL`: one epoch amplifies a last-bit difference by less, while
    another data set, model or initialisation would mostly show.
    """
    if reproducible(stored):
        return differences(live, stored)
    out = [f"{k}: {live.get(k)!r} against {stored.get(k)!r}" for k in ("sweep", "config", "settings", "params")
           if live.get(k) != stored.get(k)]
    return out + first_epoch_differences(live.get("curve", {}), stored.get("curve", {}))


def first_epoch_differences(a: dict, b: dict) -> list:
    """Where the first epochs of two records' loss curves (``*loss``, ``*bits``) differ by more than
    a relative :data:`FIRST_EPOCH_REL`. Accuracies are left out: a count of hits on a small
    validation split moves in coarse steps (one record's 0.375 came back as 0.3965 while its
    losses moved by under 2%)."""
    first = [{"curve": {k: v[:1] for k, v in c.items() if k.endswith(("loss", "bits"))}} for c in (a, b)]
    return differences(*first, rel=FIRST_EPOCH_REL)


def same(a: dict, b: dict) -> bool:
    """Whether two records of one config agree in everything but their seconds and machine."""
    return not differences(a, b)


def _work(item):
    name, config = item
    return rerun(name, config)


def _write(name: str, found: list, root: Path | None) -> Path:
    path = results_path(name, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = {_key(c): i for i, c in enumerate(get(name).configs())}
    found = sorted(found, key=lambda r: order[_key(r["config"])])
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in found))
    tmp.replace(path)
    return path


def run(name: str, jobs: int = 1, limit: int | None = None, root: Path | None = None,
        log: Callable[[str], None] = print) -> list:
    """Run the configs of sweep ``name`` that have no record yet; return the new records.

    Each config runs in a fresh process (``jobs`` at once) with one thread and the pinned
    numerics; each finished record is appended to the results file at once, so an interrupted
    sweep resumes where it stopped. At the end the file is rewritten in grid order. Interrupted
    (Ctrl-C, or SIGTERM), it stops its worker processes before it exits.
    """
    import multiprocessing

    from ..runtime import PINNED_NUMERICS, seed_offset

    if seed_offset():
        raise ValueError("a stored sweep records the seeds it declares: unset SEQLIB_SEED_OFFSET to run it")
    todo = missing(name, root)[:limit]
    if not todo:
        log(f"{name}: every record is stored ({results_path(name, root)})")
        return []
    # Children inherit this environment: one thread and the pinned numerics, read when torch loads.
    os.environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **PINNED_NUMERICS})
    path = results_path(name, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    new, start = [], time.perf_counter()

    def stop(signum, frame):  # a terminated run stops its workers too (leaving the pool terminates them)
        raise SystemExit(f"{name}: stopped by signal {signum}; {len(new)} new records are stored, run again to resume")

    previous = signal.signal(signal.SIGTERM, stop) if threading.current_thread() is threading.main_thread() else None
    try:
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            for record in pool.imap_unordered(_work, [(name, c) for c in todo]):
                if not record["pinned"]:
                    raise RuntimeError("a sweep worker ran without the pinned numerics; "
                                       "see seqlib.runtime.PINNED_NUMERICS")
                with path.open("a") as f:
                    f.write(json.dumps(record, sort_keys=True) + "\n")
                new.append(record)
                log(f"{name}: {len(new)}/{len(todo)} {record['config']} {record['seconds']:.1f} s "
                    f"({time.perf_counter() - start:.0f} s so far)")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    _write(name, records(name, root), root)
    return new
