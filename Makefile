# The two commands a newcomer needs: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: demo test setup lint typecheck check browser bench wrk clean messages graph

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/vaxport demo

# Installs Debian's Chromium for the browser tests when it is missing (root only);
# without it those tests skip with a reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	  >/dev/null 2>&1 || echo "chromium not installed: browser tests will skip"; }

# Debian's wrk drives the load benchmark (installed when missing and run as root).
wrk:
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) \
	  >/dev/null 2>&1 || echo "wrk not installed: the bench end-to-end test will skip"; }

bench: setup wrk
	$(VENV)/bin/vaxport bench $(BENCH_ARGS)

# The suite runs on TEST_WORKERS pytest-xdist workers (0: serially, in this process).
# Each worker has its own database and cache keys (tests/conftest.py); loadfile keeps a
# test file on one worker, so its module fixtures (servers, Chromium) start once. Three
# on two cores: a worker waits on PostgreSQL, a browser or a subprocess much of the time
# (measured: the PostgreSQL leg 8.5 -> 8.2 min, CPU 1.2 of 2 cores busy with two).
TEST_WORKERS ?= 3
TEST_DIST ?= loadfile

# Byte-compiled first: where PYTHONDONTWRITEBYTECODE is set (CI), every worker and every
# command a test starts compiled vaxport's sources again (~0.45 s of CPU each).
test: setup browser wrk
	@$(PY) -m compileall -q src >/dev/null
	$(PY) -m pytest -n $(TEST_WORKERS) --dist $(TEST_DIST) $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check src tests bench tools
	PYTHONPATH=src $(VENV)/bin/lint-imports --no-logo

# The import contracts not switched on yet (issue 11): where today's tree breaks them.
typecheck: setup
	$(VENV)/bin/mypy

check: lint typecheck test

# Re-extract translatable strings and merge them into every catalog; translators then
# edit src/vaxport/locales/<lang>/LC_MESSAGES/messages.po (compiled at start-up).
messages: setup
	$(VENV)/bin/pybabel extract -F babel.cfg --project=vaxport --copyright-holder="vaxport contributors" \
	  -w 88 -o src/vaxport/locales/messages.pot .
	$(VENV)/bin/pybabel update -i src/vaxport/locales/messages.pot -d src/vaxport/locales -w 88

# The package-level import graph, its cycles and upward imports (docs/architecture.md).
graph:
	$(PY) tools/import_graph.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
