"""One module per upstream wire format; pure translation, no I/O."""

from modelyard.protocols.base import WireProtocol
from modelyard.protocols.openai import OpenAI

# Protocols by the name provider files use in `protocol:`.
PROTOCOLS: dict[str, WireProtocol] = {protocol.name: protocol for protocol in (OpenAI(),)}

__all__ = ["PROTOCOLS", "WireProtocol"]
