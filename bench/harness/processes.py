"""Every process the harness starts: pinned to a core, in its own process group, always stopped at the end."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TARGET_CORE = 0  # the gateway under test, and the library benchmarks
LOAD_CORE = 1  # wrk, the fake upstreams, the streaming client
PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


class StartError(Exception):
    """A process did not start, or did not become ready in time."""


def free_port() -> int:
    """A free loopback port (the kernel's choice, so two harness runs never collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pinned(core: int, argv: Sequence[str]) -> list[str]:
    """taskset execs the command, so the pid we get is the program's own."""
    return ["taskset", "-c", str(core), *argv]


@dataclass
class Started:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Processes:
    """Starts processes with logs under `log_dir`; `stop_all()` (or leaving the `with`) ends every group."""

    log_dir: Path
    started: list[Started] = field(default_factory=list)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()

    def start(
        self, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Started:
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,  # its own process group: stopping it reaches its children too
                preexec_fn=_die_with_parent,
            )
        started = Started(name, process, log)
        self.started.append(started)
        return started

    def stop(self, started: Started, *, grace_s: float = 10.0) -> None:
        if started.is_running():
            _signal_group(started.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                started.process.wait(timeout=grace_s)
        _signal_group(started.pid, signal.SIGKILL)  # children that outlived their parent, or a stuck parent
        with contextlib.suppress(subprocess.TimeoutExpired):
            started.process.wait(timeout=5)
        with contextlib.suppress(ValueError):
            self.started.remove(started)

    def stop_all(self) -> None:
        for started in reversed(list(self.started)):
            try:
                self.stop(started)
            except Exception as exc:  # keep going: every other process must still be stopped
                print(f"  could not stop {started.name} (pid {started.pid}): {exc}")


def _die_with_parent() -> None:
    """Linux: SIGKILL this child if the harness itself is killed (-9), when no clean-up code can run."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_for_port(port: int, started: Started, *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not started.is_running():
            raise StartError(f"{started.name} exited with {started.process.returncode}:\n{started.tail()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise StartError(f"{started.name} did not listen on port {port} within {timeout_s:.0f} s:\n{started.tail()}")


def rss_kib(pid: int) -> int:
    """VmRSS of a process and all its descendants, in KiB (a server may fork workers or helpers)."""
    return sum(_vmrss(p) for p in [pid, *_descendants(pid)])


def pss_kib(pid: int) -> int:
    """Proportional set size of the tree, in KiB: pages a forked worker shares with its parent count once."""
    total = 0
    for member in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError):
            pass
    return total


def _vmrss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: list[int] = []
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def process_count(pid: int) -> int:
    """The process and its descendants: a server may run its workers as child processes (granian does)."""
    return 1 + len(_descendants(pid))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its descendants (a process's own counts all its threads)."""
    return sum(_cpu_seconds(p) for p in [pid, *_descendants(pid)])


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
