"""The checker itself: it must reject what it is there to reject."""

from __future__ import annotations

import pytest

from tests.observability.promql_checks import metric_names, substitute


def test_grafana_variables_are_substituted_before_parsing() -> None:
    expr = 'rate(shipyard_requests_total{deployment=~"$deployment",v="${v}"}[$__rate_interval])'
    assert substitute(expr) == (
        'rate(shipyard_requests_total{deployment=~"placeholder",v="placeholder"}[5m])'
    )
    assert metric_names(expr) == ["shipyard_requests_total"]


@pytest.mark.parametrize(
    "expr",
    [
        "sum(shipyard_requests_total)",  # Triton's mistake: a raw counter
        "max_over_time(shipyard_requests_total[5m])",
        "shipyard_request_latency_seconds_bucket",
        "delta(shipyard_batch_rows_total[5m])",
    ],
)
def test_counters_outside_rate_are_rejected(expr: str) -> None:
    with pytest.raises(AssertionError, match="cumulative"):
        metric_names(expr)


def test_unknown_metrics_and_bad_syntax_are_rejected() -> None:
    with pytest.raises(AssertionError, match="catalogue"):
        metric_names("rate(nv_inference_count[1m])")
    with pytest.raises(ValueError):
        metric_names("sum(rate(shipyard_requests_total[5m])")


def test_gauges_may_be_read_directly() -> None:
    assert metric_names("max by (stream) (delta(shipyard_stream_lag[10m]))") == [
        "shipyard_stream_lag"
    ]
