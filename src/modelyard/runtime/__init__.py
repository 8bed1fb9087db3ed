"""The only package that performs upstream I/O, and the public library API."""

from modelyard.runtime.invoke import Runtime
from modelyard.runtime.stream import ChatStream
from modelyard.runtime.transport import Timeouts

__all__ = ["ChatStream", "Runtime", "Timeouts"]
