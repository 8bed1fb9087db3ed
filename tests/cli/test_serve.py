"""`modelyard serve`: first-run preparation in-process (the server start recorded), then run for real."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from modelyard.cli import serve as serve_module
from modelyard.console.setup import complete_setup
from tests.support.cli import Cli, started_services


@pytest.fixture
def server_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    runs: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(serve_module, "run_server", lambda *args, **kwargs: runs.append((args, kwargs)))
    return runs


def test_serve_on_a_fresh_home_migrates_and_prints_a_working_setup_link(
    cli: Cli, home: Path, server_runs: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> None:
    assert not home.exists()

    started = cli.json("serve", "--port", "8123")

    assert home.is_dir() and (home / "modelyard.db").is_file()
    assert started["url"] == "http://127.0.0.1:8123"
    assert started["owner"] is None
    link = urlsplit(started["setup_url"])
    assert (link.scheme, link.netloc, link.path) == ("http", "127.0.0.1:8123", "/")
    assert link.fragment.startswith("/setup?token=")
    token = parse_qs(link.fragment.split("?", 1)[1])["token"][0]
    workers = started["workers"]
    assert server_runs == [((), {"host": "127.0.0.1", "port": 8123, "workers": workers, "access_log": False})]

    async def use_the_link() -> str:
        async with started_services() as services:
            account, _ = await complete_setup(services, token=token, email="owner@example.com", password="pw-12345678")
            return account.email

    assert asyncio.run(use_the_link()) == "owner@example.com"


def test_serve_with_owner_email_creates_the_owner_and_a_first_workspace_once(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, server_runs: list[Any]
) -> None:
    monkeypatch.setenv("MODELYARD_OWNER_PASSWORD", "owner-password-1")

    first = cli.json("serve", "--owner-email", "owner@example.com")
    again = cli.json("serve", "--owner-email", "owner@example.com")

    assert first["owner"]["email"] == "owner@example.com" and first["setup_url"] is None
    assert "MODELYARD_OWNER_PASSWORD" not in os.environ  # the workers do not inherit it
    assert [w["id"] for w in cli.json("workspace", "list")] == [first["owner"]["workspace_id"]]
    assert again["owner"] is None and again["setup_url"] is None
    assert len(server_runs) == 2

    async def sign_in() -> list[str]:
        async with started_services() as services:
            owner = await services.accounts.authenticate(email="owner@example.com", password="owner-password-1")
            return [w.role for w in await services.accounts.workspaces_of(owner.id)]

    assert asyncio.run(sign_in()) == ["owner"]


def test_serve_reads_the_owner_password_from_stdin_when_the_environment_has_none(
    cli: Cli, server_runs: list[Any]
) -> None:
    result = cli("serve", "--owner-email", "owner@example.com", input="piped-password\n")

    assert result.exit_code == 0, result.output
    assert "Created the owner account owner@example.com" in result.stdout
    assert "piped-password" not in result.output


def test_serve_takes_host_and_port_from_the_environment(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, server_runs: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> None:
    monkeypatch.setenv("MODELYARD_HOST", "0.0.0.0")
    monkeypatch.setenv("MODELYARD_PORT", "9000")

    started = cli.json("serve")

    assert (server_runs[0][1]["host"], server_runs[0][1]["port"]) == ("0.0.0.0", 9000)
    assert started["url"] == "http://127.0.0.1:9000"  # a link a browser on this machine can open


def test_serve_with_workers_gives_prometheus_a_fresh_shared_directory(
    cli: Cli, home: Path, server_runs: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> None:
    metrics_dir = home / "prometheus"
    metrics_dir.mkdir(parents=True)
    (metrics_dir / "counter_123.db").write_bytes(b"stale")

    started = cli.json("serve", "--workers", "2")

    assert started["metrics_dir"] == str(metrics_dir)
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(metrics_dir)
    assert list(metrics_dir.iterdir()) == []
    assert server_runs[0][1]["workers"] == 2


@pytest.mark.parametrize("argv", [(), ("--workers", "auto"), ("--workers", "AUTO")])
def test_serve_starts_one_worker_per_usable_core_by_default(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    server_runs: list[tuple[tuple[Any, ...], dict[str, Any]]],
    argv: tuple[str, ...],
) -> None:
    monkeypatch.setattr(serve_module, "usable_cores", lambda: 3)

    started = cli.json("serve", *argv)

    assert started["workers"] == 3
    assert server_runs[0][1]["workers"] == 3
    assert started["metrics_dir"] is not None  # several workers: their metrics must add up


def test_serve_with_one_worker_needs_no_shared_metrics_directory(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, server_runs: list[tuple[tuple[Any, ...], dict[str, Any]]]
) -> None:
    monkeypatch.setattr(serve_module, "usable_cores", lambda: 8)

    started = cli.json("serve", "--workers", "1")

    assert (started["workers"], server_runs[0][1]["workers"], started["metrics_dir"]) == (1, 1, None)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", ""])
def test_serve_refuses_a_worker_count_that_is_neither_positive_nor_auto(
    cli: Cli, server_runs: list[Any], value: str
) -> None:
    result = cli("serve", "--workers", value)

    assert result.exit_code == 2
    assert "--workers" in result.stderr and "neither a positive number nor 'auto'" in result.stderr
    assert server_runs == []


def test_serve_help_documents_the_workers_default(cli: Cli) -> None:
    result = cli("serve", "--help")

    assert result.exit_code == 0
    assert "--workers N|auto" in result.stdout and "[default: auto]" in result.stdout


def test_the_server_kills_a_worker_that_does_not_stop_after_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    # granian ignores a SIGTERM that reaches a worker still loading the app: without a kill timeout, a service
    # stopped right after it answered (its other workers still loading) would never exit.
    executed: list[list[str]] = []
    monkeypatch.setattr(serve_module.os, "execv", lambda path, argv: executed.append(argv))

    serve_module.run_server(host="127.0.0.1", port=8080, workers=2, access_log=False)

    (argv,) = executed
    assert argv[argv.index("--workers") + 1] == "2"
    assert argv[argv.index("--workers-kill-timeout") + 1] == str(serve_module.WORKER_STOP_TIMEOUT_S)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_serve_runs_the_service_until_terminated_and_stops_gracefully(cli: Cli, home: Path) -> None:
    workspace = cli.json("workspace", "create", "Served")["id"]
    key = cli.json("apikey", "create", "--workspace", workspace, "--name", "ci")["key"]
    port = free_port()
    server = subprocess.Popen(
        # One worker: with several, /health/live answers once the first has loaded, and the stop below could
        # reach another one still loading (the kill timeout would end it, but the test would wait that long).
        [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 60  # start-up: imports, migration; not a performance assertion
        while True:
            assert server.poll() is None, server.communicate()[1].decode()
            try:
                live = get(f"http://127.0.0.1:{port}/health/live")
                break
            except OSError:
                assert time.monotonic() < deadline, "modelyard serve did not start listening"
                time.sleep(0.1)
        models = get(f"http://127.0.0.1:{port}/v1/models")
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            listed = response.status
    finally:
        server.send_signal(signal.SIGTERM)
        stdout, stderr = server.communicate(timeout=30)

    assert live[0] == 200
    assert models[0] == 401 and b'"error"' in models[1]
    assert listed == 200
    assert server.returncode in (0, -signal.SIGTERM), stderr.decode()
    assert f"http://127.0.0.1:{port}/#/setup?token=" in stdout.decode()  # no account yet: the setup link
    # The key's last use is written in batches; only a graceful stop (services closed) writes it this soon.
    assert cli.json("apikey", "list", "--workspace", workspace)[0]["last_used_at"] is not None
