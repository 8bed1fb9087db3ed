"""Wire-neutral values every protocol translates to and from."""

from modelyard.types.audio import SpeechRequest, SpeechStream, TranscriptionRequest, TranscriptionResult
from modelyard.types.chat import (
    AudioPart,
    ChatChunk,
    ChatRequest,
    ChatResult,
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    ParameterAdjustment,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
)
from modelyard.types.embeddings import EmbeddingRequest, EmbeddingResult
from modelyard.types.model_type import ModelType
from modelyard.types.moderation import ModerationRequest, ModerationResult, ModerationVerdict
from modelyard.types.rerank import RerankHit, RerankRequest, RerankResult
from modelyard.types.usage import Usage

__all__ = [
    "AudioPart",
    "ChatChunk",
    "ChatRequest",
    "ChatResult",
    "ContentPart",
    "DocumentPart",
    "EmbeddingRequest",
    "EmbeddingResult",
    "ImagePart",
    "Message",
    "ModelType",
    "ModerationRequest",
    "ModerationResult",
    "ModerationVerdict",
    "ParameterAdjustment",
    "RerankHit",
    "RerankRequest",
    "RerankResult",
    "ResponseFormat",
    "SpeechRequest",
    "SpeechStream",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "TranscriptionRequest",
    "TranscriptionResult",
    "Usage",
]
