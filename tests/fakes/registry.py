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

import pytest

from modelyard.protocols.base import Target
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.runtime.bindings import Binding
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.aws import FakeAWS
from tests.fakes.baichuan import FakeBaichuan
from tests.fakes.cohere import FakeCohere
from tests.fakes.dashscope import FakeDashScope
from tests.fakes.dashscope_tts import with_speech
from tests.fakes.gemini import FakeGoogle, google_base_url, with_service_account
from tests.fakes.huggingface import FakeHuggingFace
from tests.fakes.loopback import served
from tests.fakes.minimax import FakeMiniMax
from tests.fakes.nvidia import FakeNVIDIA
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai import FakeOpenAI
from tests.fakes.openai_responses import FakeOpenAIResponses
from tests.fakes.replicate import FakeReplicate, as_official_model
from tests.fakes.spark import FakeSpark
from tests.fakes.spark import wire_text as spark_wire_text
from tests.fakes.tencent import FakeTencent
from tests.fakes.triton import FakeTriton
from tests.fakes.volcengine import FakeVolcengineMaaS
from tests.fakes.wenxin import FakeWenxin
from tests.fakes.zhipu import FakeZhipu
from tests.support import SECRET


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
FAKES["openai_responses"] = Fake(FakeOpenAIResponses, _openai_base)  # OpenAI and Azure: Chat Completions + Responses
FAKES["anthropic"] = Fake(FakeAnthropic, lambda binding, url: url)
# The AWS fake verifies every SigV4 signature; the round trip signs with the catalog test's SECRET as key pair.
FAKES["bedrock"] = Fake(lambda: FakeAWS(keys={SECRET: SECRET}), lambda binding, url: url)
FAKES["sagemaker"] = Fake(lambda: FakeAWS(keys={SECRET: SECRET}), lambda binding, url: url)
# Gemini API and Vertex AI; for Vertex the round trip signs with a real service-account key whose id is SECRET.
FAKES["gemini"] = Fake(FakeGoogle, google_base_url, adjust=with_service_account)
FAKES["vertex"] = Fake(FakeGoogle, google_base_url, adjust=with_service_account)  # Gemini, Claude, Mistral on Vertex
# Ollama, Hugging Face (router, endpoints, TGI), TEI, Replicate (an "owner/name" model), Triton.
FAKES["ollama"] = Fake(FakeOllama, lambda binding, url: url)
FAKES["huggingface"] = Fake(FakeHuggingFace, lambda binding, url: url)
FAKES["tei"] = Fake(FakeHuggingFace, lambda binding, url: url)
FAKES["replicate"] = Fake(FakeReplicate, lambda binding, url: f"{url}/v1", adjust=as_official_model)
FAKES["triton"] = Fake(FakeTriton, lambda binding, url: url)
# Volcengine MaaS v2: the fake checks every V4 signature with the SDK's signer; the key pair is SECRET/SECRET.
FAKES["volcengine_maas_v2"] = Fake(lambda: FakeVolcengineMaaS(keys={SECRET: SECRET}), lambda binding, url: url)
FAKES["cohere"] = Fake(FakeCohere, lambda binding, url: url)
FAKES["minimax"] = Fake(lambda: FakeMiniMax(api_keys={SECRET}), lambda binding, url: url)  # chatcompletion_v2
# the service root: /api/v1, /compatible-mode/v1, and /api-ws/v1/inference for speech (tests/fakes/dashscope_tts.py)
FAKES["dashscope"] = Fake(lambda: with_speech(FakeDashScope()), lambda binding, url: url)
FAKES["jina"] = Fake(FakeOpenAI, lambda binding, url: f"{url}/v1")  # Jina answers in OpenAI's shapes
FAKES["nvidia"] = Fake(FakeNVIDIA, _openai_base)
# Zhipu verifies each bearer: the key itself, or a JWT signed with the secret of an `id.secret` key it knows.
FAKES["zhipu"] = Fake(lambda: FakeZhipu(api_keys={SECRET}), lambda binding, url: f"{url}/api/paas/v4")
FAKES["baichuan"] = Fake(lambda: FakeBaichuan(api_keys={SECRET}), lambda binding, url: f"{url}/v1")
# Spark: the WebSocket API (ws://, the default wire; the fake verifies every signed URL) and /v1 over HTTP.
FAKES["spark"] = Fake(FakeSpark, lambda binding, url: "ws" + url.removeprefix("http"), wire_text=spark_wire_text)
# Tencent Cloud (Hunyuan, ASR): the fake checks every TC3 signature with the SDK's signer; SecretId/Key are SECRET.
FAKES["hunyuan"] = Fake(lambda: FakeTencent(keys={SECRET: SECRET}), lambda binding, url: url)
FAKES["tencent_asr"] = Fake(lambda: FakeTencent(keys={SECRET: SECRET}), lambda binding, url: url)
# Wenxin: the host root (/v2/..., /rpc/2.0/..., /oauth/2.0/token); the fake knows SECRET as v2 key and as AK/SK.
FAKES["wenxin"] = Fake(lambda: FakeWenxin(keys={SECRET: SECRET}, api_keys={SECRET}), lambda binding, url: url)


@asynccontextmanager
async def serving(fake: Fake) -> AsyncIterator[Any]:
    """The registry's fake for a protocol, on a loopback port."""
    async with served(fake.make()) as upstream:
        yield upstream


def aim_bindings_at(monkeypatch: pytest.MonkeyPatch, fake: Fake, running: Any) -> None:
    """Every target the runtime builds goes to `running` (an instance of `fake`), as the catalog round trip aims
    its own: for tests that configure a provider the way a user does, including providers with a fixed URL."""
    unpatched = Binding.target

    def aimed_at_the_fake(binding: Binding, *args: Any, **kwargs: Any) -> Target:
        kwargs["base_url"] = kwargs.get("base_url") or fake.base_url(binding, running.url)
        return fake.adjust(unpatched(binding, *args, **kwargs))

    monkeypatch.setattr(Binding, "target", aimed_at_the_fake)
