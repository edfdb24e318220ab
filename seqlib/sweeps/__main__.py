"""The sweeps' command line: ``python -m seqlib.sweeps {list,status,run,check} [NAME]``.

    python -m seqlib.sweeps list                   the sweeps, and how many records each has
    python -m seqlib.sweeps status co2             records stored and missing, total training time
    python -m seqlib.sweeps run co2 --jobs 2       run the missing configs (resumable), in parallel
    python -m seqlib.sweeps check co2 --sample 2   re-run stored records and compare them exactly
    python -m seqlib.sweeps table                  the README's table of the sweeps, from their records
"""
from __future__ import annotations

import argparse
import sys

from . import get, mismatches, missing, model_key, records, rerun, results_path, run


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def check(name: str, sample: int) -> list:
    """Re-run ``sample`` stored records of sweep ``name`` (the quickest of each model) and return
    the differences found (empty: every one reproduced; see :func:`seqlib.sweeps.mismatches`)."""
    stored = records(name)
    by_model = {}
    for r in sorted(stored, key=lambda r: r["seconds"]):
        by_model.setdefault(model_key(r["config"]), []).append(r)
    chosen = [r for group in by_model.values() for r in group[:sample]]
    found = []
    for r in chosen:
        live = rerun(name, r["config"])
        found += [f"{r['config']}: {line}" for line in mismatches(live, r)]
    return found


def table() -> str:
    """The README's table of the sweeps: what each trains (its description), how many runs, their
    parameter counts and the CPU-minutes they took on one thread, all read from the stored records."""
    from . import SWEEPS

    rows = ["| sweep | what it trains | runs | parameters | CPU-minutes (one thread) |",
            "| --- | --- | --- | --- | --- |"]
    for name in SWEEPS:
        stored = records(name)
        params = sorted({r["params"] for r in stored})
        span = f"{params[0]:,}" if len(params) == 1 else f"{params[0]:,} to {params[-1]:,}"
        minutes = sum(r["seconds"] for r in stored) / 60
        rows.append(f"| `{name}` | {get(name).description} | {len(stored)} | {span} | {minutes:.0f} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seqlib.sweeps", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the sweeps and their records")
    sub.add_parser("table", help="the README's table of the sweeps")
    for command in ("status", "run", "check"):
        p = sub.add_parser(command)
        p.add_argument("name")
        if command == "run":
            p.add_argument("--jobs", type=_positive, default=1, help="configs run at once (one thread each)")
            p.add_argument("--limit", type=_positive, default=None, help="run at most this many configs")
        if command == "check":
            p.add_argument("--sample", type=_positive, default=1, help="records re-run per model")
    args = parser.parse_args(argv)
    if args.command == "list":
        from . import SWEEPS

        for name in SWEEPS:
            print(f"{name}: {len(records(name))} records, {len(missing(name))} missing -- {get(name).description}")
        return 0
    if args.command == "table":
        print(table())
        return 0
    if args.command == "status":
        stored = records(args.name)
        hours = sum(r["seconds"] for r in stored) / 3600
        print(f"{args.name}: {len(stored)} records in {results_path(args.name)}, {len(missing(args.name))} missing; "
              f"{hours:.2f} CPU hours of training (one thread)")
        return 0
    if args.command == "run":
        run(args.name, jobs=args.jobs, limit=args.limit)
        return 0
    found = check(args.name, args.sample)
    print("\n".join(found) if found else f"{args.name}: the re-run records agree with the stored ones")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
