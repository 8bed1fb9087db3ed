"""Outbound auth: each scheme turns a provider's `signing:` block and the credentials into headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from modelyard.catalog.spec import Spec
from modelyard.errors import CredentialsNotConfiguredError
from modelyard.protocols.base import UpstreamRequest


class SigningScheme:
    """A way of signing requests; `params_model` validates the provider file's `signing:` keys at start-up."""

    name: ClassVar[str]
    params_model: ClassVar[type[Spec]] = Spec

    def reads(self, params: Spec) -> frozenset[str]:
        """The credential variables this scheme needs, so the catalog test can check the forms cover them."""
        return frozenset()

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        raise NotImplementedError


def credential(credentials: Mapping[str, str], variable: str, *, optional: bool = False) -> str | None:
    value = credentials.get(variable)
    if not value and not optional:
        raise CredentialsNotConfiguredError(f"credential {variable!r} is missing")
    return value or None
