import pathlib
import sys

# Let the tests import their helper module (bookfiles) without making tests/ a package.
sys.path.insert(0, str(pathlib.Path(__file__).parent))


import pytest  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Group the tests for pytest-xdist (``--dist loadgroup``): each notebook's nbval cells share
    one kernel and each test module its fixtures, so each stays whole on one worker; the
    shifted-seed runs (one group per chapter, marked in their module) spread over the workers."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))
