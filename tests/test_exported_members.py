"""The public surface: `modelyard.__all__` is sorted, importable, and exactly what README.md's library section names."""

from __future__ import annotations

import ast
import builtins
import importlib.metadata
import importlib.util
import re
from pathlib import Path

import modelyard

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "modelyard"
LIBRARY_SECTION = "## The library: call any model, no database"
# A name is documented when a whole `code span` is it (`Runtime`, `modelyard.Tool`), or a snippet imports it.
_NAMED = re.compile(r"`(?:modelyard\.)?([A-Z]\w*|__version__)`")
_IMPORTED = re.compile(r"from modelyard import ([\w, ]+)")


def _library_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(LIBRARY_SECTION)
    end = readme.find("\n## ", start + len(LIBRARY_SECTION))
    return readme[start : end if end != -1 else len(readme)]


def _documented_names() -> set[str]:
    section = _library_section()
    names = set(_NAMED.findall(section)) - set(dir(builtins))  # `None`, `True` are Python's, not ours
    for imported in _IMPORTED.findall(section):
        names |= {name.strip() for name in imported.split(",") if name.strip()}
    return names


def test_all_is_sorted() -> None:
    assert modelyard.__all__ == sorted(modelyard.__all__)


def test_every_exported_name_is_importable_and_defined_by_modelyard() -> None:
    namespace: dict[str, object] = {}
    exec("from modelyard import *", namespace)  # the star import is what is under test

    assert set(namespace) - {"__builtins__"} == set(modelyard.__all__)
    for name in modelyard.__all__:
        value = getattr(modelyard, name)
        assert name == "__version__" or value.__module__.startswith("modelyard."), f"{name} is not modelyard's own"


def test_the_readme_library_section_documents_exactly_the_exported_names() -> None:
    documented, exported = _documented_names(), set(modelyard.__all__)

    assert documented - exported == set(), "README.md's library section names these, but modelyard does not export them"
    assert exported - documented == set(), "modelyard exports these, but README.md's library section does not name them"


def test_the_version_is_the_installed_distributions() -> None:
    assert modelyard.__version__ == importlib.metadata.version("modelyard")


def test_no_module_reads_a_name_back_from_the_half_initialised_package() -> None:
    """`from modelyard import X` inside the package loads the runtime through `modelyard.__getattr__` (once a cycle)."""
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        if path == SOURCE / "__init__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "modelyard" and node.level == 0:
                offenders += [
                    f"{path.relative_to(SOURCE)}: {alias.name}"
                    for alias in node.names
                    if importlib.util.find_spec(f"modelyard.{alias.name}") is None  # a submodule is fine
                ]

    assert offenders == []
