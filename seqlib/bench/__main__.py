"""``python -m seqlib.bench``: see :func:`seqlib.bench.main`."""
import sys

from .cli import main

main()
sys.exit(0)
