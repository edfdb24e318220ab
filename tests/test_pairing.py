"""Every chapter notebook has its text form (chapters/text/*.py, see tests/pairing.py), up to date
and faithful: what a reviewer reads in a diff is what the notebook holds."""
import difflib
import functools

import jupytext
import pytest
from sphinx.util.matching import Matcher

from bookfiles import ROOT, config
from pairing import FORMAT, TEXT, notebooks, stale, text_form, text_path

NOTEBOOKS = notebooks()
IDS = [p.stem for p in NOTEBOOKS]
# Cell metadata that no text form keeps: Jupyter's timings (jupytext's own default filter), and
# lines_to_next_cell, which jupytext adds on reading to record the blank lines after a cell.
UNKEPT = {"execution", "ExecuteTime", "collapsed", "scrolled", "trusted", "autoscroll", "lines_to_next_cell"}


@functools.cache
def read(nb_path):
    """A chapter notebook as jupytext reads it (once: each test only reads it)."""
    return jupytext.read(nb_path)


def cells(nb) -> list[tuple]:
    """A notebook's cells as (type, source, metadata). A newline at the very end of a cell is
    dropped: no jupytext text format keeps one (a blank line ends the cell), and Jupyter shows
    none (some of Chapter 6's code cells end with one)."""
    return [(c.cell_type, c.source.rstrip("\n"), {k: v for k, v in c.metadata.items() if k not in UNKEPT})
            for c in nb.cells]


def test_every_chapter_notebook_has_a_text_form():
    assert NOTEBOOKS
    missing = [p.name for p in NOTEBOOKS if not text_path(p).exists()]
    assert not missing, f"no text form in chapters/{TEXT.name}/ for {missing}: run `make pair` and commit chapters/text"
    assert not stale(), f"text forms of notebooks that are gone: {[p.name for p in stale()]}; run `make pair`"


def test_text_forms_are_not_pages_of_the_book():
    """Sphinx skips a folder that an exclude pattern matches, so no text form becomes a page."""
    excluded = Matcher(config()["exclude_patterns"])
    assert excluded(TEXT.relative_to(ROOT).as_posix()), "_config.yml's exclude_patterns must name chapters/text"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_text_form_is_what_jupytext_writes_from_the_notebook_now(nb_path):
    path = text_path(nb_path)
    assert path.exists(), f"no {path.name} in chapters/text: run `make pair`"
    committed, now = path.read_text(), text_form(read(nb_path))
    diff = list(difflib.unified_diff(committed.splitlines(), now.splitlines(), "committed", "now", lineterm="", n=1))
    assert not diff, (
        f"chapters/text/{path.name} is not what jupytext writes from {nb_path.name} now (the notebook "
        f"was edited without `make pair`, or the text form by hand): run `make pair` and commit both.\n"
        + "\n".join(diff[:30]))


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_text_form_read_back_has_the_notebooks_cells(nb_path):
    """The round trip: each cell's type, source and tags come back from the text form."""
    nb = read(nb_path)
    back = jupytext.reads(text_path(nb_path).read_text(), FORMAT)
    want, got = cells(nb), cells(back)
    assert len(got) == len(want), f"{nb_path.name}: {len(want)} cells, its text form reads back as {len(got)}"
    for i, (w, g) in enumerate(zip(want, got)):
        differ = [name for name, a, b in zip(("type", "source", "metadata"), w, g) if a != b]
        assert not differ, (f"{nb_path.name}, cell {i}: its {' and '.join(differ)} read back from the text form "
                            f"differ: {g[0]} / {g[2]} read back, {w[0]} / {w[2]} in the notebook; source:\n"
                            + "\n".join(difflib.unified_diff(w[1].splitlines(), g[1].splitlines(), "notebook",
                                                              "read back", lineterm="", n=1)))
    assert back.metadata.get("kernelspec") == nb.metadata.get("kernelspec")
