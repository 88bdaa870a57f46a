# One command each: `make demo` (harvest the bundled sample site and serve it), `make test`.
# `make demo PORT=8002 SITE_PORT=8091` when the default ports are taken.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
PORT ?= 8001
SITE_PORT ?= 8090

.PHONY: demo test test-fast lint docs clean

# The first run installs wparchive and its dependencies into $(VENV): about a minute, said as it goes.
$(BIN)/.installed: pyproject.toml
	@echo "Creating $(VENV) and installing wparchive with its dependencies (once; about a minute)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[test]' | grep --line-buffered -E '^(Collecting|Successfully)' || true
	@test -x $(BIN)/wparchive || { echo "Installing into $(VENV) failed: run $(BIN)/python -m pip install -e '.[test]' to see why."; exit 1; }
	touch $@

demo: $(BIN)/.installed
	$(BIN)/wparchive demo --port $(PORT) --site-port $(SITE_PORT)

test: $(BIN)/.installed
	$(BIN)/python -m pytest

test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not integration"

lint: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet ruff mypy types-requests types-PyYAML
	$(BIN)/ruff check --select F,E9,B --line-length 120 src tests
	$(BIN)/mypy src/wparchive --ignore-missing-imports

docs: $(BIN)/.installed
	$(BIN)/cog -r README.md

clean:
	rm -rf $(VENV) demo.db .pytest_cache
