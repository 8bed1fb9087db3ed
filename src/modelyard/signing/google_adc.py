"""Google's Application Default Credentials, for `auth_method: adc`: this machine's own Google identity.

The sources and their order are google-auth's (2.63, `google.auth.default`), and the tests hold each exchange to
the request google-auth sends for the same file or server:

1. the JSON file named by `GOOGLE_APPLICATION_CREDENTIALS`;
2. gcloud's `application_default_credentials.json` (in `CLOUDSDK_CONFIG`, else `~/.config/gcloud`), which
   `gcloud auth application-default login` writes;
3. the metadata server of Compute Engine, GKE, Cloud Run and the like (`GCE_METADATA_HOST`, else
   metadata.google.internal): `GET .../instance/service-accounts/default/token` with `Metadata-Flavor: Google`.

A file holds a service-account key (a signed JWT traded for a token, as the `google_oauth` scheme does) or an
authorized user's refresh token (traded at Google's token endpoint). The other file types google-auth knows
(external_account, impersonated_service_account, gdch_service_account) are refused by name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from modelyard.errors import CredentialsNotConfiguredError, UpstreamConnectionError, UpstreamTimeoutError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing.aws_chain import ReadText, read_text
from modelyard.signing.base import AccessToken, TokenExchange, TokenRefused, TokenReply
from modelyard.signing.google_jwt import GRANT_TYPE, TOKEN_AUDIENCE, assertion

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # google-auth sends authorized users' refreshes here always
METADATA_HOST = "metadata.google.internal"
METADATA_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
LIFETIME_S = 3600.0
_FORM_HEADERS: Mapping[str, str] = {"Content-Type": "application/x-www-form-urlencoded"}


def resolve(
    scopes: tuple[str, ...], environ: Mapping[str, str], now: float, read: ReadText = read_text
) -> TokenExchange:
    explicit = environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if explicit:
        text = read(explicit)
        if text is None:
            raise CredentialsNotConfiguredError(f"GOOGLE_APPLICATION_CREDENTIALS names a missing file: {explicit}")
        return (yield from from_file(text, explicit, scopes, now))
    gcloud = gcloud_credentials_path(environ)
    text = read(gcloud)
    if text is not None:
        return (yield from from_file(text, gcloud, scopes, now))
    return (yield from from_metadata_server(environ, scopes, now))


def gcloud_credentials_path(environ: Mapping[str, str]) -> str:
    if environ.get("CLOUDSDK_CONFIG"):
        root = environ["CLOUDSDK_CONFIG"]
    elif os.name == "nt":
        root = os.path.join(environ.get("APPDATA") or "C:\\", "gcloud")
    else:
        root = os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".config", "gcloud")
    return os.path.join(root, "application_default_credentials.json")


def from_file(text: str, source: str, scopes: tuple[str, ...], now: float) -> TokenExchange:
    try:
        info = orjson.loads(text)
    except orjson.JSONDecodeError:
        info = None
    if not isinstance(info, dict):
        raise CredentialsNotConfiguredError(f"{source} is not a Google credentials file in JSON")
    kind = info.get("type")
    if kind == "service_account":
        reply = yield service_account_request(info, source, scopes, now)
    elif kind == "authorized_user":
        reply = yield refresh_request(info, source)
    else:
        raise CredentialsNotConfiguredError(
            f"{source} holds credentials of type {kind!r}; the Application Default Credentials here read "
            "service_account and authorized_user files and the metadata server"
        )
    if reply.status >= 400:
        raise TokenRefused(reply, f"the token exchange for {source}")
    return parse_token(reply, now)


def service_account_request(
    info: Mapping[str, Any], source: str, scopes: tuple[str, ...], now: float
) -> UpstreamRequest:
    missing = [name for name in ("client_email", "private_key") if not isinstance(info.get(name), str)]
    if missing:
        raise CredentialsNotConfiguredError(f"{source} lacks {', '.join(missing)}")
    key = {
        "client_email": info["client_email"],
        "private_key": info["private_key"],
        "private_key_id": info.get("private_key_id") or None,
        "token_uri": info.get("token_uri") or TOKEN_AUDIENCE,
        "variable": source,
    }
    form = urlencode({"grant_type": GRANT_TYPE, "assertion": assertion(key, scopes, now)})
    return UpstreamRequest("POST", key["token_uri"], _FORM_HEADERS, form.encode())


def refresh_request(info: Mapping[str, Any], source: str) -> UpstreamRequest:
    """An authorized user's refresh grant, as google-auth sends it (oauth2/_client.refresh_grant)."""
    missing = [name for name in ("refresh_token", "client_id", "client_secret") if not info.get(name)]
    if missing:
        raise CredentialsNotConfiguredError(f"{source} lacks {', '.join(missing)}")
    form = {
        "grant_type": "refresh_token",
        "client_id": info["client_id"],
        "client_secret": info["client_secret"],
        "refresh_token": info["refresh_token"],
    }
    return UpstreamRequest("POST", GOOGLE_TOKEN_URI, _FORM_HEADERS, urlencode(form).encode())


def from_metadata_server(environ: Mapping[str, str], scopes: tuple[str, ...], now: float) -> TokenExchange:
    host = environ.get("GCE_METADATA_HOST") or environ.get("GCE_METADATA_ROOT") or METADATA_HOST
    query = urlencode({"scopes": ",".join(scopes)}) if scopes else ""
    url = f"http://{host}{METADATA_TOKEN_PATH}" + (f"?{query}" if query else "")
    try:
        reply = yield UpstreamRequest("GET", url, {"Metadata-Flavor": "Google"})
    except (UpstreamConnectionError, UpstreamTimeoutError) as exc:
        raise CredentialsNotConfiguredError(
            "no Google credentials were found: GOOGLE_APPLICATION_CREDENTIALS is unset, gcloud's "
            "application_default_credentials.json is absent, and no metadata server answered"
        ) from exc
    if reply.status != 200:
        raise TokenRefused(reply, "the metadata server's token request")
    return parse_token(reply, now)


def parse_token(reply: TokenReply, now: float) -> AccessToken:
    try:
        data = orjson.loads(reply.body)
        return AccessToken(str(data["access_token"]), now + float(data.get("expires_in") or LIFETIME_S))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise TokenRefused(reply, "the token exchange (its answer holds no access token)") from exc
