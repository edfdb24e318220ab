"""The cost of sequence models, measured: time, memory and state (Chapter 8).

This module builds the measurements of Chapter 8 and a command line that runs them at larger
sizes, on a GPU when one is present, and writes a results file:

    lm_pair(...)              an LSTM and a Transformer language model with (nearly) the same parameters
    timeit(fn)                warm-up, several repeats, the median and the spread of the run times
    saved_bytes(fn)           the bytes of the tensors autograd keeps for the backward pass
    graph_depth(y)            the longest chain of dependent operations that produced y (sequential depth)
    train_step_time(...)      one optimiser step of a language model on (B, T) tokens
    attention_time(...)       forward + backward of one attention call, naive or fused
    activation_bytes(...)     the training memory of naive attention, fused attention and an LSTM layer
    generation_latency(...)   the time per generated token after a context of t tokens
    state_bytes(...)          what a model carries while it generates: (h, c) or the key/value cache
    run(...)                  all of the above for lists of sizes -> a results dict (the schema below)
    load_results()            the results files shipped with seqlib (measured on named machines)

Run it with ``python -m seqlib.bench`` (about a minute on one CPU thread with the defaults);
``python -m seqlib.bench --help`` lists the flags (sizes, repeats, device, threads, output
path). ``--device auto`` uses a GPU when one is present.

**Memory.** On the CPU PyTorch has no peak-memory counter, so training memory is measured as
the bytes of the distinct storages that autograd saves for the backward pass
(``torch.autograd.graph.saved_tensors_hooks``): the activations a training step must keep. It
is exact and the same on every machine. On a GPU the peak of
``torch.cuda.max_memory_allocated`` above what was allocated before the call is recorded too.

**The results file** is JSON::

    {
      "schema": "seqlib.bench/1",
      "label": "a short name, e.g. cpu-amd-epyc-1thread",
      "note": "free text: where and how it was measured",
      "machine": {"device": "cpu" or "cuda", "device_name": "AMD EPYC ..." or "NVIDIA H100 ...",
                  "threads": 1, "torch": "2.3.0", "python": "3.11.7", "platform": "Linux-...",
                  "cuda": null or "12.1", "date": "2025-01-31"},
      "settings": {"vocab_size": .., "d_model": .., "num_layers": .., "nhead": .., "batch": ..,
                   "repeats": .., "warmup": ..},
      "models": {"lstm": {"hidden_size": .., "params": ..}, "transformer": {"d_model": .., "params": ..}},
      "measurements": [ one dict per measurement, each with "experiment" and "model":
        {"experiment": "train_step", "model": "lstm" or "transformer", "T": .., "batch": ..,
         "median_s": .., "iqr_s": .., "min_s": .., "max_s": .., "repeats": .., "tokens_per_s": ..},
        {"experiment": "attention_time", "model": "naive" or "sdpa", "T": .., "median_s": .., ...},
        {"experiment": "activation_memory", "model": "naive" or "sdpa" or "lstm", "T": ..,
         "saved_bytes": .., "peak_bytes": null or ..},
        {"experiment": "generation", "model": "lstm" or "transformer", "context": ..,
         "median_s": .. (per token), "iqr_s": .., "min_s": .., "max_s": .., "repeats": ..,
         "state_bytes": ..}
      ]
    }

Times are in seconds (``median_s`` the median of ``repeats`` runs after ``warmup`` runs,
``iqr_s`` their interquartile range), sizes in bytes. :func:`validate_results` checks a dict
against this schema.

**Adding a machine.** The files in ``seqlib/bench_results/`` ship with the package and
:func:`load_results` reads them all. To add a GPU's figures, run on it
``python -m seqlib.bench --device cuda --large --label gpu-<name> --output seqlib/bench_results/gpu-<name>.json``
and commit the file: the chapter then shows it beside the CPU figures, labelled with its
device name, date and versions.
"""

# The package's files: measure.py (timing and memory tools), models.py (the matched pair of
# language models), cost.py (the measurements of Chapter 8), results.py (the whole run and its
# file), cli.py (the command line; ``python -m seqlib.bench`` runs __main__.py).
from .cli import main
from .cost import (activation_bytes, attention_time, generation_latency, layer_activation_bytes, state_bytes,
                   train_step_time)
from .measure import fit_exponent, graph_depth, saved_bytes, timeit
from .models import lm_pair, matched_lstm_width
from .results import SCHEMA, load_results, machine_info, run, save_results, validate_results

__all__ = ["SCHEMA", "lm_pair", "matched_lstm_width", "timeit", "saved_bytes", "train_step_time",
           "attention_time", "activation_bytes", "layer_activation_bytes", "generation_latency", "state_bytes",
           "fit_exponent", "graph_depth", "machine_info", "run", "validate_results", "save_results", "load_results",
           "main"]
