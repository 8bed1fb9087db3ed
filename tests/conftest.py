from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from modelyard.runtime import Runtime
from tests.fakes.openai import FakeOpenAI

SECRET = "sk-test-9f8e7d6c5b4a"  # a recognisable fake key: tests search for it where it must never appear


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    fake = FakeOpenAI()
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    async with Runtime() as runtime:
        yield runtime


@pytest.fixture
def deepseek(fake_openai: FakeOpenAI) -> dict[str, str]:
    """Credentials for the deepseek provider, pointed at the fake."""
    return {"api_key": SECRET, "endpoint_url": f"{fake_openai.url}/v1"}


@pytest.fixture
def openai_credentials(fake_openai: FakeOpenAI) -> dict[str, str]:
    return {"openai_api_key": SECRET, "openai_api_base": fake_openai.url}
