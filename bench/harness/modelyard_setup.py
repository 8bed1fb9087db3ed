"""Prepare a modelyard home for the benchmark: a workspace, an API key, and custom models on the fakes.

Run in the project venv with the same environment `modelyard serve` will get (MODELYARD_HOME,
MODELYARD_HOSTED_CONFIG); prints one JSON document: the workspace id and the API key.
`python -m harness.modelyard_setup --json-base URL --stream-base URL --slow-base URL`.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from modelyard.services.context import Services
from modelyard.settings import Settings

CUSTOM_PROVIDER = "openai_api_compatible"
GOVERNED = "-governed"  # as harness.targets names the governed route's models
POLICY: dict[str, object] = {
    "allowed_models": [f"{CUSTOM_PROVIDER}/*"],
    "requests_per_minute": 1_000_000_000,
    "tokens_per_minute": 1_000_000_000,
    "max_concurrent_requests": 100_000,
    "budget": {"limit": "1000000", "currency": "USD", "window": "monthly", "soft_limit": "900000"},
}


async def prepare(bases: dict[str, str]) -> dict[str, str]:
    services = Services(Settings.from_env())
    await services.start()
    try:
        workspace = await services.workspaces.create("bench")
        _, key = await services.api_keys.create(workspace_id=workspace.id, name="bench")
        # The governed route's key: every limit and a budget, none of which a run reaches (issue 16 §4).
        _, governed = await services.api_keys.create(workspace_id=workspace.id, name="bench-governed", policy=POLICY)
        for name, base in bases.items():
            for model in (name, f"{name}{GOVERNED}"):
                await services.models.add_custom(
                    workspace_id=workspace.id,
                    provider=CUSTOM_PROVIDER,
                    model=model,
                    model_type="llm",
                    values={"endpoint_url": base, "api_key": "sk-fake", "endpoint_model_name": "bench"},
                    validate=False,  # the fakes answer any call; validation would only add a request
                )
        return {"workspace_id": workspace.id, "api_key": key, "governed_api_key": governed}
    finally:
        await services.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--json-base", required=True)
    parser.add_argument("--stream-base", required=True)
    parser.add_argument("--slow-base", required=True)
    args = parser.parse_args()
    bases = {"bench-json": args.json_base, "bench-stream": args.stream_base, "bench-slow": args.slow_base}
    print(json.dumps(asyncio.run(prepare(bases))))


if __name__ == "__main__":
    main()
