"""Access tokens for signing schemes that need one (runtime I/O on behalf of the pure TokenScheme).

An exchange that draws on this machine's own identity (the AWS default credential chain, Google's ADC) is
admitted by the operator's machine-identity policy first, on every call, before any cached token is used; its
requests go to the metadata servers and credential endpoints the operator's environment names, so they travel on
a transport of their own that admits those link-local addresses, which the tenants' upstream policy refuses.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from modelyard.errors import UpstreamAuthError, UpstreamConnectionError, UpstreamTimeoutError
from modelyard.protocols.base import UpstreamRequest
from modelyard.protocols.errors import redact
from modelyard.runtime.address_policy import METADATA_AND_LINK_LOCAL, AddressRules, UpstreamPolicy
from modelyard.runtime.transport import Timeouts, Transport
from modelyard.signing.base import AccessToken, TokenRefused, TokenReply, TokenScheme
from modelyard.signing.machine_identity import MachineIdentityPolicy, admit

if TYPE_CHECKING:
    from modelyard.runtime.bindings import Binding

_REFRESH_MARGIN_S = 60.0  # renew a minute early: a token must not expire between signing and arriving
_LIMIT = 4096
# A metadata server answers in milliseconds or not at all (off the cloud it does not exist): fail fast.
_MACHINE_TIMEOUTS = Timeouts(connect_s=2.0, first_byte_s=5.0, idle_s=5.0, total_s=20.0)


class TokenCache:
    """One token per provider and credential set, fetched once (concurrent callers wait for the same fetch)."""

    def __init__(
        self,
        transport: Transport,
        *,
        machine_identity: MachineIdentityPolicy = "hosted",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._transport = transport
        self._machine_identity = machine_identity
        self._clock = clock
        self._tokens: dict[tuple[str, str], AccessToken] = {}
        self._fetching: dict[tuple[str, str], asyncio.Future[AccessToken]] = {}

    async def token(self, binding: Binding, credentials: Mapping[str, str], *, deadline: float) -> str:
        scheme = binding.scheme
        assert isinstance(scheme, TokenScheme)
        machine_field = scheme.machine_identity_field(binding.signing_params, credentials)
        if machine_field is not None:  # checked on every call: a cached token must not outlive the admission
            admit(self._machine_identity, credentials, provider=binding.spec.id, field=machine_field)
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
        provider = binding.spec.id
        on_machine = scheme.machine_identity_field(binding.signing_params, credentials) is not None
        transport = self._machine_transport() if on_machine else self._transport
        exchange = scheme.exchange(binding.signing_params, credentials, now)
        try:
            request = next(exchange)
            while True:
                try:
                    reply = await _send(transport, request, provider, deadline)
                except (UpstreamConnectionError, UpstreamTimeoutError) as exc:
                    request = exchange.throw(exc)  # the exchange may try its next source, or re-raise
                else:
                    request = exchange.send(reply)
        except StopIteration as done:
            token: AccessToken = done.value
            return token
        except TokenRefused as exc:
            secrets = [v for k, v in credentials.items() if k in binding.spec.secret_variables()]
            detail = redact(exc.reply.body[:300].decode("utf-8", "replace"), secrets)
            raise UpstreamAuthError(
                f"{exc.what} was refused: {detail} (HTTP {exc.reply.status})",
                provider=provider,
                status_code=exc.reply.status,
            ) from None
        finally:
            exchange.close()
            if on_machine:
                await transport.close()

    def _machine_transport(self) -> Transport:
        """A transport for the machine's own credential endpoints: link-local metadata addresses admitted, this
        service's own port still refused. Made per exchange (one an hour, or so) and closed after it."""
        policy = UpstreamPolicy(
            allow=AddressRules(networks=METADATA_AND_LINK_LOCAL), own_port=self._transport.policy.own_port
        )
        return Transport(_MACHINE_TIMEOUTS, connection_limit=4, policy=policy)

    def _now(self) -> float:
        return self._clock()


async def _send(transport: Transport, request: UpstreamRequest, provider: str, deadline: float) -> TokenReply:
    response = await transport.open(request, provider=provider, deadline=deadline)
    if response.status >= 400:
        return TokenReply(response.status, await transport.read_error_body(response, deadline=deadline))
    return TokenReply(response.status, await transport.read(response, provider=provider, deadline=deadline))


def _fingerprint(credentials: Mapping[str, str]) -> str:
    # A digest, not the values: the cache's keys never hold a secret in plain.
    return hashlib.sha256(repr(sorted(credentials.items())).encode()).hexdigest()
