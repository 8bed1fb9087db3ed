# `make run` and `make test` work on a fresh machine: each installs from the committed lock (uv.lock), then runs.
# uv itself is bootstrapped from the interpreter's pip into .tools/, pinned and hashed in requirements/uv.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .tools
UV := $(TOOLS)/bin/uv
LATEST := .venv-latest
LOWEST := .venv-lowest

export UV_PROJECT_ENVIRONMENT := $(VENV)
# uv uses $(PYTHON) and never fetches an interpreter of its own.
export UV_PYTHON_DOWNLOADS := never
# Compile to bytecode at install, as pip does: faster first imports, and a dependency's SyntaxWarnings are
# spent there instead of failing the suite, which runs with warnings as errors.
export UV_COMPILE_BYTECODE := 1
UV_SYNC := $(UV) sync --locked --python $(PYTHON)

.PHONY: run test lint format clean matrix install install-dev lock test-latest test-lowest bench

$(UV): requirements/uv.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/uv.txt
	touch $(UV)

# The runtime set only. --inexact keeps a test venv's extras, so `make run` after `make test` installs nothing.
install: | $(UV)
	$(UV_SYNC) --inexact --quiet

# Everything the tests need: the runtime set, the dev extra (SDK oracles, linters, Playwright).
install-dev: | $(UV)
	$(UV_SYNC) --extra dev --quiet

run: install
	$(BIN)/modelyard serve

# Lint, types and tests all gate `make test`; each runs whatever the others found, and the summary names both.
test: install-dev
	@scripts/check.sh $(BIN)

lint: install-dev
	@scripts/check.sh $(BIN) lint

format: install-dev
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

# Refresh the lock on purpose (newest releases within pyproject's bounds); commit it alone, after `make test`.
lock: | $(UV)
	$(UV) lock --upgrade --python $(PYTHON)
	for lock in bench/requirements/*.in; do \
	  $(UV) pip compile --quiet --upgrade --generate-hashes --universal --python-version 3.11 $$lock -o $${lock%.in}.txt; \
	done

# Not in CI: the newest releases of everything, resolved now, in a venv of their own, so drift shows early.
test-latest: | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(LATEST)
	VIRTUAL_ENV=$(LATEST) $(UV) pip install --quiet --upgrade --reinstall-package modelyard -e '.[dev]'
	@scripts/check.sh $(LATEST)/bin

# Not in CI: pyproject's runtime lower bounds kept honest — the oldest allowed release of each runtime dependency
# (the dev tools at their locked versions), in .venv-lowest, through the same checks.
test-lowest: | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(LOWEST)
	$(PYTHON) scripts/dev_pins.py > $(LOWEST)/dev-pins.txt
	VIRTUAL_ENV=$(LOWEST) $(UV) pip install --quiet --resolution lowest-direct --reinstall-package modelyard \
	  -c $(LOWEST)/dev-pins.txt -e '.[dev]'
	@scripts/check.sh $(LOWEST)/bin

matrix: install-dev
	$(BIN)/pytest tests/catalog tests/protocols tests/signing tests/gateway tests/console/test_every_provider_faces.py -q
	$(BIN)/python scripts/capability_matrix.py

# Not in CI (it calls real vendors): `make live PROVIDERS=openai,mistralai` runs the catalog round trip per declared
# feature against each vendor, keys from MODELYARD_LIVE_<PROVIDER>_<FIELD> (tests/live/runner.py), and prints a
# capability table to compare with docs/capabilities.md. Without PROVIDERS: every provider that has keys set.
live: install-dev
	MODELYARD_LIVE_PROVIDERS=$(PROVIDERS) $(BIN)/pytest tests/live -m live -p no:cacheprovider -q -rs

clean:
	rm -rf $(VENV) $(LATEST) $(LOWEST) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache

# `make bench` (or `make bench QUICK=1` for a run of a few minutes): see bench/README.md.
bench: install-dev
	bench/install-tools.sh
	$(BIN)/python bench/run.py $(if $(filter 1 yes true,$(QUICK)),--quick) $(BENCH_ARGS)
