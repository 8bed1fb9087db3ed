"""The live suite runs only when asked for (`-m live`, `make live PROVIDERS=...`), then prints its capability table."""

from __future__ import annotations

import pytest

from tests.live.runner import Cell, table

collected: list[Cell] = []  # every cell the live tests recorded, for the table at the end


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without `-m live` the live tests are deselected: the normal suite (and CI, offline) never calls a vendor."""
    if "live" in (config.option.markexpr or ""):
        return
    live = [item for item in items if item.get_closest_marker("live") is not None]
    if live:
        config.hook.pytest_deselected(items=live)
        items[:] = [item for item in items if item.get_closest_marker("live") is None]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if collected:
        terminalreporter.section("live capability table (compare with docs/capabilities.md)")
        terminalreporter.write_line(table(collected))
