"""OpenTelemetry traces of gateway calls through the real socket, read back with the SDK's in-memory exporter: one
trace per call continuing the caller's traceparent, a span per step, GenAI attributes, no content or secret unless
the operator opts in; and, with traces off or the extra absent, opentelemetry never imported."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from modelyard import telemetry
from modelyard.services.hosted import HostedConfig, HostedProvider
from modelyard.telemetry.otel import Tracing
from tests.fakes.loopback import served
from tests.fakes.openai import FakeOpenAI
from tests.support import SECRET, eventually

MODEL = "deepseek/deepseek-flash"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
PROMPT = "What is the secret plan?"


@pytest.fixture
def hosted(fake_openai: FakeOpenAI) -> HostedConfig:
    """The operator's hosted deepseek, at the fake upstream, beside the workspace's own key."""
    credentials = {"api_key": SECRET, "endpoint_url": f"{fake_openai.url}/v1"}
    return HostedConfig(providers={"deepseek": HostedProvider("deepseek", credentials, "trial", "times", 100)})


@pytest.fixture
async def on_hosted_quota(gateway: Any) -> None:
    """The workspace's calls to deepseek go on the hosted offer rather than its own key."""
    await gateway.services.providers.set_preferred_type(
        workspace_id=gateway.workspace_id, provider="deepseek", preferred_type="system"
    )


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(telemetry, "tracing", Tracing(provider))
    return exporter


@pytest.fixture
async def http(gateway: Any) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {gateway.api_key}"}) as session:
        yield session


async def chat(gateway: Any, http: aiohttp.ClientSession, **body: Any) -> tuple[int, bytes]:
    headers = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}
    payload = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}], **body}
    async with http.post(f"{gateway.url}/v1/chat/completions", json=payload, headers=headers) as response:
        return response.status, await response.read()


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans}


async def finished(exporter: InMemorySpanExporter, count: int) -> dict[str, ReadableSpan]:
    await eventually(
        lambda: len(exporter.get_finished_spans()) >= count,
        f"{count} spans to end, not only {[span.name for span in exporter.get_finished_spans()]}",
    )
    return by_name(exporter.get_finished_spans())


async def test_a_call_is_one_trace_continuing_the_callers_with_a_span_per_step(
    gateway: Any, http: aiohttp.ClientSession, exporter: InMemorySpanExporter, on_hosted_quota: None
) -> None:
    status, _ = await chat(gateway, http, max_tokens=64, temperature=0.2)
    assert status == 200
    spans = await finished(exporter, 6)
    call = spans["POST /v1/chat/completions"]
    upstream = spans["chat deepseek-flash"]
    steps = ["modelyard.authenticate", "modelyard.resolve", "modelyard.admission", "modelyard.quota"]
    assert set(spans) == {call.name, upstream.name, *steps}
    assert {format(span.context.trace_id, "032x") for span in spans.values()} == {TRACE_ID}
    assert call.parent is not None and format(call.parent.span_id, "016x") == CALLER_SPAN
    assert all(spans[name].parent.span_id == call.context.span_id for name in [*steps, upstream.name])

    assert call.kind == SpanKind.SERVER
    assert call.attributes["http.route"] == "/v1/chat/completions"
    assert call.attributes["http.response.status_code"] == 200
    assert call.attributes["modelyard.workspace.id"] == gateway.workspace_id
    assert spans["modelyard.resolve"].attributes["modelyard.model.requested"] == MODEL

    assert upstream.kind == SpanKind.CLIENT
    assert {key: upstream.attributes[key] for key in upstream.attributes if key.startswith("gen_ai.")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "deepseek",
        "gen_ai.request.model": "deepseek-flash",
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.response.model": "deepseek-flash",
        "gen_ai.response.id": "chatcmpl-fake",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 9,
        "gen_ai.usage.output_tokens": 3,
    }
    assert upstream.attributes["server.address"] == "127.0.0.1"
    assert upstream.attributes["modelyard.provider_type"] == "system"
    assert upstream.start_time >= spans["modelyard.quota"].end_time  # the quota is reserved before the call


async def test_a_streamed_answers_span_ends_with_the_stream_and_carries_its_usage(
    gateway: Any, http: aiohttp.ClientSession, exporter: InMemorySpanExporter, on_hosted_quota: None
) -> None:
    status, body = await chat(gateway, http, stream=True, stream_options={"include_usage": True})
    assert status == 200 and body.endswith(b"data: [DONE]\n\n")
    upstream = (await finished(exporter, 6))["chat deepseek-flash"]
    assert upstream.attributes["gen_ai.request.stream"] is True
    assert upstream.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert (upstream.attributes["gen_ai.usage.input_tokens"], upstream.attributes["gen_ai.usage.output_tokens"]) == (
        9,
        3,
    )
    assert upstream.attributes["gen_ai.response.time_to_first_chunk"] >= 0
    assert upstream.status.status_code == StatusCode.UNSET


def _everything(spans: tuple[ReadableSpan, ...]) -> str:
    return json.dumps(
        [[span.name, dict(span.attributes or {}), [dict(e.attributes or {}) for e in span.events]] for span in spans],
        default=str,
    )


async def test_no_message_content_and_never_a_secret_unless_the_operator_opts_in(
    gateway: Any, http: aiohttp.ClientSession, exporter: InMemorySpanExporter
) -> None:
    await chat(gateway, http)
    recorded = _everything(exporter.get_finished_spans())
    for secret in (PROMPT, "Hello!", SECRET, gateway.api_key, "Bearer"):
        assert secret not in recorded
    assert "gen_ai.input.messages" not in recorded


async def test_with_content_opted_in_the_upstream_span_carries_the_messages(
    gateway: Any, http: aiohttp.ClientSession, exporter: InMemorySpanExporter
) -> None:
    assert telemetry.tracing is not None
    telemetry.tracing.capture_content = True
    await chat(gateway, http)
    upstream = (await finished(exporter, 5))["chat deepseek-flash"]
    assert orjson.loads(upstream.attributes["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": PROMPT}]}
    ]
    assert orjson.loads(upstream.attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hello!"}], "finish_reason": "stop"}
    ]
    recorded = _everything(exporter.get_finished_spans())
    assert SECRET not in recorded and gateway.api_key not in recorded


async def test_an_upstream_failure_marks_the_client_span_and_the_calls_status(
    gateway: Any, http: aiohttp.ClientSession, exporter: InMemorySpanExporter, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(503, "overloaded", type="server_error")
    status, _ = await chat(gateway, http)
    assert status == 503
    spans = await finished(exporter, 5)
    upstream = spans["chat deepseek-flash"]
    assert upstream.status.status_code == StatusCode.ERROR
    assert upstream.attributes["error.type"] == "UpstreamUnavailableError"
    call = spans["POST /v1/chat/completions"]
    assert call.attributes["http.response.status_code"] == 503 and call.status.status_code == StatusCode.ERROR


async def test_a_cache_hit_is_a_trace_without_an_upstream_call(
    gateway: Any, http: aiohttp.ClientSession, exporter: InMemorySpanExporter
) -> None:
    await gateway.services.response_cache.settings.set(gateway.workspace_id, 60)
    await chat(gateway, http)
    exporter.clear()
    await chat(gateway, http)
    spans = await finished(exporter, 2)
    assert set(spans) == {"POST /v1/chat/completions", "modelyard.authenticate"}
    assert spans["POST /v1/chat/completions"].attributes["modelyard.response_cache"] == "hit"


async def test_an_unknown_path_is_named_unmatched_never_by_its_text(
    gateway: Any, http: aiohttp.ClientSession, exporter: InMemorySpanExporter
) -> None:
    async with http.get(f"{gateway.url}/v1/responses/resp_abc123") as response:
        assert response.status == 404
    async with http.get(f"{gateway.url}/v9/whatever/secret-ish") as response:
        assert response.status == 404
    names = {span.name for span in await _wait_for(exporter, 2)}
    assert names >= {"GET /v1/responses/{response_id}", "GET unmatched"}


async def _wait_for(exporter: InMemorySpanExporter, roots: int) -> tuple[ReadableSpan, ...]:
    def servers() -> list[ReadableSpan]:
        return [span for span in exporter.get_finished_spans() if span.kind == SpanKind.SERVER]

    await eventually(lambda: len(servers()) >= roots, f"{roots} calls to end")
    return tuple(servers())


# --- traces off, the extra absent, and the real exporter ------------------------------------------------------------

_NO_OTEL = """
import sys


class NoOpenTelemetry:
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ImportError("the otel extra is not installed")
        return None


sys.meta_path.insert(0, NoOpenTelemetry())
"""

_A_CALL = """
import asyncio, logging, os, sys
logging.basicConfig(level=logging.WARNING)
import orjson
from modelyard import telemetry
from modelyard.gateway.app import Gateway
from modelyard.gateway.metrics import Metrics
from modelyard.services.context import Services
from modelyard.settings import Settings


async def main():
    services = Services(Settings.from_env())
    await services.start()
    try:
        workspace = (await services.workspaces.create("Traced")).id
        _, key = await services.api_keys.create(workspace_id=workspace, name="app")
        gateway = Gateway(services, Metrics())
        body = orjson.dumps({"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]})
        sent = []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            sent.append(message)

        headers = [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json")]
        scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": headers}
        await gateway(scope, receive, send)  # no credentials for deepseek: refused once the model is resolved
        print("status", sent[0]["status"], "tracing", telemetry.tracing is not None)
    finally:
        await services.close()
    print("loaded", sorted(m for m in sys.modules if m.startswith("opentelemetry")))


asyncio.run(main())
"""


def _run(script: str, tmp_path: Any, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    clean.update(
        {"MODELYARD_HOME": str(tmp_path), "MODELYARD_SECRET_KEY": "test-master-key-0123456789abcdef0123", **env}
    )
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=clean, capture_output=True, text=True, timeout=120
    )


def test_with_traces_off_a_call_never_imports_opentelemetry(tmp_path: Any) -> None:
    done = _run(_A_CALL, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "tracing False" in done.stdout
    assert "loaded []" in done.stdout


def test_without_the_extra_traces_asked_for_are_a_warning_not_a_failure(tmp_path: Any) -> None:
    done = _run(_NO_OTEL + _A_CALL, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert done.returncode == 0, done.stderr
    assert "tracing False" in done.stdout and "loaded []" in done.stdout
    assert "pip install 'modelyard[otel]'" in done.stderr


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
    ],
)
def test_traces_are_wanted_only_when_the_standard_variables_say_so(env: dict[str, str], wanted: bool) -> None:
    assert telemetry.wants_traces(env) is wanted


class Collector:
    """An OTLP/HTTP trace receiver: keeps each export request it is sent."""

    def __init__(self) -> None:
        self.exports: list[ExportTraceServiceRequest] = []
        self.app = web.Application()
        self.app.router.add_post("/v1/traces", self.receive)
        self.url = ""

    async def receive(self, request: web.Request) -> web.Response:
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.read())
        self.exports.append(export)
        return web.Response(content_type="application/x-protobuf")


@pytest.fixture
async def collector() -> AsyncIterator[Collector]:
    async with served(Collector()) as running:
        yield running


async def test_the_otel_variables_export_the_calls_trace_over_otlp(tmp_path: Any, collector: Collector) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "50"}
    flushed = _A_CALL + "\nfrom opentelemetry import trace\ntrace.get_tracer_provider().force_flush()\n"
    done = await asyncio.to_thread(_run, flushed, tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert "tracing True" in done.stdout
    exported = [resource_spans for export in collector.exports for resource_spans in export.resource_spans]
    resources = [{kv.key: kv.value.string_value for kv in spans.resource.attributes} for spans in exported]
    assert {resource["service.name"] for resource in resources} == {"modelyard"}
    names = {span.name for spans in exported for scope in spans.scope_spans for span in scope.spans}
    # Refused at resolution (no credentials for the model): no admission, quota or upstream span.
    assert names == {"POST /v1/chat/completions", "modelyard.authenticate", "modelyard.resolve"}
