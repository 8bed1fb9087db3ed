from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.loopback import served
from tests.fakes.openai_responses import FakeOpenAIResponses
from tests.support import SECRET


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIResponses]:
    async with served(FakeOpenAIResponses()) as upstream:
        yield upstream


@pytest.fixture
def credentials(fake: FakeOpenAIResponses) -> dict[str, str]:
    """The openai provider's credentials, pointed at the fake, with the Responses API chosen."""
    return {"openai_api_key": SECRET, "openai_api_base": fake.url, "api_protocol": "responses"}
