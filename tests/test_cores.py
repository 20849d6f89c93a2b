"""The core count honours the cgroup CPU quota a container runs under."""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.cores import available_cores, threads_per_worker


def test_a_quota_caps_the_count(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000\n")  # one CPU
    assert available_cores(cpu_max) == 1
    cpu_max.write_text("150000 100000\n")  # 1.5 CPUs: two threads may run
    assert available_cores(cpu_max) == min(2, len(os.sched_getaffinity(0)))


def test_no_quota_means_the_affinity(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("max 100000\n")
    assert available_cores(cpu_max) == len(os.sched_getaffinity(0))
    assert available_cores(tmp_path / "missing") == len(os.sched_getaffinity(0))


def test_auto_threads_share_the_quota_between_workers(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("100000 100000\n")  # a pod limited to one CPU on a big node
    assert threads_per_worker(0, 1, cpu_max) == 1
    assert threads_per_worker(0, 4, cpu_max) == 1  # never zero
    assert threads_per_worker(3, 1, cpu_max) == 3  # an explicit count wins
    cpu_max.write_text("max 100000\n")
    assert threads_per_worker(0, 1, cpu_max) == len(os.sched_getaffinity(0))
