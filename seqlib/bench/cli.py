"""The command line ``python -m seqlib.bench``: run the measurements and write a results file.
"""
from __future__ import annotations

import argparse
import time

import torch

from .results import DEFAULTS, EXPERIMENTS, LARGE, run, save_results


def _sizes(text: str) -> tuple:
    try:
        sizes = tuple(int(s) for s in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers such as 64,128,256, got {text!r}")
    if not sizes or min(sizes) < 2:
        raise argparse.ArgumentTypeError(f"every size must be at least 2, got {text!r}")
    return sizes


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m seqlib.bench",
        description="Measure the training time, attention time and memory, and generation latency and state of "
                    "an LSTM and a Transformer language model with matched parameters (Chapter 8), and write "
                    "the results as JSON (schema: see the docstring of seqlib.bench).")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"),
                   help="where to measure; auto = a GPU if present (default: cpu)")
    p.add_argument("--threads", type=_positive, default=1, help="CPU threads for PyTorch (default: 1)")
    p.add_argument("--output", "-o", default="bench_results.json", help="the JSON file to write")
    p.add_argument("--label", default="", help="a short name for this machine (default: device and threads)")
    p.add_argument("--note", default="", help="free text stored in the file")
    p.add_argument("--large", action="store_true", help="the larger sizes meant for a GPU")
    p.add_argument("--repeats", type=_positive, default=DEFAULTS["repeats"], help="timed runs per measurement")
    p.add_argument("--warmup", type=int, default=DEFAULTS["warmup"], help="untimed runs before them")
    for name in ("d_model", "num_layers", "nhead", "batch", "vocab_size"):
        p.add_argument(f"--{name.replace('_', '-')}", type=_positive, default=None)
    for name in ("train_T", "attention_T", "memory_T", "contexts"):
        p.add_argument(f"--{name.replace('_', '-').lower()}", type=_sizes, default=None, dest=name,
                       help="comma-separated sizes")
    p.add_argument("--only", default=",".join(EXPERIMENTS),
                   help=f"comma-separated subset of {','.join(EXPERIMENTS)}")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    return p


def main(argv=None) -> dict:
    """The command line ``python -m seqlib.bench``: run, write the file, return the results."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error(f"--warmup must be 0 or more, got {args.warmup}")
    only = tuple(s for s in args.only.split(",") if s)
    unknown = [s for s in only if s not in EXPERIMENTS]
    if unknown or not only:
        parser.error(f"--only takes a comma-separated subset of {','.join(EXPERIMENTS)}, got {args.only!r}")
    from ..runtime import choose_device

    try:
        device = choose_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    torch.set_num_threads(args.threads)
    sizes = {**DEFAULTS, **(LARGE if args.large else {})}
    for name in ("d_model", "num_layers", "nhead", "batch", "vocab_size", "train_T", "attention_T", "memory_T",
                 "contexts"):
        if getattr(args, name) is not None:
            sizes[name] = getattr(args, name)
    if sizes["d_model"] % sizes["nhead"]:
        parser.error(f"--d-model ({sizes['d_model']}) must be divisible by --nhead ({sizes['nhead']})")
    begin = time.perf_counter()
    results = run(sizes["vocab_size"], sizes["d_model"], sizes["num_layers"], sizes["nhead"], sizes["batch"],
                  sizes["train_T"], sizes["attention_T"], sizes["memory_T"], sizes["contexts"], args.repeats,
                  args.warmup, device, args.label, args.note, only, log=None if args.quiet else print)
    results["settings"]["seconds"] = round(time.perf_counter() - begin, 1)
    path = save_results(results, args.output)
    if not args.quiet:
        print(f"wrote {len(results['measurements'])} measurements to {path} in {results['settings']['seconds']} s")
    return results

