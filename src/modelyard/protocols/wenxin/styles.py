"""The two API styles one Wenxin credential can choose, and where each one lives.

`api_style` picks the wire: `v2` is Qianfan's OpenAI-shaped API (bearer API key) and `legacy` the Wenxin
workshop API (per-model paths, AK/SK traded for an access token). `endpoint_url` replaces Baidu's host for
either style (a proxy, or a test's fake); the signing scheme reads the same two values, so both agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from modelyard.catalog.spec import Spec

Style = Literal["v2", "legacy"]

V2_HOST = "https://qianfan.baidubce.com"
LEGACY_HOST = "https://aip.baidubce.com"  # the qianfan SDK's default QIANFAN_BASE_URL (0.4.12.3)
V2_PREFIX = "/v2"
LEGACY_PREFIX = "/rpc/2.0/ai_custom/v1/wenxinworkshop"
TOKEN_PATH = "/oauth/2.0/token"


class WenxinQuirks(Spec):
    """What a Wenxin provider file may set under `quirks:`."""

    style_credential: str = "api_style"
    endpoint_credential: str = "endpoint_url"
    # Legacy API: the path under .../wenxinworkshop/ that serves each model, e.g. `chat/completions_pro`.
    # A model without one is served only by the v2 API.
    legacy_endpoints: dict[str, str] = Field(default_factory=dict)
    # v2 API: the name v2 knows a model by, where it differs from the catalog id.
    v2_models: dict[str, str] = Field(default_factory=dict)
    # v2: the model takes only a conversation whose last message is the user's (a per-model quirk: ERNIE 4.5 and
    # X1 Turbo refuse a tool result last, Baidu's text-generation API page).
    last_message_user: bool = False


def style_of(credentials: Mapping[str, str], variable: str = "api_style") -> Style:
    return "legacy" if credentials.get(variable) == "legacy" else "v2"


def host_of(credentials: Mapping[str, str], style: Style, *, variable: str = "endpoint_url") -> str:
    """The host a style's calls go to: the credential's override, else Baidu's own."""
    override = credentials.get(variable)
    return (override or (LEGACY_HOST if style == "legacy" else V2_HOST)).rstrip("/")
