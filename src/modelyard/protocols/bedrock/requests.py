"""Unified requests to Bedrock Runtime: Converse / ConverseStream for chat, InvokeModel for embeddings, and to
the Agents for Bedrock runtime for Rerank.

Bodies are serialized the way botocore serializes them (`json.dumps` with its default separators, keys in
the order given), so for the same call our bytes, and with a fixed clock our signature, equal boto3's.
"""

from __future__ import annotations

import json
from typing import Any

from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.protocols.aws import endpoint, path_segment, proxy, quirks_of
from modelyard.protocols.base import Target, UpstreamRequest
from modelyard.protocols.bedrock import profiles
from modelyard.types import (
    ChatRequest,
    DocumentPart,
    EmbeddingRequest,
    ImagePart,
    Message,
    RerankRequest,
    TextPart,
    Tool,
)
from modelyard.types.chat import AudioPart, NamedToolChoice, ResponseFormat

JSON_HEADERS = {"Content-Type": "application/json"}
INVOKE_HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}

# Converse's own top-level fields: extra parameters with these names go to the top level, any other extra goes
# into `additionalModelRequestFields`, the model-native passthrough (top_k, thinking, reasoningConfig ...).
CONVERSE_FIELDS = frozenset(
    {
        "guardrailConfig",
        "additionalModelRequestFields",
        "promptVariables",
        "additionalModelResponseFieldPaths",
        "requestMetadata",
        "performanceConfig",
        "serviceTier",
        "outputConfig",
    }
)
IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}


def dumps(body: Any) -> bytes:
    return json.dumps(body).encode()


def model_url(target: Target, action: str, model_id: str | None = None) -> str:
    return f"{endpoint(target)}/model/{path_segment(model_id or target.upstream_model)}/{action}"


def post(target: Target, url: str, headers: dict[str, str], body: Any) -> UpstreamRequest:
    return UpstreamRequest("POST", url, headers, dumps(body), proxy=proxy(target))


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    body: dict[str, Any] = {"messages": _messages(request.messages)}
    system = [{"text": m.text} for m in request.messages if m.role == "system" and m.text]
    if system:
        body["system"] = system
    inference = _inference_config(request)
    if inference:
        body["inferenceConfig"] = inference
    tool_config = _tool_config(request, body["messages"])
    if tool_config:
        body["toolConfig"] = tool_config
    # Converse has no seed, penalties, end-user id or parallel-tool-call switch; models that take them read
    # them from `extra` (additionalModelRequestFields), so they are not sent here.
    additional: dict[str, Any] = {}
    output_config: dict[str, Any] = {}
    for key, value in request.extra.items():
        if key == profiles.PARAMETER:
            continue  # which inference profile to call, not a model field
        if key == "additionalModelRequestFields":
            additional.update(value)
        elif key == "outputConfig":
            output_config.update(value)
        elif key in CONVERSE_FIELDS:
            body[key] = value
        else:
            additional[key] = value
    if additional:
        body["additionalModelRequestFields"] = additional
    if request.reasoning_effort is not None:
        output_config["effort"] = request.reasoning_effort
    text_format = _text_format(request.response_format)
    if text_format is not None:
        output_config["textFormat"] = text_format
    if output_config:
        body["outputConfig"] = output_config
    action = "converse-stream" if stream else "converse"
    return post(target, model_url(target, action, profiles.model_id(target, request.extra)), JSON_HEADERS, body)


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Converse wants user and assistant turns alternating: tool results ride in a user turn, and consecutive
    turns of one role are merged into one message."""
    wire: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message, f"messages[{index}]")
        if not blocks:
            continue
        if wire and wire[-1]["role"] == role:
            wire[-1]["content"].extend(blocks)
        else:
            wire.append({"role": role, "content": blocks})
    return wire


def _blocks(message: Message, where: str) -> list[dict[str, Any]]:
    if message.role == "tool":
        result = {"toolUseId": message.tool_call_id or "", "content": [{"text": message.text or "(no output)"}]}
        return [{"toolResult": result}]
    blocks: list[dict[str, Any]] = []
    parts = (TextPart(message.content),) if isinstance(message.content, str) else message.content
    for part in parts:
        if isinstance(part, TextPart):
            if part.text:  # Converse refuses blank text blocks
                blocks.append({"text": part.text})
        elif isinstance(part, ImagePart):
            blocks.append({"image": _image(part, where)})
        elif isinstance(part, DocumentPart):
            blocks.append({"document": _document(part, where, len(blocks))})
        elif isinstance(part, AudioPart):
            raise UnsupportedFeatureError("Bedrock Converse takes no audio input through this hub", field=where)
    for call in message.tool_calls:
        blocks.append(
            {"toolUse": {"toolUseId": call.id, "name": call.name, "input": _arguments(call.arguments, where)}}
        )
    return blocks


def _image(part: ImagePart, where: str) -> dict[str, Any]:
    if part.url.startswith("s3://"):
        extension = part.url.rsplit(".", 1)[-1].lower()
        image_format = {"jpg": "jpeg"}.get(extension, extension)
        return {"format": image_format, "source": {"s3Location": {"uri": part.url}}}
    if not part.is_inline:
        raise UnsupportedFeatureError(
            "Bedrock does not fetch image URLs: send the image inline as a data: URL, or as an s3:// URI", field=where
        )
    media_type, data = part.inline_data()
    inline_format = IMAGE_FORMATS.get(media_type)
    if inline_format is None:
        raise UnsupportedFeatureError(f"Bedrock takes png, jpeg, gif or webp images, not {media_type}", field=where)
    return {"format": inline_format, "source": {"bytes": data}}  # REST JSON carries blobs as base64


def _document(part: DocumentPart, where: str, position: int) -> dict[str, Any]:
    document_format = DOCUMENT_FORMATS.get(part.media_type)
    if document_format is None:
        raise UnsupportedFeatureError(f"Bedrock takes no {part.media_type} documents", field=where)
    # A name is required, and Converse allows only letters, digits, spaces, hyphens, parentheses and brackets.
    name = (
        "".join(c for c in (part.name or "").rsplit(".", 1)[0] if c.isalnum() or c in " -()[]")
        or f"document {position}"
    )
    return {"format": document_format, "name": name, "source": {"bytes": part.data}}


def _arguments(arguments: str, where: str) -> Any:
    if not arguments.strip():
        return {}
    try:
        return json.loads(arguments)
    except ValueError:
        raise InvalidRequestError(f"tool call arguments are not JSON: {arguments[:100]!r}", field=where) from None


def _inference_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if request.max_tokens is not None:
        config["maxTokens"] = request.max_tokens
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.top_p is not None:
        config["topP"] = request.top_p
    if request.stop:
        config["stopSequences"] = list(request.stop)
    return config


def _tool_config(request: ChatRequest, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not request.tools:
        return None
    uses_tools = any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])
    # Converse has no "none": without tool blocks in the history the tools are left out; with them Bedrock
    # requires toolConfig, so the tools stay and the model decides (the closest to "none" there is).
    if request.tool_choice == "none" and not uses_tools:
        return None
    config: dict[str, Any] = {"tools": [_tool(t) for t in request.tools]}
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        config["toolChoice"] = {"tool": {"name": choice.name}}
    elif choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    return config


def _tool(tool: Tool) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": tool.name}
    if tool.description:
        spec["description"] = tool.description
    spec["inputSchema"] = {"json": dict(tool.parameters)}
    if tool.strict is not None:
        spec["strict"] = tool.strict
    return {"toolSpec": spec}


def _text_format(response_format: ResponseFormat | None) -> dict[str, Any] | None:
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type != "json_schema" or response_format.schema is None:
        raise UnsupportedFeatureError(
            "Bedrock Converse constrains output with a JSON schema only (response_format json_schema)",
            field="response_format",
        )
    # The service model types `schema` as a string: the schema goes as JSON text.
    schema = {"schema": json.dumps(dict(response_format.schema)), "name": response_format.name}
    return {"type": "json_schema", "structure": {"jsonSchema": schema}}


# --- embeddings: InvokeModel with the model's native body -----------------------------------------------------


EMBEDDING_FORMAT_CREDENTIAL = "embedding_format"  # a custom model's choice, where its id (an ARN) does not say


def embedding_family(target: Target) -> str:
    """`titan` or `cohere`, from the model id (inference-profile prefixes included), else a custom model's form."""
    model = target.upstream_model
    if "amazon.titan-embed" in model:
        return "titan"
    if "cohere.embed" in model:
        return "cohere"
    chosen = target.credentials.get(EMBEDDING_FORMAT_CREDENTIAL)
    if chosen in ("titan", "cohere"):
        return chosen
    raise UnsupportedFeatureError(f"no Bedrock embedding body is known for {model!r} (Titan and Cohere are)")


def build_embeddings(target: Target, request: EmbeddingRequest) -> UpstreamRequest:
    family = embedding_family(target)
    body: dict[str, Any]
    if family == "titan":
        if len(request.texts) != 1:  # the catalog sets max_chunks: 1, so the runtime sends one text per call
            raise InvalidRequestError("Titan embeds one text per request", field="input")
        body = {"inputText": request.texts[0]}
        if target.model.properties.supports_dimensions:  # Titan Text Embeddings V2
            if request.dimensions is not None:
                body["dimensions"] = request.dimensions
            body["normalize"] = True
        elif request.dimensions is not None:
            raise UnsupportedFeatureError(f"{target.model.id} does not take a dimensions parameter", field="dimensions")
    else:
        body = {
            "texts": list(request.texts),
            "input_type": "search_query" if request.input_type == "query" else "search_document",
        }
        if request.dimensions is not None:
            if not target.model.properties.supports_dimensions:
                raise UnsupportedFeatureError(
                    f"{target.model.id} does not take a dimensions parameter", field="dimensions"
                )
            body["output_dimension"] = request.dimensions  # Embed v4 only
        body["embedding_types"] = ["float"]
    return post(target, model_url(target, "invoke"), INVOKE_HEADERS, body)


# --- rerank: the Agents for Bedrock runtime's Rerank operation (bedrock-agent-runtime 2023-07-26) ----------------


def build_rerank(target: Target, request: RerankRequest) -> UpstreamRequest:
    """Rerank names the model by ARN: a foundation model's is built from the region; an ARN is used as is."""
    method_variable = target.provider.signing.get("auth_method_credential")
    if method_variable and target.credentials.get(method_variable) == "api_key":
        # bedrock-agent-runtime lists SigV4 only, no bearer auth (botocore 1.44.18 service model)
        raise UnsupportedFeatureError(
            "Bedrock's Rerank API takes no API key: use an access key or the default credential chain",
            field=method_variable,
        )
    sources = [
        {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": document}}}
        for document in request.documents
    ]
    configuration = {
        "numberOfResults": min(request.top_n or len(sources), len(sources)),
        "modelConfiguration": {"modelArn": model_arn(target)},
    }
    body = {
        "queries": [{"type": "TEXT", "textQuery": {"text": request.query}}],
        "sources": sources,
        "rerankingConfiguration": {"type": "BEDROCK_RERANKING_MODEL", "bedrockRerankingConfiguration": configuration},
    }
    return post(target, f"{agent_endpoint(target)}/rerank", JSON_HEADERS, body)


def model_arn(target: Target) -> str:
    model = target.upstream_model
    if model.startswith("arn:"):
        return model
    region = target.credentials.get(quirks_of(target).region_credential, "")
    partition = "aws-us-gov" if region.startswith("us-gov-") else "aws-cn" if region.startswith("cn-") else "aws"
    return f"arn:{partition}:bedrock:{region}::foundation-model/{model}"


def agent_endpoint(target: Target) -> str:
    """bedrock-agent-runtime beside the regional bedrock-runtime; a base URL set by hand (a proxy, a fake) serves
    both. An endpoint_url credential (a bedrock-runtime VPC endpoint) applies to bedrock-runtime only."""
    template = quirks_of(target).agent_base_url
    default_runtime = _fill(target.provider.base_url, target)
    if template is None or target.base_url != default_runtime:
        return target.base_url
    return _fill(template, target)


def _fill(template: str, target: Target) -> str:
    filled = template
    for field in (*target.provider.credentials, *target.provider.model_credentials):
        filled = filled.replace(f"{{{field.variable}}}", target.credentials.get(field.variable) or field.default or "")
    return filled.rstrip("/")
