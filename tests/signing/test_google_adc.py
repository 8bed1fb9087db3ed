"""Application Default Credentials held to google-auth's `google.auth.default` on the same files and servers.

For each source, google-auth's credentials refresh through a recording transport, and our exchange's request must
carry the same URL, headers and fields (for a service-account key, the same JWT header and claims at a frozen
clock). A whole Vertex call then signs with a token from a metadata server on loopback.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import google.auth
import orjson
import pytest
from google.auth import _helpers as google_auth_clock
from google.auth import compute_engine, transport

from modelyard.errors import CredentialsNotConfiguredError, CredentialValidationError
from modelyard.protocols.base import UpstreamRequest
from modelyard.runtime.access_tokens import TokenCache
from modelyard.runtime.invoke import Runtime
from modelyard.signing.google_oauth import GoogleOAuth, GoogleOAuthParams
from tests.fakes.gemini import FakeGoogle, decode_jwt, service_account_info
from tests.fakes.loopback import served

NOW = 1_795_000_000.0
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ADC = {"auth_method": "adc"}
PARAMS = GoogleOAuthParams(credential="service_account_json", auth_method_credential="auth_method")
USER = {
    "type": "authorized_user",
    "client_id": "1234567890-modelyard.apps.googleusercontent.com",  # not gcloud's own id: no quota warning
    "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
    "refresh_token": "1//0gmodelyard-refresh-token",
}


@pytest.fixture(autouse=True)
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No Google configuration: no GOOGLE_APPLICATION_CREDENTIALS, an empty gcloud directory."""
    for name in ("GOOGLE_APPLICATION_CREDENTIALS", "GCE_METADATA_HOST", "GCE_METADATA_ROOT", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    (tmp_path / "gcloud").mkdir()
    return tmp_path


class RecordingTransport(transport.Request):
    """google-auth's transport: records each request; answers a token, or the metadata server's account info."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        self.calls.append({"url": url, "method": method, "body": body, "headers": dict(headers or {})})
        return _Answer(url)


class _Answer(transport.Response):
    def __init__(self, url: str) -> None:
        self._url = url

    @property
    def status(self) -> int:
        return 200

    @property
    def headers(self) -> dict[str, str]:
        return {"content-type": "application/json", "metadata-flavor": "Google"}

    @property
    def data(self) -> bytes:
        if "/service-accounts/default/?" in self._url:
            return orjson.dumps({"email": "vm@test-project.iam.gserviceaccount.com", "scopes": [SCOPE]})
        return b'{"access_token": "ya29.from-google-auth", "expires_in": 3599, "token_type": "Bearer"}'


def google_auth_token_request(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The last request google-auth makes to refresh the default credentials (the token request)."""
    frozen = datetime.datetime.fromtimestamp(NOW, datetime.UTC).replace(tzinfo=None)
    monkeypatch.setattr(google_auth_clock, "utcnow", lambda: frozen)
    credentials, _ = google.auth.default(scopes=[SCOPE])
    recorder = RecordingTransport()
    credentials.refresh(recorder)
    return recorder.calls[-1]


def our_first_request() -> UpstreamRequest:
    return next(GoogleOAuth().exchange(PARAMS, ADC, NOW))


def form_of(body: bytes | str) -> dict[str, str]:
    return dict(parse_qsl(body.decode() if isinstance(body, bytes) else body))


def test_a_service_account_file_named_by_the_environment_is_exchanged_as_google_auth_does(monkeypatch, machine) -> None:
    key_file = machine / "key.json"
    key_file.write_text(orjson.dumps(service_account_info("https://oauth2.googleapis.com/token")).decode())
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    theirs = google_auth_token_request(monkeypatch)
    ours = our_first_request()
    assert (ours.method, ours.url) == (theirs["method"], theirs["url"])
    assert ours.headers["Content-Type"] == theirs["headers"]["Content-Type"]
    our_form, their_form = form_of(ours.body), form_of(theirs["body"])
    assert our_form.keys() == their_form.keys() == {"grant_type", "assertion"}
    our_header, our_claims, *_ = decode_jwt(our_form["assertion"])
    their_header, their_claims, *_ = decode_jwt(their_form["assertion"])
    assert (our_header, our_claims) == (their_header, their_claims)


def test_gclouds_user_login_is_refreshed_as_google_auth_refreshes_it(monkeypatch, machine) -> None:
    (machine / "gcloud" / "application_default_credentials.json").write_text(orjson.dumps(USER).decode())
    theirs = google_auth_token_request(monkeypatch)
    ours = our_first_request()
    assert (
        (ours.method, ours.url) == (theirs["method"], theirs["url"]) == ("POST", "https://oauth2.googleapis.com/token")
    )
    assert (
        form_of(ours.body)
        == form_of(theirs["body"])
        == {
            "grant_type": "refresh_token",
            "client_id": USER["client_id"],
            "client_secret": USER["client_secret"],
            "refresh_token": USER["refresh_token"],
        }
    )


def test_the_environments_file_comes_before_gclouds(monkeypatch, machine) -> None:
    (machine / "gcloud" / "application_default_credentials.json").write_text(orjson.dumps(USER).decode())
    key_file = machine / "key.json"
    key_file.write_text(orjson.dumps(service_account_info("https://oauth2.example.test/token")).decode())
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    assert (
        google_auth_token_request(monkeypatch)["url"] == our_first_request().url == "https://oauth2.example.test/token"
    )


def test_the_metadata_servers_token_request_is_google_auths(monkeypatch) -> None:
    theirs = compute_engine.Credentials(scopes=[SCOPE])
    recorder = RecordingTransport()
    theirs.refresh(recorder)
    token_call = recorder.calls[-1]
    ours = our_first_request()
    assert (ours.method, urlsplit(ours.url)[:3]) == (token_call["method"], urlsplit(token_call["url"])[:3])
    assert dict(parse_qsl(urlsplit(ours.url).query)) == dict(parse_qsl(urlsplit(token_call["url"]).query))
    assert ours.headers["Metadata-Flavor"] == token_call["headers"]["metadata-flavor"] == "Google"


def test_file_types_it_does_not_implement_are_refused_by_name(monkeypatch, machine) -> None:
    federated = machine / "federation.json"
    federated.write_text('{"type": "external_account", "audience": "//iam.googleapis.com/x"}')
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(federated))
    with pytest.raises(CredentialsNotConfiguredError, match="'external_account'"):
        our_first_request()
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(machine / "missing.json"))
    with pytest.raises(CredentialsNotConfiguredError, match="missing file"):
        our_first_request()


# --- through the runtime -----------------------------------------------------------------------------------------


@pytest.fixture
async def google_fake() -> AsyncIterator[FakeGoogle]:
    async with served(FakeGoogle()) as fake:
        yield fake


def vertex_values(fake: FakeGoogle) -> dict[str, str]:
    return {**ADC, "project_id": "test-project", "location": "us-central1", "api_endpoint": fake.url}


async def test_a_vertex_call_signs_with_the_metadata_servers_token(monkeypatch, google_fake) -> None:
    monkeypatch.setenv("GCE_METADATA_HOST", google_fake.url.removeprefix("http://"))
    async with Runtime() as runtime:
        runtime.tokens = TokenCache(runtime.transport, machine_identity="all")  # the operator allows it for all
        for _ in range(2):
            result = await runtime.chat(
                provider="vertex_ai",
                model="gemini-2.5-flash",
                credentials=vertex_values(google_fake),
                messages=[{"role": "user", "content": "Hi"}],
            )
            assert result.content == "Hello!"
    (token_request,) = google_fake.token_requests  # fetched once, then cached
    assert token_request.path == "/computeMetadata/v1/instance/service-accounts/default/token"
    assert token_request.query == {"scopes": SCOPE}
    assert google_fake.requests[-1].headers["authorization"] == "Bearer ya29.fake-metadata-1"


async def test_a_workspace_may_not_use_adc_unless_the_operator_allows_it(google_fake) -> None:
    async with Runtime() as runtime:
        with pytest.raises(CredentialValidationError) as refused:
            await runtime.chat(
                provider="vertex_ai",
                model="gemini-2.5-flash",
                credentials=vertex_values(google_fake),
                messages=[{"role": "user", "content": "Hi"}],
            )
    assert refused.value.field == "auth_method"
    assert google_fake.token_requests == [] and google_fake.requests == []
