"""How many cores this process may use: its CPU affinity, capped by the CPU quota of its cgroup (v2 or v1).

`serve --workers auto` starts one worker per such core. A container limited with `docker --cpus 2` or a Kubernetes
CPU limit still sees every core of the host in `os.cpu_count()`; only the cgroup says how much of them it may use.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def usable_cores(
    *, cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP, affinity: set[int] | None = None
) -> int:
    """The cores of the affinity set, fewer when a cgroup quota allows less; a fractional quota rounds down
    (a worker on half a core is throttled every period), and the answer is at least 1."""
    cores = len(affinity if affinity is not None else _affinity())
    quota = cgroup_cpu_quota(cgroup_root=cgroup_root, proc_cgroup=proc_cgroup)
    if quota is not None:
        cores = min(cores, math.floor(quota))
    return max(1, cores)


def cgroup_cpu_quota(*, cgroup_root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The CPU quota in cores (quota / period), the smallest along this process's cgroup and its ancestors;
    None when no level sets one."""
    quotas = [quota for directory in _cgroup_dirs(cgroup_root, proc_cgroup) if (quota := _quota_in(directory))]
    return min(quotas) if quotas else None


def _affinity() -> set[int]:
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return set(range(os.cpu_count() or 1))  # macOS: no affinity, every core


def _cgroup_dirs(root: Path, proc_cgroup: Path) -> Iterator[Path]:
    """Candidate directories holding CPU limits: this process's cgroup and each ancestor up to the mount root.

    In a container the cgroup named in /proc/self/cgroup may not exist under the mount (cgroup v1 without a
    cgroup namespace shows the host's path, while the container's own group is mounted as the root), so every
    existing level is read and the mount root always is.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    mounts = [root]  # v2: one unified hierarchy at the root
    paths = ["/"]
    for line in lines:
        _, controllers, path = [*line.split(":", 2), "", ""][:3]
        if controllers == "":  # v2: "0::/path"
            paths.append(path)
        elif "cpu" in controllers.split(","):  # v1: "4:cpu,cpuacct:/path", mounted as cpu,cpuacct (or cpu)
            mounts += [root / controllers, root / "cpu"]
            paths.append(path)
    seen: set[Path] = set()
    for mount in mounts:
        for path in paths:
            directory = mount / path.strip("/")
            while True:
                if directory not in seen and directory.is_dir():
                    seen.add(directory)
                    yield directory
                if directory == mount:
                    break
                directory = directory.parent


def _quota_in(directory: Path) -> float | None:
    """cgroup v2 `cpu.max` ("max 100000" or "200000 100000"), else v1 `cpu.cfs_quota_us` (-1: none) over
    `cpu.cfs_period_us`; None when unlimited, absent or unreadable."""
    try:
        fields = (directory / "cpu.max").read_text().split()
        if len(fields) == 2 and fields[0] != "max":
            return _ratio(fields[0], fields[1])
        return None
    except OSError:
        pass
    try:
        quota = (directory / "cpu.cfs_quota_us").read_text().strip()
        period = (directory / "cpu.cfs_period_us").read_text().strip()
    except OSError:
        return None
    return _ratio(quota, period)


def _ratio(quota: str, period: str) -> float | None:
    try:
        quota_us, period_us = int(quota), int(period)
    except ValueError:
        return None
    if quota_us <= 0 or period_us <= 0:
        return None
    return quota_us / period_us
