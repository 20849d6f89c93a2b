"""Serving replicas as two pods would be: separate ``shipyard serve`` processes, each
with its own home folder, sharing one database URL and one artifact location."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from shipyard.server.background import free_port

# What an operator sets for fast failover (documented in docs/architecture.md); the
# defaults (1 s ticks, 10 s leases) suit production, these keep the test short.
FAST_CONTROLLERS = {
    "SHIPYARD_POLL_INTERVAL_S": "0.2",
    "SHIPYARD_STATS_FLUSH_S": "0.2",
    "SHIPYARD_PREDICTION_LOG_FLUSH_S": "0.3",
    "SHIPYARD_CONTROLLER_TICK_S": "0.2",
    "SHIPYARD_CONTROLLER_LEASE_S": "1.5",
}


@dataclass
class Replica:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def holds(self, holder: str | None) -> bool:
        """Lease holders are ``host-pid-random``: is ``holder`` this process?"""
        return holder is not None and f"-{self.pid}-" in holder

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def logged_rows(self) -> int:
        """Rows its prediction log has written to segments (from /metrics)."""
        metrics = httpx.get(f"{self.url}/metrics", timeout=5).text
        for line in metrics.splitlines():
            if line.startswith('shipyard_prediction_log_records_total{outcome="logged"}'):
                return int(float(line.split()[-1]))
        raise AssertionError(f"{self.name}: no prediction-log counter in /metrics")

    def kill(self) -> None:
        """SIGKILL: no lease release, no final flush - a pod lost with its node."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_replicas(
    root: Path, names: list[str], shared_env: dict[str, str], timeout_s: float = 60
) -> list[Replica]:
    """Spawn all replicas at once (they start in parallel, as pods do), wait for ready."""
    shipyard = str(Path(sys.executable).parent / "shipyard")
    replicas = []
    for name in names:
        home = root / name
        home.mkdir(parents=True)
        log = root / f"{name}.log"
        port = free_port()
        env = {**os.environ, **FAST_CONTROLLERS, **shared_env, "SHIPYARD_HOME": str(home)}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [shipyard, "serve", "--port", str(port), "--no-auth"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        replicas.append(Replica(name, process, f"http://127.0.0.1:{port}", log))
    deadline = time.monotonic() + timeout_s
    waiting = list(replicas)
    while waiting:
        waiting = [r for r in waiting if not r.ready()]
        for replica in waiting:
            if replica.process.poll() is not None:
                raise AssertionError(f"{replica.name} exited:\n{replica.log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{[r.name for r in waiting]} not ready in {timeout_s} s")
        time.sleep(0.1)
    return replicas
