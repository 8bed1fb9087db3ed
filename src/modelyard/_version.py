"""The installed distribution's version, read from its metadata so pyproject.toml stays the one place it is set.

Modules that need it import it from here, never from the `modelyard` package: the package's `__init__` imports
the runtime, so reading a name back from it mid-import is a cycle.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("modelyard")
except PackageNotFoundError:  # a source tree on sys.path that was never installed has no metadata to read
    __version__ = "0+unknown"
