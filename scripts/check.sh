#!/bin/sh
# `make test`: lint, types and the test suite, all run even when an earlier one fails, then one summary.
# Usage: scripts/check.sh BIN [lint]   (BIN is the venv's bin folder; "lint" stops after lint and types)
# Extra pytest arguments come from PYTEST_ARGS.
set -u
bin=$1
only=${2:-all}
failed=""

step() {
    name=$1
    shift
    echo "== $name: $*"
    "$@" || failed="$failed $name"
}

step ruff "$bin/ruff" check src tests
step format "$bin/ruff" format --check src tests
step mypy "$bin/mypy"
if [ "$only" != lint ]; then
    # shellcheck disable=SC2086  # PYTEST_ARGS is a list of words on purpose
    step pytest "$bin/pytest" ${PYTEST_ARGS:-}
fi

if [ -n "$failed" ]; then
    echo "== FAILED:$failed"
    exit 1
fi
echo "== passed: ruff, format, mypy$([ "$only" != lint ] && echo ', pytest')"
