"""The playground streams a chat turn from the fake upstream as server-sent events."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from tests.fakes.openai import chat_chunk, sse, usage_chunk
from tests.support import eventually, serve
from tests.support.console import API, PASSWORD, Console, Team


def events(text: str) -> list[dict]:
    return [orjson.loads(line.removeprefix("data: ")) for line in text.splitlines() if line.startswith("data: ")]


@pytest.fixture
async def chat_url(team: Team, deepseek) -> str:
    ws = f"{API}/workspaces/{team.workspace_id}"
    created = await team.owner.post(
        f"{ws}/providers/deepseek/credentials", json={"values": deepseek, "validate": False}
    )
    assert created.status_code == 201
    return f"{ws}/playground/chat"


async def test_the_answer_streams_as_deltas_then_done_with_usage(team: Team, chat_url: str, fake_openai) -> None:
    fake_openai.stream(
        sse(
            chat_chunk({"role": "assistant", "content": "Bon"}),
            chat_chunk({"content": "jour"}),
            chat_chunk({}, finish_reason="stop"),
            usage_chunk(9, 2),
        )
    )

    response = await team.member.post(
        chat_url,
        json={"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}], "temperature": 0.5},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    *deltas, done = events(response.text)
    assert "".join(d["delta"] for d in deltas) == "Bonjour"
    assert done["done"] is True
    assert (done["provider"], done["model"], done["provider_type"]) == ("deepseek", "deepseek-flash", "custom")
    assert (done["usage"]["prompt_tokens"], done["usage"]["completion_tokens"]) == (9, 2)
    sent = fake_openai.last.json
    assert sent["stream"] is True
    assert sent["temperature"] == 0.5
    assert sent["messages"] == [{"role": "user", "content": "Hi"}]


async def test_an_upstream_failure_is_an_error_event(team: Team, chat_url: str, fake_openai) -> None:
    fake_openai.fail(429, "slow down", code="rate_limit_exceeded", headers={"Retry-After": "3"})

    response = await team.member.post(
        chat_url, json={"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]}
    )

    [event] = events(response.text)
    assert event["error"]["type"] == "upstream"
    assert "[deepseek]" in event["error"]["message"]


async def test_an_unknown_model_is_an_error_event(team: Team, chat_url: str) -> None:
    response = await team.member.post(
        chat_url, json={"model": "deepseek/nope", "messages": [{"role": "user", "content": "Hi"}]}
    )

    [event] = events(response.text)
    assert event["error"]["type"] == "not_found"


@pytest.fixture
async def served(console: Console) -> AsyncIterator[str]:
    """The app on a real loopback socket: in-process transports cannot show a client going away."""
    server, task, url = await serve(console.app)
    try:
        yield url
    finally:
        server.should_exit = True
        await task


async def test_a_client_that_disconnects_closes_the_upstream_stream(
    team: Team, chat_url: str, served: str, fake_openai
) -> None:
    fake_openai.stream(sse(*[chat_chunk({"content": f"word{i} "}) for i in range(80)]), piece_size=40, pause_s=0.05)
    signed = await team.owner.post(f"{API}/auth/tokens", json={"email": "member@example.com", "password": PASSWORD})
    token = signed.json()["token"]
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{served}{chat_url}",
            json={"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status == 200
        first = await response.content.readline()
        assert first.startswith(b"data: ")
        response.close()
    await eventually(lambda: fake_openai.disconnects, "the upstream stream to be closed")
    assert fake_openai.disconnects == 1
