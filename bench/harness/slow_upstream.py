"""The slow streaming upstream: holds each chat stream open, one chunk every `--interval-s`, for `--hold-s`.

Used only to count the memory of many open streams, so its speed does not matter. Run as
`python -m harness.slow_upstream --port P`.
"""

from __future__ import annotations

import argparse
import asyncio
import json

from aiohttp import web

from harness import wire


def make_app(interval_s: float, hold_s: float) -> web.Application:
    words = wire.chat_chunks(3)  # content, finish, usage

    async def chat(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        content = words[0]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hold_s
        try:
            while loop.time() < deadline:
                await response.write(wire.sse_event(content).encode())
                content = {**words[1], "choices": [{"index": 0, "delta": {"content": " ."}, "finish_reason": None}]}
                await asyncio.sleep(interval_s)
            for last in words[1:]:
                await response.write(wire.sse_event(last).encode())
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the gateway hung up: the client closed its stream
        return response

    async def models(request: web.Request) -> web.Response:
        return web.Response(text=json.dumps({"object": "list", "data": []}), content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--interval-s", type=float, default=0.1)
    parser.add_argument("--hold-s", type=float, default=180.0)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(make_app(args.interval_s, args.hold_s), host="127.0.0.1", port=args.port, backlog=8192, print=None)


if __name__ == "__main__":
    main()
