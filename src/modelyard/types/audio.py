from __future__ import annotations

from collections.abc import AsyncIterator

from modelyard.types.usage import Usage
from modelyard.types.value import Value


class TranscriptionRequest(Value, frozen=True):
    audio: bytes
    filename: str = "audio.wav"
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None


class TranscriptionResult(Value, frozen=True):
    model: str
    text: str
    usage: Usage
    duration_s: float | None = None


class SpeechRequest(Value, frozen=True):
    text: str
    voice: str | None = None  # None: the model's default voice
    format: str = "mp3"
    speed: float | None = None
    instructions: str | None = None


class SpeechStream:
    """Audio bytes as they arrive from the provider; iterate it, or `await read()` for all of it."""

    def __init__(self, chunks: AsyncIterator[bytes], *, media_type: str, model: str, characters: int) -> None:
        self._chunks = chunks
        self.media_type = media_type
        self.model = model
        self.characters = characters

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self._chunks])

    async def aclose(self) -> None:
        aclose = getattr(self._chunks, "aclose", None)
        if aclose is not None:
            await aclose()
