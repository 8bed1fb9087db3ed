"""The catalog round trip against each provider's real API, with keys from the environment (tests/live/runner.py).

Opt in: `make live PROVIDERS=openai,mistralai` (or `pytest tests/live -m live`); never part of the normal suite or CI.
"""

from __future__ import annotations

import os

import pytest

from modelyard.catalog import default_catalog
from modelyard.runtime import Runtime
from tests.live import conftest
from tests.live.runner import credentials_from_env, env_name, required_variables, round_trip

SELECTED = [p.strip() for p in os.environ.get("MODELYARD_LIVE_PROVIDERS", "").split(",") if p.strip()]
PROVIDERS = SELECTED or [spec.id for spec in default_catalog()]


@pytest.mark.live
@pytest.mark.parametrize("provider_id", PROVIDERS)
async def test_live_round_trip(provider_id: str) -> None:
    spec = default_catalog().get(provider_id)
    credentials = credentials_from_env(spec)
    custom_model = None if spec.models else os.environ.get(env_name(spec.id, "model"))
    if credentials is None or (not spec.models and not custom_model):
        pytest.skip(f"no key for {provider_id}: set {', '.join(required_variables(spec))}")
    async with Runtime() as runtime:
        cells = await round_trip(runtime, spec, credentials, custom_model=custom_model)
    conftest.collected.extend(cells)
    failed = [f"{c.model_type} {c.column} ({c.model}): {c.outcome}" for c in cells if c.failed]
    assert not failed, "\n".join(failed)
