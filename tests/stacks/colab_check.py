"""The check on other stacks: every chapter, alone in an empty folder, on Colab's packages.

    python tests/stacks/colab_check.py colab  --python python3.13 [--jobs 2]
    python tests/stacks/colab_check.py newest --python python3.13
    python tests/stacks/colab_check.py --table       # the README's table of the last reports

For the stack named NAME, ``tests/stacks/NAME.txt`` lists the packages to install first, as a
learner's runtime already has them (exact versions for Colab; bare names, so the newest
releases, for ``newest``). The check then

1. builds a virtual environment ``_build/stacks/NAME`` with that Python and those packages,
   plus the kernel machinery needed to execute a notebook outside Jupyter (ipykernel, nbclient);
2. builds seqlib as a wheel and asks pip, with ``--dry-run``, what installing it there would do:
   it must install seqlib alone, and reinstall or upgrade nothing the runtime already has
   (Colab's torch above all);
3. installs the wheel, copies each chapter notebook alone into an empty folder and executes it
   top to bottom, with no output comparison, in the environment a learner has: none of
   ``kernel.env``'s variables (Colab's own numerics, progress bars on);
4. writes ``tests/stacks/reports/NAME.json`` (versions, processor, per-chapter status and run
   time, the first failing cell and its error) and exits with 1 if any chapter failed.

It takes tens of minutes and downloads several GB (PyPI's Linux torch is the CUDA build), so it
is not part of ``make test``; ``make colab-check`` runs it, and the README says when it last ran.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
STACKS = pathlib.Path(__file__).resolve().parent
REPORTS = STACKS / "reports"
KERNEL_TOOLS = ["ipykernel", "nbclient"]  # what executes a notebook outside Jupyter; not seqlib's

# Run inside the stack's environment: execute one notebook, report per-cell times and the first error.
RUNNER = r"""
import json, sys, time, nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
path, out = sys.argv[1], sys.argv[2]
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, timeout=1800, kernel_name="python3", allow_errors=False,
                        resources={"metadata": {"path": str(__import__("pathlib").Path(path).parent)}})
times, failed, error = [], None, None
start = time.perf_counter()
with client.setup_kernel():
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        t0 = time.perf_counter()
        try:
            client.execute_cell(cell, index)
        except CellExecutionError as exc:
            failed, error = index, str(exc).strip().splitlines()[-1][:500]
            times.append([index, round(time.perf_counter() - t0, 1)])
            break
        times.append([index, round(time.perf_counter() - t0, 1)])
json.dump({"seconds": round(time.perf_counter() - start, 1), "failed_cell": failed, "error": error,
           "slowest_cells": sorted(times, key=lambda t: -t[1])[:3]}, open(out, "w"))
"""

VERSIONS = r"""
import json, platform, sys, importlib.metadata as md
names = ["torch", "numpy", "pandas", "matplotlib", "seaborn", "scipy", "statsmodels", "tqdm",
         "ipywidgets", "nbformat", "ipykernel", "ipython", "seqlib"]
v = {"python": platform.python_version()}
for n in names:
    try:
        v[n] = md.version(n)
    except md.PackageNotFoundError:
        v[n] = None
import torch
v["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
print(json.dumps(v))
"""


def requirements(stack: str) -> list[str]:
    """The package lines of tests/stacks/STACK.txt (comments and blank lines skipped)."""
    path = STACKS / f"{stack}.txt"
    if not path.exists():
        known = sorted(p.stem for p in STACKS.glob("*.txt"))
        raise SystemExit(f"no stack {stack!r}: expected one of {known} (files in {STACKS})")
    return [line.split("#")[0].strip() for line in path.read_text().splitlines() if line.split("#")[0].strip()]


def learner_env() -> dict[str, str]:
    """The environment a learner's kernel has: this one without kernel.env's variables."""
    pinned = {line.partition("=")[0].strip() for line in (ROOT / "kernel.env").read_text().splitlines()
              if "=" in line and not line.lstrip().startswith("#")}
    env = {k: v for k, v in os.environ.items() if k not in pinned and not k.startswith("SEQLIB_")}
    # pip on this machine reads a local cap on torch's version; the stacks take PyPI's releases.
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def run(cmd, env, **kw):
    print("+", " ".join(map(str, cmd)), flush=True)
    return subprocess.run([str(c) for c in cmd], env=env, check=True, **kw)


def build(stack: str, python: str, env: dict) -> pathlib.Path:
    venv = ROOT / "_build" / "stacks" / stack
    py = venv / "bin" / "python"
    if not py.exists():
        run([python, "-m", "venv", venv], env)
    run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], env)
    upgrade = ["--upgrade"] if stack == "newest" else []
    run([py, "-m", "pip", "install", "--quiet", *upgrade, *requirements(stack), *KERNEL_TOOLS], env)
    return py


def wheel(py: pathlib.Path, env: dict, into: pathlib.Path) -> pathlib.Path:
    run([py, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", into, ROOT], env)
    return next(into.glob("seqlib-*.whl"))


def dry_run(py: pathlib.Path, whl: pathlib.Path, env: dict) -> list[str]:
    """What `pip install seqlib` would install into the learner's runtime, besides seqlib."""
    with tempfile.NamedTemporaryFile(suffix=".json") as report:
        run([py, "-m", "pip", "install", "--quiet", "--dry-run", "--report", report.name, whl], env)
        items = json.load(open(report.name))["install"]
    return sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in items
                  if i["metadata"]["name"].lower() != "seqlib")


def execute(py: pathlib.Path, name: str, content: bytes, env: dict) -> dict:
    """Execute one notebook (its file name and bytes) alone in an empty folder with the stack's Python."""
    with tempfile.TemporaryDirectory(prefix="seqbook-stack-") as folder:
        copy = pathlib.Path(folder) / name
        copy.write_bytes(content)
        out = pathlib.Path(folder) / "result.json"
        runner = pathlib.Path(folder) / "runner.py"
        runner.write_text(RUNNER)
        t0 = time.perf_counter()
        proc = subprocess.run([str(py), str(runner), str(copy), str(out)], env=env, cwd=folder,
                              capture_output=True, text=True)
        if proc.returncode or not out.exists():
            return {"seconds": round(time.perf_counter() - t0, 1), "failed_cell": None,
                    "error": (proc.stderr.strip().splitlines() or ["the runner failed"])[-1][:500]}
        result = json.loads(out.read_text())
        runner.unlink()
        out.unlink()
        leftovers = sorted(p.name for p in pathlib.Path(folder).iterdir() if p.name != name)
        if leftovers:
            result["wrote"] = leftovers
        return result


def table(stacks=("colab", "newest")) -> str:
    """The README's table of the last reports: versions, then each chapter's run time and status."""
    reports = [json.loads((REPORTS / f"{s}.json").read_text()) for s in stacks]
    head = ["chapter"] + [f"{r['stack']} stack: Python {r['versions']['python']}, torch {r['versions']['torch']}, "
                          f"numpy {r['versions']['numpy']}, pandas {r['versions']['pandas']}, "
                          f"ipywidgets {r['versions']['ipywidgets']} ({r['date']})" for r in reports]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name in reports[0]["chapters"]:
        cells = [name.removesuffix(".ipynb")]
        for r in reports:
            c = r["chapters"].get(name)
            cells.append("not run" if c is None else f"{c['seconds']:.0f} s, " + (
                "passed" if c["error"] is None else f"failed at cell {c['failed_cell']}"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stack", nargs="?", default="colab", help="a file tests/stacks/STACK.txt: colab or newest")
    parser.add_argument("--python", default="python3", help="the Python to build the environment with")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks at once")
    parser.add_argument("--only", nargs="*", help="chapter notebooks to run (default: all); their results "
                        "replace theirs in the last full report of the same versions")
    parser.add_argument("--table", action="store_true", help="print the README's table of the last reports")
    args = parser.parse_args(argv)
    if args.table:
        print(table())
        return 0
    env = learner_env()
    py = build(args.stack, args.python, env)
    with tempfile.TemporaryDirectory() as tmp:
        whl = wheel(py, env, pathlib.Path(tmp))
        extra = dry_run(py, whl, env)
        run([py, "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", whl], env)
    versions = json.loads(subprocess.run([str(py), "-c", VERSIONS], env=env, capture_output=True,
                                         text=True, check=True).stdout)
    notebooks = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    if args.only:
        notebooks = [n for n in notebooks if any(n.name.startswith(o) or str(n).endswith(o) for o in args.only)]
    snapshot = {nb.name: nb.read_bytes() for nb in notebooks}  # the chapters as they were at the start
    chapters, load = {}, [os.getloadavg()[0]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(execute, py, name, content, env): name for name, content in snapshot.items()}
        for future in concurrent.futures.as_completed(futures):
            name = futures[future]
            chapters[name] = r = future.result()
            status = "passed" if r["error"] is None else f"FAILED at cell {r['failed_cell']}: {r['error']}"
            print(f"{name}: {r['seconds']:.0f} s, {status}", flush=True)
            load.append(os.getloadavg()[0])
    report = {"stack": args.stack, "date": datetime.date.today().isoformat(),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, {args.jobs} notebooks at once",
              # the one-minute load average as each chapter finished: above the number of notebooks
              # at once, something else shared the processor and the times are inflated by it
              "load_average": [round(x, 1) for x in load],
              "versions": versions, "requirements": requirements(args.stack),
              "pip_would_also_install": extra,
              "chapters": dict(sorted(chapters.items()))}
    REPORTS.mkdir(exist_ok=True)
    name = args.stack
    previous = REPORTS / f"{name}.json"
    if args.only:  # chapters run again after an edit go into the last full report, if it is of these versions
        old = json.loads(previous.read_text()) if previous.exists() else None
        if old and old["versions"] == versions and old["requirements"] == report["requirements"]:
            report = {**old, "chapters": dict(sorted({**old["chapters"], **chapters}.items())),
                      "rerun": {**old.get("rerun", {}), **{n: report["date"] for n in chapters}}}
        else:
            name = f"{args.stack}-partial"
    (REPORTS / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    failed = [n for n, r in chapters.items() if r["error"] is not None]
    if extra:
        print(f"installing seqlib would also install or replace {extra}: it must leave the runtime's packages alone")
    print(f"{len(chapters) - len(failed)} of {len(chapters)} chapters passed on the {args.stack} stack "
          f"({versions['python']}, torch {versions['torch']}); report in {REPORTS / (name + '.json')}")
    return 1 if failed or extra else 0


if __name__ == "__main__":
    sys.exit(main())
