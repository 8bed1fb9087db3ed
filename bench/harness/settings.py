"""What one run measures and for how long; `--quick` trades precision for a run of a few minutes."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from pathlib import Path

TARGET_NAMES = ("passthrough", "modelyard", "litellm", "portkey")
# Measures beside the pinned targets, each of which --skip can leave out.
EXTRA_NAMES = ("library", "listing", "scaling", "tenants")


@dataclass(frozen=True)
class RunSettings:
    duration_s: float = 10.0  # each measured wrk run
    warmup_s: float = 2.0  # an unmeasured wrk run before each measured one
    connections: int = 64  # for throughput
    latency_connections: tuple[int, ...] = (1, 16)
    chunks: int = 8  # SSE chunks per streamed answer of the fast fake
    streams: int = 1000  # concurrent streams held open for the memory measure
    # The slow upstream's pace while it holds a stream: slow enough that relaying it does not saturate a target
    # (at 0.1 s, 1,000 streams are 10,000 chunks/s and LiteLLM opened only 164 in 120 s).
    stream_interval_s: float = 5.0
    stream_open_timeout_s: float = 180.0
    library_calls: int = 2000
    library_warmup: int = 200
    listing_runs: int = 500
    tenant_workspaces: int = 200  # the tenants measures: workspaces populated (each a key pair: seconds per 10)
    targets: tuple[str, ...] = TARGET_NAMES
    extras: tuple[str, ...] = EXTRA_NAMES
    results_dir: Path = Path(__file__).resolve().parent.parent / "results"
    quick: bool = False
    profile: bool = False  # py-spy on modelyard during its throughput runs (costs it a little CPU)


QUICK = {
    "duration_s": 4.0,
    "warmup_s": 1.0,
    "streams": 1000,
    "library_calls": 500,
    "library_warmup": 100,
    "listing_runs": 100,
    "tenant_workspaces": 50,
}


def parse_settings(argv: list[str] | None = None) -> RunSettings:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description="modelyard's benchmark against a bare pass-through, LiteLLM's proxy and Portkey's gateway.",
    )
    parser.add_argument("--quick", action="store_true", help="short runs (a few minutes in all)")
    parser.add_argument("--duration", type=float, help="seconds per measured wrk run (default 10; quick 4)")
    parser.add_argument("--warmup", type=float, help="seconds of unmeasured wrk before each run (default 2; quick 1)")
    parser.add_argument("--connections", type=int, help="connections for throughput (default 64)")
    parser.add_argument("--chunks", type=int, help="SSE chunks per streamed answer (default 8)")
    parser.add_argument("--streams", type=int, help="streams held open for the memory measure (default 1000)")
    parser.add_argument("--stream-interval", type=float, help="seconds between the slow upstream's chunks (default 5)")
    parser.add_argument("--library-calls", type=int, help="measured calls per library (default 2000; quick 500)")
    parser.add_argument("--listing-runs", type=int, help="timed listings (default 500; quick 100)")
    parser.add_argument(
        "--tenant-workspaces", type=int, help="workspaces for the tenants measures (default 200; quick 50)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy modelyard's throughput runs (results/raw/<time>/profile-*)"
    )
    parser.add_argument("--targets", help=f"comma-separated subset of {','.join(TARGET_NAMES)}")
    parser.add_argument("--skip", help=f"comma-separated measures to leave out: {','.join(EXTRA_NAMES)}")
    parser.add_argument("--results-dir", type=Path, help="where latest.md/png go (default bench/results)")
    args = parser.parse_args(argv)
    values: dict[str, object] = dict(QUICK) if args.quick else {}
    values["quick"] = args.quick
    values["profile"] = args.profile
    renamed = {
        "duration": "duration_s",
        "warmup": "warmup_s",
        "stream_interval": "stream_interval_s",
    }
    for name in (
        "duration",
        "warmup",
        "connections",
        "chunks",
        "streams",
        "stream_interval",
        "library_calls",
        "listing_runs",
        "tenant_workspaces",
        "results_dir",
    ):
        value = getattr(args, name)
        if value is not None:
            values[renamed.get(name, name)] = value
    if args.targets:
        chosen = tuple(t.strip() for t in args.targets.split(",") if t.strip())
        unknown = set(chosen) - set(TARGET_NAMES)
        if unknown:
            parser.error(f"unknown target(s): {', '.join(sorted(unknown))}")
        values["targets"] = chosen
    if args.skip:
        skipped = {t.strip() for t in args.skip.split(",") if t.strip()}
        unknown = skipped - set(EXTRA_NAMES)
        if unknown:
            parser.error(f"unknown measure(s) to skip: {', '.join(sorted(unknown))}")
        values["extras"] = tuple(name for name in EXTRA_NAMES if name not in skipped)
    known = {f.name for f in fields(RunSettings)}
    return RunSettings(**{k: v for k, v in values.items() if k in known})  # type: ignore[arg-type]
