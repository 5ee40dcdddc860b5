PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-pg bench bench-pg lint clean

# The suite runs on every core (pytest-xdist); JOBS=0 runs it in one process. A single
# test (`.venv/bin/pytest tests/x.py::t`) runs in one process: addopts has no -n. Update
# snapshots in one process too (JOBS=0): under xdist syrupy cannot see unused ones.
JOBS ?= auto
PYTEST := $(BIN)/pytest -n $(JOBS) --durations=15

# The editable install is a path in a .pth file (compat mode), not setuptools' import
# finder: the finder is imported by every Python process in the venv at startup, ~25 ms
# of each command's start (bench cli: `python -c pass` 63 → 22 ms, `--help` p50 325 → 214).
# Setuptools warns that this mode is transitional (hence its bound in pyproject.toml).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -e '.[dev,pg]' \
		--config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/p2pmarket demo --open

test: install
	$(BIN)/ruff check p2pmarket tests
	$(BIN)/lint-imports
	$(PYTEST)

# Bench markets live in BENCH_HOME, never in your own market; LISTINGS=1000000 for the targets.
BENCH_HOME ?= $(CURDIR)/.bench
LISTINGS ?= 100000

bench: install
	$(BIN)/p2pmarket --home "$(BENCH_HOME)" bench payments
	$(BIN)/p2pmarket --home "$(BENCH_HOME)" bench search --listings $(LISTINGS)
	$(BIN)/p2pmarket --home "$(BENCH_HOME)" bench price --listings $(LISTINGS)
	$(BIN)/p2pmarket --home "$(BENCH_HOME)" bench tui --listings $(LISTINGS)
	$(BIN)/p2pmarket --home "$(BENCH_HOME)" bench inbox --listings $(LISTINGS)

# The suite on PostgreSQL: P2PMARKET_TEST_PG=postgresql+psycopg://… (.ci/run starts a server).
test-pg: install
	$(PYTEST) --backend postgresql

# bench search and bench payments on SQLite and on P2PMARKET_TEST_PG, side by side.
bench-pg: install
	$(BIN)/p2pmarket bench pg --db "$$P2PMARKET_TEST_PG"

clean:
	rm -rf $(VENV) build *.egg-info
