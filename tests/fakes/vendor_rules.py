"""What real OpenAI-compatible vendors refuse on their chat route, so the fake refuses it too, the vendor's way.

A fake that accepts what the vendor refuses lets a test pass for a request production would fail (the capability
matrix once said Mistral streaming worked while api.mistral.ai answered 422 to it). The vendor is told by the model
id the request names; each rule cites where its status and body come from. Unverified wordings are marked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Refusal = tuple[int, dict[str, Any]]

# --- Mistral: a pydantic schema that forbids extra fields (422 extra_forbidden) -------------------------------------
# Top-level fields of ChatCompletionRequest (mistralai client-python, models/chatcompletionstreamrequest.py), plus
# reasoning_effort (reasoning models, docs.mistral.ai 2026-11).
_MISTRAL_FIELDS = frozenset(
    {"model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop", "random_seed", "metadata"}
    | {"response_format", "tools", "tool_choice", "presence_penalty", "frequency_penalty", "n", "prediction"}
    | {"parallel_tool_calls", "prompt_mode", "safe_prompt", "reasoning_effort"}
)
_MISTRAL_MESSAGE_FIELDS: Mapping[str, frozenset[str]] = {
    "system": frozenset({"role", "content"}),
    "user": frozenset({"role", "content"}),
    "assistant": frozenset({"role", "content", "tool_calls", "prefix"}),
    "tool": frozenset({"role", "content", "tool_call_id", "name"}),
}
MISTRAL_MODELS = frozenset(
    {"mistral-medium-latest", "mistral-large-latest", "mistral-small-latest", "magistral-medium-latest"}
    | {"magistral-small-latest", "codestral-latest", "ministral-14b-latest", "ministral-8b-latest"}
    | {"ministral-3b-latest", "mistral-embed", "codestral-embed", "voxtral-mini-latest"}
)


def _mistral(body: Mapping[str, Any]) -> Refusal | None:
    """The body api.mistral.ai sends for an extra field (as quoted in 422 reports, 2024-01 to 2025-12)."""
    for key in body:
        if key not in _MISTRAL_FIELDS:
            return _extra_forbidden(["body", key], body[key])
    for index, message in enumerate(body.get("messages") or ()):
        allowed = _MISTRAL_MESSAGE_FIELDS.get(message.get("role"), frozenset())
        for key in message:
            if key not in allowed:
                return _extra_forbidden(["body", "messages", index, message.get("role"), key], message[key])
    return None


def _extra_forbidden(loc: list[Any], value: Any) -> Refusal:
    detail = {"type": "extra_forbidden", "loc": loc, "msg": "Extra inputs are not permitted", "input": value}
    return 422, {
        "object": "error",
        "message": {"detail": [detail]},
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


# --- Moonshot thinking models ----------------------------------------------------------------------------------------
# Sampling fixed (platform.kimi.ai/docs/api/models-overview, 2026-09); the temperature message is the vendor's as
# quoted in many reports, the top_p / penalty ones follow its pattern (unverified wording). tool_choice and
# reasoning_content messages: the vendor's, as quoted in reports 2026-02 to 2026-08.
MOONSHOT_THINKING = frozenset({"kimi-k3", "kimi-k2.7-code", "kimi-k2.7-code-highspeed", "kimi-k2.6", "kimi-k2.5"})
_MOONSHOT_FIXED = {"temperature": 1, "top_p": 0.95, "presence_penalty": 0, "frequency_penalty": 0}


def _moonshot(body: Mapping[str, Any]) -> Refusal | None:
    if (body.get("thinking") or {}).get("type") == "disabled":
        return None
    for name, fixed in _MOONSHOT_FIXED.items():
        if name in body and body[name] != fixed:
            return _openai_error(400, f"invalid {name}: only {fixed} is allowed for this model")
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        return _openai_error(400, "tool_choice 'specified' is incompatible with thinking enabled")
    if choice == "required" and body.get("model") != "kimi-k3":
        return _openai_error(400, "tool_choice 'required' is incompatible with thinking enabled")
    for index, message in enumerate(body.get("messages") or ()):
        if message.get("role") == "assistant" and message.get("tool_calls") and "reasoning_content" not in message:
            return _openai_error(
                400,
                f"thinking is enabled but reasoning_content is missing in assistant tool call message at index {index}",
            )
    return None


# --- Qianfan v2: ERNIE 4.5 and X1 Turbo take a conversation that ends with the user ---------------------------------
# cloud.baidu.com/doc/qianfan-api/s/3m7of64lb (read 2026-12); the error body's code and wording are unverified.
QIANFAN_USER_LAST = frozenset(
    {"ernie-4.5-turbo-128k", "ernie-4.5-turbo-32k", "ernie-4.5-turbo-vl-32k", "ernie-4.5-8k-preview"}
    | {"ernie-x1-turbo-32k"}
)


def _qianfan(body: Mapping[str, Any]) -> Refusal | None:
    messages = body.get("messages") or ()
    if messages and messages[-1].get("role") != "user":
        return 400, {
            "error": {
                "code": "invalid_argument",
                "message": "the role of the last message must be user",
                "type": "invalid_request_error",
            }
        }
    return None


def _openai_error(status: int, message: str) -> Refusal:
    return status, {"error": {"message": message, "type": "invalid_request_error"}}


_RULES: list[tuple[frozenset[str], Callable[[Mapping[str, Any]], Refusal | None]]] = [
    (MISTRAL_MODELS, _mistral),
    (MOONSHOT_THINKING, _moonshot),
    (QIANFAN_USER_LAST, _qianfan),
]


def chat_refusal(body: Any) -> Refusal | None:
    """The vendor's status and error body for a chat request it refuses, or None when it would answer."""
    if not isinstance(body, Mapping):
        return None
    model = body.get("model")
    for models, rule in _RULES:
        if model in models:
            return rule(body)
    return None
