"""The live suite's code paths, run in the normal suite against the fakes: the same runner the live tests use,
aimed at each provider's fake instead of its real API."""

from __future__ import annotations

import pytest

from modelyard.catalog import default_catalog
from tests.catalog.filling import configuration
from tests.fakes.registry import FAKES, serving
from tests.live.runner import COLUMNS, credentials_from_env, required_variables, round_trip, table
from tests.support import SECRET


@pytest.mark.parametrize("provider_id", ["openai", "mistralai", "anthropic", "moonshot", "zhinao"])
async def test_the_runner_proves_every_declared_capability_against_the_fake(runtime, provider_id: str) -> None:
    spec = default_catalog().get(provider_id)
    fake = FAKES[spec.protocol]
    binding = runtime.binding(provider_id)
    async with serving(fake) as upstream:
        _, _, credentials = configuration(spec, "llm", upstream.url)
        cells = await round_trip(runtime, spec, credentials, base_url=fake.base_url(binding, upstream.url))
    assert [c for c in cells if c.failed] == []
    chat = {c.column: c.outcome for c in cells if c.model_type == "llm"}
    assert chat["invoke"] == chat["streaming"] == chat["tools"] == "yes"
    assert chat["gateway"] == "—"  # the live suite calls the vendor, not the gateway
    for column in ("vision", "structured-output"):  # named as the features they need
        declares = any(m.supports(column) for m in spec.models if m.type == "llm" and not m.deprecated)
        assert chat[column] == ("yes" if declares else "—"), column
    rendered = table(cells)
    assert rendered.splitlines()[0] == "| provider | protocol | model type | " + " | ".join(COLUMNS) + " |"
    assert f"| {provider_id} | {spec.protocol} | llm | yes | yes | yes |" in rendered


async def test_a_failed_cell_is_reported_with_its_reason_in_the_table(runtime) -> None:
    spec = default_catalog().get("mistralai")
    fake = FAKES[spec.protocol]
    binding = runtime.binding("mistralai")
    async with serving(fake) as upstream:
        _, _, credentials = configuration(spec, "llm", upstream.url)
        for _ in range(8):  # every call of the round trip is refused
            upstream.fail(401, "Unauthorized")
        cells = await round_trip(runtime, spec, credentials, base_url=fake.base_url(binding, upstream.url))
    rendered = table(cells)
    assert "| mistralai | openai | llm | FAILED | FAILED |" in rendered
    assert "UpstreamAuthError" in rendered


def test_credentials_come_from_modelyard_live_variables_and_a_missing_key_names_them() -> None:
    spec = default_catalog().get("mistralai")
    assert credentials_from_env(spec, {}) is None
    assert required_variables(spec) == ["MODELYARD_LIVE_MISTRALAI_API_KEY"]
    found = credentials_from_env(spec, {"MODELYARD_LIVE_MISTRALAI_API_KEY": SECRET})
    assert found == {"api_key": SECRET, "endpoint_url": "https://api.mistral.ai/v1"}  # the form's default filled in
