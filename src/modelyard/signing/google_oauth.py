"""Google OAuth2 for Vertex AI: an access token sent as `Authorization: Bearer`, from one of two sources.

`service_account` (the default): the service-account key pasted into the form, as a signed JWT assertion traded
for the token (google_jwt.py, the flow google-auth's `service_account.Credentials` follows). `adc`: this
machine's Application Default Credentials (google_adc.py), which the operator must allow (machine_identity.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson
from msgspec.structs import replace

from modelyard.catalog.spec import Spec
from modelyard.errors import CredentialValidationError, UpstreamProtocolError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing import google_adc
from modelyard.signing.base import AccessToken, TokenExchange, TokenScheme, credential
from modelyard.signing.google_jwt import GRANT_TYPE, LIFETIME_S, TOKEN_AUDIENCE, assertion

_FORM_HEADERS: Mapping[str, str] = {"Content-Type": "application/x-www-form-urlencoded"}
AUTH_METHODS = ("service_account", "adc")


class GoogleOAuthParams(Spec):
    credential: str  # the credential variable that holds the whole service-account JSON key
    scopes: tuple[str, ...] = ("https://www.googleapis.com/auth/cloud-platform",)
    # The credential choosing service_account (the default, also when absent or empty) or adc; None: keys only.
    auth_method_credential: str | None = None


class GoogleOAuth(TokenScheme):
    name = "google_oauth"
    params_model = GoogleOAuthParams

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = environ  # ADC's environment: os.environ, read at each exchange, when None

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, GoogleOAuthParams)
        return frozenset(name for name in (params.credential, params.auth_method_credential) if name)

    def uses_adc(self, params: GoogleOAuthParams, credentials: Mapping[str, str]) -> bool:
        if params.auth_method_credential is None:
            return False
        chosen = credentials.get(params.auth_method_credential) or "service_account"
        if chosen not in AUTH_METHODS:
            raise CredentialValidationError(
                f"{params.auth_method_credential} must be one of: {', '.join(AUTH_METHODS)}",
                field=params.auth_method_credential,
            )
        return chosen == "adc"

    def machine_identity_field(self, params: Spec, credentials: Mapping[str, str]) -> str | None:
        assert isinstance(params, GoogleOAuthParams)
        return params.auth_method_credential if self.uses_adc(params, credentials) else None

    def exchange(self, params: Spec, credentials: Mapping[str, str], now: float) -> TokenExchange:
        assert isinstance(params, GoogleOAuthParams)
        if self.uses_adc(params, credentials):
            return google_adc.resolve(params.scopes, os.environ if self.environ is None else self.environ, now)
        return super().exchange(params, credentials, now)

    def token_request(self, params: Spec, credentials: Mapping[str, str], now: float) -> UpstreamRequest:
        assert isinstance(params, GoogleOAuthParams)
        key = service_account(credentials, params.credential)
        form = urlencode({"grant_type": GRANT_TYPE, "assertion": assertion(key, params.scopes, now)})
        return UpstreamRequest("POST", key["token_uri"], _FORM_HEADERS, form.encode())

    def parse_token(self, params: Spec, body: bytes, now: float) -> AccessToken:
        try:
            data = orjson.loads(body)
            return AccessToken(str(data["access_token"]), now + float(data.get("expires_in") or LIFETIME_S))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise UpstreamProtocolError(
                "the token endpoint answered without an access token", provider=self.name
            ) from exc

    def sign_with_token(
        self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest, token: str
    ) -> UpstreamRequest:
        return replace(request, headers={**request.headers, "Authorization": f"Bearer {token}"})


def service_account(credentials: Mapping[str, str], variable: str) -> dict[str, Any]:
    """The service-account key's fields we use; a key that cannot be read names the field, never its content."""
    raw = credential(credentials, variable)
    assert raw is not None  # not optional: `credential` raised otherwise
    try:
        info = orjson.loads(raw)
    except orjson.JSONDecodeError:
        info = None
    if not isinstance(info, dict) or info.get("type", "service_account") != "service_account":
        raise CredentialValidationError(f"{variable} must be a service-account key in JSON", field=variable)
    missing = [name for name in ("client_email", "private_key") if not isinstance(info.get(name), str)]
    if missing:
        raise CredentialValidationError(f"{variable} lacks {', '.join(missing)}", field=variable)
    return {
        "client_email": info["client_email"],
        "private_key": info["private_key"],
        "private_key_id": info.get("private_key_id") or None,
        "token_uri": info.get("token_uri") or TOKEN_AUDIENCE,
        "variable": variable,
    }
