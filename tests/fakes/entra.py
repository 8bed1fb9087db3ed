"""Microsoft Entra ID's token endpoint on 127.0.0.1: `POST /{tenant}/oauth2/v2.0/token`, client credentials grant.

It checks the request the way the identity platform documents it (form-encoded client_id, client_secret, scope,
grant_type=client_credentials) against the service principals it knows, and answers a bearer token, or the
AADSTS error Entra ID gives for a wrong secret.
"""

from __future__ import annotations

from aiohttp import web

from tests.fakes.openai import Recorded

SCOPE = "https://cognitiveservices.azure.com/.default"


class FakeEntraID:
    def __init__(self, principals: dict[tuple[str, str], str], *, expires_in: int | str = 3599) -> None:
        self.principals = principals  # (tenant, client id) -> client secret
        self.expires_in = expires_in
        self.requests: list[Recorded] = []
        self.issued: list[str] = []
        self.app = web.Application()
        self.app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self.url = ""

    async def _token(self, request: web.Request) -> web.Response:
        recorded = await Recorded.of(request)
        self.requests.append(recorded)
        form = dict(await request.post())
        tenant = request.match_info["tenant"]
        expected = self.principals.get((tenant, str(form.get("client_id"))))
        if (
            request.content_type != "application/x-www-form-urlencoded"
            or form.get("grant_type") != "client_credentials"
        ):
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if form.get("scope") != SCOPE:
            return web.json_response({"error": "invalid_scope"}, status=400)
        if expected is None or form.get("client_secret") != expected:
            description = "AADSTS7000215: Invalid client secret provided."
            return web.json_response({"error": "invalid_client", "error_description": description}, status=401)
        token = f"eyJ0eXAiOiJKV1Qi.fake-entra-{len(self.issued) + 1}"
        self.issued.append(token)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "ext_expires_in": self.expires_in,
                "access_token": token,
            }
        )
