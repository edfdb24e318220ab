"""Structural checks that nbval does not make.

nbval passes a cell that was never executed, and it cannot tell whether a notebook is in
the table of contents or would run in Colab. These tests can.
"""
import re

import pytest

from bookfiles import (CHAPTERS, GLUE_ROLE, NOTEBOOKS, ROOT, code_cells, colab_install_spec, glue_problems, glued_keys,
                       is_excused, load,
                       source, toc_files)

IDS = [p.name for p in NOTEBOOKS]


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks in chapters/"


def test_every_chapter_is_in_the_toc_and_every_toc_entry_exists():
    listed = toc_files()
    for nb in NOTEBOOKS:
        assert str(nb.relative_to(ROOT).with_suffix("")) in listed, f"{nb.name} is not in _toc.yml"
    for entry in listed:
        matches = [p for p in (ROOT / f"{entry}.ipynb", ROOT / f"{entry}.md") if p.exists()]
        assert matches, f"_toc.yml lists {entry}, but neither {entry}.ipynb nor {entry}.md exists"
    assert len(listed) == len(set(listed)), "a file is listed twice in _toc.yml"


def test_no_stray_pages_in_chapters():
    listed = set(toc_files())
    for page in list(CHAPTERS.glob("*.md")) + list(CHAPTERS.glob("*.ipynb")):
        assert str(page.relative_to(ROOT).with_suffix("")) in listed, f"{page.name} is not in _toc.yml"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_every_code_cell_was_executed_once_in_order(nb_path):
    counts = [c["execution_count"] for c in code_cells(load(nb_path))]
    assert None not in counts, f"{nb_path.name}: {counts.count(None)} code cells never executed; run `make refresh`"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{nb_path.name}: cells were not executed top to bottom in one run (counts {counts}); run `make refresh`")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_first_cell_installs_seqlib_in_colab_and_second_calls_setup(nb_path):
    cells = code_cells(load(nb_path))
    first = source(cells[0])
    assert "google.colab" in first, f"{nb_path.name}: the first code cell must be the Colab set-up cell"
    assert colab_install_spec() in first, (
        f"{nb_path.name}: the Colab cell must install {colab_install_spec()!r} (the URL from _config.yml)")
    assert re.search(r"seqlib\.setup\(", source(cells[1])), f"{nb_path.name}: the second code cell must call seqlib.setup()"


FORBIDDEN = [
    (r"""["']/(?:home|root|tmp|Users|work|mnt|content)\b""", "an absolute path"),
    (r"""["']~/""", "a path in the home folder"),
    (r"""["']\.\./""", "a path outside the notebook's folder"),
    (r"\bopen\(|read_csv\(|read_parquet\(|np\.load\(|torch\.load\(|\.read_text\(", "a read from a file"),
    (r"urlopen|requests\.|urllib|wget|curl |load_dataset\(|from_pretrained\(", "a download"),
    (r"^\s*(from|import)\s+(chapters|tests)\b|import_ipynb", "an import from another notebook or the tests"),
    (r"manual_seed\(|default_rng\(|np\.random\.seed\(|\brandom\.seed\(|RandomState\(",
     "a seed that bypasses seqlib (use seqlib.generator, seqlib.seed_everything or seqlib.numpy_rng, "
     "which SEQLIB_SEED_OFFSET moves)"),
]


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_notebooks_read_nothing_outside_the_package(nb_path):
    for i, cell in enumerate(code_cells(load(nb_path))[1:], start=1):  # the Colab cell may pip-install
        for pattern, what in FORBIDDEN:
            m = re.search(pattern, source(cell), flags=re.M)
            assert not m, f"{nb_path.name} code cell {i} has {what}: {m.group(0)!r}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_stored_outputs_have_no_errors_warnings_or_progress_bars(nb_path):
    for i, cell in enumerate(code_cells(load(nb_path))):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{nb_path.name} code cell {i} stored an error"
            assert out.get("name") != "stderr", (
                f"{nb_path.name} code cell {i} stored stderr output (a warning or a progress bar): "
                f"{''.join(out.get('text', ''))[:200]!r}")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_only_timing_and_memory_cells_skip_output_comparison(nb_path):
    for i, cell in enumerate(code_cells(load(nb_path))):
        if not is_excused(cell):
            continue
        text = source(cell)
        first = text.strip().splitlines()[0]
        assert "NBVAL_SKIP" not in text and "nbval-skip" not in cell.get("metadata", {}).get("tags", []), (
            f"{nb_path.name} code cell {i} is skipped entirely; only output comparison may be skipped")
        assert re.match(r"#\s*(timing|memory)\b", first, flags=re.I), (
            f"{nb_path.name} code cell {i} skips output comparison but is not a timing or memory reading "
            f"(its first line must say '# timing: ...' or '# memory: ...'): {first!r}")
        assert re.search(r"benchmark|perf_counter|timeit|max_memory|memory_allocated|tracemalloc|getrusage", text), (
            f"{nb_path.name} code cell {i} claims to be a timing or memory reading but measures neither")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_every_glued_number_in_the_prose_comes_from_a_stored_output(nb_path):
    nb = load(nb_path)
    prose = "".join(source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert GLUE_ROLE.search(prose), f"{nb_path.name} glues no number into its prose"
    problems = glue_problems(prose, nb_path, own=glued_keys(nb))
    assert not problems, f"{nb_path.name} uses glue keys that no executed cell glued: {problems}"


def test_markdown_pages_glue_only_numbers_that_notebooks_stored():
    for page in sorted(CHAPTERS.glob("*.md")):
        problems = glue_problems(page.read_text(), page)
        assert not problems, f"{page.name} glues values that no notebook stored: {problems}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_chapter_has_the_book_skeleton(nb_path):
    prose = "".join(source(c) for c in load(nb_path)["cells"] if c["cell_type"] == "markdown")
    for part in ("Learning objectives", "Prerequisites", "Run time", "Summary", "Exercises", "{exercise}",
                 "{solution", "{cite"):
        assert part in prose, f"{nb_path.name} lacks {part!r}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_prose_has_no_control_characters(nb_path):
    """A lost backslash (\\a, \\f, \\t in an unescaped string) turns LaTeX into control characters."""
    for i, cell in enumerate(load(nb_path)["cells"]):
        if cell["cell_type"] == "markdown":
            bad = sorted({repr(ch) for ch in source(cell) if ord(ch) < 32 and ch != "\n"})
            assert not bad, f"{nb_path.name} markdown cell {i} contains control characters {bad}"


# A rounding-level number (below 1e-5 in scientific notation) in a compared output: its digits
# depend on the processor, so it must be printed or glued as a bound (seqlib.prose.bound).
ROUNDING_DIGITS = re.compile(r"\b\d(?:\.\d+)?e-(?:0[5-9]|[1-9]\d)\b")


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=IDS)
def test_compared_outputs_show_no_rounding_level_digits(nb_path):
    for i, cell in enumerate(code_cells(load(nb_path))):
        if is_excused(cell):
            continue
        for out in cell.get("outputs", []):
            texts = ["".join(out.get("text", ""))]
            texts += ["".join(v) if isinstance(v, list) else str(v) for mime, v in out.get("data", {}).items()
                      if mime.startswith("text/") or mime.startswith("application/papermill")]
            for text in texts:
                for line in text.splitlines():
                    if ROUNDING_DIGITS.search(line):
                        pytest.fail(f"{nb_path.name} code cell {i} shows rounding-level digits, which differ "
                                    f"from machine to machine; show them with seqlib.prose.bound: {line.strip()!r}")
