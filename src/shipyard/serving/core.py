"""The serving core one process runs: routing table, data plane, prediction log.

Every way of serving builds this one object from the same settings: the HTTP
server (``server.app``) and a stream consumer (``serving.stream``). So both
load models the same way (load-then-switch on every routing change), validate
and batch the same way, write the same prediction log and flush the same
per-version statistics that rollout analysis reads.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from shipyard.config import ServerSettings
from shipyard.monitoring.predlog import PredictionLogger
from shipyard.serving.dataplane import DataPlane
from shipyard.serving.metrics import ServingMetrics
from shipyard.serving.routing import RoutingTable
from shipyard.serving.threads import ModelThreads
from shipyard.store import Store


@dataclass
class ServingCore:
    metrics: ServingMetrics
    routing: RoutingTable
    dataplane: DataPlane
    predlog: PredictionLogger | None

    @classmethod
    def build(
        cls,
        store: Store,
        settings: ServerSettings,
        *,
        prediction_log: PredictionLogger | None = None,
        only: frozenset[str] | None = None,
    ) -> ServingCore:
        """``only`` limits the routing table to some deployments (a stream consumer's)."""
        metrics = ServingMetrics()
        routing = RoutingTable(
            store,
            metrics,
            poll_interval_s=settings.poll_interval_s,
            threads=ModelThreads(settings.model_threads),
            only=only,
        )
        predlog = prediction_log or (
            PredictionLogger(store.artifacts, flush_interval_s=settings.prediction_log_flush_s)
            if settings.prediction_log
            else None
        )
        dataplane = DataPlane(routing, flush_interval_s=settings.stats_flush_s, predlog=predlog)
        metrics.watch_routing(routing)
        metrics.watch_comparisons(dataplane.stats)
        if predlog is not None and prediction_log is None:
            # One name per process (host-pid-random) on its log segments, statistics rows
            # and leases, so an operator can tell which replica (pod) wrote what.
            predlog.process_id = dataplane.process_id
        if predlog is not None:
            metrics.watch_prediction_log(predlog.counters)
        return cls(metrics, routing, dataplane, predlog)

    async def load(self) -> None:
        """Load and warm every model the routing table names (blocking work, in a thread)."""
        await asyncio.to_thread(self.routing.load_initial)

    def start(self) -> None:
        """Follow the store (routing changes), flush statistics, write the log."""
        self.routing.start_watching()
        self.dataplane.start_flushing()
        if self.predlog is not None:
            self.predlog.start()

    async def close(self) -> None:
        await self.routing.close()  # drains every batcher before the process exits
        await self.dataplane.close()
        if self.predlog is not None:
            await asyncio.to_thread(self.predlog.close)  # writes what is still queued
