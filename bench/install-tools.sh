#!/bin/sh
# Install what the benchmark needs from Debian: wrk (the load generator), nginx (the fake upstream), and Node
# with npm (Portkey's gateway, which the harness installs itself with `npm ci` from bench/portkey's lock).
# The harness runs its own nginx, with its own config, prefix and pid file on a loopback port, so a system
# nginx that apt starts on installation is stopped again and left disabled.
set -eu

have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }

missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
have_nginx || missing="$missing nginx-light"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "bench: missing$missing, and installing needs root (apt-get install$missing)" >&2
    exit 1
fi

echo "bench: installing$missing from Debian"
$SUDO apt-get update -qq
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # one word per package
$SUDO apt-get install -y -qq $missing || $SUDO apt-get install -y -qq $(echo "$missing" | sed 's/nginx-light/nginx/')

# apt may have started the system nginx: stop it, and keep it from starting at boot.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
fi
if [ -s /run/nginx.pid ]; then
    $SUDO /usr/sbin/nginx -s quit >/dev/null 2>&1 || $SUDO kill "$(cat /run/nginx.pid)" 2>/dev/null || true
fi
