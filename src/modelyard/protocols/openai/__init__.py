"""The OpenAI wire family: OpenAI itself, Azure OpenAI, and every OpenAI-compatible server."""

from modelyard.protocols.openai.protocol import OpenAI
from modelyard.protocols.openai.requests import OpenAIQuirks

__all__ = ["OpenAI", "OpenAIQuirks"]
