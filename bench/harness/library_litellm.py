"""`litellm.acompletion` vs a raw aiohttp call, sequential and warm, against the fast fake.

Run in the LiteLLM venv (it imports nothing of modelyard):
`python -m harness.library_litellm --root http://127.0.0.1:P --calls N`.
"""

from __future__ import annotations

import argparse
import asyncio
import json

import aiohttp

from harness import wire
from harness.library_timing import compare


async def measure(root: str, count: int, warmup: int) -> dict[str, object]:
    import litellm  # slow to import: after argument parsing

    litellm.telemetry = False
    body = wire.chat_request("bench", stream=False)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-fake"}
    url = f"{root}/json/v1/chat/completions"
    async with aiohttp.ClientSession() as session:

        async def raw() -> object:
            async with session.post(url, data=json.dumps(body), headers=headers) as response:
                return json.loads(await response.read())["choices"][0]["message"]["content"]

        async def library() -> object:
            response = await litellm.acompletion(
                model=f"openai/{wire.FAKE_MODEL}",
                api_base=f"{root}/json/v1",
                api_key="sk-fake",
                messages=body["messages"],
                max_tokens=32,
                temperature=0.2,
            )
            return response.choices[0].message.content

        assert await library() == await raw()
        results = await compare({"raw_aiohttp": raw, "litellm": library}, count=count, warmup=warmup)
    return {
        "library": f"litellm.acompletion {litellm.__version__ if hasattr(litellm, '__version__') else ''}".strip(),
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.root, args.calls, args.warmup))))


if __name__ == "__main__":
    main()
