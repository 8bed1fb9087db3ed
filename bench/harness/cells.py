"""Figures into table cells: a measure that failed shows its error, shares and verdicts read the same everywhere."""

from __future__ import annotations

from typing import Any, TypeGuard

Record = dict[str, Any]


def ok(measure: Any) -> TypeGuard[Record]:
    return isinstance(measure, dict) and "error" not in measure


def rows(record: Record, key: str) -> list[Record]:
    return [row for row in record.get("rows", []) if row.get("target_key") == key]


def cell(measure: Any, render: Any) -> str:
    if measure is None:
        return "—"
    if not ok(measure):
        return f"**failed**: {short(measure['error'])}"
    return str(render(measure))


def short(text: str, limit: int = 140) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def rate(measure: Record) -> str:
    return f"{measure['ok_per_s']:,.0f}"


def share(ours: Any, base: Any) -> float | None:
    """Our throughput over the pass-through's, both measured in this run."""
    if ok(ours) and ok(base) and base["ok_per_s"] > 0:
        return float(ours["ok_per_s"] / base["ok_per_s"])
    return None


def rate_and_share(measure: Any, base: Any) -> str:
    fraction = share(measure, base)
    return cell(measure, rate) + (f" ({100 * fraction:.0f}%)" if fraction is not None else "")


def us_or_ms(value_ms: float) -> str:
    return f"{value_ms * 1000:,.1f} µs" if value_ms < 1 else f"{value_ms:.2f} ms"


def ms_field(measure: Any, key: str, field: str = "p50_ms") -> str:
    value = measure.get(key, {}).get(field) if isinstance(measure, dict) else None
    return f"{value:.2f}" if isinstance(value, (int, float)) else "—"


def at_least(measured: float | None, needed: float, text: str) -> str:
    if measured is None:
        return "not measured"
    if measured >= needed:
        return f"**met**: {text}"
    return f"**missed**: {text}; needs ×{needed / measured:.1f}" if measured > 0 else f"**missed**: {text}"


def at_most(measured: float | None, allowed: float, unit: str, text: str | None = None) -> str:
    if measured is None:
        return "not measured"
    shown = text or f"{measured:.2f} {unit}"
    if measured <= allowed:
        return f"**met**: {shown}"
    return f"**missed** by {measured - allowed:.2f} {unit} ({measured / allowed:.1f}× the limit): {shown}"
