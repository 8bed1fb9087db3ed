"""The library API for code without an event loop: the async Runtime, driven on a private loop thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

from modelyard.catalog.loader import Catalog
from modelyard.protocols.base import RemoteModel
from modelyard.runtime.address_policy import UpstreamPolicy
from modelyard.runtime.invoke import Runtime
from modelyard.runtime.stream import ChatStream
from modelyard.runtime.transport import Timeouts
from modelyard.signing.machine_identity import MachineIdentityPolicy
from modelyard.tasks import ConversationTitle, SuggestedQuestions
from modelyard.types import (
    ChatChunk,
    ChatResult,
    EmbeddingResult,
    ModerationResult,
    RerankResult,
    TranscriptionResult,
)

T = TypeVar("T")


class SyncRuntime:
    """Blocking twin of `Runtime`: same methods and arguments; streams are plain iterators.

    with SyncRuntime() as runtime:
        for chunk in runtime.chat(provider="openai", model="gpt-4.1-mini", credentials=creds,
                                  messages=[{"role": "user", "content": "Hi"}], stream=True):
            print(chunk.content, end="")
    """

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        timeouts: Timeouts | None = None,
        upstream_policy: UpstreamPolicy | None = None,
        machine_identity: MachineIdentityPolicy = "hosted",
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modelyard-runtime", daemon=True)
        self._thread.start()
        self.runtime = Runtime(
            catalog, timeouts=timeouts, upstream_policy=upstream_policy, machine_identity=machine_identity
        )

    def __enter__(self) -> SyncRuntime:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self.runtime.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def chat(self, **kwargs: Any) -> ChatResult | Iterator[ChatChunk]:
        result: ChatResult | ChatStream = self._run(self.runtime.chat(**kwargs))
        if isinstance(result, ChatStream):
            return self._iterate(result)
        return result

    def embed(self, **kwargs: Any) -> EmbeddingResult:
        return self._run(self.runtime.embed(**kwargs))

    def rerank(self, **kwargs: Any) -> RerankResult:
        return self._run(self.runtime.rerank(**kwargs))

    def transcribe(self, **kwargs: Any) -> TranscriptionResult:
        return self._run(self.runtime.transcribe(**kwargs))

    def speak(self, **kwargs: Any) -> Iterator[bytes]:
        speech = self._run(self.runtime.speak(**kwargs))
        return self._iterate(aiter(speech))

    def moderate(self, **kwargs: Any) -> ModerationResult:
        return self._run(self.runtime.moderate(**kwargs))

    def generate_title(self, **kwargs: Any) -> ConversationTitle:
        return self._run(self.runtime.generate_title(**kwargs))

    def suggest_questions(self, **kwargs: Any) -> SuggestedQuestions:
        return self._run(self.runtime.suggest_questions(**kwargs))

    def validate_credentials(self, **kwargs: Any) -> dict[str, str]:
        return self._run(self.runtime.validate_credentials(**kwargs))

    def list_remote_models(self, **kwargs: Any) -> list[RemoteModel]:
        return self._run(self.runtime.list_remote_models(**kwargs))

    def _iterate(self, stream: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._run(anext(stream))  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None and not self._loop.is_closed():
                self._run(aclose())
