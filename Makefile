# One command each: `make demo` (harvest the bundled sample site and serve it), `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo test test-fast lint docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/wparchive demo

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
