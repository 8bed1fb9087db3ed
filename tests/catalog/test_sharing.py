from __future__ import annotations

import gc
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel

from modelyard.catalog import compiled, loader
from modelyard.catalog.loader import CATALOG_DIR, Catalog, load_catalog
from modelyard.catalog.sharing import share_equal_values
from modelyard.catalog.spec import I18nText, Pricing, ProviderSpec


def specs_in(catalog: Catalog) -> list[BaseModel]:
    found: dict[int, BaseModel] = {}
    pending: list[object] = list(catalog)
    while pending:
        value = pending.pop()
        if isinstance(value, BaseModel):
            if id(value) in found:
                continue
            found[id(value)] = value
            pending.extend(value.__dict__.values())
        elif isinstance(value, tuple | list):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
    return list(found.values())


def unshared_catalog(monkeypatch: pytest.MonkeyPatch) -> Catalog:
    with monkeypatch.context() as patched:
        patched.setattr(loader, "share_equal_values", dict)
        return load_catalog()


def test_the_shared_catalog_reads_exactly_as_the_one_validated_file_by_file(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = unshared_catalog(monkeypatch)
    shared = load_catalog()

    assert [p.id for p in shared] == [p.id for p in plain]
    for before, after in zip(plain, shared, strict=True):
        assert after == before
        assert after.model_dump_json() == before.model_dump_json()  # Decimal("3.00") stays 3.00
        assert after.model_dump(exclude_unset=True) == before.model_dump(exclude_unset=True)


def copies_of_equal_values(catalog: Catalog) -> int:
    groups: dict[tuple[object, ...], set[int]] = defaultdict(set)
    for spec in specs_in(catalog):
        groups[(type(spec), spec.model_dump_json(), frozenset(spec.model_fields_set))].add(id(spec))
    return sum(len(ids) - 1 for ids in groups.values())


def test_equal_catalog_values_are_one_object(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = unshared_catalog(monkeypatch)

    assert copies_of_equal_values(load_catalog()) == 0
    assert copies_of_equal_values(plain) > 1000  # what the files repeat (8,661 copies in 2026-12)


def test_values_that_read_differently_stay_apart() -> None:
    def provider(provider_id: str, pricing: Pricing, label: I18nText) -> ProviderSpec:
        model = {"id": "m", "type": "llm", "label": label, "pricing": pricing}
        return ProviderSpec.model_validate(
            {
                "id": provider_id,
                "label": label,
                "icon": "x.svg",
                "supported_model_types": ["llm"],
                "configuration_methods": ["predefined-model"],
                "protocol": "openai",
                "base_url": "http://127.0.0.1",
                "models": [model],
            }
        )

    three = provider("a", Pricing(input=Decimal("3")), I18nText(en_US="A"))
    three_point_oh = provider("b", Pricing(input=Decimal("3.00")), I18nText(en_US="A", zh_Hans=None))

    shared = share_equal_values({"a": three, "b": three_point_oh})

    assert shared["a"].models[0].pricing is not shared["b"].models[0].pricing
    assert shared["b"].models[0].pricing.model_dump_json() == three_point_oh.models[0].pricing.model_dump_json()
    assert shared["a"].label is not shared["b"].label  # zh_Hans set explicitly in one of them
    assert shared["b"].label.model_dump(exclude_unset=True) == {"en_US": "A", "zh_Hans": None}


def test_the_compiled_catalog_keeps_the_sharing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    loads: list[Path] = []

    def load(directory: Path) -> Catalog:
        loads.append(directory)
        return load_catalog(directory)

    written = compiled.load_compiled(CATALOG_DIR, load)
    gc.collect()

    read_back = compiled.load_compiled(CATALOG_DIR, load)

    assert len(loads) == 1  # the second came from the compiled file
    assert copies_of_equal_values(read_back) == 0
    assert len(specs_in(read_back)) == len(specs_in(written))
