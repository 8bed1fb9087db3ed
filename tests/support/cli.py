"""The CLI in-process through click's CliRunner, and services on the same environment to look behind it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from click.testing import CliRunner, Result

from modelyard.cli import modelyard
from modelyard.services.context import Services
from modelyard.settings import Settings


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Result:
        return self.runner.invoke(modelyard, list(args), input=input, catch_exceptions=False)

    def json(self, *args: str, input: str | None = None) -> Any:
        """Run with --json; the command must succeed and print exactly one JSON document on stdout."""
        result = self(*args, "--json", input=input)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    async def in_thread(self, *args: str, input: str | None = None) -> Result:
        return await asyncio.to_thread(self, *args, input=input)

    async def json_in_thread(self, *args: str, input: str | None = None) -> Any:
        return await asyncio.to_thread(self.json, *args, input=input)


@asynccontextmanager
async def started_services() -> AsyncIterator[Services]:
    """Services on the same environment as the CLI, to look behind a command or to set data up."""
    services = Services(Settings.from_env())
    await services.start()
    try:
        yield services
    finally:
        await services.close()
