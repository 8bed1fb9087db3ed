"""The SQL statements a block of test code sends, for tests that prove a path reads once, or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from modelyard.services.context import Services

# The service's own timed housekeeping (expired stored responses and idempotency records, the change feed) may fire
# inside any block; it is not what a test of a read path counts.
HOUSEKEEPING_TABLES = ("stored_responses", "idempotency_keys", "config_changes")


@contextmanager
def sql_statements(services: Services) -> Iterator[list[str]]:
    """Every statement the services' engine sends while the block runs, but the housekeeping's."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not any(table in statement for table in HOUSEKEEPING_TABLES):
            seen.append(statement)

    event.listen(services.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(services.engine.sync_engine, "before_cursor_execute", record)
