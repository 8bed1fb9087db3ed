"""The signed JWT a Google service-account key trades for an access token (google-auth's `service_account`).

An RS256 JWT with iss/scope/aud/iat/exp, POSTed form-encoded to the key's `token_uri` with grant type jwt-bearer
(google-auth 2.63, checked against it in tests/signing/test_google_oauth.py). Shared by the `google_oauth` scheme
(a key pasted into the form) and Application Default Credentials (a key file on this machine).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from modelyard.errors import CredentialValidationError

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth puts this audience in every assertion, whatever the key's token_uri says (service_account.py).
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
LIFETIME_S = 3600  # the longest Google accepts, and google-auth's default


def assertion(key: Mapping[str, Any], scopes: tuple[str, ...], now: float) -> str:
    """The signed JWT: RS256 over the header and claims google-auth builds for the same key and time.

    `key` holds client_email, private_key, private_key_id (or None), and `variable`: where the key came from, for
    error messages that name it without quoting it."""
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
