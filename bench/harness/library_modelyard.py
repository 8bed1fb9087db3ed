"""modelyard's `Runtime.chat` vs a raw aiohttp call, sequential and warm, against the fast fake.

Run in the project venv: `python -m harness.library_modelyard --root http://127.0.0.1:P --calls N`.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import aiohttp
import orjson

from harness import wire
from harness.library_timing import compare
from modelyard import Runtime


async def measure(root: str, count: int, warmup: int) -> dict[str, object]:
    body = wire.chat_request("bench", stream=False)
    credentials = {"openai_api_key": "sk-fake", "openai_api_base": f"{root}/json"}
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-fake"}
    url = f"{root}/json/v1/chat/completions"
    async with Runtime() as runtime, aiohttp.ClientSession() as session:

        async def raw() -> object:
            async with session.post(url, data=orjson.dumps(body), headers=headers) as response:
                return orjson.loads(await response.read())["choices"][0]["message"]["content"]

        async def library() -> object:
            result = await runtime.chat(
                provider="openai",
                model="gpt-6-luna",
                credentials=credentials,
                messages=body["messages"],
                max_tokens=32,
                temperature=0.2,
            )
            return result.content

        assert await library() == await raw()
        results = await compare({"raw_aiohttp": raw, "modelyard": library}, count=count, warmup=warmup)
    return {"library": "modelyard Runtime.chat (openai/gpt-6-luna)", "results": results}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.root, args.calls, args.warmup))))


if __name__ == "__main__":
    main()
