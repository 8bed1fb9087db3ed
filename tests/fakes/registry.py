"""Which fake upstream speaks each protocol, for the catalog's round trip over every provider file.

A protocol that ships also registers its fake here, one row of `FAKES`. The round trip
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
from tests.fakes.xinference import FakeXinference
from tests.fakes.zhipu import FakeZhipu
from tests.support import SECRET


def at_root(binding: Binding, url: str) -> str:
    return url


def under(path: str) -> Callable[[Binding, str], str]:
    """Providers of the protocol reach the fake at `path` below its root (an API version, say)."""
    return lambda binding, url: f"{url}{path}"


@dataclass(frozen=True)
class Fake:
    make: Callable[[], Any]  # an object with an aiohttp `app`, a writable `url`, and `requests` (Recorded)
    base_url: Callable[[Binding, str], str] = at_root  # where a provider of this protocol reaches the fake
    # Where the credential shows on the wire, when not in a header (a signed URL, say): request -> text.
    wire_text: Callable[[Any], str] = lambda recorded: " ".join(recorded.headers.values())
    # Provider-specific preparation of a target (e.g. a model id the fake expects); identity by default.
    adjust: Callable[[Target], Target] = lambda target: target


def _openai_base(binding: Binding, url: str) -> str:
    quirks = binding.quirks
    if isinstance(quirks, OpenAIQuirks) and quirks.url_style == "azure-deployment":
        return f"{url}/openai"
    return f"{url}/v1"


def _spark_socket(binding: Binding, url: str) -> str:
    return "ws" + url.removeprefix("http")


# The fake of each protocol: one row per wire family. Signed protocols' fakes verify every signature, and know the
# round trip's SECRET as key (or as key pair).
FAKES: dict[str, Fake] = {
    "openai": Fake(FakeOpenAI, _openai_base),
    "openai_responses": Fake(FakeOpenAIResponses, _openai_base),  # OpenAI and Azure: Chat Completions + Responses
    "anthropic": Fake(FakeAnthropic),
    "bedrock": Fake(lambda: FakeAWS(keys={SECRET: SECRET})),
    "sagemaker": Fake(lambda: FakeAWS(keys={SECRET: SECRET})),
    # Gemini API and Vertex AI (Gemini, Claude, Mistral); Vertex signs with a service-account key whose id is SECRET.
    "gemini": Fake(FakeGoogle, google_base_url, adjust=with_service_account),
    "vertex": Fake(FakeGoogle, google_base_url, adjust=with_service_account),
    "ollama": Fake(FakeOllama),
    "xinference": Fake(FakeXinference, _openai_base),  # the OpenAI routes and a launched model's description
    "huggingface": Fake(FakeHuggingFace),  # the router, Inference Endpoints, TGI
    "tei": Fake(FakeHuggingFace),
    "replicate": Fake(FakeReplicate, under("/v1"), adjust=as_official_model),  # an "owner/name" model
    "triton": Fake(FakeTriton),
    "volcengine_maas_v2": Fake(lambda: FakeVolcengineMaaS(keys={SECRET: SECRET})),
    "cohere": Fake(FakeCohere),
    "minimax": Fake(lambda: FakeMiniMax(api_keys={SECRET})),  # chatcompletion_v2
    # the service root: /api/v1, /compatible-mode/v1, and /api-ws/v1/inference for speech (tests/fakes/dashscope_tts.py)
    "dashscope": Fake(lambda: with_speech(FakeDashScope())),
    "jina": Fake(FakeOpenAI, under("/v1")),  # Jina answers in OpenAI's shapes
    "nvidia": Fake(FakeNVIDIA, _openai_base),
    # Zhipu takes the key itself, or a JWT signed with the secret of an `id.secret` key it knows.
    "zhipu": Fake(lambda: FakeZhipu(api_keys={SECRET}), under("/api/paas/v4")),
    "baichuan": Fake(lambda: FakeBaichuan(api_keys={SECRET}), under("/v1")),
    # Spark: the WebSocket API (ws://, the default wire; its signed URL carries the key) and /v1 over HTTP.
    "spark": Fake(FakeSpark, _spark_socket, wire_text=spark_wire_text),
    "hunyuan": Fake(lambda: FakeTencent(keys={SECRET: SECRET})),  # TC3, checked with the SDK's signer
    "tencent_asr": Fake(lambda: FakeTencent(keys={SECRET: SECRET})),
    # Wenxin: the host root (/v2/..., /rpc/2.0/..., /oauth/2.0/token); SECRET is both a v2 key and an AK/SK pair.
    "wenxin": Fake(lambda: FakeWenxin(keys={SECRET: SECRET}, api_keys={SECRET})),
}


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
