"""The Colab check, part two (part one is nbval_isolation: every notebook runs alone in an
empty folder): seqlib installs with pip from the checkout, as a package with ranged
dependencies, and the kernels import that installed package, identical to the source."""
import pathlib
import subprocess
import sys
import tempfile
import zipfile

import tomllib

from bookfiles import ROOT, colab_install_spec, repository_url


def test_kernels_import_an_installed_seqlib_identical_to_the_checkout():
    with tempfile.TemporaryDirectory() as empty:
        out = subprocess.run([sys.executable, "-c", "import seqlib; print(seqlib.__file__)"], cwd=empty,
                             capture_output=True, text=True, check=True).stdout.strip()
    installed = pathlib.Path(out).parent
    assert installed != ROOT / "seqlib" and "site-packages" in installed.parts, (
        f"seqlib is imported from {installed}, not from an installed package; run `make install`")
    source = {p.relative_to(ROOT / "seqlib"): p.read_bytes() for p in (ROOT / "seqlib").rglob("*.py")}
    copied = {p.relative_to(installed): p.read_bytes() for p in installed.rglob("*.py")}
    stale = sorted(str(k) for k in source if copied.get(k) != source[k])
    assert not stale, f"the installed seqlib differs from the checkout in {stale}; run `make install`"


def test_seqlib_builds_as_a_wheel_with_ranged_dependencies(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("seqlib-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "seqlib/__init__.py" in names and "seqlib/data/tasks.py" in names
    assert not any(n.startswith(("tests/", "chapters/")) for n in names)
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert deps and all("==" not in d for d in deps), f"pyproject.toml must use ranges, not pins: {deps}"


def test_the_repository_url_is_the_same_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["urls"]["Book"].rstrip("/") == repository_url()
    assert repository_url() in (ROOT / "README.md").read_text()
    assert colab_install_spec().startswith("seqlib @ git+https://")


def test_seqlib_works_in_plain_python_without_notebook_machinery():
    """Where IPython, ipywidgets and myst-nb cannot be imported, seqlib still imports and runs."""
    code = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("IPython", "ipywidgets", "myst_nb"):
            raise ImportError(f"{name} is blocked for this test")
sys.meta_path.insert(0, Block())
import seqlib
seqlib.setup(seed=0)
print(seqlib.data.parity_task(4, 6).x.shape)
"""
    with tempfile.TemporaryDirectory() as empty:
        out = subprocess.run([sys.executable, "-c", code], cwd=empty, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "torch.Size([4, 6])"
