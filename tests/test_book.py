"""The HTML book builds with warnings as errors, and its pages carry what readers need."""
import re
import shutil
import subprocess
import sys

import pytest

from bookfiles import NOTEBOOKS, ROOT, repository_url, toc_files

JB = shutil.which("jupyter-book", path=str(__import__("pathlib").Path(sys.executable).parent))


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    proc = subprocess.run([JB, "build", str(ROOT), "--path-output", str(out), "--warningiserror", "--nitpick",
                           "--keep-going"], capture_output=True, text=True)
    assert proc.returncode == 0, f"the book build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return out / "_build" / "html"


def test_every_toc_page_is_built(html):
    for entry in toc_files():
        page = html / f"{entry}.html"
        assert page.exists(), f"{entry} was not built"
        text = page.read_text()
        for leftover in ("{glue", "{cite}", "{exercise}", "{solution", "Unknown directive", "System Message"):
            assert leftover not in text, f"{entry}.html shows raw markup or an error: {leftover!r}"


def test_chapters_have_colab_buttons_pointing_at_their_notebook(html):
    repo = repository_url().removeprefix("https://github.com/")
    for nb in NOTEBOOKS:
        rel = nb.relative_to(ROOT)
        text = (html / rel.with_suffix(".html")).read_text()
        want = f"https://colab.research.google.com/github/{repo}/blob/main/{rel}"
        assert want in text, f"{rel}: no Colab launch button to {want}"


def test_chapters_show_figures_glued_numbers_and_exercises(html):
    for nb in NOTEBOOKS:
        text = (html / nb.relative_to(ROOT).with_suffix(".html")).read_text()
        assert re.search(r'<img[^>]+src="[^"]*\.png"', text), f"{nb.name}: no figure in the page"
        assert "exercise" in text and "solution" in text, f"{nb.name}: no exercises with solutions"


def test_api_page_documents_seqlib(html):
    text = (html / "chapters" / "api.html").read_text()
    for name in ("seqlib.setup", "seqlib.data.pad", "seqlib.data.adding_problem", "seqlib.train.fit",
                 "seqlib.viz.heatmap", "seqlib.checks.check_pad"):
        assert f'id="{name}"' in text, f"the API page does not document {name}"
