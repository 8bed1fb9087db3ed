"""The console: REST API under /console/api, the web console in static/, docs, metrics and health."""

from modelyard.console.app import create_console
from modelyard.console.setup import setup_token

__all__ = ["create_console", "setup_token"]
