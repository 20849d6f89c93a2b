"""Every Prometheus metric Shipyard exports, declared once.

The Grafana dashboard and the alert rules (``shipyard.packaging``) are
generated from this table, and the tests check both ways: every entry is
registered by the code that exports it, and every name a panel or rule uses
is here. So a renamed metric breaks a test, not a dashboard in production.

``where`` says which process exports a family:

- ``serve``: every ``shipyard serve`` process (and a stream consumer, which
  runs the same serving core);
- ``serve-leader``: only the process holding the monitor lease has values
  (other processes export the family with no samples);
- ``batch``: a server process that runs batch jobs (``/v1/batch``);
- ``stream``: a stream consumer (``shipyard stream consume``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True)
class MetricSpec:
    name: str  # as registered: a counter without its ``_total``
    kind: Kind
    labels: tuple[str, ...]
    help: str
    where: str = "serve"

    @property
    def series(self) -> tuple[str, ...]:
        """The sample names Prometheus stores (what queries select)."""
        if self.kind == "counter":
            return (f"{self.name}_total",)
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)

    @property
    def cumulative(self) -> bool:
        """Counters and histograms only grow: queries must take their rate."""
        return self.kind != "gauge"


def _m(name: str, kind: Kind, labels: str, help: str, where: str = "serve") -> MetricSpec:
    return MetricSpec(name, kind, tuple(labels.split()), help, where)


METRICS: tuple[MetricSpec, ...] = (
    # -- requests (serving.metrics) ------------------------------------------------
    _m("shipyard_requests", "counter", "deployment version protocol status",
       "Prediction requests by outcome."),
    _m("shipyard_request_latency_seconds", "histogram", "deployment protocol",
       "Time from request to response."),
    _m("shipyard_in_flight_requests", "gauge", "deployment", "Requests being served now."),
    # -- models and batching -------------------------------------------------------
    _m("shipyard_queue_wait_seconds", "histogram", "model",
       "Time a request waited for its batch."),
    _m("shipyard_model_latency_seconds", "histogram", "model",
       "Time of one model call (a whole batch)."),
    _m("shipyard_batch_size", "histogram", "model", "Requests per model call."),
    _m("shipyard_queue_depth", "gauge", "model", "Requests waiting for a batch."),
    _m("shipyard_model_load_seconds", "histogram", "model",
       "Time to load and warm a model version."),
    _m("shipyard_model_load_failures", "counter", "model",
       "Model versions that failed to load or warm."),
    _m("shipyard_models_loaded", "gauge", "", "Model versions loaded in this process."),
    # -- read at scrape time (serving.collectors) ------------------------------------
    _m("shipyard_prediction_log_records", "counter", "outcome",
       "Prediction log records by outcome."),
    _m("shipyard_mirror_comparisons", "counter", "deployment version baseline outcome",
       "Mirrored predictions compared with the answer (shadow or canary): "
       "agreed, disagreed, or dropped (timed out, failed, over the pending limit)."),
    _m("shipyard_route_weight_percent", "gauge", "deployment version",
       "Share of a deployment's traffic its policy sends to a version (0 for shadows)."),
    _m("shipyard_rollout_step_percent", "gauge", "deployment version status",
       "An active rollout's current step: the candidate version's traffic share."),
    _m("shipyard_rollout_step_started_timestamp_seconds", "gauge", "deployment status",
       "When an active rollout entered its current step (unix seconds)."),
    _m("shipyard_monitor_value", "gauge", "monitor deployment metric",
       "Latest value of a monitor metric.", "serve-leader"),
    # -- batch jobs (batch.metrics) --------------------------------------------------
    _m("shipyard_batch_rows", "counter", "job outcome",
       "Batch rows by outcome (scored or rejected).", "batch"),
    _m("shipyard_batch_partitions", "counter", "job", "Batch partitions finished.", "batch"),
    _m("shipyard_batch_worker_seconds", "counter", "job",
       "Worker time spent scoring partitions.", "batch"),
    _m("shipyard_batch_jobs", "counter", "status", "Batch jobs ended, by status.", "batch"),
    _m("shipyard_batch_jobs_running", "gauge", "", "Batch jobs running now.", "batch"),
    # -- stream consumers (serving.stream.metrics) ------------------------------------
    _m("shipyard_stream_messages", "counter", "stream group outcome",
       "Stream messages by outcome: read, scored, dead_lettered, skipped "
       "(answered by another consumer after a reclaim).", "stream"),
    _m("shipyard_stream_dead_letters", "counter", "stream group reason",
       "Messages sent to the dead-letter stream, by reason.", "stream"),
    _m("shipyard_stream_reclaimed", "counter", "stream group",
       "Pending messages taken over from idle consumers (XAUTOCLAIM).", "stream"),
    _m("shipyard_stream_batch_seconds", "histogram", "stream group",
       "From reading a batch to its results being written and acknowledged.", "stream"),
    _m("shipyard_stream_lag", "gauge", "stream group",
       "Entries in the stream not yet delivered to the group (XINFO GROUPS lag).", "stream"),
    _m("shipyard_stream_pending", "gauge", "stream group",
       "Entries delivered to the group but not acknowledged.", "stream"),
    _m("shipyard_stream_in_flight_batches", "gauge", "stream group",
       "Batches this consumer has read and not yet acknowledged.", "stream"),
)  # fmt: skip

BY_NAME: dict[str, MetricSpec] = {m.name: m for m in METRICS}
SERIES: dict[str, MetricSpec] = {s: m for m in METRICS for s in m.series}
"""Sample name (``shipyard_requests_total``, ``..._bucket``) -> its metric."""


def spec(name: str) -> MetricSpec:
    """The declared metric; a ``KeyError`` here means a collector drifted from the table."""
    return BY_NAME[name]
