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


async def prepare(bases: dict[str, str]) -> dict[str, str]:
    services = Services(Settings.from_env())
    await services.start()
    try:
        workspace = await services.workspaces.create("bench")
        _, key = await services.api_keys.create(workspace_id=workspace.id, name="bench")
        for name, base in bases.items():
            await services.models.add_custom(
                workspace_id=workspace.id,
                provider=CUSTOM_PROVIDER,
                model=name,
                model_type="llm",
                values={"endpoint_url": base, "api_key": "sk-fake", "endpoint_model_name": "bench"},
                validate=False,  # the fakes answer any call; validation would only add a request
            )
        return {"workspace_id": workspace.id, "api_key": key}
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
