"""The gateways under test, each started on the target core and checked with one real call.

A target may offer several routes (modelyard: the hosted `system` route with quota accounting, counted in Redis
or, as `make run` sets it up, in SQLite alone; and the workspace's own `custom` credentials); each route names
the model that reaches the JSON, streaming and slow upstreams. Portkey routes by request headers instead, so a
target also says which headers each model's requests carry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness import wire
from harness.processes import LOAD_CORE, TARGET_CORE, Processes, Started, StartError, free_port, pinned, wait_for_port
from harness.upstream import FakeUpstream

BENCH_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = BENCH_DIR.parent
LITELLM_MASTER_KEY = "sk-bench-master-key"
HOSTED_LIMIT = 1_000_000_000  # large enough never to run out, small enough for any integer column


@dataclass(frozen=True)
class Route:
    key: str  # stable: the report judges each route against its own targets (DESIGN §9)
    label: str  # shown in the report: how the target reaches the upstream
    json_model: str
    stream_model: str
    slow_model: str
    redis: bool = True  # modelyard: beside a private Redis (hosted quota counted there), or SQLite alone


@dataclass(frozen=True)
class Target:
    name: str
    url: str  # the chat completions endpoint
    auth: str | None
    process: Started
    routing: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # model -> headers that route it

    def headers(self, model: str) -> dict[str, str]:
        """What a request for `model` carries besides its body: the gateway's key, and any routing headers."""
        return {**({"Authorization": self.auth} if self.auth else {}), **self.routing.get(model, {})}


@dataclass(frozen=True)
class Upstreams:
    fast: FakeUpstream
    slow_base: str  # the slow streaming upstream's /v1


def child_env(**extra: str) -> dict[str, str]:
    """The harness's environment without anything that could point a target at real data or keys."""
    drop = ("MODELYARD_", "LITELLM_", "OPENAI_", "DATABASE_URL", "REDIS_URL", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHONUNBUFFERED"] = "1"
    return env | extra


def harness_env(**extra: str) -> dict[str, str]:
    return child_env(PYTHONPATH=str(BENCH_DIR), **extra)


# --- pass-through -------------------------------------------------------------------------------------------


def start_passthrough(processes: Processes, upstreams: Upstreams) -> Target:
    port = free_port()
    routes = bench_models(upstreams)
    argv = [sys.executable, "-m", "harness.passthrough", "--port", str(port), "--routes", json.dumps(routes)]
    started = processes.start("target-passthrough", pinned(TARGET_CORE, argv), env=harness_env())
    wait_for_port(port, started, timeout_s=30)
    return Target("pass-through", f"http://127.0.0.1:{port}/v1/chat/completions", None, started)


def bench_models(upstreams: Upstreams) -> dict[str, str]:
    """The models every direct route offers, and the fake each reaches."""
    return {
        "bench-json": upstreams.fast.json_base,
        "bench-stream": upstreams.fast.stream_base,
        "bench-slow": upstreams.slow_base,
    }


# --- LiteLLM ------------------------------------------------------------------------------------------------


def litellm_config(upstreams: Upstreams) -> dict[str, object]:
    bases = bench_models(upstreams)
    model_list = [
        {
            "model_name": name,
            "litellm_params": {"model": f"openai/{wire.FAKE_MODEL}", "api_base": base, "api_key": "sk-fake"},
        }
        for name, base in bases.items()
    ]
    return {"model_list": model_list, "general_settings": {"master_key": LITELLM_MASTER_KEY}}


def start_litellm(processes: Processes, upstreams: Upstreams, work_dir: Path, venv: Path) -> Target:
    config = work_dir / "litellm.yaml"
    config.write_text(json.dumps(litellm_config(upstreams), indent=2))  # JSON is YAML
    port = free_port()
    argv = [str(venv / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--num_workers", "1"]
    env = child_env(
        LITELLM_LOCAL_MODEL_COST_MAP="True",  # no fetch of the price list from GitHub at start
        # Its default pool allows 500 connections per upstream host: the 1,000-stream measure needs 1,000.
        AIOHTTP_CONNECTOR_LIMIT="4000",
        AIOHTTP_CONNECTOR_LIMIT_PER_HOST="4000",
    )
    started = processes.start("target-litellm", pinned(TARGET_CORE, argv), env=env, cwd=work_dir)
    wait_for_port(port, started, timeout_s=240)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    return Target("LiteLLM proxy", url, f"Bearer {LITELLM_MASTER_KEY}", started)


# --- Portkey ------------------------------------------------------------------------------------------------


def start_portkey(processes: Processes, upstreams: Upstreams, server: Path) -> Target:
    """Portkey's gateway on Node: one process (Node runs JavaScript on one thread; taskset keeps its helper
    threads on the same core). It keeps no model list: each request names the provider and the upstream's base
    URL in headers (x-portkey-provider, x-portkey-custom-host) and carries the upstream key as its Authorization,
    so it checks no key of its own, as the pass-through."""
    port = free_port()
    argv = ["node", str(server), f"--port={port}", "--headless"]  # headless: no log console (UI) routes
    env = child_env(NODE_ENV="production")
    started = processes.start("target-portkey", pinned(TARGET_CORE, argv), env=env, cwd=server.parent)
    wait_for_port(port, started, timeout_s=120)
    routing = {
        model: {"x-portkey-provider": "openai", "x-portkey-custom-host": base}
        for model, base in bench_models(upstreams).items()
    }
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    return Target("Portkey gateway", url, "Bearer sk-fake", started, routing)


# --- modelyard ----------------------------------------------------------------------------------------------

DIRECT_ROUTE = Route("direct", "model name → upstream", "bench-json", "bench-stream", "bench-slow")
HEADERS_ROUTE = Route("direct", "headers → upstream", "bench-json", "bench-stream", "bench-slow")
_HOSTED_MODELS = ("openai/gpt-6-luna", "deepseek/deepseek-flash", "groq/openai/gpt-oss-20b")
SYSTEM_ROUTE = Route("system-redis", "system (hosted quota, Redis)", *_HOSTED_MODELS)
# What `make run` gives a new user: SQLite, no Redis, so each call's reservation is a database write.
SYSTEM_SQLITE_ROUTE = Route("system-sqlite", "system (hosted quota, SQLite, no Redis)", *_HOSTED_MODELS, redis=False)
CUSTOM_ROUTE = Route(
    "custom",
    "custom (workspace key)",
    "openai_api_compatible/bench-json",
    "openai_api_compatible/bench-stream",
    "openai_api_compatible/bench-slow",
)
# The custom route with an API key that carries limits and a budget (issue 16 §4): its own models on the same fakes,
# which `routing` sends with that key, so only the key's policy differs from the custom route.
GOVERNED = "-governed"
CUSTOM_GOVERNED_ROUTE = Route(
    "custom-governed",
    "custom, key with limits and a budget",
    *(f"{model}{GOVERNED}" for model in (CUSTOM_ROUTE.json_model, CUSTOM_ROUTE.stream_model, CUSTOM_ROUTE.slow_model)),
)


def hosted_config(upstreams: Upstreams) -> dict[str, object]:
    """Three hosted providers, each pointed at one fake, so the system route meets every upstream."""
    quota = {"type": "paid", "unit": "times", "limit": HOSTED_LIMIT}
    return {
        "providers": {
            "openai": {
                "credentials": {
                    "openai_api_key": "sk-fake",
                    "openai_api_base": upstreams.fast.json_base[: -len("/v1")],
                },
                "quota": quota,
                "models": ["gpt-6-luna"],
            },
            "deepseek": {
                "credentials": {"api_key": "sk-fake", "endpoint_url": upstreams.fast.stream_base},
                "quota": quota,
                "models": ["deepseek-flash"],
            },
            "groq": {
                "credentials": {"api_key": "sk-fake", "endpoint_url": upstreams.slow_base},
                "quota": quota,
                "models": ["openai/gpt-oss-20b"],
            },
        }
    }


def modelyard_env(home: Path) -> dict[str, str]:
    hosted = home.parent / "hosted.yaml"
    return child_env(MODELYARD_HOME=str(home), MODELYARD_HOSTED_CONFIG=str(hosted))


def start_redis(processes: Processes) -> str | None:
    """A private Redis on the load generator's core, as a multi-replica deployment would run beside modelyard.

    With it, hosted quota is reserved by one Redis script and no database write waits on the call (DESIGN §4);
    without it (no redis-server on the machine) the benchmark measures the database-counter route instead.
    """
    server = shutil.which("redis-server")
    if server is None:
        return None
    port = free_port()
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    started = processes.start("redis", pinned(LOAD_CORE, argv))
    wait_for_port(port, started, timeout_s=30)
    return f"redis://127.0.0.1:{port}/0"


def start_modelyard(
    processes: Processes,
    upstreams: Upstreams,
    work_dir: Path,
    *,
    redis: bool = True,
    workers: int = 1,
    cores: str = str(TARGET_CORE),
) -> Target:
    """`modelyard serve --workers N` on `cores` (one worker on the target core, unless measuring scale-out),
    with its own home (SQLite) and, when `redis`, a private Redis."""
    home = work_dir / "modelyard-home"
    home.mkdir(parents=True, exist_ok=True)
    (work_dir / "hosted.yaml").write_text(json.dumps(hosted_config(upstreams), indent=2))
    env = modelyard_env(home)
    redis_url = start_redis(processes) if redis else None
    if redis_url is not None:
        env["MODELYARD_REDIS_URL"] = redis_url
    setup = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.modelyard_setup",
            "--json-base",
            upstreams.fast.json_base,
            "--stream-base",
            upstreams.fast.stream_base,
            "--slow-base",
            upstreams.slow_base,
        ],
        env=env | {"PYTHONPATH": str(BENCH_DIR)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if setup.returncode != 0:
        raise StartError(f"modelyard setup failed:\n{setup.stderr[-3000:]}")
    created = json.loads(setup.stdout.strip().splitlines()[-1])
    port = free_port()
    modelyard = Path(sys.executable).parent / "modelyard"
    # --workers explicitly: serve's default is one worker per usable core, and the rule here is one core each.
    argv = [str(modelyard), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    started = processes.start(
        f"target-modelyard-{work_dir.name}", ["taskset", "-c", cores, *argv], env=env, cwd=work_dir
    )
    wait_for_port(port, started, timeout_s=120)
    wait_for_workers(started, workers, timeout_s=120)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    governed = {"Authorization": f"Bearer {created['governed_api_key']}"}
    routing = {
        model: governed
        for model in (
            CUSTOM_GOVERNED_ROUTE.json_model,
            CUSTOM_GOVERNED_ROUTE.stream_model,
            CUSTOM_GOVERNED_ROUTE.slow_model,
        )
    }
    return Target("modelyard", url, f"Bearer {created['api_key']}", started, routing)


def wait_for_workers(started: Started, workers: int, *, timeout_s: float) -> None:
    """The port answers once the first worker listens: wait until granian has said every one started."""
    deadline = time.monotonic() + timeout_s
    while started.tail(200).count("Started worker-") < workers:
        if not started.is_running():
            raise StartError(f"{started.name} exited with {started.process.returncode}:\n{started.tail()}")
        if time.monotonic() > deadline:
            raise StartError(f"{started.name}: not every one of {workers} workers started:\n{started.tail()}")
        time.sleep(0.1)


ROUTES = {
    "passthrough": (DIRECT_ROUTE,),
    "modelyard": (SYSTEM_ROUTE, SYSTEM_SQLITE_ROUTE, CUSTOM_ROUTE, CUSTOM_GOVERNED_ROUTE),
    "litellm": (DIRECT_ROUTE,),
    "portkey": (HEADERS_ROUTE,),
}


# --- the smoke check ----------------------------------------------------------------------------------------


def post(
    url: str, body: dict[str, object], extra_headers: Mapping[str, str], *, timeout_s: float = 30
) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": "application/json", **extra_headers}
    request = urllib.request.Request(url, data=wire.compact(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def check(target: Target, route: Route) -> str:
    """One JSON and one streamed call: a target that answers wrongly is not measured. Returns what it said."""
    json_headers = target.headers(route.json_model)
    status, headers, body = post(target.url, wire.chat_request(route.json_model, stream=False), json_headers)
    if status != 200 or b'"choices"' not in body:
        raise StartError(f"{target.name} [{route.label}] JSON chat: HTTP {status}: {body[:500]!r}")
    stream_headers = target.headers(route.stream_model)
    status, _, streamed = post(target.url, wire.chat_request(route.stream_model, stream=True), stream_headers)
    if status != 200 or not streamed.rstrip().endswith(b"data: [DONE]"):
        raise StartError(f"{target.name} [{route.label}] streamed chat: HTTP {status}: {streamed[-500:]!r}")
    headers = {k.lower(): v for k, v in headers.items()}
    provider_type = headers.get("x-modelyard-provider-type")
    return f"x-modelyard-provider-type: {provider_type}" if provider_type else "200 OK"
