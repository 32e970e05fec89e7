# The two commands of the README: `make demo` and `make test`.
# Both create .venv when it is missing and install the project into it.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

DEMO_ORDERS := '[{"id": "order-1", "customer": "ada", "total": 42.50, "address": "12 Analytical Way"}, {"id": "order-2", "customer": "grace", "total": 19.99, "address": ""}]'

demo: $(STAMP)
	$(PY) -m actorflow.cli exec examples/saga app:main $(DEMO_ORDERS)

test: $(STAMP) lint
	$(PY) tests/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check actors supervision temporal_bridge actorflow wippy_compat cluster tests examples bench

bench: $(STAMP)
	$(PY) bench/core.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
