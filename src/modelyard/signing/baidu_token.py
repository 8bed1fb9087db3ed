"""Baidu's access token for the legacy Wenxin API, and the bearer key of Qianfan v2, behind one scheme.

legacy: the application's API Key and Secret Key are traded at `{host}/oauth/2.0/token` (client credentials,
sent as query parameters, as the qianfan SDK 0.4.12.3 sends them) for an access token of 30 days, which every
call carries as its `access_token` query parameter.

v2: the API key is itself the bearer token; `needs_token` says so, and the runtime signs with `sign`, no exchange.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

import orjson

from modelyard.catalog.spec import Spec
from modelyard.errors import UpstreamAuthError, UpstreamProtocolError, UpstreamUnavailableError
from modelyard.protocols.base import UpstreamRequest
from modelyard.protocols.wenxin.styles import TOKEN_PATH, host_of, style_of
from modelyard.signing.base import AccessToken, TokenScheme, credential

# Baidu's tokens last 30 days; we keep one a day at most: the runtime drops a refused token only on HTTP 401, and
# Baidu reports one (error 110/111) inside an HTTP 200, so a shorter life bounds how long such a token fails calls.
MAX_LIFETIME_S = 86_400.0


class BaiduTokenParams(Spec):
    api_key: str = "api_key"  # legacy: the application's API Key (client_id); v2: the bearer API key
    secret_key: str = "secret_key"  # legacy only: the Secret Key (client_secret)
    style: str = "api_style"  # the credential that picks `v2` or `legacy`
    endpoint: str = "endpoint_url"  # the credential that replaces Baidu's host, when set


class BaiduAccessToken(TokenScheme):
    name = "baidu_access_token"
    params_model = BaiduTokenParams

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, BaiduTokenParams)
        return frozenset({params.api_key, params.secret_key, params.style, params.endpoint})

    def needs_token(self, params: Spec, credentials: Mapping[str, str]) -> bool:
        assert isinstance(params, BaiduTokenParams)
        return style_of(credentials, params.style) != "v2"

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        """v2: the API key is the bearer."""
        assert isinstance(params, BaiduTokenParams)
        api_key = credential(credentials, params.api_key)
        return UpstreamRequest(
            request.method, request.url, {**request.headers, "Authorization": f"Bearer {api_key}"}, request.body
        )

    def token_request(self, params: Spec, credentials: Mapping[str, str], now: float) -> UpstreamRequest:
        assert isinstance(params, BaiduTokenParams)
        style = style_of(credentials, params.style)
        host = host_of(credentials, style, variable=params.endpoint)
        api_key = credential(credentials, params.api_key)
        secret_key = credential(credentials, params.secret_key)
        query = urlencode({"grant_type": "client_credentials", "client_id": api_key, "client_secret": secret_key})
        return UpstreamRequest("POST", f"{host}{TOKEN_PATH}?{query}", {})

    def parse_token(self, params: Spec, body: bytes, now: float) -> AccessToken:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamProtocolError("the token endpoint answered with no JSON", provider=self.name) from exc
        if not isinstance(data, dict):
            raise UpstreamProtocolError("the token endpoint answered with no JSON object", provider=self.name)
        if "access_token" in data:
            lifetime = _seconds(data.get("expires_in"))
            return AccessToken(str(data["access_token"]), now + min(lifetime, MAX_LIFETIME_S))
        error = data.get("error")
        if error == "invalid_client":  # `unknown client id`: a wrong API Key; `Client authentication failed`: SK
            detail = str(data.get("error_description") or error)
            raise UpstreamAuthError(
                f"the API Key or Secret Key was refused: {detail}", provider=self.name, vendor_code=str(error)
            )
        if error:
            detail = str(data.get("error_description") or error)
            raise UpstreamUnavailableError(f"no access token: {detail}", provider=self.name, vendor_code=str(error))
        raise UpstreamProtocolError("the token endpoint answered without a token", provider=self.name)

    def sign_with_token(
        self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest, token: str
    ) -> UpstreamRequest:
        separator = "&" if urlsplit(request.url).query else "?"
        url = f"{request.url}{separator}{urlencode({'access_token': token})}"
        return UpstreamRequest(request.method, url, request.headers, request.body)


def _seconds(value: object) -> float:
    try:
        return float(value) if value is not None else MAX_LIFETIME_S  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return MAX_LIFETIME_S
