# `make run` and `make test` work on a fresh machine: each makes .venv, installs, then runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean matrix

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/modelyard serve

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

test: lint
	$(BIN)/pytest

matrix: $(STAMP)
	$(BIN)/pytest tests/catalog tests/protocols tests/signing tests/gateway tests/console/test_every_provider_faces.py -q
	$(BIN)/python scripts/capability_matrix.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# `make bench` (or `make bench QUICK=1` for a run of a few minutes): see bench/README.md.
.PHONY: bench
bench: $(STAMP)
	bench/install-tools.sh
	$(BIN)/python bench/run.py $(if $(filter 1 yes true,$(QUICK)),--quick) $(BENCH_ARGS)
