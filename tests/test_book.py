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


def without_code(html_text):
    """The page's HTML with code literals and code blocks removed (markup may appear there on purpose)."""
    html_text = re.sub(r"<pre.*?</pre>", "", html_text, flags=re.S)
    return re.sub(r"<code.*?</code>", "", html_text, flags=re.S)


def test_every_toc_page_is_built(html):
    for entry in toc_files():
        page = html / f"{entry}.html"
        assert page.exists(), f"{entry} was not built"
        text = without_code(page.read_text())
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


def public_names():
    """Every public function and class of seqlib, by the name a reader uses (seqlib.data.pad)."""
    import seqlib

    names = [f"seqlib.{n}" for n in seqlib.__all__ if callable(getattr(seqlib, n))]
    for module in (seqlib.data, seqlib.train, seqlib.viz, seqlib.recurrent, seqlib.models, seqlib.attention,
                   seqlib.positions, seqlib.seq2seq, seqlib.transformer, seqlib.linear_attention, seqlib.scan, seqlib.ssm,
                   seqlib.checks):
        public = getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])
        for n in public:
            obj = getattr(module, n)
            if callable(obj) and getattr(obj, "__module__", "").startswith("seqlib"):
                names.append(f"{module.__name__}.{n}")
    return names


def test_api_page_documents_every_public_name(html):
    text = (html / "chapters" / "api.html").read_text()
    missing = [n for n in public_names() if f'id="{n}"' not in text]
    assert not missing, f"the API page does not document {missing}"
