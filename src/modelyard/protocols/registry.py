"""Every wire protocol, by the name provider files use in `protocol:`.

A protocol registers itself when its module is imported (WireProtocol.__init_subclass__); a new wire family adds
its module to `FAMILIES`, and that line is all it changes outside its own files.
"""

from __future__ import annotations

from importlib import import_module

from modelyard.protocols.base import REGISTERED, WireProtocol

FAMILIES = (
    "openai",
    "openai_responses",
    "anthropic",
    "cohere",
    "dashscope",
    "jina",
    "minimax",
    "nvidia",
    "gemini",
    "vertex",
    "ollama",
    "xinference",
    "huggingface",
    "tei",
    "replicate",
    "triton",
    "volcengine_maas",
    "bedrock",
    "sagemaker",
    "spark",
    "zhipu",
    "baichuan",
    "hunyuan",
    "tencent_asr",
    "wenxin",
)

for _family in FAMILIES:
    import_module(f"modelyard.protocols.{_family}")

PROTOCOLS: dict[str, WireProtocol] = REGISTERED

__all__ = ["FAMILIES", "PROTOCOLS", "WireProtocol"]
