"""Vertex AI: Gemini's generateContent, and the partner models Google serves beside it (Claude, Mistral)."""

from modelyard.protocols.vertex.protocol import Vertex

__all__ = ["Vertex"]
