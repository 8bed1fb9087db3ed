"""Outbound auth: each scheme turns a provider's `signing:` block and the credentials into headers."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any, ClassVar

from modelyard.catalog.spec import Spec
from modelyard.errors import CredentialsNotConfiguredError
from modelyard.protocols.base import UpstreamRequest
from modelyard.types.value import Value

# Every scheme by its `name`, filled as their modules are imported (SigningScheme.__init_subclass__). Read it as
# `modelyard.signing.SIGNING_SCHEMES`, which imports every scheme first (signing/registry.py).
REGISTERED: dict[str, SigningScheme] = {}


class SigningScheme:
    """A way of signing requests; `params_model` validates the provider file's `signing:` keys at start-up.

    A subclass that sets `name` registers itself under it; one without (TokenScheme, a shared base) does not.
    """

    name: ClassVar[str]
    params_model: ClassVar[type[Spec]] = Spec

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            return
        if cls.name in REGISTERED:
            known = type(REGISTERED[cls.name])
            raise TypeError(f"signing scheme {cls.name!r} of {cls.__qualname__} is taken by {known.__qualname__}")
        REGISTERED[cls.name] = cls()

    def reads(self, params: Spec) -> frozenset[str]:
        """The credential variables this scheme needs, so the catalog test can check the forms cover them."""
        return frozenset()

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        raise NotImplementedError


class AccessToken(Value, frozen=True):
    value: str
    expires_at: float  # epoch seconds


class TokenReply(Value, frozen=True):
    """What one request of a token exchange got back: the runtime sends it into the exchange."""

    status: int
    body: bytes


# A token exchange, httpx's auth-flow style: it yields each request to send and receives its reply (a transport
# failure is thrown into it instead), then returns the token. The scheme stays pure; the runtime does the I/O.
TokenExchange = Generator[UpstreamRequest, TokenReply, AccessToken]


class TokenRefused(Exception):
    """Raised inside an exchange for an answer that refuses the credentials; the runtime reports it as an
    UpstreamAuthError of the provider, with any secret of the credentials redacted from the body it quotes."""

    def __init__(self, reply: TokenReply, what: str = "the token exchange") -> None:
        super().__init__(f"{what} was refused (HTTP {reply.status})")
        self.reply = reply
        self.what = what


class TokenScheme(SigningScheme):
    """A scheme that first trades the credentials for a short-lived access token (OAuth and the like).

    The exchange is I/O, so the runtime performs it (runtime/access_tokens.py caches each token until shortly
    before it expires); the scheme itself stays pure: it builds the token request, reads the answer, and signs.
    One-request exchanges implement `token_request` and `parse_token`; multi-step ones (a metadata server's
    session token, then the role, then its keys) override `exchange`.
    """

    def needs_token(self, params: Spec, credentials: Mapping[str, str]) -> bool:
        """False when these credentials sign without an exchange (then `sign` is used): one scheme may serve
        a provider whose form offers both a token flow and a plain key (Wenxin's legacy and v2 APIs)."""
        return True

    def machine_identity_field(self, params: Spec, credentials: Mapping[str, str]) -> str | None:
        """The credential variable that chose this machine's own identity (environment, credential files, the
        cloud's metadata server) for the exchange, or None: the operator must allow that use
        (signing/machine_identity.py), and those requests go only where the operator's environment points."""
        return None

    def exchange(self, params: Spec, credentials: Mapping[str, str], now: float) -> TokenExchange:
        reply = yield self.token_request(params, credentials, now)
        if reply.status >= 400:
            raise TokenRefused(reply)
        return self.parse_token(params, reply.body, now)

    def token_request(self, params: Spec, credentials: Mapping[str, str], now: float) -> UpstreamRequest:
        raise NotImplementedError

    def parse_token(self, params: Spec, body: bytes, now: float) -> AccessToken:
        raise NotImplementedError

    def sign_with_token(
        self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest, token: str
    ) -> UpstreamRequest:
        raise NotImplementedError

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        raise TypeError(f"{self.name} signs with an access token: call sign_with_token")


def credential(credentials: Mapping[str, str], variable: str, *, optional: bool = False) -> str | None:
    value = credentials.get(variable)
    if not value and not optional:
        raise CredentialsNotConfiguredError(f"credential {variable!r} is missing")
    return value or None
