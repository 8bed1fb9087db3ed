"""modelyard: configure AI model providers once, call every model through one API.

`__all__` is the library's public surface; README.md's library section documents exactly these names
(tests/test_exported_members.py holds the two to each other).
"""

from modelyard._version import __version__
from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
    CredentialValidationError,
    ModelyardError,
    ProviderQuotaExhaustedError,
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
    "Message",
    "ModelyardError",
    "ModerationResult",
    "ProviderQuotaExhaustedError",
    "RerankResult",
    "Runtime",
    "SpeechStream",
    "SyncRuntime",
    "Timeouts",
    "Tool",
    "ToolCallDelta",
    "TranscriptionResult",
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
