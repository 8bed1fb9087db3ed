"""The OpenAI-wire bodies the fake upstreams answer with and the bodies the load generator posts."""

from __future__ import annotations

import json
from typing import Any

CREATED = 1764300000  # fixed: the fake's answers never change, so nginx can serve them as constants
# A model LiteLLM knows: for an unknown one its per-call cost lookup searches the whole price map (≈ 10 ms),
# which would measure a misconfiguration rather than LiteLLM.
FAKE_MODEL = "gpt-4o-mini"
ANSWER_WORDS = ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]


def chat_completion() -> dict[str, Any]:
    message = {"role": "assistant", "content": "".join(ANSWER_WORDS), "refusal": None}
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": CREATED,
        "model": FAKE_MODEL,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        "system_fingerprint": "fp_bench",
    }


def _chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": FAKE_MODEL,
        "system_fingerprint": "fp_bench",
        "choices": [choice],
    }


def chat_chunks(count: int) -> list[dict[str, Any]]:
    """`count` chunks as OpenAI streams them with include_usage: content deltas, a finish, then usage alone."""
    if count < 3:
        raise ValueError("a stream needs at least 3 chunks: content, finish and usage")
    contents = count - 2
    words = [ANSWER_WORDS[i % len(ANSWER_WORDS)] for i in range(contents)]
    chunks = [_chunk({"role": "assistant", "content": words[0]})]
    chunks += [_chunk({"content": word}) for word in words[1:]]
    chunks.append(_chunk({}, finish_reason="stop"))
    usage = _chunk({})
    usage["choices"] = []
    usage["usage"] = {"prompt_tokens": 12, "completion_tokens": contents, "total_tokens": 12 + contents}
    chunks.append(usage)
    return chunks


def sse_event(payload: dict[str, Any]) -> str:
    return f"data: {compact(payload)}\n\n"


def sse_body(count: int) -> str:
    return "".join(sse_event(chunk) for chunk in chat_chunks(count)) + "data: [DONE]\n\n"


def embeddings(dimensions: int = 8) -> dict[str, Any]:
    vector = [round(0.001 * (i + 1), 6) for i in range(dimensions)]
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": vector}],
        "model": "bench-embed",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }


def chat_request(model: str, *, stream: bool) -> dict[str, Any]:
    """What every target is sent: a short chat, as an OpenAI SDK would post it."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say hello in one short sentence."},
        ],
        "max_tokens": 32,
        "temperature": 0.2,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def compact(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))
