"""gateway/openapi.py describes exactly the routes gateway/app.py serves: a route added without a description fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from modelyard.gateway.app import ROUTES
from modelyard.gateway.openapi import PATHS, SCHEMAS, SECURITY_SCHEMES, merge_into


def _described() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, operations in PATHS.items() for method in operations}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_every_route_the_gateway_serves_is_described(method: str, path: str) -> None:
    assert (method, path) in _described(), f"{method} {path} is in gateway/app.py ROUTES but not in openapi.PATHS"


def test_nothing_is_described_that_the_gateway_does_not_serve() -> None:
    assert _described() - set(ROUTES) == set()


def test_every_operation_asks_for_an_api_key_and_has_its_own_id() -> None:
    operations = [operation for operations in PATHS.values() for operation in operations.values()]

    assert all(operation["security"] == [{"apiKey": []}] for operation in operations)
    assert {scheme for operation in operations for need in operation["security"] for scheme in need} <= set(
        SECURITY_SCHEMES
    )
    ids = [operation["operationId"] for operation in operations]
    assert len(ids) == len(set(ids))


def test_every_schema_reference_resolves() -> None:
    prefix = "#/components/schemas/"
    refs = set(_refs(PATHS)) | set(_refs(SCHEMAS))

    assert refs
    assert all(ref.startswith(prefix) for ref in refs)
    assert {ref.removeprefix(prefix) for ref in refs} - set(SCHEMAS) == set()


def test_merging_keeps_what_the_document_already_describes() -> None:
    document: dict[str, Any] = {"paths": {"/console/api/x": {"get": {}}}, "components": {"schemas": {"Mine": {}}}}

    merged = merge_into(document)

    assert {"/console/api/x", *PATHS} == set(merged["paths"])
    assert {"Mine", *SCHEMAS} == set(merged["components"]["schemas"])
    assert merged["components"]["securitySchemes"] == SECURITY_SCHEMES
    assert [tag["name"] for tag in merged["tags"]] == ["gateway"]
