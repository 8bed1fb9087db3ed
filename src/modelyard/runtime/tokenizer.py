"""Token counts for providers that report no usage, from the o200k_base encoding shipped in the package.

The rank file (OpenAI's o200k_base, checked against tiktoken's published SHA-256) lies in `data/`, so
nothing is downloaded at run time. Counts for non-OpenAI models are estimates, and usage says so.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
from pathlib import Path
from typing import Any

from modelyard.types import ChatRequest, Message, TextPart

_RANKS = Path(__file__).parent / "data" / "o200k_base.tiktoken.gz"
_RANKS_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
# The o200k_base split pattern and special tokens, as tiktoken defines the encoding.
_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_SPECIAL_TOKENS = {"<|endoftext|>": 199999, "<|endofprompt|>": 200018}
PER_MESSAGE = 3  # role and separators, as OpenAI's chat format counts them
PER_IMAGE = 85  # a low-detail image; a guess for others, good enough for an estimate


@functools.cache
def encoding() -> Any:
    """The encoding, loaded on first use (≈ 0.3 s) and kept for the process."""
    import tiktoken  # here: most providers report usage, so many processes never need the tokenizer

    raw = gzip.decompress(_RANKS.read_bytes())
    if hashlib.sha256(raw).hexdigest() != _RANKS_SHA256:
        raise RuntimeError(f"{_RANKS} is corrupt: its SHA-256 does not match o200k_base")
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in raw.splitlines() if line)}
    return tiktoken.Encoding("o200k_base", pat_str=_PATTERN, mergeable_ranks=ranks, special_tokens=_SPECIAL_TOKENS)


def count_text(text: str) -> int:
    if not text:
        return 0
    return len(encoding().encode(text, disallowed_special=()))


def count_messages(messages: tuple[Message, ...]) -> int:
    total = 3  # every reply is primed with the assistant role
    for message in messages:
        total += PER_MESSAGE + count_text(message.text)
        if not isinstance(message.content, str):
            total += PER_IMAGE * sum(not isinstance(part, TextPart) for part in message.content)
        for call in message.tool_calls:
            total += count_text(call.name) + count_text(call.arguments)
    return total


def count_prompt(request: ChatRequest) -> int:
    total = count_messages(request.messages)
    for tool in request.tools:
        total += count_text(tool.name) + count_text(tool.description) + count_text(str(dict(tool.parameters)))
    return total
