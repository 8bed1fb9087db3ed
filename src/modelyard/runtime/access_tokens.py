"""Access tokens for signing schemes that need one (runtime I/O on behalf of the pure TokenScheme)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from modelyard.errors import UpstreamAuthError
from modelyard.protocols.errors import redact
from modelyard.signing.base import AccessToken, TokenScheme

if TYPE_CHECKING:
    from modelyard.runtime.bindings import Binding
    from modelyard.runtime.transport import Transport

_REFRESH_MARGIN_S = 60.0  # renew a minute early: a token must not expire between signing and arriving
_LIMIT = 4096


class TokenCache:
    """One token per provider and credential set, fetched once (concurrent callers wait for the same fetch)."""

    def __init__(self, transport: Transport, *, clock: Callable[[], float] = time.time) -> None:
        self._transport = transport
        self._clock = clock
        self._tokens: dict[tuple[str, str], AccessToken] = {}
        self._fetching: dict[tuple[str, str], asyncio.Future[AccessToken]] = {}

    async def token(self, binding: Binding, credentials: Mapping[str, str], *, deadline: float) -> str:
        key = (binding.spec.id, _fingerprint(credentials))
        now = self._now()
        cached = self._tokens.get(key)
        if cached is not None and cached.expires_at - _REFRESH_MARGIN_S > now:
            return cached.value
        pending = self._fetching.get(key)
        if pending is not None:
            return (await asyncio.shield(pending)).value
        future: asyncio.Future[AccessToken] = asyncio.get_running_loop().create_future()
        self._fetching[key] = future
        try:
            token = await self._fetch(binding, credentials, now, deadline)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            self._fetching.pop(key, None)
        if len(self._tokens) >= _LIMIT:
            self._tokens.clear()
        self._tokens[key] = token
        future.set_result(token)
        return token.value

    def forget(self, binding: Binding, credentials: Mapping[str, str]) -> None:
        """Drop a token the provider refused before its time (revoked, or the provider restarted)."""
        self._tokens.pop((binding.spec.id, _fingerprint(credentials)), None)

    async def _fetch(
        self, binding: Binding, credentials: Mapping[str, str], now: float, deadline: float
    ) -> AccessToken:
        scheme = binding.scheme
        assert isinstance(scheme, TokenScheme)
        request = scheme.token_request(binding.signing_params, credentials, now)
        response = await self._transport.open(request, provider=binding.spec.id, deadline=deadline)
        if response.status >= 400:
            body = await self._transport.read_error_body(response, deadline=deadline)
            secrets = [v for k, v in credentials.items() if k in binding.spec.secret_variables()]
            detail = redact(body[:300].decode("utf-8", "replace"), secrets)
            raise UpstreamAuthError(
                f"the token exchange was refused: {detail} (HTTP {response.status})",
                provider=binding.spec.id,
                status_code=response.status,
            )
        body = await self._transport.read(response, provider=binding.spec.id, deadline=deadline)
        return scheme.parse_token(binding.signing_params, body, now)

    def _now(self) -> float:
        return self._clock()


def _fingerprint(credentials: Mapping[str, str]) -> str:
    # A digest, not the values: the cache's keys never hold a secret in plain.
    return hashlib.sha256(repr(sorted(credentials.items())).encode()).hexdigest()
