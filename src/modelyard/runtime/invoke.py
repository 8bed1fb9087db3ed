"""The public library API: call any model of any provider with explicit credentials, no database."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, overload

import aiohttp
import orjson
from msgspec.structs import replace

from modelyard import tasks
from modelyard.catalog.loader import Catalog
from modelyard.catalog.spec import ModelSpec
from modelyard.errors import (
    InvalidRequestError,
    ModelNotFoundError,
    UnsupportedFeatureError,
    UpstreamConnectionError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from modelyard.protocols.base import RemoteModel, Target, UpstreamRequest, WebSocketRequest
from modelyard.runtime import tokenizer, websocket
from modelyard.runtime.access_tokens import TokenCache
from modelyard.runtime.address_policy import UpstreamPolicy
from modelyard.runtime.bindings import Binding, bind_catalog, default_bindings
from modelyard.runtime.chat_input import checked_chat_request
from modelyard.runtime.parameters import apply_parameter_rules
from modelyard.runtime.pricing import priced
from modelyard.runtime.stream import ChatStream, answer_as_stream
from modelyard.runtime.transport import Timeouts, Transport, decoded
from modelyard.runtime.validation import validate
from modelyard.signing.base import TokenScheme
from modelyard.signing.machine_identity import MachineIdentityPolicy
from modelyard.tasks import ConversationTitle, SuggestedQuestions
from modelyard.tasks.conversation import ConversationInput
from modelyard.types import (
    ChatRequest,
    ChatResult,
    EmbeddingRequest,
    EmbeddingResult,
    ImagePart,
    Message,
    ModelType,
    ModerationRequest,
    ModerationResult,
    RerankRequest,
    RerankResult,
    SpeechRequest,
    SpeechStream,
    TranscriptionRequest,
    TranscriptionResult,
    Usage,
)
from modelyard.types.chat import AudioPart, DocumentPart, TextPart
from modelyard.types.usage import UNREPORTED

Credentials = Mapping[str, str]


class Runtime:
    """Invokes models: `chat`, `embed`, `rerank`, `transcribe`, `speak`, `moderate`.

    One instance per process: it owns the pooled HTTP session. Use it as an async context manager, or call
    `close()` at shutdown. `upstream_policy` says which addresses it may connect to (see `UpstreamPolicy`; by
    default everything but link-local and cloud metadata addresses). `machine_identity` says which credential
    sets may sign with this machine's own cloud identity (`all`, `hosted` or `off`; see
    signing/machine_identity.py): a library caller that means to use it passes `all`. Each model's parameter
    rules apply to every chat call: what they drop or clamp is in `result.adjusted_params`; with
    `strict_params=True` (here for every call, or per `chat` call) such a call is refused instead.

        async with Runtime() as runtime:
            result = await runtime.chat(provider="deepseek", model="deepseek-chat",
                                        credentials={"api_key": key}, messages=[{"role": "user", "content": "Hi"}])
    """

    def __init__(
        self,
        catalog: Catalog | None = None,
        *,
        timeouts: Timeouts | None = None,
        upstream_policy: UpstreamPolicy | None = None,
        machine_identity: MachineIdentityPolicy = "hosted",
        strict_params: bool = False,
    ) -> None:
        self.bindings = bind_catalog(catalog) if catalog is not None else default_bindings()
        self.strict_params = strict_params  # the default of every chat call; each may set its own
        self.transport = Transport(timeouts, policy=upstream_policy)
        self.tokens = TokenCache(self.transport, machine_identity=machine_identity)

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.transport.close()

    def binding(self, provider: str) -> Binding:
        binding = self.bindings.get(provider)
        if binding is None:
            raise ModelNotFoundError(f"unknown provider {provider!r}")
        return binding

    def target(
        self,
        provider: str,
        model: str,
        model_type: ModelType,
        credentials: Credentials,
        *,
        base_url: str | None = None,
    ) -> Target:
        """Resolve provider, model and credentials into what a protocol needs; services cache the result."""
        binding = self.binding(provider)
        return binding.target(binding.model(model, model_type, credentials), credentials, base_url=base_url)

    # --- chat -------------------------------------------------------------------------------------------------

    @overload
    async def chat(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        request: ChatRequest | None = None,
        stream: Literal[False] = False,
        base_url: str | None = None,
        strict_params: bool | None = None,
        **params: Any,
    ) -> ChatResult: ...

    @overload
    async def chat(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        request: ChatRequest | None = None,
        stream: Literal[True],
        base_url: str | None = None,
        strict_params: bool | None = None,
        **params: Any,
    ) -> ChatStream: ...

    async def chat(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        messages: Sequence[Message | Mapping[str, Any]] | None = None,
        request: ChatRequest | None = None,
        stream: bool = False,
        base_url: str | None = None,
        strict_params: bool | None = None,
        **params: Any,
    ) -> ChatResult | ChatStream:
        """Chat with an LLM. Pass `messages` (unified or OpenAI-shaped) and parameters, or a whole `request`.

        Parameters are the ChatRequest fields (temperature, max_tokens, tools, tool_choice, response_format,
        stop, seed, ...); tools, tool_choice and response_format may be OpenAI-shaped dicts. With `stream=True`
        you get a ChatStream. What the model's parameter rules dropped or clamped is in `adjusted_params` (on the
        result, or on the stream); `strict_params=True` refuses the call instead (default: the Runtime's setting).
        """
        target = self.target(provider, model, "llm", credentials, base_url=base_url)
        chat_request = request or _chat_request(messages, params)
        return await self.invoke_chat(target, chat_request, stream=stream, strict_params=strict_params)

    async def invoke_chat(
        self, target: Target, request: ChatRequest, *, stream: bool, strict_params: bool | None = None
    ) -> ChatResult | ChatStream:
        binding = self.bindings[target.provider.id]
        request = checked_chat_request(request)
        check_chat_features(target.model, request)
        request, adjusted = apply_parameter_rules(
            target.model,
            request,
            binding.protocol.carried_parameters(target),
            provider=target.provider.id,
            strict=self.strict_params if strict_params is None else strict_params,
        )
        answer = await self._chat(binding, target, request, stream=stream)
        if not adjusted:
            return answer
        if isinstance(answer, ChatStream):
            answer.adjusted_params = adjusted
            return answer
        return replace(answer, adjusted_params=adjusted)

    async def _chat(
        self, binding: Binding, target: Target, request: ChatRequest, *, stream: bool
    ) -> ChatResult | ChatStream:
        started = time.perf_counter()
        socket_request = binding.protocol.build_chat_socket(target, request)
        if socket_request is not None:
            return await self._chat_over_socket(binding, target, request, socket_request, stream, started)
        if not stream:
            return await self._complete(binding, target, request, started)
        if _streams_no_tool_calls(target.model, request):
            # The model declares no streamed tool calls (integrators switch streaming off for it): ask for the whole
            # answer and hand it to the caller as a stream.
            answer = await self._complete(binding, target, request, started)
            finish_usage = _usage_finisher(target, request)
            return answer_as_stream(answer, provider=target.provider.id, started=started, finish_usage=finish_usage)
        deadline = self.transport.deadline()
        upstream = binding.protocol.build_chat(target, request, stream=True)
        response = await self._open_stream(binding, target, upstream, deadline)
        framing = binding.protocol.stream_framing
        if framing == "sse" and _is_json(response):  # a whole answer (or an error) instead of a stream
            return await self._answer_as_stream(binding, target, request, response, started, deadline)
        events = self.transport.events(
            response, framing=framing, provider=target.provider.id, deadline=deadline, idle_s=target.timeout_s
        )
        return ChatStream(
            events,
            binding.protocol.chat_stream_parser(target),
            model=target.model.id,
            provider=target.provider.id,
            started=started,
            finish_usage=_usage_finisher(target, request),
        )

    async def _complete(self, binding: Binding, target: Target, request: ChatRequest, started: float) -> ChatResult:
        """One whole (non-streamed) answer, its usage counted locally when the provider reports none, and priced."""
        deadline = self.transport.deadline()
        upstream = binding.protocol.build_chat(target, request, stream=False)
        body = await self._call(binding, target, upstream, deadline)
        result = binding.protocol.parse_chat(target, body)
        usage = result.usage
        if usage is UNREPORTED:
            usage = Usage(
                prompt_tokens=tokenizer.count_prompt(request),
                completion_tokens=tokenizer.count_text(result.content),
                is_estimated=True,
            )
        latency_s = time.perf_counter() - started
        return replace(result, usage=priced(usage, target.model.pricing, latency_s=latency_s))

    async def _answer_as_stream(
        self,
        binding: Binding,
        target: Target,
        request: ChatRequest,
        response: aiohttp.ClientResponse,
        started: float,
        deadline: float,
    ) -> ChatStream:
        """A JSON body where a stream was asked for: the server ignored `stream` (relayed as a one-chunk stream),
        or reported an error with HTTP 200 (`parse_chat` raises it, mapped). A body that is an event stream after
        all (a mislabelled Content-Type) is read as one."""
        provider = target.provider.id
        body = await self.transport.read(response, provider=provider, deadline=deadline)
        finish_usage = _usage_finisher(target, request)
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            events = decoded(body, framing=binding.protocol.stream_framing, provider=provider)
            parser = binding.protocol.chat_stream_parser(target)
            return ChatStream(
                events, parser, model=target.model.id, provider=provider, started=started, finish_usage=finish_usage
            )
        result = binding.protocol.parse_chat(target, body)
        return answer_as_stream(result, provider=provider, started=started, finish_usage=finish_usage)

    async def _chat_over_socket(
        self,
        binding: Binding,
        target: Target,
        request: ChatRequest,
        socket_request: WebSocketRequest,
        stream: bool,
        started: float,
    ) -> ChatResult | ChatStream:
        deadline = self.transport.deadline()
        socket = await self._connect(binding, target, socket_request, deadline)
        events = await websocket.open_chat(socket, binding.protocol.chat_stream_parser(target))
        chat = ChatStream(
            events,
            binding.protocol.chat_stream_parser(target),
            model=target.model.id,
            provider=target.provider.id,
            started=started,
            finish_usage=_usage_finisher(target, request),
        )
        return chat if stream else await chat.collect()

    # --- the system model's tasks ------------------------------------------------------------------------------

    async def generate_title(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        messages: ConversationInput,
        base_url: str | None = None,
    ) -> ConversationTitle:
        """A short title for a conversation (unified or OpenAI-shaped messages), in its language: one ordinary chat
        call, or two when the first answer held no usable title (see modelyard.tasks)."""
        target = self.target(provider, model, "llm", credentials, base_url=base_url)
        return await tasks.generate_title(
            self._task_chat(target), provider=provider, model=target.model, messages=messages
        )

    async def suggest_questions(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        messages: ConversationInput,
        base_url: str | None = None,
    ) -> SuggestedQuestions:
        """Three follow-up questions the user could ask next, in the conversation's language (see modelyard.tasks)."""
        target = self.target(provider, model, "llm", credentials, base_url=base_url)
        return await tasks.suggest_questions(
            self._task_chat(target), provider=provider, model=target.model, messages=messages
        )

    def _task_chat(self, target: Target) -> tasks.Chat:
        async def chat(request: ChatRequest) -> ChatResult:
            result = await self.invoke_chat(target, request, stream=False)
            assert isinstance(result, ChatResult)  # asked for with stream=False
            return result

        return chat

    # --- embeddings, rerank -----------------------------------------------------------------------------------

    async def embed(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        texts: str | Sequence[str],
        dimensions: int | None = None,
        input_type: Literal["query", "document"] | None = None,
        base_url: str | None = None,
    ) -> EmbeddingResult:
        """Embed texts; long lists are split into batches of the model's `max_chunks`, sent concurrently."""
        texts = (texts,) if isinstance(texts, str) else tuple(texts)
        target = self.target(provider, model, "text-embedding", credentials, base_url=base_url)
        return await self.invoke_embeddings(target, EmbeddingRequest(texts, dimensions, input_type))

    async def invoke_embeddings(self, target: Target, request: EmbeddingRequest) -> EmbeddingResult:
        if not request.texts:
            raise InvalidRequestError("input must hold at least one text", field="input")
        binding = self.bindings[target.provider.id]
        started = time.perf_counter()
        size = target.model.properties.max_chunks or len(request.texts)
        batches = [replace(request, texts=request.texts[i : i + size]) for i in range(0, len(request.texts), size)]
        results = await asyncio.gather(*(self._embed_batch(binding, target, batch) for batch in batches))
        prompt_tokens = sum(r.usage.prompt_tokens for r in results)
        is_estimated = any(r.usage.is_estimated for r in results)
        if any(r.usage is UNREPORTED for r in results):
            prompt_tokens = sum(tokenizer.count_text(text) for text in request.texts)
        usage = Usage(prompt_tokens=prompt_tokens, is_estimated=is_estimated)
        return EmbeddingResult(
            model=results[0].model,
            vectors=tuple(vector for result in results for vector in result.vectors),
            usage=priced(usage, target.model.pricing, latency_s=time.perf_counter() - started),
        )

    async def _embed_batch(self, binding: Binding, target: Target, request: EmbeddingRequest) -> EmbeddingResult:
        body = await self._call(binding, target, binding.protocol.build_embeddings(target, request))
        result = binding.protocol.parse_embeddings(target, body)
        if len(result.vectors) != len(request.texts):
            raise UpstreamProtocolError(
                f"sent {len(request.texts)} texts, got {len(result.vectors)} vectors", provider=target.provider.id
            )
        return result

    async def rerank(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        query: str,
        documents: Sequence[str],
        top_n: int | None = None,
        score_threshold: float | None = None,
        base_url: str | None = None,
    ) -> RerankResult:
        target = self.target(provider, model, "rerank", credentials, base_url=base_url)
        return await self.invoke_rerank(target, RerankRequest(query, tuple(documents), top_n, score_threshold))

    async def invoke_rerank(self, target: Target, request: RerankRequest) -> RerankResult:
        if not request.documents:
            raise InvalidRequestError("documents must hold at least one document", field="documents")
        if request.top_n is not None and request.top_n < 1:
            raise InvalidRequestError("top_n must be a positive integer", field="top_n")
        binding = self.bindings[target.provider.id]
        started = time.perf_counter()
        body = await self._call(binding, target, binding.protocol.build_rerank(target, request))
        result = binding.protocol.parse_rerank(target, request, body)
        hits = sorted(result.hits, key=lambda hit: hit.score, reverse=True)
        if request.score_threshold is not None:
            hits = [hit for hit in hits if hit.score >= request.score_threshold]
        if request.top_n is not None:
            hits = hits[: request.top_n]
        usage = result.usage
        if usage is UNREPORTED:
            tokens = tokenizer.count_text(request.query) * len(request.documents)
            usage = Usage(prompt_tokens=tokens + sum(map(tokenizer.count_text, request.documents)), is_estimated=True)
        usage = priced(usage, target.model.pricing, latency_s=time.perf_counter() - started)
        return RerankResult(model=result.model, hits=tuple(hits), usage=usage)

    # --- audio, moderation ------------------------------------------------------------------------------------

    async def transcribe(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        audio: bytes,
        filename: str = "audio.wav",
        language: str | None = None,
        prompt: str | None = None,
        base_url: str | None = None,
    ) -> TranscriptionResult:
        target = self.target(provider, model, "speech2text", credentials, base_url=base_url)
        return await self.invoke_transcription(target, TranscriptionRequest(audio, filename, language, prompt))

    async def invoke_transcription(self, target: Target, request: TranscriptionRequest) -> TranscriptionResult:
        if not request.audio:
            raise InvalidRequestError("the audio file is empty", field="file")
        limit_mb = target.model.properties.file_upload_limit_mb
        if limit_mb is not None and len(request.audio) > limit_mb * 1024 * 1024:
            raise InvalidRequestError(f"the audio file is larger than {limit_mb} MB", field="file")
        binding = self.bindings[target.provider.id]
        started = time.perf_counter()
        body = await self._call(binding, target, binding.protocol.build_transcription(target, request))
        result = binding.protocol.parse_transcription(target, body)
        usage = Usage() if result.usage is UNREPORTED else result.usage
        usage = priced(
            usage, target.model.pricing, latency_s=time.perf_counter() - started, billed_units=result.duration_s
        )
        return replace(result, usage=usage)

    async def speak(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        text: str,
        voice: str | None = None,
        format: str = "mp3",
        speed: float | None = None,
        instructions: str | None = None,
        base_url: str | None = None,
    ) -> SpeechStream:
        """Synthesize speech; the audio streams as the provider produces it."""
        target = self.target(provider, model, "tts", credentials, base_url=base_url)
        return await self.invoke_speech(target, SpeechRequest(text, voice, format, speed, instructions))

    async def invoke_speech(self, target: Target, request: SpeechRequest) -> SpeechStream:
        properties = target.model.properties
        if not request.text:
            raise InvalidRequestError("input must not be empty", field="input")
        if properties.max_characters is not None and len(request.text) > properties.max_characters:
            raise InvalidRequestError(f"input is longer than {properties.max_characters} characters", field="input")
        if request.voice and properties.voices and request.voice not in {v.id for v in properties.voices}:
            raise InvalidRequestError(f"voice {request.voice!r} is not a voice of {target.model.id}", field="voice")
        if properties.audio_formats and request.format not in properties.audio_formats:
            allowed = ", ".join(properties.audio_formats)
            raise InvalidRequestError(f"format must be one of: {allowed}", field="response_format")
        binding = self.bindings[target.provider.id]
        deadline = self.transport.deadline()
        socket_request = binding.protocol.build_speech_socket(target, request)
        if socket_request is not None:
            socket = await self._connect(binding, target, socket_request, deadline)
            parser = binding.protocol.speech_frame_parser(target, request)
            audio = await websocket.open_speech(socket, parser, provider=target.provider.id)
            media_type = _AUDIO_TYPES.get(request.format, "application/octet-stream")
            return SpeechStream(audio, media_type=media_type, model=target.model.id, characters=len(request.text))
        response = await self._open(binding, target, binding.protocol.build_speech(target, request), deadline)
        media_type = response.headers.get("Content-Type", _AUDIO_TYPES.get(request.format, "application/octet-stream"))
        chunks = self.transport.chunks(
            response, provider=target.provider.id, deadline=deadline, idle_s=target.timeout_s
        )
        return SpeechStream(chunks, media_type=media_type, model=target.model.id, characters=len(request.text))

    async def moderate(
        self,
        *,
        provider: str,
        model: str,
        credentials: Credentials,
        inputs: str | Sequence[str],
        base_url: str | None = None,
    ) -> ModerationResult:
        target = self.target(provider, model, "moderation", credentials, base_url=base_url)
        inputs = (inputs,) if isinstance(inputs, str) else tuple(inputs)
        return await self.invoke_moderation(target, ModerationRequest(inputs))

    async def invoke_moderation(self, target: Target, request: ModerationRequest) -> ModerationResult:
        if not request.inputs:
            raise InvalidRequestError("input must hold at least one text", field="input")
        binding = self.bindings[target.provider.id]
        started = time.perf_counter()
        body = await self._call(binding, target, binding.protocol.build_moderation(target, request))
        result = binding.protocol.parse_moderation(target, body)
        usage = Usage(prompt_tokens=sum(map(tokenizer.count_text, request.inputs)), is_estimated=True)
        return replace(result, usage=priced(usage, target.model.pricing, latency_s=time.perf_counter() - started))

    # --- credentials and models -------------------------------------------------------------------------------

    async def validate_credentials(
        self,
        *,
        provider: str,
        credentials: Credentials,
        model: str | None = None,
        model_type: ModelType | None = None,
        base_url: str | None = None,
    ) -> dict[str, str]:
        """Check the values against the provider's form, then make one tiny call with them.

        Without `model`, provider credentials are checked against the provider's validation model; with
        `model` and `model_type`, the credentials of that (custom) model are. Returns the accepted values,
        defaults filled in; raises CredentialValidationError naming the field or quoting the provider.
        """
        return await validate(self, provider, credentials, model, model_type, base_url)

    # --- models -----------------------------------------------------------------------------------------------

    async def describe_model(self, target: Target) -> dict[str, str]:
        """What the server says about the model it serves, as values of its custom form (context size, features;
        protocols whose `describes_models`); a credential check fills the fields the user left to the server."""
        binding = self.bindings[target.provider.id]
        body = await self._call(binding, target, binding.protocol.build_model_description(target))
        return binding.protocol.parse_model_description(target, body)

    async def list_remote_models(
        self, *, provider: str, credentials: Credentials, base_url: str | None = None
    ) -> list[RemoteModel]:
        """The models the provider's own API lists for these credentials."""
        binding = self.binding(provider)
        placeholder = ModelSpec(id="", type=binding.spec.supported_model_types[0])
        target = binding.target(placeholder, credentials, base_url=base_url)
        body = await self._call(binding, target, binding.protocol.build_list_models(target))
        return binding.protocol.parse_list_models(target, body)

    # --- the one path every call takes ------------------------------------------------------------------------

    async def _call(
        self, binding: Binding, target: Target, request: UpstreamRequest, deadline: float | None = None
    ) -> bytes:
        """One answer's body; for multi-step protocols, the final one (following polls within the deadline)."""
        deadline = deadline if deadline is not None else self.transport.deadline()
        response = await self._open(binding, target, request, deadline)
        body = await self.transport.read(response, provider=target.provider.id, deadline=deadline)
        step = binding.protocol.follow_up(target, body, stream=False)
        while step is not None:
            if asyncio.get_running_loop().time() + step.delay_s >= deadline:
                raise UpstreamTimeoutError(
                    "the job did not finish within the total time limit", provider=target.provider.id
                )
            await asyncio.sleep(step.delay_s)
            response = await self._open(binding, target, step.request, deadline)
            body = await self.transport.read(response, provider=target.provider.id, deadline=deadline)
            step = binding.protocol.follow_up(target, body, stream=False)
        return body

    async def _open_stream(
        self, binding: Binding, target: Target, request: UpstreamRequest, deadline: float
    ) -> aiohttp.ClientResponse:
        if not binding.protocol.streams_by_follow_up:
            return await self._open(binding, target, request, deadline)
        response = await self._open(binding, target, request, deadline)
        body = await self.transport.read(response, provider=target.provider.id, deadline=deadline)
        step = binding.protocol.follow_up(target, body, stream=True)
        if step is None:
            raise UpstreamProtocolError("the answer announced no stream", provider=target.provider.id)
        return await self._open(binding, target, step.request, deadline)

    async def _open(
        self, binding: Binding, target: Target, request: UpstreamRequest, deadline: float
    ) -> aiohttp.ClientResponse:
        signed = await self._sign(binding, target, request, deadline)
        response = await self._open_retrying(target, signed, deadline)
        if response.status == 401 and self._token_signed(binding, target):
            # A cached token the provider no longer takes (revoked early): fetch a new one and try once more.
            response.release()
            self.tokens.forget(binding, target.credentials)
            signed = await self._sign(binding, target, request, deadline)
            response = await self._open_retrying(target, signed, deadline)
        if response.status >= 400:
            body = await self.transport.read_error_body(response, deadline=deadline)
            raise binding.protocol.parse_error(target, response.status, response.headers, body)
        return response

    async def _open_retrying(self, target: Target, signed: UpstreamRequest, deadline: float) -> aiohttp.ClientResponse:
        """Open the call, repeated up to the credential's `retries` times after a connection error or a 5xx answer:
        both come before any byte of an answer, so nothing has reached the caller (backoff doubling from 0.25 s, never
        past the call's deadline). The last failure stands as it is."""
        provider, loop = target.provider.id, asyncio.get_running_loop()
        for attempt in range(target.retries + 1):
            delay_s = min(RETRY_BACKOFF_S * 2**attempt, RETRY_BACKOFF_MAX_S)
            retry = attempt < target.retries and loop.time() + delay_s < deadline
            try:
                response = await self.transport.open(
                    signed, provider=provider, deadline=deadline, wait_s=target.timeout_s
                )
            except UpstreamConnectionError:
                if not retry:
                    raise
            else:
                if response.status not in RETRIED_STATUSES or not retry:
                    return response
                response.release()
            await asyncio.sleep(delay_s)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _sign(
        self, binding: Binding, target: Target, request: UpstreamRequest, deadline: float
    ) -> UpstreamRequest:
        spec = binding.spec
        if spec.headers or spec.credential_headers:
            request = replace(request, headers={**request.headers, **_extra_headers(binding, target.credentials)})
        scheme = binding.scheme
        if self._token_signed(binding, target):
            assert isinstance(scheme, TokenScheme)
            token = await self.tokens.token(binding, target.credentials, deadline=deadline)
            return scheme.sign_with_token(binding.signing_params, target.credentials, request, token)
        return scheme.sign(binding.signing_params, target.credentials, request)

    @staticmethod
    def _token_signed(binding: Binding, target: Target) -> bool:
        scheme = binding.scheme
        return isinstance(scheme, TokenScheme) and scheme.needs_token(binding.signing_params, target.credentials)

    async def _connect(
        self, binding: Binding, target: Target, request: WebSocketRequest, deadline: float
    ) -> websocket.Socket:
        """Sign the opening handshake (a GET) as any request, then open the socket and send the opening frames."""
        signed = await self._sign(binding, target, UpstreamRequest("GET", request.url, request.headers), deadline)
        return await websocket.connect(
            self.transport,
            replace(request, url=signed.url, headers=signed.headers),
            provider=target.provider.id,
            deadline=deadline,
            refused=lambda status, headers: binding.protocol.parse_error(target, status, headers, b""),
        )


UsageFinisher = Callable[[Usage | None, list[str], float, float | None], Usage]
# A credential's retries (catalog/call_limits.py) repeat a call after these, which come before the first byte.
RETRIED_STATUSES = frozenset({500, 502, 503, 504})
RETRY_BACKOFF_S = 0.25
RETRY_BACKOFF_MAX_S = 4.0


def _usage_finisher(target: Target, request: ChatRequest) -> UsageFinisher:
    """How a chat stream's usage is completed: counted locally when the provider reports none, then priced."""

    def finish_usage(reported: Usage | None, texts: list[str], latency_s: float, ttft: float | None) -> Usage:
        if reported is None:
            reported = Usage(
                prompt_tokens=tokenizer.count_prompt(request),
                completion_tokens=tokenizer.count_text("".join(texts)),
                is_estimated=True,
            )
        return priced(reported, target.model.pricing, latency_s=latency_s, time_to_first_token_s=ttft)

    return finish_usage


def _is_json(response: aiohttp.ClientResponse) -> bool:
    media_type = response.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _extra_headers(binding: Binding, credentials: Credentials) -> dict[str, str]:
    headers = dict(binding.spec.headers)
    for header, variable in binding.spec.credential_headers.items():
        if credentials.get(variable):
            headers[header] = credentials[variable]
    return headers


def _chat_request(messages: Sequence[Message | Mapping[str, Any]] | None, params: Mapping[str, Any]) -> ChatRequest:
    """The call's keyword arguments as a request; invoke_chat checks their values (runtime/chat_input.py)."""
    if not messages:
        raise InvalidRequestError("messages must not be empty", field="messages")
    fields = {"tools": (), **params}
    fields["tools"] = fields["tools"] or ()
    try:
        return ChatRequest(messages=tuple(messages), **fields)  # type: ignore[arg-type]
    except TypeError as exc:
        raise InvalidRequestError(f"unknown chat parameter: {exc}") from None


def _streams_no_tool_calls(model: ModelSpec, request: ChatRequest) -> bool:
    """Whether a streamed call would stream tool calls that the model declares it cannot stream."""
    return bool(request.tools) and request.tool_choice != "none" and not model.supports("stream-tool-call")


def check_chat_features(model: ModelSpec, request: ChatRequest) -> None:
    """Refuse, before any I/O, what the catalog says the model cannot do."""
    if request.tools and not model.supports("tool-call"):
        raise UnsupportedFeatureError(f"{model.id} does not support tool calls", field="tools")
    if (
        request.response_format is not None
        and request.response_format.type == "json_schema"
        and not model.supports("structured-output")
    ):
        raise UnsupportedFeatureError(f"{model.id} does not support JSON-schema output", field="response_format")
    for message in request.messages:
        if isinstance(message.content, str):
            continue
        for part in message.content:
            if isinstance(part, TextPart):
                continue
            needed = {ImagePart: "vision", AudioPart: "audio", DocumentPart: "document"}[type(part)]
            if not model.supports(needed):  # type: ignore[arg-type]
                raise UnsupportedFeatureError(f"{model.id} does not accept {needed} input", field="messages")


_AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
