"""The gateway's /v1 operations in OpenAPI terms, merged into /openapi.json beside the console API.

The gateway is raw ASGI (its hot path skips any framework), so nothing generates this: it is written by hand
from gateway/*.py and protocols/openai/egress.py. Keep the two in step when an endpoint changes;
tests/gateway/test_openapi.py fails when a route of gateway/app.py's ROUTES has no operation here.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_REF = "#/components/schemas/"
_MODEL = {
    "type": "string",
    "description": "`provider/model`, a model name unambiguous in the workspace, or `default`",
    "examples": ["deepseek/deepseek-flash"],
}
_TEXTS = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}
_USAGE = {
    "type": "object",
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    },
}

SCHEMAS: dict[str, Schema] = {
    "GatewayError": {
        "type": "object",
        "description": "OpenAI's error shape",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": {"type": ["string", "null"]},
                    "code": {"type": ["string", "null"]},
                },
                "required": ["message", "type"],
            }
        },
        "required": ["error"],
    },
    "ChatMessage": {
        "type": "object",
        "properties": {
            "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
            "content": {
                "description": "Text, or content parts (text, image_url, input_audio, file)",
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}, {"type": "null"}],
            },
            "name": {"type": "string"},
            "tool_calls": {"type": "array", "items": {"type": "object"}},
            "tool_call_id": {"type": "string"},
        },
        "required": ["role"],
    },
    "MessagesRequest": {
        "type": "object",
        "description": "Anthropic's Messages request; `model` is any configured model of any family.",
        "properties": {
            "model": {"type": "string", "description": "provider/model, a bare model name, or default"},
            "max_tokens": {"type": "integer", "minimum": 1},
            "messages": {"type": "array", "items": {"type": "object"}},
            "system": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
            "stream": {"type": "boolean"},
            "tools": {"type": "array", "items": {"type": "object"}},
            "tool_choice": {"type": "object"},
            "thinking": {"type": "object"},
            "stop_sequences": {"type": "array", "items": {"type": "string"}},
            "temperature": {"type": "number"},
            "top_p": {"type": "number"},
        },
        "required": ["model", "max_tokens", "messages"],
        "additionalProperties": True,
    },
    "Message": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "type": {"const": "message"},
            "role": {"const": "assistant"},
            "model": {"type": "string"},
            "content": {"type": "array", "items": {"type": "object"}},
            "stop_reason": {"type": ["string", "null"]},
            "usage": {"type": "object"},
        },
    },
    "ResponsesRequest": {
        "type": "object",
        "description": "OpenAI's Responses API request; `model` is any configured model of any family. Options "
        "without a unified meaning (include, truncation, prompt_cache_key, service_tier, text.verbosity) are ignored.",
        "properties": {
            "model": {**_MODEL, "description": f"{_MODEL['description']}; optional with previous_response_id"},
            "input": {
                "description": "Text, or items: messages (input_text, input_image, input_file parts), function_call, "
                "function_call_output and reasoning items",
                "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}, "minItems": 1}],
            },
            "instructions": {"type": "string"},
            "previous_response_id": {"type": "string", "description": "Continue a stored response of this workspace"},
            "store": {"type": "boolean", "default": True, "description": "Keep the answer for 30 days"},
            "stream": {"type": "boolean", "description": "Answer with the Responses API's typed events"},
            "tools": {"type": "array", "items": {"type": "object"}, "description": "Function tools only"},
            "tool_choice": {"oneOf": [{"type": "string"}, {"type": "object"}]},
            "parallel_tool_calls": {"type": "boolean"},
            "text": {"type": "object", "description": "format: text, json_object or json_schema"},
            "reasoning": {
                "type": "object",
                "properties": {"effort": {"type": "string"}, "summary": {"enum": ["auto", "concise", "detailed"]}},
            },
            "max_output_tokens": {"type": "integer", "minimum": 1},
            "temperature": {"type": "number"},
            "top_p": {"type": "number"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
            "safety_identifier": {"type": "string"},
        },
        "required": ["input"],
        "additionalProperties": True,
    },
    "Response": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "response"},
            "created_at": {"type": "integer"},
            "status": {"enum": ["completed", "incomplete", "failed"]},
            "model": {"type": "string"},
            "output": {
                "type": "array",
                "description": "reasoning, message and function_call items",
                "items": {"type": "object"},
            },
            "incomplete_details": {"type": ["object", "null"]},
            "error": {"type": ["object", "null"]},
            "previous_response_id": {"type": ["string", "null"]},
            "store": {"type": "boolean"},
            "usage": {
                "type": "object",
                "properties": {
                    "input_tokens": {"type": "integer"},
                    "output_tokens": {"type": "integer"},
                    "total_tokens": {"type": "integer"},
                    "input_tokens_details": {"type": "object"},
                    "output_tokens_details": {"type": "object"},
                },
            },
        },
    },
    "ResponseDeleted": {
        "type": "object",
        "properties": {"id": {"type": "string"}, "object": {"const": "response"}, "deleted": {"const": True}},
    },
    "ChatCompletionRequest": {
        "type": "object",
        "properties": {
            "model": _MODEL,
            "messages": {"type": "array", "items": {"$ref": _REF + "ChatMessage"}, "minItems": 1},
            "stream": {"type": "boolean", "description": "Answer with server-sent chat.completion.chunk events"},
            "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
            "temperature": {"type": "number"},
            "top_p": {"type": "number"},
            "max_tokens": {"type": "integer", "minimum": 1},
            "max_completion_tokens": {"type": "integer", "minimum": 1},
            "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "tools": {"type": "array", "items": {"type": "object"}},
            "tool_choice": {"oneOf": [{"type": "string"}, {"type": "object"}]},
            "parallel_tool_calls": {"type": "boolean"},
            "response_format": {"type": "object", "description": "text, json_object, or json_schema"},
            "seed": {"type": "integer"},
            "presence_penalty": {"type": "number"},
            "frequency_penalty": {"type": "number"},
            "reasoning_effort": {"type": "string"},
            "user": {"type": "string"},
        },
        "required": ["model", "messages"],
        "additionalProperties": True,
        "description": "Other keys are passed to the provider as they are.",
    },
    "ChatCompletion": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "chat.completion"},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer"},
                        "message": {"$ref": _REF + "ChatMessage"},
                        "finish_reason": {"type": "string"},
                    },
                },
            },
            "usage": _USAGE,
        },
    },
    "EmbeddingRequest": {
        "type": "object",
        "properties": {
            "model": _MODEL,
            "input": _TEXTS,
            "encoding_format": {"type": "string", "enum": ["float", "base64"]},
            "dimensions": {"type": "integer", "minimum": 1},
            "input_type": {"type": "string", "enum": ["query", "document"]},
        },
        "required": ["model", "input"],
    },
    "EmbeddingList": {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "object": {"const": "embedding"},
                        "index": {"type": "integer"},
                        "embedding": {"oneOf": [{"type": "array", "items": {"type": "number"}}, {"type": "string"}]},
                    },
                },
            },
            "model": {"type": "string"},
            "usage": _USAGE,
        },
    },
    "RerankRequest": {
        "type": "object",
        "properties": {
            "model": _MODEL,
            "query": {"type": "string", "minLength": 1},
            "documents": {
                "type": "array",
                "items": {
                    "oneOf": [{"type": "string"}, {"type": "object", "properties": {"text": {"type": "string"}}}]
                },
            },
            "top_n": {"type": "integer", "minimum": 1},
            "return_documents": {"type": "boolean"},
            "score_threshold": {"type": "number"},
        },
        "required": ["model", "query", "documents"],
    },
    "RerankResult": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "object": {"const": "rerank"},
            "model": {"type": "string"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer"},
                        "relevance_score": {"type": "number"},
                        "document": {"type": "object", "properties": {"text": {"type": "string"}}},
                    },
                },
            },
            "usage": _USAGE,
        },
    },
    "ModerationRequest": {
        "type": "object",
        "properties": {"model": {**_MODEL, "default": "default"}, "input": _TEXTS},
        "required": ["input"],
    },
    "ModerationResult": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "model": {"type": "string"},
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "flagged": {"type": "boolean"},
                        "categories": {"type": "object", "additionalProperties": {"type": "boolean"}},
                        "category_scores": {"type": "object", "additionalProperties": {"type": "number"}},
                    },
                },
            },
        },
    },
    "TranscriptionRequest": {
        "type": "object",
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "The audio, up to 64 MB"},
            "model": _MODEL,
            "language": {"type": "string"},
            "prompt": {"type": "string"},
            "temperature": {"type": "number"},
            "response_format": {"type": "string", "enum": ["json", "text", "verbose_json"]},
        },
        "required": ["file", "model"],
    },
    "Transcription": {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "usage": {"type": "object", "properties": {"type": {"const": "duration"}, "seconds": {"type": "number"}}},
        },
    },
    "SpeechRequest": {
        "type": "object",
        "properties": {
            "model": _MODEL,
            "input": {"type": "string", "minLength": 1},
            "voice": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"id": {"type": "string"}}}]},
            "response_format": {"type": "string", "enum": ["mp3", "opus", "aac", "flac", "wav", "pcm"]},
            "speed": {"type": "number", "minimum": 0.25, "maximum": 4},
            "instructions": {"type": "string"},
        },
        "required": ["model", "input"],
    },
    "ConversationTaskRequest": {
        "type": "object",
        "description": "A conversation for one of the system model's tasks; other keys are ignored.",
        "properties": {
            "messages": {
                "type": "array",
                "items": {"$ref": _REF + "ChatMessage"},
                "minItems": 1,
                "description": "The conversation, as for chat completions; its system and tool messages are not read",
            },
            "model": {**_MODEL, "default": "default", "description": f"{_MODEL['description']} (the default LLM)"},
        },
        "required": ["messages"],
    },
    "ConversationTitle": {
        "type": "object",
        "properties": {
            "object": {"const": "conversation.title"},
            "title": {
                "type": "string",
                "maxLength": 60,
                "description": "A few words in the conversation's language, without quotes or end punctuation",
            },
            "model": {"type": "string", "description": "provider/model that wrote it"},
            "usage": {**_USAGE, "description": "Of every call the task made (two when the first answer was unusable)"},
        },
        "required": ["object", "title", "model", "usage"],
    },
    "SuggestedQuestions": {
        "type": "object",
        "properties": {
            "object": {"const": "conversation.suggested_questions"},
            "questions": {
                "type": "array",
                "items": {"type": "string", "maxLength": 120},
                "minItems": 1,
                "maxItems": 3,
                "description": "Three follow-up questions in the conversation's language; fewer only when the model "
                "twice gave fewer usable ones",
            },
            "model": {"type": "string", "description": "provider/model that wrote them"},
            "usage": {**_USAGE, "description": "Of every call the task made (two when the first answer was short)"},
        },
        "required": ["object", "questions", "model", "usage"],
    },
    "ModelList": {
        "type": "object",
        "properties": {
            "object": {"const": "list"},
            "data": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "description": "provider/model"},
                        "object": {"const": "model"},
                        "created": {"type": "integer"},
                        "owned_by": {"type": "string"},
                        "model_type": {"type": "string"},
                    },
                },
            },
        },
    },
}

SECURITY_SCHEMES: dict[str, Schema] = {
    "apiKey": {"type": "http", "scheme": "bearer", "description": "A workspace API key (`my-...`)"},
}


def _errors() -> dict[str, Schema]:
    described = {
        "400": "Malformed request",
        "401": "Missing or invalid API key",
        "403": "The model is disabled in the workspace",
        "404": "Unknown or unavailable model",
        "413": "The body is too large",
        "429": "Hosted quota spent, or the provider rate-limited us (with Retry-After)",
        "502": "The provider failed",
        "503": "The provider is unavailable",
        "504": "The provider timed out",
    }
    content = {"application/json": {"schema": {"$ref": _REF + "GatewayError"}}}
    return {status: {"description": text, "content": content} for status, text in described.items()}


def _operation(operation_id: str, summary: str, request: Schema | None, ok: Schema) -> Schema:
    operation: Schema = {
        "tags": ["gateway"],
        "operationId": operation_id,
        "summary": summary,
        "security": [{"apiKey": []}],
        "responses": {"200": ok, **_errors()},
    }
    if request is not None:
        operation["requestBody"] = {"required": True, "content": request}
    return operation


def _with_response_id(operation: Schema) -> Schema:
    parameter = {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {**operation, "parameters": [parameter]}


def _json(name: str) -> Schema:
    return {"application/json": {"schema": {"$ref": _REF + name}}}


PATHS: dict[str, Schema] = {
    "/v1/chat/completions": {
        "post": _operation(
            "gateway_chat_completions",
            "Chat completion, streamed or not, with tools, vision and JSON schema",
            _json("ChatCompletionRequest"),
            {
                "description": "A chat.completion; with `stream: true`, chat.completion.chunk events and `[DONE]`",
                "content": {**_json("ChatCompletion"), "text/event-stream": {"schema": {"type": "string"}}},
            },
        )
    },
    "/v1/messages": {
        "post": _operation(
            "gateway_messages",
            "Anthropic's Messages shape in and out, streamed or not, for any configured model",
            _json("MessagesRequest"),
            {
                "description": "A message; with `stream: true`, Anthropic's event stream",
                "content": {**_json("Message"), "text/event-stream": {"schema": {"type": "string"}}},
            },
        )
    },
    "/v1/responses": {
        "post": _operation(
            "gateway_responses_create",
            "OpenAI's Responses API for any configured model, streamed or not; stored unless store is false",
            _json("ResponsesRequest"),
            {
                "description": "A response; with `stream: true`, the typed events from response.created to "
                "response.completed (an error event and response.failed if it fails after the first byte)",
                "content": {**_json("Response"), "text/event-stream": {"schema": {"type": "string"}}},
            },
        )
    },
    "/v1/responses/{response_id}": {
        "get": _with_response_id(
            _operation(
                "gateway_responses_retrieve",
                "A stored response of this workspace (404 once deleted, expired, or for another workspace)",
                None,
                {"description": "The response as it was answered", "content": _json("Response")},
            )
        ),
        "delete": _with_response_id(
            _operation(
                "gateway_responses_delete",
                "Delete a stored response of this workspace",
                None,
                {"description": "Deleted", "content": _json("ResponseDeleted")},
            )
        ),
    },
    "/v1/embeddings": {
        "post": _operation(
            "gateway_embeddings",
            "Embed texts",
            _json("EmbeddingRequest"),
            {"description": "The vectors", "content": _json("EmbeddingList")},
        )
    },
    "/v1/rerank": {
        "post": _operation(
            "gateway_rerank",
            "Rank documents by relevance to a query",
            _json("RerankRequest"),
            {"description": "The ranking", "content": _json("RerankResult")},
        )
    },
    "/v1/moderations": {
        "post": _operation(
            "gateway_moderations",
            "Classify texts for harmful content",
            _json("ModerationRequest"),
            {"description": "One verdict per input", "content": _json("ModerationResult")},
        )
    },
    "/v1/audio/transcriptions": {
        "post": _operation(
            "gateway_transcriptions",
            "Transcribe audio (multipart upload)",
            {"multipart/form-data": {"schema": {"$ref": _REF + "TranscriptionRequest"}}},
            {
                "description": "The text: JSON, or plain text with response_format=text",
                "content": {**_json("Transcription"), "text/plain": {"schema": {"type": "string"}}},
            },
        )
    },
    "/v1/audio/speech": {
        "post": _operation(
            "gateway_speech",
            "Synthesise speech; the audio is streamed",
            _json("SpeechRequest"),
            {"description": "The audio", "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}}},
        )
    },
    "/v1/tasks/conversation-title": {
        "post": _operation(
            "gateway_conversation_title",
            "A short title for a conversation, by the workspace's default LLM or the model named",
            _json("ConversationTaskRequest"),
            {"description": "The title", "content": _json("ConversationTitle")},
        )
    },
    "/v1/tasks/suggested-questions": {
        "post": _operation(
            "gateway_suggested_questions",
            "Three follow-up questions the user could ask next, by the workspace's default LLM or the model named",
            _json("ConversationTaskRequest"),
            {"description": "The questions", "content": _json("SuggestedQuestions")},
        )
    },
    "/v1/models": {
        "get": _operation(
            "gateway_models",
            "The models this workspace can call now, as provider/model ids",
            None,
            {"description": "The models", "content": _json("ModelList")},
        )
    },
}


def merge_into(document: Schema) -> Schema:
    """Add the gateway's paths, schemas and security scheme to a generated OpenAPI document."""
    document.setdefault("paths", {}).update(PATHS)
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update(SCHEMAS)
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    tags = document.setdefault("tags", [])
    tags.append({"name": "gateway", "description": "The OpenAI-compatible API; authenticate with a workspace API key"})
    return document
