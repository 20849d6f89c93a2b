"""How many cores this process may really use: affinity and the cgroup CPU quota.

``os.cpu_count()`` is the host's count. In a container limited to 2 CPUs on a
64-core node it says 64, and a thread pool sized from it runs 32x
oversubscribed (XGBoost in a 1-CPU cgroup: 28 s instead of 0.3 s, dmlc/xgboost#7653).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def _quota(path: Path = CGROUP_CPU_MAX) -> int | None:
    try:
        quota, period = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


def available_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Cores this process may run on: the smaller of its CPU affinity and its cgroup quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    quota = _quota(cpu_max)
    return max(1, min(count, quota) if quota is not None else count)


def threads_per_worker(requested: int, workers: int, cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Native threads for each of ``workers`` serving processes: ``requested``, or for 0
    (auto: a container image's default) the cores this process may use, shared out."""
    if requested > 0:
        return requested
    return max(1, available_cores(cpu_max) // max(1, workers))
