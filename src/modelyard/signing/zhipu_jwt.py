"""Zhipu AI (BigModel v4): the API key `id.secret` sent as is, or as a short-lived HS256 JWT made from it.

The JWT follows the vendor SDK (`zhipuai.core._jwt_token`, 2.1.5), and tests hold it to that code byte for byte:
header `{"alg":"HS256","sign_type":"SIGN","typ":"JWT"}`, payload `api_key`, `exp` and `timestamp` in
MILLISECONDS, signed with the secret. With a JWT the secret itself never leaves the process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping

from modelyard.catalog.spec import Spec
from modelyard.errors import CredentialValidationError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing.base import SigningScheme, credential

# The SDK's figures: a token lives 210 s and is reused for 180 s, so none is sent with under 30 s left.
TOKEN_TTL_S = 210
REUSE_FOR_S = 180
_CACHE_LIMIT = 1024
_HEADER = b'{"alg":"HS256","sign_type":"SIGN","typ":"JWT"}'  # PyJWT's order: keys sorted, no spaces


class ZhipuJWTParams(Spec):
    """A provider file's `signing:` block: the key's credential, and the select that picks how it is sent."""

    credential: str = "api_key"
    mode_credential: str = "auth_method"  # "api_key" (the SDK's default) or "jwt"


class ZhipuJWT(SigningScheme):
    name = "zhipu_jwt"
    params_model = ZhipuJWTParams

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock  # injectable so tests can pin the timestamp
        self._tokens: dict[str, tuple[str, float]] = {}  # key fingerprint -> (token, reuse until, epoch s)

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, ZhipuJWTParams)
        return frozenset({params.credential, params.mode_credential})

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        assert isinstance(params, ZhipuJWTParams)
        key = credential(credentials, params.credential) or ""
        mode = credentials.get(params.mode_credential) or "api_key"
        if mode not in ("api_key", "jwt"):
            raise CredentialValidationError(
                f"{params.mode_credential}: unknown value {mode!r}", field=params.mode_credential
            )
        token = self.token(key) if mode == "jwt" else key
        headers = {**request.headers, "Authorization": f"Bearer {token}"}
        return UpstreamRequest(request.method, request.url, headers, request.body)

    def token(self, api_key: str) -> str:
        """A JWT for the key, reused until shortly before it expires."""
        now = self.clock()
        fingerprint = hashlib.sha256(api_key.encode()).hexdigest()
        cached = self._tokens.get(fingerprint)
        if cached is not None and cached[1] > now:
            return cached[0]
        token = encode_token(api_key, now_ms=round(now * 1000))
        if len(self._tokens) >= _CACHE_LIMIT:
            self._tokens.clear()
        self._tokens[fingerprint] = (token, now + REUSE_FOR_S)
        return token


def encode_token(api_key: str, *, now_ms: int, ttl_s: int = TOKEN_TTL_S) -> str:
    key_id, dot, secret = api_key.partition(".")
    if not dot or not key_id or not secret or "." in secret:
        raise CredentialValidationError("a Zhipu API key has the form <id>.<secret>", field="api_key")
    # json, not orjson: PyJWT escapes non-ASCII (ensure_ascii), and the bytes must be the SDK's.
    claims = {"api_key": key_id, "exp": now_ms + ttl_s * 1000, "timestamp": now_ms}
    payload = json.dumps(claims, separators=(",", ":")).encode()
    signing_input = _b64(_HEADER) + b"." + _b64(payload)
    signature = hmac.digest(secret.encode(), signing_input, "sha256")
    return (signing_input + b"." + _b64(signature)).decode()


def _b64(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")
