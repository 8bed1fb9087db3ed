"""OpenAI's Responses API (`/v1/responses`): as an upstream chat protocol beside Chat Completions, and as the
gateway's ingress shape (`ingress.py` reads what a client sent, `egress.py` writes the answer and its events)."""

from modelyard.protocols.openai_responses.protocol import OpenAIResponses
from modelyard.protocols.openai_responses.requests import ResponsesQuirks

__all__ = ["OpenAIResponses", "ResponsesQuirks"]
