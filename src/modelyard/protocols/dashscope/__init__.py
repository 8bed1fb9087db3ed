"""Alibaba DashScope (Model Studio / 百炼): the native /api/v1/services API, or its OpenAI-compatible mode."""

from modelyard.protocols.dashscope.protocol import DashScope

__all__ = ["DashScope"]
