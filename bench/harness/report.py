"""The report: a markdown table (latest.md and a dated copy), the chart, and the table in bench/README.md."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeGuard

Record = dict[str, Any]
README = Path(__file__).resolve().parent.parent / "README.md"
PROJECT_README = README.parent.parent / "README.md"  # the project's README carries the latest table too
README_START = "<!-- bench:results:start -->"
README_END = "<!-- bench:results:end -->"

# DESIGN.md §9, with auth, routing and accounting on.
THROUGHPUT_SHARE = 0.5
ADDED_P50_MS = 0.5
LIBRARY_OVERHEAD_US = 150.0
RSS_IDLE_MB = 150.0
LISTING_MS = 10.0


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
    if results_dir.resolve() == README.parent / "results":  # a run written elsewhere leaves the READMEs alone
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


def _ok(measure: Any) -> TypeGuard[Record]:
    return isinstance(measure, dict) and "error" not in measure


def _rows(record: Record, key: str) -> list[Record]:
    return [row for row in record.get("rows", []) if row.get("target_key") == key]


def _row_name(row: Record) -> str:
    names = {"passthrough": "pass-through (aiohttp)", "litellm": "LiteLLM proxy 1.105", "modelyard": "modelyard"}
    return str(names.get(row["target_key"], row["target_key"]))


def _cell(measure: Any, render: Any) -> str:
    if measure is None:
        return "—"
    if not _ok(measure):
        return f"**failed**: {_short(measure['error'])}"
    return str(render(measure))


def _short(text: str, limit: int = 140) -> str:
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _rate(measure: Record) -> str:
    return f"{measure['ok_per_s']:,.0f}"


def _streams_rss(measure: Record) -> str:
    return f"{measure['rss_kib'] / 1024:.0f} MB"


def _added(row_measure: Any, direct: Any) -> float | None:
    if _ok(row_measure) and _ok(direct):
        return float(row_measure["p50_ms"] - direct["p50_ms"])
    return None


# --- verdicts -----------------------------------------------------------------------------------------------


def _at_least(measured: float | None, needed: float, text: str) -> str:
    if measured is None:
        return "not measured"
    if measured >= needed:
        return f"**met**: {text}"
    return f"**missed**: {text}; needs ×{needed / measured:.1f}" if measured > 0 else f"**missed**: {text}"


def _at_most(measured: float | None, allowed: float, unit: str, text: str | None = None) -> str:
    if measured is None:
        return "not measured"
    shown = text or f"{measured:.2f} {unit}"
    if measured <= allowed:
        return f"**met**: {shown}"
    return f"**missed** by {measured - allowed:.2f} {unit} ({measured / allowed:.1f}× the limit): {shown}"


def _targets(record: Record) -> list[str]:
    passthrough = next(iter(_rows(record, "passthrough")), {})
    modelyard_rows = _rows(record, "modelyard")
    direct = record.get("upstream", {}).get("latency_1")
    lines = [
        "| target (DESIGN §9) | needed | " + " | ".join(f"modelyard, {row['route']}" for row in modelyard_rows) + " |",
        "|---|---|" + "---|" * len(modelyard_rows),
    ]

    def share(row: Record, key: str) -> str:
        ours, base = row.get(key), passthrough.get(key)
        if not (_ok(ours) and _ok(base)) or base["ok_per_s"] <= 0:
            return "not measured"
        ratio = ours["ok_per_s"] / base["ok_per_s"]
        text = f"{100 * ratio:.0f}% ({ours['ok_per_s']:.0f} vs {base['ok_per_s']:.0f} req/s)"
        return _at_least(ratio, THROUGHPUT_SHARE, text)

    def added(row: Record) -> str:
        value = _added(row.get("latency_1"), direct)
        return _at_most(value, ADDED_P50_MS, "ms")

    def rss(row: Record) -> str:
        if "rss_idle_mb" not in row:
            return "not measured"
        if row.get("processes", 1) == 1:
            return _at_most(row["rss_idle_mb"], RSS_IDLE_MB, "MB", f"{row['rss_idle_mb']:.0f} MB")
        # Several processes (a server's supervisor and its forked workers): RSS would count shared pages twice.
        text = f"{row['pss_idle_mb']:.0f} MB PSS of {row['processes']} processes (RSS sum {row['rss_idle_mb']:.0f} MB)"
        return _at_most(row["pss_idle_mb"], RSS_IDLE_MB, "MB", text)

    checks: list[tuple[str, str, Callable[[Record], str]]] = [
        ("throughput, JSON, vs pass-through", "≥ 50%", lambda row: share(row, "throughput_json")),
        ("throughput, streaming, vs pass-through", "≥ 50%", lambda row: share(row, "throughput_stream")),
        ("added p50 latency, 1 connection", "≤ 0.5 ms", added),
        ("memory idle", "≤ 150 MB", rss),
    ]
    for label, needed, judge in checks:
        lines.append(f"| {label} | {needed} | " + " | ".join(judge(row) for row in modelyard_rows) + " |")
    span = len(modelyard_rows) - 1
    library = record.get("library", {}).get("modelyard")
    if _ok(library):
        results = library["results"]
        overhead = results["modelyard"]["p50_us"] - results["raw_aiohttp"]["p50_us"]
        mean_overhead = results["modelyard"]["mean_us"] - results["raw_aiohttp"]["mean_us"]
        text = f"{overhead:.0f} µs at p50 (mean {mean_overhead:.0f} µs)"
        verdict = _at_most(overhead, LIBRARY_OVERHEAD_US, "µs", text)
    else:
        verdict = _cell(library, str)
    lines.append(f"| library overhead per call (no route: `Runtime`) | ≤ 150 µs | {verdict} |" + " |" * span)
    listing = record.get("listing")
    if _ok(listing):
        text = f"{listing['mean_ms']:.2f} ms mean, {listing['p99_ms']:.2f} ms p99"
        verdict = _at_most(listing["mean_ms"], LISTING_MS, "ms", text)
    else:
        verdict = _cell(listing, str)
    lines.append(f"| providers + models listing, whole catalog | ≤ 10 ms | {verdict} |" + " |" * span)
    lines += [
        "",
        "Routes: *system* calls a hosted provider, so each call reserves and settles hosted quota (in a private "
        "Redis on the load core, as several replicas would share it; the database ledger is written in batches); "
        "*custom* uses the workspace's own credentials. Both record usage. Throughput is compared with the "
        "pass-through's on the same core in the same run.",
    ]
    return lines


# --- tables -------------------------------------------------------------------------------------------------


def _throughput(record: Record) -> list[str]:
    lines = [
        "| target | route | JSON req/s | streaming req/s | target CPU, JSON / streaming | checked with |",
        "|---|---|---:|---:|---|---|",
    ]
    upstream = record.get("upstream", {})
    for row in record.get("rows", []):
        if "error" in row:
            lines.append(f"| {_row_name(row)} | {row['route']} | **failed**: {_short(row['error'])} | | | |")
            continue
        json_, stream = row.get("throughput_json"), row.get("throughput_stream")
        cpu = " / ".join(f"{m['target_cpu_pct']:.0f}%" if _ok(m) else "—" for m in (json_, stream))
        lines.append(
            f"| {_row_name(row)} | {row['route']} | {_cell(json_, _rate)} | "
            f"{_cell(stream, _rate)} | {cpu} | {row.get('checked', '')} |"
        )
    capacity = [upstream.get("capacity_json"), upstream.get("capacity_stream")]
    lines.append(
        f"| fake upstream (nginx), wrk on the other core | — | {_cell(capacity[0], _rate)} | "
        f"{_cell(capacity[1], _rate)} | — | its capacity: never the bottleneck |"
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
            parts.append(_cell(measure, lambda m: f"{_ms(m['p50_ms'])} / {_ms(m['p90_ms'])} / {_ms(m['p99_ms'])}"))
            added = _added(measure, upstream.get(f"latency_{c}"))
            parts.append("—" if is_direct else f"{added:+.2f}" if added is not None else "—")
        return " | ".join(parts)

    lines.append(f"| upstream directly (nginx) | — | {cells(upstream, is_direct=True)} |")
    for row in record.get("rows", []):
        if "error" not in row:
            lines.append(f"| {_row_name(row)} | {row['route']} | {cells(row)} |")
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
            return text + (f"; {m['failed']} failed: {_short(m['first_error'], 100)}" if m["failed"] else "")

        count = row.get("processes", 1)
        lines.append(
            f"| {_row_name(row)} | {row['route']} | {row.get('rss_idle_mb', 0):.0f} MB"
            f"{f' ({count} processes)' if count > 1 else ''} | {row.get('pss_idle_mb', 0):.0f} MB | "
            f"{row.get('rss_after_load_mb', 0):.0f} MB | {_cell(streams, _streams_rss)} | "
            f"{_cell(streams, opened)} |"
        )
    return lines


def _library(record: Record) -> list[str]:
    lines = [
        "| client (same process, same loop) | mean µs | p50 µs | p99 µs | overhead over raw aiohttp: mean / p50 |",
        "|---|---:|---:|---:|---:|",
    ]
    labels = {"modelyard": "modelyard `Runtime.chat`", "litellm": "`litellm.acompletion`"}
    for key, label in labels.items():
        measure = record.get("library", {}).get(key)
        if not _ok(measure):
            lines.append(f"| {label} | {_cell(measure, str)} | | | |")
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
    if not _ok(listing):
        return [f"Listing: {_cell(listing, str)}"]
    return [
        "| providers | models | credentials + custom models | first call after a change | mean (warm) | p50 | p99 "
        "| runs |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {listing['providers']} | {listing['models']} | {listing['credentials']} + {listing['custom_models']} | "
        f"{listing['first_ms']:.1f} ms | {listing['mean_ms']:.2f} ms | {listing['p50_ms']:.2f} ms | "
        f"{listing['p99_ms']:.2f} ms | {listing['runs']} |",
    ]


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
        f"Each target pinned to core 0; wrk, the fake upstreams and the stream client on core 1. "
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
    ]
    for title, body in sections:
        lines += [f"{h}# {title}", "", *body, ""]
    failures = record.get("failures", [])
    if failures:
        lines += [f"{h}# Failures", "", *(f"- {_short(f, 400)}" for f in failures), ""]
    lines.append(f"Run time: {record.get('elapsed_s', 0) / 60:.1f} min.")
    return "\n".join(lines) + "\n"
