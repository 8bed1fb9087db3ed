"""
The contract between the runtime and the wire protocols.

A protocol module translates unified requests (modelyard.types) into one upstream wire format and the
answers back. It does no I/O and never sees the network: the runtime signs and sends what it builds, then
hands it the bytes that came back. That keeps every adapter testable on bytes alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import msgspec

from modelyard.catalog.spec import ModelSpec, ProviderSpec, Spec
from modelyard.errors import UnsupportedFeatureError, UpstreamError
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    EmbeddingRequest,
    EmbeddingResult,
    ModerationRequest,
    ModerationResult,
    RerankRequest,
    RerankResult,
    SpeechRequest,
    TranscriptionRequest,
    TranscriptionResult,
)
from modelyard.types.chat import CHAT_PARAMETERS, FinishReason
from modelyard.types.value import Value, repr_without_credentials

JSON_HEADERS: Mapping[str, str] = {"Content-Type": "application/json"}
Framing = Literal["sse", "ndjson", "aws-eventstream"]


class FilePart(Value, frozen=True):
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"


class Multipart(Value, frozen=True):
    """A multipart/form-data body; the runtime encodes it."""

    fields: Mapping[str, str]
    files: Mapping[str, FilePart]


class UpstreamRequest(Value, frozen=True):
    """What an adapter asks the runtime to send; signing adds headers, the runtime sends it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | Multipart | None = None
    proxy: str | None = None  # an HTTP(S) forward proxy to reach the upstream through (a provider's proxy URL)


class Target(Value, frozen=True):
    """Everything an adapter needs to address one model: resolved once per call by the runtime."""

    provider: ProviderSpec
    model: ModelSpec
    base_url: str  # credentials substituted, no trailing slash
    upstream_model: str  # the name the provider knows the model by (a deployment, a uid, or the model id)
    credentials: Mapping[str, str]
    quirks: Spec = msgspec.field(default_factory=Spec)  # the provider's `quirks:`, validated by the protocol's model
    # The credential's own limits (catalog/call_limits.py), honoured by the runtime: the wait for the first byte and
    # each later chunk (None: the process-wide ones), and retries of a call failing before its first byte.
    timeout_s: float | None = None
    retries: int = 0

    __repr__ = repr_without_credentials


class RemoteModel(Value, frozen=True):
    """A model a provider's own listing endpoint reports."""

    id: str
    owned_by: str | None = None


class FollowUp(Value, frozen=True):
    """The next request of a multi-step exchange (poll a job, or open the stream URL a job announced)."""

    request: UpstreamRequest
    delay_s: float = 0.0


Frame = str | bytes  # one WebSocket message: text or binary


class WebSocketRequest(Value, frozen=True):
    """A WebSocket exchange an adapter asks for: open `url` with `headers`, send `frames`, then read.

    The opening handshake is a GET, so the runtime signs it as one (Spark signs the URL's query) before it
    connects. Each received frame goes to the protocol's parser for the call (a ChatStreamParser gets it as
    one event's data; a SpeechFrameParser gets the frame itself).
    """

    url: str
    headers: Mapping[str, str]
    frames: tuple[str, ...] = ()  # text frames sent, in order, once the socket is open


class SpeechStep(Value, frozen=True):
    """What one received frame meant: audio for the caller, and frames to send back upstream."""

    audio: bytes = b""
    send: tuple[str, ...] = ()


class SpeechFrameParser:
    """Turns one WebSocket speech exchange's frames into audio; one instance per exchange, so it may keep state.

    `feed` raises the mapped UpstreamError for an error frame, and sets `finished` at the end marker.
    """

    finished: bool = False

    def feed(self, frame: Frame) -> SpeechStep:
        raise NotImplementedError


class ChatStreamParser:
    """Turns one stream's events into chunks; one instance per stream, so it may keep state."""

    finished: bool = False  # set when the stream's own end marker arrives
    # For wires whose streams carry no stop reason and simply end (Triton's generate_stream): the reason a
    # clean end of the stream stands for, so a streamed answer ends as its non-streamed twin does.
    finish_at_end: FinishReason | None = None

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        raise NotImplementedError


# Every protocol by its `name`, filled as their modules are imported (WireProtocol.__init_subclass__). Read it as
# `modelyard.protocols.PROTOCOLS`, which imports every family first (protocols/registry.py).
REGISTERED: dict[str, WireProtocol] = {}


class WireProtocol:
    """Translates unified requests into one upstream wire format, and back.

    A family composes its protocol from its modules: class attributes point at their functions
    (`build_chat = staticmethod(requests.build_chat)`, or a `compose.Switch` between two wires), so nothing is
    written twice; `target` is positional-only for that. A subclass that sets `name` registers itself under it;
    one without (a shared helper base) does not.
    """

    name: ClassVar[str]
    quirks_model: ClassVar[type[Spec]] = Spec  # the catalog binder validates each `quirks:` block with it
    stream_framing: ClassVar[Framing] = "sse"
    # The stream lives at a URL the first answer announces (Replicate's predictions): the runtime reads the
    # first answer, asks `follow_up(..., stream=True)` for the stream request, and streams that.
    streams_by_follow_up: ClassVar[bool] = False

    # The chat parameters this wire format has a field for; the runtime drops, and reports, any other one it is given.
    chat_parameters: ClassVar[frozenset[str]] = CHAT_PARAMETERS
    # The server describes a model it serves (`build_model_description`): a custom model's check reads from it what
    # the model's form left to the server (context size, features), instead of asking the user to type them.
    describes_models: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return
        if cls.name in REGISTERED:
            known = type(REGISTERED[cls.name])
            raise TypeError(f"protocol name {cls.name!r} of {cls.__qualname__} is taken by {known.__qualname__}")
        REGISTERED[cls.name] = cls()

    def carried_parameters(self, target: Target, /) -> frozenset[str]:
        """The chat parameters a request to `target` can carry (protocols with several payload shapes override it)."""
        return self.chat_parameters

    def follow_up(self, target: Target, /, body: bytes, *, stream: bool) -> FollowUp | None:
        """The next request when `body` is not the final answer yet (a job still running); None when it is."""
        return None

    def build_chat(self, target: Target, /, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no chat endpoint")

    def parse_chat(self, target: Target, /, body: bytes) -> ChatResult:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no chat endpoint")

    def build_chat_socket(self, target: Target, /, request: ChatRequest) -> WebSocketRequest | None:
        """The WebSocket exchange that carries this chat, for protocols that speak over one; None: use HTTP.

        Over a WebSocket a chat always streams: each frame goes to `chat_stream_parser`, and a call that did
        not ask to stream gets the collected result.
        """
        return None

    def chat_stream_parser(self, target: Target, /) -> ChatStreamParser:
        raise UnsupportedFeatureError(f"protocol {self.name!r} cannot stream chat")

    def build_embeddings(self, target: Target, /, request: EmbeddingRequest) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no embeddings endpoint")

    def parse_embeddings(self, target: Target, /, body: bytes) -> EmbeddingResult:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no embeddings endpoint")

    def build_rerank(self, target: Target, /, request: RerankRequest) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no rerank endpoint")

    def parse_rerank(self, target: Target, /, request: RerankRequest, body: bytes) -> RerankResult:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no rerank endpoint")

    def build_transcription(self, target: Target, /, request: TranscriptionRequest) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no transcription endpoint")

    def parse_transcription(self, target: Target, /, body: bytes) -> TranscriptionResult:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no transcription endpoint")

    def build_speech(self, target: Target, /, request: SpeechRequest) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no speech endpoint")

    def build_speech_socket(self, target: Target, /, request: SpeechRequest) -> WebSocketRequest | None:
        """The WebSocket exchange that synthesizes this speech, for protocols that speak over one; None: HTTP."""
        return None

    def speech_frame_parser(self, target: Target, /, request: SpeechRequest) -> SpeechFrameParser:
        raise UnsupportedFeatureError(f"protocol {self.name!r} cannot synthesize speech over a WebSocket")

    def build_moderation(self, target: Target, /, request: ModerationRequest) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no moderation endpoint")

    def parse_moderation(self, target: Target, /, body: bytes) -> ModerationResult:
        raise UnsupportedFeatureError(f"protocol {self.name!r} has no moderation endpoint")

    def build_list_models(self, target: Target, /) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"protocol {self.name!r} cannot list models")

    def parse_list_models(self, target: Target, /, body: bytes) -> list[RemoteModel]:
        raise UnsupportedFeatureError(f"protocol {self.name!r} cannot list models")

    def build_model_description(self, target: Target, /) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"protocol {self.name!r} cannot describe a model")

    def parse_model_description(self, target: Target, /, body: bytes) -> dict[str, str]:
        """The model as its server describes it, as values of the custom model's form (catalog/custom.py)."""
        raise UnsupportedFeatureError(f"protocol {self.name!r} cannot describe a model")

    def parse_error(self, target: Target, /, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        raise NotImplementedError
