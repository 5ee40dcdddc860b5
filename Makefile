PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/p2pmarket demo --open

test: install
	$(BIN)/ruff check p2pmarket tests
	$(BIN)/lint-imports
	$(BIN)/pytest

bench: install
	$(BIN)/p2pmarket bench

clean:
	rm -rf $(VENV) build *.egg-info
