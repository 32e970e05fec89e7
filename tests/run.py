"""Run the test suite and exit with pytest's own status.

Temporal's Python SDK can crash at interpreter exit after every test has
passed (sdk-python issue 300).  Leaving with ``os._exit`` right after pytest
returns makes the exit status exactly pytest's: a failure is never hidden and
a crash in interpreter teardown never turns a green run red.
"""

from __future__ import annotations

import os
import sys

import pytest

if __name__ == "__main__":
    status = int(pytest.main(sys.argv[1:]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
