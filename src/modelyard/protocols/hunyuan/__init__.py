"""Tencent Hunyuan: the native Tencent Cloud API 3.0 (ChatCompletions, GetEmbedding) and the OpenAI-compatible API."""

from modelyard.protocols.hunyuan.protocol import Hunyuan

__all__ = ["Hunyuan"]
