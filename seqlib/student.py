"""Student versions of the chapters: the same notebooks with every solution taken out.

The book writes its exercises with sphinx-exercise. A solution is either one directive::

    ```{solution} ch5-ex-shift          (or ::::{solution} ..., any fence of three or more)
    ...
    ```

or a gated pair that may span several cells, code cells included::

    ```{solution-start} ch5-ex-causal
    ```
    ... prose and code cells ...
    ```{solution-end}
    ```

Both kinds are removed and replaced by one line saying so; the exercises, the rest of the prose,
the code and its outputs stay as they are. Run it from the book's folder::

    python -m seqlib.student chapters/*.ipynb --out _build/student/chapters

``make student`` does this for every chapter and copies what the book needs beside the
notebooks (``_config.yml``, ``_toc.yml``, ``references.bib``, the ``.md`` pages), so that
``jupyter-book build _build/student`` builds the student edition.
"""
from __future__ import annotations

import argparse
import copy
import pathlib
import re
import sys

import nbformat

__all__ = ["strip_solutions", "count_solutions", "main"]

REMOVED = "*The solution is left out of the student version.*"

_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<kind>solution|solution-start|solution-end)\}")


def _fence_closes(line: str, fence: str) -> bool:
    """Whether ``line`` closes a block opened by ``fence`` (same character, at least as long)."""
    s = line.strip()
    return len(s) >= len(fence) and set(s) == {fence[0]}


def _directive_end(lines: list[str], i: int, fence: str) -> int:
    """Index of the line that closes the directive opened on line ``i`` (or the last line)."""
    for j in range(i + 1, len(lines)):
        if _fence_closes(lines[j], fence):
            return j
    return len(lines) - 1


def strip_solutions(nb):
    """A copy of the notebook with every solution removed.

    Args:
        nb: a notebook (``nbformat.NotebookNode``), for example from ``nbformat.read``.

    Returns:
        ``(student_nb, removed)``, the new notebook and how many solutions were taken out.

    Raises:
        ValueError: a ``solution-start`` without its ``solution-end`` (or the reverse), which
            would otherwise remove the rest of the chapter or leave a solution in.
    """
    out = copy.deepcopy(nb)
    cells, removed, gated = [], 0, False
    for cell in out.cells:
        if cell.cell_type != "markdown":
            if not gated:
                cells.append(cell)
            continue
        lines, kept, i = cell.source.split("\n"), [], 0
        while i < len(lines):
            m = _OPEN.match(lines[i])
            if m is None:
                if not gated:
                    kept.append(lines[i])
                i += 1
                continue
            end = _directive_end(lines, i, m["fence"])
            if m["kind"] == "solution":
                if not gated:
                    kept.append(REMOVED)
                    removed += 1
            elif m["kind"] == "solution-start":
                if gated:
                    raise ValueError("a solution-start inside another gated solution: expected a solution-end first")
                gated = True
                kept.append(REMOVED)
                removed += 1
            else:
                if not gated:
                    raise ValueError("a solution-end with no solution-start before it")
                gated = False
            i = end + 1
        text = "\n".join(kept).strip("\n")
        if text:
            cell.source = text
            cells.append(cell)
    if gated:
        raise ValueError("a solution-start whose solution-end never comes: expected a solution-end before the end "
                         "of the notebook")
    out.cells = cells
    return out, removed


def count_solutions(nb) -> int:
    """How many solutions a notebook holds (directives plus gated pairs)."""
    n = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            n += sum(1 for line in cell.source.split("\n")
                     if (m := _OPEN.match(line)) and m["kind"] in ("solution", "solution-start"))
    return n


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m seqlib.student NOTEBOOK... --out FOLDER``."""
    parser = argparse.ArgumentParser(prog="python -m seqlib.student",
                                     description="Write student versions of chapter notebooks, solutions removed.")
    parser.add_argument("notebooks", nargs="+", type=pathlib.Path, help="chapter notebooks (.ipynb)")
    parser.add_argument("--out", required=True, type=pathlib.Path, help="folder for the student versions")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            parser.error(f"expected an existing .ipynb notebook, got {str(path)!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        student, removed = strip_solutions(nbformat.read(path, as_version=4))
        nbformat.write(student, args.out / path.name)
        print(f"{path.name}: {removed} solutions removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
