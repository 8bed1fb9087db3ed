"""The runtime's extension points for wave-2 protocols: token-exchange signing and multi-step jobs.

A provider file, a protocol and a signing scheme are registered for the test only, so the real wiring (catalog
→ bindings → runtime) is what runs.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from urllib.parse import urlencode

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from modelyard.catalog.loader import CATALOG_DIR, load_catalog
from modelyard.catalog.spec import Spec
from modelyard.errors import UpstreamAuthError
from modelyard.protocols import PROTOCOLS
from modelyard.protocols.base import FollowUp, Target, UpstreamRequest
from modelyard.protocols.openai import OpenAI
from modelyard.runtime import Runtime
from modelyard.signing import SIGNING_SCHEMES
from modelyard.signing.base import AccessToken, TokenScheme
from modelyard.types import ChatRequest
from tests.fakes.openai import chat_chunk, completion, sse

PROVIDER = """
id: jobs
label: {en_US: Jobs, zh_Hans: 作业}
description: {en_US: A test provider, zh_Hans: 测试}
icon: openai.svg
supported_model_types: [llm]
configuration_methods: [predefined-model]
protocol: test_jobs
base_url: "{endpoint}"
signing: {scheme: test_token, token_path: /oauth/token}
credentials:
  - {variable: endpoint, label: {en_US: URL, zh_Hans: 地址}, type: text-input, required: true}
  - {variable: client_id, label: {en_US: Client, zh_Hans: 客户端}, type: text-input, required: true}
  - {variable: client_secret, label: {en_US: Secret, zh_Hans: 密钥}, type: secret-input, required: true}
models:
  - {id: slow-model, type: llm, properties: {context_size: 4096}}
"""


class TokenParams(Spec):
    token_path: str


class ExchangeTokenScheme(TokenScheme):
    name = "test_token"
    params_model = TokenParams

    def reads(self, params: Spec) -> frozenset[str]:
        return frozenset({"client_id", "client_secret"})

    def token_request(self, params: Spec, credentials: Mapping[str, str], now: float) -> UpstreamRequest:
        assert isinstance(params, TokenParams)
        form = urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": credentials["client_id"],
                "client_secret": credentials["client_secret"],
            }
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return UpstreamRequest("POST", f"{credentials['endpoint']}{params.token_path}", headers, form.encode())

    def parse_token(self, params: Spec, body: bytes, now: float) -> AccessToken:
        data = orjson.loads(body)
        return AccessToken(data["access_token"], now + data["expires_in"])

    def sign_with_token(
        self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest, token: str
    ) -> UpstreamRequest:
        return UpstreamRequest(
            request.method, request.url, {**request.headers, "Authorization": f"Bearer {token}"}, request.body
        )


class JobsProtocol(OpenAI):
    """Chat as a job: the first answer says `starting` and where to poll; the stream URL comes the same way."""

    name = "test_jobs"
    streams_by_follow_up = True

    def follow_up(self, target: Target, body: bytes, *, stream: bool) -> FollowUp | None:
        data = orjson.loads(body)
        if stream:
            return FollowUp(UpstreamRequest("GET", data["urls"]["stream"], {"Accept": "text/event-stream"}))
        if data.get("status") in ("starting", "processing"):
            return FollowUp(UpstreamRequest("GET", data["urls"]["get"], {}), delay_s=0.01)
        return None


class JobServer:
    def __init__(self) -> None:
        self.tokens_issued = 0
        self.polls = 0
        self.authorizations: list[str] = []
        self.refuse_tokens = False
        self.revoked: set[str] = set()  # tokens the API refuses with 401 although they have not expired
        self.app = web.Application()
        self.app.router.add_post("/oauth/token", self.token)
        self.app.router.add_post("/chat/completions", self.create)
        self.app.router.add_get("/jobs/1", self.poll)
        self.app.router.add_get("/jobs/1/stream", self.stream)
        self.url = ""

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if self.refuse_tokens or form.get("client_secret") != "shh-very-secret-value":
            return web.json_response({"error": "invalid_client"}, status=401)
        self.tokens_issued += 1
        return web.json_response({"access_token": f"tok-{self.tokens_issued}", "expires_in": 3600})

    async def create(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        self.authorizations.append(authorization)
        if authorization.removeprefix("Bearer ") in self.revoked:
            return web.json_response({"error": {"message": "token revoked", "type": "invalid_token"}}, status=401)
        urls = {"get": f"{self.url}/jobs/1", "stream": f"{self.url}/jobs/1/stream"}
        return web.json_response({"status": "starting", "urls": urls})

    async def poll(self, request: web.Request) -> web.Response:
        self.polls += 1
        if self.polls < 3:
            return web.json_response({"status": "processing", "urls": {"get": f"{self.url}/jobs/1"}})
        return web.json_response(completion("done after polling"))

    async def stream(self, request: web.Request) -> web.Response:
        body = sse(chat_chunk({"content": "streamed"}), chat_chunk({}, "stop"))
        return web.Response(body=body, content_type="text/event-stream")


@pytest.fixture
async def jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Runtime, JobServer]]:
    monkeypatch.setitem(PROTOCOLS, "test_jobs", JobsProtocol())
    monkeypatch.setitem(SIGNING_SCHEMES, "test_token", ExchangeTokenScheme())
    (tmp_path / "providers").mkdir()
    shutil.copy(CATALOG_DIR / "parameter_templates.yaml", tmp_path)
    shutil.copytree(CATALOG_DIR / "icons", tmp_path / "icons")
    (tmp_path / "providers" / "jobs.yaml").write_text(PROVIDER)
    server = JobServer()
    test_server = TestServer(server.app, host="127.0.0.1")
    await test_server.start_server()
    server.url = str(test_server.make_url("")).rstrip("/")
    runtime = Runtime(load_catalog(tmp_path))
    try:
        yield runtime, server
    finally:
        await runtime.close()
        await test_server.close()


def credentials(server: JobServer) -> dict[str, str]:
    return {"endpoint": server.url, "client_id": "app", "client_secret": "shh-very-secret-value"}


async def test_a_token_is_fetched_once_and_reused_while_valid(jobs) -> None:
    runtime, server = jobs
    for _ in range(3):
        server.polls = 0
        result = await runtime.chat(
            provider="jobs", model="slow-model", credentials=credentials(server), request=ChatRequest.user_text("Hi")
        )
        assert result.content == "done after polling"
    assert server.tokens_issued == 1
    assert server.authorizations == ["Bearer tok-1"] * 3


async def test_a_refused_token_exchange_is_an_auth_error_without_the_secret(jobs) -> None:
    runtime, server = jobs
    server.refuse_tokens = True
    with pytest.raises(UpstreamAuthError, match="token exchange was refused") as caught:
        await runtime.chat(
            provider="jobs", model="slow-model", credentials=credentials(server), request=ChatRequest.user_text("Hi")
        )
    assert "shh-very-secret-value" not in str(caught.value)


async def test_a_token_revoked_before_its_time_is_fetched_again_once(jobs) -> None:
    runtime, server = jobs
    chat = {"provider": "jobs", "model": "slow-model", "request": ChatRequest.user_text("Hi")}
    await runtime.chat(credentials=credentials(server), **chat)
    server.revoked.add("tok-1")
    server.polls = 0

    result = await runtime.chat(credentials=credentials(server), **chat)

    assert result.content == "done after polling"
    assert server.authorizations == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    server.revoked.update({"tok-2", "tok-3"})
    with pytest.raises(UpstreamAuthError, match="token revoked"):
        await runtime.chat(credentials=credentials(server), **chat)
    assert server.tokens_issued == 3  # one retry with a new token, then the refusal stands


async def test_a_job_is_polled_until_it_finishes(jobs) -> None:
    runtime, server = jobs
    result = await runtime.chat(
        provider="jobs", model="slow-model", credentials=credentials(server), request=ChatRequest.user_text("Hi")
    )
    assert server.polls == 3
    assert result.content == "done after polling"


async def test_a_jobs_stream_is_read_from_the_url_it_announces(jobs) -> None:
    runtime, server = jobs
    stream = await runtime.chat(
        provider="jobs",
        model="slow-model",
        credentials=credentials(server),
        request=ChatRequest.user_text("Hi"),
        stream=True,
    )
    assert (await stream.collect()).content == "streamed"
