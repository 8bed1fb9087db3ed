"""Azure OpenAI: the resource's key in the `api-key` header, or a Microsoft Entra ID token of a service principal.

`auth_method: entra_id` trades the service principal's tenant, client id and secret for an access token with the
OAuth 2.0 client credentials grant, as Microsoft's identity platform documents it and azure-identity's
ClientSecretCredential requests it: `POST {authority}/{tenant}/oauth2/v2.0/token`, form-encoded `client_id`,
`client_secret`, `scope=https://cognitiveservices.azure.com/.default`, `grant_type=client_credentials` (read
2026-12). The token goes out as `Authorization: Bearer`; the runtime caches it until shortly before `expires_in`
ends and fetches a new one when Azure answers 401.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlencode

import orjson
from msgspec.structs import replace

from modelyard.catalog.spec import Spec
from modelyard.errors import CredentialValidationError, UpstreamProtocolError
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing.base import AccessToken, TokenScheme, credential

AUTH_METHODS = ("api_key", "entra_id")
_FORM_HEADERS: Mapping[str, str] = {"Content-Type": "application/x-www-form-urlencoded"}
# A tenant is a GUID or a verified domain; it goes into the token URL's path, so nothing else is let through.
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$")


class AzureParams(Spec):
    """A provider file's `signing:` block for Azure OpenAI: where each credential lives."""

    api_key_credential: str = "openai_api_key"
    header: str = "api-key"
    auth_method_credential: str = "auth_method"  # api_key (also when absent or empty) or entra_id
    tenant_credential: str = "azure_tenant_id"
    client_id_credential: str = "azure_client_id"
    client_secret_credential: str = "azure_client_secret"
    scope: str = "https://cognitiveservices.azure.com/.default"
    authority: str = "https://login.microsoftonline.com"  # the public cloud's Entra ID


class Azure(TokenScheme):
    name = "azure"
    params_model = AzureParams

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, AzureParams)
        return frozenset(
            {
                params.api_key_credential,
                params.auth_method_credential,
                params.tenant_credential,
                params.client_id_credential,
                params.client_secret_credential,
            }
        )

    def needs_token(self, params: Spec, credentials: Mapping[str, str]) -> bool:
        assert isinstance(params, AzureParams)
        chosen = credentials.get(params.auth_method_credential) or "api_key"
        if chosen not in AUTH_METHODS:
            raise CredentialValidationError(
                f"{params.auth_method_credential} must be one of: {', '.join(AUTH_METHODS)}",
                field=params.auth_method_credential,
            )
        return chosen == "entra_id"

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        assert isinstance(params, AzureParams)
        key = credential(credentials, params.api_key_credential) or ""
        return replace(request, headers={**request.headers, params.header: key})

    def token_request(self, params: Spec, credentials: Mapping[str, str], now: float) -> UpstreamRequest:
        assert isinstance(params, AzureParams)
        tenant = credential(credentials, params.tenant_credential) or ""
        if not _TENANT.match(tenant):
            raise CredentialValidationError(
                f"{params.tenant_credential} must be a directory (tenant) ID or domain", field=params.tenant_credential
            )
        form = {
            "client_id": credential(credentials, params.client_id_credential) or "",
            "client_secret": credential(credentials, params.client_secret_credential) or "",
            "scope": params.scope,
            "grant_type": "client_credentials",
        }
        url = f"{params.authority.rstrip('/')}/{tenant}/oauth2/v2.0/token"
        return UpstreamRequest("POST", url, _FORM_HEADERS, urlencode(form).encode())

    def parse_token(self, params: Spec, body: bytes, now: float) -> AccessToken:
        """Entra ID's answer: `access_token` and `expires_in` (seconds, a number or a numeric string)."""
        try:
            data = orjson.loads(body)
            return AccessToken(str(data["access_token"]), now + float(data["expires_in"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise UpstreamProtocolError("Entra ID answered without an access token", provider=self.name) from exc

    def sign_with_token(
        self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest, token: str
    ) -> UpstreamRequest:
        assert isinstance(params, AzureParams)
        headers = {k: v for k, v in request.headers.items() if k.lower() != params.header.lower()}
        return replace(request, headers={**headers, "Authorization": f"Bearer {token}"})
