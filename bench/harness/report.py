"""The report: a markdown table (latest.md and a dated copy), the chart, and the table in bench/README.md."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.cells import (
    Record,
    at_least,
    at_most,
    cell,
    ms,
    ok,
    rate,
    rate_and_share,
    rows,
    share,
    short,
    us_or_ms,
)
from harness.report_extras import restart_rates, scaling_section, tenants_section

README = Path(__file__).resolve().parent.parent / "README.md"
PROJECT_README = README.parent.parent / "README.md"  # the project's README carries the latest table too
README_START = "<!-- bench:results:start -->"
README_END = "<!-- bench:results:end -->"

# DESIGN.md §9 (issue 18), with auth, routing, governance and accounting on; per modelyard route where it differs.
# of the pass-through's, same run
THROUGHPUT_SHARE = {"system-redis": 0.7, "system-sqlite": 0.5, "custom": 0.8, "custom-governed": 0.8}
# At 1 connection, over the upstream's; a key with limits and a budget may add 0.1 ms to the custom route's (issue 16).
ADDED_P50_MS = {"system-redis": 0.5, "system-sqlite": 0.5, "custom": 0.3, "custom-governed": 0.4}
P99_OVER_PASSTHROUGH = 2.0  # p99 at 16 connections, as a multiple of the pass-through's in the same run
PSS_IDLE_MB = 110.0
STREAMS_RSS_MB = 180.0  # with 1,000 streams open
LIBRARY_OVERHEAD_US = 60.0  # p50 over a raw aiohttp call
LISTING_FIRST_MS = 20.0  # the first listing after a configuration change
LISTING_WARM_US = 10.0
RESTART_SHARE = 0.5  # tenants: calls per second in the first seconds after a restart, over warm


def write_reports(
    record: Record, results_json: Path, results_dir: Path, chart_python: Path | None, now: datetime
) -> list[Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y-%m-%d-%H%M")
    latest_md, latest_png = results_dir / "latest.md", results_dir / "latest.png"
    has_chart = chart_python is not None and _chart(chart_python, results_json, latest_png)
    markdown = render(record, chart="latest.png" if has_chart else None)
    latest_md.write_text(markdown)
    written = [latest_md]
    shutil.copyfile(latest_md, results_dir / f"{stamp}.md")
    if has_chart:
        shutil.copyfile(latest_png, results_dir / f"{stamp}.png")
        written.append(latest_png)
    # A run written elsewhere, or a quick one (a rough look), leaves the READMEs' tables alone.
    if results_dir.resolve() == README.parent / "results" and not record["settings"].get("quick"):
        for readme, chart in ((README, "results/latest.png"), (PROJECT_README, "bench/results/latest.png")):
            _update_readme(readme, render(record, chart=chart if has_chart else None, heading_level=3))
    return written


def _chart(python: Path, results_json: Path, png: Path) -> bool:
    chart = Path(__file__).resolve().parent / "chart.py"
    completed = subprocess.run([str(python), str(chart), str(results_json), str(png)], capture_output=True, text=True)
    if completed.returncode != 0:
        print(f"bench: the chart failed: {completed.stderr.strip()[-2000:]}")
    return completed.returncode == 0


def _update_readme(readme: Path, markdown: str) -> None:
    if not readme.exists():
        return
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return
    before, rest = text.split(README_START, 1)
    _, after = rest.split(README_END, 1)
    readme.write_text(f"{before}{README_START}\n{markdown}\n{README_END}{after}")


# --- values -------------------------------------------------------------------------------------------------


def _row_name(row: Record, versions: Record | None = None) -> str:
    versions = versions or {}
    names = {
        "passthrough": "pass-through (aiohttp)",
        "litellm": f"LiteLLM proxy {versions.get('litellm', '')}".strip(),
        "portkey": f"Portkey gateway {versions.get('portkey', '')} (Node {versions.get('node', '?')})",
        "modelyard": "modelyard",
    }
    return str(names.get(row["target_key"], row["target_key"]))


def _streams_rss(measure: Record) -> str:
    return f"{measure['rss_kib'] / 1024:.0f} MB"


def _added(row_measure: Any, direct: Any) -> float | None:
    if ok(row_measure) and ok(direct):
        return float(row_measure["p50_ms"] - direct["p50_ms"])
    return None


# --- verdicts -----------------------------------------------------------------------------------------------


def _targets(record: Record) -> list[str]:
    passthrough = next(iter(rows(record, "passthrough")), {})
    modelyard_rows = [row for row in rows(record, "modelyard") if "error" not in row]
    direct = record.get("upstream", {}).get("latency_1")
    streams_wanted = record["settings"]["streams"]
    if not modelyard_rows:
        return ["No modelyard route was measured in this run."]
    lines = [
        "| target (DESIGN §9) | needed | " + " | ".join(f"modelyard, {row['route']}" for row in modelyard_rows) + " |",
        "|---|---|" + "---|" * len(modelyard_rows),
    ]

    def per_route(table: dict[str, float], unit: str, scale: float = 1.0) -> str:
        return " / ".join(f"{table.get(row.get('route_key', ''), 0) * scale:g}{unit}" for row in modelyard_rows)

    def throughput(key: str) -> Callable[[Record], str]:
        def judge(row: Record) -> str:
            ours, base = row.get(key), passthrough.get(key)
            fraction = share(ours, base)
            if fraction is None or ours is None or base is None:
                return "not measured"
            needed = THROUGHPUT_SHARE.get(row.get("route_key", ""), 0.0)
            text = f"{100 * fraction:.0f}% ({ours['ok_per_s']:.0f} vs {base['ok_per_s']:.0f} req/s)"
            return at_least(fraction, needed, text)

        return judge

    def added(row: Record) -> str:
        value = _added(row.get("latency_1"), direct)
        return at_most(value, ADDED_P50_MS.get(row.get("route_key", ""), 0.0), "ms")

    def p99(row: Record) -> str:
        ours, base = row.get("latency_16"), passthrough.get("latency_16")
        if not (ok(ours) and ok(base)) or base["p99_ms"] <= 0:
            return "not measured"
        ratio = ours["p99_ms"] / base["p99_ms"]
        text = f"{ratio:.1f}× ({ms(ours['p99_ms'])} vs {ms(base['p99_ms'])} ms)"
        if ratio <= P99_OVER_PASSTHROUGH:
            return f"**met**: {text}"
        return f"**missed**: {text}; needs ÷{ratio / P99_OVER_PASSTHROUGH:.1f}"

    def pss(row: Record) -> str:
        if "pss_idle_mb" not in row:
            return "not measured"
        # PSS: a server's supervisor and its forked workers share pages, which a sum of RSS would count twice.
        count = row.get("processes", 1)
        text = f"{row['pss_idle_mb']:.0f} MB PSS of {count} process(es) (RSS sum {row['rss_idle_mb']:.0f} MB)"
        return at_most(row["pss_idle_mb"], PSS_IDLE_MB, "MB", text)

    def streams(row: Record) -> str:
        measure = row.get("streams")
        if not ok(measure):
            return cell(measure, str)
        text = f"{measure['rss_kib'] / 1024:.0f} MB RSS, {measure['opened']} of {measure['wanted']} open"
        if measure["opened"] < measure["wanted"]:
            return f"**missed**: {text}"
        return at_most(measure["rss_kib"] / 1024, STREAMS_RSS_MB, "MB", text)

    checks: list[tuple[str, str, Callable[[Record], str]]] = [
        (
            "throughput, JSON, vs pass-through",
            "≥ " + per_route(THROUGHPUT_SHARE, "%", 100),
            throughput("throughput_json"),
        ),
        (
            "throughput, streaming, vs pass-through",
            "≥ " + per_route(THROUGHPUT_SHARE, "%", 100),
            throughput("throughput_stream"),
        ),
        ("added p50 latency, 1 connection", "≤ " + per_route(ADDED_P50_MS, " ms"), added),
        ("p99 at 16 connections, vs pass-through's", f"≤ {P99_OVER_PASSTHROUGH:g}×", p99),
        ("memory idle (PSS)", f"≤ {PSS_IDLE_MB:g} MB", pss),
        (f"memory with {streams_wanted:,} streams open (RSS)", f"≤ {STREAMS_RSS_MB:g} MB", streams),
    ]
    for label, needed, judge in checks:
        lines.append(f"| {label} | {needed} | " + " | ".join(judge(row) for row in modelyard_rows) + " |")
    span = max(len(modelyard_rows) - 1, 0)
    library = record.get("library", {}).get("modelyard")
    if library is not None:
        if ok(library):
            results = library["results"]
            overhead = results["modelyard"]["p50_us"] - results["raw_aiohttp"]["p50_us"]
            mean_overhead = results["modelyard"]["mean_us"] - results["raw_aiohttp"]["mean_us"]
            text = f"{overhead:.0f} µs at p50 (mean {mean_overhead:.0f} µs)"
            verdict = at_most(overhead, LIBRARY_OVERHEAD_US, "µs", text)
        else:
            verdict = cell(library, str)
        lines.append(
            f"| library overhead per call (no route: `Runtime`) | ≤ {LIBRARY_OVERHEAD_US:g} µs | {verdict} |"
            + " |" * span
        )
    listing = record.get("listing")
    if listing is not None:
        if ok(listing):
            first = at_most(listing["first_ms"], LISTING_FIRST_MS, "ms", f"{listing['first_ms']:.1f} ms")
            warm_us = listing["mean_ms"] * 1000
            warm = at_most(
                warm_us, LISTING_WARM_US, "µs", f"{warm_us:,.1f} µs mean, p99 {listing['p99_ms'] * 1000:,.1f} µs"
            )
        else:
            first = warm = cell(listing, str)
        lines.append(
            f"| providers + models listing, first call after a change | ≤ {LISTING_FIRST_MS:g} ms | {first} |"
            + " |" * span
        )
        lines.append(f"| providers + models listing, warm | ≤ {LISTING_WARM_US:g} µs | {warm} |" + " |" * span)
    restart = record.get("tenants", {}).get("restart")
    if isinstance(restart, dict) and "skipped" not in restart:
        cold_per_s, warm_per_s = restart_rates(restart)
        if cold_per_s is not None and warm_per_s:
            fraction = cold_per_s / warm_per_s
            workspaces = restart.get("workspaces", "?")
            text = f"{100 * fraction:.0f}% ({cold_per_s:,.0f} vs {warm_per_s:,.0f} calls/s, {workspaces} workspaces)"
            verdict = at_least(fraction, RESTART_SHARE, text)
        else:
            verdict = cell(restart, lambda m: "not measured")
        lines.append(
            f"| first seconds after a restart, vs warm (tenants) | ≥ {100 * RESTART_SHARE:.0f}% | {verdict} |"
            + " |" * span
        )
    lines += [
        "",
        "Routes: *system* calls a hosted provider, so each call reserves and settles hosted quota: with *Redis* (a "
        "private one on the load core, as several replicas would share it) the reservation is a Redis script; "
        "with *SQLite, no Redis* (what `make run` sets up) it is a database write. The ledger is written in "
        "batches either way. *custom* uses the workspace's own credentials (beside Redis, as before). All record "
        "usage. Each modelyard route runs one worker (`serve --workers 1`) on core 0; throughput and p99 are "
        "compared with the pass-through's on the same core in the same run.",
    ]
    return lines


# --- tables -------------------------------------------------------------------------------------------------


def _throughput(record: Record) -> list[str]:
    lines = [
        "| target | route | JSON req/s (of pass-through) | streaming req/s (of pass-through) "
        "| target CPU, JSON / streaming | checked with |",
        "|---|---|---:|---:|---|---|",
    ]
    upstream = record.get("upstream", {})
    versions = record.get("versions", {})
    passthrough = next(iter(rows(record, "passthrough")), {})
    for row in record.get("rows", []):
        name = _row_name(row, versions)
        if "error" in row:
            lines.append(f"| {name} | {row['route']} | **failed**: {short(row['error'])} | | | |")
            continue
        json_, stream = row.get("throughput_json"), row.get("throughput_stream")
        cpu = " / ".join(f"{m['target_cpu_pct']:.0f}%" if ok(m) else "—" for m in (json_, stream))
        lines.append(
            f"| {name} | {row['route']} | {rate_and_share(json_, passthrough.get('throughput_json'))} | "
            f"{rate_and_share(stream, passthrough.get('throughput_stream'))} | {cpu} | {row.get('checked', '')} |"
        )
    capacity = [upstream.get("capacity_json"), upstream.get("capacity_stream")]
    lines.append(
        f"| fake upstream (nginx), wrk on the other core | — | {cell(capacity[0], rate)} | "
        f"{cell(capacity[1], rate)} | — | its capacity: never the bottleneck |"
    )
    return lines


def _latency(record: Record) -> list[str]:
    connections = record["settings"]["latency_connections"]
    head = "| target | route | " + " | ".join(f"p50 / p90 / p99 at {c} | added p50 at {c}" for c in connections) + " |"
    lines = [head, "|---|---|" + "---:|---:|" * len(connections)]
    upstream = record.get("upstream", {})

    def cells(row: Record, is_direct: bool = False) -> str:
        parts = []
        for c in connections:
            measure = row.get(f"latency_{c}")
            parts.append(cell(measure, lambda m: f"{ms(m['p50_ms'])} / {ms(m['p90_ms'])} / {ms(m['p99_ms'])}"))
            added = _added(measure, upstream.get(f"latency_{c}"))
            parts.append("—" if is_direct else f"{added:+.2f}" if added is not None else "—")
        return " | ".join(parts)

    lines.append(f"| upstream directly (nginx) | — | {cells(upstream, is_direct=True)} |")
    versions = record.get("versions", {})
    for row in record.get("rows", []):
        if "error" not in row:
            lines.append(f"| {_row_name(row, versions)} | {row['route']} | {cells(row)} |")
    return lines


def _memory(record: Record) -> list[str]:
    wanted = record["settings"]["streams"]
    lines = [
        f"| target | route | RSS idle | PSS idle | RSS after the load runs | RSS with {wanted} streams open "
        "| streams opened (time to open) |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in record.get("rows", []):
        if "error" in row:
            continue
        streams = row.get("streams")

        def opened(m: Record) -> str:
            text = f"{m['opened']} of {m['wanted']} ({m['open_s']:.1f} s)"
            return text + (f"; {m['failed']} failed: {short(m['first_error'], 100)}" if m["failed"] else "")

        count = row.get("processes", 1)
        lines.append(
            f"| {_row_name(row, record.get('versions', {}))} | {row['route']} | {row.get('rss_idle_mb', 0):.0f} MB"
            f"{f' ({count} processes)' if count > 1 else ''} | {row.get('pss_idle_mb', 0):.0f} MB | "
            f"{row.get('rss_after_load_mb', 0):.0f} MB | {cell(streams, _streams_rss)} | "
            f"{cell(streams, opened)} |"
        )
    return lines


def _library(record: Record) -> list[str]:
    lines = [
        "| client (same process, same loop) | mean µs | p50 µs | p99 µs | overhead over raw aiohttp: mean / p50 |",
        "|---|---:|---:|---:|---:|",
    ]
    labels = {"modelyard": "modelyard `Runtime.chat`", "litellm": "`litellm.acompletion`"}
    for key, label in labels.items():
        if key not in record.get("library", {}):
            continue
        measure = record["library"][key]
        if not ok(measure):
            lines.append(f"| {label} | {cell(measure, str)} | | | |")
            continue
        raw, lib = measure["results"]["raw_aiohttp"], measure["results"][key]
        lines.append(
            f"| {label} | {lib['mean_us']:,.0f} | {lib['p50_us']:,.0f} | {lib['p99_us']:,.0f} | "
            f"{lib['mean_us'] - raw['mean_us']:+,.0f} / {lib['p50_us'] - raw['p50_us']:+,.0f} |"
        )
        lines.append(
            f"| raw aiohttp, beside {label} | {raw['mean_us']:,.0f} | {raw['p50_us']:,.0f} | {raw['p99_us']:,.0f} | — |"
        )
    return lines


def _listing(record: Record) -> list[str]:
    listing = record.get("listing")
    if not ok(listing):
        return [f"Listing: {cell(listing, str)}"]
    return [
        "| providers | models | credentials + custom models | first call after a change | mean (warm) | p50 | p99 "
        "| runs |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {listing['providers']} | {listing['models']} | {listing['credentials']} + {listing['custom_models']} | "
        f"{listing['first_ms']:.1f} ms | {us_or_ms(listing['mean_ms'])} | {us_or_ms(listing['p50_ms'])} | "
        f"{us_or_ms(listing['p99_ms'])} | {listing['runs']} |",
    ]


_OPTIONAL_SECTIONS = {
    "library overhead": "library",
    "listing a": "listing",
    "scale-out": "scaling",
    "tenants:": "tenants",
}


def render(record: Record, *, chart: str | None, heading_level: int = 1) -> str:
    h = "#" * heading_level
    settings, machine = record["settings"], record["machine"]
    versions = record.get("versions", {})
    load_start, load_end = record.get("load_average_start"), record.get("load_average_end")
    check_start, check_end = record.get("cpu_check_ms_start"), record.get("cpu_check_ms_end")
    lines = [
        f"{h} modelyard benchmark, {record['date'][:16].replace('T', ' ')} UTC",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, Linux {machine['kernel']}, Python {machine['python']}. "
        f"Each target pinned to core 0 (one process or one worker); wrk, the fake upstreams and the stream client "
        f"on core 1. "
        f"Each wrk run {settings['duration_s']:g} s after a {settings['warmup_s']:g} s warm-up"
        f"{' (quick mode)' if settings.get('quick') else ''}"
        f"{'; modelyard sampled by py-spy during its throughput runs (--profile)' if settings.get('profile') else ''}"
        f"; throughput at {settings['connections']} connections, "
        f"streams of {settings['chunks']} chunks; only 2xx answers count, and a run with any error is marked failed.",
        "",
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + ". "
        + (
            f"Load average at start {load_start[0]:.2f}, at end {load_end[0]:.2f} "
            "(anything else running on the machine shows in the figures). "
            if load_start and load_end
            else ""
        )
        + (
            f"CPU check (a fixed Python loop on core 0, best of 5): {check_start:.0f} ms at start, "
            f"{check_end:.0f} ms at end."
            if check_start and check_end
            else ""
        ),
        "",
    ]
    if chart:
        lines += [f"![benchmark chart]({chart})", ""]
    sections = [
        ("Targets", _targets(record)),
        ("Throughput", _throughput(record)),
        ("Latency, non-streaming chat (ms; added = p50 minus the upstream's own p50)", _latency(record)),
        ("Memory (summed over the target's process tree: VmRSS, and PSS from smaps_rollup)", _memory(record)),
        (
            f"Library overhead per chat call ({settings['library_calls']} sequential warm calls each, plain asyncio)",
            _library(record),
        ),
        (
            "Listing a workspace's providers and models "
            "(whole catalog, `services.providers.list` + `services.models.list`)",
            _listing(record),
        ),
        (
            "Scale-out: modelyard with 1 and 2 workers (extra measure, both cores shared with the load)",
            scaling_section(record),
        ),
        ("Tenants: what a workspace costs (issue 13)", tenants_section(record)),
    ]
    sections = [
        (title, body)
        for title, body in sections
        if not any(word in title.lower() and key not in record for word, key in _OPTIONAL_SECTIONS.items())
    ]
    for title, body in sections:
        lines += [f"{h}# {title}", "", *body, ""]
    failures = record.get("failures", [])
    if failures:
        lines += [f"{h}# Failures", "", *(f"- {short(f, 400)}" for f in failures), ""]
    lines.append(f"Run time: {record.get('elapsed_s', 0) / 60:.1f} min.")
    return "\n".join(lines) + "\n"
