#!/bin/sh
# Time `make run` (to the first answer of /health/live) and `make test`'s install on a fresh clone of this
# checkout, with uv's cache cold (an empty cache directory) and warm, and print each venv's size.
# Usage: bench/install-times.sh [PORT]     (needs the package registry; takes a few minutes)
set -eu
port=${1:-18089}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'pkill -f "granian.*--port $port" 2>/dev/null || true; rm -rf "$work"' EXIT INT TERM

now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.1f", $1 - $2}'; }

time_run() {  # $1: label; $2: uv cache dir
    rm -rf "$work/clone" && git clone -q "$repo" "$work/clone"
    start=$(now)
    (cd "$work/clone" && UV_CACHE_DIR=$2 PIP_NO_CACHE_DIR=1 MODELYARD_PORT=$port make run >"$work/run.log" 2>&1 &)
    until curl -sf "http://127.0.0.1:$port/health/live" >/dev/null 2>&1; do
        sleep 0.1
        if [ "$(since "$start" | cut -d. -f1)" -gt 600 ]; then echo "make run: no answer in 600 s" >&2; cat "$work/run.log" >&2; exit 1; fi
    done
    echo "$1: make run, clone to first answer: $(since "$start") s; runtime venv $(du -sh "$work/clone/.venv" | cut -f1), uv bootstrap $(du -sh "$work/clone/.tools" | cut -f1)"
    pkill -f "granian.*--port $port"
    while curl -sf "http://127.0.0.1:$port/health/live" >/dev/null 2>&1; do sleep 0.1; done
}

time_test_install() {  # $1: label; $2: uv cache dir
    rm -rf "$work/clone" && git clone -q "$repo" "$work/clone"
    start=$(now)
    (cd "$work/clone" && UV_CACHE_DIR=$2 PIP_NO_CACHE_DIR=1 make install-dev >/dev/null 2>&1)
    echo "$1: make test's install (runtime + dev extra): $(since "$start") s; venv $(du -sh "$work/clone/.venv" | cut -f1)"
}

time_run "cold cache" "$work/cache-run"
time_run "warm cache" "$work/cache-run"
time_test_install "cold cache" "$work/cache-test"
time_test_install "warm cache" "$work/cache-test"
