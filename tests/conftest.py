import pathlib
import sys

# Let the tests import their helper module (bookfiles) without making tests/ a package.
sys.path.insert(0, str(pathlib.Path(__file__).parent))

