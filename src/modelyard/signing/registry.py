"""Every outbound auth scheme, by the name provider files use in `signing:`.

A scheme registers itself when its module is imported (SigningScheme.__init_subclass__); a new scheme adds its
module to `SCHEMES`, and that line is all it changes outside its own file.
"""

from __future__ import annotations

from importlib import import_module

from modelyard.signing.base import REGISTERED, SigningScheme

SCHEMES = (
    "keys",  # bearer, header_key, none
    "azure",
    "google_oauth",
    "sigv4",
    "tc3",
    "zhipu_jwt",
    "volc_v4",
    "baidu_token",
    "spark_url",
)

for _module in SCHEMES:
    import_module(f"modelyard.signing.{_module}")

SIGNING_SCHEMES: dict[str, SigningScheme] = REGISTERED

__all__ = ["SCHEMES", "SIGNING_SCHEMES", "SigningScheme"]
