"""Run the test suite: ``python tests/run.py [pytest arguments]`` is ``python -m pytest``.

The exit status is exactly pytest's.  temporalio can crash at interpreter
exit after every test has passed (sdk-python issue 300); actorflow's pytest
plugin (``actorflow/pytest_plugin.py``) guards against that for every way of
running pytest, this one included, by leaving with ``os._exit(status)``.
"""

from __future__ import annotations

import sys

import pytest

if __name__ == "__main__":
    sys.exit(int(pytest.main(sys.argv[1:])))
