"""Outbound auth schemes, one small pure class each, by the name provider files use in `signing:`."""

from modelyard.signing.base import SigningScheme
from modelyard.signing.google_oauth import GoogleOAuth
from modelyard.signing.keys import Bearer, HeaderKey, NoSigning
from modelyard.signing.sigv4 import SigV4

SIGNING_SCHEMES: dict[str, SigningScheme] = {
    scheme.name: scheme for scheme in (Bearer(), HeaderKey(), NoSigning(), GoogleOAuth(), SigV4())
}

__all__ = ["SIGNING_SCHEMES", "SigningScheme"]
