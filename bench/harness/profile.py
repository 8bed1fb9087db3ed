"""`--profile`: py-spy samples modelyard during its throughput runs; a flame graph and a text summary per run.

Sampling costs the target a little CPU, so a profiled run's figures are marked in the report.
"""

from __future__ import annotations

import collections
import re
import subprocess
from pathlib import Path

from harness.processes import LOAD_CORE, pinned

_SOURCE_PREFIX = re.compile(r" \(.*/(site-packages|src)/")


class Profiler:
    def __init__(self, py_spy: Path, out_dir: Path) -> None:
        self.py_spy = py_spy
        self.out_dir = out_dir

    def start(self, pid: int, name: str, duration_s: float) -> tuple[subprocess.Popen[bytes], Path]:
        raw = self.out_dir / f"profile-{name}.txt"
        argv = [str(self.py_spy), "record", "--pid", str(pid), "--duration", str(int(duration_s) + 1)]
        argv += ["--rate", "250", "--nonblocking", "--subprocesses", "--format", "raw", "--output", str(raw)]
        process = subprocess.Popen(pinned(LOAD_CORE, argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return process, raw

    def finish(self, process: subprocess.Popen[bytes], raw: Path) -> Path | None:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if not raw.exists():
            return None
        summary = raw.with_name(raw.stem + "-summary.txt")
        summary.write_text(summarise(raw))
        return summary


def summarise(raw: Path, top: int = 40) -> str:
    """py-spy's collapsed stacks as two rankings: inclusive time of modelyard's frames, and leaf (self) time."""
    total = 0
    inclusive: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_SOURCE_PREFIX.sub(" (", frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += count
        leaf[frames[-1]] += count
    if total == 0:
        return "no samples\n"
    lines = [f"{total} samples (all threads, while running)", "", "inclusive, modelyard frames:"]
    ours = [(frame, n) for frame, n in inclusive.most_common() if "modelyard/" in frame][:top]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in ours]
    lines += ["", "leaf (self time), any frame:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in leaf.most_common(top)]
    return "\n".join(lines) + "\n"
