"""pytest plugin: nbval runs every chapter notebook alone in an empty folder (the Colab check).

nbval normally starts each notebook's kernel in the notebook's own folder. Here the kernel
starts instead in a fresh temporary folder that holds nothing but a copy of the notebook,
as in Colab: a notebook that reads a sibling file, or imports seqlib from the source tree
instead of the installed package, fails. The same single execution is both the strict
nbval comparison and the isolation check, which keeps the suite's run time to one pass.

Kernels inherit the environment set here, read from the book's kernel.env (the Makefile's
`make refresh` reads the same file): one thread, a fixed hash seed, no progress bars and
pinned CPU numerics.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import tempfile

import nbval.plugin as nbval_plugin

ROOT = pathlib.Path(__file__).resolve().parents[1]


def kernel_env(path=ROOT / "kernel.env") -> dict[str, str]:
    """The variables of kernel.env: NAME=value lines, comments and blank lines skipped."""
    env = {}
    for number, line in enumerate(pathlib.Path(path).read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.isidentifier() or not name.isupper():
            raise ValueError(f"{path}:{number}: expected NAME=value, got {line!r}")
        env[name] = value
    return env


KERNEL_ENV = kernel_env()

_original_setup = nbval_plugin.IPyNbFile.setup
_original_teardown = nbval_plugin.IPyNbFile.teardown


def _isolated_setup(self):
    folder = pathlib.Path(tempfile.mkdtemp(prefix="seqbook-colab-"))
    shutil.copy(str(self.fspath), folder / pathlib.Path(str(self.fspath)).name)
    real = nbval_plugin.RunningKernel
    nbval_plugin.RunningKernel = lambda name, cwd=None, **kw: real(name, cwd=str(folder), **kw)
    try:
        _original_setup(self)
    finally:
        nbval_plugin.RunningKernel = real
    self.isolated_folder = folder


def _isolated_teardown(self):
    try:
        _original_teardown(self)
    finally:
        shutil.rmtree(getattr(self, "isolated_folder", ""), ignore_errors=True)


nbval_plugin.IPyNbFile.setup = _isolated_setup
nbval_plugin.IPyNbFile.teardown = _isolated_teardown


def pytest_configure(config):
    os.environ.update(KERNEL_ENV)
    # The kernel must find seqlib as an installed package, never through the source tree.
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
             if p and pathlib.Path(p).resolve() != ROOT]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
    if not paths:
        del os.environ["PYTHONPATH"]


def _excused_cells():
    """(notebook, cell index, first line) of every cell whose outputs nbval does not compare.

    Read from the notebooks themselves, so the list is complete when the tests run in several
    worker processes (pytest-xdist), where the workers' records never reach this process.
    """
    from bookfiles import NOTEBOOKS, code_cells, is_excused, load, source

    for nb in NOTEBOOKS:
        for i, cell in enumerate(code_cells(load(nb))):
            if is_excused(cell):
                yield nb.name, i, (source(cell).strip().splitlines() or [""])[0]


def pytest_terminal_summary(terminalreporter):
    if getattr(terminalreporter.config, "workerinput", None) is not None:
        return  # a pytest-xdist worker: the main process writes the summary
    excused = list(_excused_cells())
    if excused:
        terminalreporter.write_sep("-", "cells excused from nbval's output comparison (timing or memory only)")
        for notebook, index, first in excused:
            terminalreporter.write_line(f"{notebook} cell {index}: {first}")
