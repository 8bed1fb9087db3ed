"""Budget windows in UTC: which period a moment falls in, when it ends, and the counter that holds its spend."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from modelyard.services.governance.policy import Window


def period_start(window: Window, now: datetime) -> date | None:
    """The first day of the period `now` falls in; None for a budget that never resets."""
    day = now.astimezone(UTC).date()
    if window == "daily":
        return day
    if window == "weekly":  # ISO weeks: Monday to Sunday
        return day - timedelta(days=day.weekday())
    if window == "monthly":
        return day.replace(day=1)
    return None


def period_end(window: Window, now: datetime) -> datetime | None:
    """When the period `now` falls in ends, and the budget is whole again; None for a budget that never resets."""
    start = period_start(window, now)
    if start is None:
        return None
    if window == "daily":
        end = start + timedelta(days=1)
    elif window == "weekly":
        end = start + timedelta(days=7)
    else:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime.combine(end, time.min, UTC)


def meter_name(scope: str, window: Window, now: datetime) -> str:
    """The counter of one budget period: `key:<id>:monthly:2026-12-01`, `workspace:none`.

    The window is part of the name, so changing it starts from what that window had counted, never from another's.
    """
    start = period_start(window, now)
    return f"{scope}:{window}" if start is None else f"{scope}:{window}:{start.isoformat()}"
