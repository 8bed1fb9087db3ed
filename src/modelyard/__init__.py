"""modelyard: configure AI model providers once, call every model through one API."""

__version__ = "0.1.0"

from modelyard.errors import ModelyardError
from modelyard.runtime import ChatStream, Runtime, Timeouts
from modelyard.runtime.sync import SyncRuntime
from modelyard.types import ChatRequest, Message, Tool

__all__ = [
    "ChatRequest",
    "ChatStream",
    "Message",
    "ModelyardError",
    "Runtime",
    "SyncRuntime",
    "Timeouts",
    "Tool",
    "__version__",
]
