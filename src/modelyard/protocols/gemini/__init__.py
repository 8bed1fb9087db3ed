"""Google's generateContent family: the Gemini API and Vertex AI (shared/providers-a.md §3, §4)."""

from modelyard.protocols.gemini.protocol import Gemini
from modelyard.protocols.gemini.requests import GeminiQuirks

__all__ = ["Gemini", "GeminiQuirks"]
