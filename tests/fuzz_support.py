"""Shared settings of the fuzz tests (``tests/test_fuzz_*.py``).

``make test`` runs each fuzz target on a fixed, derandomized set of a few
hundred inputs, a few seconds each, so the suite stays fast and a failure
reproduces on every run.  The long mode explores fresh random inputs::

    ACTORFLOW_FUZZ_EXAMPLES=20000 .venv/bin/python tests/run.py tests/test_fuzz_*.py --timeout=7200

(any positive number of examples per target; ``--timeout`` lifts the
suite's 120 s per test, while still ending a hang; hypothesis prints the
falsifying input and how to reproduce it when one fails).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG_EXAMPLES = int(os.environ.get("ACTORFLOW_FUZZ_EXAMPLES", "0") or 0)
"""Examples per target in the long mode; 0 = the bounded run of ``make test``."""


def fuzz(examples: int) -> settings:
    """Settings for one fuzz target: ``examples`` fixed inputs, or the long mode's count."""
    common = {
        "deadline": None,  # a loaded 2-core machine is no reason to fail; pytest-timeout bounds a hang
        "database": None,  # nothing written to the work tree
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
        "print_blob": True,
    }
    if LONG_EXAMPLES > 0:
        return settings(max_examples=LONG_EXAMPLES, derandomize=False, **common)
    return settings(max_examples=examples, derandomize=True, **common)
