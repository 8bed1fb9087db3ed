"""The bare Python pass-through: what a minimal gateway costs. aiohttp server, one pooled aiohttp client.

Per request it parses the JSON body, picks the upstream by the body's `model`, forwards the body, and either
parses and re-serialises the JSON answer or relays the SSE stream as it arrives. No auth, no accounting.
uvloop and orjson, as a careful hand-written gateway would use. Run as
`python -m harness.passthrough --port P --routes '{"bench-json": "http://.../v1", ...}'`.
"""

from __future__ import annotations

import argparse
import json

import aiohttp
import orjson
from aiohttp import web

JSON = "application/json"


def make_app(routes: dict[str, str]) -> web.Application:
    session: aiohttp.ClientSession | None = None

    async def start(app: web.Application) -> None:
        nonlocal session
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout())

    async def close(app: web.Application) -> None:
        if session is not None:
            await session.close()

    async def chat(request: web.Request) -> web.StreamResponse:
        assert session is not None
        body = orjson.loads(await request.read())
        base = routes.get(body.get("model"))
        if base is None:
            return web.Response(status=404, body=b'{"error":{"message":"unknown model"}}', content_type=JSON)
        headers = {"Content-Type": JSON, "Authorization": "Bearer sk-fake"}
        async with session.post(f"{base}/chat/completions", data=orjson.dumps(body), headers=headers) as upstream:
            if not body.get("stream"):
                answer = orjson.loads(await upstream.read())
                return web.Response(status=upstream.status, body=orjson.dumps(answer), content_type=JSON)
            response = web.StreamResponse(status=upstream.status, headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            async for data in upstream.content.iter_any():
                await response.write(data)
            await response.write_eof()
            return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.on_startup.append(start)
    app.on_cleanup.append(close)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--routes", required=True, help="JSON object: model name -> upstream base URL")
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    web.run_app(
        make_app(json.loads(args.routes)), host="127.0.0.1", port=args.port, backlog=8192, access_log=None, print=None
    )


if __name__ == "__main__":
    main()
