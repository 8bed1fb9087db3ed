"""Baidu Wenxin (ERNIE) on Qianfan: the v2 OpenAI-shaped API, and the legacy per-model API with an access token."""

from modelyard.protocols.wenxin.protocol import Wenxin
from modelyard.protocols.wenxin.styles import WenxinQuirks

__all__ = ["Wenxin", "WenxinQuirks"]
