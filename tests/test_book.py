"""The HTML book builds with warnings as errors, and its pages carry what readers need.

The built site is also opened in headless Chromium, page by page, as a reader meets it.
"""
import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading

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


# Modules whose public names are documented under the package itself (seqlib.setup, seqlib.glue).
REEXPORTED = {"runtime", "prose"}


def public_modules():
    """seqlib's public modules, found on disk, so a new module cannot escape the API page."""
    import importlib
    import pkgutil

    import seqlib

    found = sorted(m.name for m in pkgutil.iter_modules(seqlib.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"seqlib.{name}") for name in found if name not in REEXPORTED]


def public_names():
    """Every public function and class of seqlib, by the name a reader uses (seqlib.data.pad)."""
    import seqlib

    names = [f"seqlib.{n}" for n in seqlib.__all__ if callable(getattr(seqlib, n))]
    for module in public_modules():
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


# ----------------------------------------------------------------------------------------------
# Links: every internal link and anchor in the built site resolves (Sphinx's -W -n build checks
# its own cross-references; this checks the HTML that readers click, theme links included).

def internal_links(page):
    """(href, target file, fragment) of every link from ``page`` to the site itself."""
    text = re.sub(r"<pre.*?</pre>", "", page.read_text(), flags=re.S)
    for href in re.findall(r'<a\s[^>]*href="([^"]+)"', text):
        if re.match(r"[a-z]+:", href) or href.startswith("//"):
            continue  # external (https:, mailto:, javascript:)
        path, _, fragment = href.partition("#")
        target = page if not path else (page.parent / path).resolve()
        yield href, target, fragment


def test_internal_links_and_anchors_resolve(html):
    ids = {}
    broken = []
    for page in sorted(html.rglob("*.html")):
        if "_static" in page.parts or "_sources" in page.parts:
            continue
        for href, target, fragment in internal_links(page):
            if not target.exists():
                broken.append(f"{page.relative_to(html)} -> {href} (no such file)")
                continue
            if fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = set(re.findall(r'\sid="([^"]+)"', target.read_text()))
                if fragment not in ids[target]:
                    broken.append(f"{page.relative_to(html)} -> {href} (no such anchor)")
    assert not broken, "broken internal links:\n" + "\n".join(broken[:30])


# ----------------------------------------------------------------------------------------------
# The site in a real browser: headless Chromium (Debian's chromium and chromium-driver packages,
# driven by Selenium), serving the built site over HTTP as a web host would. The machine is
# offline, so every host but localhost is made to fail at once (MathJax and the widget scripts
# come from CDNs and do not load; what is checked must not depend on them).

SCREENSHOTS = ROOT / "_build" / "browser"  # test artefacts, never committed (_build is ignored)
SCREENSHOT_PAGES = ("chapters/intro", "chapters/05_self_attention", "chapters/api")


@pytest.fixture(scope="module")
def browser(html):
    chromedriver = shutil.which("chromedriver")
    assert chromedriver and shutil.which("chromium"), (
        "the browser test needs Debian's chromium and chromium-driver packages: "
        "apt-get install chromium chromium-driver (make test installs them where it can)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1600", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        driver.quit()
        server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


PAGE_STATE = """
const main = document.querySelector('main') || document.body;
const imgs = Array.from(main.querySelectorAll('img'));
const prose = main.cloneNode(true);  // the page without its code, where markup may appear on purpose
prose.querySelectorAll('pre, code').forEach(e => e.remove());
return {
  ready: document.readyState,
  title: document.title,
  text: prose.textContent,
  images: imgs.length,
  broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
  links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
};
"""


@pytest.mark.parametrize("entry", toc_files())
def test_every_page_loads_in_a_browser_with_its_figures_and_launch_links(browser, entry):
    driver, base = browser
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}/{entry}.html")
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")
    state = driver.execute_script(PAGE_STATE)
    assert state["ready"] == "complete", f"{entry}: the page did not finish loading"
    assert "404" not in state["title"] and len(state["text"]) > 500, f"{entry}: the page is empty or missing"
    for leftover in ("{glue", "{cite}", "{exercise}", "{solution", "Unknown directive", "System Message",
                     "ERROR/", "WARNING/", "Traceback (most recent call last)"):
        assert leftover not in state["text"], f"{entry}: the page shows raw markup or an error: {leftover!r}"
    assert not state["broken"], f"{entry}: images that did not load: {state['broken']}"
    notebook = ROOT / f"{entry}.ipynb"
    if notebook.exists():
        assert state["images"] >= 1, f"{entry}: no figure shown"
        repo = repository_url().removeprefix("https://github.com/")
        colab = f"https://colab.research.google.com/github/{repo}/blob/main/{entry}.ipynb"
        assert colab in state["links"], f"{entry}: the Colab launch button does not point at {entry}.ipynb"
        download = f"{base}/_sources/{entry}.ipynb"
        assert download in state["links"], f"{entry}: no download link to the notebook"
        assert driver.execute_script("return fetch(arguments[0]).then(r => r.status)", download) == 200, (
            f"{entry}: the notebook download link is broken")
    if entry in SCREENSHOT_PAGES:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / f"{entry.replace('/', '_')}.png"))
