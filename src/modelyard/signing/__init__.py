"""Outbound auth schemes, one small pure class each, by the name provider files use in `signing:`."""

from modelyard.signing.base import SigningScheme
from modelyard.signing.keys import Bearer, HeaderKey, NoSigning

SIGNING_SCHEMES: dict[str, SigningScheme] = {scheme.name: scheme for scheme in (Bearer(), HeaderKey(), NoSigning())}

__all__ = ["SIGNING_SCHEMES", "SigningScheme"]
