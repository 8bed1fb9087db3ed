"""Unified requests to Google's generateContent wire format, for the Gemini API and Vertex AI alike.

The JSON is the REST API's canonical camelCase (`inlineData`, `mimeType`, `functionCall`); the SDK sends some
nested keys in snake_case, which the proto-JSON parser also accepts (shared/providers-a.md §3).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from pydantic import Field

from modelyard.catalog.spec import Spec
from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.protocols.base import JSON_HEADERS, Target, UpstreamRequest
from modelyard.types import (
    AudioPart,
    ChatRequest,
    ContentPart,
    DocumentPart,
    EmbeddingRequest,
    ImagePart,
    Message,
    TextPart,
    Tool,
    ToolCall,
)
from modelyard.types.chat import NamedToolChoice, ResponseFormat, ToolChoice

# Gemini 3 models sign their function calls, and refuse a later turn whose calls lack the signature
# (providers-a §3). The unified ToolCall has no room for it, so it rides in the call id the client echoes back.
SIGNATURE_MARK = "__thought__"

# The host the SDK uses for the `global` location; regional locations and the `us`/`eu` multi-regions have
# their own (google-genai 3.6.1, _api_client.py).
VERTEX_GLOBAL_ROOT = "https://aiplatform.googleapis.com/"
_VERTEX_MULTI_REGIONS = frozenset({"us", "eu"})

# generationConfig fields a caller may pass as vendor parameters (`extra`), by their camelCase names.
_GENERATION_CONFIG_KEYS = frozenset(
    {
        "topK",
        "candidateCount",
        "responseModalities",
        "mediaResolution",
        "speechConfig",
        "thinkingConfig",
        "responseLogprobs",
        "logprobs",
        "enableEnhancedCivicAnswers",
        "imageConfig",
    }
)
_TOOL_MODES: Mapping[str, str] = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_TASK_TYPES: Mapping[str, str] = {"query": "RETRIEVAL_QUERY", "document": "RETRIEVAL_DOCUMENT"}


class GeminiQuirks(Spec):
    """How a provider of the generateContent family differs; every key a provider file may set."""

    url_style: Literal["gemini", "vertex"] = "gemini"
    # vertex: the credential naming the location, to pick the host the way the SDK does
    location_credential: str | None = None
    # Model-id prefixes that embed through Vertex's `:predict` (instances/predictions): the classic
    # text-embedding models. Other embedding models take batchEmbedContents.
    predict_embedding_prefixes: tuple[str, ...] = ()
    # vertex: partner models (Model Garden) by publisher, as model-id prefixes: {anthropic: [claude-], ...}
    publishers: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    # vertex: the credential naming a publisher's own location, used instead of `location` when filled
    publisher_location_credentials: dict[str, str] = Field(default_factory=dict)
    # vertex: models served only at the `global` location, used for them when a region is chosen; a credential
    # naming its own comma-separated list (global_models_credential) replaces this one when filled
    global_models: tuple[str, ...] = ()
    global_models_credential: str | None = None


def quirks_of(target: Target) -> GeminiQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, GeminiQuirks) else GeminiQuirks()


def model_url(target: Target, method: str, publisher: str = "google") -> str:
    """`{base}/models/{model}:{method}`; the base already holds the API version (and Vertex's project path).

    On Vertex the location is chosen per model (a publisher's own location, or `global` for models served nowhere
    else) and the host follows it the way the SDKs pick it, unless the endpoint was changed (Private Service
    Connect, a proxy)."""
    if quirks_of(target).url_style != "vertex":
        return f"{target.base_url}/models/{target.upstream_model}:{method}"
    root, _, rest = target.base_url.partition("/projects/")
    segments = rest.split("/")  # {project}/locations/{location}/publishers/google
    project, chosen = segments[0], segments[2] if len(segments) > 2 else "global"
    location = vertex_location(target, chosen, publisher)
    if root.startswith(VERTEX_GLOBAL_ROOT):
        version = root.removeprefix(VERTEX_GLOBAL_ROOT)
        if location in _VERTEX_MULTI_REGIONS:
            root = f"https://aiplatform.{location}.rep.googleapis.com/{version}"
        elif location != "global":
            root = f"https://{location}-aiplatform.googleapis.com/{version}"
    path = f"projects/{project}/locations/{location}/publishers/{publisher}/models/{target.upstream_model}"
    return f"{root}/{path}:{method}"


def vertex_location(target: Target, chosen: str, publisher: str = "google") -> str:
    """The location a Vertex call goes to: the publisher's own when the credentials name one, else the one chosen
    for the provider; a global-only model chosen in a region goes to `global` (us/eu multi-regions stay)."""
    quirks = quirks_of(target)
    credentials = target.credentials
    own = quirks.publisher_location_credentials.get(publisher)
    location = (own and _value_or_default(target, own)) or chosen
    if location in ("global", *_VERTEX_MULTI_REGIONS):
        return location
    listed = credentials.get(quirks.global_models_credential or "")
    global_only = [m.strip() for m in listed.split(",")] if listed else quirks.global_models
    return "global" if target.upstream_model in global_only else location


def _value_or_default(target: Target, variable: str) -> str | None:
    """A credential's value, or its form default (a credential saved before the field existed has none)."""
    value = target.credentials.get(variable)
    if value:
        return value
    fields = (*target.provider.credentials, *target.provider.model_credentials)
    return next((f.default for f in fields if f.variable == variable and f.default), None)


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    body: dict[str, Any] = {"contents": contents(request.messages, call_ids=sends_call_ids(target))}
    system = [{"text": m.text} for m in request.messages if m.role == "system"]
    if system:
        body["systemInstruction"] = {"parts": system}
    if request.tools:
        body["tools"] = [{"functionDeclarations": [_declaration(t) for t in request.tools]}]
    if request.tool_choice is not None:
        body["toolConfig"] = {"functionCallingConfig": _calling_config(request.tool_choice)}
    # parallel_tool_calls has no counterpart: Gemini decides how many calls a turn makes.
    config = _generation_config(target, request)
    if config:
        body["generationConfig"] = config
    _merge_extra(body, request.extra)
    if stream:
        return UpstreamRequest(
            "POST", model_url(target, "streamGenerateContent") + "?alt=sse", JSON_HEADERS, _dump(body)
        )
    return UpstreamRequest("POST", model_url(target, "generateContent"), JSON_HEADERS, _dump(body))


def sends_call_ids(target: Target) -> bool:
    """Whether `functionCall` and `functionResponse` may carry `id`: on the Gemini API and Vertex's v1beta1 they do;
    Vertex v1's FunctionCall and FunctionResponse have no such field (aiplatform v1 protos, 2026-12), and Google
    refuses an unknown field with 400, so there calls and their results pair by name and order."""
    if quirks_of(target).url_style != "vertex":
        return True
    version = target.base_url.partition("/projects/")[0].rstrip("/").rsplit("/", 1)[-1]
    return version.startswith("v1beta")


def contents(messages: Iterable[Message], *, call_ids: bool) -> list[dict[str, Any]]:
    """The conversation as Gemini contents: roles `user` and `model`, tool results as `functionResponse` parts."""
    wire: list[dict[str, Any]] = []
    call_names: dict[str, str] = {}  # call id -> function name, for the results that answer them
    for index, message in enumerate(messages):
        if message.role == "system":
            continue  # lifted into systemInstruction
        if message.role == "tool":
            answer = _function_response(message, call_names, f"messages[{index}]", call_ids=call_ids)
            if wire and wire[-1]["role"] == "user" and "functionResponse" in wire[-1]["parts"][-1]:
                wire[-1]["parts"].append(answer)  # answers to parallel calls travel in one turn
            else:
                wire.append({"role": "user", "parts": [answer]})
            continue
        parts = _parts(message.content)
        if message.role == "assistant":
            for number, call in enumerate(message.tool_calls):
                call_names[call.id] = call.name
                where = f"messages[{index}].tool_calls[{number}].function.arguments"
                parts.append(_function_call(call, where, call_ids=call_ids))
        if parts:
            wire.append({"role": "model" if message.role == "assistant" else "user", "parts": parts})
    return wire


def split_call_id(call_id: str) -> tuple[str, str | None]:
    """(Gemini's own call id, the thought signature) of a call id this protocol made."""
    base, mark, signature = call_id.partition(SIGNATURE_MARK)
    return base, (signature or None) if mark else None


def _parts(content: str | tuple[ContentPart, ...]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    return [_part(part) for part in content]


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, ImagePart):
        if part.is_inline:
            media_type, data = part.inline_data()
            return {"inlineData": {"mimeType": media_type, "data": data}}
        # Vertex requires a media type for file data; an image URL without a known extension is sent as JPEG.
        media_type = mimetypes.guess_type(urlsplit(part.url).path)[0] or "image/jpeg"
        return {"fileData": {"mimeType": media_type, "fileUri": part.url}}
    if isinstance(part, AudioPart):
        return {"inlineData": {"mimeType": f"audio/{part.format}", "data": part.data}}
    assert isinstance(part, DocumentPart)
    return {"inlineData": {"mimeType": part.media_type, "data": part.data}}


def _function_call(call: ToolCall, where: str, *, call_ids: bool) -> dict[str, Any]:
    """A call the model made, as it made it: its own id (where the API takes one) and, on Gemini 3, its thought
    signature."""
    call_id, signature = split_call_id(call.id)
    function_call: dict[str, Any] = {"name": call.name, "args": _arguments(call.arguments, where)}
    if call_id and call_ids:
        function_call["id"] = call_id
    part: dict[str, Any] = {"functionCall": function_call}
    if signature:
        part["thoughtSignature"] = signature
    return part


def _arguments(arguments: str, where: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidRequestError(f"{where} must be a JSON object for Gemini", field=where)
    return parsed


def _function_response(
    message: Message, call_names: Mapping[str, str], where: str, *, call_ids: bool
) -> dict[str, Any]:
    call_id = message.tool_call_id or ""
    name = call_names.get(call_id) or message.name
    if name is None:
        raise InvalidRequestError(f"{where}.tool_call_id does not answer a call of an earlier message", field=where)
    text = message.text
    try:
        parsed = orjson.loads(text) if text.lstrip().startswith("{") else None
    except orjson.JSONDecodeError:
        parsed = None
    # `response` must be an object; other output goes under `output`, the key the API reference names for it.
    response: dict[str, Any] = {"name": name, "response": parsed if isinstance(parsed, dict) else {"output": text}}
    base_id, _ = split_call_id(call_id)
    if base_id and call_ids:
        response["id"] = base_id
    return {"functionResponse": response}


def _declaration(tool: Tool) -> dict[str, Any]:
    # parametersJsonSchema takes JSON Schema as OpenAI-style tools carry it; `parameters` takes only the
    # OpenAPI subset and refuses keywords such as `$ref` or `additionalProperties` on older models.
    declaration: dict[str, Any] = {"name": tool.name, "parametersJsonSchema": dict(tool.parameters)}
    if tool.description:
        declaration["description"] = tool.description
    return declaration


def _calling_config(choice: ToolChoice) -> dict[str, Any]:
    if isinstance(choice, NamedToolChoice):
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    return {"mode": _TOOL_MODES[choice]}


def _generation_config(target: Target, request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.stop:
        config["stopSequences"] = list(request.stop)
    if request.seed is not None:
        config["seed"] = request.seed
    if request.presence_penalty is not None:
        config["presencePenalty"] = request.presence_penalty
    if request.frequency_penalty is not None:
        config["frequencyPenalty"] = request.frequency_penalty
    if request.response_format is not None:
        config.update(_response_format(request.response_format))
    thinking = _thinking_config(target, request.reasoning_effort)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def _response_format(response_format: ResponseFormat) -> dict[str, Any]:
    if response_format.type == "text":
        return {}
    if response_format.type == "json_object" or response_format.schema is None:
        return {"responseMimeType": "application/json"}
    # responseJsonSchema takes JSON Schema as given; responseSchema would need the OpenAPI subset.
    return {"responseMimeType": "application/json", "responseJsonSchema": dict(response_format.schema)}


def _thinking_config(target: Target, effort: str | None) -> dict[str, Any]:
    """Thought summaries for models that think (reasoning stays apart from content), and the effort asked for.

    Gemini 3 and later take a thinking level; `none` switches thinking off where a model allows it (2.5 Flash),
    through the budget, the only switch the API has for that (docs: thinking, 2026-11).
    """
    config: dict[str, Any] = {}
    if target.model.supports("reasoning"):
        config["includeThoughts"] = True
    if effort == "none":
        config = {"thinkingBudget": 0}
    elif effort is not None:
        config["thinkingLevel"] = effort.upper()
    return config


def _merge_extra(body: dict[str, Any], extra: Mapping[str, Any]) -> None:
    """Vendor parameters, by Gemini's names (snake_case accepted): generationConfig fields go there."""
    for key, value in extra.items():
        name = _camel(key)
        if name in _GENERATION_CONFIG_KEYS:
            body.setdefault("generationConfig", {})[name] = value
        elif name == "generationConfig" and isinstance(value, Mapping):
            body.setdefault("generationConfig", {}).update(value)
        else:
            body[name] = value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def build_embeddings(target: Target, request: EmbeddingRequest) -> UpstreamRequest:
    quirks = quirks_of(target)
    if request.dimensions is not None and not target.model.properties.supports_dimensions:
        raise UnsupportedFeatureError(f"{target.model.id} does not take a dimensions parameter", field="dimensions")
    task_type = _TASK_TYPES.get(request.input_type or "")
    if any(target.upstream_model.startswith(prefix) for prefix in quirks.predict_embedding_prefixes):
        return _predict_embeddings(target, request, task_type)
    requests = []
    for text in request.texts:
        # One request per text: several parts in one content would be embedded together, as one vector.
        item: dict[str, Any] = {"content": {"role": "user", "parts": [{"text": text}]}}
        options: dict[str, Any] = {}
        if task_type is not None:
            options["taskType"] = task_type
        if request.dimensions is not None:
            options["outputDimensionality"] = request.dimensions
        if quirks.url_style == "vertex":  # Vertex nests the options and takes the model from the URL
            if options:
                item["embedContentConfig"] = options
        else:
            item.update(options)
            item["model"] = f"models/{target.upstream_model}"
        requests.append(item)
    return UpstreamRequest("POST", model_url(target, "batchEmbedContents"), JSON_HEADERS, _dump({"requests": requests}))


def _predict_embeddings(target: Target, request: EmbeddingRequest, task_type: str | None) -> UpstreamRequest:
    instances = []
    for text in request.texts:
        instance = {"content": text}
        if task_type is not None:
            instance["task_type"] = task_type  # snake_case in the instance schema (Vertex text-embedding docs)
        instances.append(instance)
    body: dict[str, Any] = {"instances": instances}
    if request.dimensions is not None:
        body["parameters"] = {"outputDimensionality": request.dimensions}
    return UpstreamRequest("POST", model_url(target, "predict"), JSON_HEADERS, _dump(body))


def build_list_models(target: Target) -> UpstreamRequest:
    # One page of the largest size the API allows: the runtime reads a single answer.
    return UpstreamRequest("GET", f"{target.base_url}/models?pageSize=1000", {})


def _dump(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body)
