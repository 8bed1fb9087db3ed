"""The `/v1` face of the error contract: OpenAI's error shape, `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

import orjson

from modelyard.error_contract import ErrorAnswer, Kind, answer_for

# OpenAI's own type words: 4xx request problems are all `invalid_request_error` there, the code says which.
_OPENAI_TYPES = {
    Kind.INVALID_REQUEST: "invalid_request_error",
    Kind.TOO_LARGE: "invalid_request_error",
    Kind.AUTHENTICATION: "authentication_error",
    Kind.PERMISSION: "permission_error",
    Kind.NOT_FOUND: "invalid_request_error",
    Kind.CONFLICT: "invalid_request_error",
    Kind.QUOTA: "insufficient_quota",
    Kind.RATE_LIMITED: "rate_limit_error",
    Kind.LIMITED: "rate_limit_error",
    Kind.UPSTREAM_REFUSED: "invalid_request_error",
    Kind.UPSTREAM: "upstream_error",
    Kind.SERVER: "server_error",
}


def openai_error(answer: ErrorAnswer) -> bytes:
    """The JSON body, also what a stream sends as its error event."""
    kind = _OPENAI_TYPES[answer.kind]
    return plain_error(answer.status, answer.message, type=kind, code=answer.code, param=answer.field)


def error_body(error: BaseException) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, OpenAI-shaped JSON body and extra headers for an error the gateway answers with."""
    answer = answer_for(error)
    return answer.status, openai_error(answer), encoded_headers(answer)


def encoded_headers(answer: ErrorAnswer) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in answer.headers]


def plain_error(status: int, message: str, *, type: str, code: str | None = None, param: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type, "param": param, "code": code}})
