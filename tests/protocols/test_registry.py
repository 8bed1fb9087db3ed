"""The protocol registry fills itself: a family's classes register on import, and registry.py imports them all."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modelyard.protocols import PROTOCOLS, WireProtocol
from modelyard.protocols.base import REGISTERED
from modelyard.protocols.openai import OpenAI
from modelyard.protocols.openai.subset import ChatAndEmbeddings
from tests.fakes.registry import FAKES

# Imports every module of the package, then prints the protocols registry.py did not import.
_UNLISTED = """
import importlib, pkgutil
import modelyard.protocols as package
from modelyard.protocols import PROTOCOLS
listed = set(PROTOCOLS)
for module in pkgutil.walk_packages(package.__path__, "modelyard.protocols."):
    importlib.import_module(module.name)
print(" ".join(sorted(set(PROTOCOLS) - listed)))
"""


def test_every_protocol_is_registered_under_its_name_once() -> None:
    assert PROTOCOLS is REGISTERED
    assert all(protocol.name == name for name, protocol in PROTOCOLS.items())
    assert isinstance(PROTOCOLS["openai"], OpenAI)
    assert type(PROTOCOLS["openai"]) is OpenAI  # subclasses register under their own names


def test_a_helper_base_without_a_name_is_not_registered() -> None:
    assert not any(type(protocol) is ChatAndEmbeddings for protocol in PROTOCOLS.values())


def test_a_second_protocol_with_a_taken_name_is_refused() -> None:
    before = dict(PROTOCOLS)
    with pytest.raises(TypeError, match=r"'openai'.*taken by"):

        class Impostor(WireProtocol):
            name = "openai"

    assert dict(PROTOCOLS) == before


def test_registry_py_imports_every_module_that_defines_a_protocol() -> None:
    done = subprocess.run([sys.executable, "-c", _UNLISTED], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [], "add these families' modules to FAMILIES in protocols/registry.py"


def test_every_shipped_protocol_has_a_fake() -> None:
    shipped = {name for name, protocol in PROTOCOLS.items() if type(protocol).__module__.startswith("modelyard.")}
    assert shipped - set(FAKES) == set(), "register these protocols' fakes in tests/fakes/registry.py"
