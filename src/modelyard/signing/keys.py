"""Static keys: a bearer token, a key in a header of the vendor's choosing, or nothing."""

from __future__ import annotations

from collections.abc import Mapping

from modelyard.catalog.spec import Spec
from modelyard.protocols.base import UpstreamRequest
from modelyard.signing.base import SigningScheme, credential


class KeyParams(Spec):
    credential: str  # the credential variable that holds the key
    optional: bool = False  # self-hosted servers often run without auth
    header: str = "Authorization"
    prefix: str = ""


class Bearer(SigningScheme):
    name = "bearer"
    params_model = KeyParams

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, KeyParams)
        return frozenset({params.credential})

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        assert isinstance(params, KeyParams)
        key = credential(credentials, params.credential, optional=params.optional)
        if key is None:
            return request
        return UpstreamRequest(
            request.method, request.url, {**request.headers, "Authorization": f"Bearer {key}"}, request.body
        )


class HeaderKey(SigningScheme):
    """The key in a named header, e.g. Azure's `api-key`."""

    name = "header_key"
    params_model = KeyParams

    def reads(self, params: Spec) -> frozenset[str]:
        assert isinstance(params, KeyParams)
        return frozenset({params.credential})

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        assert isinstance(params, KeyParams)
        key = credential(credentials, params.credential, optional=params.optional)
        if key is None:
            return request
        headers = {**request.headers, params.header: f"{params.prefix}{key}"}
        return UpstreamRequest(request.method, request.url, headers, request.body)


class NoSigning(SigningScheme):
    name = "none"

    def sign(self, params: Spec, credentials: Mapping[str, str], request: UpstreamRequest) -> UpstreamRequest:
        return request
