"""`modelyard cache show | set`: a workspace's opt-in to the gateway's response cache."""

from __future__ import annotations

from typing import Any

import click

from modelyard.cli.output import emit, json_option
from modelyard.cli.running import run, workspace_option


@click.group()
def cache() -> None:
    """The response cache: identical gateway calls answered from a stored answer."""


@cache.command("show")
@workspace_option
@json_option
def cache_show(workspace_id: str, as_json: bool) -> None:
    """Show how long the workspace's answers are kept (0: the cache is off)."""

    async def read(services: Any) -> int:
        return int(await services.response_cache.settings.ttl_s(workspace_id))

    ttl_s = run(read, workspace_id=workspace_id)
    emit({"workspace_id": workspace_id, "ttl_s": ttl_s}, as_json, text=lambda: _text(ttl_s))


@cache.command("set")
@workspace_option
@click.option("--ttl", "ttl_s", required=True, metavar="SECONDS", help="How long answers are kept; 0 turns it off.")
@json_option
def cache_set(workspace_id: str, ttl_s: str, as_json: bool) -> None:
    """Answer the workspace's identical calls from the cache for SECONDS, or stop with 0.

    A key's own --cache-ttl (apikey create|update) and a request's x-modelyard-cache-ttl header come first.

    \b
        modelyard cache set --workspace ws_... --ttl 3600
    """

    async def change(services: Any) -> int:
        return int(await services.response_cache.settings.set(workspace_id, ttl_s))

    kept = run(change, workspace_id=workspace_id)
    emit({"workspace_id": workspace_id, "ttl_s": kept}, as_json, text=lambda: _text(kept))


def _text(ttl_s: int) -> str:
    if not ttl_s:
        return "Response cache: off (a request may still ask for it with x-modelyard-cache-ttl)"
    return f"Response cache: on, answers kept {ttl_s} s"
