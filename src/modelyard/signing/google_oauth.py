"""Google service-account OAuth2: a signed JWT assertion traded for a bearer access token (Vertex AI).

The flow google-auth's `service_account.Credentials` follows (google-auth 2.63, checked against it in
tests/signing/test_google_oauth.py): an RS256 JWT with iss/scope/aud/iat/exp, POSTed form-encoded to the key's
`token_uri` with grant type jwt-bearer; the answer's `access_token` is then sent as `Authorization: Bearer`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from modelyard.catalog.spec import Spec
from modelyard.errors import CredentialValidationError, UpstreamProtocolError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing.base import AccessToken, TokenScheme, credential

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth puts this audience in every assertion, whatever the key's token_uri says (service_account.py).
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
LIFETIME_S = 3600  # the longest Google accepts, and google-auth's default
_FORM_HEADERS: Mapping[str, str] = {"Content-Type": "application/x-www-form-urlencoded"}


class GoogleOAuthParams(Spec):
    credential: str  # the credential variable that holds the whole service-account JSON key
    scopes: tuple[str, ...] = ("https://www.googleapis.com/auth/cloud-platform",)


class GoogleOAuth(TokenScheme):
    name = "google_oauth"
    params_model = GoogleOAuthParams

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, GoogleOAuthParams)
        return frozenset({params.credential})

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
        return UpstreamRequest(
            request.method, request.url, {**request.headers, "Authorization": f"Bearer {token}"}, request.body
        )


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


def assertion(key: Mapping[str, Any], scopes: tuple[str, ...], now: float) -> str:
    """The signed JWT: RS256 over the header and claims google-auth builds for the same key and time."""
    header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
    if key["private_key_id"]:
        header["kid"] = key["private_key_id"]
    issued_at = int(now)
    claims = {
        "iat": issued_at,
        "exp": issued_at + LIFETIME_S,
        "iss": key["client_email"],
        "aud": TOKEN_AUDIENCE,
        "scope": " ".join(scopes),
    }
    signing_input = f"{_b64(orjson.dumps(header))}.{_b64(orjson.dumps(claims))}"
    signature = _private_key(key).sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _private_key(key: Mapping[str, Any]) -> rsa.RSAPrivateKey:
    variable = key["variable"]
    try:
        private_key = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise CredentialValidationError(f"{variable} holds an unreadable private key", field=variable) from exc
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise CredentialValidationError(f"{variable} holds a private key that is not RSA", field=variable)
    return private_key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
