"""Pieces shared by the native wire families of self-hosted servers and job APIs (Ollama, Hugging Face TGI and
TEI, Replicate, Triton): bodies that answer `{"error": "..."}`, and chat turned into one prompt text for
servers that take text rather than messages."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import orjson

from modelyard.errors import UnsupportedFeatureError, UpstreamError, UpstreamUnavailableError
from modelyard.protocols.base import Target
from modelyard.protocols.errors import error_for_status, redact, upstream_message, where_reported
from modelyard.types import ChatRequest, Message, TextPart

_ROLE_LABELS = {"system": "System", "user": "User", "assistant": "Assistant", "tool": "Tool"}


def load_json(body: bytes) -> Any:
    return orjson.loads(body)


def error_message(data: Any) -> tuple[str, str | None]:
    """The message and error code of an error body in any of the shapes these servers use.

    `{"error": "..."}` (Ollama, Triton, TGI and TEI with `error_type`), `{"error": {"message", "type"}}` (their
    OpenAI-style routes), `{"message", "type"}` (TEI's OpenAI route), `{"detail", "title"}` (Replicate's RFC 7807).
    """
    if not isinstance(data, Mapping):
        return "", None
    error = data.get("error")
    if isinstance(error, Mapping):
        code = error.get("code") or error.get("type")
        return str(error.get("message") or ""), str(code) if code is not None else None
    message = error or data.get("detail") or data.get("message") or data.get("title") or ""
    code = data.get("error_type") or data.get("type") or data.get("code")
    return str(message), str(code) if code is not None else None


def body_error(
    target: Target,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    status_of_code: Mapping[str, int] | None = None,
    failing_statuses: Collection[int] = (),
) -> UpstreamError:
    """The error for an error answer; `status_of_code` gives errors that arrived in an HTTP 200 a status, and
    `failing_statuses` are 4xx statuses that mean the server failed, not the request (TGI's and TEI's 424)."""
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {"error": body[:300].decode("utf-8", "replace")}
    return error_from_data(
        target, status, headers, data, status_of_code=status_of_code, failing_statuses=failing_statuses
    )


def error_from_data(
    target: Target,
    status: int,
    headers: Mapping[str, str],
    data: Any,
    *,
    status_of_code: Mapping[str, int] | None = None,
    failing_statuses: Collection[int] = (),
    in_stream: bool = False,
) -> UpstreamError:
    message, code = error_message(data)
    where = where_reported(status, in_stream=in_stream)
    if status == 200:  # inside a stream or a successful answer: the code says what it would have been
        status = (status_of_code or {}).get((code or "").lower(), 502)
    if status in failing_statuses:
        detail = redact(message, secrets_of(target))
        return UpstreamUnavailableError(
            upstream_message("provider unavailable", detail, status, code, where=where),
            provider=target.provider.id,
            status_code=status,
            vendor_code=code,
        )
    return error_for_status(
        provider=target.provider.id,
        status=status,
        message=redact(message, secrets_of(target)),
        code=code,
        headers=headers,
        where=where,
    )


def secrets_of(target: Target) -> Collection[str]:
    secret = target.provider.secret_variables()
    return [value for key, value in target.credentials.items() if key in secret]


def system_text(messages: Iterable[Message]) -> str:
    return "\n\n".join(m.text for m in messages if m.role == "system" and m.text)


def prompt_text(request: ChatRequest, *, with_system: bool = True) -> str:
    """The conversation as one text, for servers that take a prompt instead of messages.

    A single user turn goes as it is, so completion models see exactly what was asked. A longer conversation is
    written as a role-labelled transcript that ends where the assistant should continue; the server applies no
    chat template on these routes, so this is the best a prompt-only API allows.
    """
    messages = [m for m in request.messages if with_system or m.role != "system"]
    for message in messages:
        check_text_only(message)
    turns = [m for m in messages if m.role != "system"]
    if len(turns) == 1 and turns[0].role == "user" and not turns[0].tool_calls:
        system = system_text(messages)
        return f"{system}\n\n{turns[0].text}" if system else turns[0].text
    lines = [f"{_ROLE_LABELS[m.role]}: {m.text}" for m in messages if m.text]
    return "\n\n".join([*lines, "Assistant:"])


def check_text_only(message: Message) -> None:
    if isinstance(message.content, tuple) and any(not isinstance(p, TextPart) for p in message.content):
        raise UnsupportedFeatureError("this API takes text only: remove images, audio and files", field="messages")
    if message.tool_calls or message.role == "tool":
        raise UnsupportedFeatureError("this API has no tool calls", field="messages")
