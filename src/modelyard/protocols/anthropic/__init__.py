"""The Anthropic Messages wire family: Anthropic itself, and servers that speak its API."""

from modelyard.protocols.anthropic.protocol import Anthropic
from modelyard.protocols.anthropic.requests import AnthropicQuirks
from modelyard.protocols.anthropic.thinking import ReasoningBlock, SignedChunk, SignedMessage, SignedResult

__all__ = ["Anthropic", "AnthropicQuirks", "ReasoningBlock", "SignedChunk", "SignedMessage", "SignedResult"]
