"""/openapi.json: FastAPI's document for the console, its errors as they really are, and the gateway's paths."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from modelyard.gateway.openapi import merge_into

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": ["string", "null"]},
                "field": {"type": ["string", "null"], "description": "The offending field, e.g. values.api_key"},
            },
            "required": ["message", "type", "code", "field"],
        }
    },
    "required": ["error"],
}
_ERRORS = {
    "400": "Bad input; `field` names the offending field",
    "401": "Not signed in",
    "403": "The role is too low, or the CSRF header is missing",
    "404": "Unknown, or a workspace the caller is not a member of",
    "409": "Conflicts with what is stored",
    "413": "The body is larger than 1 MB",
}


def build_document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ConsoleError"] = _ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shapes, which the console never sends
        schemas.pop(name, None)
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ConsoleError"}}}
    for path, operations in document.get("paths", {}).items():
        if not path.startswith("/console/api/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, text in _ERRORS.items():
                responses.setdefault(status, {"description": text, "content": content})
    return merge_into(document)
