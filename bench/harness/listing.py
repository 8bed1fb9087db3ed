"""Time listing a workspace's providers and models with the whole catalog configured.

Every provider of the catalog gets a credential (providers with predefined models) or one custom model
(customizable-only providers), saved without validation. Then `services.providers.list` plus
`services.models.list` are timed together, warm. Run in the project venv; prints one JSON document.
`python -m harness.listing --home DIR --runs N`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

from modelyard.catalog.spec import FormField
from modelyard.services.context import Services
from modelyard.settings import Settings


def sample_values(form: tuple[FormField, ...]) -> dict[str, str]:
    """Values a form accepts: required fields filled, choices set to their first option."""
    values: dict[str, str] = {}
    for field in form:
        if field.default is not None:
            continue
        if field.options:
            values[field.variable] = field.options[0].value
        elif field.type == "switch":
            values[field.variable] = "false"
        elif field.required:
            is_address = any(part in field.variable for part in ("url", "base", "endpoint", "host"))
            values[field.variable] = "https://bench.invalid/v1" if is_address else "bench-value"
    return values


async def configure_everything(services: Services, workspace_id: str) -> tuple[int, int]:
    credentials = custom_models = 0
    for spec in services.catalog:
        if "predefined-model" in spec.configuration_methods or "fetch-from-remote" in spec.configuration_methods:
            values = sample_values(spec.credentials)
            await services.credentials.create(
                workspace_id=workspace_id, provider=spec.id, values=values, validate=False
            )
            credentials += 1
        else:
            model_type = spec.supported_model_types[0]
            await services.models.add_custom(
                workspace_id=workspace_id,
                provider=spec.id,
                model="bench-model",
                model_type=model_type,
                values=sample_values(spec.model_credentials),
                validate=False,
            )
            custom_models += 1
    return credentials, custom_models


async def list_once(services: Services, workspace_id: str) -> tuple[int, int]:
    providers = await services.providers.list(workspace_id=workspace_id)
    models = await services.models.list(workspace_id=workspace_id)
    return len(providers), len(models)


async def measure(runs: int) -> dict[str, object]:
    services = Services(Settings.from_env())
    await services.start()
    try:
        workspace = await services.workspaces.create("bench-listing")
        credentials, custom_models = await configure_everything(services, workspace.id)
        started = time.perf_counter()
        counts = await list_once(services, workspace.id)  # builds the snapshot: the first call after a change
        first_ms = (time.perf_counter() - started) * 1000
        for _ in range(10):
            await list_once(services, workspace.id)
        times_ms = []
        for _ in range(runs):
            started = time.perf_counter()
            await list_once(services, workspace.id)
            times_ms.append((time.perf_counter() - started) * 1000)
        times_ms.sort()
        return {
            "providers": counts[0],
            "models": counts[1],
            "credentials": credentials,
            "custom_models": custom_models,
            "runs": runs,
            "first_ms": first_ms,
            "mean_ms": statistics.fmean(times_ms),
            "p50_ms": times_ms[len(times_ms) // 2],
            "p99_ms": times_ms[min(len(times_ms) - 1, int(len(times_ms) * 0.99))],
        }
    finally:
        await services.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    os.environ["MODELYARD_HOME"] = str(args.home)
    os.environ.pop("MODELYARD_HOSTED_CONFIG", None)
    print(json.dumps(asyncio.run(measure(args.runs))))


if __name__ == "__main__":
    main()
