"""Google service-account OAuth2 held to google-auth's own signer, on a fixed key and a frozen clock."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import orjson
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth import _helpers as google_auth_clock
from google.auth import transport
from google.oauth2 import service_account

from modelyard.errors import CredentialValidationError, UpstreamAuthError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing import SIGNING_SCHEMES
from modelyard.signing.google_oauth import GoogleOAuth, GoogleOAuthParams
from tests.fakes.gemini import SERVICE_ACCOUNT_KEY, FakeGoogle, decode_jwt, service_account_info
from tests.fakes.registry import FAKES, serving

NOW = 1_795_000_000.0  # 2026-11-18T11:06:40Z
TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"

scheme = GoogleOAuth()
params = GoogleOAuthParams(credential="service_account_json")


def credentials_of(info: dict[str, str]) -> dict[str, str]:
    return {"service_account_json": orjson.dumps(info).decode()}


class RecordingRequest(transport.Request):
    """google-auth's transport interface: records what it is asked to send, answers a token."""

    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        self.calls.append({"url": url, "method": method, "body": body, "headers": headers})
        return _Answer()


class _Answer(transport.Response):
    status = 200
    headers = {"content-type": "application/json"}  # noqa: RUF012 - google-auth's interface
    data = b'{"access_token": "ya29.from-google-auth", "expires_in": 3599, "token_type": "Bearer"}'


def google_auth_exchange(info: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """What google-auth sends to the token endpoint for this key at NOW."""
    frozen = datetime.datetime.fromtimestamp(NOW, datetime.UTC).replace(tzinfo=None)
    monkeypatch.setattr(google_auth_clock, "utcnow", lambda: frozen)
    signer = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
    request = RecordingRequest()
    signer.refresh(request)
    assert signer.token == "ya29.from-google-auth"
    (call,) = request.calls
    return call


def test_the_assertion_has_google_auths_header_and_claims_and_both_verify(monkeypatch) -> None:
    info = service_account_info(TOKEN_URI)
    theirs = google_auth_exchange(info, monkeypatch)
    ours = scheme.token_request(params, credentials_of(info), NOW)

    assert ours.method == theirs["method"] == "POST"
    assert ours.url == theirs["url"] == TOKEN_URI
    assert ours.headers["Content-Type"] == theirs["headers"]["Content-Type"]
    our_form, their_form = dict(parse_qsl(ours.body.decode())), dict(parse_qsl(theirs["body"].decode()))
    assert our_form.keys() == their_form.keys() == {"grant_type", "assertion"}
    assert our_form["grant_type"] == their_form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"

    our_header, our_claims, our_signed, our_signature = decode_jwt(our_form["assertion"])
    their_header, their_claims, their_signed, their_signature = decode_jwt(their_form["assertion"])
    assert our_header == their_header == {"alg": "RS256", "typ": "JWT", "kid": info["private_key_id"]}
    assert our_claims == their_claims
    assert our_claims == {
        "iat": int(NOW),
        "exp": int(NOW) + 3600,
        "iss": info["client_email"],
        "aud": TOKEN_URI,
        "scope": SCOPE,
    }
    public_key = SERVICE_ACCOUNT_KEY.public_key()
    public_key.verify(our_signature, our_signed, padding.PKCS1v15(), hashes.SHA256())
    public_key.verify(their_signature, their_signed, padding.PKCS1v15(), hashes.SHA256())


def test_the_exchange_goes_to_the_keys_token_uri_with_googles_audience(monkeypatch) -> None:
    info = service_account_info("https://oauth2.example.test/token")
    theirs = google_auth_exchange(info, monkeypatch)
    ours = scheme.token_request(params, credentials_of(info), NOW)

    assert ours.url == theirs["url"] == "https://oauth2.example.test/token"
    our_claims = decode_jwt(dict(parse_qsl(ours.body.decode()))["assertion"])[1]
    their_claims = decode_jwt(dict(parse_qsl(theirs["body"].decode()))["assertion"])[1]
    assert our_claims["aud"] == their_claims["aud"] == TOKEN_URI


def test_the_token_answer_is_read_with_its_expiry_and_signs_as_bearer() -> None:
    token = scheme.parse_token(params, b'{"access_token": "ya29.abc", "expires_in": 3599, "token_type": "Bearer"}', NOW)
    assert (token.value, token.expires_at) == ("ya29.abc", NOW + 3599)
    request = UpstreamRequest("POST", "https://x.test/", {"Content-Type": "application/json"}, b"{}")
    signed = scheme.sign_with_token(params, {}, request, token.value)
    assert signed.headers == {"Content-Type": "application/json", "Authorization": "Bearer ya29.abc"}


@pytest.mark.parametrize(
    "value",
    [
        "not json at all",
        '{"type": "authorized_user", "client_id": "x"}',
        '{"type": "service_account", "client_email": "a@b.test"}',
        '{"type": "service_account", "client_email": "a@b.test", "private_key": "-----BEGIN PRIVATE KEY-----"}',
    ],
)
def test_an_unusable_key_names_the_field_and_never_its_content(value) -> None:
    with pytest.raises(CredentialValidationError) as caught:
        scheme.token_request(params, {"service_account_json": value}, NOW)
    assert caught.value.field == "service_account_json"
    assert value not in str(caught.value)


def test_the_scheme_is_registered_and_reads_the_key_field() -> None:
    assert SIGNING_SCHEMES["google_oauth"] is not None
    assert scheme.reads(params) == {"service_account_json"}


# --- the exchange through the runtime's token cache, against the fake token endpoint ----------------------------


@pytest.fixture
async def fake_google() -> AsyncIterator[FakeGoogle]:
    async with serving(FAKES["gemini"]) as upstream:
        yield upstream


def vertex(fake: FakeGoogle, info: dict[str, str]) -> dict[str, str]:
    return {**credentials_of(info), "project_id": "test-project", "location": "europe-west4", "api_endpoint": fake.url}


async def test_a_token_is_fetched_once_and_reused_while_valid(runtime, fake_google) -> None:
    credentials = vertex(fake_google, service_account_info(f"{fake_google.url}/token", key_id="key-1"))
    for _ in range(3):
        result = await runtime.chat(
            provider="vertex_ai",
            model="gemini-2.5-flash",
            credentials=credentials,
            messages=[{"role": "user", "content": "Hi"}],
        )
        assert result.content == "Hello!"
    assert len(fake_google.token_requests) == 1
    (token,) = fake_google.issued
    assert [r.headers["authorization"] for r in fake_google.requests] == [f"Bearer {token}"] * 3
    assert fake_google.last.path.startswith("/v1/projects/test-project/locations/europe-west4/publishers/google/")


async def test_a_refused_exchange_is_an_auth_error_without_the_key(runtime, fake_google) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # a key the endpoint does not know
    info = service_account_info(f"{fake_google.url}/token")
    info["private_key"] = stranger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(UpstreamAuthError, match="token exchange was refused") as caught:
        await runtime.chat(
            provider="vertex_ai",
            model="gemini-2.5-flash",
            credentials=vertex(fake_google, info),
            messages=[{"role": "user", "content": "Hi"}],
        )
    assert "PRIVATE KEY" not in str(caught.value)
    assert not fake_google.requests  # nothing was sent without a token
