"""The suite's fixtures come from actorflow's pytest plugin (``actorflow/pytest_plugin.py``).

``node`` (a fresh node, shut down after the test), ``probe`` (a probe on it
that traps links), ``app``/``running_app`` (apps started and stopped) and the
``temporal`` marker are the plugin's, the same a user of actorflow tests with:
the suite checks them by using them.
"""

pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py runs pytest inside pytest
