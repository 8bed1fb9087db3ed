"""Schemathesis runs every console operation of /openapi.json against the app: no input may cause a 5xx.

The app runs in schemathesis's own ASGI client (its event loop, its lifespan), so this test is synchronous and
builds its own services. Requests carry a signed-in owner's access token. Path ids are first the real ones (the
owner's workspace, a stored credential ...), so cases reach the services behind the checks; then generated, except
the workspace. The /v1 gateway operations are left out: they need upstreams. No case may reach the internet: the
runtime's one I/O seam refuses every host but loopback.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from modelyard.errors import UpstreamConnectionError
from modelyard.server import ModelyardApp
from modelyard.services.context import Services
from modelyard.services.snapshot import AliasTarget
from tests.support import make_settings
from tests.support.console import API, PASSWORD

MAX_EXAMPLES = 10  # per operation and pass: about 1,200 requests in all
# Revoking the test's own token, or deleting its workspace, would leave every later case a 401 or 404.
SKIPPED = {("DELETE", f"{API}/auth/tokens/current"), ("DELETE", f"{API}/workspaces/{{ws}}")}
# The playground's title and questions call a model: offline, that is a 502 by contract (tests/console has them).
SKIPPED |= {("POST", f"{API}/workspaces/{{ws}}/playground/{task}") for task in ("title", "suggested-questions")}
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
OFFLINE_URL = "http://127.0.0.1:9/v1"  # port 9 (discard): nothing listens, the call fails at once


async def prepare(services: Services) -> dict[str, str]:
    """An owner, a workspace and one of everything in it: the ids the first pass puts in paths."""
    await services.start()
    try:
        owner = await services.accounts.create(email="owner@example.com", password=PASSWORD)
        ws = (await services.workspaces.create("Fuzzed")).id
        await services.accounts.add_member(workspace_id=ws, account_id=owner.id, role="owner")
        values = {"api_key": "sk-fuzz", "endpoint_url": OFFLINE_URL}
        credential = await services.credentials.create(
            workspace_id=ws, provider="deepseek", values=values, validate=False
        )
        entry = await services.pools.add(
            workspace_id=ws, provider="deepseek", model="deepseek-flash", model_type="llm", name="pooled",
            credential_id=credential.id,
        )  # fmt: skip
        custom = await services.models.add_custom(
            workspace_id=ws, provider="openai_api_compatible", model="fuzzy", model_type="llm",
            values={"endpoint_url": OFFLINE_URL}, validate=False,
        )  # fmt: skip
        key, _ = await services.api_keys.create(workspace_id=ws, name="fuzzed")
        alias = await services.aliases.create(
            workspace_id=ws, name="fuzzy-alias", targets=[AliasTarget("deepseek", "deepseek-flash", 1)]
        )
        return {
            "ws": ws,
            "provider": "deepseek",
            "credential_id": credential.id,
            "entry_id": entry.id,
            "custom_model_id": custom.id,
            "key_id": key.id,
            "name": alias.name,
            "account_id": owner.id,  # the last owner: role changes and removal are refused, not done
        }
    finally:
        await services.close()


def offline(services: Services) -> None:
    transport = services.runtime.transport
    real_open = transport.open

    async def open_loopback_only(request, *, provider, deadline, **options):  # type: ignore[no-untyped-def]
        if urlsplit(request.url).hostname not in ("127.0.0.1", "localhost"):
            raise UpstreamConnectionError("this test reaches no host but loopback", provider=provider)
        return await real_open(request, provider=provider, deadline=deadline, **options)

    transport.open = open_loopback_only  # type: ignore[method-assign]


@pytest.mark.timeout(400)  # about a minute on a busy 2-core machine; the suite's default is 120 s
def test_no_console_operation_answers_a_server_error(tmp_path: Path) -> None:
    config = make_settings(tmp_path, "sqlite", None)
    first = Services(config)
    first.accounts.password_hasher = FAST_HASHER
    ids = asyncio.run(prepare(first))
    services = Services(config)
    services.accounts.password_hasher = FAST_HASHER
    offline(services)
    app = ModelyardApp(services)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the app's lifespan: services.start()
    try:
        with asgi.get_client(app) as client:
            response = client.post(f"{API}/auth/tokens", json={"email": "owner@example.com", "password": PASSWORD})
            assert response.status_code == 201, response.text
            auth = {"Authorization": f"Bearer {response.json()['token']}"}
        failures = fuzz(schema, ids, auth)
    finally:
        asgi.shutdown_lifespans()  # services.close()
    assert not failures, "\n\n".join(failures)


def fuzz(schema: Any, ids: dict[str, str], auth: dict[str, str]) -> list[str]:
    failures = []
    runs = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/v1/") or (operation.method.upper(), operation.path) in SKIPPED:
            continue
        names = {parameter.name for parameter in operation.path_parameters}
        real = {name: ids[name] for name in names if name in ids}
        passes = [(GenerationMode.POSITIVE, real)]
        if operation.body or len(operation.query):  # negative cases need a body or a query string to break
            passes.append((GenerationMode.NEGATIVE, real))
        if names - {"ws"}:
            passes.append((GenerationMode.POSITIVE, {"ws": ids["ws"]} if "ws" in names else {}))
        for mode, path_parameters in passes:
            runs += 1
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters, headers=auth)
            try:
                run_cases(strategy)
            except Unsatisfiable:  # every input the schema allows is valid here: nothing negative to send
                pass
            except Exception as exc:
                failures.append(f"{operation.label} ({mode.value}, ids {sorted(path_parameters)}): {exc}")
    assert runs > 80, f"only {runs} runs: did the schema lose its console paths?"
    return failures


def run_cases(strategy: Any) -> None:
    @given(case=strategy)
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run: a red build is reproducible
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call()
        case.validate_response(response, checks=[not_a_server_error])

    check()
