"""The compiled catalog: the validated catalog kept on disk, used only while its sources are unchanged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from modelyard.catalog import compiled
from modelyard.catalog.loader import CATALOG_DIR, Catalog, load_catalog
from modelyard.errors import CatalogError


@pytest.fixture(autouse=True)
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "modelyard"


@pytest.fixture
def catalog_copy(tmp_path: Path) -> Path:
    directory = tmp_path / "catalog"
    (directory / "providers").mkdir(parents=True)
    shutil.copy(CATALOG_DIR / "parameter_templates.yaml", directory)
    shutil.copytree(CATALOG_DIR / "icons", directory / "icons")
    shutil.copy(CATALOG_DIR / "providers" / "deepseek.yaml", directory / "providers")
    return directory


class CountingLoader:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, directory: Path) -> Catalog:
        self.calls += 1
        return load_catalog(directory)


def test_the_compiled_catalog_is_the_validated_one_and_is_read_back_without_loading(catalog_copy: Path) -> None:
    load = CountingLoader()

    first = compiled.load_compiled(catalog_copy, load)
    second = compiled.load_compiled(catalog_copy, load)

    assert load.calls == 1
    assert list(second) == list(first) == list(load_catalog(catalog_copy))
    assert second.source("deepseek") == catalog_copy / "providers" / "deepseek.yaml"


def test_a_changed_provider_file_is_validated_again_and_its_old_compiled_file_dropped(
    catalog_copy: Path, cache_home: Path
) -> None:
    load = CountingLoader()
    compiled.load_compiled(catalog_copy, load)
    provider_file = catalog_copy / "providers" / "deepseek.yaml"
    provider_file.write_text(provider_file.read_text().replace("label: {en_US: DeepSeek", "label: {en_US: DeepSeek AI"))

    changed = compiled.load_compiled(catalog_copy, load)

    assert load.calls == 2
    assert changed.get("deepseek").label.en_US.startswith("DeepSeek AI")
    assert len(list(cache_home.glob("catalog-*.pickle"))) == 1


def test_a_broken_provider_file_still_fails_loudly_after_a_good_one_was_compiled(catalog_copy: Path) -> None:
    compiled.load_compiled(catalog_copy, load_catalog)
    provider_file = catalog_copy / "providers" / "deepseek.yaml"
    provider_file.write_text(provider_file.read_text().replace("type: llm", "type: chatbot", 1))

    with pytest.raises(CatalogError, match=r"deepseek\.yaml"):
        compiled.load_compiled(catalog_copy, load_catalog)


def test_a_compiled_file_others_may_write_is_never_unpickled(catalog_copy: Path, cache_home: Path) -> None:
    load = CountingLoader()
    compiled.load_compiled(catalog_copy, load)
    (path,) = cache_home.glob("catalog-*.pickle")
    os.chmod(path, 0o666)

    compiled.load_compiled(catalog_copy, load)

    assert load.calls == 2


def test_a_cache_directory_that_cannot_be_written_only_costs_the_load(
    catalog_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "not-a-directory").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "not-a-directory"))

    assert [p.id for p in compiled.load_compiled(catalog_copy, load_catalog)] == ["deepseek"]


def test_a_truncated_compiled_file_is_ignored(catalog_copy: Path, cache_home: Path) -> None:
    load = CountingLoader()
    compiled.load_compiled(catalog_copy, load)
    (path,) = cache_home.glob("catalog-*.pickle")
    path.write_bytes(path.read_bytes()[:100])

    assert [p.id for p in compiled.load_compiled(catalog_copy, load)] == ["deepseek"]
    assert load.calls == 2
