"""The Colab check, part two (part one is nbval_isolation: every notebook runs alone in an
empty folder): seqlib installs with pip from the checkout, as a package with ranged
dependencies, and the kernels import that installed package, identical to the source."""
import json
import pathlib
import re
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


def _stack_names(name):
    lines = (ROOT / "tests" / "stacks" / f"{name}.txt").read_text().splitlines()
    return {re.split(r"[=<>!~ ]", line.split("#")[0].strip())[0].lower()
            for line in lines if line.split("#")[0].strip()}


def test_the_other_stacks_list_every_dependency_of_seqlib():
    """`make colab-check` installs each stack before seqlib, as a runtime that already has its
    packages; a dependency missing from a stack would be installed by seqlib, untested as Colab's."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[=<>!~ \[;]", d)[0].lower() for d in deps}
    for stack in ("colab", "newest"):
        missing = names - _stack_names(stack)
        assert not missing, f"tests/stacks/{stack}.txt lacks seqlib's dependencies {sorted(missing)}"
    pins = [line for line in (ROOT / "tests" / "stacks" / "colab.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert all("==" in line for line in pins), f"Colab's stack pins exact versions, got {pins}"


def test_the_colab_check_report_is_of_the_stack_it_names():
    """The README quotes the last report of each stack: it must have run every chapter, on the
    versions its stack file pins, and found seqlib's install leaving the runtime alone."""
    for stack in ("colab", "newest"):
        path = ROOT / "tests" / "stacks" / "reports" / f"{stack}.json"
        report = json.loads(path.read_text())
        chapters = sorted(p.name for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
        assert sorted(report["chapters"]) == chapters, f"{path.name} did not run every chapter"
        assert report["requirements"] == [line.split("#")[0].strip() for line in
                                          (ROOT / "tests" / "stacks" / f"{stack}.txt").read_text().splitlines()
                                          if line.split("#")[0].strip()], f"{path.name} is of an older {stack}.txt"
        for line in report["requirements"]:
            if "==" in line:
                name, version = line.split("==")
                assert report["versions"][name] == version, f"{path.name}: {name} {report['versions'][name]}"
        assert report["pip_would_also_install"] == []
    import importlib.util

    spec = importlib.util.spec_from_file_location("colab_check", ROOT / "tests" / "stacks" / "colab_check.py")
    colab_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(colab_check)
    assert colab_check.table() in (ROOT / "README.md").read_text(), (
        "the README's table of the last stack checks is out of date: paste "
        "`python tests/stacks/colab_check.py --table` into it")
