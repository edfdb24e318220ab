"""The chapters' text forms: each chapter notebook's sources, without its outputs, as a jupytext
percent script in chapters/text/ (chapters/NN_title.ipynb -> chapters/text/NN_title.py), so that
a change to a chapter reads as a diff.

A code cell is Python under a ``# %%`` line; a markdown cell is its MyST text, each line behind
``# ``, under ``# %% [markdown]``; cell tags (``hide-input``, ``nbval-ignore-output``, ...) sit
on the cell's ``# %%`` line. Outputs, execution counts and timings are left out, so only an edit
to a cell's source or tags changes a text form. The book does not build them (``_config.yml``
excludes chapters/text).

``make pair`` (this file run as a script) rewrites them from the notebooks, and ``make refresh``
runs it after executing the notebooks; tests/test_pairing.py checks that they agree.
"""
from __future__ import annotations

import pathlib
import sys

import jupytext

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
TEXT = CHAPTERS / "text"
FORMAT = "py:percent"


def notebooks() -> list[pathlib.Path]:
    return sorted(CHAPTERS.glob("*.ipynb"))


def text_path(nb_path) -> pathlib.Path:
    """Where a chapter notebook's text form lives."""
    return TEXT / f"{pathlib.Path(nb_path).stem}.py"


def text_form(nb) -> str:
    """The text form of a notebook (a path, or one read by jupytext) as jupytext writes it now: what
    `jupytext --to py:percent` writes."""
    if isinstance(nb, (str, pathlib.Path)):
        nb = jupytext.read(nb)
    return jupytext.writes(nb, FORMAT)


def stale() -> list[pathlib.Path]:
    """Text forms whose notebook no longer exists (a chapter renamed or removed)."""
    names = {p.stem for p in notebooks()}
    return sorted(p for p in TEXT.glob("*.py") if p.stem not in names)


def main(argv: list[str]) -> None:
    """Write the text form of each notebook named (every chapter notebook by default) and remove
    those left from notebooks that are gone."""
    TEXT.mkdir(exist_ok=True)
    for nb_path in [pathlib.Path(a) for a in argv] or notebooks():
        path, text = text_path(nb_path), text_form(nb_path)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    for path in stale():
        path.unlink()
        print(f"removed {path.relative_to(ROOT)} (its notebook is gone)")


if __name__ == "__main__":
    main(sys.argv[1:])
