"""Student versions: every solution goes, everything else stays, and the student edition builds."""
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from bookfiles import NOTEBOOKS, ROOT, toc_files
from seqlib import student

IDS = [p.name for p in NOTEBOOKS]
JB = shutil.which("jupyter-book", path=str(__import__("pathlib").Path(sys.executable).parent))


def exercise_labels(nb):
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return re.findall(r"\{exercise\}[^\n]*\n:label: (\S+)", text)


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_every_solution_is_removed_and_every_exercise_kept(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    out, removed = student.strip_solutions(nb)
    assert removed == student.count_solutions(nb) >= 4, f"{nb_path.name}: {removed} solutions removed"
    text = "\n".join(c.source for c in out.cells)
    assert "{solution" not in text, f"{nb_path.name}: a solution survived"
    assert text.count(student.REMOVED) == removed
    assert exercise_labels(out) == exercise_labels(nb) and len(exercise_labels(nb)) >= 4
    nbformat.validate(out)


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_code_outside_solutions_is_untouched(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    out, _ = student.strip_solutions(nb)
    kept = [c.source for c in out.cells if c.cell_type == "code"]
    original = [c.source for c in nb.cells if c.cell_type == "code"]
    assert kept == [s for s in original if s in kept], "code cells were reordered or changed"
    # Only code inside gated solutions (between solution-start and solution-end) may go.
    assert kept[0] == original[0] and kept[1] == original[1] and kept[-1] == original[-1]


def toy(*cells):
    return new_notebook(cells=list(cells))


def test_both_kinds_of_solution_and_nested_code_blocks():
    nb = toy(
        new_markdown_cell("Intro.\n\n```{exercise} One\n:label: a\n\nDo it.\n```\n\n"
                          "````{solution} a\n:class: dropdown\n\n```python\nx = 1\n```\nText.\n````\nAfter."),
        new_markdown_cell("::::{exercise} Two\n:label: b\n::::\n\n::::{solution} b\nHidden.\n::::"),
        new_markdown_cell("```{solution-start} c\n:class: dropdown\n```\nHidden prose."),
        new_code_cell("hidden_code = 1"),
        new_markdown_cell("```{solution-end}\n```\nKept after the end."),
        new_code_cell("kept_code = 2"),
    )
    out, removed = student.strip_solutions(nb)
    text = "\n".join(c.source for c in out.cells)
    assert removed == 3 == student.count_solutions(nb)
    for gone in ("Hidden", "hidden_code", "x = 1", "Text."):
        assert gone not in text
    for kept in ("Intro.", "Do it.", "After.", "Kept after the end.", "kept_code", "{exercise} Two"):
        assert kept in text
    assert nb.cells[3].source == "hidden_code = 1", "the input notebook must not change"


@pytest.mark.parametrize("cells, message", [
    ([new_markdown_cell("```{solution-start} a\n```\nno end")], "never comes"),
    ([new_markdown_cell("```{solution-end}\n```")], "no solution-start"),
    ([new_markdown_cell("```{solution-start} a\n```\n```{solution-start} b\n```")], "expected a solution-end"),
])
def test_unbalanced_gated_solutions_are_rejected(cells, message):
    with pytest.raises(ValueError, match=message):
        student.strip_solutions(toy(*cells))


def test_command_line_writes_student_notebooks_and_rejects_other_files(tmp_path, capsys):
    assert student.main([str(NOTEBOOKS[0]), "--out", str(tmp_path)]) == 0
    written = nbformat.read(tmp_path / NOTEBOOKS[0].name, as_version=4)
    assert "{solution" not in "\n".join(c.source for c in written.cells)
    assert "solutions removed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        student.main([str(ROOT / "README.md"), "--out", str(tmp_path)])
    assert "expected an existing .ipynb notebook" in capsys.readouterr().err


def test_the_student_edition_builds(tmp_path):
    """`make student` then `jupyter-book build _build/student`, here into a temporary folder."""
    src = tmp_path / "student"
    (src / "chapters").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml", "references.bib"):
        shutil.copy(ROOT / name, src / name)
    for page in (ROOT / "chapters").glob("*.md"):
        shutil.copy(page, src / "chapters" / page.name)
    student.main([str(p) for p in NOTEBOOKS] + ["--out", str(src / "chapters")])
    proc = subprocess.run([JB, "build", str(src), "--warningiserror", "--nitpick", "--keep-going"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"the student edition failed to build:\n{proc.stdout[-3000:]}"
    html = src / "_build" / "html"
    for entry in toc_files():
        page = html / f"{entry}.html"
        assert page.exists(), f"{entry} was not built in the student edition"
    for nb in NOTEBOOKS:
        text = (html / nb.relative_to(ROOT).with_suffix(".html")).read_text()
        assert 'class="solution' not in text, f"{nb.name}: the student page still shows a solution"
        assert 'class="exercise' in text, f"{nb.name}: the student page lost its exercises"
