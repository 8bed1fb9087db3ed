"""A Replicate upstream on 127.0.0.1: predictions created, polled and streamed as the real API does.

`POST /v1/models/{owner}/{name}/predictions` and `POST /v1/predictions` create; `GET /v1/predictions/{id}`
polls; `GET /stream/{id}` is the stream URL (SSE events `output`, `done` ..., each with an `id:` line, which the
`replicate` SDK requires). Plan each prediction with `plan(...)`; unplanned ones succeed with "Hello!". The SDK
parses every answer (tests/protocols/test_replicate.py). FakeOpenAI's scripting is reused for error replies.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from msgspec.structs import replace

from modelyard.protocols.base import Target
from tests.fakes.openai import FakeOpenAI, Recorded

VERSION = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"


@dataclass
class Plan:
    output: Any = field(default_factory=lambda: ["Hel", "lo!"])
    status: str = "succeeded"  # the terminal status
    error: str | None = None
    polls: int = 0  # GETs that still answer "processing" before the terminal status
    metrics: dict[str, Any] | None = field(default_factory=lambda: {"input_token_count": 9, "output_token_count": 3})
    events: list[tuple[str, str]] | None = None  # the stream; default: the output pieces, then done


@dataclass
class Job:
    id: str
    model: str
    version: str
    input: dict[str, Any]
    plan: Plan
    polls_left: int


def default_plan(model_input: dict[str, Any]) -> Plan:
    """Text for a language model; for an embedder (`texts`, a JSON list in a string), one vector per text."""
    if "texts" in model_input:
        texts = orjson.loads(model_input["texts"])
        vectors = [[round(0.1 * (i + 1) + 0.01 * d, 4) for d in range(4)] for i in range(len(texts))]
        return Plan(output=vectors, metrics={"predict_time": 0.02})
    return Plan()


def problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"type": "https://replicate.com/docs/errors", "title": title, "status": status, "detail": detail}


class FakeReplicate(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[str, Job] = {}
        self._plans: list[Plan] = []
        self._ids = itertools.count(1)
        router = self.app.router
        router.add_post("/v1/models/{owner}/{name}/predictions", self._handle("create"))
        router.add_post("/v1/predictions", self._handle("create"))
        router.add_get("/v1/predictions/{id}", self._handle("poll"))
        router.add_post("/v1/predictions/{id}/cancel", self._handle("cancel"))
        router.add_get("/stream/{id}", self._handle("stream"))

    # --- scripting ----------------------------------------------------------------------------------------------

    def plan(self, **fields: Any) -> Plan:
        planned = Plan(**fields)
        self._plans.append(planned)
        return planned

    def fail_problem(
        self, status: int, detail: str, *, title: str = "Error", headers: dict[str, str] | None = None
    ) -> None:
        self.reply_json(problem(status, title, detail), status=status, headers=headers)

    # --- the prediction resource --------------------------------------------------------------------------------

    def prediction(self, job: Job, status: str) -> dict[str, Any]:
        done = status in ("succeeded", "failed", "canceled")
        return {
            "id": job.id,
            "model": job.model,
            "version": job.version,
            "status": status,
            "input": job.input,
            "output": job.plan.output if status == "succeeded" else None,
            "logs": "",
            "error": job.plan.error if status == "failed" else None,
            "metrics": (job.plan.metrics or {}) if done else {},
            "created_at": "2026-11-02T10:00:00.000Z",
            "started_at": "2026-11-02T10:00:00.100Z" if status != "starting" else None,
            "completed_at": "2026-11-02T10:00:01.500Z" if done else None,
            "urls": {
                "get": f"{self.url}/v1/predictions/{job.id}",
                "cancel": f"{self.url}/v1/predictions/{job.id}/cancel",
                "stream": f"{self.url}/stream/{job.id}",
                "web": f"https://replicate.com/p/{job.id}",
            },
        }

    async def _default_create(self, recorded: Recorded) -> web.StreamResponse:
        body = recorded.json or {}
        plan = self._plans.pop(0) if self._plans else default_plan(body.get("input") or {})
        owner, name = recorded.path.split("/")[3:5] if "/models/" in recorded.path else ("acme", "versioned")
        job = Job(
            id=f"pred{next(self._ids):04d}",
            model=f"{owner}/{name}",
            version=body.get("version") or VERSION,
            input=body.get("input") or {},
            plan=plan,
            polls_left=plan.polls,
        )
        self.jobs[job.id] = job
        waited = recorded.headers.get("prefer", "").startswith("wait")
        status = plan.status if waited and plan.polls == 0 else "starting"
        return web.json_response(self.prediction(job, status), status=201)

    async def _default_poll(self, recorded: Recorded) -> web.StreamResponse:
        job = self.jobs[recorded.path.rsplit("/", 1)[1]]
        if job.polls_left > 0:
            job.polls_left -= 1
            return web.json_response(self.prediction(job, "processing"))
        return web.json_response(self.prediction(job, job.plan.status))

    async def _default_cancel(self, recorded: Recorded) -> web.StreamResponse:
        job = self.jobs[recorded.path.split("/")[3]]
        return web.json_response(self.prediction(job, "canceled"))

    async def _default_stream(self, recorded: Recorded) -> web.StreamResponse:
        job = self.jobs[recorded.path.rsplit("/", 1)[1]]
        events = job.plan.events
        if events is None:
            pieces = job.plan.output if isinstance(job.plan.output, list) else [str(job.plan.output)]
            events = [("output", str(piece)) for piece in pieces] + [("done", "{}")]
        return web.Response(body=stream_body(events), content_type="text/event-stream")


def stream_body(events: list[tuple[str, str]]) -> bytes:
    blocks = []
    for number, (name, data) in enumerate(events):
        lines = [f"event: {name}", f"id: 1762077600:{number}"] + [f"data: {line}" for line in data.split("\n")]
        blocks.append("\n".join(lines) + "\n\n")
    return "".join(blocks).encode()


def as_official_model(target: Target) -> Target:
    """Replicate names models `owner/name`; the catalog round trip's custom model is a bare name."""
    if "/" in target.upstream_model:
        return target
    return replace(target, upstream_model=f"acme/{target.upstream_model}")
