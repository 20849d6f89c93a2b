"""Prometheus counters for batch jobs run inside a server process (``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from shipyard.batch.scoring import ChunkResult


class BatchMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rows = Counter(
            "shipyard_batch_rows",
            "Batch rows by outcome (scored or rejected).",
            ["job", "outcome"],
            registry=registry,
        )
        self.partitions = Counter(
            "shipyard_batch_partitions", "Batch partitions finished.", ["job"], registry=registry
        )
        self.seconds = Counter(
            "shipyard_batch_worker_seconds",
            "Worker time spent scoring partitions.",
            ["job"],
            registry=registry,
        )
        self.jobs = Counter(
            "shipyard_batch_jobs", "Batch jobs ended, by status.", ["status"], registry=registry
        )
        self.running = Gauge(
            "shipyard_batch_jobs_running", "Batch jobs running now.", registry=registry
        )

    def observe(self, job: str, result: ChunkResult) -> None:
        self.rows.labels(job, "scored").inc(result.rows - result.rejected)
        self.rows.labels(job, "rejected").inc(result.rejected)
        self.partitions.labels(job).inc()
        self.seconds.labels(job).inc(result.seconds)
