"""The signing registry fills itself: a scheme registers on import, and registry.py imports every scheme module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modelyard.signing import SIGNING_SCHEMES, SigningScheme
from modelyard.signing.base import REGISTERED, TokenScheme
from modelyard.signing.keys import Bearer

# Imports every module of the package, then prints the schemes registry.py did not import.
_UNLISTED = """
import importlib, pkgutil
import modelyard.signing as package
from modelyard.signing import SIGNING_SCHEMES
listed = set(SIGNING_SCHEMES)
for module in pkgutil.walk_packages(package.__path__, "modelyard.signing."):
    importlib.import_module(module.name)
print(" ".join(sorted(set(SIGNING_SCHEMES) - listed)))
"""


def test_every_scheme_is_registered_under_its_name_once() -> None:
    assert SIGNING_SCHEMES is REGISTERED
    assert all(scheme.name == name for name, scheme in SIGNING_SCHEMES.items())
    assert type(SIGNING_SCHEMES["bearer"]) is Bearer
    assert not any(type(scheme) is TokenScheme for scheme in SIGNING_SCHEMES.values())  # a base without a name


def test_a_second_scheme_with_a_taken_name_is_refused() -> None:
    before = dict(SIGNING_SCHEMES)
    with pytest.raises(TypeError, match=r"'bearer'.*taken by Bearer"):

        class Impostor(SigningScheme):
            name = "bearer"

    assert dict(SIGNING_SCHEMES) == before


def test_registry_py_imports_every_module_that_defines_a_scheme() -> None:
    done = subprocess.run([sys.executable, "-c", _UNLISTED], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [], "add these schemes' modules to SCHEMES in signing/registry.py"
