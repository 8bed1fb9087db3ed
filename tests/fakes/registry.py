"""Which fake upstream speaks each protocol, for the catalog's round trip over every provider file.

A protocol module that ships also registers its fake here: `FAKES[protocol name] = Fake(...)`. The round trip
in tests/catalog/test_every_provider.py then calls every model type of every provider of that protocol
against it, with the provider's own signing, and checks the credential reached the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestServer

from modelyard.protocols.base import Target
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.runtime.bindings import Binding
from tests.conftest import SECRET
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.aws import FakeAWS
from tests.fakes.cohere import FakeCohere
from tests.fakes.gemini import FakeGoogle, google_base_url, with_service_account
from tests.fakes.huggingface import FakeHuggingFace
from tests.fakes.nvidia import FakeNVIDIA
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI
from tests.fakes.replicate import FakeReplicate, as_official_model
from tests.fakes.triton import FakeTriton


@dataclass(frozen=True)
class Fake:
    make: Callable[[], Any]  # an object with an aiohttp `app`, a writable `url`, and `requests` (Recorded)
    base_url: Callable[[Binding, str], str]  # where a provider of this protocol reaches the fake
    # Where the credential shows on the wire, when not in a header (a signed URL, say): request -> text.
    wire_text: Callable[[Any], str] = lambda recorded: " ".join(recorded.headers.values())
    # Provider-specific preparation of a target (e.g. a model id the fake expects); identity by default.
    adjust: Callable[[Target], Target] = lambda target: target


def _openai_base(binding: Binding, url: str) -> str:
    quirks = binding.quirks
    if isinstance(quirks, OpenAIQuirks) and quirks.url_style == "azure-deployment":
        return f"{url}/openai"
    return f"{url}/v1"


FAKES: dict[str, Fake] = {"openai": Fake(FakeOpenAI, _openai_base)}
FAKES["anthropic"] = Fake(FakeAnthropic, lambda binding, url: url)
# The AWS fake verifies every SigV4 signature; the round trip signs with the catalog test's SECRET as key pair.
FAKES["bedrock"] = Fake(lambda: FakeAWS(keys={SECRET: SECRET}), lambda binding, url: url)
FAKES["sagemaker"] = Fake(lambda: FakeAWS(keys={SECRET: SECRET}), lambda binding, url: url)
# Gemini API and Vertex AI; for Vertex the round trip signs with a real service-account key whose id is SECRET.
FAKES["gemini"] = Fake(FakeGoogle, google_base_url, adjust=with_service_account)
# Ollama, Hugging Face (router, endpoints, TGI), TEI, Replicate (an "owner/name" model), Triton.
FAKES["ollama"] = Fake(FakeOllama, lambda binding, url: url)
FAKES["huggingface"] = Fake(FakeHuggingFace, lambda binding, url: url)
FAKES["tei"] = Fake(FakeHuggingFace, lambda binding, url: url)
FAKES["replicate"] = Fake(FakeReplicate, lambda binding, url: f"{url}/v1", adjust=as_official_model)
FAKES["triton"] = Fake(FakeTriton, lambda binding, url: url)
FAKES["cohere"] = Fake(FakeCohere, lambda binding, url: url)
FAKES["jina"] = Fake(FakeOpenAI, lambda binding, url: f"{url}/v1")  # Jina answers in OpenAI's shapes
FAKES["nvidia"] = Fake(FakeNVIDIA, _openai_base)


@asynccontextmanager
async def serving(fake: Fake) -> AsyncIterator[Any]:
    upstream = fake.make()
    server = TestServer(upstream.app, host="127.0.0.1")
    await server.start_server()
    upstream.url = str(server.make_url("")).rstrip("/")
    try:
        yield upstream
    finally:
        await server.close()
