"""The shipped catalog, validated once and kept on disk, so a process starts without parsing 46 YAML files.

Parsing and validating the provider files costs ~150 ms; unpickling the result costs ~15 ms. The file is named
after a fingerprint of everything the loader's result depends on: each file under the catalog directory (provider
files, templates, icons, and the loader and schema modules: path, size, mtime), the model-type module, and the
Python and pydantic versions. Any change gives another name, so a stale file is never read: the loader then
validates the YAML as before (a broken file still fails, naming the file and the field) and writes a new one.

Unpickling runs code, so a file is read only when the current user owns it and no one else may write it or its
directory (the trust Python's own bytecode cache rests on). Any failure to read or write means loading the YAML.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelyard.catalog.loader import Catalog

_PREFIX = "catalog-"
_SUFFIX = ".pickle"


def cache_dir() -> Path:
    """Where the compiled catalog lives: $XDG_CACHE_HOME/modelyard, else ~/.cache/modelyard."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "modelyard"


def load_compiled(directory: Path, load: Callable[[Path], Catalog]) -> Catalog:
    """The catalog in `directory`: from the compiled file when it matches the sources, else `load` and save it."""
    try:
        path = cache_dir() / f"{_PREFIX}{_digest(str(directory.resolve()))[:12]}-{fingerprint(directory)}{_SUFFIX}"
    except OSError:
        return load(directory)
    catalog = _read(path)
    if catalog is not None:
        return catalog
    catalog = load(directory)  # raises on a broken file, before anything is written
    _write(path, catalog)
    return catalog


def fingerprint(directory: Path) -> str:
    """A digest of the sources' paths, sizes and mtimes, and of the versions that shape the pickled objects."""
    import pydantic

    from modelyard.types import model_type

    facts = [sys.version, pydantic.VERSION]
    for path in (*_sources(directory), Path(model_type.__file__)):
        info = path.stat()
        facts.append(f"{path}\0{info.st_size}\0{info.st_mtime_ns}")
    return _digest("\n".join(facts))[:32]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _sources(directory: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            yield Path(root) / name


def _read(path: Path) -> Catalog | None:
    try:
        with path.open("rb") as handle:
            if not (_is_private(os.fstat(handle.fileno())) and _is_private(path.parent.stat())):
                return None
            catalog: Catalog = pickle.load(handle)
    except Exception:  # missing, unreadable, truncated, or from classes that changed shape: validate the YAML
        return None
    return catalog


def _is_private(info: os.stat_result) -> bool:
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _write(path: Path, catalog: Catalog) -> None:
    """Atomically (a reader sees the old file or the whole new one), then drop this directory's older files.

    Files of another installation (another catalog directory) sharing the cache directory are left alone.
    """
    with contextlib.suppress(OSError, pickle.PicklingError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".catalog-", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                pickle.dump(catalog, file, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
        same_directory = path.name.rsplit("-", 1)[0]
        for stale in path.parent.glob(f"{same_directory}-*{_SUFFIX}"):
            if stale != path:
                stale.unlink(missing_ok=True)
