"""The whole run (:func:`run`), the results file's schema, and the files shipped with seqlib.

See :mod:`seqlib.bench` for the schema.
"""
from __future__ import annotations

import datetime
import json
import platform
from importlib import resources
from pathlib import Path

import torch

from .._validate import check_int
from ..runtime import seed_everything
from ..experiments import count_parameters
from .cost import activation_bytes, attention_time, generation_latency, train_step_time
from .models import lm_pair


SCHEMA = "seqlib.bench/1"


EXPERIMENTS = ("train_step", "attention_time", "activation_memory", "generation")


# The defaults of the command line: larger than the chapter's sizes, about a minute on one CPU thread.
DEFAULTS = dict(vocab_size=64, d_model=128, num_layers=2, nhead=4, batch=16, repeats=5, warmup=1,
                train_T=(64, 128, 256, 512), attention_T=(256, 512, 1024, 2048),
                memory_T=(256, 512, 1024, 2048, 4096), contexts=(64, 256, 1024, 2048))


# ``--large``: for a GPU (or a patient CPU).
LARGE = dict(d_model=256, num_layers=4, nhead=8, batch=32, train_T=(128, 256, 512, 1024, 2048),
             attention_T=(512, 1024, 2048, 4096, 8192), memory_T=(512, 1024, 2048, 4096, 8192, 16384),
             contexts=(128, 512, 2048, 4096, 8192))


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info(device="cpu") -> dict:
    """Where a measurement was taken: device, its name, threads, versions, date (the file's ``machine``)."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    return {"device": device.type,
            "device_name": torch.cuda.get_device_name(device) if cuda else _cpu_name(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__.split("+")[0],
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "cuda": torch.version.cuda if cuda else None,
            "date": datetime.date.today().isoformat()}


def run(vocab_size: int = 64, d_model: int = 128, num_layers: int = 2, nhead: int = 4, batch: int = 16,
        train_T=DEFAULTS["train_T"], attention_T=DEFAULTS["attention_T"], memory_T=DEFAULTS["memory_T"],
        contexts=DEFAULTS["contexts"], repeats: int = 5, warmup: int = 1, device="cpu", label: str = "",
        note: str = "", experiments=EXPERIMENTS, log=None) -> dict:
    """Run the chapter's measurements at the given sizes and return the results dict (see the module docstring).

    ``experiments`` picks a subset of ``("train_step", "attention_time", "activation_memory",
    "generation")``; ``log`` is called with a line of progress per measurement (e.g. ``print``).
    """
    device = torch.device(device)
    for name, sizes in (("train_T", train_T), ("attention_T", attention_T), ("memory_T", memory_T),
                        ("contexts", contexts)):
        for s in sizes:
            check_int(s, f"every size in {name}", minimum=2)
    unknown = set(experiments) - set(EXPERIMENTS)
    if unknown:
        raise ValueError(f"experiments must be among {EXPERIMENTS}, got {sorted(unknown)}")
    log = log or (lambda line: None)
    max_len = max([*train_T, *contexts, 2]) + 64
    seed_everything(0)
    lstm, transformer = lm_pair(vocab_size, d_model, num_layers, nhead, max_len=max_len, device=device)
    models = {"lstm": lstm, "transformer": transformer}
    results = {"schema": SCHEMA, "label": label or f"{device.type}-{torch.get_num_threads()}thread",
               "note": note, "machine": machine_info(device),
               "settings": {"vocab_size": vocab_size, "d_model": d_model, "num_layers": num_layers, "nhead": nhead,
                            "batch": batch, "repeats": repeats, "warmup": warmup},
               "models": {"lstm": {"hidden_size": lstm.rnn.hidden_size, "params": count_parameters(lstm)},
                          "transformer": {"d_model": d_model, "params": count_parameters(transformer)}},
               "measurements": []}
    rows = results["measurements"]

    def add(row):
        rows.append(row)
        log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))

    if "train_step" in experiments:
        for T in train_T:
            for name, model in models.items():
                add({"experiment": "train_step", "model": name, "T": T, "batch": batch,
                     **train_step_time(model, batch, T, repeats, warmup, device)})
    if "attention_time" in experiments:
        for T in attention_T:
            for kind in ("naive", "sdpa"):
                add({"experiment": "attention_time", "model": kind, "T": T, "batch": 1,
                     **attention_time(kind, T, d_model // nhead, nhead, 1, repeats, warmup, device)})
    if "activation_memory" in experiments:
        for T in memory_T:
            for kind in ("naive", "sdpa", "lstm"):
                add({"experiment": "activation_memory", "model": kind, "T": T, "batch": 1,
                     **activation_bytes(kind, T, d_model, nhead, 1, device)})
    if "generation" in experiments:
        for t in contexts:
            for name, model in models.items():
                add({"experiment": "generation", "model": name, "context": t,
                     **generation_latency(model, t, repeats=repeats, warmup=warmup, device=device)})
    return results


_REQUIRED = {
    "train_step": ("T", "batch", "median_s", "iqr_s", "min_s", "max_s", "repeats", "tokens_per_s"),
    "attention_time": ("T", "median_s", "iqr_s", "min_s", "max_s", "repeats"),
    "activation_memory": ("T", "saved_bytes", "peak_bytes"),
    "generation": ("context", "median_s", "iqr_s", "min_s", "max_s", "repeats", "state_bytes"),
}


def validate_results(results: dict, where: str = "results") -> dict:
    """Check that ``results`` follows the schema of the module docstring; raise ValueError naming what is wrong."""
    if not isinstance(results, dict):
        raise ValueError(f"{where} must be a dict (a JSON object), got {type(results).__name__}")
    if results.get("schema") != SCHEMA:
        raise ValueError(f"{where}: 'schema' must be {SCHEMA!r}, got {results.get('schema')!r}")
    for key in ("label", "machine", "settings", "models", "measurements"):
        if key not in results:
            raise ValueError(f"{where} lacks the key {key!r}")
    for key in ("device", "device_name", "threads", "torch", "python", "date"):
        if key not in results["machine"]:
            raise ValueError(f"{where}: 'machine' lacks the key {key!r}")
    for i, row in enumerate(results["measurements"]):
        experiment = row.get("experiment")
        if experiment not in _REQUIRED:
            raise ValueError(f"{where}: measurement {i} has experiment {experiment!r}, expected one of {EXPERIMENTS}")
        missing = [k for k in ("model", *_REQUIRED[experiment]) if k not in row]
        if missing:
            raise ValueError(f"{where}: measurement {i} ({experiment}) lacks {missing}")
    return results


def save_results(results: dict, path) -> Path:
    """Validate ``results`` and write them to ``path`` as indented JSON; return the path."""
    validate_results(results)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    return path


def load_results(device: str | None = None) -> list:
    """The results files shipped with seqlib (``seqlib/bench_results/*.json``), each validated.

    Args:
        device: keep only the files measured on ``"cpu"`` or ``"cuda"``; None keeps all.

    Returns:
        A list of results dicts (see the module docstring), sorted by label.
    """
    if device not in (None, "cpu", "cuda"):
        raise ValueError(f"device must be None, 'cpu' or 'cuda', got {device!r}")
    found = []
    folder = resources.files("seqlib") / "bench_results"
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.name.endswith(".json"):
                results = validate_results(json.loads(entry.read_text()), where=entry.name)
                if device is None or results["machine"]["device"] == device:
                    found.append(results)
    return sorted(found, key=lambda r: r["label"])

