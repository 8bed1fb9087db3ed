"""The blocking twin of Runtime, for code without an event loop; the fake upstream runs on its own thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from aiohttp.test_utils import TestServer

from modelyard import SyncRuntime
from tests.fakes.openai import FakeOpenAI, chat_chunk, sse
from tests.support import SECRET


@pytest.fixture
def threaded_fake() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    loop = asyncio.new_event_loop()
    server = TestServer(fake.app, host="127.0.0.1", loop=loop)
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start_server())
        fake.url = str(server.make_url("")).rstrip("/")
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_sync_runtime_chats_streams_and_embeds_without_an_event_loop(threaded_fake: FakeOpenAI) -> None:
    credentials = {"api_key": SECRET, "endpoint_url": f"{threaded_fake.url}/v1"}
    with SyncRuntime() as runtime:
        answer = runtime.chat(
            provider="deepseek",
            model="deepseek-flash",
            credentials=credentials,
            messages=[{"role": "user", "content": "Hi"}],
        )
        assert not isinstance(answer, Iterator)
        assert answer.content == "Hello!"
        threaded_fake.stream(sse(chat_chunk({"content": "Hel"}), chat_chunk({"content": "lo"}, "stop")))
        chunks = runtime.chat(
            provider="deepseek",
            model="deepseek-flash",
            credentials=credentials,
            messages=[{"role": "user", "content": "Hi"}],
            stream=True,
        )
        assert isinstance(chunks, Iterator)
        parts = list(chunks)
        assert "".join(c.content for c in parts) == "Hello"
        assert parts[-1].usage is not None
        xinference = {"server_url": threaded_fake.url, "model_uid": "bge"}
        assert len(runtime.embed(provider="xinference", model="bge", credentials=xinference, texts=["a"]).vectors) == 1
