"""The report's sections for the measures beside the pinned targets: scale-out (1 → 2 workers) and tenants."""

from __future__ import annotations

from typing import Any

from harness.cells import Record, cell, ms_field, ok, rate, share, short


def scaling_section(record: Record) -> list[str]:
    rows = record.get("scaling") or []
    lines = [
        "Not the bench's rule of one core each: modelyard may run on both cores (`taskset -c 0,1`) while wrk, "
        "nginx and the slow fake stay on core 1, so with 2 workers the second shares its core with the load "
        "generator and the fake. On this 2-core machine the gain is a lower bound of what a second core adds "
        "on a host where the load comes from elsewhere.",
        "",
        "| route | workers | processes | JSON req/s | streaming req/s | vs 1 worker, JSON / streaming "
        "| CPU of the tree, JSON / streaming |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    first: dict[str, Record] = {}
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['route']} | {row['workers']} | **failed**: {short(row['error'])} | | | | |")
            continue
        json_, stream = row.get("throughput_json"), row.get("throughput_stream")
        base = first.setdefault(row["route_key"], row)
        gains = []
        for key in ("throughput_json", "throughput_stream"):
            gain = share(row.get(key), base.get(key))
            gains.append(f"×{gain:.2f}" if gain is not None else "—")
        cpu = " / ".join(f"{m['target_cpu_pct']:.0f}%" if ok(m) else "—" for m in (json_, stream))
        lines.append(
            f"| {row['route']} | {row['workers']} | {row.get('processes', '—')} | {cell(json_, rate)} | "
            f"{cell(stream, rate)} | {' / '.join(gains)} | {cpu} |"
        )
    return lines


def restart_rates(restart: Any) -> tuple[float | None, float | None]:
    """Calls per second cold (just after a restart) and warm, from either shape harness/tenants.py has printed."""
    if not ok(restart):
        return None, None
    cold = restart.get("cold_calls_per_s", (restart.get("cold") or {}).get("ok_per_s"))
    warm = restart.get("warm_calls_per_s", (restart.get("warm") or {}).get("ok_per_s"))
    return cold, warm


def tenants_section(record: Record) -> list[str]:
    tenants = record.get("tenants", {})
    if "skipped" in tenants:
        return [f"Not run: {tenants['skipped']}."]
    lines = [
        f"On core 0 (`harness/tenants.py`), SQLite, {tenants.get('workspaces', '?')} workspaces, each with an API key "
        "and a credential.",
        "",
    ]
    first = tenants.get("first-call")
    created = first.get("populate", {}) if ok(first) else {}
    if created.get("created"):
        lines += [
            f"Creating them ({created['created']}): {ms_field(created, 'create')} ms p50, "
            f"{ms_field(created, 'create', 'p99_ms')} ms p99; longest event-loop stall while one was created "
            f"{ms_field(created, 'create_loop_stall')} ms p50, {ms_field(created, 'create_loop_stall', 'max_ms')} ms "
            "max.",
            "",
        ]
    if first is not None:
        lines += [
            "| a workspace's snapshot, built | wall p50 / p99 / max ms | loop-thread CPU p50 / p99 ms "
            "| longest loop stall p50 / max ms |",
            "|---|---:|---:|---:|",
        ]
        if not ok(first):
            lines.append(f"| first call after a restart | {cell(first, str)} | | |")
        for key, label in (("first_call", "first call after a restart"), ("rebuild", "rebuild after a change")):
            if ok(first) and key in first:
                m = first[key]
                lines.append(
                    f"| {label} | {ms_field(m, 'wall')} / {ms_field(m, 'wall', 'p99_ms')} / "
                    f"{ms_field(m, 'wall', 'max_ms')} | {ms_field(m, 'loop_thread_cpu')} / "
                    f"{ms_field(m, 'loop_thread_cpu', 'p99_ms')} | {ms_field(m, 'longest_loop_stall')} / "
                    f"{ms_field(m, 'longest_loop_stall', 'max_ms')} |"
                )
        lines.append("")
    memory = tenants.get("memory")
    if memory is not None:
        if ok(memory):
            lines.append(
                f"Memory per loaded workspace ({memory.get('workspaces', '?')} loaded): "
                f"{memory.get('traced_bytes_per_workspace', 0) / 1024:,.1f} KiB traced by tracemalloc, "
                f"{memory.get('rss_bytes_per_workspace', 0) / 1024:,.1f} KiB of RSS."
            )
        else:
            lines.append(f"Memory per workspace: {cell(memory, str)}")
        lines.append("")
    restart = tenants.get("restart")
    if restart is not None:
        cold, warm = restart_rates(restart)
        if cold is not None and warm:
            text = (
                f"After a restart: {cold:,.0f} calls/s in the first {restart.get('seconds', '?')} s, {warm:,.0f} "
                f"warm ({100 * cold / warm:.0f}%), {restart.get('concurrency', '?')} in flight"
            )
            stalls = [restart.get(f"{phase}_longest_loop_stall_ms") for phase in ("cold", "warm")]
            if all(isinstance(stall, (int, float)) for stall in stalls):
                text += f"; longest loop stall {stalls[0]:.1f} ms cold, {stalls[1]:.1f} ms warm"
            lines.append(text + ".")
        else:
            lines.append(f"After a restart: {cell(restart, lambda m: 'not measured')}")
        lines.append("")
    check = tenants.get("version-check")
    if check is not None:
        if "skipped" in check:
            lines.append(f"Version check: not run ({check['skipped']}).")
        elif not ok(check):
            lines.append(f"Version check: {cell(check, str)}")
        else:
            lines += [
                "| version check (PostgreSQL), cached workspaces | idle ms | after writes ms |",
                "|---:|---:|---:|",
            ]
            for row in check.values():
                if not (isinstance(row, dict) and "cached" in row):
                    continue
                if "error" in row:
                    lines.append(f"| {row['cached']:,} | **failed**: {short(row['error'])} | |")
                    continue
                lines.append(
                    f"| {row['cached']:,} | {row.get('idle_ms', '—')} | {row.get('after_writes_ms', '—')} "
                    f"({row.get('writes', '?')} writes) |"
                )
    return lines
