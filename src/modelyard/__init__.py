"""modelyard: configure AI model providers once, call every model through one API.

`__all__` is the library's public surface; README.md's library section documents exactly these names
(tests/test_exported_members.py holds the two to each other).

The names are imported on first use (PEP 562), not here: every `modelyard.*` import runs this file first, and
importing the runtime for a CLI command or a settings read would cost a third of a second each time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard._version import __version__
    from modelyard.errors import (
        ContentFilteredError,
        ContextLengthExceededError,
        CredentialValidationError,
        InvalidRequestError,
        ModelNotFoundError,
        ModelyardError,
        ProviderQuotaExhaustedError,
        UnsupportedFeatureError,
        UpstreamAuthError,
        UpstreamBadRequestError,
        UpstreamConnectionError,
        UpstreamError,
        UpstreamProtocolError,
        UpstreamRateLimitError,
        UpstreamTimeoutError,
        UpstreamUnavailableError,
    )
    from modelyard.runtime import ChatStream, Runtime, Timeouts
    from modelyard.runtime.sync import SyncRuntime
    from modelyard.types import (
        ChatChunk,
        ChatRequest,
        ChatResult,
        EmbeddingResult,
        Message,
        ModerationResult,
        ParameterAdjustment,
        RerankResult,
        SpeechStream,
        Tool,
        ToolCallDelta,
        TranscriptionResult,
    )

__all__ = [
    "ChatChunk",
    "ChatRequest",
    "ChatResult",
    "ChatStream",
    "ContentFilteredError",
    "ContextLengthExceededError",
    "CredentialValidationError",
    "EmbeddingResult",
    "InvalidRequestError",
    "Message",
    "ModelNotFoundError",
    "ModelyardError",
    "ModerationResult",
    "ParameterAdjustment",
    "ProviderQuotaExhaustedError",
    "RerankResult",
    "Runtime",
    "SpeechStream",
    "SyncRuntime",
    "Timeouts",
    "Tool",
    "ToolCallDelta",
    "TranscriptionResult",
    "UnsupportedFeatureError",
    "UpstreamAuthError",
    "UpstreamBadRequestError",
    "UpstreamConnectionError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamRateLimitError",
    "UpstreamTimeoutError",
    "UpstreamUnavailableError",
    "__version__",
]

_HOME = {  # where each exported name is defined; __getattr__ imports it from there on first use
    "__version__": "modelyard._version",  # read from the installed metadata: ~10 ms, only when asked
    **dict.fromkeys(
        [
            "ContentFilteredError",
            "ContextLengthExceededError",
            "CredentialValidationError",
            "InvalidRequestError",
            "ModelNotFoundError",
            "ModelyardError",
            "ProviderQuotaExhaustedError",
            "UnsupportedFeatureError",
            "UpstreamAuthError",
            "UpstreamBadRequestError",
            "UpstreamConnectionError",
            "UpstreamError",
            "UpstreamProtocolError",
            "UpstreamRateLimitError",
            "UpstreamTimeoutError",
            "UpstreamUnavailableError",
        ],
        "modelyard.errors",
    ),
    **dict.fromkeys(["ChatStream", "Runtime", "Timeouts"], "modelyard.runtime"),
    "SyncRuntime": "modelyard.runtime.sync",
    **dict.fromkeys(
        [
            "ChatChunk",
            "ChatRequest",
            "ChatResult",
            "EmbeddingResult",
            "Message",
            "ModerationResult",
            "ParameterAdjustment",
            "RerankResult",
            "SpeechStream",
            "Tool",
            "ToolCallDelta",
            "TranscriptionResult",
        ],
        "modelyard.types",
    ),
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'modelyard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute: later reads skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
