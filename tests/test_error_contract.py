"""The error contract, held at every face: every ModelyardError subclass anywhere in modelyard, raised through the
real app in-process, answers with the documented status, code, type words, envelope and retry headers.

The expectations are written out here on purpose, not read from `modelyard.error_contract`: a changed row there
fails this test, and so does a new error class that has no row (or no line below).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import httpx2
import orjson
import pytest
import pytest_asyncio
import sqlalchemy.exc
from argon2 import PasswordHasher

import modelyard
from modelyard import vault
from modelyard.error_contract import ROWS, Retry, class_name, own_row
from modelyard.errors import DecryptionError, ModelyardError, RateLimitedError, UpstreamError, UpstreamRateLimitError
from modelyard.protocols.base import ChatStreamParser
from modelyard.protocols.sse import ServerSentEvent, SSEDecoder
from modelyard.runtime import Runtime
from modelyard.runtime.stream import ChatStream
from modelyard.server import ModelyardApp
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig
from modelyard.services.invoke import Invocation
from modelyard.settings import Settings
from modelyard.types import ChatChunk, Usage

# The app is built once for the module: its tests share its event loop.
in_module_loop = pytest.mark.asyncio(loop_scope="module")


def _import_every_module() -> None:
    for module in pkgutil.walk_packages(modelyard.__path__, "modelyard."):
        if not module.name.endswith(".__main__"):  # runs the CLI when imported
            importlib.import_module(module.name)


def _subclasses(kind: type) -> Iterator[type]:
    for sub in kind.__subclasses__():
        yield sub
        yield from _subclasses(sub)


_import_every_module()
ERROR_CLASSES = sorted(
    {ModelyardError, *(k for k in _subclasses(ModelyardError) if k.__module__.startswith("modelyard."))},
    key=class_name,
)


class Expected(NamedTuple):
    status: int
    code: str
    openai: str  # the `type` word of each face
    anthropic: str
    console: str
    retryable: bool
    headers: Mapping[str, str] = MappingProxyType({})


_NO_RETRY = {"x-should-retry": "false"}
# The documented contract (README, "Errors"): 401 bad key, 403 refused, 404 unknown, 400 bad input, 413 too large,
# 429 rate limit (Retry-After) or hosted quota (insufficient_quota, x-should-retry: false), 402 provider out of
# credit, 502/503/504 upstream faults, 503 with Retry-After: 1 when the database is busy, 500 for our own faults.
EXPECTED: dict[str, Expected] = {
    "modelyard.errors.ModelyardError": Expected(
        500, "internal_error", "server_error", "api_error", "server_error", True
    ),
    "modelyard.errors.CatalogError": Expected(
        500, "catalog_invalid", "server_error", "api_error", "server_error", False, _NO_RETRY
    ),
    "modelyard.errors.InvalidRequestError": Expected(
        400, "invalid_request", "invalid_request_error", "invalid_request_error", "invalid_request", False
    ),
    "modelyard.errors.UnsupportedFeatureError": Expected(
        400, "unsupported_feature", "invalid_request_error", "invalid_request_error", "invalid_request", False
    ),
    "modelyard.errors.AddressRefusedError": Expected(
        400, "address_refused", "invalid_request_error", "invalid_request_error", "invalid_request", False
    ),
    "modelyard.gateway.exchange.PayloadTooLargeError": Expected(
        413, "payload_too_large", "invalid_request_error", "request_too_large", "payload_too_large", False
    ),
    "modelyard.gateway.exchange.ServerStoppingError": Expected(
        503, "server_stopping", "server_error", "overloaded_error", "server_error", True, {"retry-after": "1"}
    ),
    "modelyard.errors.ModelNotFoundError": Expected(
        404, "model_not_found", "invalid_request_error", "not_found_error", "not_found", False
    ),
    "modelyard.errors.CredentialError": Expected(
        401, "authentication_failed", "authentication_error", "authentication_error", "authentication", False
    ),
    "modelyard.errors.CredentialsNotConfiguredError": Expected(
        400, "credentials_not_configured", "invalid_request_error", "invalid_request_error", "invalid_request", False
    ),
    "modelyard.errors.CredentialValidationError": Expected(
        400, "credentials_rejected", "invalid_request_error", "invalid_request_error", "invalid_request", False
    ),
    "modelyard.errors.DecryptionError": Expected(
        500, "decryption_failed", "server_error", "api_error", "server_error", False, _NO_RETRY
    ),
    "modelyard.errors.ApiKeyExpiredError": Expected(
        401, "api_key_expired", "authentication_error", "authentication_error", "authentication", False
    ),
    "modelyard.errors.WorkspaceError": Expected(
        403, "workspace_refused", "permission_error", "permission_error", "permission", False
    ),
    "modelyard.errors.ModelDisabledError": Expected(
        403, "model_disabled", "permission_error", "permission_error", "permission", False
    ),
    "modelyard.errors.HostedQuotaExceededError": Expected(
        429, "insufficient_quota", "insufficient_quota", "rate_limit_error", "quota", False, _NO_RETRY
    ),
    "modelyard.errors.PermissionDeniedError": Expected(
        403, "permission_denied", "permission_error", "permission_error", "permission", False
    ),
    "modelyard.errors.NotFoundError": Expected(
        404, "not_found", "invalid_request_error", "not_found_error", "not_found", False
    ),
    "modelyard.errors.ConflictError": Expected(
        409, "conflict", "invalid_request_error", "invalid_request_error", "conflict", False, _NO_RETRY
    ),
    "modelyard.errors.ModelNotAllowedError": Expected(
        403, "model_not_allowed", "permission_error", "permission_error", "permission", False
    ),
    "modelyard.errors.RateLimitedError": Expected(
        429, "rate_limit_exceeded", "rate_limit_error", "rate_limit_error", "rate_limited", True, {"retry-after": "7"}
    ),
    "modelyard.errors.BudgetExceededError": Expected(
        429, "budget_exceeded", "insufficient_quota", "rate_limit_error", "quota", False, _NO_RETRY
    ),
    "modelyard.errors.UpstreamError": Expected(
        502, "upstream_error", "upstream_error", "api_error", "upstream", False, _NO_RETRY
    ),
    "modelyard.errors.UpstreamConnectionError": Expected(
        502, "upstream_connection_error", "upstream_error", "api_error", "upstream", True
    ),
    "modelyard.errors.UpstreamTimeoutError": Expected(
        504, "upstream_timeout", "upstream_error", "timeout_error", "upstream", True
    ),
    "modelyard.errors.UpstreamAuthError": Expected(
        502, "upstream_auth_error", "upstream_error", "api_error", "upstream", False, _NO_RETRY
    ),
    "modelyard.errors.UpstreamRateLimitError": Expected(
        429, "rate_limit_exceeded", "rate_limit_error", "rate_limit_error", "upstream", True, {"retry-after": "7"}
    ),
    "modelyard.errors.ProviderQuotaExhaustedError": Expected(
        402, "provider_quota_exhausted", "upstream_error", "billing_error", "upstream", False
    ),
    "modelyard.errors.UpstreamBadRequestError": Expected(
        400, "upstream_bad_request", "invalid_request_error", "invalid_request_error", "upstream", False
    ),
    "modelyard.errors.ContextLengthExceededError": Expected(
        400, "context_length_exceeded", "invalid_request_error", "invalid_request_error", "upstream", False
    ),
    "modelyard.errors.ContentFilteredError": Expected(
        400, "content_filter", "invalid_request_error", "invalid_request_error", "upstream", False
    ),
    "modelyard.errors.UpstreamUnavailableError": Expected(
        503, "upstream_unavailable", "upstream_error", "overloaded_error", "upstream", True
    ),
    "modelyard.errors.UpstreamProtocolError": Expected(
        502, "upstream_protocol_error", "upstream_error", "api_error", "upstream", False, _NO_RETRY
    ),
    "modelyard.services.invoke.NoCredentialAvailableError": Expected(
        503, "no_credential_available", "upstream_error", "overloaded_error", "upstream", True
    ),
    "modelyard.services.hosted.HostedConfigError": Expected(
        500, "hosted_config_invalid", "server_error", "api_error", "server_error", False, _NO_RETRY
    ),
    "modelyard.services.idempotency.values.IdempotencyConflictError": Expected(
        409,
        "idempotency_key_in_use",
        "invalid_request_error",
        "invalid_request_error",
        "conflict",
        True,
        {"retry-after": "1"},
    ),
    "modelyard.services.idempotency.values.IdempotencyKeyReusedError": Expected(
        422, "idempotency_key_reused", "invalid_request_error", "invalid_request_error", "invalid_request", False
    ),
    "modelyard.settings.SettingsError": Expected(
        500, "settings_invalid", "server_error", "api_error", "server_error", False, _NO_RETRY
    ),
    "modelyard.store.transfer.TransferError": Expected(
        500, "transfer_failed", "server_error", "api_error", "server_error", False, _NO_RETRY
    ),
    "modelyard.vault.MasterKeyError": Expected(
        500, "master_key_invalid", "server_error", "api_error", "server_error", False, _NO_RETRY
    ),
}
_STORE_BUSY = Expected(
    503, "store_unavailable", "server_error", "overloaded_error", "server_error", True, {"retry-after": "1"}
)
_BUG = Expected(500, "internal_error", "server_error", "api_error", "server_error", True)


def make(kind: type[BaseException]) -> BaseException:
    """An instance of any error class, whatever its constructor asks for."""
    try:
        parameters = inspect.signature(kind).parameters
    except ValueError:  # Exception's own constructor: a message only
        parameters = MappingProxyType({})
    options: dict[str, Any] = {}
    if "provider" in parameters:
        options["provider"] = "deepseek"
    if "field" in parameters:
        options["field"] = "messages"
    if "retry_after_s" in parameters:
        options["retry_after_s"] = 6.6
    return kind(f"{kind.__name__} happened", **options)


@dataclass(frozen=True)
class Case:
    """An error to raise, what every face must answer, and the message it must carry."""

    name: str
    raise_: Callable[[], BaseException]
    expected: Expected
    message: str
    field: str | None = None
    hidden: tuple[str, ...] = ()  # text of the original error that must not reach the caller


def _class_case(kind: type[ModelyardError]) -> Case:
    error = make(kind)
    name = class_name(kind)
    expected = EXPECTED.get(name, Expected(0, "<no documented contract>", "", "", "", False))
    if kind is DecryptionError:
        message = "stored credentials could not be decrypted; an operator must check the master key"
        return Case(name, lambda: make(kind), expected, message, hidden=(str(error),))
    return Case(name, lambda: make(kind), expected, str(error), getattr(error, "field", None))


_BUSY = "the service's database is busy or unreachable; try again shortly"
CASES = [
    *(_class_case(kind) for kind in ERROR_CLASSES),
    Case(
        "sqlalchemy.exc.TimeoutError",
        lambda: sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
        _STORE_BUSY,
        _BUSY,
        hidden=("QueuePool",),
    ),
    Case(
        "sqlalchemy.exc.OperationalError",
        lambda: sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("database is locked")),
        _STORE_BUSY,
        _BUSY,
        hidden=("locked",),
    ),
    Case(
        "sqlalchemy.exc.InterfaceError",
        lambda: sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection to db.internal closed")),
        _STORE_BUSY,
        _BUSY,
        hidden=("db.internal",),
    ),
    Case(
        "a bug (KeyError)",
        lambda: KeyError("secret internals"),
        _BUG,
        "internal error; the server log has the details",
        hidden=("secret internals",),
    ),
]


# --- the table itself ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ERROR_CLASSES, ids=class_name)
def test_every_error_class_has_a_row_and_a_documented_contract(kind: type[ModelyardError]) -> None:
    name = class_name(kind)
    assert name in EXPECTED, f"{name} has no documented contract: add its line to EXPECTED here"
    row = own_row(kind)
    assert row is not None, f"{name} has no row of its own in modelyard/error_contract.py"
    assert (row.status, row.code, row.is_retryable) == (
        EXPECTED[name].status,
        EXPECTED[name].code,
        EXPECTED[name].retryable,
    )
    if issubclass(kind, UpstreamError):
        assert row.is_retryable == kind.is_retryable, f"{name}: the row and the class disagree on retrying"


def test_every_row_names_an_error_class_that_exists() -> None:
    names = {class_name(kind) for kind in ERROR_CLASSES}
    by_name = [key for key in ROWS if isinstance(key, str)]
    assert by_name and set(by_name) <= names


def test_only_a_rate_limit_takes_retry_after_from_the_error() -> None:
    rows = [key for key, row in ROWS.items() if row.retry is Retry.AFTER_ERROR]
    assert rows == [RateLimitedError, UpstreamRateLimitError]  # this service's own limits, and the provider's


# --- the faces ----------------------------------------------------------------------------------------------------


@dataclass
class App:
    services: Services
    client: httpx2.AsyncClient  # the gateway's API key in `Authorization`
    console: httpx2.AsyncClient  # a personal access token of the workspace's owner
    workspace_id: str
    patches: pytest.MonkeyPatch = field(default_factory=pytest.MonkeyPatch)

    def make_calls_raise(self, case: Case) -> None:
        """The invoker raises before the answer starts; the console's credential lookup raises too."""

        async def raising(**_: Any) -> Any:
            raise case.raise_()

        self.patches.setattr(self.services.invoker, "chat", raising)
        self.patches.setattr(self.services.credentials, "get", raising)

    def make_streams_fail(self, case: Case) -> None:
        """The invoker answers with a stream that fails at its first event, as an upstream error event does."""

        async def streaming(**_: Any) -> Invocation[ChatStream]:
            return Invocation(_failing_stream(case), "deepseek", "deepseek-flash", "custom", "req_contract")

        self.patches.setattr(self.services.invoker, "chat", streaming)


class _Failing(ChatStreamParser):
    def __init__(self, case: Case) -> None:
        self.case = case

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        raise self.case.raise_()


def _failing_stream(case: Case) -> ChatStream:
    async def events() -> AsyncIterator[list[ServerSentEvent]]:
        yield [ServerSentEvent(data=b"{}")]

    return ChatStream(
        events(),  # type: ignore[arg-type]
        _Failing(case),
        model="deepseek-flash",
        provider="deepseek",
        started=time.perf_counter(),
        finish_usage=lambda *_: Usage(),
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[App]:
    home: Path = tmp_path_factory.mktemp("contract")
    settings = Settings(
        home=home,
        database_url=f"sqlite+aiosqlite:///{home / 'modelyard.db'}",
        database_schema=None,
        redis_url=None,
        secret_key="test-master-key-0123456789abcdef0123456789",
        host="127.0.0.1",
        port=0,
        hosted_config=None,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vault, "RSA_BITS", 2048)
        async with Runtime() as runtime:
            services = Services(settings, runtime=runtime, hosted=HostedConfig(providers={}))
            services.accounts.password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
            await services.start()
            workspace_id = (await services.workspaces.create("Contract")).id
            owner = await services.accounts.create(email="owner@example.com", password="correct horse battery")
            await services.accounts.add_member(workspace_id=workspace_id, account_id=owner.id, role="owner")
            _, key = await services.api_keys.create(workspace_id=workspace_id, name="contract")
            transport = httpx2.ASGITransport(app=ModelyardApp(services))
            async with (
                httpx2.AsyncClient(transport=transport, base_url="http://testserver") as client,
                httpx2.AsyncClient(transport=transport, base_url="http://testserver") as console,
            ):
                client.headers["Authorization"] = f"Bearer {key}"
                login = {"email": "owner@example.com", "password": "correct horse battery", "name": "contract"}
                token = await console.post("/console/api/auth/tokens", json=login)
                assert token.status_code == 201, token.text
                console.headers["Authorization"] = f"Bearer {token.json()['token']}"
                yield App(services, client, console, workspace_id)
            await services.close()


@pytest.fixture
def faces(app: App) -> Iterator[App]:
    try:
        yield app
    finally:
        app.patches.undo()


CHAT = {"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]}


def _check_headers(response: httpx2.Response, expected: Expected) -> None:
    for name in ("retry-after", "x-should-retry"):
        assert response.headers.get(name) == expected.headers.get(name), name


def _check_message(text: str, case: Case) -> None:
    assert text == case.message
    for secret in case.hidden:
        assert secret not in text


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@in_module_loop
async def test_openai_face(faces: App, case: Case) -> None:
    faces.make_calls_raise(case)
    response = await faces.client.post("/v1/chat/completions", json=CHAT)

    assert response.status_code == case.expected.status
    error = response.json()["error"]
    assert set(response.json()) == {"error"} and set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"], error["param"]) == (case.expected.openai, case.expected.code, case.field)
    _check_message(error["message"], case)
    _check_headers(response, case.expected)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@in_module_loop
async def test_openai_stream_error_event(faces: App, case: Case) -> None:
    faces.make_streams_fail(case)
    response = await faces.client.post("/v1/chat/completions", json={**CHAT, "stream": True})

    assert response.status_code == 200
    *_, last = SSEDecoder().feed(response.content)
    error = orjson.loads(last.data)["error"]  # the last event: no [DONE] follows a failure
    assert (error["type"], error["code"], error["param"]) == (case.expected.openai, case.expected.code, case.field)
    _check_message(error["message"], case)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@in_module_loop
async def test_anthropic_face(faces: App, case: Case) -> None:
    faces.make_calls_raise(case)
    response = await faces.client.post("/v1/messages", json={**CHAT, "max_tokens": 5})

    assert response.status_code == case.expected.status
    body = response.json()
    assert set(body) == {"type", "error", "request_id"} and body["type"] == "error"
    assert body["request_id"] == response.headers["request-id"]
    error = body["error"]
    assert set(error) == {"type", "message"} and error["type"] == case.expected.anthropic  # no code in this shape
    _check_message(error["message"], case)
    _check_headers(response, case.expected)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@in_module_loop
async def test_anthropic_stream_error_event(faces: App, case: Case) -> None:
    faces.make_streams_fail(case)
    response = await faces.client.post("/v1/messages", json={**CHAT, "max_tokens": 5, "stream": True})

    assert response.status_code == 200
    events = SSEDecoder().feed(response.content)
    assert [event.event for event in events] == ["message_start", "error"]
    error = orjson.loads(events[-1].data)
    assert error["type"] == "error" and set(error) == {"type", "error"}
    assert set(error["error"]) == {"type", "message"} and error["error"]["type"] == case.expected.anthropic
    _check_message(error["error"]["message"], case)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@in_module_loop
async def test_console_face(faces: App, case: Case) -> None:
    faces.make_calls_raise(case)
    response = await faces.console.get(f"/console/api/workspaces/{faces.workspace_id}/credentials/cr_1")

    assert response.status_code == case.expected.status
    error = response.json()["error"]
    assert set(response.json()) == {"error"} and set(error) == {"message", "type", "code", "field", "params"}
    assert (error["type"], error["code"], error["field"]) == (case.expected.console, case.expected.code, case.field)
    _check_message(error["message"], case)
    _check_headers(response, case.expected)


# The playground's stream has begun when the call fails: every error, a busy database and a bug too, is an event.
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@in_module_loop
async def test_console_playground_error_event(faces: App, case: Case) -> None:
    faces.make_calls_raise(case)
    url = f"/console/api/workspaces/{faces.workspace_id}/playground/chat"
    response = await faces.console.post(url, json=CHAT)

    assert response.status_code == 200
    [event] = SSEDecoder().feed(response.content)
    error = orjson.loads(event.data)["error"]
    assert (error["type"], error["code"], error["field"]) == (case.expected.console, case.expected.code, case.field)
    _check_message(error["message"], case)


@in_module_loop
async def test_the_consoles_body_limit_answers_as_the_contract_says(faces: App) -> None:
    url = f"/console/api/workspaces/{faces.workspace_id}/playground/chat"
    response = await faces.console.post(url, content=b"x" * (1024 * 1024 + 1))

    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["type"], error["code"], error["field"]) == ("payload_too_large", "payload_too_large", "body")
