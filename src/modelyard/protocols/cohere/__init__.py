"""The Cohere v2 wire family (/v2/chat, /v2/embed, /v2/rerank)."""

from modelyard.protocols.cohere.protocol import Cohere

__all__ = ["Cohere"]
