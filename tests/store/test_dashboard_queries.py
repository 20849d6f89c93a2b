"""Store queries the dashboard needs: per-minute serving counters summed in SQL, labels of
chosen rows, the count of rows with feedback and the newest alerts."""

from __future__ import annotations

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.store.feedback_store import FeedbackItem


def _client(tmp_path) -> Client:
    return Client(settings=StoreSettings(home=tmp_path / "ws", user="tester"))


def _version(requests: int, errors: int) -> dict:
    return {"requests": requests, "errors": errors, "latency": [], "classes": {}, "scores": []}


def test_serving_counters_sum_over_processes_per_minute(tmp_path) -> None:
    client = _client(tmp_path)
    stats = client.store.stats
    pair = {"compared": 5, "agreed": 4, "abs_diff_sum": 0.0, "dropped": 0, "confusion": {}}
    stats.write("p1", [("d", "version", "1", 120, _version(3, 1)), ("d", "pair", "2~1", 122, pair)])
    stats.write("p1", [("d", "version", "1", 178, _version(2, 0))])
    stats.write(
        "p2",
        [("d", "version", "1", 122, _version(4, 0)), ("e", "version", "1", 122, _version(9, 9))],
    )
    stats.write("p2", [("d", "version", "1", 180, _version(7, 2))])
    assert stats.per_minute("d", 0) == [
        ("pair", "2~1", 120, 5, 4),
        ("version", "1", 120, 9, 1),
        ("version", "1", 180, 7, 2),
    ]
    assert stats.per_minute("d", 180) == [("version", "1", 180, 7, 2)]
    client.close()


def test_labels_of_chosen_rows_and_the_labelled_count(tmp_path) -> None:
    client = _client(tmp_path)
    feedback = client.store.feedback
    feedback.add(
        "d",
        [
            FeedbackItem("a", 0, 1),
            FeedbackItem("a", 1, "cat"),
            FeedbackItem("b", 0, None, has_label=False, outcome={"clicked": 1.0}),
        ],
    )
    assert feedback.labels_for("d", [("a", 1), ("b", 0), ("z", 0)]) == {("a", 1): "cat"}
    assert feedback.labels_for("d", []) == {}
    assert feedback.count("d") == 3  # rows with feedback: a label, outcomes or both
    assert feedback.count("other") == 0
    client.close()


def test_the_newest_alerts_first_with_a_limit(tmp_path) -> None:
    client = _client(tmp_path)
    monitors = client.store.monitors
    for i, monitor in enumerate(("m1", "m2", "m1")):
        monitors.transition_alert(
            monitor,
            f"r{i}",
            breached=True,
            value=1.0,
            severity="warning",
            for_s=0,
            message="x",
            now=1000 + i,
            deployment="d",
        )
    assert [a.rule for a in monitors.recent_alerts(limit=2)] == ["r2", "r1"]
    assert [a.rule for a in monitors.recent_alerts(["m1"])] == ["r2", "r0"]
    client.close()
