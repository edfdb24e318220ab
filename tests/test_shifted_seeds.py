"""The second run: every chapter executed again with every seed shifted.

``SEQLIB_SEED_OFFSET`` moves every seed in the book at once (seqlib.runtime adds it wherever a
seed becomes a generator): other training data, other initialisations, other batches. No output
is compared with the stored one, but every cell must run, so every ``assert`` that states a
verdict must hold for seeds the book did not choose. The executed notebooks are written to
``_build/shifted/`` for reading. Each chapter runs alone in an empty folder, on the pinned
numerics of kernel.env, as in the first run.
"""
import os
import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from bookfiles import NOTEBOOKS, ROOT
from nbval_isolation import KERNEL_ENV

OFFSET = 1000
OUT = ROOT / "_build" / "shifted"
CHECK = "import seqlib.runtime\nprint(seqlib.runtime.seed_offset())"


def run_shifted(nb_path, tmp_path):
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECK))  # the kernel must see the offset
    env = {**os.environ, **KERNEL_ENV, "SEQLIB_SEED_OFFSET": str(OFFSET)}
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute(env=env)
    except CellExecutionError as error:
        pytest.fail(f"{nb_path.name} fails with every seed shifted by {OFFSET} "
                    f"(SEQLIB_SEED_OFFSET={OFFSET}; the executed notebook is in {OUT}):\n{error}"[:6000])
    finally:
        OUT.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, OUT / nb_path.name)
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs).strip()
    assert printed == str(OFFSET), f"the kernel saw seed offset {printed!r}, not {OFFSET}"


# One test class per chapter: pytest-xdist (--dist loadscope) keeps a class on one worker, so the
# chapters' shifted runs spread over the workers instead of queueing on one.
for _nb in NOTEBOOKS:
    _name = "TestShifted_" + re.sub(r"\W", "_", _nb.stem)
    globals()[_name] = type(_name, (), {
        "__doc__": f"{_nb.name}, executed with every seed shifted.",
        "test_every_cell_runs_with_every_seed_shifted":
            (lambda nb_path: lambda self, tmp_path: run_shifted(nb_path, tmp_path))(_nb),
    })
