"""The chart: `python chart.py results.json out.png`, run in bench/.venv-tools (matplotlib is no project dependency).

Dashed green lines are modelyard's targets (DESIGN §9); where a target differs by route, the line is the custom
route's (the strictest) and the report's Targets table judges each route against its own.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TypeGuard

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {"passthrough": "#6b7280", "litellm": "#d97706", "portkey": "#9333ea", "modelyard": "#2563eb"}
ROUTE_LABELS = {"system-redis": "system\nRedis", "system-sqlite": "system\nSQLite", "custom": "custom"}
CUSTOM_THROUGHPUT_SHARE = 0.8
CUSTOM_ADDED_P50_MS = 0.3
PSS_IDLE_MB = 110
STREAMS_RSS_MB = 180
LIBRARY_OVERHEAD_US = 60


def _ok(measure: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(measure, dict) and "error" not in measure


def _label(row: dict[str, Any]) -> str:
    names = {"passthrough": "pass-through", "litellm": "LiteLLM", "portkey": "Portkey", "modelyard": "modelyard"}
    name = names.get(row["target_key"], row["target_key"])
    if row["target_key"] == "modelyard":
        return f"{name}\n{ROUTE_LABELS.get(row.get('route_key', ''), row['route'].split(' (')[0])}"
    return name


def _bars(
    axis: Any, rows: list[dict[str, Any]], values: list[float | None], title: str, unit: str, goal: float | None = None
) -> None:
    labels = [_label(row) for row in rows]
    heights = [v if v is not None else 0 for v in values]
    bars = axis.bar(labels, heights, color=[COLOURS.get(row["target_key"], "#999") for row in rows])
    for bar, value in zip(bars, values, strict=True):
        text = "failed" if value is None else f"{value:,.0f}" if value >= 10 else f"{value:.2f}"
        axis.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)
    axis.set_title(title, fontsize=10)
    axis.set_ylabel(unit)
    axis.tick_params(axis="x", labelsize=7)
    if goal is not None:
        axis.axhline(goal, color="#16a34a", linestyle="--", linewidth=1)  # modelyard's target, DESIGN §9


def _share_of_passthrough(rows: list[dict[str, Any]], key: str) -> float | None:
    base = next((r.get(key) for r in rows if r["target_key"] == "passthrough"), None)
    return base["ok_per_s"] * CUSTOM_THROUGHPUT_SHARE if _ok(base) else None


def main() -> None:
    with open(sys.argv[1]) as file:
        record = json.load(file)
    rows = [row for row in record.get("rows", []) if "error" not in row]
    figure, axes = plt.subplots(2, 3, figsize=(17, 8))

    def value(row: dict[str, Any], key: str, field: str) -> float | None:
        measure = row.get(key)
        return float(measure[field]) if _ok(measure) else None

    _bars(
        axes[0][0],
        rows,
        [value(r, "throughput_json", "ok_per_s") for r in rows],
        "Throughput, JSON (64 conns); target (custom) ≥ 80% of pass-through",
        "req/s",
        _share_of_passthrough(rows, "throughput_json"),
    )
    _bars(
        axes[0][1],
        rows,
        [value(r, "throughput_stream", "ok_per_s") for r in rows],
        f"Throughput, streaming {record['settings']['chunks']} chunks (64 conns)",
        "req/s",
        _share_of_passthrough(rows, "throughput_stream"),
    )
    direct = record.get("upstream", {}).get("latency_1")
    added = [
        value(r, "latency_1", "p50_ms") - direct["p50_ms"] if _ok(direct) and _ok(r.get("latency_1")) else None
        for r in rows
    ]
    _bars(
        axes[0][2], rows, added, "Added p50 latency, 1 connection (target ≤ 0.3 ms custom)", "ms", CUSTOM_ADDED_P50_MS
    )
    idle = [r.get("pss_idle_mb") for r in rows]
    _bars(axes[1][0], rows, idle, f"Memory idle, PSS (target ≤ {PSS_IDLE_MB} MB)", "MB", PSS_IDLE_MB)
    streams = [r["streams"]["rss_kib"] / 1024 if _ok(r.get("streams")) else None for r in rows]
    wanted = record["settings"]["streams"]
    _bars(
        axes[1][1],
        rows,
        streams,
        f"RSS with {wanted} streams open (target ≤ {STREAMS_RSS_MB} MB)",
        "MB",
        STREAMS_RSS_MB,
    )
    library = record.get("library", {})
    names, overheads, colours = [], [], []
    for key in ("modelyard", "litellm"):
        measure = library.get(key)
        if _ok(measure):
            results = measure["results"]
            names.append(key)
            overheads.append(results[key]["p50_us"] - results["raw_aiohttp"]["p50_us"])
            colours.append(COLOURS[key])
    axis = axes[1][2]
    if not names:
        axis.text(0.5, 0.5, "not measured in this run", ha="center", va="center", transform=axis.transAxes)
    bars = axis.bar(names, overheads, color=colours)
    for bar, overhead in zip(bars, overheads, strict=True):
        axis.annotate(
            f"{overhead:,.0f}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    axis.set_title("Library overhead per call, p50 over raw aiohttp", fontsize=10)
    axis.axhline(LIBRARY_OVERHEAD_US, color="#16a34a", linestyle="--", linewidth=1)
    axis.set_ylabel("µs")
    machine = record["machine"]
    figure.text(0.01, 0.005, "dashed green: modelyard's target (DESIGN §9)", fontsize=8, color="#16a34a")
    figure.suptitle(
        f"modelyard benchmark, {record['date'][:16].replace('T', ' ')} UTC — {machine['cpu']}, one core per target",
        fontsize=12,
    )
    figure.tight_layout()
    figure.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
