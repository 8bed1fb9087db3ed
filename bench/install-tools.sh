#!/bin/sh
# Install what the benchmark needs from Debian: wrk (the load generator) and nginx (the fake upstream).
# The harness runs its own nginx, with its own config, prefix and pid file on a loopback port, so a system
# nginx that apt starts on installation is stopped again and left disabled.
set -eu

have_nginx() { command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; }

if command -v wrk >/dev/null 2>&1 && have_nginx; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "bench: wrk and nginx are missing, and installing them needs root (apt-get install wrk nginx-light)" >&2
    exit 1
fi

echo "bench: installing wrk and nginx from Debian"
$SUDO apt-get update -qq
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -qq wrk nginx-light || $SUDO apt-get install -y -qq wrk nginx

# apt may have started the system nginx: stop it, and keep it from starting at boot.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
fi
if [ -s /run/nginx.pid ]; then
    $SUDO /usr/sbin/nginx -s quit >/dev/null 2>&1 || $SUDO kill "$(cat /run/nginx.pid)" 2>/dev/null || true
fi
