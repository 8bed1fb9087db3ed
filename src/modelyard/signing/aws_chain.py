"""The AWS default credential chain, for `auth_method: default_chain`: this machine's own AWS identity.

The sources and their order are botocore's (1.44, `credentials.create_credential_resolver`), and the tests hold
this chain to botocore's resolution of the same environment, files and metadata servers:

1. a bearer token for the service in `AWS_BEARER_TOKEN_<SIGNING NAME>` (botocore prefers it for Bedrock);
2. `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SECURITY_TOKEN` or `AWS_SESSION_TOKEN`,
   `AWS_CREDENTIAL_EXPIRATION`;
3. the profile named by `AWS_DEFAULT_PROFILE` or `AWS_PROFILE` (else `default`): its keys in the shared
   credentials file (`AWS_SHARED_CREDENTIALS_FILE`, `~/.aws/credentials`), then in the config file
   (`AWS_CONFIG_FILE`, `~/.aws/config`);
4. the container endpoint (ECS task role, EKS Pod Identity): `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` on
   169.254.170.2, or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)`;
5. the EC2 instance metadata service: IMDSv2 (a session token by PUT, then the role, then its keys), falling back
   to IMDSv1 where the token is refused, unless `AWS_EC2_METADATA_V1_DISABLED`; off with
   `AWS_EC2_METADATA_DISABLED`; elsewhere with `AWS_EC2_METADATA_SERVICE_ENDPOINT(_MODE)`.

Sources botocore has and this chain does not (assume-role, web identity, SSO, credential_process, login) are
refused by name where the environment or the profile asks for them, never skipped for another identity.
"""

from __future__ import annotations

import configparser
import datetime
import ipaddress
import os
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import orjson

from modelyard.errors import CredentialsNotConfiguredError, UpstreamConnectionError, UpstreamTimeoutError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing.base import AccessToken, TokenExchange, TokenRefused, TokenReply

CONTAINER_HOST = "169.254.170.2"
# Hosts a FULL_URI over plain HTTP may name, beside loopback addresses (botocore ContainerMetadataFetcher).
CONTAINER_HOSTS = frozenset({CONTAINER_HOST, "169.254.170.23", "fd00:ec2::23", "localhost"})
IMDS_IPV4 = "http://169.254.169.254/"
IMDS_IPV6 = "http://[fd00:ec2::254]/"
IMDS_TOKEN_TTL_S = "21600"
IMDS_ROLE_PATH = "latest/meta-data/iam/security-credentials/"
# Signing names whose AWS_BEARER_TOKEN_<NAME> botocore prefers to SigV4 (get_bearer_auth_supported_services).
BEARER_SERVICES = frozenset({"bedrock"})
STATIC_LIFETIME_S = 300.0  # keys from the environment or files are read again after five minutes: rotation shows
REFRESH_BEFORE_S = 600.0  # temporary keys are renewed ten minutes before they expire (botocore's mandatory window)
# Profile keys naming a source this chain does not implement (botocore's providers for them, 1.44).
UNSUPPORTED_PROFILE_KEYS = (
    "role_arn",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_account_id",
    "credential_process",
    "login_session",
)

ReadText = Callable[[str], str | None]


def read_text(path: str) -> str | None:
    """A credentials file's text, or None when it does not exist."""
    try:
        with open(os.path.expanduser(os.path.expandvars(path)), encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CredentialsNotConfiguredError(f"cannot read {path}: {exc.strerror}") from None


def token_value(
    *, access_key: str = "", secret_key: str = "", session_token: str | None = None, bearer: str | None = None
) -> str:
    """What the token cache keeps for one resolution: a key pair (and session token), or a bearer token."""
    if bearer is not None:
        return orjson.dumps({"bearer": bearer}).decode()
    return orjson.dumps({"access_key": access_key, "secret_key": secret_key, "session_token": session_token}).decode()


def resolve(signing_name: str, environ: Mapping[str, str], now: float, read: ReadText = read_text) -> TokenExchange:
    """The chain as a token exchange: local sources return at once, the container and IMDS take requests."""
    bearer = environ.get(f"AWS_BEARER_TOKEN_{signing_name.upper()}") if signing_name in BEARER_SERVICES else None
    if bearer:
        return AccessToken(token_value(bearer=bearer), now + STATIC_LIFETIME_S)
    found = from_environment(environ, now) or from_profile(environ, now, read)
    if found is not None:
        return found
    if environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") or environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return (yield from from_container(environ, now, read))
    return (yield from from_instance_metadata(environ, now))


def from_environment(environ: Mapping[str, str], now: float) -> AccessToken | None:
    access_key = environ.get("AWS_ACCESS_KEY_ID", "")
    if not access_key:
        return None
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not secret_key:
        raise CredentialsNotConfiguredError("AWS_ACCESS_KEY_ID is set without AWS_SECRET_ACCESS_KEY")
    token = environ.get("AWS_SECURITY_TOKEN") or environ.get("AWS_SESSION_TOKEN") or None
    expiry = environ.get("AWS_CREDENTIAL_EXPIRATION")
    until = renew_at(parse_expiration(expiry, "AWS_CREDENTIAL_EXPIRATION"), now) if expiry else now + STATIC_LIFETIME_S
    return AccessToken(token_value(access_key=access_key, secret_key=secret_key, session_token=token), until)


def from_profile(environ: Mapping[str, str], now: float, read: ReadText) -> AccessToken | None:
    named = environ.get("AWS_DEFAULT_PROFILE") or environ.get("AWS_PROFILE")
    name = named or "default"
    if environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN"):
        raise _unsupported("AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (web identity)")
    credentials_path = environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    config_path = environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    shared = _sections(read(credentials_path), credentials_path)
    config = _profiles(_sections(read(config_path), config_path))
    if named and name not in shared and name not in config:
        raise CredentialsNotConfiguredError(
            f"the AWS profile {name!r} is in neither {credentials_path} nor {config_path}"
        )
    for key in UNSUPPORTED_PROFILE_KEYS:  # botocore tries these before the keys in either file
        if key in config.get(name, {}) or key in shared.get(name, {}):
            raise _unsupported(f"profile {name!r} sets {key}")
    for section in (shared.get(name), config.get(name)):
        if section and section.get("aws_access_key_id"):
            secret_key = section.get("aws_secret_access_key")
            if not secret_key:
                raise CredentialsNotConfiguredError(f"the AWS profile {name!r} has no aws_secret_access_key")
            token = section.get("aws_security_token") or section.get("aws_session_token") or None
            value = token_value(access_key=section["aws_access_key_id"], secret_key=secret_key, session_token=token)
            return AccessToken(value, now + STATIC_LIFETIME_S)
    return None


def from_container(environ: Mapping[str, str], now: float, read: ReadText) -> TokenExchange:
    relative = environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
    url = f"http://{CONTAINER_HOST}{relative}" if relative else environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    if not relative:
        _check_container_url(url)
    headers = {"Accept": "application/json"}
    token_file = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    authorization = read(token_file) if token_file else environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
    if token_file and authorization is None:
        raise CredentialsNotConfiguredError(
            f"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE names a missing file: {token_file}"
        )
    if authorization is not None:
        if "\r" in authorization or "\n" in authorization:
            raise CredentialsNotConfiguredError("the container authorization token is not a legal header value")
        headers["Authorization"] = authorization
    reply = yield UpstreamRequest("GET", url, headers)
    if reply.status != 200:
        raise TokenRefused(reply, "the container credentials endpoint")
    return temporary_keys(reply, now, "the container credentials endpoint")


def from_instance_metadata(environ: Mapping[str, str], now: float) -> TokenExchange:
    if environ.get("AWS_EC2_METADATA_DISABLED", "false").lower() == "true":
        raise CredentialsNotConfiguredError(_NOTHING_FOUND + " (AWS_EC2_METADATA_DISABLED is set)")
    base = imds_base(environ)
    try:
        reply = yield UpstreamRequest(
            "PUT", base + "latest/api/token", {"x-aws-ec2-metadata-token-ttl-seconds": IMDS_TOKEN_TTL_S}
        )
    except (UpstreamConnectionError, UpstreamTimeoutError) as exc:
        raise CredentialsNotConfiguredError(_NOTHING_FOUND + " (no instance metadata service answered)") from exc
    headers: dict[str, str] = {}
    if reply.status == 200:
        headers["x-aws-ec2-metadata-token"] = reply.body.decode()
    elif reply.status in (403, 404, 405) and not _is_true(environ.get("AWS_EC2_METADATA_V1_DISABLED")):
        pass  # IMDSv1: the same reads without a session token (botocore's fallback)
    else:
        raise TokenRefused(reply, "the instance metadata service's session token request")
    role = yield UpstreamRequest("GET", base + IMDS_ROLE_PATH, headers)
    role_name = role.body.decode().strip().splitlines()[0] if role.status == 200 and role.body.strip() else ""
    if not role_name:
        raise TokenRefused(role, "the instance metadata service (no IAM role is attached to this instance)")
    keys = yield UpstreamRequest("GET", base + IMDS_ROLE_PATH + role_name, headers)
    if keys.status != 200:
        raise TokenRefused(keys, "the instance metadata service's role credentials")
    return temporary_keys(keys, now, "the instance metadata service")


def imds_base(environ: Mapping[str, str]) -> str:
    custom = environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
    base = custom or (
        IMDS_IPV6 if environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "").lower() == "ipv6" else IMDS_IPV4
    )
    return base if base.endswith("/") else base + "/"


def temporary_keys(reply: TokenReply, now: float, source: str) -> AccessToken:
    """Keys with an `Expiration` (the container endpoint and IMDS answer the same JSON)."""
    try:
        data = orjson.loads(reply.body)
        value = token_value(
            access_key=str(data["AccessKeyId"]), secret_key=str(data["SecretAccessKey"]), session_token=data["Token"]
        )
        expiration = parse_expiration(str(data["Expiration"]), source)
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise TokenRefused(reply, f"{source} (its answer holds no keys)") from exc
    return AccessToken(value, renew_at(expiration, now))


def parse_expiration(text: str, source: str) -> float:
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CredentialsNotConfiguredError(f"{source}: unreadable expiration {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def renew_at(expiration: float, now: float) -> float:
    """When the token cache should fetch again: ten minutes early, or halfway for keys that live less than 20."""
    return expiration - min(REFRESH_BEFORE_S, max(expiration - now, 0.0) / 2)


def _sections(text: str | None, path: str) -> dict[str, dict[str, str]]:
    if text is None:
        return {}
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        raise CredentialsNotConfiguredError(f"{path} cannot be read as an INI file: {type(exc).__name__}") from None
    return {name: dict(parser.items(name)) for name in parser.sections()}


def _profiles(sections: Mapping[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The config file's profiles: `[default]` and `[profile NAME]` (botocore's build_profile_map)."""
    profiles: dict[str, dict[str, str]] = {}
    for section, values in sections.items():
        words = section.split()
        if len(words) == 2 and words[0] == "profile":
            profiles[words[1]] = values
        elif section == "default":
            profiles.setdefault("default", values)
    return profiles


def _check_container_url(url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" or host in CONTAINER_HOSTS:
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise CredentialsNotConfiguredError(
        f"AWS_CONTAINER_CREDENTIALS_FULL_URI may name a loopback address or {', '.join(sorted(CONTAINER_HOSTS))} "
        f"over http, not {host!r}"
    )


def _unsupported(what: str) -> CredentialsNotConfiguredError:
    return CredentialsNotConfiguredError(
        f"the AWS credential chain here reads keys, container and instance roles; {what} asks for a source it "
        "does not implement (assume-role, web identity, SSO, credential_process): give keys or an API key instead"
    )


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


_NOTHING_FOUND = (
    "no AWS credentials were found in the environment, the shared credentials and config files, "
    "the container endpoint or the instance metadata service"
)
