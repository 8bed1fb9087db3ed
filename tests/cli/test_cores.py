"""cli/cores.py: the cores `serve --workers auto` counts, from cgroup files laid out as the kernel mounts them."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.cli.cores import cgroup_cpu_quota, usable_cores

FOUR_CORES = {0, 1, 2, 3}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def cores(root: Path, affinity: set[int] = FOUR_CORES) -> int:
    return usable_cores(cgroup_root=root / "sys", proc_cgroup=root / "self-cgroup", affinity=affinity)


def test_without_any_cgroup_limit_every_core_of_the_affinity_set_counts(tmp_path: Path) -> None:
    write(tmp_path / "self-cgroup", "0::/\n")
    write(tmp_path / "sys" / "cpu.max", "max 100000\n")

    assert cores(tmp_path) == 4
    assert cores(tmp_path, affinity={2, 5}) == 2  # taskset / --cpuset-cpus: the set, not the host's count


def test_cgroup_v2_quota_caps_the_count_and_rounds_down(tmp_path: Path) -> None:
    write(tmp_path / "self-cgroup", "0::/\n")
    write(tmp_path / "sys" / "cpu.max", "250000 100000\n")  # docker --cpus 2.5

    assert cgroup_cpu_quota(cgroup_root=tmp_path / "sys", proc_cgroup=tmp_path / "self-cgroup") == 2.5
    assert cores(tmp_path) == 2


def test_a_quota_below_one_core_still_gives_one_worker(tmp_path: Path) -> None:
    write(tmp_path / "self-cgroup", "0::/\n")
    write(tmp_path / "sys" / "cpu.max", "50000 100000\n")

    assert cores(tmp_path) == 1


def test_the_affinity_set_caps_a_larger_quota(tmp_path: Path) -> None:
    write(tmp_path / "self-cgroup", "0::/\n")
    write(tmp_path / "sys" / "cpu.max", "800000 100000\n")

    assert cores(tmp_path, affinity={0, 1}) == 2


def test_cgroup_v2_the_smallest_quota_along_the_path_wins(tmp_path: Path) -> None:
    write(tmp_path / "self-cgroup", "0::/kubepods/pod1/app\n")
    write(tmp_path / "sys" / "kubepods" / "cpu.max", "max 100000\n")
    write(tmp_path / "sys" / "kubepods" / "pod1" / "cpu.max", "300000 100000\n")
    write(tmp_path / "sys" / "kubepods" / "pod1" / "app" / "cpu.max", "max 100000\n")

    assert cores(tmp_path) == 3


def test_cgroup_v1_quota_over_period(tmp_path: Path) -> None:
    write(tmp_path / "self-cgroup", "12:memory:/\n4:cpu,cpuacct:/\n")
    write(tmp_path / "sys" / "cpu,cpuacct" / "cpu.cfs_quota_us", "150000\n")
    write(tmp_path / "sys" / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")

    assert cores(tmp_path) == 1


def test_cgroup_v1_unlimited_quota_is_minus_one(tmp_path: Path) -> None:
    write(tmp_path / "self-cgroup", "4:cpu,cpuacct:/\n")
    write(tmp_path / "sys" / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "sys" / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")

    assert cores(tmp_path) == 4


def test_cgroup_v1_in_a_container_reads_the_mount_root_when_the_host_path_is_absent(tmp_path: Path) -> None:
    # Without a cgroup namespace the container sees the host's path, but its own group is mounted as the root.
    write(tmp_path / "self-cgroup", "4:cpu,cpuacct:/docker/0123abcd\n")
    write(tmp_path / "sys" / "cpu" / "cpu.cfs_quota_us", "200000\n")
    write(tmp_path / "sys" / "cpu" / "cpu.cfs_period_us", "100000\n")

    assert cores(tmp_path) == 2


@pytest.mark.parametrize("text", ["", "garbage", "max", "0 100000", "100000 0", "x 100000"])
def test_unreadable_or_meaningless_cpu_max_means_no_limit(tmp_path: Path, text: str) -> None:
    write(tmp_path / "self-cgroup", "0::/\n")
    write(tmp_path / "sys" / "cpu.max", text)

    assert cores(tmp_path) == 4


def test_no_cgroup_filesystem_at_all_counts_the_affinity_set(tmp_path: Path) -> None:
    assert cores(tmp_path) == 4  # neither /proc/self/cgroup nor the mount exist (macOS, a bare chroot)


def test_the_real_machine_answers_within_its_affinity_set() -> None:
    import os

    assert 1 <= usable_cores() <= len(os.sched_getaffinity(0))
