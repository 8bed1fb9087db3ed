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
    assert server_runs == [((), {"host": "127.0.0.1", "port": 8123, "workers": 1, "access_log": False})]

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
        [sys.executable, "-m", "modelyard.cli", "serve", "--port", str(port)],
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
